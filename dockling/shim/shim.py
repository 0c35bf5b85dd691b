"""The per-container shim: parent of the container, keeper of its I/O and exit.

The daemon forks it (no new interpreter: the warm daemon's fork is the
fast path); it detaches into its own session, so containers outlive the
daemon and the CLI. It:

- has the container created and started through the runtime library by a
  short-lived set-up child, as child subreaper, so PID 1 and every exec'd
  process are its children (see _Shim.run);
- copies stdout/stderr (or the pty) into the json-file log and to attached
  clients, and client input to the container's stdin;
- runs exec processes and streams their I/O the same way;
- records the exit status in ``exit.json`` (atomically) before it tells
  waiters, deletes the runtime state, and exits.

Its unix socket speaks one JSON line per connection, then a stream:
    {"op": "wait"}                       -> {"ExitCode": N, "OOMKilled": b, ...} at exit
    {"op": "attach", "stdin": b, "stdout": b, "stderr": b[, "frame": b]} -> raw or framed stream
    {"op": "exec", "id": ..., "process": {...}, "stdin": b[, "frame": b]} -> stream, then the exit
    {"op": "resize", "height": h, "width": w[, "exec": id]}
    {"op": "flush"}                      -> {"ok": true} once the output read so far is logged
Streams without a tty use docker's 8-byte framing (stream, 0, 0, 0, size).
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import struct

from dockling import clock
from dockling.formats.stdcopy import STDERR, STDOUT, frame
from dockling.kernel import syscalls
from dockling.runtime import console, open_runtime, spec


def write_json_atomic(path: str, doc: dict) -> None:
    """Readers see the old file or the whole new one (rename), never a part.

    Not fsync'd: these files (exit.json, exec-*.json) live in the exec root,
    a tmpfs under /run in production that a reboot empties along with every
    container they describe; an fsync there buys nothing and cost an exec
    a disk flush where the exec root is on disk (tests, benchmarks)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f)
    os.rename(tmp, path)


class Options:
    """What the daemon tells a new shim (plain attributes, no parsing)."""

    def __init__(self, *, cid: str, bundle: str, runtime_root: str, state_dir: str,
                 log_path: str | None, tty: bool, open_stdin: bool, stdin_once: bool,
                 new_netns: bool, wait_attach: int = 0, runtime: str = "dockling",
                 log_max_size: int = -1, log_max_files: int = 1, trace: bool = False,
                 hold: bool = False) -> None:
        self.cid = cid
        self.bundle = bundle
        self.runtime_root = runtime_root
        self.state_dir = state_dir
        self.log_path = log_path
        self.tty = tty
        self.open_stdin = open_stdin
        self.stdin_once = stdin_once
        self.new_netns = new_netns
        # Clients that attached before start: their stream must see the
        # first byte, so the program starts only once they are connected.
        self.wait_attach = wait_attach
        self.runtime = runtime
        # json-file rotation (--log-opt max-size/max-file); -1: never rotate
        self.log_max_size = log_max_size
        self.log_max_files = log_max_files
        # run --trace: the runtime's kernel calls go to the trace in the bundle (the
        # container's directory, beside the daemon's part of it)
        self.trace = trace
        # The daemon makes the network while the runtime makes the container: say
        # "created" and start only at its "go" (the socket closed: delete instead).
        self.hold = hold

    @property
    def socket_path(self) -> str:
        return os.path.join(self.state_dir, "shim.sock")

    @property
    def exit_path(self) -> str:
        return os.path.join(self.state_dir, "exit.json")


def spawn(opts: Options):
    """Have a detached shim started (by the fork server); return the socket on
    which it will say "started".

    The caller reads that message with ``started``: asynchronously in the
    daemon, so that attach requests can reach the shim meanwhile.
    """
    from dockling.runtime import sync
    from dockling.shim import forkserver

    parent, child = sync.pair()
    try:
        forkserver.submit(vars(opts), child)
    finally:
        child.close()
    return parent


