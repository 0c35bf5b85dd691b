"""Terminals: a pty made inside the container, its master handed over a socket.

runc's console-socket protocol: the runtime connects to a unix socket the
caller listens on and sends the pty master as SCM_RIGHTS, with the pty's
name as the message. The caller (the shim, or ``run``/``exec`` in the
foreground) then owns the master.
"""

from __future__ import annotations

import array
import fcntl
import os
import select
import signal
import socket
import struct
import sys
import termios
import tty

from dockling.errors import InvalidArgument


def connect(path: str) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError as err:
        s.close()
        raise InvalidArgument(f"cannot connect to console socket {path}: {err.strerror}") from err
    return s


def send_master(sock: socket.socket, master: int, name: str) -> None:
    socket.send_fds(sock, [name.encode()], [master])


def recv_master(sock: socket.socket) -> int:
    _msg, fds, _, _ = socket.recv_fds(sock, 4096, 1)
    if not fds:
        raise InvalidArgument("console socket: no pty received")
    return fds[0]


def open_pty(height: int = 0, width: int = 0) -> tuple[int, int, str]:
    """openpty in the current root (the container's devpts); slave becomes our tty."""
    master, slave = os.openpty()
    if height and width:
        set_size(slave, height, width)
    return master, slave, os.ttyname(slave)


def set_size(fd: int, height: int, width: int) -> None:
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, 0, 0))


def get_size(fd: int) -> tuple[int, int]:
    buf = array.array("H", [0, 0, 0, 0])
    fcntl.ioctl(fd, termios.TIOCGWINSZ, buf)
    return buf[0], buf[1]


def become_controlling(slave: int) -> None:
    """Make the pty slave our stdio and controlling terminal (after setsid)."""
    fcntl.ioctl(slave, termios.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def proxy(master: int, done) -> None:
    """Copy our stdin to the pty and the pty to our stdout until ``done()``.

    Puts a terminal stdin in raw mode so ctrl-c travels to the container, and
    keeps the container's window size in step with ours (SIGWINCH).
    """
    stdin = sys.stdin.fileno()
    stdout = sys.stdout.fileno()
    restore = None
    if os.isatty(stdin):
        restore = termios.tcgetattr(stdin)
        tty.setraw(stdin)
        try:
            set_size(master, *get_size(stdin))
        except OSError:
            pass
        signal.signal(signal.SIGWINCH, lambda *_: set_size(master, *get_size(stdin)))
    fds = [master, stdin]
    try:
        while True:
            try:
                ready, _, _ = select.select(fds, [], [], 0.1)
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                os.write(stdout, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if data:
                    os.write(master, data)
                else:
                    fds.remove(stdin)
            if not ready and done():
                break
    finally:
        if restore is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, restore)
