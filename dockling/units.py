"""docker's units (go-units): parsing 64m, printing 1.2MB, 1.2MiB and "3 minutes"."""

from __future__ import annotations

_BINARY = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4, "p": 1024**5}


def ram_in_bytes(v: str) -> int:
    """RAMInBytes: 64m, 64mb, 1g, 512k, 1024 (binary multiples); ValueError if bad."""
    s = v.strip().lower()
    if len(s) > 1 and s.endswith("b") and s[-2] in "kmgtp":
        s = s[:-1]
    num, unit = (s[:-1], s[-1]) if s and s[-1] in "bkmgtp" else (s, "")
    try:
        n = float(num)
    except ValueError:
        raise ValueError(f"invalid size: '{v}'") from None
    if n < 0:
        raise ValueError(f"invalid size: '{v}'")
    return int(n * _BINARY[unit])


def _scaled(n: float, base: float, units: list[str], digits: int) -> str:
    i = 0
    while n >= base and i < len(units) - 1:
        n /= base
        i += 1
    return f"{n:.{digits}g}{units[i]}"


def human_size(n: float) -> str:
    """HumanSizeWithPrecision(n, 3): decimal units, 3 significant digits."""
    return _scaled(n, 1000.0, ["B", "kB", "MB", "GB", "TB", "PB"], 3)


def human_size4(n: float) -> str:
    """HumanSize: decimal units, 4 significant digits ("2.048kB"; images' and volumes'
    sizes in --format, system df, the build context)."""
    return _scaled(n, 1000.0, ["B", "kB", "MB", "GB", "TB", "PB"], 4)


def bytes_size(n: float) -> str:
    """BytesSize: binary units, 4 significant digits."""
    return _scaled(n, 1024.0, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"], 4)


def human_duration(seconds: float) -> str:
    """docker's units.HumanDuration."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    m = s // 60
    if m == 1:
        return "About a minute"
    if m < 60:
        return f"{m} minutes"
    h = round(s / 3600)
    if h == 1:
        return "About an hour"
    if h < 48:
        return f"{h} hours"
    if h < 24 * 7 * 2:
        return f"{h // 24} days"
    if h < 24 * 30 * 2:
        return f"{h // 24 // 7} weeks"
    if h < 24 * 365 * 2:
        return f"{h // 24 // 30} months"
    return f"{h // 24 // 365} years"
