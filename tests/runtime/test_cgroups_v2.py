"""cgroup v2 driven on its file layout only: this machine's kernel runs the
hybrid v1 layout, so a temp dir shaped like /sys/fs/cgroup stands in for
a pure v2 host (the kernel's enforcement is not exercised here)."""

from __future__ import annotations

import os

import pytest

from dockling.errors import InvalidArgument
from dockling.runtime import spec
from dockling.runtime.cgroups import normalize_path, v2, values

FILES = ["cgroup.procs", "cgroup.freeze", "cpu.weight", "cpu.max", "cpu.idle", "cpuset.cpus",
         "cpuset.mems", "memory.max", "memory.low", "memory.swap.max", "pids.max", "io.weight",
         "io.max", "cgroup.subtree_control", "cgroup.controllers"]


class FakeV2Root:
    """mkdir in a real cgroup2 fs creates the interface files; here we do."""

    def __init__(self, path: str) -> None:
        self.path = path
        with open(os.path.join(path, "cgroup.controllers"), "w") as f:
            f.write("cpuset cpu io memory pids")
        open(os.path.join(path, "cgroup.subtree_control"), "w").close()

    def populate(self, rel: str) -> str:
        d = self.path + rel
        for name in FILES:
            p = os.path.join(d, name)
            if not os.path.exists(p):
                with open(p, "w") as f:
                    f.write("cpuset cpu io memory pids" if name == "cgroup.controllers" else "")
        return d


def _read(d, name):
    with open(os.path.join(d, name)) as f:
        return f.read()


@pytest.fixture
def fake(tmp_path):
    return FakeV2Root(str(tmp_path))


def _resources():
    return spec.Resources(
        cpu=spec.CPUResources(shares=1024, quota=50000, period=100000, cpus="0-1", mems="0"),
        memory=spec.MemoryResources(limit=256 * 2**20, swap=512 * 2**20,
                                    reservation=128 * 2**20),
        pids=spec.PidsResources(limit=100),
        block_io=spec.BlockIOResources(weight=500),
        unified={"memory.high": "200000000"},
    )


def test_v2_writes_converted_values(fake):
    m = v2.Manager("/parent/c1", root=fake.path)
    os.makedirs(fake.path + "/parent/c1")
    fake.populate("/parent")
    d = fake.populate("/parent/c1")
    open(os.path.join(d, "memory.high"), "w").close()
    m.create(_resources())
    assert _read(d, "cpu.weight") == "39"  # 1 + (1024-2)*9999/262142
    assert _read(d, "cpu.max") == "50000 100000"
    assert _read(d, "cpuset.cpus") == "0-1"
    assert _read(d, "memory.max") == str(256 * 2**20)
    assert _read(d, "memory.swap.max") == str(256 * 2**20)  # swap alone
    assert _read(d, "memory.low") == str(128 * 2**20)
    assert _read(d, "pids.max") == "100"
    assert _read(d, "io.weight") == "default 4950"  # 1 + (500-10)*9999//990
    assert _read(d, "memory.high") == "200000000"
    # controllers enabled top-down in each ancestor
    assert "+memory" in _read(fake.path, "cgroup.subtree_control")
    assert "+pids" in _read(fake.path + "/parent", "cgroup.subtree_control")


def test_v2_freeze_and_add(fake):
    m = v2.Manager("/c2", root=fake.path)
    os.makedirs(fake.path + "/c2")
    d = fake.populate("/c2")
    m.add(1234)
    assert _read(d, "cgroup.procs") == "1234"
    m.freeze()
    assert m.frozen()
    m.thaw()
    assert not m.frozen()


def test_v2_missing_controller_file_is_an_error(fake):
    m = v2.Manager("/c3", root=fake.path)
    os.makedirs(fake.path + "/c3")
    with pytest.raises(InvalidArgument, match="pids.max"):
        m.update(spec.Resources(pids=spec.PidsResources(limit=5)))


def test_v2_hugetlb_written_and_network_refused(fake):
    # runtime-spec: a value the runtime cannot apply is an error; both were
    # dropped without a word (runtime-tools' linux_cgroups_hugetlb/network).
    m = v2.Manager("/c5", root=fake.path)
    os.makedirs(fake.path + "/c5")
    d = fake.populate("/c5")
    open(os.path.join(d, "hugetlb.2MB.max"), "w").close()
    m.update(spec.Resources(hugepage_limits=[spec.HugepageLimit(page_size="2MB", limit=-1)]))
    assert _read(d, "hugetlb.2MB.max") == "max"
    with pytest.raises(InvalidArgument, match="hugetlb.1GB.max"):
        m.update(spec.Resources(hugepage_limits=[spec.HugepageLimit(page_size="1GB", limit=1)]))
    with pytest.raises(InvalidArgument, match="linux.resources.network"):
        m.update(spec.Resources(network=spec.NetworkResources(class_id=1)))


def test_v2_create_removes_what_it_made_on_error(fake):
    m = v2.Manager("/new/c4", root=fake.path)
    with pytest.raises(InvalidArgument):
        m.create(spec.Resources(pids=spec.PidsResources(limit=5)))
    assert not os.path.exists(fake.path + "/new")


@pytest.mark.parametrize("fn, args, want", [
    (values.shares_to_weight, (2,), 1),
    (values.shares_to_weight, (262144,), 10000),
    (values.blkio_to_io_weight, (10,), 1),
    (values.blkio_to_io_weight, (1000,), 10000),
    (values.cpu_max, (None, 100000), "max 100000"),
    (values.cpu_max, (-1, None), "max 100000"),
    (values.v2_swap, (100, -1), "max"),
    (values.v2_swap, (100, 300), "200"),
    (values.pids_max, (0,), "max"),
    (values.pids_max, (-1,), "max"),
])
def test_value_conversions(fn, args, want):
    assert fn(*args) == want


def test_swap_below_limit_refused():
    with pytest.raises(ValueError):
        values.v2_swap(200, 100)


def test_cgroups_path_forms():
    assert normalize_path("", "abc") == "/abc"
    assert normalize_path("/a/b", "x") == "/a/b"
    assert normalize_path("a/b", "x") == "/a/b"
    assert normalize_path("system.slice:docker:abc", "x") == "/system.slice/docker-abc"


def test_stats_read_from_the_v2_files(tmp_path):
    """docker stats on a v2 host: counters from cpu.stat, memory.*, pids.*, io.stat."""
    d = tmp_path / "ctr"
    d.mkdir()
    files = {
        "cpu.stat": "usage_usec 2500000\nuser_usec 2000000\nsystem_usec 500000\n",
        "memory.current": "10485760\n", "memory.max": "max\n", "memory.peak": "20971520\n",
        "memory.stat": "anon 8388608\nfile 2097152\ninactive_file 1048576\n",
        "pids.current": "3\n", "pids.max": "42\n",
        "io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
    }
    for name, text in files.items():
        (d / name).write_text(text)
    st = v2.Manager("/ctr", root=str(tmp_path)).stats()
    assert st["cpu_total_ns"] == 2_500_000_000 and st["cpu_user_ns"] == 2_000_000_000
    assert st["mem_usage"] == 10485760 and st["mem_limit"] == 0  # "max": no limit
    assert st["mem_max_usage"] == 20971520 and st["mem_stat"]["inactive_file"] == 1048576
    assert (st["pids_current"], st["pids_limit"]) == (3, 42)
    assert st["io"] == [(8, 0, "read", 4096), (8, 0, "write", 8192)]
