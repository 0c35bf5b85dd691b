"""Engine API client: stdlib http.client over a unix socket.

Kept to the standard library so the CLI starts fast. ``hijack`` performs
docker's upgrade (Connection: Upgrade, Upgrade: tcp) and returns the raw
socket for attach and exec.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import urllib.parse

API = "/v1.47"


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


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
    return "?" + urllib.parse.urlencode(items) if items else ""


class Client:
    def __init__(self, sock: str) -> None:
        self.sock = sock

    def _conn(self) -> _UnixConnection:
        return _UnixConnection(self.sock)

    def open(self, method: str, path: str, params: dict | None = None, body=None,
             headers: dict | None = None):
        """Send a request; return the open response (caller reads/streams it)."""
        conn = self._conn()
        h = {"Host": "docker", "User-Agent": "dockling-cli"}
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        conn.request(method, API + path + _qs(params), body=body, headers=h)
        resp = conn.getresponse()
        if resp.status >= 400:
            data = resp.read()
            try:
                msg = json.loads(data)["message"]
            except (ValueError, KeyError, TypeError):
                msg = data.decode(errors="replace").strip()
            conn.close()
            raise APIError(resp.status, msg)
        return resp

    def call(self, method: str, path: str, params: dict | None = None, body=None,
             headers: dict | None = None):
        resp = self.open(method, path, params, body, headers)
        data = resp.read()
        if resp.getheader("Content-Type", "").startswith("application/json") and data:
            return json.loads(data)
        return data

    def get(self, path: str, **params):
        return self.call("GET", path, params)

    def post(self, path: str, body=None, **params):
        return self.call("POST", path, params, body)

    def hijack(self, path: str, params: dict | None = None, body=None) -> socket.socket:
        """POST with Upgrade: tcp; return the raw socket after 101."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        payload = json.dumps(body).encode() if body is not None else b""
        req = (f"POST {API}{path}{_qs(params)} HTTP/1.1\r\nHost: docker\r\n"
               "Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Type: application/json\r\n"
               f"Content-Length: {len(payload)}\r\n\r\n").encode() + payload
        s.sendall(req)
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = s.recv(1)
            if not chunk:
                break
            head += chunk
        status_line = head.split(b"\r\n", 1)[0].decode(errors="replace")
        parts = status_line.split(" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 500
        if status >= 400:
            headers = head.decode(errors="replace").lower()
            length = 0
            for line in headers.split("\r\n"):
                if line.startswith("content-length:"):
                    length = int(line.split(":", 1)[1])
            data = b""
            while len(data) < length:
                chunk = s.recv(length - len(data))
                if not chunk:
                    break
                data += chunk
            s.close()
            try:
                msg = json.loads(data)["message"]
            except (ValueError, KeyError, TypeError):
                msg = data.decode(errors="replace")
            raise APIError(status, msg)
        return s


def default_socket() -> str:
    host = os.environ.get("DOCKLING_HOST") or ""
    if host.startswith("unix://"):
        return host[len("unix://"):]
    return "/run/dockling/dockling.sock"
