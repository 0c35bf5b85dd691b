"""`docker stats`: cgroup counters -> the Engine API's stats JSON.

The daemon reads the container's cgroup itself (whatever runtime made it)
and the container's network counters from /proc/<pid>/net/dev. CPU % is
the client's job (docker's formula over two samples), so each document
carries the previous sample in ``precpu_stats``.
"""

from __future__ import annotations

import os

from dockling import clock
from dockling.containers.model import Container


def system_cpu_ns() -> int:
    """Total host CPU time (all CPUs, all modes) in ns, as docker reads /proc/stat."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * (10**9 // os.sysconf("SC_CLK_TCK"))


def host_memory() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    return 0


def networks(pid: int) -> dict:
    """Per-interface counters inside the container's network namespace (not lo)."""
    out = {}
    try:
        with open(f"/proc/{pid}/net/dev") as f:
            lines = f.read().splitlines()[2:]
    except OSError:
        return out
    for line in lines:
        name, _, rest = line.partition(":")
        name = name.strip()
        if name == "lo":
            continue
        v = [int(x) for x in rest.split()]
        out[name] = {"rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2],
                     "rx_dropped": v[3], "tx_bytes": v[8], "tx_packets": v[9],
                     "tx_errors": v[10], "tx_dropped": v[11]}
    return out


def _cpu(sample: dict | None, system: int) -> dict:
    if sample is None:
        return {"cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0,
                              "usage_in_usermode": 0}, "throttling_data": {
            "periods": 0, "throttled_periods": 0, "throttled_time": 0}}
    return {"cpu_usage": {"total_usage": sample["cpu_total_ns"],
                          **({"percpu_usage": sample["cpu_percpu_ns"]}
                             if sample["cpu_percpu_ns"] else {}),
                          "usage_in_kernelmode": sample["cpu_kernel_ns"],
                          "usage_in_usermode": sample["cpu_user_ns"]},
            "system_cpu_usage": system, "online_cpus": os.cpu_count() or 1,
            "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0}}


def document(c: Container, sample: dict, system: int, previous: tuple[dict, int, str] | None,
             mem_total: int) -> dict:
    """The stats JSON of one reading; ``previous`` = (sample, system, read time)."""
    limit = sample["mem_limit"]
    if not limit or limit > mem_total:
        limit = mem_total  # docker shows the host's memory for "no limit"
    pre_sample, pre_system, pre_read = previous if previous else (None, 0, clock.ZERO)
    return {
        "name": c.Name, "id": c.Id, "read": clock.now(), "preread": pre_read,
        "pids_stats": {"current": sample["pids_current"],
                       **({"limit": sample["pids_limit"]} if sample["pids_limit"] else {})},
        "blkio_stats": {"io_service_bytes_recursive": [
            {"major": ma, "minor": mi, "op": op, "value": v} for ma, mi, op, v in sample["io"]
        ] or None},
        "num_procs": 0, "storage_stats": {},
        "cpu_stats": _cpu(sample, system),
        "precpu_stats": {**_cpu(pre_sample, pre_system),
                         **({"system_cpu_usage": pre_system} if pre_sample else {})},
        "memory_stats": {"usage": sample["mem_usage"], "max_usage": sample["mem_max_usage"],
                         "stats": sample["mem_stat"], "failcnt": sample["mem_failcnt"],
                         "limit": limit},
        "networks": networks(c.State.Pid) if c.State.Pid else {},
    }


def zero(c: Container) -> dict:
    """The document docker sends for a container that is not running."""
    return {"name": c.Name, "id": c.Id, "read": clock.ZERO, "preread": clock.ZERO,
            "pids_stats": {}, "blkio_stats": {"io_service_bytes_recursive": None},
            "num_procs": 0, "storage_stats": {}, "cpu_stats": _cpu(None, 0),
            "precpu_stats": _cpu(None, 0), "memory_stats": {}, "networks": {}}
