"""The daemon's side of a shim's socket: connect, send one JSON line, read the reply.

The shim (``shim.py``) answers each connection's first line once, then the
connection is a stream (attach, exec) or ends (resize) or waits for the exit
(wait). This module is that conversation in one place; the container manager
asks through it and never opens the socket itself.
"""

from __future__ import annotations

import asyncio
import json
import os

from dockling.errors import InternalError
from dockling.shim.shim import unix_path

# An attach or exec stream's reads can be big (a log line of a MiB)
STREAM_LIMIT = 1 << 20


class ShimClient:
    """The shim of one container, reached through ``<state_dir>/shim.sock``."""

    def __init__(self, state_dir: str, cid: str) -> None:
        self.sock = os.path.join(state_dir, "shim.sock")
        self.cid = cid

    async def open(self, request: dict) -> tuple[dict, asyncio.StreamReader,
                                                  asyncio.StreamWriter]:
        """Send ``request``; its first reply and the connection, which stays open
        (the stream of an attach or exec). InternalError when the shim cannot be
        reached or hangs up before it answers."""
        try:
            with unix_path(self.sock) as p:
                reader, writer = await asyncio.open_unix_connection(p, limit=STREAM_LIMIT)
        except OSError as err:
            raise InternalError(f"cannot reach the shim of {self.cid[:12]}: {err}") from err
        try:
            writer.write(json.dumps(request).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
            reply = json.loads(line)
        except (OSError, ValueError) as err:
            writer.close()
            raise InternalError("shim closed the stream") from err
        return reply, reader, writer

    async def call(self, request: dict) -> dict:
        """One request, one answer; the connection is closed after it."""
        reply, _, writer = await self.open(request)
        writer.close()
        return reply

    async def wait(self) -> dict | None:
        """The exit the shim reports once its container ends (it answers when
        exit.json is written); None when the shim is gone or hangs up first."""
        try:
            return await self.call({"op": "wait"})
        except InternalError:
            return None

    async def flush(self) -> None:
        """Have the shim log the output it has not read yet (best effort: a shim
        that is gone, older or slow leaves the log as it is)."""
        try:
            await asyncio.wait_for(self.call({"op": "flush"}), 1.0)
        except (InternalError, TimeoutError):
            pass

    async def resize(self, height: int, width: int, exec_id: str | None = None) -> None:
        req: dict = {"op": "resize", "height": height, "width": width}
        if exec_id:
            req["exec"] = exec_id
        await self.call(req)
