"""One shim process keeps several containers (group.py): what one of them
does, or a client of one of them, holds up no other. The containers here are
pipes: the shim's side of a container is its fds, handed over as the set-up
child hands them (shim._Shim._hand_over)."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

import pytest

from dockling.shim import shim
from dockling.shim.group import Group
from dockling.shim.loop import Outbox


class _Ctr:
    """A container as its shim sees it: output and stdin pipes, a log, a socket."""

    def __init__(self, tmp_path, grp: Group, tag: str, clients=(), init_pid: int = 1 << 22,
                 started: bool = True, tty: bool = False) -> None:
        d = tmp_path / tag
        d.mkdir()
        self.dir = d
        self.out_r, self.out_w = os.pipe()
        self.in_r, self.in_w = os.pipe()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(str(d / "shim.sock"))
        self.srv.listen(4)
        log = os.open(d / "log.json", os.O_WRONLY | os.O_CREAT, 0o600)
        opts = shim.Options(cid=tag, bundle=str(d), runtime_root=str(d), state_dir=str(d),
                            log_path=str(d / "log.json"), tty=False, open_stdin=True,
                            stdin_once=False, new_netns=False)
        setup = shim._Shim(opts, report=None)
        setup.init_pid = init_pid  # by default nobody's: this container never exits
        setup.outputs = {self.out_r: shim.STDOUT}
        setup.stdin_fd = self.in_w
        if tty:  # one fd for both ways, as a pty's master (a pipe here: read only)
            setup.master = setup.stdin_fd = self.out_r
        setup.clients = [shim._Stream(c, "attach", {"op": "attach", "stdout": True,
                                                    "stdin": True}) for c in clients]
        self.shim = shim._Shim(opts, report=None, group=grp)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        setup._hand_over(a, self.srv, log)
        self.shim.chan = b
        self.shim._handed_over()
        grp.shims.add(self.shim)
        for fd in (self.out_r, self.in_w, log):
            os.close(fd)
        self.srv.close()
        self.chan = a  # the set-up child's end
        if started:
            self.say_started()

    def say_started(self) -> None:
        self.chan.send(b"started")
        self.chan.close()
        os.set_blocking(self.out_w, False)

    def log_lines(self) -> list[str]:
        return [json.loads(x)["log"] for x in (self.dir / "log.json").read_bytes().splitlines()]

    def close(self) -> None:
        if not self.shim.gone:
            self.shim._close_all()
        for fd in (self.out_w, self.in_r):
            os.close(fd)


@pytest.fixture
def grp(tmp_path):
    g = Group(None, str(tmp_path / "shims.log"))
    yield g
    g.loop.sel.close()


def _spin(grp: Group, until, rounds: int = 200) -> bool:
    for _ in range(rounds):
        if until():
            return True
        grp.loop.run_once(0.01)
    return until()


def _fill(fd: int) -> int:
    """Write into a non-blocking fd until it takes no more; how much went in."""
    n = 0
    try:
        while True:
            n += os.write(fd, b"x" * 65536)
    except BlockingIOError:
        return n


def test_a_client_that_does_not_read_stops_its_own_container_only(tmp_path, grp):
    slow, slow_peer = socket.socketpair()
    a = _Ctr(tmp_path, grp, "a", clients=[slow])
    b = _Ctr(tmp_path, grp, "b")
    try:
        # a's program writes on and on; its one client reads nothing
        for _ in range(80):
            _fill(a.out_w)
            grp.loop.run_once(0)
        assert a.shim.paused and a.shim.clients[0].out.full
        assert _fill(a.out_w) == 0  # a's writes now block, as under docker
        os.write(b.out_w, b"b still logs\n")
        assert _spin(grp, lambda: b.log_lines() == ["b still logs\n"])
        # the client reads again: a goes on
        slow_peer.setblocking(False)
        assert _spin(grp, lambda: _read_all(slow_peer) == 0 and not a.shim.paused)
        assert _fill(a.out_w) > 0
    finally:
        a.close()
        b.close()
        slow_peer.close()


def _read_all(sock: socket.socket) -> int:
    """Read what is there; 0 once nothing is."""
    n = 0
    try:
        while chunk := sock.recv(1 << 20):
            n += len(chunk)
    except BlockingIOError:
        pass
    return n


def test_a_program_that_does_not_read_its_stdin_holds_up_nobody(tmp_path, grp):
    client, peer = socket.socketpair()
    a = _Ctr(tmp_path, grp, "a", clients=[client])
    b = _Ctr(tmp_path, grp, "b")
    writer = threading.Thread(target=lambda: peer.sendall(b"y" * (Outbox.HIGH * 3)),
                              daemon=True)
    writer.start()
    try:
        # the pipe (64 KiB) fills, then the shim's buffer; then the shim stops reading
        # the client, whose own send blocks: the loop never does
        assert _spin(grp, lambda: a.shim.stdin is not None and a.shim.stdin.full)
        os.write(b.out_w, b"b still logs\n")
        assert _spin(grp, lambda: b.log_lines() == ["b still logs\n"])
        got = 0
        os.set_blocking(a.in_r, False)

        def drained() -> bool:
            nonlocal got
            try:
                while chunk := os.read(a.in_r, 1 << 20):
                    got += len(chunk)
            except BlockingIOError:
                pass
            return got == Outbox.HIGH * 3

        assert _spin(grp, drained, rounds=2000)  # a reads at last: all of it arrives
    finally:
        peer.close()
        writer.join(5)
        a.close()
        b.close()


def test_a_request_line_that_stops_half_way_holds_up_nobody(tmp_path, grp):
    a = _Ctr(tmp_path, grp, "a")
    b = _Ctr(tmp_path, grp, "b")
    half, other = socket.socket(socket.AF_UNIX), socket.socket(socket.AF_UNIX)
    try:
        half.connect(str(a.dir / "shim.sock"))
        half.sendall(b'{"op": "resi')
        other.connect(str(b.dir / "shim.sock"))
        other.sendall(b'{"op": "flush"}\n')
        other.settimeout(0.01)
        replies = []

        def answered() -> bool:
            try:
                replies.append(other.recv(100))
            except TimeoutError:
                pass
            return bool(replies)

        assert _spin(grp, answered)
        assert replies == [b'{"ok": true}\n']
        half.sendall(b'ze", "height": 1, "width": 1}\n')
        half.settimeout(0.01)
        assert _spin(grp, lambda: _recv_or_none(half) == b'{"ok": true}\n')
    finally:
        half.close()
        other.close()
        a.close()
        b.close()


def _recv_or_none(sock: socket.socket) -> bytes | None:
    try:
        return sock.recv(100)
    except TimeoutError:
        return None


class _StuckRuntime:
    """A runtime whose exec waits until the test lets it go (a container's exec
    held up in the kernel: a frozen cgroup, a slow mount): it runs in a child of
    the shim process, which meanwhile serves everyone else."""

    def __init__(self, tmp_path) -> None:
        self.gate = str(tmp_path / "gate")  # a path: the child keeps only its own fds
        os.mkfifo(self.gate)

    def wait(self) -> None:
        with open(self.gate, "rb") as f:
            f.read(1)

    def go(self) -> None:
        with open(self.gate, "wb") as f:  # waits for the reader
            f.write(b"g")

    def exec(self, cid, proc, *, stdio=None, **_) -> int:
        self.wait()
        pid = os.fork()
        if pid == 0:
            os.write(stdio[1], b"done\n")
            os._exit(3)
        return pid


class _StuckStage1(_StuckRuntime):
    """The built-in runtime's way (Runtime.exec_begin): the shim forks stage 1 and
    reads its reports in its loop; here the process reports its pid, then waits
    before it "execs" (its end of the channel closes)."""

    def exec_begin(self, cid, proc, *, stdio=None, **_):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:
            ours.close()
            shim.sync.send(theirs, "pid", pid=os.getpid())
            self.wait()
            os.write(stdio[1], b"done\n")
            theirs.close()
            os._exit(3)
        theirs.close()
        first = os.fork()  # stage 1's part here is to end
        if first == 0:
            os._exit(0)
        return first, ours


@pytest.mark.parametrize("runtime", [_StuckRuntime, _StuckStage1])
def test_an_exec_that_waits_holds_up_nobody(tmp_path, grp, runtime):
    a = _Ctr(tmp_path, grp, "a")
    b = _Ctr(tmp_path, grp, "b")
    rt = a.shim._rt = runtime(tmp_path)
    conn = socket.socket(socket.AF_UNIX)
    try:
        conn.connect(str(a.dir / "shim.sock"))
        conn.sendall(json.dumps({"op": "exec", "id": "e1", "stdin": False, "process": {
            "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}).encode() + b"\n")
        conn.settimeout(0.01)
        assert not _spin(grp, lambda: _recv_or_none(conn) is not None, rounds=20)
        os.write(b.out_w, b"b still logs\n")
        assert _spin(grp, lambda: b.log_lines() == ["b still logs\n"])
        rt.go()  # the exec goes on
        got = b""

        def ended() -> bool:
            nonlocal got
            grp._reap()
            got += _recv_or_none(conn) or b""
            return got.endswith(shim.frame(shim.STDOUT, b"done\n")) and "e1" not in a.shim.execs

        assert _spin(grp, ended)
        assert got.startswith(b'{"ok": true, "Pid": ')
        assert json.loads((a.dir / "exec-e1.json").read_text())["ExitCode"] == 3
    finally:
        conn.close()
        a.close()
        b.close()


def test_what_a_containers_handler_raises_is_its_own(tmp_path, grp):
    """A bug met in one container's event is logged to its shim.log; past a bound
    its I/O is given up (the daemon then counts its shim as lost); the process
    and the other containers go on."""
    a = _Ctr(tmp_path, grp, "a")
    b = _Ctr(tmp_path, grp, "b")
    try:
        a.shim.log.close()  # its next output cannot be logged: ValueError on each read
        for _ in range(shim._Shim.FAILURES + 1):
            os.write(a.out_w, b"a\n")
            grp.loop.run_once(0.01)
        assert (a.dir / "shim.log").read_text().count("ValueError") == shim._Shim.FAILURES + 1
        assert a.shim.gone and a.shim not in grp.shims
        os.write(b.out_w, b"b still logs\n")
        assert _spin(grp, lambda: b.log_lines() == ["b still logs\n"])
    finally:
        a.shim.log = None
        a.close()
        b.close()


def test_a_program_that_ends_before_the_set_up_says_started(tmp_path, grp):
    """The init is the shim process's child from the create on: a short program can
    be reaped, and its output end, before the set-up child's "started". The
    container is finished only after that word, so the child's send still finds
    the channel open (before: "Broken pipe" failed the start)."""
    pid = os.fork()
    if pid == 0:
        os._exit(7)
    a = _Ctr(tmp_path, grp, "a", init_pid=pid, started=False)
    try:
        os.close(a.out_w)
        a.out_w = os.open(os.devnull, os.O_WRONLY)  # for close()
        assert _spin(grp, lambda: (grp._reap(), a.shim.exit is not None)[1]
                     and not a.shim.outputs)
        assert not a.shim.gone and not (a.dir / "exit.json").exists()
        a.say_started()  # would raise BrokenPipeError had the shim finished
        assert _spin(grp, lambda: (grp._reap(), a.shim.gone)[1])
        assert json.loads((a.dir / "exit.json").read_text())["ExitCode"] == 7
    finally:
        a.close()


def test_a_closed_ptys_number_is_not_closed_again(tmp_path, grp):
    """A tty's master is closed when its output ends; finishing the container later
    must not close that number again: by then it may be another container's fd."""
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    a = _Ctr(tmp_path, grp, "a", init_pid=pid, tty=True, started=False)
    other = None
    try:
        master = a.shim.master
        os.close(a.out_w)
        a.out_w = os.open(os.devnull, os.O_WRONLY)  # for close()
        assert _spin(grp, lambda: master not in a.shim.outputs)
        # another container's fd takes the number
        fd = os.open(os.devnull, os.O_RDONLY)
        other = os.dup2(fd, master, inheritable=False)
        os.close(fd)
        a.say_started()
        assert _spin(grp, lambda: (grp._reap(), a.shim.gone)[1])
        os.fstat(other)  # still open
    finally:
        if other is not None:
            os.close(other)
        a.close()


