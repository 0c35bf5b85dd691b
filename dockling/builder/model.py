"""The build cache's record as docker's API shows it (GET /system/df ``BuildCache``).

``CacheRecord`` is moby's api/types/build ``CacheRecord``: field names are its
JSON keys, in Go's order. The cache itself is rows of ``build_cache`` (see
``builder/cache.py``); a record is made from a row when df asks.
"""

from __future__ import annotations

import msgspec


class CacheRecord(msgspec.Struct):
    """One build cache entry. ``Parent`` and ``Parents`` are omitempty in Go; the
    classic builder's answers have always carried them ("" and null)."""
    ID: str
    Parent: str = ""
    Parents: list[str] | None = None
    Type: str = ""
    Description: str = ""
    InUse: bool = False
    Shared: bool = False
    Size: int = 0
    CreatedAt: str = ""
    LastUsedAt: str | None = None
    UsageCount: int = 0
