"""docker's formats, shared by the CLI and the engine.

What both sides of the API read or write the same way, and nothing else:

    reference.py    image references (grammar, normalization), registry auth keys
    ports.py        -p/--publish and --expose specs
    detachkeys.py   detach key sequences (ctrl-p,ctrl-q) and the input filter
    dockerignore.py .dockerignore patterns and the context walk they select
    progress.py     the JSON progress stream and its rendering
    unpack.py       tar archives and layers unpacked, confined to the destination
    pack.py         trees packed as tars and layers, through descriptors

The rule that makes them shareable: they import only the standard library,
``dockling.errors``, ``dockling.units``, ``dockling.clock`` and each other
(tests/formats/test_neutral.py checks it). So the CLI loads no engine module
for a parser (``run`` stays fast), and the engine has one copy of each.
"""
