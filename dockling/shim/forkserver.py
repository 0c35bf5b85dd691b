"""The shim fork server: a small process that forks the shims.

A shim forked from the daemon inherits the daemon's whole heap; what the
shim then allocates lands in the holes of that heap and copies page after
page (10+ MB private per idle container, measured). So the daemon starts
this server once, as a fresh interpreter that imports only what a shim
runs (the shim and the runtime), freezes its garbage collector and then
does nothing but fork: each shim shares a small, quiet heap.

Protocol (a SOCK_SEQPACKET pair): the daemon sends the shim's Options as
JSON with the shim's report socket attached (SCM_RIGHTS); the server forks a
detached shim that reports "started" on that socket, as before.
"""

from __future__ import annotations

import gc
import json
import os
import signal
import socket
import subprocess
import sys

_server: tuple[subprocess.Popen, socket.socket] | None = None


def _start(tag: str) -> tuple[subprocess.Popen, socket.socket]:
    """``tag`` (the daemon's run dir) only marks the command line, so `ps` shows
    whose shims these are: shims keep the server's command line."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen([sys.executable, "-m", "dockling.shim.forkserver",
                             str(theirs.fileno()), tag], pass_fds=[theirs.fileno()],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    return proc, ours


def submit(options: dict, report: socket.socket) -> None:
    """Have a shim forked with these options; ``report`` is handed over."""
    global _server
    for _ in range(2):
        if _server is None or _server[0].poll() is not None:
            _server = _start(os.path.dirname(options["runtime_root"]))
        try:
            socket.send_fds(_server[1], [json.dumps(options).encode()], [report.fileno()])
            return
        except OSError:
            _server = None  # it died: start another, once
    raise OSError("the shim fork server is not answering")


def stop() -> None:
    global _server
    if _server is not None:
        _server[1].close()
        try:
            _server[0].wait(5)
        except subprocess.TimeoutExpired:
            _server[0].kill()
        _server = None


def serve(fd: int) -> None:
    from dockling.shim import shim as shimlib

    os.umask(0o077)  # the daemon's (inherited): the shims' files are private

    shimlib.preload()
    # Shims are our children until we exit: the kernel reaps those that end first
    # (a shim's own handler replaces this before it forks the container)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    gc.freeze()  # what is here now is shared by every shim: keep the collector off it
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 65536, 1)
        except OSError:
            return
        if not msg:
            return  # the daemon went away
        if not fds:
            continue
        pid = os.fork()
        if pid == 0:
            sock.close()
            shimlib.run_detached(shimlib.Options(**json.loads(msg)),
                                 socket.socket(fileno=fds[0]))
            os._exit(0)
        os.close(fds[0])


if __name__ == "__main__":
    serve(int(sys.argv[1]))
