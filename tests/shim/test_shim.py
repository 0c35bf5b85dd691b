"""The shim's own pieces that need no container: reading a request line."""

from __future__ import annotations

import socket
import threading
import time

from dockling.shim import shim


def test_the_request_line_is_read_without_the_bytes_after_it():
    """An exec's stdin may follow its request in the same write: it stays in the
    socket for the stream."""
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b'{"op": "exec", "process": {"args": ["cat"]}}\nstdin bytes')
        assert shim._read_line(ours) == b'{"op": "exec", "process": {"args": ["cat"]}}\n'
        assert ours.recv(100) == b"stdin bytes"
    finally:
        ours.close()
        theirs.close()


def test_a_line_that_comes_in_pieces():
    ours, theirs = socket.socketpair()

    def send() -> None:
        for piece in (b'{"op": ', b'"wait"', b"}\n"):
            theirs.sendall(piece)
            time.sleep(0.02)  # separate reads: the line is put together

    t = threading.Thread(target=send)
    t.start()
    try:
        assert shim._read_line(ours) == b'{"op": "wait"}\n'
    finally:
        t.join()
        ours.close()
        theirs.close()


def test_a_client_that_hangs_up_mid_line():
    ours, theirs = socket.socketpair()
    try:
        theirs.sendall(b'{"op": ')
        theirs.close()
        assert shim._read_line(ours) == b'{"op": '
    finally:
        ours.close()
