"""Restart policies: back-off restarts, counts, user stops, and a daemon that
is killed and started again."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.engine.conftest import name, running_daemon


def _state(d, n) -> dict:
    info = json.loads(d.cli("inspect", n, check=True).stdout)[0]
    return {"count": info["RestartCount"], **info["State"]}


def _until(pred, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_on_failure_limit_and_success(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "--restart", "on-failure:2", "busybox", "sh", "-c",
               "exit 3", check=True)
    # 3 runs: the first and two restarts (100 ms, then 200 ms back-off). The daemon
    # decides on a restart in the same step that records the exit (its "die" event):
    # after the third die the policy has had its say.
    _until(lambda: _events(daemon, n, "die").count(" container die ") == 3)
    assert _wait(daemon, n) == 3
    st = _state(daemon, n)
    assert (st["count"], st["Status"], st["ExitCode"]) == (2, "exited", 3)
    n2 = name()
    daemon.cli("run", "-d", "--name", n2, "--restart", "on-failure", "busybox", "true",
               check=True)
    _until(lambda: " container die " in _events(daemon, n2, "die"))
    assert _wait(daemon, n2) == 0
    st = _state(daemon, n2)
    assert (st["count"], st["Status"]) == (0, "exited")  # exit 0: no restart
    daemon.cli("rm", n, n2, check=True)


def test_always_restarts_until_stopped(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "--restart", "always", "busybox", "sh", "-c",
               "sleep 0.2", check=True)
    # each run is a "start" event: the first one and at least two restarts (a run is
    # 0.2 s: polling inspect for "running" can miss it under load, the events cannot)
    _until(lambda: _events(daemon, n, "start").count(" container start ") >= 3)
    assert _state(daemon, n)["count"] >= 2
    # ps shows it up, or restarting between runs (while a restart is being started the
    # record says "exited" for a moment: not what docker shows, hence the retries)
    _until(lambda: (ps := daemon.cli("ps", "-a", "--filter", f"name={n}").stdout.decode())
           and ("Up" in ps or "Restarting (0)" in ps))
    assert daemon.cli("stop", "-t", "1", n).returncode == 0
    # stop answers after the exit was recorded, and a restart would have been scheduled
    # by then (state "restarting"): exited now means none is coming
    st = _state(daemon, n)
    assert st["Status"] == "exited" and not st["Restarting"]  # a user's stop sticks
    assert _events(daemon, n, "start").count(" container start ") == st["count"] + 1
    # A user's start begins the count again: stopped once more, the count is the
    # restarts since that start (its program lives 0.2 s: it may have restarted already).
    daemon.cli("start", n, check=True)
    assert daemon.cli("stop", "-t", "1", n).returncode == 0
    again = _state(daemon, n)["count"]
    starts = _events(daemon, n, "start").count(" container start ")
    assert starts == (st["count"] + 1) + (again + 1), (starts, st["count"], again)
    daemon.cli("rm", "-f", n, check=True)


def test_bad_restart_policies(daemon):
    res = daemon.cli("run", "--rm", "--restart", "always", "busybox", "true")
    assert res.returncode == 125
    assert b"Conflicting options: --restart and --rm" in res.stderr
    res = daemon.cli("create", "--restart", "sometimes", "busybox")
    assert res.returncode == 125 and b"invalid restart policy: unknown policy 'sometimes'" \
        in res.stderr
    res = daemon.cli("create", "--restart", "always:3", "busybox")
    assert res.returncode == 125 and b"maximum retry count can only be used with " \
        b"'on-failure'" in res.stderr
    st, _, body = daemon.api("POST", "/containers/create", {
        "Image": "busybox", "HostConfig": {"AutoRemove": True,
                                           "RestartPolicy": {"Name": "always"}}})
    assert st == 400 and "AutoRemove" in body["message"]


@pytest.fixture
def own_daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def _shim_per_container(d) -> None:
    """daemon.json's containers-per-shim 1: each container has a shim process of
    its own (the daemon restarted with it)."""
    d.stop()
    cfg = os.path.join(d.base, "daemon.json")
    with open(cfg) as f:
        doc = json.load(f)
    with open(cfg, "w") as f:
        json.dump({**doc, "containers-per-shim": 1}, f)
    d.start()


def _shim_pid(d, n) -> int:
    with open(os.path.join(d.exec_root, "containers", _cid(d, n), "shim.pid")) as f:
        return int(f.read())


def test_always_comes_back_after_daemon_restart(own_daemon):
    d = own_daemon
    _shim_per_container(d)  # `gone` loses its shim alone
    keep, gone, stopped, unless = name(), name(), name(), name()
    for n in (keep, gone):
        d.cli("run", "-d", "--name", n, "--restart", "always", "busybox", "sleep", "300",
              check=True)
    d.cli("run", "-d", "--name", stopped, "--restart", "always", "busybox", "sleep", "300",
          check=True)
    d.cli("run", "-d", "--name", unless, "--restart", "unless-stopped", "busybox", "sleep",
          "300", check=True)
    d.cli("stop", "-t", "0", stopped, unless, check=True)
    keep_pid = _state(d, keep)["Pid"]
    gone_pid = _state(d, gone)["Pid"]
    gone_id = _cid(d, gone)
    d.kill9()
    # while the daemon is away, one container dies with its shim (a crash, a reboot)
    with open(os.path.join(d.exec_root, "containers", gone_id, "shim.pid")) as f:
        shim = int(f.read())
    os.kill(shim, signal.SIGKILL)
    os.kill(gone_pid, signal.SIGKILL)
    _until(lambda: _dead(shim) and _dead(gone_pid))
    d.start()
    assert _state(d, keep)["Pid"] == keep_pid  # still the same process, never restarted
    st = _until(lambda: (s := _state(d, gone))["Status"] == "running" and s)
    assert st["Pid"] != gone_pid and st["count"] == 1
    # always: started again at daemon start even after a user's stop (docker's rule)
    _until(lambda: _state(d, stopped)["Status"] == "running")
    # The daemon decides every policy in one pass before it answers (a restart it
    # decides on shows as "restarting" at once); `stopped` came back from that pass,
    # so `unless` was decided too: the stop sticks.
    st = _state(d, unless)
    assert st["Status"] == "exited" and st["count"] == 0
    d.cli("rm", "-f", keep, gone, stopped, unless, check=True)


def test_a_killed_shim_process_ends_each_container_it_kept(own_daemon):
    """Containers share a shim process (containers-per-shim, 16 by default). Killed
    while the daemon is away, it takes the I/O of both with it: the next daemon
    ends each cleanly and restarts both (always); a container of another shim
    process runs on untouched."""
    d = own_daemon
    a, b, other = name(), name(), name()
    for n in (a, b):
        d.cli("run", "-d", "--name", n, "--restart", "always", "busybox", "sleep", "300",
              check=True)
    assert _shim_pid(d, a) == _shim_pid(d, b)
    d.kill9()
    d.start()  # a new fork server: a new shim process for what starts now
    d.cli("run", "-d", "--name", other, "busybox", "sleep", "300", check=True)
    shim = _shim_pid(d, a)
    assert _shim_pid(d, other) != shim
    pids = {n: _state(d, n)["Pid"] for n in (a, b, other)}
    d.kill9()
    os.kill(shim, signal.SIGKILL)
    _until(lambda: _dead(shim))
    d.start()
    for n in (a, b):
        st = _until(lambda n=n: (s := _state(d, n))["Status"] == "running" and s)
        assert st["Pid"] != pids[n] and st["count"] == 1
        assert _until(lambda n=n: _dead(pids[n])), "the old process outlived its shim"
    assert _state(d, other)["Pid"] == pids[other]
    d.cli("rm", "-f", a, b, other, check=True)


def _wait(d, n) -> int:
    """`dockling wait`: the exit code once the container stopped for good."""
    return int(d.cli("wait", n, check=True, timeout=30).stdout)


def _events(d, n, event: str) -> str:
    return d.cli("events", "--since", "10m", "--until", "0s", "-f", f"container={n}",
                 "-f", f"event={event}", check=True).stdout.decode()


def _dead(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _cid(d, n) -> str:
    return json.loads(d.cli("inspect", n, check=True).stdout)[0]["Id"]
