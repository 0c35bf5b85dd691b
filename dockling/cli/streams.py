"""Client side of attach/exec streams: demultiplexing, raw terminals, detach keys."""

from __future__ import annotations

import os
import select
import sys

from dockling.formats.stdcopy import STDERR, Frames

_SHUT_WR = 1  # socket.SHUT_WR: socket.py costs ~2.5 ms to import, a tenth of an exec

DETACH_KEYS = b"\x10\x11"  # ctrl-p ctrl-q, docker's default


class Detached(Exception):
    pass


def pump(sock, *, tty_mode: bool, stdin: bool, on_resize=None,
         detach_keys: bytes = DETACH_KEYS) -> None:
    """Copy stdin to the socket and the socket to stdout/stderr until the stream ends.

    Without a tty the stream is docker's multiplexed format. With a tty,
    a terminal stdin goes raw (ctrl-c travels to the container) and the
    window size follows ours; ``detach_keys`` (ctrl-p ctrl-q) detach.
    """
    in_fd = sys.stdin.fileno() if stdin else None
    restore = None
    if tty_mode and in_fd is not None and os.isatty(in_fd):
        import termios  # a terminal's needs only (not imported by a plain exec)
        import tty

        restore = termios.tcgetattr(in_fd)
        tty.setraw(in_fd)
    if tty_mode and on_resize is not None and os.isatty(sys.stdout.fileno()):
        import signal

        on_resize()
        signal.signal(signal.SIGWINCH, lambda *_: on_resize())
    demux = _Demux()
    keys = b""
    watch = [sock] + ([in_fd] if in_fd is not None else [])
    try:
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if sock in ready:
                data = sock.recv(65536)
                if not data:
                    break
                if tty_mode:
                    _write(sys.stdout.fileno(), data)
                else:
                    demux.feed(data)
            if in_fd is not None and in_fd in ready:
                data = os.read(in_fd, 65536)
                if not data:
                    watch.remove(in_fd)
                    try:
                        sock.shutdown(_SHUT_WR)
                    except OSError:
                        pass
                    in_fd = None
                    continue
                if tty_mode and restore is not None:
                    keys = (keys + data)[-len(detach_keys):]
                    if keys == detach_keys:
                        raise Detached
                sock.sendall(data)
    finally:
        if restore is not None:
            import termios

            termios.tcsetattr(sys.stdin.fileno(), termios.TCSADRAIN, restore)


class _Demux:
    def __init__(self) -> None:
        self.frames = Frames()

    def feed(self, data: bytes) -> None:
        for stream, payload in self.frames.feed(data):
            _write(2 if stream == STDERR else 1, payload)


def _write(fd: int, data: bytes) -> None:
    while data:
        n = os.write(fd, data)
        data = data[n:]


def terminal_size() -> tuple[int, int]:
    try:
        sz = os.get_terminal_size(sys.stdout.fileno())
        return sz.lines, sz.columns
    except OSError:
        return 0, 0
