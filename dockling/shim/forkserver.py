"""The shim fork server: a small process that forks the shim processes.

A shim forked from the daemon inherits the daemon's whole heap; what the
shim then allocates lands in the holes of that heap and copies page after
page (10+ MB private per idle container, measured). So the daemon starts
this server once, as a fresh interpreter that imports only what a shim
runs (the shim and the runtime), freezes its garbage collector and then
does nothing but fork: each shim process shares a small, quiet heap.

Protocol (SOCK_SEQPACKET pairs): the daemon sends a container's shim Options
as JSON with the shim's report socket attached (SCM_RIGHTS). The server passes
both on to its current shim process (group.py), which reports "started" on
that socket; after ``per_shim`` containers it lets that process go (closes its
channel) and forks the next. A container marked ``alone`` gets a process of its
own (containers/spec.py, needs_own_shim).
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


def _start(tag: str, per_shim: int) -> tuple[subprocess.Popen, socket.socket]:
    """``tag`` (the daemon's run dir) marks the command line, so `ps` shows
    whose shims these are (shims keep the server's command line), and holds the
    shim processes' own log."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    proc = subprocess.Popen([sys.executable, "-m", "dockling.shim.forkserver",
                             str(theirs.fileno()), tag, str(per_shim)],
                            pass_fds=[theirs.fileno()],
                            stdin=subprocess.DEVNULL, start_new_session=True)
    theirs.close()
    return proc, ours


def submit(options: dict, report: socket.socket, per_shim: int = 16) -> None:
    """Have a container's shim started with these options; ``report`` is handed over."""
    global _server
    for _ in range(2):
        if _server is None or _server[0].poll() is not None:
            _server = _start(os.path.dirname(options["runtime_root"]), per_shim)
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


def _fork_group(log_path: str, sock: socket.socket) -> socket.socket:
    """A new shim process; the channel to hand it containers."""
    from dockling.shim.group import Group

    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        group = Group(theirs, log_path)
        try:
            sock.close()
            ours.close()
            group.serve()
        except BaseException as err:  # noqa: BLE001 - nobody else would hear of it
            group.failed(err)
        finally:
            os._exit(0)
    theirs.close()
    return ours


def serve(fd: int, tag: str = "", per_shim: int = 16) -> None:
    from dockling.shim import shim as shimlib

    os.umask(0o077)  # the daemon's (inherited): the shims' files are private

    shimlib.preload()
    # Shim processes are our children until we exit: the kernel reaps those that
    # end first (a shim process's own handler replaces this before it forks)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    sock = socket.socket(fileno=fd)
    log_path = os.path.join(tag or "/", "shims.log")
    gc.freeze()  # what is here now is shared by every shim: keep the collector off it
    group: socket.socket | None = None
    hosted = 0
    while True:
        try:
            msg, fds, _, _ = socket.recv_fds(sock, 65536, 1)
        except OSError:
            return
        if not msg:
            return  # the daemon went away (our end closes: the shims end with their last)
        if not fds:
            continue
        if json.loads(msg).get("alone"):  # a process of its own, let go at once
            own = _fork_group(log_path, sock)
            try:
                socket.send_fds(own, [msg], [fds[0]])
            except OSError:
                pass  # it died: the daemon sees the report socket close
            own.close()
            os.close(fds[0])
            continue
        for _ in range(2):
            if group is None or hosted >= per_shim:
                if group is not None:
                    group.close()  # that process ends with its last container
                group, hosted = _fork_group(log_path, sock), 0
            try:
                socket.send_fds(group, [msg], [fds[0]])
                hosted += 1
                break
            except OSError:  # it died: the next one takes the container
                group.close()
                group = None
        os.close(fds[0])


if __name__ == "__main__":
    serve(int(sys.argv[1]), *sys.argv[2:3], *[int(a) for a in sys.argv[3:4]])