def run_detached(opts: Options, report) -> None:
    """In a fresh child of the fork server: a new session, then the shim's life.
    The fork server ignores SIGCHLD, so the kernel reaps a shim that ends (no
    zombie, and no second fork to avoid one); run() sets its own handler before
    it forks anything. Errors before "started" go back on ``report`` (the set-up
    child's copy: see _Shim.run); later ones to shim.log."""
    try:
        os.setsid()
        # Its files (the log: the container's output; exit.json) are the daemon's
        # alone, as the daemon's are (the fork server has this already).
        os.umask(0o077)
        _Shim(opts, report).run()
    except BaseException as err:  # noqa: BLE001
        _failed(opts, report, err)


def _failed(opts: Options, report, err: BaseException) -> None:
    """Leave a trace in shim.log; tell the daemon if it still listens."""
    import traceback

    with open(os.path.join(opts.state_dir, "shim.log"), "a") as f:
        traceback.print_exc(file=f)
    if report.fileno() >= 0:
        from dockling.runtime import sync

        sync.send_error(report, err)


def preload() -> None:
    """Import what a shim and the runtime run, so every shim shares it."""
    import importlib

    for mod in ("dockling.runtime.container", "dockling.runtime.oci_cli",
                "dockling.runtime.seccomp", "dockling.runtime.console",
                "dockling.runtime.cgroups.v1", "dockling.runtime.cgroups.v2",
                "dockling.runtime.sync", "traceback", "fcntl", "time",
                # the seccomp BPF cache's key (an exec's first): imported here, its
                # pages are the fork server's, shared, not each shim's own
                "hashlib", "tempfile"):
        importlib.import_module(mod)
    _warm_decoders()


def _warm_decoders() -> None:
    """msgspec builds what it needs to decode a struct type on the type's first
    use: for the runtime's state and spec, ~1 MB of small objects. Built here, in
    the fork server, it is shared by every shim instead of copied into each at
    its first state load (rt.start: +1.1 MB private per idle shim, measured)."""
    import msgspec

    from dockling.runtime import state

    for typ in (state.State, state.Brief, state.ConfigHooks, spec.Spec, spec.Process):
        try:
            msgspec.json.decode(b"{}", type=typ)
        except msgspec.ValidationError:
            pass
        try:
            msgspec.convert({}, type=typ)
        except msgspec.ValidationError:
            pass


def report(msg: dict | None, cid: str) -> dict:
    """Interpret a message from a starting shim: "created" (when it holds), "started"
    ({"Pid", "ShimPid"}), or the error it raised."""
    from dockling.errors import InternalError
    from dockling.runtime import sync

    if msg is None:
        raise InternalError(f"shim for {cid} exited before starting the container")
    if msg["type"] == "error":
        sync.raise_error(msg)
    return msg


def release(sock, go: bool) -> None:
    """Tell a holding shim to start the container (``go``) or to delete it."""
    from dockling.runtime import sync

    sync.send(sock, "go" if go else "abort")


class _Stream:
    """One client connection: attach, exec or wait."""

    def __init__(self, conn: socket.socket, kind: str, req: dict) -> None:
        self.conn = conn
        self.kind = kind
        self.req = req
        self.exec_id = req.get("id")


