"""volume prune: which unused volumes go (docker's rules), and the bytes freed.

Only anonymous volumes unless ``all=true`` (API 1.42+, docker's default since
23.0); a volume any container mounts (running or not) stays.
"""

from __future__ import annotations

from dockling.volumes.store import ANONYMOUS_LABEL, VolumeStore


def prune(volumes: VolumeStore, filters: dict[str, list[str]], users: dict[str, list[str]],
          events) -> tuple[list[str], int]:
    """Remove the unused volumes ``filters`` select; their names and bytes freed.
    ``users``: volume name -> the containers that mount it."""
    filters = dict(filters)
    everything = filters.pop("all", ["false"])[-1].lower() in ("1", "true")
    deleted, reclaimed = [], 0
    for vol in volumes.list(filters, users):
        if users.get(vol.Name):
            continue
        if not everything and ANONYMOUS_LABEL not in (vol.Labels or {}):
            continue
        size = volumes.size(vol.Name)
        volumes.remove(vol.Name, [])  # its destroy event: the store's
        deleted.append(vol.Name)
        reclaimed += size
    events.emit("volume", "prune", "", {"reclaimed": str(reclaimed)})
    return deleted, reclaimed
