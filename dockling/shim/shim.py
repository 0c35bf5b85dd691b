"""A container's shim: parent of the container, keeper of its I/O and exit.

A shim process (group.py) keeps several containers, one ``_Shim`` each; the
fork server forks it, it detaches into its own session, so containers outlive
the daemon and the CLI. For each container it:

- has the container created and started through the runtime library by a
  short-lived set-up child, as child subreaper, so PID 1 and every exec'd
  process are its children (see _Shim.begin);
- copies stdout/stderr (or the pty) into the json-file log and to attached
  clients, and client input to the container's stdin;
- runs exec processes (each started by a short-lived child) and streams their
  I/O the same way;
- records the exit status in ``exit.json`` (atomically) before it tells
  waiters, and has the runtime state deleted.

Nothing a container does may hold up another: the loop never waits on an fd
(loop.py), a slow client stops its own container's output only, and whatever
may take long or touch a container's files (create, start, exec, delete) runs
in a child.

Each container's unix socket speaks one JSON line per connection, then a stream:
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
from functools import partial

# json's C string encoder where there is one (json.dumps' own, with ensure_ascii)
from json.encoder import encode_basestring_ascii as _json_str

from dockling import clock
from dockling.formats.stdcopy import STDERR, STDOUT, frame
from dockling.kernel import syscalls
from dockling.runtime import console, spec, sync
from dockling.shim.loop import Loop, Outbox

# What one read of a program's output takes: the loop's turn for one container is
# bounded by it (logging 16 KiB of empty lines: ~6 ms here), so its neighbours wait
# no longer than that.
READ_SIZE = 16384


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
                 hold: bool = False, alone: bool = False) -> None:
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
        # A shim process of its own (spec.needs_own_shim), not the fork server's current.
        self.alone = alone

    @property
    def socket_path(self) -> str:
        return os.path.join(self.state_dir, "shim.sock")

    @property
    def exit_path(self) -> str:
        return os.path.join(self.state_dir, "exit.json")


def spawn(opts: Options, per_shim: int = 16):
    """Have the container's shim started (by the fork server, in the shim process
    it fills, of ``per_shim`` containers at most); return the socket on which it
    will say "started".

    The caller reads that message with ``started``: asynchronously in the
    daemon, so that attach requests can reach the shim meanwhile.
    """
    from dockling.shim import forkserver

    parent, child = sync.pair()
    try:
        forkserver.submit(vars(opts), child, per_shim)
    finally:
        child.close()
    return parent


def _failed(opts: Options, report, err: BaseException) -> None:
    """Leave a trace in shim.log; tell the daemon if it still listens."""
    log_trace(os.path.join(opts.state_dir, "shim.log"), err)
    if report.fileno() >= 0:
        sync.send_error(report, err)


def preload() -> None:
    """Import what a shim and the runtime run, so every shim shares it."""
    import importlib

    for mod in ("dockling.runtime.container", "dockling.runtime.oci_cli",
                "dockling.runtime.seccomp", "dockling.runtime.console",
                "dockling.runtime.cgroups.v1", "dockling.runtime.cgroups.v2",
                "dockling.runtime.sync", "dockling.shim.group", "traceback", "fcntl",
                "time", "resource",
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

    if msg is None:
        raise InternalError(f"shim for {cid} exited before starting the container")
    if msg["type"] == "error":
        sync.raise_error(msg)
    return msg


def release(sock, go: bool) -> None:
    """Tell a holding shim to start the container (``go``) or to delete it."""
    sync.send(sock, "go" if go else "abort")


class _Stream:
    """One client connection: attach, exec or wait. ``out`` (in the shim's loop):
    what is sent to it, and waits there while the client is slow."""

    def __init__(self, conn: socket.socket, kind: str, req: dict) -> None:
        self.conn = conn
        self.kind = kind
        self.req = req
        self.exec_id = req.get("id")
        self.out: Outbox | None = None
        self.reading = True  # its input (stdin) has not ended


class _Exec:
    """An exec'd process: its output fds, its stdin, its stream, its exit."""

    def __init__(self, stream: _Stream, framed: bool) -> None:
        self.stream = stream
        self.frame = framed
        self.outputs: dict[int, int] = {}  # fd -> stream
        self.stdin_fd: int | None = None
        self.stdin: Outbox | None = None
        self.master: int | None = None
        self.pid = 0
        self.code: int | None = None
        self.paused = False
        self.chan: socket.socket | None = None  # its start's reports, until it runs
        self.console: socket.socket | None = None  # where a tty's master comes


class _Shim:
    """One container, in the set-up child (``_set_up``) and then in the shim
    process's loop (everything from ``_adopt`` on)."""

    FAILURES = 20  # handler errors (bugs) before its I/O is given up

    def __init__(self, opts: Options, report, group=None) -> None:
        self.o = opts
        self.report = report
        self.group = group
        self.loop: Loop | None = group.loop if group is not None else None
        self._rt = None
        self.clients: list[_Stream] = []
        self.pending: list[tuple[socket.socket, dict]] = []  # requests the set-up left
        self.waiters: list[socket.socket] = []
        self.exit: dict | None = None
        self.init_pid = 0
        self.outputs: dict[int, int] = {}   # fd -> stream (container)
        self.stdin_fd: int | None = None
        self.stdin: Outbox | None = None
        self.master: int | None = None
        self.log = None
        self.srv: socket.socket | None = None
        self.chan: socket.socket | None = None  # to the set-up child, until its verdict
        self.execs: dict[str, _Exec] = {}
        # What every exec needs (spec, seccomp BPF, namespaces): worked out at the
        # first exec, kept for the container's life (its init never changes)
        self.exec_target = None
        self.paused = False  # its output is not read: an attached client is behind
        self.finishing = False  # the runtime's state is being deleted (_finish)
        self.gone = False
        self.failures = 0

    @property
    def rt(self):
        """The runtime, made at first use (one per shim process and runtime)."""
        if self._rt is None:
            if self.group is not None:
                self._rt = self.group.runtime(self.o.runtime, self.o.runtime_root)
            else:
                from dockling.runtime import open_runtime

                self._rt = open_runtime(self.o.runtime, self.o.runtime_root)
        return self._rt

    def failed(self, err: BaseException) -> None:
        """A handler of this container raised (a bug): the trace goes to its
        shim.log. Past FAILURES its I/O is given up, so that a handler failing on
        every event cannot spin the loop; its wait connections close and the
        daemon counts the shim as lost for this container alone."""
        log_trace(os.path.join(self.o.state_dir, "shim.log"), err)
        self.failures += 1
        if self.failures > self.FAILURES and not self.gone:
            self._close_all()

    # -- in the shim process: the set-up child --------------------------------------
    def begin(self) -> None:
        """Fork the set-up child, which makes the container and hands this process
        what the loop needs (the output fds, the socket, early clients).

        The set-up (the runtime's create and start, the hold for the daemon's
        network, the attach wait) runs in a child so that it never holds up the
        other containers of this process, and so that what it allocates, and
        every page of the process's heap it touches, goes with it (an idle
        container's PSS, bench/engine.py). This process is the child subreaper:
        the container's init, forked by the runtime's stage 1 in the set-up child,
        is re-parented to it when stage 1 exits (during the create)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

        def set_up() -> None:
            ours.detach()  # closed by the fork, with the other fds it does not keep
            try:
                self._set_up(theirs)
            except BaseException as err:  # noqa: BLE001 - reported to the daemon
                _failed(self.o, self.report, err)

        try:
            self.group.fork(set_up, keep=(theirs.fileno(), self.report.fileno()))
        except OSError as err:
            ours.close()
            _failed(self.o, self.report, err)
            raise
        finally:
            theirs.close()
            self.report.close()  # the set-up child's now: its death is the daemon's EOF
        self.chan = ours
        self.loop.add_reader(ours.fileno(), self._handed_over, self)

    def _handed_over(self) -> None:
        msg, fds = recv_fds(self.chan, 1 << 20, 250)
        if not msg:  # the set-up failed (and said so) or died
            for fd in fds:
                os.close(fd)
            self._close_all()
            return
        self._adopt(json.loads(msg), fds)
        # its verdict on the start comes on the same channel
        self.loop.add_reader(self.chan.fileno(), self._verdict, self)

    def _verdict(self) -> None:
        """The set-up child's word on the start: "started", or else it deleted the
        container (it failed, or died before it said so)."""
        try:
            word = self.chan.recv(16)
        except OSError:
            word = b""
        self._close_chan()
        if word != b"started":
            self._close_all()
        else:  # a short program may have ended already: see _maybe_finish
            self._maybe_finish()

    def _close_chan(self) -> None:
        if self.chan is not None:
            self.loop.forget(self.chan.fileno())
            self.chan.close()
            self.chan = None

    # -- in the set-up child ----------------------------------------------------------
    def _set_up(self, chan: socket.socket) -> None:
        """Create the container, hand the loop's fds to the shim (our parent),
        start the container, say "started" (to the shim, then to the daemon)."""
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
            if self.o.hold:
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
            # shim drops the container (before the hand-over, this child's exit is
            # its word: it waits for the hand-over message only).
            if handed_over:
                with contextlib.suppress(OSError):
                    chan.send(b"abort")
            self.rt.delete(self.o.cid, force=True)
            raise
        shim_pid = os.getppid()
        with open(os.path.join(self.o.state_dir, "shim.pid"), "w") as f:
            f.write(str(shim_pid))
        with contextlib.suppress(OSError):  # a killed shim process: the daemon sees it lost
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

    def _create(self) -> None:
        o = self.o
        if o.tty:
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            init_pid = self._runtime_create(console_sock=theirs)
            self.master = console.recv_master(ours)
            ours.close()
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
            self.outputs[out_r] = STDOUT
            self.outputs[err_r] = STDERR
            self.stdin_fd = in_w
        self.init_pid = init_pid
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

    def _await_attachers(self, srv: socket.socket) -> None:
        """Clients that attached before the start: their stream must see the first
        byte. Other requests meanwhile are the shim's to answer, once it has the loop."""
        import time

        # Bounded: an attach whose client went away before start must not
        # hold the container for long (the daemon cannot tell it apart).
        deadline = time.monotonic() + 3
        sel = selectors.DefaultSelector()
        sel.register(srv, selectors.EVENT_READ)
        while self.o.wait_attach > len(self.clients) and time.monotonic() < deadline:
            if not sel.select(timeout=0.05):
                continue
            conn, _ = srv.accept()
            conn.settimeout(5)
            try:
                req = json.loads(_read_line(conn))
            except (OSError, ValueError):
                conn.close()
                continue
            conn.settimeout(None)
            if req.get("op") == "attach":
                _send_line(conn, {"ok": True})
                self.clients.append(_Stream(conn, "attach", req))
            else:
                self.pending.append((conn, req))
        sel.close()

    # -- in the shim process: taking over ----------------------------------------------
    def _adopt(self, doc: dict, fds: list[int]) -> None:
        """Take over what the set-up child handed over."""
        self.init_pid = doc["init_pid"]
        self.group.claim(self.init_pid, self)
        if doc["log"] is not None:
            self.log = open(fds[doc["log"]], "ab", buffering=0)  # noqa: SIM115
        for i, stream in doc["outputs"]:
            os.set_blocking(fds[i], False)
            self.outputs[fds[i]] = stream
        self.master = None if doc["master"] is None else fds[doc["master"]]
        if doc["stdin"] is not None:
            self.stdin_fd = fds[doc["stdin"]]
            os.set_blocking(self.stdin_fd, False)
            self.stdin = Outbox(self.loop, self.stdin_fd, self, on_room=self._stdin_room)
        self.srv = socket.socket(fileno=fds[doc["srv"]])
        self.srv.setblocking(False)
        self.loop.add_reader(self.srv.fileno(), self._accept, self)
        self._read_outputs(self.outputs, self._container_output)
        for i, req in doc["clients"]:
            self._attach(socket.socket(fileno=fds[i]), req, reply=False)
        for i, req in doc["pending"]:
            conn = socket.socket(fileno=fds[i])
            conn.setblocking(False)
            self._handle(conn, req)

    # -- exits ------------------------------------------------------------------------
    def reaped(self, pid: int, code: int) -> None:
        """The group reaped one of ours: the init or an exec'd process."""
        if self.gone:
            return
        if pid == self.init_pid and self.exit is None:
            self.exit = {"ExitCode": code, "FinishedAt": clock.now(),
                         "OOMKilled": self._oom_killed()}
        for ex in list(self.execs.values()):
            if ex.pid == pid:
                ex.code = code
                self._maybe_end_exec(ex)
        self._maybe_finish()

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

    def _maybe_finish(self) -> None:
        # Not before the set-up child's word: the init is ours (re-parented when
        # stage 1 exits) and a short program ends before that child says "started"
        # on the channel that finishing would close.
        if (self.exit is not None and not self.outputs and not self.execs and not self.gone
                and self.chan is None and not self.finishing):
            self._finish()

    def _finish(self) -> None:
        """The program ended and its output is read: the runtime's state is deleted
        (in a child: a delete waits on the kernel, never on us), then the exit is
        published (_publish_exit). In that order, a start of the same container
        that follows the exit (a restart, `docker start` after `wait`) never meets
        the old state, nor has it deleted under it."""
        self.finishing = True
        rt, cid = self.rt, self.o.cid
        try:
            self.group.fork(lambda: rt.delete(cid, force=True), then=self._publish_exit)
        except OSError:
            self._publish_exit()

    def _publish_exit(self) -> None:
        """exit.json, then the socket goes, then the waiters hear; then leave."""
        exit_doc = self.exit
        try:
            write_json_atomic(self.o.exit_path, exit_doc)
        except OSError:  # the daemon removed the container's directory meanwhile
            pass
        # Then the socket: a daemon that cannot connect reads exit.json instead.
        # And before any waiter hears: after that a restart may bind a new socket
        # at the same path, which a later unlink would take away.
        self._close_listener()
        for w in self.waiters:
            _send_line(w, exit_doc)
        self.waiters = []  # _close_all closes them
        self._close_all()

    def _close_listener(self, unlink: bool = True) -> None:
        """Stop serving the container's socket; ``unlink``: its file goes too."""
        if self.srv is None:
            return
        self.loop.forget(self.srv.fileno())
        self.srv.close()
        self.srv = None
        if unlink:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.o.socket_path)

    def _close_all(self) -> None:
        """Close what this container has here and leave the group: attached clients
        get what is already queued for them first."""
        self.gone = True
        self._close_chan()
        self._close_listener(unlink=False)  # given up, not finished: the file stays
        for w in self.waiters:
            w.close()
        self.waiters = []
        for ex in list(self.execs.values()):
            if ex.pid and ex.code is None:  # nobody is left to stream it or record it
                with contextlib.suppress(OSError):
                    os.kill(ex.pid, signal.SIGKILL)
                self.group.disown(ex.pid)
            self._end_exec_io(ex)
            self._finish_stream(ex.stream)
        self.execs = {}
        fds = set(self.outputs) | {self.stdin_fd, self.master}
        self.outputs = {}
        for fd in fds - {None}:
            self.loop.forget(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        self.stdin_fd = self.master = self.stdin = None
        for c in list(self.clients):
            self._finish_stream(c)
        if self.log is not None:
            self.log.close()
            self.log = None
        self.group.leave(self)

    # -- container output --------------------------------------------------------------
    def _container_output(self, fd: int) -> bool:
        """Read what ``fd`` has (once): log it, send it to attached clients; False
        when nothing was there or the stream ended."""
        stream = self.outputs.get(fd)
        if stream is None:
            return False
        try:
            data = os.read(fd, READ_SIZE)
        except BlockingIOError:
            return False
        except OSError:
            data = b""  # EIO: the pty's last holder is gone
        if not data:
            self.loop.forget(fd)
            del self.outputs[fd]
            os.close(fd)
            # no number of a closed fd may stay: a later close or ioctl through it
            # would reach whatever fd of another container took the number
            if fd == self.stdin_fd:
                self.stdin_fd = self.stdin = None
            if fd == self.master:
                self.master = None
            if not self.outputs:
                for c in [c for c in self.clients if c.kind == "attach"]:
                    self._finish_stream(c)
                self._maybe_finish()
            return False
        self._log(stream, data)
        for c in list(self.clients):
            if c.kind == "attach" and c.req.get("stdout" if stream == STDOUT else "stderr"):
                # raw for a tty, and for a client that asked ("frame": false: attach/ws)
                raw = self.o.tty or c.req.get("frame") is False
                c.out.write(data if raw else frame(stream, data))
        self._room()
        return True

    def _room(self) -> None:
        """Read the container's output while every attached client keeps up; stop
        while one is a buffer behind (its writes then block, as under docker)."""
        paused = any(c.out.full for c in self.clients if c.kind == "attach")
        if paused == self.paused:
            return
        self.paused = paused
        self._read_outputs(self.outputs, self._container_output, not paused)

    def _read_outputs(self, outputs: dict[int, int], reader, on: bool = True) -> None:
        """Have the loop call ``reader(fd)`` when a program's output fd has bytes
        (``on``), or stop (a client is behind)."""
        for fd in outputs:
            if on:
                self.loop.add_reader(fd, partial(reader, fd), self)
            else:
                self.loop.remove_reader(fd)

    def _flush(self) -> None:
        """Log what the program wrote and this loop has not read yet: the daemon asks
        before it reads the log (`logs` right after `start` sees the output already
        written). Bounded (256 KiB a stream): a program that writes on and on cannot
        keep the loop here."""
        for fd in list(self.outputs):
            for _ in range(16):
                if fd not in self.outputs or not self._container_output(fd):
                    break

    def _log(self, stream: int, data: bytes) -> None:
        if self.log is None:
            return
        name = "stdout" if stream == STDOUT else "stderr"
        # json.dumps({"log": line, "stream": name, "time": now}) byte for byte, with
        # json's C string encoder alone: a tenth of the time per line, which a
        # program writing empty lines makes the shim process's whole work
        tail = f', "stream": "{name}", "time": "{clock.now()}"}}\n'.encode()
        entries = [b'{"log": ' + _json_str(line.decode("utf-8", "replace")).encode() + tail
                   for line in data.splitlines(keepends=True)]
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
    def _accept(self) -> None:
        try:
            conn, _ = self.srv.accept()
        except OSError:  # BlockingIOError: another event took it
            return
        conn.setblocking(False)
        buf = bytearray()
        self.loop.add_reader(conn.fileno(), partial(self._request, conn, buf), self)

    def _request(self, conn: socket.socket, buf: bytearray) -> None:
        """A request line, read as it comes (a client that stops half-way holds up
        nothing), then answered."""
        try:
            line = _line_step(conn, buf)
        except BlockingIOError:
            return
        except (OSError, ValueError):
            line = b""
        if line is None:
            return
        self.loop.forget(conn.fileno())
        try:
            req = json.loads(line)
        except ValueError:
            conn.close()
            return
        self._handle(conn, req)

    def _handle(self, conn: socket.socket, req: dict) -> None:
        op = req.get("op")
        if self.gone:  # given up while the request came in: the daemon sees it lost
            conn.close()
        elif op == "wait":  # answered when the exit is published
            self.waiters.append(conn)
        elif op == "attach":
            self._attach(conn, req)
        elif op == "exec":
            self._start_exec(conn, req)
        elif op == "flush":
            self._flush()
            _send_line(conn, {"ok": True})
            conn.close()
        elif op == "resize":
            target = self.master
            if req.get("exec"):
                ex = self.execs.get(req["exec"])
                target = ex.master if ex is not None else None
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

    def _stream(self, conn: socket.socket, kind: str, req: dict, on_room) -> _Stream:
        conn.setblocking(False)
        s = _Stream(conn, kind, req)
        s.out = Outbox(self.loop, conn.fileno(), self, on_room=on_room,
                       on_broken=lambda: self._drop(s))
        return s

    def _attach(self, conn: socket.socket, req: dict, reply: bool = True) -> None:
        if reply:
            _send_line(conn, {"ok": True})
        s = self._stream(conn, "attach", req, self._room)
        self.clients.append(s)
        self.loop.add_reader(conn.fileno(), partial(self._client_input, s), self)
        if not self.outputs:  # the program's output has ended: nothing will come
            self._finish_stream(s)

    def _client_input(self, s: _Stream) -> None:
        try:
            data = s.conn.recv(65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if s.kind == "attach":
            target = self.stdin
        else:
            ex = self.execs.get(s.exec_id)
            target = ex.stdin if ex is not None else None
        if not data:
            s.reading = False
            self.loop.remove_reader(s.conn.fileno())
            if s.kind == "attach":
                if self.o.stdin_once and target is not None and self.stdin_fd != self.master:
                    target.when_written(self._close_stdin)
                # the client may still read output after closing its write side
            elif target is not None and s.req.get("tty") is not True:
                target.when_written(partial(self._close_exec_stdin, self.execs[s.exec_id]))
            return
        if target is not None and s.req.get("stdin", True):
            target.write(data)
            if target.full:  # the program does not read it: stop reading the client
                self.loop.remove_reader(s.conn.fileno())

    def _stdin_room(self) -> None:
        for c in self.clients:
            if c.kind == "attach" and c.reading:
                self.loop.add_reader(c.conn.fileno(), partial(self._client_input, c), self)

    def _close_stdin(self) -> None:
        if self.stdin_fd is not None and self.stdin_fd != self.master:
            self.loop.forget(self.stdin_fd)
            os.close(self.stdin_fd)
        self.stdin_fd = self.stdin = None

    def _finish_stream(self, s: _Stream) -> None:
        """No more for this client: it gets what is queued, then its connection closes."""
        s.reading = False
        self.loop.remove_reader(s.conn.fileno())
        s.out.when_written(lambda: self._drop(s))

    def _drop(self, s: _Stream) -> None:
        if s in self.clients:
            self.clients.remove(s)
        self.loop.forget(s.conn.fileno())
        with contextlib.suppress(OSError):
            s.conn.close()
        if s.kind == "attach" and not self.gone:
            self._room()

    # -- exec ------------------------------------------------------------------------------
    def _start_exec(self, conn: socket.socket, req: dict) -> None:
        """Start an exec'd process; nothing of it may hold up the loop. The built-in
        runtime's stage 1 is forked here and the loop reads its two reports (the
        pid, then the program's start); a CLI runtime's exec, which waits, runs in
        a short-lived child whose answer the loop reads."""
        s = self._stream(conn, "exec", req, None)
        try:
            proc = spec.decode_process(json.dumps(req["process"]).encode(), "exec")
            target = self._exec_target()
        except Exception as err:  # noqa: BLE001 - reported to the caller
            self._exec_failed(s, err)
            return
        # docker frames the output unless the *start* asked for a TTY: a TTY exec
        # started with Tty false gets the pty's bytes as stdout frames
        ex = _Exec(s, bool(req.get("frame", not proc.terminal)))
        s.out.on_room = partial(self._exec_room, ex)
        console_sock = theirs = None
        child_fds: list[int] = []
        if proc.terminal:
            console_sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            kw: dict = {"console_sock": theirs}
        else:
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            err_r, err_w = os.pipe2(os.O_CLOEXEC)
            os.set_blocking(out_r, False)
            os.set_blocking(err_r, False)
            if req.get("stdin"):
                in_r, in_w = os.pipe2(os.O_CLOEXEC)
            else:
                in_r, in_w = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC), None
            kw = {"stdio": (in_r, out_w, err_w)}
            child_fds = [in_r, out_w, err_w]
            ex.outputs = {out_r: STDOUT, err_r: STDERR}
            ex.stdin_fd = in_w
        try:
            if hasattr(self.rt, "exec_begin"):
                # as in _runtime_create: what the exec makes gets runc's modes
                old = os.umask(0o022)
                try:
                    first, chan = self.rt.exec_begin(self.o.cid, proc, target=target, **kw)
                finally:
                    os.umask(old)
                self.group.helpers[first] = None
            else:
                chan = self._exec_in_child(proc, kw, child_fds)
        except Exception as err:  # noqa: BLE001 - reported to the caller
            if console_sock is not None:
                console_sock.close()
            self._exec_failed(s, err, ex)
            return
        finally:
            if theirs is not None:
                theirs.close()
            for fd in child_fds:
                os.close(fd)
        chan.setblocking(False)
        ex.chan, ex.console = chan, console_sock
        # counted from now: the container finishes after it, a give-up ends it
        self.execs[s.exec_id] = ex
        self.loop.add_reader(chan.fileno(), partial(self._exec_reported, ex), self)

    def _exec_target(self):
        """The kept exec target of the built-in runtime (None for a CLI runtime,
        whose exec works it out each time)."""
        if not hasattr(self.rt, "exec_target"):
            return None
        if self.exec_target is None:
            self.exec_target = self.rt.exec_target(self.o.cid)
        return self.exec_target

    def _exec_in_child(self, proc, kw: dict, fds: list[int]) -> socket.socket:
        """A CLI runtime's exec (a subprocess it waits for) in a short-lived child;
        the channel on which the child reports as stage 1 does (the pid, then its
        end; or the error)."""
        r, w = sync.pair()
        rt, cid = self.rt, self.o.cid

        def run() -> None:
            r.detach()  # closed by the fork, with the other fds it does not keep
            os.umask(0o022)  # as in _runtime_create
            try:
                sync.send(w, "pid", pid=rt.exec(cid, proc, **kw))
            except BaseException as err:  # noqa: BLE001 - reported to the shim
                sync.send_error(w, err)

        console_sock = kw.get("console_sock")
        keep = [w.fileno(), *fds, console_sock.fileno() if console_sock else None]
        try:
            self.group.fork(run, keep=keep)
        except BaseException:
            r.close()
            raise
        finally:
            w.close()
        return r

    def _exec_reported(self, ex: _Exec) -> None:
        """An exec's reports: the pid, then the channel's end once the program runs,
        or an error. Stage 1 sends them (Runtime.exec_begin), or the child that runs
        a CLI runtime's exec (_exec_in_child)."""
        try:
            msg = sync.recv(ex.chan)
        except BlockingIOError:
            return
        except OSError:
            msg = None
        if msg is not None and msg["type"] == "pid" and not ex.pid:
            ex.pid = msg["pid"]
            self.group.claim(ex.pid, self)  # ours from now: it may end at any time
            return
        self.loop.forget(ex.chan.fileno())
        ex.chan.close()
        ex.chan = None
        if msg is None and ex.pid:
            self._exec_running(ex)
        else:
            self._exec_not_started(ex, _runtime_error(msg))

    def _exec_not_started(self, ex: _Exec, err: Exception) -> None:
        if ex.pid and ex.code is None:  # as Runtime.exec does: nothing half-started stays
            with contextlib.suppress(OSError):
                os.kill(ex.pid, signal.SIGKILL)
            self.group.disown(ex.pid)
        ex.pid = 0
        self.execs.pop(ex.stream.exec_id, None)
        self._exec_failed(ex.stream, err, ex)
        self._maybe_finish()

    def _exec_running(self, ex: _Exec) -> None:
        """The program runs: stream its I/O, tell the client its pid."""
        console_sock, ex.console = ex.console, None
        try:
            if console_sock is not None:
                # sent before the program ran, so here already: never a wait
                console_sock.setblocking(False)
                ex.master = console.recv_master(console_sock)
                os.set_inheritable(ex.master, False)
                os.set_blocking(ex.master, False)
                ex.outputs[ex.master] = STDOUT
                if ex.stream.req.get("stdin"):
                    ex.stdin_fd = ex.master
        except Exception as err:  # noqa: BLE001 - reported to the caller
            self._exec_not_started(ex, err)
            return
        finally:
            if console_sock is not None:
                console_sock.close()
        s = ex.stream
        if ex.stdin_fd is not None:
            os.set_blocking(ex.stdin_fd, False)
            ex.stdin = Outbox(self.loop, ex.stdin_fd, self,
                              on_room=partial(self._exec_stdin_room, ex))
        s.out.write(json.dumps({"ok": True, "Pid": ex.pid}).encode() + b"\n")
        # its output is read (and dropped) even if the client went away meanwhile
        self._read_outputs(ex.outputs, partial(self._exec_output, ex))
        if not s.out.broken:
            self.loop.add_reader(s.conn.fileno(), partial(self._client_input, s), self)
        self._maybe_end_exec(ex)  # it may have ended already

    def _exec_failed(self, s: _Stream, err: BaseException, ex: _Exec | None = None) -> None:
        code = getattr(err, "code", 126)
        s.out.write(json.dumps({"error": str(err), "ExitCode": code}).encode() + b"\n")
        self._finish_stream(s)
        if ex is not None:
            self._end_exec_io(ex)
        self._record_exec(s.req.get("id"), code, str(err))

    def _end_exec_io(self, ex: _Exec) -> None:
        """Close what an exec has here (each fd once: the numbers are forgotten)."""
        for fd in {*ex.outputs, ex.stdin_fd, ex.master} - {None}:
            self.loop.forget(fd)
            with contextlib.suppress(OSError):
                os.close(fd)
        ex.outputs = {}
        ex.stdin_fd = ex.master = ex.stdin = None
        for sock in (ex.chan, ex.console):
            if sock is not None:
                self.loop.forget(sock.fileno())
                sock.close()
        ex.chan = ex.console = None

    def _exec_output(self, ex: _Exec, fd: int) -> None:
        stream = ex.outputs.get(fd)
        if stream is None:
            return
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self.loop.forget(fd)
            del ex.outputs[fd]
            if fd != ex.master:
                os.close(fd)
            self._maybe_end_exec(ex)
            return
        ex.stream.out.write(frame(stream, data) if ex.frame else data)
        self._exec_room(ex)

    def _exec_room(self, ex: _Exec) -> None:
        """As _room, for an exec and its one client."""
        paused = ex.stream.out.full
        if paused == ex.paused:
            return
        ex.paused = paused
        self._read_outputs(ex.outputs, partial(self._exec_output, ex), not paused)

    def _exec_stdin_room(self, ex: _Exec) -> None:
        s = ex.stream
        if s.reading:
            self.loop.add_reader(s.conn.fileno(), partial(self._client_input, s), self)

    def _close_exec_stdin(self, ex: _Exec) -> None:
        if ex.stdin_fd is not None and ex.stdin_fd != ex.master:
            self.loop.forget(ex.stdin_fd)
            os.close(ex.stdin_fd)
        ex.stdin_fd = ex.stdin = None

    def _maybe_end_exec(self, ex: _Exec) -> None:
        if (ex.code is None or ex.outputs or ex.chan is not None
                or self.execs.get(ex.stream.exec_id) is not ex):
            return
        s = ex.stream
        self._record_exec(s.exec_id, ex.code, "")
        self._finish_stream(s)
        self._end_exec_io(ex)
        del self.execs[s.exec_id]
        self._maybe_finish()

    def _record_exec(self, exec_id: str | None, code: int, error: str) -> None:
        if exec_id:
            try:
                write_json_atomic(os.path.join(self.o.state_dir, f"exec-{exec_id}.json"),
                                  {"ExitCode": code, "Error": error})
            except OSError:  # the container's directory is gone
                pass


def _runtime_error(msg: dict | None) -> Exception:
    """What a runtime's error message says, as the exception it was (or: it died)."""
    try:
        if msg is not None and msg["type"] == "error":
            sync.raise_error(msg)
        from dockling.errors import InternalError

        raise InternalError("the runtime died before starting the process")
    except Exception as err:  # noqa: BLE001 - returned
        return err


def log_trace(path: str, err: BaseException) -> None:
    """``err``'s traceback appended to the log at ``path`` (a container's shim.log,
    the shim processes' shims.log), if it can be written."""
    import traceback

    try:
        with open(path, "a") as f:
            traceback.print_exception(err, file=f)
    except OSError:
        pass


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


def recv_fds(sock: socket.socket, size: int, maxfds: int) -> tuple[bytes, list[int]]:
    """socket.recv_fds, close-on-exec: what a shim process receives must not pass to
    a container it forks next (3.11's recv_fds drops MSG_CMSG_CLOEXEC)."""
    msg, fds, _, _ = socket.recv_fds(sock, size, maxfds)
    for fd in fds:
        os.set_inheritable(fd, False)
    return msg, fds


def _read_line(conn: socket.socket) -> bytes:
    """The request line, blocking (the set-up child's early clients): see
    _line_step. What came before a hang-up, if the client hung up first."""
    buf = bytearray()
    while (line := _line_step(conn, buf)) is None:
        pass
    return line or bytes(buf)


def _line_step(conn: socket.socket, buf: bytearray) -> bytes | None:
    """One read towards the request line: the line once it is whole, None until
    then, b"" if the client hung up first. Not a byte more is taken: what follows
    (an exec's stdin) is the stream's. Peeked in blocks (an exec's process is
    kilobytes: a recv per byte was thousands of calls), then taken up to the
    newline. A non-blocking socket raises BlockingIOError when nothing is there."""
    chunk = conn.recv(65536, socket.MSG_PEEK)
    if not chunk:
        return b""
    end = chunk.find(b"\n")
    if end >= 0:
        buf += conn.recv(end + 1)
        return bytes(buf)
    buf += conn.recv(len(chunk))
    if len(buf) > 1 << 20:
        raise ValueError("request line too long")
    return None


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

