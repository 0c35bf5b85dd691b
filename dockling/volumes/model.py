"""The volume record: docker's ``volume.Volume`` (moby api/types/volume), typed.

Field names are docker's JSON keys, in Go's field order, so a record encodes
to the Engine API's Volume JSON and the row in SQLite holds that JSON.

Go's json tags map onto msgspec this way: a field tagged ``omitempty`` has
its zero value as default and ``omit_defaults`` leaves it out while it holds
it, as Go's encoder does; a field without the tag has no default, so it is
always encoded (``"Options": null`` included, as docker sends it). Records are
made in one place (``VolumeStore.create``), which names every field anyway.
"""

from __future__ import annotations

from typing import Any

import msgspec


class UsageData(msgspec.Struct, kw_only=True):
    """Only ``GET /system/df`` fills it: bytes used, and the containers mounting it."""
    RefCount: int
    Size: int


class Volume(msgspec.Struct, kw_only=True, omit_defaults=True):
    # swarm's cluster (CSI) volumes: dockling is in no swarm (api/swarm.py), so never one
    ClusterVolume: None = None
    CreatedAt: str = ""
    Driver: str
    Labels: dict[str, str] | None
    Mountpoint: str
    Name: str
    Options: dict[str, str] | None
    Scope: str
    Status: dict[str, Any] | None = None  # the local driver reports none
    UsageData: UsageData | None = None


# one encoder and decoder for the rows of the volumes table
encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(Volume).decode

__all__ = ["UsageData", "Volume", "decode", "encode"]
