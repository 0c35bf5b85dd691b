"""cgroup v1 values on a file layout (temp dirs stand in for hierarchies):
the controllers this machine does not mount (hugetlb, net_cls, net_prio)."""

from __future__ import annotations

import os

import pytest

from dockling.errors import InvalidArgument
from dockling.runtime import spec
from dockling.runtime.cgroups import v1


def _manager(tmp_path, *controllers):
    mounts = {}
    for c in controllers:
        os.makedirs(tmp_path / c)
        mounts[c] = str(tmp_path / c)
    return v1.Manager("/box", mounts=mounts)


def _read(path):
    with open(path) as f:
        return f.read()


def _resources(**kw):
    return spec.from_dict({"root": {"path": "r"}, "linux": {"resources": kw}}).linux.resources


def test_hugetlb_and_network_values(tmp_path):
    m = _manager(tmp_path, "hugetlb", "net_cls", "net_prio")
    m.create(_resources(hugepageLimits=[{"pageSize": "2MB", "limit": 2097152}],
                        network={"classID": 1048577,
                                 "priorities": [{"name": "lo", "priority": 7}]}))
    assert _read(tmp_path / "hugetlb/box/hugetlb.2MB.limit_in_bytes") == "2097152"
    assert _read(tmp_path / "net_cls/box/net_cls.classid") == "1048577"
    assert _read(tmp_path / "net_prio/box/net_prio.ifpriomap") == "lo 7"


@pytest.mark.parametrize("resources, field", [
    ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]}, "hugepageLimits"),
    ({"network": {"classID": 1}}, "network.classID"),
    ({"network": {"priorities": [{"name": "lo", "priority": 1}]}}, "network.priorities"),
])
def test_values_for_an_unmounted_controller_are_refused(tmp_path, resources, field):
    # runtime-spec: a value the runtime cannot apply is an error; they were
    # dropped without a word (runtime-tools' linux_cgroups_hugetlb/network).
    m = _manager(tmp_path, "memory")
    with pytest.raises(InvalidArgument) as err:
        m.create(_resources(**resources))
    assert f"linux.resources.{field}" in str(err.value)


def test_hugetlb_page_size_stays_a_file_name(tmp_path):
    m = _manager(tmp_path, "hugetlb")
    with pytest.raises(InvalidArgument):
        m.update(_resources(hugepageLimits=[{"pageSize": "../../x", "limit": 1}]))


def test_makedirs_of_one_parent_by_two_creates_at_once(tmp_path, monkeypatch):
    """Two creates under a fresh cgroup parent: the second finds the directory made
    (FileExistsError was an error: 'File exists: /sys/fs/cgroup/devices/<parent>'),
    and a cpuset dir the other one made but has not filled yet is filled."""
    root = tmp_path / "cpuset"
    root.mkdir()
    (root / "cpuset.cpus").write_text("0-1\n")
    (root / "cpuset.mems").write_text("0\n")
    made = []
    real_mkdir = os.mkdir

    def beaten(path, *a, **kw):  # the other create made it (empty, as the kernel does)
        real_mkdir(path, *a, **kw)
        for f in ("cpuset.cpus", "cpuset.mems"):
            open(os.path.join(path, f), "w").close()
        made.append(path)
        raise FileExistsError(path)

    monkeypatch.setattr(v1.os, "mkdir", beaten)
    assert v1._makedirs(str(root), "/parent/box", cpuset=True) == []
    assert made and _read(root / "parent" / "cpuset.cpus").strip() == "0-1"
    assert _read(root / "parent" / "box" / "cpuset.mems").strip() == "0"
