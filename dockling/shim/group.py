"""A shim process: the keeper of several containers, one ``shim._Shim`` each.

The fork server forks one and hands it containers over a channel until it
holds its share (``containers-per-shim``); then the server closes the channel
and forks the next. A process that the server let go ends with its last
container. What it costs in memory is shared by every container in it: an idle
container's own part is its buffers and records (bench/engine.py).

What keeps one container's trouble from its neighbours:
- the loop never waits on an fd, and a slow client stops only its own
  container's output (loop.py);
- create, start, exec and delete, which wait on the kernel or on the
  container's files, run in short-lived children (``fork``; an exec's is the
  runtime's stage 1) that keep none of the other containers' fds;
- what a container's handler raises is logged to its shim.log and ends its
  I/O alone (``_Shim.failed``); the process goes on;
- a container that could ptrace into an exec's process (which carries a copy
  of this process until it execs) gets a process of its own (the fork server:
  ``Options.alone``).
A shim process that is killed takes the I/O of all its containers with it;
the daemon then ends each of them cleanly (monitor.shim_lost), as it did for a
shim of one. ``containers-per-shim: 1`` in daemon.json gives every container
its own process again.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import time

from dockling.shim.loop import Loop


class Group:
    UNCLAIMED = 64  # exits of processes not yet claimed, kept at most ...
    UNCLAIMED_FOR = 10.0  # ... and for so many seconds (a pid is used again, later)

    def __init__(self, chan: socket.socket, log_path: str) -> None:
        self.chan: socket.socket | None = chan
        self.log_path = log_path
        self.loop = Loop()
        self.shims: set = set()
        self.owners: dict[int, object] = {}   # pid -> the _Shim whose process it is
        # short-lived children (and processes given up): pid -> what to call at their end
        self.helpers: dict[int, object] = {}
        self.unclaimed: dict[int, tuple[int, float]] = {}  # pid -> (code, when), reaped
        # before claimed
        self._runtimes: dict[tuple[str, str], object] = {}

    def serve(self) -> None:
        """In a fresh child of the fork server: a new session, then the loop until
        the server lets this process go and its last container has ended."""
        os.setsid()
        # Its files (the logs: the containers' output; exit.json) are the daemon's
        # alone, as the daemon's are (the fork server has this already).
        os.umask(0o077)
        os.chdir("/")
        self.loop.sel.close()  # before the sweep: its fd number may be reused
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        from dockling.runtime.process import close_fds_except

        close_fds_except([self.chan.fileno()])
        # The daemon's handlers (asyncio's) mean nothing here.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        from dockling.kernel import syscalls

        syscalls.set_child_subreaper()
        self.loop = Loop()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.loop.add_reader(wake_r, lambda: _drain(wake_r), self)
        self.loop.add_reader(self.chan.fileno(), self._host, self)
        # watched: the wake pipe and, until it closes, the server's channel; more
        # while a container is kept or a client still gets its last bytes
        while self.shims or self.loop.watched() > 1:
            self.loop.run_once(1.0)
            self._reap()

    def _host(self) -> None:
        """A container from the fork server: its options, and the daemon's socket
        for the shim's report."""
        from dockling.shim import shim

        msg, fds = shim.recv_fds(self.chan, 65536, 1)
        if not msg:  # the server let us go: end with the last container
            self.loop.forget(self.chan.fileno())
            self.chan.close()
            self.chan = None
            return
        if not fds:
            return
        report = socket.socket(fileno=fds[0])
        try:
            s = shim._Shim(shim.Options(**json.loads(msg)), report, self)
        except Exception as err:  # a daemon of another version: say so, do not hang it
            from dockling.runtime import sync

            sync.send_error(report, err)
            report.close()
            raise
        self.shims.add(s)
        try:
            s.begin()
        except OSError:  # told the daemon; nothing of it is left here
            self.shims.discard(s)

    def fork(self, fn, keep=(), then=None) -> int:
        """``fn()`` in a short-lived child, reaped by the loop (``then()`` at its end):
        what it waits on, and what it allocates, stay out of this process. It keeps
        only the fds ``keep``: the other containers' are none of its business (a
        client of theirs would wait for its EOF until this child ended)."""
        from dockling.runtime.process import close_fds_except

        pid = os.fork()
        if pid == 0:
            try:
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                close_fds_except(keep)
                fn()
            finally:
                os._exit(0)
        self.helpers[pid] = then
        return pid

    def claim(self, pid: int, owner) -> None:
        """``pid`` (an init, an exec'd process: re-parented to us) is ``owner``'s.
        One that ended before it was claimed is reported at once."""
        ended = self.unclaimed.pop(pid, None)
        if ended is None or time.monotonic() - ended[1] > self.UNCLAIMED_FOR:
            self.owners[pid] = owner
        else:
            owner.reaped(pid, ended[0])

    def disown(self, pid: int) -> None:
        """``pid`` (killed, or never to be waited for: an exec that did not start)
        is nobody's: its exit, when it comes, is dropped."""
        self.owners.pop(pid, None)
        if self.unclaimed.pop(pid, None) is None:
            self.helpers[pid] = None

    def leave(self, shim) -> None:
        self.shims.discard(shim)
        for pid in [p for p, o in self.owners.items() if o is shim]:
            del self.owners[pid]

    def runtime(self, name: str, root: str):
        key = (name, root)
        if key not in self._runtimes:
            from dockling.runtime import open_runtime

            self._runtimes[key] = open_runtime(name, root)
        return self._runtimes[key]

    def failed(self, err: BaseException) -> None:
        """An error of the process's own (a bug): logged; the loop goes on."""
        from dockling.shim.shim import log_trace

        log_trace(self.log_path, err)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.helpers:
                then = self.helpers.pop(pid)
                if then is not None:
                    try:
                        then()
                    except Exception as err:  # noqa: BLE001 - its container's alone
                        then.__self__.failed(err)
                continue
            code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
                os.WEXITSTATUS(status)
            owner = self.owners.pop(pid, None)
            if owner is None:
                self.unclaimed[pid] = (code, time.monotonic())
                while len(self.unclaimed) > self.UNCLAIMED:
                    del self.unclaimed[next(iter(self.unclaimed))]
                continue
            try:
                owner.reaped(pid, code)
            except Exception as err:  # noqa: BLE001 - that container's alone
                owner.failed(err)


def _drain(fd: int) -> None:
    try:
        while os.read(fd, 512):
            pass
    except BlockingIOError:
        pass

