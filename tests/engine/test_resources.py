"""Resource flags on `run`, enforced by the kernel. The cgroup files are v1's on a
v1 or hybrid host (this machine) and v2's on a unified one, with the values runc
writes there (its conversions: cpu.weight from shares, memory.swap.max without
the memory); the v2 branch is only as good as that expectation: it cannot run
here."""

from __future__ import annotations

import json

import pytest

from dockling.runtime.cgroups import is_unified
from tests.engine.conftest import name

CG = "/sys/fs/cgroup"


def _cg(daemon, cid: str, ctl: str, f: str) -> str:
    """A v1 controller's file on v1; on a unified host the container's own dir."""
    path = f"{CG}/{daemon.cgroup_parent}/{cid}/{f}" if is_unified() else \
        f"{CG}/{ctl}/{daemon.cgroup_parent}/{cid}/{f}"
    with open(path) as fh:
        return fh.read().strip()


def _expect(daemon, cid: str, v1: dict[tuple[str, str], str], v2: dict[str, str]) -> None:
    got = {f: _cg(daemon, cid, "", f) for f in v2} if is_unified() else \
        {k: _cg(daemon, cid, *k) for k in v1}
    assert got == (v2 if is_unified() else v1)


def test_cpu_memory_pids_values_in_cgroup(daemon):
    n = name()
    cid = daemon.cli("run", "-d", "--name", n, "--cpus", "0.5", "-m", "64m",
                     "--memory-reservation", "32m", "--pids-limit", "42", "-c", "512",
                     "--cpuset-cpus", "0", "busybox", "sleep", "300",
                     check=True).stdout.decode().strip()
    try:
        # docker: no --memory-swap means swap as large as memory (memsw = 2x on v1;
        # v2's memory.swap.max counts the swap alone)
        _expect(daemon, cid, {
            ("cpu", "cpu.cfs_quota_us"): "50000", ("cpu", "cpu.cfs_period_us"): "100000",
            ("cpu", "cpu.shares"): "512", ("cpuset", "cpuset.cpus"): "0",
            ("memory", "memory.limit_in_bytes"): str(64 * 2**20),
            ("memory", "memory.memsw.limit_in_bytes"): str(128 * 2**20),
            ("memory", "memory.soft_limit_in_bytes"): str(32 * 2**20),
            ("pids", "pids.max"): "42"}, {
            "cpu.max": "50000 100000", "cpu.weight": "20", "cpuset.cpus": "0",
            "memory.max": str(64 * 2**20), "memory.swap.max": str(64 * 2**20),
            "memory.low": str(32 * 2**20), "pids.max": "42"})
        hc = json.loads(daemon.cli("inspect", n).stdout)[0]["HostConfig"]
        assert hc["NanoCpus"] == 500_000_000 and hc["Memory"] == 64 * 2**20
        assert hc["PidsLimit"] == 42
    finally:
        daemon.cli("rm", "-f", n)


def test_memory_limit_oom_killed(daemon):
    n = name()
    res = daemon.cli("run", "--name", n, "-m", "32m", "--memory-swap", "32m", "busybox",
                     "sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1")
    assert res.returncode == 137
    state = json.loads(daemon.cli("inspect", n).stdout)[0]["State"]
    assert state["OOMKilled"] is True and state["ExitCode"] == 137
    daemon.cli("rm", n, check=True)


def test_pids_limit_and_ulimit_enforced(daemon):
    res = daemon.cli("run", "--rm", "--pids-limit", "8", "--ulimit", "nofile=555:777",
                     "busybox", "sh", "-c",
                     "ulimit -n; ulimit -Hn; for i in $(seq 20); do sleep 5 & done 2>&1; "
                     "echo after")
    out = res.stdout.decode()
    assert out.splitlines()[:2] == ["555", "777"]
    assert b"can't fork" in res.stderr + res.stdout


@pytest.mark.parametrize("args, message", [
    (["-m", "1m"], b"Minimum memory limit allowed is 6MB"),
    (["-m", "64m", "--memory-swap", "32m"], b"Minimum memoryswap limit should be larger"),
    (["--cpus", "0.5", "--cpu-quota", "50000"], b"Conflicting options: Nano CPUs"),
    (["--cpuset-cpus", "99"], b"Requested CPUs are not available - requested 99"),
    (["--ulimit", "wishes=1"], b"invalid ulimit type: wishes"),
    (["--cpus", "abc"], b"failed to parse abc"),
])
def test_bad_resource_flags(daemon, args, message):
    res = daemon.cli("run", "--rm", *args, "busybox", "true")
    assert res.returncode == 125
    assert message in res.stderr, res.stderr


def test_update_running_container(daemon):
    n = name()
    cid = daemon.cli("run", "-d", "--name", n, "-m", "64m", "--pids-limit", "50", "busybox",
                     "sleep", "300", check=True).stdout.decode().strip()
    try:
        assert daemon.cli("update", "--pids-limit", "77", "--cpus", "0.25", n,
                          check=True).stdout.decode().strip() == n
        _expect(daemon, cid, {("pids", "pids.max"): "77",
                              ("cpu", "cpu.cfs_quota_us"): "25000"},
                {"pids.max": "77", "cpu.max": "25000 100000"})
        hc = json.loads(daemon.cli("inspect", n).stdout)[0]["HostConfig"]
        assert hc["PidsLimit"] == 77 and hc["NanoCpus"] == 250_000_000
        res = daemon.cli("update", "-m", "1m", n)
        assert res.returncode == 1 and b"Minimum memory limit allowed is 6MB" in res.stderr
    finally:
        daemon.cli("rm", "-f", n)
