"""Pure conversions from OCI resource values to cgroup file contents.

Formulas are the ones runc and crun use, so that docker's flags mean the
same under either cgroup version.
"""

from __future__ import annotations


def shares_to_weight(shares: int) -> int:
    """cgroup v1 cpu.shares [2, 262144] -> v2 cpu.weight [1, 10000]."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio.weight [10, 1000] -> io.weight [1, 10000]."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def cpu_max(quota: int | None, period: int | None) -> str:
    """cpu.max: "$QUOTA $PERIOD", "max" when unlimited."""
    q = "max" if quota is None or quota <= 0 else str(quota)
    return f"{q} {period or 100000}"


def v2_swap(limit: int | None, swap: int | None) -> str | None:
    """OCI memory.swap is memory+swap; v2 memory.swap.max is swap alone."""
    if swap is None:
        return None
    if swap == -1:
        return "max"
    if limit is None or limit == -1:
        raise ValueError("memory.swap needs memory.limit under cgroup v2")
    if swap < limit:
        raise ValueError("memory.swap must not be below memory.limit")
    return str(swap - limit)


def limit_str(value: int) -> str:
    return "max" if value == -1 else str(value)


def pids_max(limit: int) -> str:
    # runc: 0 or a negative limit means unlimited.
    return "max" if limit <= 0 else str(limit)


def device_rule(rule) -> str:
    """OCI LinuxDeviceCgroup -> "c 1:3 rwm" (v1 devices.allow/deny syntax)."""
    major = "*" if rule.major is None or rule.major < 0 else str(rule.major)
    minor = "*" if rule.minor is None or rule.minor < 0 else str(rule.minor)
    typ = rule.type or "a"
    if typ == "a":
        return "a"
    return f"{typ} {major}:{minor} {rule.access or 'rwm'}"


def hugepage_size(size: str) -> str:
    """runtime-spec's pageSize ("2MB", "1GB") as it appears in hugetlb file names."""
    if not size or not size.isalnum():
        raise ValueError(f"bad pageSize {size!r}")
    return size
