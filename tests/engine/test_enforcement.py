"""The kernel enforces what the flags ask, measured from outside the container
(cgroup counters) or tried from inside."""

from __future__ import annotations

import os
import time

import pytest

from dockling.runtime.cgroups import is_unified
from tests.engine.conftest import name

pytestmark = pytest.mark.skipif(is_unified(), reason="measures v1 cgroup counters")

BUSY = "while :; do :; done"


def _cid(d, n) -> str:
    return d.cli("inspect", "-f", "{{.Id}}", n, check=True).stdout.decode().strip()


def _cpu_ns(d, n) -> int:
    with open(f"/sys/fs/cgroup/cpuacct/{d.cgroup_parent}/{_cid(d, n)}/cpuacct.usage") as f:
        return int(f.read())


def _usage_over(d, names: list[str], seconds: float) -> list[int]:
    before = [_cpu_ns(d, n) for n in names]
    time.sleep(seconds)
    return [_cpu_ns(d, n) - b for n, b in zip(names, before)]


def test_cpu_shares_split_one_cpu(daemon):
    heavy, light = name(), name()
    for n, shares in ((heavy, "1024"), (light, "256")):
        daemon.cli("run", "-d", "--name", n, "--cpuset-cpus", "0", "-c", shares, "busybox",
                   "sh", "-c", BUSY, check=True)
    try:
        time.sleep(0.3)
        h, lt = _usage_over(daemon, [heavy, light], 1.5)
        assert h > 2 * lt, (h, lt)  # 4:1 asked; the scheduler is not exact
    finally:
        daemon.cli("rm", "-f", heavy, light)


def test_cpus_quota(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "--cpus", "0.3", "busybox", "sh", "-c", BUSY,
               check=True)
    try:
        time.sleep(0.3)
        (used,) = _usage_over(daemon, [n], 1.5)
        assert used < 0.3 * 1.5e9 * 1.4, used  # about 30% of one CPU, never a whole one
        assert used > 0.3 * 1.5e9 * 0.5, used
    finally:
        daemon.cli("rm", "-f", n)


def test_oom_kill_disable(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "-m", "16m", "--memory-swap", "16m",
               "--oom-kill-disable", "busybox", "sh", "-c",
               # memory touched in user space: a page fault there waits under OOM
               "x=0123456789; while :; do x=$x$x; done", check=True)
    try:
        path = f"/sys/fs/cgroup/memory/{daemon.cgroup_parent}/{_cid(daemon, n)}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(f"{path}/memory.oom_control") as f:
                ctl = dict(line.split() for line in f)
            if ctl["under_oom"] == "1":
                break
            time.sleep(0.1)
        assert ctl["oom_kill_disable"] == "1" and ctl["under_oom"] == "1"
        # at its limit, frozen by the kernel rather than killed
        assert daemon.cli("inspect", "-f", "{{.State.Status}}", n).stdout.strip() == \
            b"running"
    finally:
        daemon.cli("rm", "-f", n)


def test_read_only_root_and_shm_size(daemon):
    res = daemon.cli("run", "--rm", "--read-only", "busybox", "touch", "/x")
    assert res.returncode == 1 and b"Read-only file system" in res.stderr
    # the writable places docker keeps on a read-only root
    daemon.cli("run", "--rm", "--read-only", "--tmpfs", "/tmp", "busybox", "touch",
               "/tmp/x", "/dev/shm/x", check=True)
    out = daemon.cli("run", "--rm", "--shm-size", "8m", "busybox", "df", "-k", "/dev/shm",
                     check=True).stdout.decode().splitlines()
    assert out[1].split()[1] == "8192"
    res = daemon.cli("run", "--rm", "--shm-size", "8m", "busybox", "sh", "-c",
                     "head -c 9m /dev/zero > /dev/shm/big; wc -c < /dev/shm/big")
    assert int(res.stdout) <= 8 * 1024 * 1024  # the write stopped at the size


def test_blkio_weight_discarded_with_docker_warning(daemon):
    res = daemon.cli("run", "--rm", "--blkio-weight", "300", "busybox", "true", check=True)
    if os.path.exists("/sys/fs/cgroup/blkio/blkio.weight") or os.path.exists(
            "/sys/fs/cgroup/blkio/blkio.bfq.weight"):
        pytest.skip("this kernel has blkio weights: the value is applied")
    assert b"WARNING: Your kernel does not support Block I/O weight" in res.stderr
