"""The message channel between the runtime and the processes it forks.

A SOCK_SEQPACKET socketpair keeps message boundaries, and EOF tells the
parent that the child died (or exec'd: the child's end is close-on-exec).
Messages are small JSON objects with a "type". Errors carry the class
name of the dockling error so the parent re-raises the same type.
"""

from __future__ import annotations

import json
import socket

from dockling import errors
from dockling.runtime.process import ExecError


def pair() -> tuple[socket.socket, socket.socket]:
    return socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)


def send(sock: socket.socket, type_: str, **fields) -> None:
    sock.send(json.dumps({"type": type_, **fields}).encode())


def recv(sock: socket.socket) -> dict | None:
    data = sock.recv(65536)
    if not data:
        return None
    return json.loads(data)


def send_error(sock: socket.socket, err: BaseException) -> None:
    if isinstance(err, errors.DocklingError):
        kind = type(err).__name__
        msg = str(err)
    elif isinstance(err, OSError):
        kind = "InternalError"
        msg = f"{err.strerror or err}" + (f": {err.filename}" if err.filename else "")
    else:
        kind = "InternalError"
        msg = f"{type(err).__name__}: {err}"
    code = getattr(err, "code", None)
    try:
        send(sock, "error", kind=kind, message=msg, code=code)
    except OSError:
        pass


def raise_error(msg: dict) -> None:
    if msg.get("kind") == "ExecError":
        raise ExecError(msg["message"], msg.get("code") or 127)
    cls = getattr(errors, msg.get("kind", ""), errors.InternalError)
    if not (isinstance(cls, type) and issubclass(cls, errors.DocklingError)):
        cls = errors.InternalError
    raise cls(msg["message"])


def expect(sock: socket.socket, type_: str, what: str) -> dict:
    msg = recv(sock)
    if msg is None:
        raise errors.InternalError(f"{what}: the child process exited unexpectedly")
    if msg["type"] == "error":
        raise_error(msg)
    if msg["type"] != type_:
        raise errors.InternalError(f"{what}: expected {type_!r}, got {msg['type']!r}")
    return msg
