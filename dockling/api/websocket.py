"""Websocket attach (GET /containers/{id}/attach/ws): the handshake's answer and a
stream object that speaks websocket frames (wsproto) under the same read/write/
drain/close calls the plain hijacked connection has, so one attach pump serves both.

moby sends the container's output as binary frames from API 1.28 on (text before),
raw: no 8-byte stream headers; each frame the client sends is input.
"""

from __future__ import annotations

import asyncio

from wsproto.connection import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import generate_accept_token

from dockling.errors import InvalidArgument


def accept(headers: dict[str, str]) -> dict[str, str]:
    """The 101's headers for a websocket upgrade request (RFC 6455 4.2)."""
    if headers.get("upgrade", "").lower() != "websocket" or not headers.get(
            "sec-websocket-key"):
        raise InvalidArgument("not a websocket handshake")
    if headers.get("sec-websocket-version", "13") != "13":
        raise InvalidArgument("unsupported websocket version")
    token = generate_accept_token(headers["sec-websocket-key"].encode()).decode()
    return {"Upgrade": "websocket", "Connection": "Upgrade", "Sec-WebSocket-Accept": token}


class Stream:
    """Reader and writer of one websocket (the server side, after the 101)."""

    def __init__(self, reader: asyncio.StreamReader, writer, leftover: bytes,
                 binary: bool) -> None:
        self.reader, self.writer = reader, writer
        self.ws = Connection(ConnectionType.SERVER)
        self.binary = binary
        self.pending = bytearray()
        self.closed = False  # a close frame went out (or came in)
        if leftover:
            self.ws.receive_data(leftover)

    async def read(self, n: int = 65536) -> bytes:
        """The next input bytes; b"" once the client closes."""
        while not self.pending and not self.closed:
            self._events()
            if self.pending or self.closed:
                break
            data = await self.reader.read(65536)
            self.ws.receive_data(data or None)  # None: the peer hung up
            if not data:
                self._events()
                self.closed = True
        out = bytes(self.pending[:n])
        del self.pending[:n]
        return out

    def _events(self) -> None:
        for ev in self.ws.events():
            if isinstance(ev, (BytesMessage, TextMessage)):
                data = ev.data
                self.pending += data.encode() if isinstance(data, str) else data
            elif isinstance(ev, Ping):
                self.writer.write(self.ws.send(ev.response()))
            elif isinstance(ev, CloseConnection):
                if not self.closed:
                    self.writer.write(self.ws.send(ev.response()))
                self.closed = True

    def write(self, data: bytes) -> None:
        msg = BytesMessage(data=data) if self.binary else \
            TextMessage(data=data.decode("utf-8", "replace"))
        self.writer.write(self.ws.send(msg))

    async def drain(self) -> None:
        await self.writer.drain()

    def can_write_eof(self) -> bool:
        return True

    def write_eof(self) -> None:
        """The end of the output: a close frame (1000), once."""
        if self.closed:
            return
        self.closed = True
        try:
            self.writer.write(self.ws.send(CloseConnection(code=1000)))
        except Exception:  # noqa: BLE001 - wsproto refuses once the peer closed first
            pass
