"""docker's multiplexed stream (moby pkg/stdcopy): without a TTY, attach, exec and
logs carry stdout and stderr in one byte stream, each piece behind an 8-byte
header — the stream's id, three zero bytes, the length (big-endian uint32).
The shim writes it, the daemon and the CLI read it."""

from __future__ import annotations

import struct

STDOUT, STDERR = 1, 2


def frame(stream: int, data: bytes) -> bytes:
    return struct.pack(">BxxxI", stream, len(data)) + data


class Frames:
    """The (stream, bytes) of a framed stream as its chunks come: a chunk may hold
    several frames, or part of one (kept for the next chunk)."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def feed(self, chunk: bytes) -> list[tuple[int, bytes]]:
        buf = self.buf
        buf += chunk
        out, i, n = [], 0, len(buf)
        while n - i >= 8:
            size = int.from_bytes(buf[i + 4:i + 8], "big")
            if n - i - 8 < size:
                break
            out.append((buf[i], bytes(buf[i + 8:i + 8 + size])))
            i += 8 + size
        del buf[:i]  # one move per chunk, not one per frame
        return out
