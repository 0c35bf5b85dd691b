"""docker ps's filters (moby daemon/list.go): which keys there are, their values
checked as docker checks them, and whether a container matches.

Values of one key are OR-ed (label's AND-ed), keys AND-ed. ``before`` and ``since``
name containers (a 404 when there is none); ``publish`` matches host ports and
``expose`` container ports, each ``port[/proto]`` or ``start-end[/proto]`` (tcp when
no protocol is given).
"""

from __future__ import annotations

import re

from dockling.containers.model import Container
from dockling.errors import InvalidArgument, NotFound
from dockling.filters import labels_match

KEYS = ("ancestor", "before", "expose", "exited", "health", "id", "isolation", "is-task",
        "label", "name", "network", "publish", "since", "status", "volume")
_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
_HEALTH = ("starting", "healthy", "unhealthy", "none")


class Query:
    """The filters of one list, checked once; ``get`` looks a container up."""

    def __init__(self, filters: dict[str, list[str]], images, get) -> None:
        self.filters = {k: v for k, v in filters.items() if v}
        self.images = images
        for key, values in self.filters.items():
            if key not in KEYS:
                raise InvalidArgument(f"invalid filter '{key}'")
            for v in values:
                _check(key, v)
        # the creation times that before/since name (moby: one container each, the last)
        self.before = get(self.filters["before"][-1]).Created if "before" in self.filters \
            else None
        self.since = get(self.filters["since"][-1]).Created if "since" in self.filters \
            else None

    def matches(self, c: Container) -> bool:
        f = self.filters
        if self.before is not None and not c.Created < self.before:
            return False
        if self.since is not None and not c.Created > self.since:
            return False
        return all(_MATCH[key](self, c, values) for key, values in f.items()
                   if key not in ("before", "since"))


def _check(key: str, v: str) -> None:
    if key == "status" and v not in _STATUSES:
        raise InvalidArgument(f"Unrecognised filter value for status: {v}")
    if key == "health" and v not in _HEALTH:
        raise InvalidArgument(f"Unrecognised filter value for health: {v}")
    if key == "exited" and not re.fullmatch(r"-?\d+", v):
        raise InvalidArgument(f"invalid filter 'exited={v}'")
    if key == "is-task" and v not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"Invalid filter 'is-task={v}'")
    if key in ("publish", "expose"):
        _ports(v)


def _ports(spec: str) -> tuple[int, int, str]:
    """port[/proto] or start-end[/proto] -> (start, end, proto)."""
    ports, _, proto = spec.partition("/")
    start, _, end = ports.partition("-")
    try:
        return int(start), int(end or start), proto or "tcp"
    except ValueError:
        raise InvalidArgument(f"invalid port range: {spec}") from None


def _in_ports(specs: list[str], ports: set[tuple[int, str]]) -> bool:
    for spec in specs:
        start, end, proto = _ports(spec)
        if any(start <= p <= end and pr == proto for p, pr in ports):
            return True
    return False


def _host_ports(c: Container) -> set[tuple[int, str]]:
    out = set()
    for port, binds in (c.NetworkSettings.Ports or {}).items():
        proto = port.partition("/")[2] or "tcp"
        out |= {(int(b.HostPort), proto) for b in binds or [] if b.HostPort}
    return out


def _container_ports(c: Container) -> set[tuple[int, str]]:
    keys = {*(c.NetworkSettings.Ports or {}), *(c.Config.ExposedPorts or {})}
    return {(int(k.partition("/")[0]), k.partition("/")[2] or "tcp") for k in keys}


def _descends(c: Container, ref: str, images) -> bool:
    try:
        return images.resolve(ref) == c.Image
    except (NotFound, InvalidArgument):
        return c.Config.Image == ref


def _health(c: Container) -> str:
    return c.State.Health.Status if c.State.Health else "none"


_MATCH = {
    "status": lambda q, c, vs: c.State.Status in vs,
    # docker matches the name with and without its leading slash (moby#37728)
    "name": lambda q, c, vs: any(re.search(v, c.Name) or re.search(v, c.Name[1:])
                                 for v in vs),
    "id": lambda q, c, vs: any(c.Id.startswith(v) for v in vs),
    "label": lambda q, c, vs: labels_match(c.Config.Labels or {}, {"label": vs}),
    "ancestor": lambda q, c, vs: any(_descends(c, v, q.images) for v in vs),
    "exited": lambda q, c, vs: c.State.Status == "exited" and str(c.State.ExitCode) in vs,
    "health": lambda q, c, vs: _health(c) in vs,
    "isolation": lambda q, c, vs: (c.HostConfig.Isolation or "default") in vs,
    "is-task": lambda q, c, vs: any(v in ("false", "0") for v in vs),  # no swarm tasks
    "volume": lambda q, c, vs: any(v in (p.Name, p.Source, p.Destination)
                                   for p in c._MountPoints for v in vs),
    "network": lambda q, c, vs: any(n == v or ep.NetworkID.startswith(v)
                                    for n, ep in c.NetworkSettings.Networks.items()
                                    for v in vs),
    "publish": lambda q, c, vs: _in_ports(vs, _host_ports(c)),
    "expose": lambda q, c, vs: _in_ports(vs, _container_ports(c)),
}
