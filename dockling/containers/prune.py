"""container prune and the writable layer's size (docker's SizeRw).

Sizes are tree walks: ``prune_sizes`` runs in a worker thread before the
removals, which run on the event loop.
"""

from __future__ import annotations

import os

from dockling import clock
from dockling.containers.logs import parse_since
from dockling.containers.model import Container
from dockling.disk import tree_size
from dockling.filters import labels_match

PRUNABLE = ("exited", "created", "dead")


def size_rw(m, c: Container) -> int:
    """Bytes in the container's writable layer (docker's SizeRw)."""
    return tree_size(os.path.join(m.paths.container(c.Id), "upper"))


def prunable(m, filters: dict[str, list[str]]) -> list[Container]:
    """The stopped containers the filters select (label, label!, until)."""
    until = filters.get("until")
    cutoff = parse_since(until[-1], "until") if until else None
    out = []
    for c in m.records.all():
        if c.State.Status not in PRUNABLE:
            continue
        if cutoff is not None and clock.unix(c.Created) >= cutoff:
            continue
        if not labels_match(c.Config.Labels or {}, filters):
            continue
        out.append(c)
    return out


def prune_sizes(m, filters: dict[str, list[str]]) -> dict[str, int]:
    """The SizeRw of each container ``prune`` would remove: tree walks, for a
    worker thread."""
    return {c.Id: size_rw(m, c) for c in prunable(m, filters)}


def prune(m, filters: dict[str, list[str]],
          sizes: dict[str, int] | None = None) -> tuple[list[str], int]:
    """Remove stopped containers; IDs and bytes freed.

    ``sizes``: from ``prune_sizes`` (walked off the event loop); a container
    stopped since then counts 0."""
    deleted, space = [], 0
    for c in prunable(m, filters):
        space += size_rw(m, c) if sizes is None else sizes.get(c.Id, 0)
        m.lifecycle.remove(c.Id)
        deleted.append(c.Id)
    m.events.emit("container", "prune", "", {"reclaimed": str(space)})
    return deleted, space
