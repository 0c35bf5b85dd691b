"""Capability and rlimit names, and the capability sets of a process.

The name tables are pure data (capabilities: ``kernel.caps``; rlimits:
linux/resource.h). ``apply`` is the kernel side: bounding set, ambient set,
and capset(2) for effective/permitted/inheritable.
"""

from __future__ import annotations

import resource

from dockling.kernel.caps import CAPS, names_of

_NUMBERS = {name: i for i, name in enumerate(CAPS)}

RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3,
    "RLIMIT_CORE": 4, "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7,
    "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9, "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11,
    "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13, "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def number(name: str) -> int | None:
    """CAP_NAME (any case, CAP_ prefix optional as docker allows) -> bit number."""
    upper = name.upper()
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    return _NUMBERS.get(upper)


def rlimit_number(name: str) -> int | None:
    return RLIMITS.get(name.upper())


def _read_last_cap() -> int:
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except (OSError, ValueError):
        return len(CAPS) - 1


# Read once, at import, in the host: the processes that set capabilities have joined
# a container by then, whose /proc is the container's to mount over (--privileged), and
# a read per use cost 5 reads of an exec's or a start's set-up (~0.3 ms).
_LAST_CAP = _read_last_cap()


def last_cap() -> int:
    """The highest capability this kernel knows (caps above it cannot be set)."""
    return _LAST_CAP


def available() -> list[str]:
    """Capabilities this process can still grant (its bounding set): what "all"
    means for --privileged and --cap-add ALL, as docker computes it."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return names_of(int(line.split()[1], 16))
    except OSError:
        pass
    return list(CAPS[:last_cap() + 1])


def mask(names: list[str]) -> int:
    bits = 0
    top = last_cap()
    for name in names:
        n = number(name)
        if n is not None and n <= top:
            bits |= 1 << n
    return bits


def drop_bounding(caps, syscalls) -> None:
    """Drop every capability not in the bounding set (needs CAP_SETPCAP: before setuid)."""
    keep = mask(caps.bounding)
    for n in range(last_cap() + 1):
        if not keep >> n & 1:
            syscalls.capbset_drop(n)


def set_sets(caps, syscalls) -> None:
    """Set effective/permitted/inheritable, then ambient (after the uid switch)."""
    syscalls.capset(mask(caps.effective), mask(caps.permitted), mask(caps.inheritable))
    syscalls.ambient_clear()
    top = last_cap()
    for name in caps.ambient:
        n = number(name)
        if n is not None and n <= top:
            try:
                syscalls.ambient_raise(n)
            except OSError:
                # The kernel only allows ambient caps that are also permitted
                # and inheritable; runc's spec lists ambient caps without
                # inheritable ones and runc goes on, so do we.
                pass


def set_rlimits(rlimits) -> None:
    for rl in rlimits:
        resource.setrlimit(RLIMITS[rl.type.upper()], (rl.soft, rl.hard))
