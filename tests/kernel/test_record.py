"""The kernel seam: the Fake runs pure logic without root, the Recorder writes
each real call (name, readable arguments, errno, duration) while making it."""

from __future__ import annotations

import errno
import os

import pytest

from dockling import kernel
from dockling.kernel import record
from dockling.kernel import syscalls as sc
from dockling.runtime import capabilities, namespaces, rootfs, spec
from dockling.runtime.cgroups import v1, v2

ROOT = os.geteuid() == 0


def test_calls_reach_the_kernel_in_use_and_only_inside_using():
    fake = record.Fake()
    with kernel.using(fake):
        sc.mount("tmpfs", "/nowhere", "tmpfs", sc.MS_NOSUID | sc.MS_NODEV, "size=1m")
        sc.umount("/nowhere", sc.MNT_DETACH)
    assert kernel.current() is not fake
    assert fake.calls == [
        ("mount", {"source": "tmpfs", "target": "/nowhere", "fstype": "tmpfs",
                   "flags": "MS_NOSUID|MS_NODEV", "data": "size=1m"}),
        ("umount", {"target": "/nowhere", "flags": "MNT_DETACH"}),
    ]


def test_new_namespaces_are_one_unshare_with_their_flags():
    fake = record.Fake()
    with kernel.using(fake):
        namespaces.enter({"mount": "", "pid": "", "uts": "", "ipc": ""}, sock=None)
    assert fake.named("unshare") == [
        {"flags": "CLONE_NEWNS|CLONE_NEWUTS|CLONE_NEWIPC|CLONE_NEWPID"}]


def test_sysfs_refused_is_bound_from_the_host(tmp_path):
    # --network host: sysfs needs a network namespace of our own; docker binds /sys
    fake = record.Fake(fail={"mount": errno.EPERM})
    m = spec.Mount(destination="/sys", type="sysfs", source="sysfs",
                   options=["nosuid", "noexec", "nodev", "ro"])
    with kernel.using(fake):
        rootfs.mount_one(str(tmp_path), m, [])
    first, bind, remount = fake.named("mount")
    assert first["fstype"] == "sysfs"
    assert (bind["source"], bind["flags"]) == ("/sys", "MS_BIND|MS_REC")
    assert remount["flags"] == "MS_RDONLY|MS_NOSUID|MS_NODEV|MS_NOEXEC|MS_REMOUNT|MS_BIND"
    assert (tmp_path / "sys").is_dir()


def test_a_mount_that_fails_for_another_reason_is_an_error(tmp_path):
    fake = record.Fake(fail={"mount": errno.EACCES})
    with kernel.using(fake), pytest.raises(OSError) as info:
        rootfs.mount_one(str(tmp_path), spec.Mount(destination="/sys", type="sysfs"), [])
    assert info.value.errno == errno.EACCES
    assert len(fake.named("mount")) == 1


def test_cgroup_v1_cpu_limits_are_the_files_written(tmp_path):
    cpu = tmp_path / "cpu"
    cpu.mkdir()
    mgr = v1.Manager("/dockling/c1", mounts={"cpu": str(cpu)})
    res = spec.Resources(cpu=spec.CPUResources(quota=50000, period=100000, shares=512))
    fake = record.Fake()
    with kernel.using(fake):
        mgr.create(res)
    d = f"{cpu}/dockling/c1"
    assert fake.files == {f"{d}/cpu.shares": "512", f"{d}/cpu.cfs_period_us": "100000",
                          f"{d}/cpu.cfs_quota_us": "50000"}


def test_cgroup_v2_cpu_max(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "c1").mkdir()
    (tmp_path / "c1" / "cpu.max").write_text("max 100000\n")  # the kernel makes it
    mgr = v2.Manager("/c1", root=str(tmp_path))
    fake = record.Fake()
    with kernel.using(fake):
        mgr.create(spec.Resources(cpu=spec.CPUResources(quota=50000, period=100000)))
    assert fake.files == {f"{tmp_path}/cgroup.subtree_control": "+cpu +memory +pids",
                          f"{tmp_path}/c1/cpu.max": "50000 100000"}


def test_capabilities_kept_and_dropped_by_name():
    caps = spec.Capabilities(bounding=["CAP_KILL"], effective=["CAP_KILL"],
                             permitted=["CAP_KILL"], inheritable=[], ambient=[])
    fake = record.Fake()
    with kernel.using(fake):
        capabilities.drop_bounding(caps, sc)
        capabilities.set_sets(caps, sc)
    dropped = [a["cap"] for a in fake.named("prctl") if a["option"] == "PR_CAPBSET_DROP"]
    assert "CAP_KILL" not in dropped and "CAP_SYS_ADMIN" in dropped
    assert fake.named("capset") == [
        {"effective": ["CAP_KILL"], "permitted": ["CAP_KILL"], "inheritable": []}]


@pytest.mark.skipif(not ROOT, reason="needs root (a mount namespace)")
def test_recorder_writes_each_real_call_with_its_error(tmp_path):
    trace = tmp_path / "trace.jsonl"
    target = tmp_path / "mnt"
    target.mkdir()
    pid = os.fork()
    if pid == 0:  # a child of our own: the mount namespace goes with it
        code = 1
        try:
            rec = record.Recorder(str(trace), "test")
            kernel.install(rec)
            sc.unshare(sc.CLONE_NEWNS)
            sc.mount(None, "/", None, sc.MS_SLAVE | sc.MS_REC)
            sc.mount("tmpfs", str(target), "tmpfs", 0, "size=1m")
            try:
                sc.mount("tmpfs", str(tmp_path / "missing"), "tmpfs")
            except FileNotFoundError:
                code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert not os.path.ismount(target)  # it was the child's namespace
    recs = record.read(str(trace))
    assert [r["call"] for r in recs] == ["unshare", "mount", "mount", "mount"]
    assert all(r["pid"] == pid and r["role"] == "test" and r["ms"] >= 0 for r in recs)
    assert recs[0]["args"] == {"flags": "CLONE_NEWNS"}
    assert recs[2]["args"]["target"] == str(target) and "error" not in recs[2]
    assert recs[3]["error"].startswith("ENOENT")


def test_read_orders_records_in_time_and_skips_a_cut_line(tmp_path):
    trace = tmp_path / "t.jsonl"
    trace.write_text('{"ts": 2, "call": "b"}\n{"ts": 1, "call": "a"}\n{"ts": 3, "ca')
    assert [r["call"] for r in record.read(str(trace))] == ["a", "b"]
    assert record.read(str(tmp_path / "none")) == []
