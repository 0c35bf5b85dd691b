"""The OCI runtime: an OCI bundle (config.json + rootfs) becomes an isolated process.

``Runtime`` is the library API the engine calls in-process; ``dockling-runc``
(``dockling.runtime.cli``) is the same code behind runc's command line.
"""

from dockling.runtime.container import Container, Runtime
from dockling.runtime.state import Status

BUILTIN = ("dockling", "builtin")


def open_runtime(name: str, root: str):
    """The built-in runtime (in-process), or another OCI runtime's CLI by name."""
    if name in BUILTIN:
        return Runtime(root)
    from dockling.runtime.oci_cli import CLIRuntime

    return CLIRuntime(name, root)


__all__ = ["BUILTIN", "Container", "Runtime", "Status", "open_runtime"]
