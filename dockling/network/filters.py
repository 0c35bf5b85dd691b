"""Which networks a list or prune selects, and removing them as the API asks.

docker's network filters (moby's ``daemon/network/filter.go``): name (a part
of it), id (a prefix), driver, scope, type (builtin/custom), dangling, label,
label!. Values of one key are OR-ed, keys are AND-ed. ``users(net)`` gives the
IDs of the containers with an endpoint on ``net``.
"""

from __future__ import annotations

from dockling.background import blocking
from dockling.errors import Forbidden
from dockling.filters import labels_match
from dockling.network.model import Network
from dockling.network.store import PREDEFINED


def matches(net: Network, filters: dict[str, list[str]], users) -> bool:
    for key, vals in filters.items():
        if not vals:
            continue
        if key == "name" and not any(v in net.Name for v in vals):
            return False
        if key == "id" and not any(net.Id.startswith(v) for v in vals):
            return False
        if key == "driver" and net.Driver not in vals:
            return False
        if key == "scope" and net.Scope not in vals:  # local, global
            return False
        if key == "type":
            kind = "builtin" if net.Name in PREDEFINED else "custom"
            if kind not in vals:
                return False
        if key == "dangling":
            want = vals[-1].lower() in ("1", "true")
            if (not users(net) and net.Name not in PREDEFINED) != want:
                return False
        if key in ("label", "label!") and not labels_match(net.Labels, {key: vals}):
            return False
    return True


async def remove(nets, net: Network, used: list[str]) -> None:
    """network rm: an overlay network's etcd round trips (seconds while etcd is
    down) in a worker thread, off the event loop."""
    if net.Driver == "overlay":
        await blocking(nets.remove, net.Id, used)
    else:
        nets.remove(net.Id, used)


async def prune(nets, filters: dict[str, list[str]], users) -> list[str]:
    """network prune: the names of the unused, non-predefined networks removed
    (only label and label! filter a prune, as in docker)."""
    labels = {k: v for k, v in filters.items() if k in ("label", "label!")}
    deleted = []
    for net in nets.store.all():
        if net.Name in PREDEFINED or users(net):
            continue
        if not matches(net, labels, users):
            continue
        try:
            await remove(nets, net, [])
        except Forbidden:  # an overlay network another host still uses: kept
            continue
        deleted.append(net.Name)
    return deleted
