"""The leak lookups see every cgroup hierarchy: v1 controllers, named v1
hierarchies and the v2 tree, on hybrid and on unified hosts alike."""

from __future__ import annotations

from dockling.testing import leaks

HYBRID = """\
25 20 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate
27 25 0:24 / /sys/fs/cgroup/systemd rw,nosuid - cgroup cgroup rw,xattr,name=systemd
30 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct
31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid - cgroup cgroup rw,pids
40 20 0:40 / /proc rw - proc proc rw
"""
UNIFIED = """\
25 20 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
40 20 0:40 / /proc rw - proc proc rw
"""


def test_hybrid_host_checks_v1_and_the_v2_tree(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text(HYBRID)
    assert leaks.cgroup_dirs("/p/c", str(mi)) == [
        "/sys/fs/cgroup/cpu,cpuacct/p/c", "/sys/fs/cgroup/pids/p/c",
        "/sys/fs/cgroup/systemd/p/c", "/sys/fs/cgroup/unified/p/c"]


def test_unified_host_checks_the_root_tree(tmp_path):
    mi = tmp_path / "mountinfo"
    mi.write_text(UNIFIED)
    # a check hard-coded to /sys/fs/cgroup/pids/... would look where nothing is
    assert leaks.cgroup_dirs("p/c/", str(mi)) == ["/sys/fs/cgroup/p/c"]


def test_this_host_has_a_hierarchy():
    assert leaks.cgroup_mounts(), "no cgroup hierarchy mounted: leak checks would be empty"


def test_mounts_and_processes_under(tmp_path):
    assert leaks.mounts_under(str(tmp_path)) == []
    assert leaks.processes_under(str(tmp_path)) == []
    assert "/proc" in leaks.mounts_under("/proc")
