"""Engine API client: a small HTTP/1.1 client over the unix socket.

Not http.client: importing it costs ~14 ms (it pulls in the email package),
a tenth of `dockling run`; for the same reason `_socket` (socket.py builds its
enums at import, ~2.5 ms), urllib.parse only for a value that needs quoting and
wirejson, not json, for JSON bodies and answers (json's import compiles six regular
expressions and loads re). The daemon speaks plain HTTP/1.1, so this
client needs only a request line, headers, Content-Length or chunked
bodies, and the Upgrade hijack for attach and exec.

A request body is bytes (sent with Content-Length) or, when it is too big
to hold (a build context of hundreds of MB), a binary file or an iterator
of bytes: sent as it is read, with chunked transfer encoding.
"""

from __future__ import annotations

import _socket as socket  # socket.py's class adds nothing this client uses
import os

# collections.abc, not loaded: collections' import is ~3 ms (os loaded this one)
from _collections_abc import Iterator

from dockling.client import wirejson as json

API = "/v1.47"
# what a query needs no quoting for (RFC 3986's unreserved characters)
_PLAIN = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _qs(params: dict | None) -> str:
    if not params:
        return ""
    items = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, bool):
            v = "1" if v else "0"
        if isinstance(v, (list, tuple)):
            items.extend((k, str(x)) for x in v)
        elif isinstance(v, dict):
            items.append((k, json.dumps(v)))
        else:
            items.append((k, str(v)))
    return "?" + "&".join(f"{_quote(k)}={_quote(v)}" for k, v in items) if items else ""


def _quote(s: str) -> str:
    if _PLAIN.issuperset(s):
        return s
    from urllib.parse import quote_plus  # as urlencode quotes

    return quote_plus(s)


