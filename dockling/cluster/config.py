"""daemon.json's cluster keys, as docker 1.9-19.03 named them.

    "cluster-store": "etcd://10.0.0.1:2379,10.0.0.2:2379[/prefix]"
    "cluster-advertise": "10.0.0.1" (or "10.0.0.1:2376", or an interface: "eth0")
    "cluster-store-opts": {"kv.cacertfile": ..., "kv.certfile": ..., "kv.keyfile": ...,
                           "discovery.ttl": "20"}

docker's TLS option names (kv.*) and its discovery.ttl are kept; the port of
cluster-advertise (docker's API port) is accepted and ignored: other hosts
reach this one by its address only (VXLAN, UDP 4789).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from dockling.errors import InvalidArgument

DEFAULT_PREFIX = "dockling"
DEFAULT_TTL = 20  # docker's discovery.ttl default (seconds)


@dataclass
class ClusterConfig:
    endpoints: list[str]            # http(s)://host:port of etcd members
    advertise: str                  # this host's underlay address (the VTEP)
    prefix: str = DEFAULT_PREFIX    # every key lives under /<prefix>/
    ttl: int = DEFAULT_TTL          # the host lease: endpoints vanish this long after a death
    ca: str | None = None
    cert: tuple[str, str] | None = None
    extra: dict = field(default_factory=dict)


def parse_config(cfg: dict, addresses=None) -> ClusterConfig | None:
    """The cluster settings of a daemon.json (None without cluster-store).

    ``addresses(ifname) -> [ip]`` resolves an interface given as cluster-advertise.
    """
    store = cfg.get("cluster-store")
    if not store:
        if cfg.get("cluster-advertise"):
            raise InvalidArgument("cluster-advertise needs cluster-store")
        return None
    scheme, sep, rest = store.partition("://")
    if not sep or scheme != "etcd":
        raise InvalidArgument(f"unsupported cluster-store {store!r}: only etcd://host:port"
                              "[,host:port...] is implemented")
    hosts, _, prefix = rest.partition("/")
    opts = dict(cfg.get("cluster-store-opts") or {})
    tls = bool(opts.get("kv.cacertfile") or opts.get("kv.certfile"))
    members = [h.strip() for h in hosts.split(",") if h.strip()]
    if not members:
        raise InvalidArgument(f"cluster-store {store!r} names no etcd member")
    endpoints = [f"{'https' if tls else 'http'}://{h if ':' in h else h + ':2379'}"
                 for h in members]
    adv = cfg.get("cluster-advertise")
    if not adv:
        raise InvalidArgument("cluster-store needs cluster-advertise: the address other "
                              "hosts reach this one on (e.g. \"10.0.0.1\" or \"eth0\")")
    cert = None
    if opts.get("kv.certfile") or opts.get("kv.keyfile"):
        if not (opts.get("kv.certfile") and opts.get("kv.keyfile")):
            raise InvalidArgument("cluster-store-opts: kv.certfile and kv.keyfile go together")
        cert = (opts["kv.certfile"], opts["kv.keyfile"])
    try:
        ttl = int(opts.get("discovery.ttl") or DEFAULT_TTL)
    except ValueError:
        raise InvalidArgument(f"invalid discovery.ttl {opts['discovery.ttl']!r}") from None
    if ttl < 2:
        raise InvalidArgument("discovery.ttl must be at least 2 seconds")
    return ClusterConfig(endpoints=endpoints, advertise=_advertise_address(adv, addresses),
                         prefix=prefix.strip("/") or DEFAULT_PREFIX, ttl=ttl,
                         ca=opts.get("kv.cacertfile"), cert=cert)


def _advertise_address(value: str, addresses) -> str:
    host = value
    if value.count(":") == 1:  # docker's ip:port or iface:port
        host = value.partition(":")[0]
    try:
        return str(ipaddress.IPv4Address(host))
    except ValueError:
        pass
    found = (addresses or interface_addresses)(host)
    if not found:
        raise InvalidArgument(f"invalid cluster-advertise {value!r}: not an IPv4 address "
                              "nor an interface with one")
    return found[0]


def interface_addresses(ifname: str) -> list[str]:
    """The IPv4 addresses of an interface of this host (none if there is no such one)."""
    from pyroute2 import IPRoute  # only for an interface name: not at every daemon start

    with IPRoute() as ipr:
        found = ipr.link_lookup(ifname=ifname)
        if not found:
            return []
        return [a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=found[0], family=2)]
