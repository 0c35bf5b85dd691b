"""Crash safety: containers outlive a killed daemon; a killed shim ends its
container with a clear state; nothing leaks."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from dockling.testing.leaks import existing_cgroups
from tests.conftest import wait_for
from tests.engine.conftest import name, running_daemon


@pytest.fixture
def own_daemon(tmp_path_factory, busybox_tar):
    """A daemon of this test's own: the tests kill it."""
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def _inspect(d, n):
    return json.loads(d.cli("inspect", n).stdout)[0]


def _ticks(log_path: str) -> int:
    """Lines the container has logged, read from its json-file log (written by the shim)."""
    try:
        with open(log_path, "rb") as f:
            return f.read().count(b"tick")
    except FileNotFoundError:
        return 0


def _gone(pid: int) -> bool:
    return not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"


def test_kill9_daemon_keeps_containers(own_daemon):
    d = own_daemon
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sh", "-c",
          "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done", check=True)
    info = _inspect(d, n)
    pid, log_path = info["State"]["Pid"], info["LogPath"]
    assert wait_for(lambda: _ticks(log_path) > 0)
    d.kill9()
    # The container outlived its daemon: its log goes on growing after the kill
    # (several more ticks: the program and the shim have run on without it).
    seen = _ticks(log_path)
    assert wait_for(lambda: _ticks(log_path) >= seen + 3), "container died with the daemon"
    assert os.path.exists(f"/proc/{pid}")
    d.start()
    info = _inspect(d, n)
    assert info["State"]["Running"] and info["State"]["Pid"] == pid
    assert n in d.cli("ps").stdout.decode()
    before = d.cli("logs", n).stdout.count(b"tick")
    assert wait_for(lambda: d.cli("logs", n).stdout.count(b"tick") > before)  # logs go on
    assert d.cli("stop", "-t", "1", n).returncode == 0
    info = _inspect(d, n)
    assert info["State"]["Status"] == "exited"
    assert _gone(pid)
    d.cli("rm", n, check=True)


def test_container_exits_while_daemon_is_down(own_daemon, tmp_path):
    d = own_daemon
    n = name()
    # it exits when told, through a bind mount: after the daemon is gone
    cid = d.cli("run", "-d", "--name", n, "-v", f"{tmp_path}:/sig", "busybox", "sh", "-c",
                "while [ ! -e /sig/go ]; do sleep 0.05; done; exit 7",
                check=True).stdout.decode().strip()
    d.kill9()
    (tmp_path / "go").write_text("")
    # the exit happened while no daemon ran: the shim recorded it (then exited)
    exit_json = os.path.join(d.exec_root, "containers", cid, "exit.json")
    assert wait_for(lambda: os.path.exists(exit_json)), "the container did not exit"
    d.start()
    info = _inspect(d, n)
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 7
    assert not os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    d.cli("rm", n, check=True)


def test_kill9_shim_ends_container_cleanly(own_daemon):
    d = own_daemon
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    info = _inspect(d, n)
    pid = info["State"]["Pid"]
    cgroup = f"{d.cgroup_parent}/{info['Id']}"
    assert existing_cgroups(cgroup), "no cgroup in any hierarchy while it runs"
    shim_pid = int(open(os.path.join(d.exec_root, "containers", info["Id"],
                                     "shim.pid")).read())
    os.kill(shim_pid, signal.SIGKILL)
    for _ in range(200):
        info = _inspect(d, n)
        if not info["State"]["Running"]:
            break
        time.sleep(0.02)
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 137
    assert "shim" in info["State"]["Error"]
    assert wait_for(lambda: _gone(pid)), "container process outlived its shim"
    assert not os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    assert existing_cgroups(cgroup) == []  # v1 controllers and the v2 tree alike
    d.cli("rm", n, check=True)


def test_events_survive_a_daemon_restart(own_daemon):
    d = own_daemon
    n = name()
    d.cli("run", "--name", n, "busybox", "true", check=True)
    d.kill9()
    d.start()
    out = d.cli("events", "--since", "5m", "--until", "0s", "-f", f"container={n}",
                check=True).stdout.decode()
    assert " container create " in out and " container die " in out
    d.cli("rm", n, check=True)


def _children(pid: int, marker: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if ppid == pid and marker.encode() in cmd:
            out.append(int(name))
    return out


def test_kill9_daemon_during_start(own_daemon):
    """The daemon dies after handing a start to the fork server, before the shim says
    "started" (the fork server is held stopped meanwhile: no timing luck). The shim
    makes the container and waits for the daemon's "go" (its network is made
    meanwhile); the daemon's end closes instead, so the shim deletes the container.
    The next daemon's record matches the kernel: not running, no process left, and
    the container starts again."""
    d = own_daemon
    d.cli("run", "--rm", "busybox", "true", check=True)  # the fork server is up
    (forkserver,) = _children(d.proc.pid, "dockling.shim.forkserver")
    n = name()
    d.cli("create", "--name", n, "busybox", "sleep", "300", check=True)
    cid = _inspect(d, n)["Id"]
    os.kill(forkserver, signal.SIGSTOP)
    try:
        import threading

        starter = threading.Thread(target=d.cli, args=("start", n), daemon=True)
        starter.start()
        # the daemon has handed the shim's options to the fork server (its debug line)
        assert wait_for(lambda: f"starting {cid[:12]}" in d.log()), "start never began"
        d.kill9()
    finally:
        os.kill(forkserver, signal.SIGCONT)
    starter.join(30)
    state = os.path.join(d.exec_root, "runtime", cid)
    cgroup = f"{d.cgroup_parent}/{cid}"
    # the shim made the container, found nobody to say "go" and deleted it
    assert wait_for(lambda: not os.path.exists(state)), os.listdir(state)
    assert wait_for(lambda: existing_cgroups(cgroup) == [])
    d.start()
    info = _inspect(d, n)
    assert not info["State"]["Running"] and info["State"]["Pid"] == 0, info["State"]
    d.cli("start", n, check=True)
    pid = _inspect(d, n)["State"]["Pid"]
    assert pid and not _gone(pid)
    d.cli("rm", "-f", n, check=True)
    assert wait_for(lambda: _gone(pid))