class Response:
    """A response whose body is read on demand (streams: logs -f, events)."""

    def __init__(self, sock: socket.socket, status: int, headers: dict[str, str],
                 buf: bytes) -> None:
        self.sock = sock
        self.status = status
        self.headers = headers
        self._buf = buf
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length is not None and not self._chunked else None
        self._chunk_left = 0
        self._done = status in (204, 304) or self._left == 0

    def getheader(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self._buf += data
        return True

    def _line(self) -> bytes:
        while b"\r\n" not in self._buf:
            if not self._fill():
                raise ConnectionError("connection closed in a chunk header")
        line, _, self._buf = self._buf.partition(b"\r\n")
        return line

    def read1(self, n: int = 65536) -> bytes:
        """Up to n bytes of body; b"" at its end."""
        if self._done:
            return b""
        if self._chunked:
            if self._chunk_left == 0:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    self._line()  # the empty line after the last chunk
                    self._done = True
                    return b""
                self._chunk_left = size
            if not self._buf and not self._fill():
                raise ConnectionError("connection closed in a chunk")
            take = min(n, self._chunk_left, len(self._buf))
            out, self._buf = self._buf[:take], self._buf[take:]
            self._chunk_left -= take
            if self._chunk_left == 0:
                while len(self._buf) < 2:
                    if not self._fill():
                        break
                self._buf = self._buf[2:]
            return out
        if not self._buf and not self._fill():
            self._done = True
            return b""
        take = len(self._buf) if self._left is None else min(n, self._left, len(self._buf))
        out, self._buf = self._buf[:take], self._buf[take:]
        if self._left is not None:
            self._left -= take
            if self._left == 0:
                self._done = True
        return out

    def read(self, n: int = -1) -> bytes:
        if n >= 0:
            return self.read1(n)
        out = bytearray()
        while chunk := self.read1():
            out += chunk
        self.close()
        return bytes(out)

    def close(self) -> None:
        self.sock.close()


def _pieces(body) -> Iterator[bytes]:
    """The pieces of a streamed body: a binary file read 1 MiB at a time, or an iterator."""
    if hasattr(body, "read"):
        while piece := body.read(1 << 20):
            yield piece
    else:
        yield from body


def _send_chunked(s: socket.socket, body) -> None:
    """Send a streamed body chunked; stop quietly if the daemon hangs up first.

    A daemon that refuses the request early answers and closes its end; the
    caller then reads that answer instead of our broken pipe.
    """
    try:
        for piece in _pieces(body):
            if piece:
                s.sendall(b"%x\r\n" % len(piece) + piece + b"\r\n")
        s.sendall(b"0\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass


def _request(sock_path: str, method: str, target: str, body,
             headers: dict[str, str]) -> Response:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(sock_path)
    head = [f"{method} {target} HTTP/1.1", "Host: docker", "User-Agent: dockling-cli"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    streamed = body is not None and not isinstance(body, (bytes, bytearray, memoryview))
    if streamed:
        head.append("Transfer-Encoding: chunked")
    elif body is not None or method in ("POST", "PUT"):
        head.append(f"Content-Length: {len(body or b'')}")
    first = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    if streamed:
        try:
            s.sendall(first)
            _send_chunked(s, body)
        except BaseException:  # the body's own error (an unreadable file), or ctrl-c
            s.close()
            raise
    else:
        s.sendall(first + (body or b""))
    buf = b""
    while b"\r\n\r\n" not in buf:
        data = s.recv(65536)
        if not data:
            s.close()
            raise ConnectionError("the daemon closed the connection")
        buf += data
    raw, _, rest = buf.partition(b"\r\n\r\n")
    lines = raw.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    status = int(parts[1])
    hdrs = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    resp = Response(s, status, hdrs, rest)
    if method == "HEAD":
        resp._done = True  # a HEAD answer has headers only, whatever its Content-Length
    return resp


def _raise_for(resp: Response) -> None:
    if resp.status < 400:
        return
    data = resp.read()
    try:
        msg = json.loads(data)["message"]
    except (ValueError, KeyError, TypeError):
        msg = data.decode(errors="replace").strip()
    raise APIError(resp.status, msg)


class Client:
    def __init__(self, sock: str) -> None:
        self.sock = sock

    def open(self, method: str, path: str, params: dict | None = None, body=None,
             headers: dict | None = None) -> Response:
        """Send a request; return the open response (caller reads/streams it).

        ``body``: a dict or list (sent as JSON), bytes, or a binary file or
        iterator of bytes (streamed chunked, never held whole).
        """
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        resp = _request(self.sock, method, API + path + _qs(params), body, h)
        _raise_for(resp)
        return resp

    def call(self, method: str, path: str, params: dict | None = None, body=None,
             headers: dict | None = None):
        resp = self.open(method, path, params, body, headers)
        data = resp.read()
        if resp.getheader("Content-Type").startswith("application/json") and data:
            return json.loads(data)
        return data

    def get(self, path: str, **params):
        return self.call("GET", path, params)

    def post(self, path: str, body=None, **params):
        return self.call("POST", path, params, body)

    def hijack(self, path: str, params: dict | None = None, body=None) -> socket.socket:
        """POST with Upgrade: tcp; return the raw socket after 101.

        Bytes that arrived with the 101 are not expected (the daemon sends
        nothing before the stream); the socket is handed over as is.
        """
        payload = json.dumps(body).encode() if body is not None else b""
        resp = _request(self.sock, "POST", API + path + _qs(params), payload,
                        {"Connection": "Upgrade", "Upgrade": "tcp",
                         "Content-Type": "application/json"})
        if resp.status >= 400:
            _raise_for(resp)
        if resp._buf:
            return _Prefixed(resp.sock, resp._buf)
        return resp.sock


class _Prefixed:
    """A socket with bytes already read in front (stream data glued to the 101)."""

    def __init__(self, sock: socket.socket, data: bytes) -> None:
        self._sock = sock
        self._data = data

    def recv(self, n: int) -> bytes:
        if self._data:
            out, self._data = self._data[:n], self._data[n:]
            return out
        return self._sock.recv(n)

    def fileno(self) -> int:
        return self._sock.fileno() if not self._data else _ready_fd()

    def __getattr__(self, name):
        return getattr(self._sock, name)


def _ready_fd() -> int:
    """An fd select() reports readable at once, while buffered bytes remain."""
    global _READY
    if _READY is None:
        r, w = os.pipe()
        os.write(w, b"x")
        _READY = r
    return _READY


_READY: int | None = None


def default_socket() -> str:
    host = os.environ.get("DOCKLING_HOST") or ""
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return "/run/dockling/dockling.sock"
