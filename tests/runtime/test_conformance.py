"""Cases from opencontainers/runtime-tools' validation programs
(tools/runtime_tools.sh runs the programs themselves) where dockling-runc
differed from runc, under both runtimes."""

from __future__ import annotations

import os

import pytest

from dockling.runtime import cgroups, rootfs
from dockling.runtime.cgroups import v1
from dockling.kernel import syscalls as sc
from tests.conftest import new_id


def run(runtime, bundle, *argv, cid=None):
    bundle.args(*argv)
    cid = cid or new_id("oci")
    return runtime("run", "--bundle", bundle.write(cid), cid, check=False)


def test_fifo_device_is_created_and_left_out_of_the_device_cgroup(runtime, bundle):
    # runtime-tools' linux_devices: a "p" device is a node to make, not a
    # device cgroup rule (v1's devices.allow refuses "p 8:666 rwm").
    bundle.config["linux"]["devices"] = [
        {"type": "p", "path": "/dev/test3", "major": 8, "minor": 666, "fileMode": 0o660},
        {"type": "u", "path": "/dev/test4", "major": 1, "minor": 3, "fileMode": 0o666},
    ]
    res = run(runtime, bundle, "sh", "-c",
              "ls -l /dev/test3 /dev/test4; echo x > /dev/test4 && echo wrote")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().splitlines()
    assert out[0].startswith("prw-rw----"), out
    assert out[1].startswith("crw-rw-rw-"), out
    assert out[2] == "wrote"


def _without_mount_namespace(bundle) -> None:
    lx = bundle.config["linux"]
    lx["namespaces"] = [n for n in lx["namespaces"] if n["type"] != "mount"]
    lx["maskedPaths"] = []
    lx["readonlyPaths"] = []
    with open(os.path.join(bundle.rootfs, "marker"), "w") as f:
        f.write("inside\n")


def _root_is_shared() -> bool:
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/":
                return any(x.startswith("shared:") for x in fields[6:fields.index("-")])
    return False


def _skip_runc_on_shared_root(runtime) -> None:
    if runtime.name == "runc" and _root_is_shared():
        # runc 1.1 makes "/" rslave in the namespace it shares: the host's.
        pytest.skip("runc would change the host's root propagation")


def test_without_mount_namespace_the_runtimes_is_used(runtime, bundle):
    # runtime-tools' linux_ns_itype: every namespace type left out is the
    # runtime's own; the root is still the bundle's (chroot, as runc does).
    _skip_runc_on_shared_root(runtime)
    _without_mount_namespace(bundle)
    try:
        res = run(runtime, bundle, "sh", "-c", "readlink /proc/self/ns/mnt; cat /marker")
    finally:
        left = rootfs.mounts_below(bundle.rootfs)
        rootfs.unmount_below(bundle.rootfs)  # runc 1.1 leaves its mounts behind,
        rootfs.unmount_below(os.path.dirname(bundle.rootfs))  # and rootfs bound on itself
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split() == [os.readlink("/proc/self/ns/mnt"), "inside"]
    if runtime.name == "dockling-runc":
        assert left == []


def test_without_mount_namespace_exec_and_delete(dockling, bundle):
    # exec has no mount namespace to join: it enters the init's root; delete
    # takes away the mounts made below the rootfs, and only those.
    _without_mount_namespace(bundle)
    keep = os.path.join(bundle.rootfs, "mnt")
    os.makedirs(keep, exist_ok=True)
    sc.mount("tmpfs", keep, "tmpfs", 0, "size=64k")
    cid = new_id("nomnt")
    try:
        bundle.args("sleep", "30")
        dockling.create(cid, bundle.write(cid))
        assert {mp for _, mp in rootfs.mounts_below(bundle.rootfs)} >= {
            os.path.join(bundle.rootfs, "proc"), os.path.join(bundle.rootfs, "dev")}
        dockling("start", cid)
        res = dockling("exec", cid, "sh", "-c", "cat /marker; readlink /proc/self/ns/mnt")
        assert res.stdout.decode().split() == ["inside", os.readlink("/proc/self/ns/mnt")]
        dockling("delete", "--force", cid)
        assert [mp for _, mp in rootfs.mounts_below(bundle.rootfs)] == [keep]
    finally:
        rootfs.unmount_below(bundle.rootfs)


def test_without_mount_namespace_failed_create_leaves_no_mount(dockling, bundle):
    _without_mount_namespace(bundle)
    bundle.args("/no-such-program")
    cid = new_id("nomnt")
    try:
        res = dockling("create", "--bundle", bundle.write(cid), cid, check=False)
        assert res.returncode != 0 and b"no-such-program" in res.stderr
        assert rootfs.mounts_below(bundle.rootfs) == []
    finally:
        rootfs.unmount_below(bundle.rootfs)


@pytest.mark.parametrize("resources", [
    {"hugepageLimits": [{"pageSize": "2MB", "limit": 2097152}]},
    {"network": {"classID": 1048577}},
], ids=["hugetlb", "net_cls"])
def test_limits_of_an_unmounted_controller_are_refused(runtime, bundle, resources):
    # runtime-tools' linux_cgroups_hugetlb/network on a host without those
    # controllers: runc refuses, dockling-runc ran without the limit.
    controller = "hugetlb" if "hugepageLimits" in resources else "net_cls"
    if cgroups.is_unified() or controller in v1.find_mounts():
        pytest.skip(f"a cgroup v1 host without {controller}")
    bundle.config["linux"]["resources"].update(resources)
    res = run(runtime, bundle, "true")
    assert res.returncode != 0
    assert controller in res.stderr.decode() or "cgroup" in res.stderr.decode()
