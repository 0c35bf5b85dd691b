"""A small HTTP/1.1 server for the Engine API: asyncio streams + h11.

Why not aiohttp (DESIGN.md's first choice): docker's attach and exec
upgrade the connection with ``Upgrade: tcp`` and then speak raw bytes both
ways; aiohttp only hands over the socket for websockets. h11 is a
protocol state machine made for exactly this: after a 101 we own the
stream.

Handlers, their ``Request`` and ``Response`` and the ``Router`` are in
``routing.py``; this module speaks HTTP: it reads requests (bodies spooled
to a temporary file), calls the handler, writes ``json``/``empty``/``raw``
bodies, ``stream`` (an async iterator, sent chunked) or ``hijack`` (the raw
reader/writer after ``101 UPGRADED``). DocklingError becomes docker's
``{"message": ...}`` with the error's status.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import urllib.parse

import h11

from dockling.api.routing import (
    API_VERSION,
    Request,
    Response,
    Router,
    error_response,
    strip_version,
    version_key,
)
from dockling.background import in_thread
from dockling.errors import DocklingError

log = logging.getLogger("dockling.api")

# The request line and headers of one request, at most. Go's server allows 1 MB
# (MaxHeaderBytes); h11's 16 KiB default is too small for a build's X-Registry-Config
# with a few identity tokens. Past it: 431, like Go's server.
MAX_HEAD = 128 << 10


class Server:
    def __init__(self, router: Router, server_header: str = "Docker/27.0.0 (linux)") -> None:
        self.router = router
        self.server_header = server_header

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        try:
            while True:
                req = await self._read_request(conn, reader)
                if req is None:
                    break
                try:
                    resp = await self._dispatch(req)
                    done = await self._write_response(conn, req, resp, reader, writer)
                finally:
                    if getattr(req.body_file, "_rolled", False):
                        in_thread(req.body_file.close)  # a GB upload: freeing takes a while
                    else:
                        req.body_file.close()
                if done or conn.our_state is h11.MUST_CLOSE:
                    break
                try:
                    conn.start_next_cycle()
                except h11.LocalProtocolError:
                    break
        except h11.RemoteProtocolError as err:
            await self._refuse(conn, reader, writer, err)
        except (ConnectionError, h11.ProtocolError, asyncio.IncompleteReadError):
            pass
        except Exception:
            log.exception("connection handler failed")
        finally:
            try:
                writer.close()
            except Exception:  # noqa: BLE001
                pass

    async def _refuse(self, conn: h11.Connection, reader, writer,
                      err: h11.RemoteProtocolError) -> None:
        """A request h11 cannot take (a head past MAX_HEAD: 431; malformed: 400):
        docker's error answer, then the connection is closed, as Go's server does."""
        if conn.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return  # mid-answer: nothing sensible to say
        status = err.error_status_hint or 400
        message = ("request header fields too large" if status == 431
                   else f"bad request: {err}")
        body = json.dumps({"message": message}).encode() + b"\n"
        try:
            writer.write(conn.send(h11.Response(status_code=status, headers=[
                ("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                ("Connection", "close")])))
            writer.write(conn.send(h11.Data(data=body)))
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
            # Read (and drop) what the client is still sending for a moment: closing
            # with unread bytes would reset the connection and lose the answer.
            deadline = asyncio.get_running_loop().time() + 1.0
            left = 4 << 20
            while left > 0:
                timeout = deadline - asyncio.get_running_loop().time()
                if timeout <= 0:
                    break
                data = await asyncio.wait_for(reader.read(65536), timeout)
                if not data:
                    break
                left -= len(data)
        except (ConnectionError, TimeoutError, h11.ProtocolError):
            pass

    async def _read_request(self, conn: h11.Connection, reader) -> Request | None:
        head = None
        body = tempfile.SpooledTemporaryFile(max_size=1 << 20)  # noqa: SIM115 - closed after the response
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await reader.read(65536)
                conn.receive_data(data)
                if not data and conn.their_state is h11.IDLE:
                    return None
                continue
            if isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body.write(event.data)
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                return None
            if conn.their_state is h11.SWITCHED_PROTOCOL or (
                    head is not None and conn.their_state is h11.MIGHT_SWITCH_PROTOCOL):
                break
        headers = {k.decode().lower(): v.decode("latin-1") for k, v in head.headers}
        target = head.target.decode("latin-1")
        body.seek(0)
        return Request(head.method.decode(), target, headers, body, {})

    async def _dispatch(self, req: Request) -> Response:
        log.debug("%s %s", req.method, req.path + ("?" + urllib.parse.urlencode(
            req.query, doseq=True) if req.query else ""))
        path, version = strip_version(req.path)
        if version is not None and version_key(version) > version_key(API_VERSION):
            return error_response(400, f"client version {version} is too new. Maximum "
                                       f"supported API version is {API_VERSION}")
        handler, params = self.router.match(req.method, path)
        if handler is None:
            if params:
                return error_response(405, "method not allowed")
            return error_response(404, "page not found")
        req.params = params
        req.version = version
        try:
            return await handler(req)
        except DocklingError as err:
            return error_response(err.status, str(err))
        except Exception as err:
            log.exception("%s %s failed", req.method, req.path)
            return error_response(500, f"{type(err).__name__}: {err}")

    def _headers(self, resp: Response, extra: list[tuple[str, str]]) -> list[tuple[str, str]]:
        h = [("Server", self.server_header), ("Api-Version", API_VERSION),
             ("Docker-Experimental", "false"), ("Ostype", "linux")]
        if resp.content_type:
            h.append(("Content-Type", resp.content_type))
        h.extend(resp.headers.items())
        h.extend(extra)
        return h

    async def _write_response(self, conn, req: Request, resp: Response, reader, writer) -> bool:
        if resp.hijack is not None:
            return await self._hijack(conn, req, resp, reader, writer)
        if resp.stream is not None:
            writer.write(conn.send(h11.Response(
                status_code=resp.status, headers=self._headers(resp, [
                    ("Transfer-Encoding", "chunked")]))))
            await writer.drain()
            if not await self._pump_stream(conn, resp.stream, reader, writer):
                return True  # the client went away: so does the connection
            writer.write(conn.send(h11.EndOfMessage()))
            await writer.drain()
            return False
        body = b"" if req.method == "HEAD" or resp.status in (204, 304) else resp.body
        extra = [] if resp.status in (204, 304) else [("Content-Length", str(len(resp.body)))]
        writer.write(conn.send(h11.Response(status_code=resp.status,
                                            headers=self._headers(resp, extra))))
        if body:
            writer.write(conn.send(h11.Data(data=body)))
        writer.write(conn.send(h11.EndOfMessage()))
        await writer.drain()
        return False

    async def _pump_stream(self, conn, stream, reader, writer) -> bool:
        """Send a streamed body; False if the client hung up first.

        The client's side is watched while we wait for the next chunk: a pull,
        `logs -f` or `events` whose client is gone (Ctrl-C) is cancelled at
        once, not at its next write.
        """
        it = stream.__aiter__()
        gone = asyncio.ensure_future(reader.read(1))
        try:
            while True:
                nxt = asyncio.ensure_future(it.__anext__())
                await asyncio.wait({nxt, gone}, return_when=asyncio.FIRST_COMPLETED)
                if gone.done() and not nxt.done():
                    if gone.exception() is None and gone.result():
                        # bytes, not EOF (a client talking early): keep them for the
                        # next request and stop watching
                        conn.receive_data(gone.result())
                        gone = asyncio.get_running_loop().create_future()
                        await nxt
                    else:
                        nxt.cancel()
                        await asyncio.gather(nxt, return_exceptions=True)
                        return False
                try:
                    chunk = nxt.result()
                except StopAsyncIteration:
                    return True
                if chunk:
                    writer.write(conn.send(h11.Data(data=chunk)))
                    await writer.drain()
        finally:
            gone.cancel()
            # the reader serves the next request on this connection: its read(1) must
            # be over first (asyncio allows one reader), and what it read is kept
            await asyncio.gather(gone, return_exceptions=True)
            if not gone.cancelled() and gone.exception() is None and gone.result():
                conn.receive_data(gone.result())
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _hijack(self, conn, req: Request, resp: Response, reader, writer) -> bool:
        """101 UPGRADED (or 200 for a client that did not ask), then raw bytes."""
        ctype = resp.content_type or "application/vnd.docker.raw-stream"
        if resp.headers.get("Upgrade") == "websocket":  # attach/ws: the handshake's 101
            writer.write(conn.send(h11.InformationalResponse(
                status_code=101, headers=list(resp.headers.items()),
                reason=b"Switching Protocols")))
            leftover, _ = conn.trailing_data
        elif req.upgrade:
            writer.write(conn.send(h11.InformationalResponse(
                status_code=101, headers=[("Content-Type", ctype), ("Connection", "Upgrade"),
                                          ("Upgrade", "tcp")], reason=b"UPGRADED")))
            leftover, _ = conn.trailing_data
        else:
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: " + ctype.encode() +
                         b"\r\nConnection: close\r\n\r\n")
            leftover = b""
        await writer.drain()
        # The route's work (an exec's process start: most of an exec) runs while the
        # client reads the head; only its bytes wait for that read.
        gated = _HeadFirst(writer, asyncio.ensure_future(_head_read(writer)))
        try:
            await resp.hijack(reader, gated, bytes(leftover))
        finally:
            await gated.settle()
        return True


class _HeadFirst:
    """The hijacked connection's writer while the client may not have read the
    response head yet (see _head_read): what the route writes is held until it
    has, and goes out in order at the route's next drain."""

    def __init__(self, writer, head_read: asyncio.Future) -> None:
        self._w = writer
        self._head = head_read
        self._held: list[bytes] | None = []

    def write(self, data: bytes) -> None:
        if self._held is None:
            self._w.write(data)
        else:
            self._held.append(bytes(data))

    async def drain(self) -> None:
        if self._held is not None:
            await self._head
            self._flush()
        await self._w.drain()

    def _flush(self) -> None:
        held, self._held = self._held, None
        if held:
            self._w.write(b"".join(held))

    def write_eof(self) -> None:
        self._flush()  # callers drain first; one that did not still loses nothing
        self._w.write_eof()

    def close(self) -> None:
        self._flush()
        self._w.close()

    async def settle(self) -> None:
        """After the route: what it left held goes out; the head watch ends."""
        if self._held:
            try:
                await self.drain()
            except OSError:
                pass
        self._head.cancel()
        await asyncio.gather(self._head, return_exceptions=True)

    def __getattr__(self, name: str):  # can_write_eof, get_extra_info, is_closing...
        return getattr(self._w, name)


