"""Crash safety: containers outlive a killed daemon; a killed shim ends its
container with a clear state; nothing leaks."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.engine.conftest import name, running_daemon


@pytest.fixture
def own_daemon(tmp_path_factory, busybox_tar):
    """A daemon of this test's own: the tests kill it."""
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def _inspect(d, n):
    return json.loads(d.cli("inspect", n).stdout)[0]


def test_kill9_daemon_keeps_containers(own_daemon):
    d = own_daemon
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sh", "-c",
          "i=0; while :; do i=$((i+1)); echo tick $i; sleep 0.1; done", check=True)
    pid = _inspect(d, n)["State"]["Pid"]
    d.kill9()
    time.sleep(0.3)
    assert os.path.exists(f"/proc/{pid}"), "container died with the daemon"
    d.start()
    info = _inspect(d, n)
    assert info["State"]["Running"] and info["State"]["Pid"] == pid
    assert n in d.cli("ps").stdout.decode()
    before = d.cli("logs", n).stdout.count(b"tick")
    time.sleep(0.4)
    assert d.cli("logs", n).stdout.count(b"tick") > before  # logs go on
    assert d.cli("stop", "-t", "1", n).returncode == 0
    info = _inspect(d, n)
    assert info["State"]["Status"] == "exited"
    assert not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
    d.cli("rm", n, check=True)


def test_container_exits_while_daemon_is_down(own_daemon):
    d = own_daemon
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sh", "-c", "sleep 0.5; exit 7", check=True)
    d.kill9()
    time.sleep(1.2)
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
    for _ in range(100):
        if not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z":
            break
        time.sleep(0.02)
    else:
        pytest.fail("container process outlived its shim")
    assert not os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    cg = f"/sys/fs/cgroup/pids/{d.cgroup_parent}/{info['Id']}"
    assert not os.path.exists(cg)
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
