"""Timestamps as docker writes them: RFC 3339, UTC, with a trailing Z.

One place for the format, used by the runtime's state, the shim's logs
and exit records, image and container records.
"""

from __future__ import annotations

import datetime

ZERO = "0001-01-01T00:00:00Z"  # docker's "never" (Go's zero time)


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat().replace("+00:00", "Z")


def parse(s: str) -> datetime.datetime | None:
    """RFC 3339 -> aware datetime; None for docker's zero time or empty."""
    if not s or s.startswith("0001-"):
        return None
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def unix(s: str) -> float:
    """RFC 3339 -> seconds since the epoch."""
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