async def _head_read(writer, limit: float = 1.0) -> None:
    """Wait (briefly) until a unix-socket client has read the response head.

    Clients read the head through a buffer (Python's http.client reads up to
    8 KiB) and then the hijacked stream from the raw socket (docker-py): stream
    bytes that arrive in the same read as the head are lost to them. The kernel
    counts what the peer has not read yet (SIOCOUTQ); the stream starts at 0."""
    import fcntl
    import socket
    import struct
    import termios

    sock = writer.get_extra_info("socket")
    if sock is None or sock.family != socket.AF_UNIX:
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    try:
        while loop.time() < deadline:
            unread = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ,
                                                    b"\0\0\0\0"))[0]
            if unread <= 0:
                return
            await asyncio.sleep(0.001)
    except OSError:
        return


async def serve_unix(router: Router, path: str, mode: int = 0o660, group: str = "dockling"):
    """Serve on a unix socket that has its final mode from the start.

    docker's socket is 0660, group ``docker`` when that group exists; ours is
    0660, group ``dockling`` when it exists (else root). The socket is bound under
    a temporary name with umask 077 (nobody else can connect meanwhile), given
    its mode and group, made to listen, and only then renamed to ``path``: it is
    never world-writable, and a client never finds it refusing connections.
    """
    import grp
    import os
    import socket

    tmp = f"{path}.tmp"
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        old = os.umask(0o077)  # the daemon's already; a program embedding us may differ
        try:
            sock.bind(tmp)
        finally:
            os.umask(old)
        os.chmod(tmp, mode)
        try:
            os.chown(tmp, -1, grp.getgrnam(group).gr_gid)
        except KeyError:
            os.chown(tmp, -1, 0)
        sock.listen(128)
        os.rename(tmp, path)  # replaces what a killed daemon left
    except BaseException:
        sock.close()
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    server = Server(router)
    return await asyncio.start_unix_server(server.handle, sock=sock, limit=1 << 20)


__all__ = ["Server", "serve_unix"]
