"""containers/resources.py: docker's create-time checks and the OCI resources,
without root (the host's CPU count and online CPUs are stubbed)."""

from __future__ import annotations

import pytest

from dockling import gojson
from dockling.containers import resources
from dockling.containers.model import HostConfig
from dockling.errors import InvalidArgument

MB = 1 << 20


@pytest.fixture(autouse=True)
def four_cpus(monkeypatch):
    monkeypatch.setattr(resources.os, "cpu_count", lambda: 4)
    monkeypatch.setattr(resources, "_online", lambda path: {0, 1, 2, 3})



def _hc(doc: dict) -> HostConfig:
    """A HostConfig as the API's door makes it from a request's JSON."""
    return gojson.convert(doc, HostConfig)

@pytest.mark.parametrize("hc", [
    {},
    {"Memory": 6 * MB},
    {"Memory": 64 * MB, "MemorySwap": 64 * MB},
    {"Memory": 64 * MB, "MemorySwap": -1},
    {"NanoCpus": 4 * 10**9},
    {"CpuQuota": 50000, "CpuPeriod": 100000},
    {"CpusetCpus": "0-1,3"},
    {"BlkioWeight": 10}, {"BlkioWeight": 1000},
    {"CpuShares": 0}, {"CpuShares": 2},
    {"Ulimits": [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]},
    {"Ulimits": [{"Name": "nproc", "Soft": 5}]},
])
def test_accepted(hc):
    resources.validate(_hc(hc))


@pytest.mark.parametrize("hc, message", [
    ({"Memory": 6 * MB - 1}, "Minimum memory limit allowed is 6MB"),
    ({"Memory": 64 * MB, "MemorySwap": 32 * MB},
     "Minimum memoryswap limit should be larger than memory limit, see usage"),
    ({"MemorySwap": 64 * MB},
     "You should always set the Memory limit when using Memoryswap limit, see usage"),
    ({"NanoCpus": 10**9, "CpuQuota": 1000},
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 10**9, "CpuPeriod": 100000},
     "Conflicting options: Nano CPUs and CPU Period cannot both be set"),
    ({"NanoCpus": 5 * 10**9}, "Range of CPUs is from 0.01 to 4.00, as there are only 4 CPUs "
                              "available"),
    ({"NanoCpus": -1}, "Range of CPUs is from 0.01 to 4.00"),
    ({"CpusetCpus": "0-5"}, "Requested CPUs are not available - requested 0-5, "
                            "available: 0-3"),
    ({"CpusetCpus": "a"}, "Invalid value a for cpuset cpus"),
    ({"BlkioWeight": 9}, "Range of blkio weight is from 10 to 1000"),
    ({"BlkioWeight": 1001}, "Range of blkio weight is from 10 to 1000"),
    ({"CpuShares": -1}, "invalid CPU shares"),
    ({"Ulimits": [{"Name": "nofiles", "Soft": 1}]}, "invalid ulimit type: nofiles"),
    ({"Ulimits": [{"Name": "nofile", "Soft": 20, "Hard": 10}]},
     "ulimit soft limit must be less than or equal to hard limit: 20 > 10"),
])
def test_refused_with_dockers_message(hc, message):
    with pytest.raises(InvalidArgument) as err:
        resources.validate(_hc(hc))
    assert str(err.value).startswith(message)


def test_oci_resources():
    assert resources.oci_resources(_hc({})) == {}
    assert resources.oci_resources(_hc({"NanoCpus": 1_500_000_000, "CpuShares": 512,
                                    "CpusetCpus": "0", "CpusetMems": "0"})) == {
        "cpu": {"shares": 512, "period": 100000, "quota": 150000, "cpus": "0", "mems": "0"}}
    assert resources.oci_resources(_hc({"CpuPeriod": 50000, "CpuQuota": 25000})) == {
        "cpu": {"period": 50000, "quota": 25000}}
    # docker: no --memory-swap means as much swap as memory; -1 means unlimited
    assert resources.oci_resources(_hc({"Memory": 64 * MB}))["memory"] == {
        "limit": 64 * MB, "swap": 128 * MB}
    assert resources.oci_resources(_hc({"Memory": 64 * MB, "MemorySwap": -1}))["memory"] == {
        "limit": 64 * MB, "swap": -1}
    assert resources.oci_resources(_hc({"Memory": 64 * MB, "MemorySwap": 96 * MB}))["memory"] == {
        "limit": 64 * MB, "swap": 96 * MB}
    assert resources.oci_resources(_hc({"MemoryReservation": 32 * MB, "OomKillDisable": True})) == {
        "memory": {"reservation": 32 * MB, "disableOOMKiller": True}}
    assert resources.oci_resources(_hc({"PidsLimit": 42})) == {"pids": {"limit": 42}}
    assert resources.oci_resources(_hc({"PidsLimit": -1})) == {"pids": {"limit": -1}}
    assert resources.oci_resources(_hc({"PidsLimit": 0})) == {}  # 0: unset, as docker
    assert resources.oci_resources(_hc({"BlkioWeight": 300})) == {"blockIO": {"weight": 300}}


def test_rlimits():
    assert resources.rlimits(_hc({})) == []
    assert resources.rlimits(_hc({"Ulimits": [{"Name": "nofile", "Soft": 10, "Hard": 20},
                                          {"Name": "core", "Soft": 0}]})) == [
        {"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]


def test_discard_unsupported_blkio_weight(monkeypatch):
    monkeypatch.setattr(resources, "_has_blkio_weight", lambda: False)
    hc = _hc({"BlkioWeight": 300})
    assert resources.discard_unsupported(hc) == [
        "Your kernel does not support Block I/O weight or the cgroup is not mounted. "
        "Weight discarded."]
    assert hc.BlkioWeight == 0
    monkeypatch.setattr(resources, "_has_blkio_weight", lambda: True)
    hc = _hc({"BlkioWeight": 300})
    assert resources.discard_unsupported(hc) == [] and hc.BlkioWeight == 300


def test_cpu_realtime(monkeypatch):
    """docker's real-time limits: refused where the kernel has no RT group scheduling
    (moby sysinfo.CPURealtime: v1's cpu.rt_period_us; never on v2), runtime not
    above period, and into the spec's cpu.realtime* (written to cpu.rt_*_us)."""
    hc = {"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 500}
    monkeypatch.setattr(resources, "_has_cpu_realtime", lambda: False)
    with pytest.raises(InvalidArgument, match="^Your kernel does not support CPU real-time "
                                              "scheduler$"):
        resources.validate(_hc(hc))
    monkeypatch.setattr(resources, "_has_cpu_realtime", lambda: True)
    resources.validate(_hc(hc))
    with pytest.raises(InvalidArgument, match="^cpu-rt-runtime cannot be higher than "
                                              "cpu-rt-period$"):
        resources.validate(_hc({"CpuRealtimePeriod": 500, "CpuRealtimeRuntime": 1000}))
    assert resources.oci_resources(_hc(hc)) == {"cpu": {"realtimePeriod": 1000,
                                                   "realtimeRuntime": 500}}
