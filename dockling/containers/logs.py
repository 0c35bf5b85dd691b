"""The json-file log driver's reader: docker's line format, tail/since/follow.

Each line of ``<id>-json.log`` is {"log": "...", "stream": "stdout", "time": RFC3339}
(the shim writes them, mode 0600: output can hold secrets). Output is framed like
attach (8-byte headers) unless the container has a tty.
"""

from __future__ import annotations

import asyncio
import os
import time

import msgspec

from dockling import clock
from dockling.containers.model import LogConfig
from dockling.errors import InvalidArgument
from dockling.formats.stdcopy import STDERR, STDOUT, frame
from dockling.units import ram_in_bytes


def parse_since(v: str | None, what: str = "since") -> float | None:
    """docker's --since/--until: unix seconds (with fraction), RFC3339, or a Go
    duration before now (10m); InvalidArgument with docker's words otherwise."""
    if not v:
        return None
    try:
        return float(v)
    except ValueError:
        pass
    try:
        return time.time() - clock.parse_duration(v)
    except ValueError:
        pass
    try:
        return clock.unix(v)
    except ValueError:
        raise InvalidArgument(f'invalid value for "{what}": failed to parse value as time '
                              f'or duration: "{v}"') from None


def parse_tail(v: str | None) -> int | None:
    """--tail: a count, or None for all (docker: "all", and anything not a number)."""
    try:
        n = int(v or "all")
    except ValueError:
        return None
    return n if n >= 0 else None


class Entry(msgspec.Struct, gc=False):
    """One line of the file. Not tracked by the collector: a read of GBs of log makes
    millions of them in a worker thread, and each full collection it would set off
    walks them all holding the GIL, stalling the event loop."""
    log: str = ""
    stream: str = ""
    time: str = ""


_decode = msgspec.json.Decoder(Entry).decode


def _format(entry: Entry, tty: bool, timestamps: bool) -> bytes:
    data = entry.log.encode()
    if timestamps:
        data = entry.time.encode() + b" " + data
    if tty:
        return data
    return frame(STDERR if entry.stream == "stderr" else STDOUT, data)


def _wanted(entry: Entry, stdout: bool, stderr: bool, since: float | None,
            until: float | None) -> bool:
    if entry.stream == "stderr" and not stderr:
        return False
    if entry.stream != "stderr" and not stdout:
        return False
    if since is not None or until is not None:
        t = clock.unix(entry.time)
        if since is not None and t < since:
            return False
        if until is not None and t > until:
            return False
    return True


_DRIVERS = ("json-file", "none")
_JSON_FILE_OPTS = ("max-size", "max-file", "compress", "labels", "labels-regex", "env",
                   "env-regex", "tag")


def rotation(log_config: LogConfig) -> tuple[int, int]:
    """Check a LogConfig; json-file's (max-size bytes or -1, max-file)."""
    kind = log_config.Type or "json-file"
    opts = log_config.Config or {}  # the driver's options: a map, as in Go
    if kind not in _DRIVERS:
        raise InvalidArgument(f'logger: no log driver named \'{kind}\' is registered')
    for key in opts:
        if kind == "none" or key not in _JSON_FILE_OPTS:
            raise InvalidArgument(f"unknown log opt '{key}' for {kind} log driver")
    size = -1
    if opts.get("max-size"):
        try:
            size = ram_in_bytes(opts["max-size"])
        except ValueError as err:
            raise InvalidArgument(str(err)) from err
    files = 1
    if opts.get("max-file"):
        try:
            files = int(opts["max-file"])
        except ValueError:
            raise InvalidArgument(f"invalid value for max-file: {opts['max-file']}") from None
        if files < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        # without max-size docker's json-file takes it and never rotates (jsonfilelog.New)
    return size, files


def rotated(path: str) -> list[str]:
    """The rotated files of a json-file log, oldest first (log.N ... log.1)."""
    out = []
    i = 1
    while os.path.exists(f"{path}.{i}"):
        out.append(f"{path}.{i}")
        i += 1
    return out[::-1]


def _backlog(path: str, tty: bool, tail: str, s: float | None, u: float | None,
             timestamps: bool, stdout: bool, stderr: bool):
    """What is logged now, formatted: (the open current file at its end or None,
    its unfinished last line, the output). Reads every rotated file: for a
    worker thread."""
    entries = []
    for old in rotated(path):
        try:
            with open(old, "rb") as f:
                entries += [_decode(line) for line in f if line.endswith(b"\n")]
        except FileNotFoundError:
            pass  # rotated away while we read
    try:
        f = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        return None, b"", []
    try:
        # a Python loop, not readlines(): one C call over a 40 MB file holds the GIL
        pending = b""
        for line in f:
            if line.endswith(b"\n"):
                entries.append(_decode(line))
            else:
                pending = line  # the last line, still being written
        entries = [e for e in entries if _wanted(e, stdout, stderr, s, u)]
        n = parse_tail(tail)
        if n is not None:
            entries = entries[-n:] if n > 0 else []
        return f, pending, [_format(e, tty, timestamps) for e in entries]
    except BaseException:
        f.close()
        raise


async def read(path: str, running, *, tty: bool, follow: bool = False, tail: str = "all",
               since: str | None = None, until: str | None = None, timestamps: bool = False,
               stdout: bool = True, stderr: bool = True):
    s, u = parse_since(since), parse_since(until, "until")
    # the files can be GBs (max-size x max-file): read and parsed in a worker thread
    f, pending, out = await asyncio.to_thread(_backlog, path, tty, tail, s, u, timestamps,
                                              stdout, stderr)
    if f is None:
        return
    try:
        batch: list[bytes] = []
        size = 0
        for piece in out:  # sent in pieces of ~1 MiB, not one write per line
            batch.append(piece)
            size += len(piece)
            if size >= 1 << 20:
                yield b"".join(batch)
                batch, size = [], 0
        if batch:
            yield b"".join(batch)
        del out, batch
        if not follow:
            return
        while True:
            chunk = f.read(1 << 20)
            if chunk:
                pending += chunk
                *done, pending = pending.split(b"\n")
                for line in done:
                    if line:
                        e = _decode(line)
                        if _wanted(e, stdout, stderr, s, u):
                            yield _format(e, tty, timestamps)
                continue
            if _replaced(f, path):  # rotated: go on in the new file
                f.close()
                f = open(path, "rb")  # noqa: SIM115, ASYNC230 - an open is quick; reads are sliced
                pending = b""
                continue
            if not running():
                break
            await asyncio.sleep(0.05)
    finally:
        f.close()


def _replaced(f, path: str) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    mine = os.fstat(f.fileno())
    return (st.st_ino, st.st_dev) != (mine.st_ino, mine.st_dev) or st.st_size < f.tell()


def size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0
