"""linux.resources enforced by the kernel (cgroup v1 on this machine):
values in the cgroup files, a busy loop held to half a CPU, an OOM kill,
a fork loop stopped by pids.max."""

from __future__ import annotations

import os
import time

from tests.conftest import new_id, wait_for

CG = "/sys/fs/cgroup"


def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _start(runtime, bundle, cid, *argv):
    bundle.args(*argv)
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    return st


def test_cgroup_files_hold_configured_values(runtime, bundle):
    bundle.config["linux"]["resources"].update({
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0", "mems": "0"},
        "memory": {"limit": 64 * 2**20, "reservation": 32 * 2**20, "swap": 64 * 2**20},
        "pids": {"limit": 42},
    })
    cid = new_id("cgv")
    _start(runtime, bundle, cid, "sleep", "300")
    rel = f"{bundle.cgroup_parent}/{cid}"
    assert _read(f"{CG}/cpu{rel}/cpu.cfs_quota_us") == "50000"
    assert _read(f"{CG}/cpu{rel}/cpu.cfs_period_us") == "100000"
    assert _read(f"{CG}/cpu{rel}/cpu.shares") == "512"
    assert _read(f"{CG}/cpuset{rel}/cpuset.cpus") == "0"
    assert _read(f"{CG}/memory{rel}/memory.limit_in_bytes") == str(64 * 2**20)
    assert _read(f"{CG}/memory{rel}/memory.soft_limit_in_bytes") == str(32 * 2**20)
    assert _read(f"{CG}/memory{rel}/memory.memsw.limit_in_bytes") == str(64 * 2**20)
    assert _read(f"{CG}/pids{rel}/pids.max") == "42"
    st = runtime.state(cid)
    assert str(st["pid"]) in _read(f"{CG}/memory{rel}/cgroup.procs").split()


def _cpu_usage_ns(rel: str) -> int:
    return int(_read(f"{CG}/cpuacct{rel}/cpuacct.usage"))


def test_half_cpu_quota_holds_busy_loop(runtime, bundle):
    bundle.config["linux"]["resources"]["cpu"] = {"quota": 50000, "period": 100000}
    cid = new_id("cpu")
    _start(runtime, bundle, cid, "sh", "-c", "while :; do :; done")
    rel = f"{bundle.cgroup_parent}/{cid}"
    time.sleep(0.5)
    u0, t0 = _cpu_usage_ns(rel), time.monotonic()
    time.sleep(2.0)
    u1, t1 = _cpu_usage_ns(rel), time.monotonic()
    cpus = (u1 - u0) / 1e9 / (t1 - t0)
    assert 0.2 < cpus <= 0.6, f"busy loop used {cpus:.2f} CPU under a 0.5 CPU quota"
    assert int(dict(line.split() for line in
                    _read(f"{CG}/cpu{rel}/cpu.stat").splitlines())["nr_throttled"]) > 0


def test_memory_limit_oom_kills(runtime, bundle):
    bundle.config["linux"]["resources"]["memory"] = {"limit": 32 * 2**20, "swap": 32 * 2**20}
    cid = new_id("oom")
    # dd holds one 64 MiB block in memory: over the limit
    bundle.args("sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1; echo rc=$?")
    res = runtime("run", "--bundle", bundle.write(cid), cid, check=False)
    assert b"rc=137" in res.stdout, (res.stdout, res.stderr)


def test_pids_limit_caps_fork_loop(runtime, bundle):
    bundle.config["linux"]["resources"]["pids"] = {"limit": 10}
    cid = new_id("pids")
    _start(runtime, bundle, cid, "sh", "-c",
           "for i in $(seq 30); do sleep 30 & done; wait")
    # busybox sh gives up the loop at the first failed fork
    assert wait_for(lambda: b"can't fork" in runtime.output(cid)[1]), runtime.output(cid)
    rel = f"{bundle.cgroup_parent}/{cid}"
    assert int(_read(f"{CG}/pids{rel}/pids.current")) <= 10
    assert int(_read(f"{CG}/pids{rel}/pids.events").split()[-1]) > 0


def _frozen(rel: str) -> bool:
    from dockling.testing.leaks import existing_cgroups

    dirs = existing_cgroups(rel)
    v1 = [d for d in dirs if os.path.exists(f"{d}/freezer.state")]
    if v1:  # a hybrid host freezes through v1's freezer
        return _read(f"{v1[0]}/freezer.state") == "FROZEN"
    return any("frozen 1" in _read(f"{d}/cgroup.events").splitlines() for d in dirs
               if os.path.exists(f"{d}/cgroup.freeze"))


def test_freezer_pause_stops_progress(dockling, bundle):
    cid = new_id("frz")
    bundle.args("sh", "-c", "i=0; while :; do i=$((i+1)); echo $i > /tmp/count; done")
    _start(dockling, bundle, cid, *bundle.config["process"]["args"])
    count = os.path.join(bundle.rootfs, "tmp/count")
    assert wait_for(lambda: os.path.exists(count) and os.path.getsize(count) > 0)
    dockling("pause", cid)
    # frozen in the kernel (v1 freezer.state, v2 cgroup.events), not a guess by sleeping
    assert wait_for(lambda: _frozen(f"{bundle.cgroup_parent}/{cid}"))
    before = _read(count)
    time.sleep(0.3)
    assert _read(count) == before
    dockling("resume", cid)
    assert wait_for(lambda: _read(count) != before)


def test_update_resources_library(dockling, bundle):
    """Runtime.update changes the limits of a live container (for `docker update`)."""
    from dockling.runtime import Runtime, spec

    cid = new_id("upd")
    bundle.config["linux"]["resources"]["pids"] = {"limit": 50}
    _start(dockling, bundle, cid, "sleep", "300")
    Runtime(dockling.root).update(cid, spec.Resources(pids=spec.PidsResources(limit=77)))
    assert _read(f"{CG}/pids{bundle.cgroup_parent}/{cid}/pids.max") == "77"
