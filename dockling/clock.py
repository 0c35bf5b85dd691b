"""Timestamps as docker writes them: RFC 3339, UTC, with a trailing Z.

One place for the format, used by the runtime's state, the shim's logs
and exit records, image and container records.
"""

from __future__ import annotations

import datetime
import re

ZERO = "0001-01-01T00:00:00Z"  # docker's "never" (Go's zero time)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def parse(s: str) -> datetime.datetime | None:
    """RFC 3339 -> aware datetime; None for docker's zero time or empty."""
    if not s or s.startswith("0001-"):
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def from_unix(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).isoformat().replace("+00:00", "Z")


def unix(s: str) -> float:
    """RFC 3339 -> seconds since the epoch."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")


def parse_duration(v: str) -> float:
    """Go's time.ParseDuration (1h2m3s, 500ms, 1.5s, 0) -> seconds; ValueError if bad."""
    parts = _DURATION.findall(v)
    if v == "0":
        return 0.0
    if not parts or "".join(n + u for n, u in parts) != v:
        raise ValueError(f'time: invalid duration "{v}"')
    return sum(float(n) * _DURATION_UNITS[u] for n, u in parts)
