"""Health checks: status transitions, timeouts, the image's check and its override."""

from __future__ import annotations

import json
import time

from dockling.containers import health
from dockling.containers.model import HealthConfig
from tests.engine.conftest import name


def _health(d, n) -> dict:
    return json.loads(d.cli("inspect", "-f", "{{json .State.Health}}", n, check=True).stdout)


def _until(pred, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := pred():
            return value
        time.sleep(0.05)
    raise AssertionError("condition not met in time")


def test_starting_unhealthy_healthy(daemon):
    n = name()
    # The first probe waits for /tmp/go: until the test makes it, no probe has a result,
    # so "starting" is what inspect must show however slow this machine is.
    daemon.cli("run", "-d", "--name", n, "--health-cmd",
               "while [ ! -e /tmp/go ]; do sleep 0.02; done; cat /tmp/ok",
               "--health-interval", "100ms", "--health-retries", "2", "busybox", "sleep",
               "300", check=True)
    h = _health(daemon, n)
    assert h["Status"] == "starting" and h["Log"] == []
    daemon.cli("exec", n, "touch", "/tmp/go", check=True)
    h = _until(lambda: (h := _health(daemon, n))["Status"] == "unhealthy" and h)
    assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
    assert "No such file or directory" in h["Log"][-1]["Output"]
    assert "(unhealthy)" in daemon.cli("ps", "-f", f"name={n}").stdout.decode()
    daemon.cli("exec", n, "sh", "-c", "echo fine > /tmp/ok", check=True)
    h = _until(lambda: (h := _health(daemon, n))["Status"] == "healthy" and h)
    assert h["FailingStreak"] == 0 and h["Log"][-1]["Output"] == "fine\n"
    assert len(h["Log"]) <= 5
    assert "(healthy)" in daemon.cli("ps", "-f", f"name={n}").stdout.decode()
    events = daemon.cli("events", "--since", "0", "--until", str(int(time.time()) + 1),
                        "--filter", f"container={n}").stdout.decode()
    assert "health_status: unhealthy" in events and "health_status: healthy" in events
    daemon.cli("rm", "-f", n, check=True)


def test_timeout_and_start_period(daemon):
    n = name()
    # Probes in the start period come every --health-start-interval (docker's default is
    # 5 s: with it no probe ran in a 1 s period, and a check that nothing counted there
    # proved nothing). Here they come every 100 ms and fail (time out) at once.
    daemon.cli("run", "-d", "--name", n, "--health-cmd", "sleep 10", "--health-interval",
               "100ms", "--health-start-interval", "100ms", "--health-timeout", "200ms",
               "--health-retries", "1", "--health-start-period", "3s", "busybox", "sleep",
               "300", check=True)
    # failures in the start period do not count: two have happened, none counted
    h = _until(lambda: len((h := _health(daemon, n))["Log"]) >= 2 and h)
    assert all(entry["ExitCode"] == -1 for entry in h["Log"])
    assert h["Status"] == "starting" and h["FailingStreak"] == 0
    h = _until(lambda: (h := _health(daemon, n))["Status"] == "unhealthy" and h)
    assert h["Log"][-1]["ExitCode"] == -1
    assert h["Log"][-1]["Output"] == "Health check exceeded timeout (200ms)"
    daemon.cli("rm", "-f", n, check=True)


def test_image_healthcheck_and_no_healthcheck(daemon):
    base = name()
    daemon.cli("create", "--name", base, "busybox", check=True)
    img = f"{name()}:hc"
    repo, tag = img.split(":")
    st, _, body = daemon.api("POST", f"/commit?container={base}&repo={repo}&tag={tag}", {
        "Healthcheck": {"Test": ["CMD", "true"], "Interval": 100_000_000}})
    assert st == 201, body
    n = name()
    daemon.cli("run", "-d", "--name", n, img, "sleep", "300", check=True)
    _until(lambda: _health(daemon, n)["Status"] == "healthy")
    n2 = name()
    daemon.cli("run", "-d", "--name", n2, "--no-healthcheck", img, "sleep", "300", check=True)
    # The image's check (every 100 ms) has had its chance on n2 once it ran on n (same
    # image, same check) after n2 started. Both times are the daemon's RFC 3339 UTC.
    started = json.loads(daemon.cli("inspect", n2).stdout)[0]["State"]["StartedAt"]
    _until(lambda: _health(daemon, n)["Log"][-1]["Start"] > started)
    info = json.loads(daemon.cli("inspect", n2).stdout)[0]
    assert "Health" not in info["State"]
    assert "(health" not in daemon.cli("ps", "-f", f"name={n2}").stdout.decode()
    daemon.cli("rm", "-f", n, n2, base, check=True)
    daemon.cli("rmi", img, check=True)


def test_effective_check_and_durations():
    image = HealthConfig(Test=["CMD", "true"], Interval=5 * health.SECOND, Retries=7)
    got = health.effective(HealthConfig(Interval=2 * health.SECOND), image)
    assert got.Interval == 2 * health.SECOND and got.Retries == 7
    assert got.Timeout == 30 * health.SECOND
    assert health.effective(HealthConfig(Test=["NONE"]), image) is None
    assert health.probe_argv(["CMD-SHELL", "a && b"]) == ["/bin/sh", "-c", "a && b"]
    assert [health.go_duration(x) for x in (0.3, 30, 90, 3725)] == [
        "300ms", "30s", "1m30s", "1h2m5s"]
