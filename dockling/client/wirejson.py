"""JSON for the client's requests and answers, without the json package's import.

The json package compiles its regular expressions at import (and imports re,
enum, functools and collections with them): ~5-15 ms of each `dockling exec`
or `run` here, for two small documents. Its C accelerator, ``_json``, scans
and encodes by itself; it is loaded at the first document (rm, stop and start
send and get none), and json's own modules only when a document is bad (to
raise json.JSONDecodeError, as json.loads would). Without ``_json`` (not
CPython): the json package.
"""

from __future__ import annotations

_WS = " \t\n\r"
_scan = None
_encode = None


class _Context:
    # what json.decoder.JSONDecoder hands its C scanner (json.loads' defaults)
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"),
                      "NaN": float("nan")}.__getitem__


def _not_serializable(o):
    raise TypeError(f"Object of type {type(o).__name__} is not JSON serializable")


def _load() -> None:
    global _scan, _encode
    try:
        import _json
    except ImportError:  # pragma: no cover - CPython always has it
        import json

        _scan = lambda s, i: (json.loads(s[i:]), len(s))
        _encode = lambda o, _: (json.dumps(o),)
        return
    _scan = _json.make_scanner(_Context())
    # json.dumps' defaults: ensure_ascii, ", " and ": ", NaN allowed
    _encode = _json.make_encoder(None, _not_serializable, _json.encode_basestring_ascii,
                                 None, ": ", ", ", False, False, True)


def loads(data: str | bytes | bytearray):
    """json.loads: the document, or json.JSONDecodeError (a ValueError)."""
    if _scan is None:
        _load()
    s = data.decode() if isinstance(data, (bytes, bytearray)) else data
    start = len(s) - len(s.lstrip(_WS))
    try:
        value, end = _scan(s, start)
    except StopIteration:
        return _json_loads(s)  # json's own error for it
    if s[end:].strip(_WS):
        return _json_loads(s)
    return value


def dumps(obj) -> str:
    """json.dumps with its defaults."""
    if _encode is None:
        _load()
    return "".join(_encode(obj, 0))


def _json_loads(s: str):
    import json

    return json.loads(s)
