"""The shim's process tree (shim.py, _Shim.begin): a set-up child creates and
starts the container and exits; the long-lived shim process is left as the
parent of the inits of the containers it keeps and of their execs, and reaps
them."""

from __future__ import annotations

import json
import os
import subprocess

from tests.conftest import wait_for
from tests.engine.conftest import name


def _children(pid: int) -> list[int]:
    out: list[int] = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            out += [int(p) for p in f.read().split()]
    return sorted(out)


def _inits(daemon, shim: int) -> list[int]:
    """The inits of the running containers whose shim process is ``shim``."""
    out = []
    for cid in daemon.cli("ps", "-q", "--no-trunc").stdout.decode().split():
        run = os.path.join(daemon.exec_root, "containers", cid)
        try:
            with open(os.path.join(run, "shim.pid")) as f:
                if int(f.read()) != shim:
                    continue
        except FileNotFoundError:
            continue
        out.append(json.loads(daemon.cli("inspect", cid).stdout)[0]["State"]["Pid"])
    return sorted(out)


def test_the_shim_is_left_with_the_inits_alone(daemon):
    n, other = name(), name()
    daemon.cli("run", "-d", "--name", other, "busybox", "sleep", "300", check=True)
    daemon.cli("run", "-d", "--name", n, "busybox", "sh", "-c", "echo up; sleep 300",
               check=True)
    try:
        info = json.loads(daemon.cli("inspect", n).stdout)[0]
        init = info["State"]["Pid"]
        with open(os.path.join(daemon.exec_root, "containers", info["Id"], "shim.pid")) as f:
            shim = int(f.read())
        # the set-up child is gone (reaped): the init, re-parented, is left, beside
        # the inits of the other containers the shim process keeps
        assert wait_for(lambda: init in _children(shim) and _children(shim) == _inits(
            daemon, shim)), _children(shim)
        assert wait_for(lambda: daemon.cli("logs", n).stdout == b"up\n")  # the output path
        res = daemon.cli("exec", n, "sh", "-c", "echo in; exit 3")
        assert (res.returncode, res.stdout) == (3, b"in\n")
        assert _children(shim) == _inits(daemon, shim)  # the exec's process reaped
        other_init = json.loads(daemon.cli("inspect", other).stdout)[0]["State"]["Pid"]
        assert other_init in _children(shim)  # one shim process, both containers
    finally:
        daemon.cli("rm", "-f", n, other)


def test_a_short_program_is_reaped_with_its_status(daemon):
    n = name()
    res = daemon.cli("run", "--name", n, "busybox", "sh", "-c", "echo bye; exit 7")
    try:
        assert (res.returncode, res.stdout) == (7, b"bye\n")
        state = json.loads(daemon.cli("inspect", n).stdout)[0]["State"]
        assert (state["Status"], state["ExitCode"]) == ("exited", 7)
    finally:
        daemon.cli("rm", "-f", n)


def test_a_start_the_daemon_aborts_leaves_one_trace(daemon):
    """The network's second half fails while the shim holds (its bridge is gone):
    the set-up child deletes the container, says why in shim.log and to the daemon;
    the shim, which never got the hand-over, goes quietly."""
    net, n = name(), name()
    daemon.cli("network", "create", net, check=True)
    try:
        nid = daemon.cli("network", "inspect", "-f", "{{.Id}}", net, check=True).stdout
        daemon.cli("create", "--name", n, "--network", net, "busybox", "sleep", "300",
                   check=True)
        subprocess.run(["ip", "link", "del", f"br-{nid.decode().strip()[:12]}"], check=True)
        res = daemon.cli("start", n)
        assert res.returncode == 1 and b"is missing" in res.stderr
        cid = json.loads(daemon.cli("inspect", n).stdout)[0]["Id"]
        with open(os.path.join(daemon.exec_root, "containers", cid, "shim.log")) as f:
            log = f.read()
        assert log.count("Traceback") == 1 and "got 'abort'" in log, log
    finally:
        daemon.cli("rm", "-f", n)
        daemon.cli("network", "rm", net)


def _shim_of(daemon, n: str) -> int:
    cid = json.loads(daemon.cli("inspect", n).stdout)[0]["Id"]
    with open(os.path.join(daemon.exec_root, "containers", cid, "shim.pid")) as f:
        return int(f.read())


def test_a_container_that_may_ptrace_has_a_shim_process_of_its_own(daemon):
    """CAP_SYS_PTRACE beats a process's dumpable flag: such a container (or one in
    another's pid namespace) could read the shim process's memory through an
    exec's process before it execs, so it shares its shim process with nobody."""
    a, b, tracer, joined = name(), name(), name(), name()
    try:
        for n, extra in ((a, []), (b, []), (tracer, ["--cap-add", "SYS_PTRACE"]),
                         (joined, ["--pid", f"container:{a}"])):
            daemon.cli("run", "-d", "--name", n, *extra, "busybox", "sleep", "300",
                       check=True)
        assert _shim_of(daemon, a) == _shim_of(daemon, b)
        others = {_shim_of(daemon, a), _shim_of(daemon, tracer), _shim_of(daemon, joined)}
        assert len(others) == 3
        res = daemon.cli("exec", tracer, "sh", "-c", "echo in")
        assert (res.returncode, res.stdout) == (0, b"in\n")
    finally:
        daemon.cli("rm", "-f", a, b, tracer, joined)