class _Shim:
    def __init__(self, opts: Options, report) -> None:
        self.o = opts
        self.report = report
        self.sel: selectors.BaseSelector | None = None  # made after the fd sweep in run()
        self._rt = None
        self.clients: list[_Stream] = []
        self.pending: list[tuple[socket.socket, dict]] = []  # requests the set-up left
        self.waiters: list[socket.socket] = []
        self.exit: dict | None = None
        self.init_pid = 0
        self.outputs: dict[int, int] = {}   # fd -> stream (container)
        self.stdin_fd: int | None = None
        self.master: int | None = None
        self.log = None
        self.execs: dict[str, dict] = {}     # id -> {pid, fds, stream, ...}
        # What every exec needs (spec, seccomp BPF, namespaces): worked out at the
        # first exec, kept for the container's life (its init never changes)
        self.exec_target = None

    @property
    def rt(self):
        """The runtime, made at first use: the set-up child's own, and the shim's
        only when an exec or the exit needs it."""
        if self._rt is None:
            self._rt = open_runtime(self.o.runtime, self.o.runtime_root)
        return self._rt

    # -- set-up --------------------------------------------------------------------
    def run(self) -> None:
        """Make the container in a set-up child, then keep it.

        The set-up (the runtime's create and start, the hold for the daemon's
        network, the attach wait) runs in a child that hands this process what
        the loop needs (the output fds, the socket, early clients) and exits:
        what it allocated, and every page of the fork server's heap it touched,
        goes with it. This long-lived process runs only its own few steps and
        the loop (an idle container's PSS, bench/engine.py: 2.5 -> 1.9 MiB). It
        is the child subreaper: the container's init, the set-up child's child,
        is re-parented to it when the set-up child exits."""
        os.chdir("/")
        devnull = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(devnull, fd)
        os.close(devnull)
        keep = {self.report.fileno()}
        for fd in _open_fds():
            if fd > 2 and fd not in keep:
                try:
                    os.close(fd)
                except OSError:
                    pass
        # The daemon's handlers (asyncio's) mean nothing here.
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGUSR1, signal.SIGUSR2):
            signal.signal(sig, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        syscalls.set_child_subreaper()
        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        if os.fork() == 0:  # the loop reaps it
            ours.close()
            try:
                self._set_up(theirs)
            except BaseException as err:  # noqa: BLE001 - reported to the daemon
                _failed(self.o, self.report, err)
            os._exit(0)
        theirs.close()
        self.report.close()  # the set-up child's now: its death is the daemon's EOF
        msg, fds, _, _ = socket.recv_fds(ours, 1 << 20, 250)
        if not msg:  # the set-up failed (and said so) or died
            ours.close()
            for fd in fds:
                os.close(fd)
            return
        self._adopt(json.loads(msg), fds, wake_r)
        # its verdict on the start comes on the same channel: the loop waits for it
        self.sel.register(ours, selectors.EVENT_READ, ("setup", None))
        self._loop()

    def _set_up(self, chan: socket.socket) -> None:
        """In the set-up child: create the container, hand the loop's fds to the
        shim (our parent), start the container, say "started" (to the shim, then
        to the daemon)."""
        self.sel = selectors.DefaultSelector()
        log_fd = None
        if self.o.log_path:  # opened here, so that a log that cannot be is a failed start
            log_fd = os.open(self.o.log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                             | os.O_CLOEXEC, 0o600)
        self._create()
        handed_over = False
        try:
            srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            tmp = self.o.socket_path + ".tmp"
            for stale in (tmp, self.o.socket_path):
                try:
                    os.unlink(stale)
                except FileNotFoundError:
                    pass
            with unix_path(tmp) as p:
                srv.bind(p)  # under umask 077: nobody else could connect meanwhile
                os.chmod(p, 0o600)
            srv.listen(16)
            # The path appears only once we listen: a client that sees it
            # never gets ECONNREFUSED.
            os.rename(tmp, self.o.socket_path)
            srv.setblocking(False)
            self.sel.register(srv, selectors.EVENT_READ, ("listen", None))
            if self.o.hold:
                from dockling.runtime import sync

                sync.send(self.report, "created")
                sync.expect(self.report, "go", "the daemon")
            self._await_attachers(srv)
            # The shim takes over before the start: it is in its loop when the
            # program runs, and reaps a short one as soon as this child is gone.
            self._hand_over(chan, srv, log_fd)
            handed_over = True
            self.rt.start(self.o.cid)
        except BaseException:
            # Created but never started: leave nothing running or mounted, and the
            # shim goes without an exit to record (before the hand-over, this
            # child's exit is its word: it waits for the hand-over message only).
            if handed_over:
                with contextlib.suppress(OSError):
                    chan.send(b"abort")
            self.rt.delete(self.o.cid, force=True)
            raise
        shim_pid = os.getppid()
        with open(os.path.join(self.o.state_dir, "shim.pid"), "w") as f:
            f.write(str(shim_pid))
        from dockling.runtime import sync

        chan.send(b"started")
        try:
            sync.send(self.report, "started", Pid=self.init_pid, ShimPid=shim_pid)
        except OSError:  # the daemon died meanwhile: its successor settles the record
            pass

    def _hand_over(self, chan: socket.socket, srv: socket.socket, log_fd: int | None) -> None:
        """One message to the shim: what the loop needs, as indexes into the fds."""
        fds: list[int] = []

        def at(fd: int | None) -> int | None:
            if fd is None:
                return None
            if fd not in fds:
                fds.append(fd)
            return fds.index(fd)

        doc = {"init_pid": self.init_pid, "srv": at(srv.fileno()), "log": at(log_fd),
               "outputs": [[at(fd), stream] for fd, stream in self.outputs.items()],
               "stdin": at(self.stdin_fd), "master": at(self.master),
               "clients": [[at(c.conn.fileno()), c.req] for c in self.clients],
               "pending": [[at(conn.fileno()), req] for conn, req in self.pending]}
        socket.send_fds(chan, [json.dumps(doc).encode()], fds)

    def _adopt(self, doc: dict, fds: list[int], wake_r: int) -> None:
        """In the shim: take over what the set-up child handed over."""
        self.sel = selectors.DefaultSelector()
        self.sel.register(wake_r, selectors.EVENT_READ, ("wake", None))
        self.init_pid = doc["init_pid"]
        if doc["log"] is not None:
            self.log = open(fds[doc["log"]], "ab", buffering=0)  # noqa: SIM115
        for i, stream in doc["outputs"]:
            self.outputs[fds[i]] = stream
            self.sel.register(fds[i], selectors.EVENT_READ, ("out", None))
        self.stdin_fd = None if doc["stdin"] is None else fds[doc["stdin"]]
        self.master = None if doc["master"] is None else fds[doc["master"]]
        srv = socket.socket(fileno=fds[doc["srv"]])
        srv.setblocking(False)
        self.sel.register(srv, selectors.EVENT_READ, ("listen", None))
        for i, req in doc["clients"]:
            s = _Stream(socket.socket(fileno=fds[i]), "attach", req)
            self.clients.append(s)
            self.sel.register(s.conn, selectors.EVENT_READ, ("client", s))
        for i, req in doc["pending"]:
            self._handle(socket.socket(fileno=fds[i]), req)

    def _create(self) -> None:
        o = self.o
        if o.tty:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            init_pid = self._runtime_create(console_sock=theirs)
            self.master = console.recv_master(ours)
            ours.close()
            os.set_blocking(self.master, False)
            self.outputs[self.master] = STDOUT
            if o.open_stdin:
                self.stdin_fd = self.master
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            if o.open_stdin:
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
            else:
                in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), None
            init_pid = self._runtime_create(stdio=(in_r, out_w, err_w))
            for fd in (in_r, out_w, err_w):
                os.close(fd)
            for fd, stream in ((out_r, STDOUT), (err_r, STDERR)):
                os.set_blocking(fd, False)
                self.outputs[fd] = stream
            self.stdin_fd = in_w
        self.init_pid = init_pid
        for fd in self.outputs:
            self.sel.register(fd, selectors.EVENT_READ, ("out", None))
        if o.new_netns:
            _loopback_up(init_pid)

    def _runtime_create(self, **kw) -> int:
        """The runtime's create, here in the set-up child; the container init's pid."""
        # The runtime makes mount points, devices and cgroups inside the container
        # with the modes runc gets under containerd's shim (umask 022), not the
        # shim's 077: /data of -v must not be 0700.
        old = os.umask(0o022)
        try:
            if not self.o.trace:
                return self.rt.create(self.o.cid, self.o.bundle, **kw).pid
            from dockling import kernel  # the calls, and those of the processes it forks
            from dockling.kernel import record

            with kernel.using(record.Recorder(
                    os.path.join(self.o.bundle, record.TRACE_FILE), "runtime")) as rec:
                try:
                    return self.rt.create(self.o.cid, self.o.bundle, **kw).pid
                finally:
                    rec.close()
        finally:
            os.umask(old)

    def _in_child(self, make) -> int:
        """``make()`` (a CLI runtime's exec: it returns the pid of the process it
        started) in a child that exits right after: what it allocates dies with that
        child instead of staying in this long-lived shim, which adopts the new
        process as subreaper."""
        from dockling.runtime import sync

        r, w = sync.pair()
        pid = os.fork()
        if pid == 0:
            try:
                r.close()
                os.umask(0o022)  # as in _runtime_create
                sync.send(w, "created", pid=make())
            except BaseException as err:  # noqa: BLE001 - reported to the shim
                sync.send_error(w, err)
            os._exit(0)
        w.close()
        try:
            msg = sync.recv(r)
        finally:
            r.close()
            os.waitpid(pid, 0)
        if msg is None:
            from dockling.errors import InternalError

            raise InternalError("the runtime died before starting the process")
        if msg["type"] == "error":
            sync.raise_error(msg)
        return msg["pid"]

    def _await_attachers(self, srv: socket.socket) -> None:
        import time

        # Bounded: an attach whose client went away before start must not
        # hold the container for long (the daemon cannot tell it apart).
        deadline = time.monotonic() + 3
        while self.o.wait_attach > len(self.clients) and time.monotonic() < deadline:
            for key, _ in self.sel.select(timeout=0.05):
                if key.data[0] == "listen":
                    self._accept(srv, setting_up=True)

    # -- the loop ------------------------------------------------------------------
    def _loop(self) -> None:
        while True:
            for key, _ in self.sel.select(timeout=1.0):
                # An earlier event of this batch may have closed this fd.
                if self.sel.get_map().get(key.fd) is not key:
                    continue
                kind, data = key.data
                if kind == "wake":
                    try:
                        os.read(key.fd, 512)
                    except BlockingIOError:
                        pass
                elif kind == "listen":
                    self._accept(key.fileobj)
                elif kind == "out":
                    self._container_output(key.fd)
                elif kind == "client":
                    self._client_input(data)
                elif kind == "exec-out":
                    self._exec_output(key.fd, data)
                elif kind == "setup" and not self._setup_verdict(key.fileobj):
                    return  # the start failed: the set-up child deleted the container
            self._reap()
            if self.exit is not None and not self.outputs and not self.execs:
                self._finish()
                return

    def _setup_verdict(self, chan: socket.socket) -> bool:
        """The set-up child's word on the start: False if it failed (or the child
        died before it said "started"), True once it started the container."""
        try:
            word = chan.recv(16)
        except OSError:
            word = b""
        self.sel.unregister(chan)
        chan.close()
        return word == b"started"

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            code = 128 + os.WTERMSIG(status) if os.WIFSIGNALED(status) else \
                os.WEXITSTATUS(status)
            if pid == self.init_pid and self.exit is None:
                self.exit = {"ExitCode": code, "FinishedAt": clock.now(),
                             "OOMKilled": self._oom_killed()}
            for ex in list(self.execs.values()):
                if ex["pid"] == pid:
                    ex["code"] = code
                    self._maybe_end_exec(ex)

    def _oom_killed(self) -> bool:
        try:
            # the built-in runtime's (a CLI runtime has none: no OOM flag)
            d = getattr(self.rt.cgroup(self.o.cid), "dir", None)
            path = d("memory") if callable(d) else (d or "")
            name = "memory.oom_control" if callable(d) else "memory.events"
            with open(os.path.join(path, name)) as f:
                for line in f:
                    k, _, v = line.partition(" ")
                    if k == "oom_kill" and int(v) > 0:
                        return True
        except (OSError, ValueError, Exception):  # noqa: BLE001 - best effort
            return False
        return False

    def _finish(self) -> None:
        write_json_atomic(self.o.exit_path, self.exit)
        for w in self.waiters:
            _send_line(w, self.exit)
            w.close()
        for c in self.clients:
            try:
                c.conn.close()
            except OSError:
                pass
        try:
            self.rt.delete(self.o.cid, force=True)
        except Exception:  # noqa: BLE001 - the daemon reconciles leftovers
            pass
        try:
            os.unlink(self.o.socket_path)
        except FileNotFoundError:
            pass

    # -- container output --------------------------------------------------------------
    def _container_output(self, fd: int) -> bool:
        """Read what ``fd`` has (once): log it, send it to attached clients; False
        when nothing was there or the stream ended."""
        stream = self.outputs[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""  # EIO: the pty's last holder is gone
        if not data:
            self.sel.unregister(fd)
            del self.outputs[fd]
            os.close(fd)
            if fd == self.stdin_fd:
                self.stdin_fd = None
            if not self.outputs:
                for c in [c for c in self.clients if c.kind == "attach"]:
                    self._drop(c)
            return False
        self._log(stream, data)
        for c in self.clients:
            if c.kind == "attach" and c.req.get("stdout" if stream == STDOUT else "stderr"):
                # raw for a tty, and for a client that asked ("frame": false: attach/ws)
                raw = self.o.tty or c.req.get("frame") is False
                self._send(c, data if raw else frame(stream, data))
        return True

    def _flush(self) -> None:
        """Log what the program wrote and this loop has not read yet: the daemon asks
        before it reads the log (`logs` right after `start` sees the output already
        written). Bounded (1 MiB a stream): a program that writes on and on cannot
        keep the loop here."""
        for fd in list(self.outputs):
            for _ in range(16):
                if fd not in self.outputs or not self._container_output(fd):
                    break

    def _log(self, stream: int, data: bytes) -> None:
        if self.log is None:
            return
        name = "stdout" if stream == STDOUT else "stderr"
        t = clock.now()
        lines = data.splitlines(keepends=True)
        entries = [json.dumps({"log": line.decode("utf-8", "replace"), "stream": name,
                               "time": t}).encode() + b"\n" for line in lines]
        if self.o.log_max_size <= 0:
            self.log.write(b"".join(entries))
            return
        for entry in entries:  # docker rotates between messages
            if self.log.tell() and self.log.tell() + len(entry) > self.o.log_max_size:
                self._rotate_log()
            self.log.write(entry)

    def _rotate_log(self) -> None:
        """docker's json-file rotation: log -> log.1 -> ... -> log.(max-file - 1)."""
        path = self.o.log_path
        self.log.close()
        if self.o.log_max_files > 1:
            for i in range(self.o.log_max_files - 1, 1, -1):
                try:
                    os.rename(f"{path}.{i - 1}", f"{path}.{i}")
                except FileNotFoundError:
                    pass
            os.rename(path, f"{path}.1")
            self.log = open(path, "ab", buffering=0)  # noqa: SIM115
        else:
            self.log = open(path, "wb", buffering=0)  # noqa: SIM115

    # -- clients ------------------------------------------------------------------------
    def _accept(self, srv: socket.socket, setting_up: bool = False) -> None:
        try:
            conn, _ = srv.accept()
        except BlockingIOError:
            return
        conn.setblocking(True)
        conn.settimeout(5)
        try:
            line = _read_line(conn)
            req = json.loads(line)
        except (OSError, ValueError):
            conn.close()
            return
        conn.settimeout(None)
        if setting_up and req.get("op") != "attach":
            self.pending.append((conn, req))  # the shim answers it, once it has the loop
            return
        self._handle(conn, req)

    def _handle(self, conn: socket.socket, req: dict) -> None:
        op = req.get("op")
        if op == "wait":
            if self.exit is not None and not self.outputs:
                _send_line(conn, self.exit)
                conn.close()
            else:
                self.waiters.append(conn)
        elif op == "attach":
            _send_line(conn, {"ok": True})
            s = _Stream(conn, "attach", req)
            self.clients.append(s)
            self.sel.register(conn, selectors.EVENT_READ, ("client", s))
        elif op == "exec":
            self._start_exec(conn, req)
        elif op == "flush":
            self._flush()
            _send_line(conn, {"ok": True})
            conn.close()
        elif op == "resize":
            target = self.master
            if req.get("exec"):
                target = self.execs.get(req["exec"], {}).get("master")
            if target is not None:
                try:
                    console.set_size(target, int(req["height"]), int(req["width"]))
                except OSError:
                    pass
            _send_line(conn, {"ok": True})
            conn.close()
        else:
            _send_line(conn, {"error": f"unknown op {op!r}"})
            conn.close()

    def _client_input(self, s: _Stream) -> None:
        try:
            data = s.conn.recv(65536)
        except OSError:
            data = b""
        target = self.stdin_fd if s.kind == "attach" else self.execs.get(s.exec_id, {}).get(
            "stdin")
        if not data:
            self.sel.unregister(s.conn)
            if s.kind == "attach":
                if self.o.stdin_once and target is not None and target != self.master:
                    os.close(target)
                    self.stdin_fd = None
                # the client may still read output after closing its write side
            elif target is not None and s.req.get("tty") is not True:
                os.close(target)
                self.execs[s.exec_id]["stdin"] = None
            return
        if target is not None and s.req.get("stdin", True):
            try:
                os.write(target, data)
            except OSError:
                pass

    def _send(self, s: _Stream, payload: bytes) -> None:
        try:
            s.conn.sendall(payload)
        except OSError:
            self._drop(s)

    def _drop(self, s: _Stream) -> None:
        if s in self.clients:
            self.clients.remove(s)
        try:
            self.sel.unregister(s.conn)
        except (KeyError, ValueError):
            pass
        try:
            s.conn.close()
        except OSError:
            pass

    # -- exec ------------------------------------------------------------------------------
    def _start_exec(self, conn: socket.socket, req: dict) -> None:
        s = _Stream(conn, "exec", req)
        try:
            proc = spec.decode_process(json.dumps(req["process"]).encode(), "exec")
            # docker frames the output unless the *start* asked for a TTY: a TTY exec
            # started with Tty false gets the pty's bytes as stdout frames
            ex: dict = {"stream": s, "outputs": {}, "stdin": None, "master": None, "pid": 0,
                        "code": None, "frame": bool(req.get("frame", not proc.terminal))}
            if proc.terminal:
                ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
                pid = self._exec(proc, console_sock=theirs)
                master = console.recv_master(ours)
                ours.close()
                os.set_blocking(master, False)
                ex.update(master=master, stdin=master if req.get("stdin") else None)
                ex["outputs"][master] = STDOUT
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                if req.get("stdin"):
                    in_r, in_w = os.pipe2(os.O_CLOEXEC)
                else:
                    in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), None
                pid = self._exec(proc, stdio=(in_r, out_w, err_w))
                for fd in (in_r, out_w, err_w):
                    os.close(fd)
                ex["stdin"] = in_w
                for fd, st in ((out_r, STDOUT), (err_r, STDERR)):
                    os.set_blocking(fd, False)
                    ex["outputs"][fd] = st
            ex["pid"] = pid
        except Exception as err:  # noqa: BLE001 - reported to the caller
            code = getattr(err, "code", 126)
            _send_line(conn, {"error": str(err), "ExitCode": code})
            conn.close()
            self._record_exec(req.get("id"), code, str(err))
            return
        _send_line(conn, {"ok": True, "Pid": pid})
        self.execs[req["id"]] = ex
        for fd in ex["outputs"]:
            self.sel.register(fd, selectors.EVENT_READ, ("exec-out", req["id"]))
        self.sel.register(conn, selectors.EVENT_READ, ("client", s))

    def _exec(self, proc, **kw) -> int:
        """The runtime's exec of ``proc``; its pid (this shim reaps it).

        The built-in runtime runs here, from the kept exec target: its per-exec
        work is two forks and a few small messages, which leave nothing behind
        (1,000 execs: no growth beyond the first's). Another runtime's exec (a CLI:
        a subprocess and its pipes) keeps running in a short-lived child."""
        if not hasattr(self.rt, "exec_target"):
            return self._in_child(lambda: self.rt.exec(self.o.cid, proc, **kw))
        if self.exec_target is None:
            self.exec_target = self.rt.exec_target(self.o.cid)
        # as in _in_child: mount points and files the exec makes get runc's modes
        old = os.umask(0o022)
        try:
            return self.rt.exec(self.o.cid, proc, target=self.exec_target, **kw)
        finally:
            os.umask(old)

    def _exec_output(self, fd: int, exec_id: str) -> None:
        ex = self.execs.get(exec_id)
        if ex is None:
            return
        stream = ex["outputs"][fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.sel.unregister(fd)
            del ex["outputs"][fd]
            if fd != ex["master"]:
                os.close(fd)
            self._maybe_end_exec(ex)
            return
        payload = frame(stream, data) if ex["frame"] else data
        try:
            ex["stream"].conn.sendall(payload)
        except OSError:
            pass

    def _maybe_end_exec(self, ex: dict) -> None:
        if ex["code"] is None or ex["outputs"]:
            return
        s = ex["stream"]
        self._record_exec(s.exec_id, ex["code"], "")
        try:
            self.sel.unregister(s.conn)
        except (KeyError, ValueError):
            pass
        s.conn.close()
        if ex["master"] is not None:
            os.close(ex["master"])
        elif ex["stdin"] is not None:
            os.close(ex["stdin"])
        self.execs.pop(s.exec_id, None)

    def _record_exec(self, exec_id: str | None, code: int, error: str) -> None:
        if exec_id:
            write_json_atomic(os.path.join(self.o.state_dir, f"exec-{exec_id}.json"),
                              {"ExitCode": code, "Error": error})


@contextlib.contextmanager
def unix_path(path: str):
    """A unix socket path short enough for sun_path (108 bytes).

    Deep state dirs (tests, custom --exec-root) overflow it; going through
    /proc/self/fd/N of the directory keeps the socket a real file with its
    permissions, unlike an abstract socket any host-network container
    could reach.
    """
    if len(path.encode()) < 100:
        yield path
        return
    fd = os.open(os.path.dirname(path), os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield f"/proc/self/fd/{fd}/{os.path.basename(path)}"
    finally:
        os.close(fd)


def _open_fds() -> list[int]:
    try:
        return [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 1024))


def _read_line(conn: socket.socket) -> bytes:
    """The request line, and not a byte more: what follows (an exec's stdin) is
    the stream's. Peeked in blocks (an exec's process is kilobytes: a recv per
    byte was thousands of calls), then taken up to the newline."""
    buf = b""
    while True:
        chunk = conn.recv(65536, socket.MSG_PEEK)
        if not chunk:
            return buf
        end = chunk.find(b"\n")
        if end >= 0:
            return buf + conn.recv(end + 1)
        buf += conn.recv(len(chunk))
        if len(buf) > 1 << 20:
            raise ValueError("request line too long")


def _send_line(conn: socket.socket, doc: dict) -> None:
    try:
        conn.sendall(json.dumps(doc).encode() + b"\n")
    except OSError:
        pass


_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1


def _loopback_up(pid: int) -> None:
    """Bring lo up inside the container's new network namespace (docker does)."""
    child = os.fork()
    if child == 0:
        try:
            import fcntl

            fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY)
            syscalls.setns(fd, syscalls.CLONE_NEWNET)
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            ifr = struct.pack("16sH14x", b"lo", 0)
            flags = struct.unpack("16sH14x", fcntl.ioctl(s, _SIOCGIFFLAGS, ifr))[1]
            fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | _IFF_UP))
            os._exit(0)
        except BaseException:  # noqa: BLE001
            os._exit(1)
    while True:
        try:
            os.waitpid(child, 0)
            return
        except InterruptedError:
            continue
        except ChildProcessError:
            return

