"""HostConfig resource fields -> OCI linux.resources and process.rlimits.

Pure and checked the way docker checks them at create time, with docker's
messages. The runtime then writes the values into the cgroup and the
kernel enforces them.
"""

from __future__ import annotations

import os

from dockling.containers.model import HostConfig, Resources
from dockling.errors import InvalidArgument
from dockling.runtime import capabilities

MIN_MEMORY = 6 * 1024 * 1024  # docker: "Minimum memory limit allowed is 6MB"
CPU_PERIOD = 100000


def _cpu_list(spec: str) -> set[int]:
    out: set[int] = set()
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        a, _, b = part.partition("-")
        if not a.isdigit() or (b and not b.isdigit()):
            raise InvalidArgument(f"Invalid value {spec} for cpuset cpus")
        out.update(range(int(a), int(b or a) + 1))
    return out


def _online(path: str) -> set[int]:
    try:
        with open(path) as f:
            return _cpu_list(f.read().strip())
    except OSError:
        return set(range(os.cpu_count() or 1))


def discard_unsupported(hc: HostConfig) -> list[str]:
    """Like docker: what this kernel cannot do is dropped with a warning, not refused."""
    warnings = []
    if hc.BlkioWeight and not _has_blkio_weight():
        hc.BlkioWeight = 0
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not "
                        "mounted. Weight discarded.")
    return warnings


def _has_blkio_weight() -> bool:
    from dockling.runtime.cgroups import is_unified
    from dockling.runtime.cgroups.v1 import find_mounts

    if is_unified():
        return any(os.path.exists(f"/sys/fs/cgroup/{f}") for f in ("io.weight",
                                                                     "io.bfq.weight"))
    mount = find_mounts().get("blkio")
    return bool(mount) and any(os.path.exists(os.path.join(mount, f)) for f in (
        "blkio.weight", "blkio.bfq.weight"))


def _has_cpu_realtime() -> bool:
    """moby sysinfo's CPURealtime: v1's cpu.rt_period_us (CONFIG_RT_GROUP_SCHED); cgroup
    v2 has no real-time budgets."""
    from dockling.runtime.cgroups import is_unified
    from dockling.runtime.cgroups.v1 import find_mounts

    if is_unified():
        return False
    mount = find_mounts().get("cpu")
    return bool(mount) and os.path.exists(os.path.join(mount, "cpu.rt_period_us"))


def validate(hc: Resources | HostConfig) -> None:
    """docker's create-time checks of the resource fields."""
    mem = hc.Memory
    if mem and mem < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    swap = hc.MemorySwap
    if swap > 0 and mem and swap < mem:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if swap > 0 and not mem:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if hc.NanoCpus and (hc.CpuQuota or hc.CpuPeriod):
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    nano = hc.NanoCpus
    ncpu = os.cpu_count() or 1
    if nano < 0 or nano > ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    cpus = hc.CpusetCpus
    if cpus:
        want = _cpu_list(cpus)
        have = _online("/sys/devices/system/cpu/online")
        if not want <= have:
            raise InvalidArgument(f"Requested CPUs are not available - requested {cpus}, "
                                  f"available: {_fmt(have)}")
    rt_period, rt_runtime = hc.CpuRealtimePeriod, hc.CpuRealtimeRuntime
    if (rt_period > 0 or rt_runtime > 0) and not _has_cpu_realtime():
        raise InvalidArgument("Your kernel does not support CPU real-time scheduler")
    if rt_period and rt_runtime and rt_runtime > rt_period:
        raise InvalidArgument("cpu-rt-runtime cannot be higher than cpu-rt-period")
    weight = hc.BlkioWeight
    if weight and not 10 <= weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    shares = hc.CpuShares
    if shares < 0:
        raise InvalidArgument("invalid CPU shares")
    for u in hc.Ulimits or []:
        if capabilities.rlimit_number(f"RLIMIT_{u.Name}") is None:
            raise InvalidArgument(f"invalid ulimit type: {u.Name}")
        if u.Soft > (u.Hard or u.Soft):  # a missing hard limit is the soft one
            raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard "
                                  f"limit: {u.Soft} > {u.Hard}")


def _fmt(cpus: set[int]) -> str:
    s = sorted(cpus)
    return f"{s[0]}-{s[-1]}" if s and s == list(range(s[0], s[-1] + 1)) else ",".join(
        map(str, s))


# config.json's linux.resources.cpu keys <- HostConfig's fields
_OCI_CPU = (("shares", "CpuShares"), ("period", "CpuPeriod"), ("quota", "CpuQuota"),
            ("cpus", "CpusetCpus"), ("mems", "CpusetMems"),
            ("realtimePeriod", "CpuRealtimePeriod"), ("realtimeRuntime", "CpuRealtimeRuntime"))


def oci_resources(hc: HostConfig) -> dict:
    """The resources part of config.json (devices are added by the caller)."""
    r: dict = {}
    cpu: dict = {}
    if hc.NanoCpus:
        cpu["period"] = CPU_PERIOD
        cpu["quota"] = hc.NanoCpus * CPU_PERIOD // 10**9
    for key, field in _OCI_CPU:  # set ones only; a period or quota wins over NanoCpus
        if getattr(hc, field):
            cpu[key] = getattr(hc, field)
    if cpu:
        r["cpu"] = cpu
    mem: dict = {}
    if hc.Memory:
        mem["limit"] = hc.Memory
        swap = hc.MemorySwap
        # docker: swap unset means as much swap as memory (limit + swap = 2x)
        mem["swap"] = -1 if swap == -1 else (swap or 2 * hc.Memory)
    if hc.MemoryReservation:
        mem["reservation"] = hc.MemoryReservation
    if hc.OomKillDisable:
        mem["disableOOMKiller"] = True
    if mem:
        r["memory"] = mem
    pids = hc.PidsLimit
    if pids:
        r["pids"] = {"limit": pids if pids > 0 else -1}
    if hc.BlkioWeight:
        r["blockIO"] = {"weight": hc.BlkioWeight}
    return r


def rlimits(hc: HostConfig) -> list[dict]:
    """--ulimit name=soft[:hard] -> OCI rlimits (RLIMIT_NOFILE ...)."""
    out = []
    for u in hc.Ulimits or []:
        out.append({"type": f"RLIMIT_{u.Name.upper()}", "soft": u.Soft,
                    "hard": u.Hard or u.Soft})
    return out