def _exec_request(ctr: _Ctr, exec_id: str) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX)
    conn.connect(str(ctr.dir / "shim.sock"))
    conn.sendall(json.dumps({"op": "exec", "id": exec_id, "stdin": False, "process": {
        "args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}}}).encode() + b"\n")
    return conn


def test_an_exec_outlives_its_client_and_the_container_waits_for_it(tmp_path, grp):
    """The client of an exec hangs up before the program runs, and the container's
    program ends meanwhile: the exec still starts, its exit is recorded, and only
    then the container finishes (before: it never did; its exec was lost)."""
    init_r, init_w = os.pipe()
    init = os.fork()
    if init == 0:
        os.read(init_r, 1)  # the container's program: ends when told
        os._exit(5)
    os.close(init_r)
    a = _Ctr(tmp_path, grp, "a", init_pid=init)
    rt = a.shim._rt = _StuckStage1(tmp_path)
    rt.delete = lambda cid, force=False: None
    try:
        conn = _exec_request(a, "e1")
        assert _spin(grp, lambda: "e1" in a.shim.execs and a.shim.execs["e1"].pid)
        conn.close()  # the client goes
        os.write(init_w, b"x")  # the program ends
        os.close(a.out_w)
        a.out_w = os.open(os.devnull, os.O_WRONLY)  # for close()
        assert _spin(grp, lambda: (grp._reap(), a.shim.exit is not None)[1])
        assert not a.shim.gone  # an exec is starting: the container waits for it
        rt.go()
        assert _spin(grp, lambda: (grp._reap(), a.shim.gone)[1], rounds=500)
        assert json.loads((a.dir / "exec-e1.json").read_text())["ExitCode"] == 3
        assert json.loads((a.dir / "exit.json").read_text())["ExitCode"] == 5
    finally:
        os.close(init_w)
        a.close()


def test_an_exit_long_unclaimed_is_not_anothers(grp):
    """An exit nobody claimed (an init killed after an abort) is dropped after a
    while: a process that later gets the same pid is not told it ended."""

    class Owner:
        def __init__(self) -> None:
            self.got: list = []

        def reaped(self, pid, code):
            self.got.append((pid, code))

    grp.unclaimed[4242] = (137, time.monotonic() - Group.UNCLAIMED_FOR - 1)
    grp.unclaimed[4343] = (0, time.monotonic())
    o = Owner()
    grp.claim(4242, o)
    grp.claim(4343, o)
    assert o.got == [(4343, 0)] and grp.owners == {4242: o}
    grp.disown(4242)  # killed: its exit, when it comes, is nobody's
    assert 4242 not in grp.owners and 4242 in grp.helpers


def test_a_child_of_the_shim_process_keeps_no_other_fds(grp):
    """What the shim process forks (a set-up, an exec's child, a delete) holds no
    other container's fds: a client of a neighbour sees its EOF when the shim
    process closes its end, not when the child ends."""
    ours, theirs = socket.socketpair()
    keep_r, keep_w = os.pipe()
    pid = grp.fork(lambda: os.read(keep_r, 1), keep=(keep_r,))
    try:
        ours.close()  # the neighbour's connection, closed by the shim process
        theirs.settimeout(2)
        assert theirs.recv(1) == b""  # at once: the child does not hold it
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # while the child runs on
    finally:
        os.write(keep_w, b"x")
        os.waitpid(pid, 0)
        grp.helpers.pop(pid, None)
        for fd in (keep_r, keep_w):
            os.close(fd)
        theirs.close()


def test_the_log_is_what_json_dumps_would_write(tmp_path, grp):
    a = _Ctr(tmp_path, grp, "a")
    try:
        text = 'plain\n\n"quoted" \\ back\ttab \x00 \x1b[1m ü \u2028 <&>\n' + "\udcff"
        a.shim._log(shim.STDOUT, text.encode("utf-8", "surrogateescape"))
        lines = (a.dir / "log.json").read_bytes().splitlines(keepends=True)
        for line in lines:
            doc = json.loads(line)
            assert line == json.dumps(doc).encode() + b"\n"
        assert "".join(json.loads(x)["log"] for x in lines) == text.encode(
            "utf-8", "surrogateescape").decode("utf-8", "replace")
    finally:
        a.close()
