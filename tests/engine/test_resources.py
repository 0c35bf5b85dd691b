"""Resource flags on `run`, enforced by the kernel (cgroup v1 here)."""

from __future__ import annotations

import json

import pytest

from tests.engine.conftest import name

CG = "/sys/fs/cgroup"


def _cg(daemon, cid: str, ctl: str, f: str) -> str:
    with open(f"{CG}/{ctl}/{daemon.cgroup_parent}/{cid}/{f}") as fh:
        return fh.read().strip()


def test_cpu_memory_pids_values_in_cgroup(daemon):
    n = name()
    cid = daemon.cli("run", "-d", "--name", n, "--cpus", "0.5", "-m", "64m",
                     "--memory-reservation", "32m", "--pids-limit", "42", "-c", "512",
                     "--cpuset-cpus", "0", "busybox", "sleep", "300",
                     check=True).stdout.decode().strip()
    try:
        assert _cg(daemon, cid, "cpu", "cpu.cfs_quota_us") == "50000"
        assert _cg(daemon, cid, "cpu", "cpu.cfs_period_us") == "100000"
        assert _cg(daemon, cid, "cpu", "cpu.shares") == "512"
        assert _cg(daemon, cid, "cpuset", "cpuset.cpus") == "0"
        assert _cg(daemon, cid, "memory", "memory.limit_in_bytes") == str(64 * 2**20)
        # docker: no --memory-swap means swap as large as memory (memsw = 2x)
        assert _cg(daemon, cid, "memory", "memory.memsw.limit_in_bytes") == str(128 * 2**20)
        assert _cg(daemon, cid, "memory", "memory.soft_limit_in_bytes") == str(32 * 2**20)
        assert _cg(daemon, cid, "pids", "pids.max") == "42"
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
        assert _cg(daemon, cid, "pids", "pids.max") == "77"
        assert _cg(daemon, cid, "cpu", "cpu.cfs_quota_us") == "25000"
        hc = json.loads(daemon.cli("inspect", n).stdout)[0]["HostConfig"]
        assert hc["PidsLimit"] == 77 and hc["NanoCpus"] == 250_000_000
        res = daemon.cli("update", "-m", "1m", n)
        assert res.returncode == 1 and b"Minimum memory limit allowed is 6MB" in res.stderr
    finally:
        daemon.cli("rm", "-f", n)
