"""The shim's own pieces that need no container: reading a request line, the
set-up child's hand-over and verdict."""

from __future__ import annotations

import json
import os
import socket
import threading
import time

from dockling.shim import shim
from dockling.shim.group import Group


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


def _opts(tmp_path, **kw) -> shim.Options:
    return shim.Options(cid="c0ffee", bundle=str(tmp_path), runtime_root=str(tmp_path),
                        state_dir=str(tmp_path), log_path=str(tmp_path / "log.json"),
                        tty=False, open_stdin=True, stdin_once=False, new_netns=False, **kw)


def test_the_set_up_hands_its_fds_over_and_the_shim_maps_them_back(tmp_path):
    """What the set-up child sends (shim._Shim._hand_over) is what the shim's loop
    gets (_adopt): the same pipes, socket and clients, each fd sent once, none of
    them inherited by what the shim process forks next (another container's)."""
    grp = Group(None, str(tmp_path / "shims.log"))
    setup = shim._Shim(_opts(tmp_path), report=None)
    keeper = shim._Shim(_opts(tmp_path), report=None, group=grp)
    out_r, out_w = os.pipe()
    in_r, in_w = os.pipe()
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    attach_ours, attach_theirs = socket.socketpair()
    wait_ours, wait_theirs = socket.socketpair()
    log_fd = os.open(tmp_path / "log.json", os.O_WRONLY | os.O_CREAT, 0o600)
    chan_a, chan_b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    keeper.chan = chan_b
    try:
        setup.init_pid = 4242
        setup.outputs = {out_r: shim.STDOUT}
        setup.stdin_fd = in_w
        setup.clients = [shim._Stream(attach_ours, "attach", {"op": "attach", "stdout": True})]
        setup.pending = [(wait_ours, {"op": "wait"})]
        setup._hand_over(chan_a, srv, log_fd)
        keeper._handed_over()
        assert keeper.init_pid == 4242 and keeper.master is None
        assert grp.owners == {4242: keeper}
        (new_out,) = keeper.outputs
        fds = [new_out, keeper.stdin_fd, keeper.srv.fileno(), keeper.log.fileno(),
               keeper.clients[0].conn.fileno(), keeper.waiters[0].fileno()]
        assert len(set(fds)) == 6  # out, stdin, srv, log, attach, wait: each once
        assert not any(os.get_inheritable(fd) for fd in fds)
        os.write(out_w, b"from the container")
        assert os.read(new_out, 100) == b"from the container"
        os.write(keeper.stdin_fd, b"to the container")
        assert os.read(in_r, 100) == b"to the container"
        assert keeper.clients[0].req["op"] == "attach"
        keeper.clients[0].out.write(b"x")
        assert attach_theirs.recv(10) == b"x"
        keeper.log.write(b"line\n")
        assert (tmp_path / "log.json").read_bytes() == b"line\n"
    finally:
        keeper._close_all()
        for fd in (out_r, out_w, in_r, in_w, log_fd):
            os.close(fd)
        for s in (srv, attach_ours, attach_theirs, wait_ours, wait_theirs, chan_a, chan_b):
            s.close()
        grp.loop.sel.close()


def test_the_set_up_childs_verdict(tmp_path):
    """"started" keeps the container; "abort", or the child's end without a word,
    means it deleted the container: the shim process lets it go."""
    for word, kept in ((b"started", True), (b"abort", False), (b"", False)):
        grp = Group(None, str(tmp_path / "shims.log"))
        keeper = shim._Shim(_opts(tmp_path), report=None, group=grp)
        grp.shims.add(keeper)
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        keeper.chan = a
        grp.loop.add_reader(a.fileno(), keeper._verdict, keeper)
        if word:
            b.send(word)
        b.close()  # the child exits after its word (or dies without one)
        grp.loop.run_once(1)
        assert (keeper in grp.shims, keeper.gone, keeper.chan) == (kept, not kept, None)
        assert grp.loop.watched() == 0
        grp.loop.sel.close()


def test_flush_logs_what_the_program_wrote_and_is_bounded(tmp_path):
    """The daemon's logs ask the shim to flush first (`logs` right after `start`)."""
    grp = Group(None, str(tmp_path / "shims.log"))
    keeper = shim._Shim(_opts(tmp_path), report=None, group=grp)
    r, w = os.pipe()
    os.set_blocking(r, False)
    keeper.outputs = {r: shim.STDOUT}
    keeper.log = open(tmp_path / "log.json", "ab", buffering=0)  # noqa: SIM115
    try:
        os.write(w, b"one\ntwo\n")
        keeper._flush()
        lines = [json.loads(x) for x in (tmp_path / "log.json").read_bytes().splitlines()]
        assert [x["log"] for x in lines] == ["one\n", "two\n"]
        assert all(x["stream"] == "stdout" for x in lines)
        keeper._flush()  # nothing more: returns at once
        assert len((tmp_path / "log.json").read_bytes().splitlines()) == 2
    finally:
        keeper.log.close()
        grp.loop.sel.close()
        os.close(w)
        if r in keeper.outputs:
            os.close(r)
