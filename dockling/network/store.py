"""Network records: docker's Network JSON in SQLite, and the rules of drivers.

``bridge``, ``host`` and ``none`` exist from the daemon's first start; there
is one null and one host network, as in docker. A bridge network owns a
Linux bridge named by com.docker.network.bridge.name (br-<id12> unless
given, as moby's bridge driver names it; never from the network's name,
which may be anything) and one IPAM config (subnet, gateway, optional range
and aux addresses).

A record is a ``model.Network``: docker's Network JSON plus private fields
that start with ``_`` (``_bridge``: the bridge device), which the API leaves out. ``Options``
holds what the user gave and nothing else: docker's inspect shows only those
(the default bridge's are the daemon's), and compose takes any other key for
a changed network ("needs to be recreated").
"""

from __future__ import annotations

import ipaddress

from dockling import clock
from dockling.containers.model import new_id
from dockling.errors import Conflict, Forbidden, InvalidArgument, NotFound
from dockling.network import ipam
from dockling.network.model import (
    IPAM,
    CreateIPAMConfig,
    CreateRequest,
    IPAMConfig,
    Network,
    decode,
    encode,
    str_map,
)
from dockling.store.db import DB

DRIVERS = ("bridge", "host", "null")
PREDEFINED = ("bridge", "host", "none")
OPT_BRIDGE_NAME = "com.docker.network.bridge.name"
OPT_ICC = "com.docker.network.bridge.enable_icc"
OPT_MASQ = "com.docker.network.bridge.enable_ip_masquerade"
OPT_MTU = "com.docker.network.driver.mtu"
OPT_DEFAULT = "com.docker.network.bridge.default_bridge"
OPT_HOST_BINDING = "com.docker.network.bridge.host_binding_ipv4"
_BRIDGE_OPTS = (OPT_BRIDGE_NAME, OPT_ICC, OPT_MASQ, OPT_MTU, OPT_DEFAULT, OPT_HOST_BINDING,
                "com.docker.network.bridge.inhibit_ipv4",
                "com.docker.network.container_iface_prefix")


def new_network(name: str, driver: str, *, ipam_cfg: list[IPAMConfig] | None = None,
                ipam_options: dict[str, str] | None = None,
                options: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                internal: bool = False, attachable: bool = False,
                ipv6: bool = False) -> Network:
    # IPAM.Options as the client sent them (null when it sent none), as docker keeps them
    return Network(Name=name, Id=new_id(), Created=clock.now(), Scope="local",
                   Driver=driver, EnableIPv6=ipv6,
                   IPAM=IPAM(Driver="default", Options=ipam_options,
                             Config=list(ipam_cfg or [])),
                   Internal=internal, Attachable=attachable, Options=dict(options or {}),
                   Labels=dict(labels or {}))


def subnets(net: Network) -> list[ipaddress._BaseNetwork]:
    return [ipaddress.ip_network(c.Subnet) for c in net.IPAM.Config]


def flag(net: Network, key: str, default: bool = True) -> bool:
    v = net.Options.get(key)
    return default if v is None else str(v).lower() in ("1", "true", "yes")


class NetworkStore:
    def __init__(self, db: DB, pools: list[dict], bridge_name: str, bip: str | None,
                 mtu: int, fixed_cidr_v6: str | None = None) -> None:
        self.db = db
        self.pools = pools
        self.bridge_name = bridge_name
        self.bip = bip
        self.mtu = mtu
        self.fixed_cidr_v6 = fixed_cidr_v6

    # -- records -------------------------------------------------------------------
    def _save(self, net: Network) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO networks(id, name, doc) VALUES (?,?,?)",
                         (net.Id, net.Name, encode(net).decode()))

    def all(self) -> list[Network]:
        return [decode(r["doc"]) for r in self.db.query("SELECT doc FROM networks "
                                                        "ORDER BY name")]

    def get(self, ref: str) -> Network:
        """By full ID, name, or unique ID prefix (docker's order)."""
        row = self.db.one("SELECT doc FROM networks WHERE id = ?", ref) or self.db.one(
            "SELECT doc FROM networks WHERE name = ?", ref)
        if row is None and ref:
            rows = self.db.query("SELECT doc FROM networks WHERE id LIKE ?", ref + "%")
            if len(rows) > 1:
                raise InvalidArgument(f"network {ref} is ambiguous ({len(rows)} matches "
                                      "found on name)")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"network {ref} not found")
        return decode(row["doc"])

    def ensure_defaults(self) -> Network:
        """bridge, host and none; the default bridge follows the daemon's bip."""
        by_name = {n.Name: n for n in self.all()}
        if "host" not in by_name:
            self._save(new_network("host", "host"))
        if "none" not in by_name:
            self._save(new_network("none", "null"))
        br = by_name.get("bridge")
        if self.bip:
            iface = ipaddress.ip_interface(self.bip)
            cfg = IPAMConfig(Subnet=str(iface.network), Gateway=str(iface.ip))
        elif br is not None:
            cfg = br.IPAM.Config[0]
        else:
            taken = [s for n in by_name.values() for s in subnets(n)] + ipam.host_routes()
            cfg = ipam.config_for(ipam.pick_subnet(self.pools, taken))
        options = {OPT_DEFAULT: "true", OPT_ICC: "true", OPT_MASQ: "true",
                   OPT_HOST_BINDING: "0.0.0.0", OPT_BRIDGE_NAME: self.bridge_name,
                   OPT_MTU: str(self.mtu)}
        if br is None:
            br = new_network("bridge", "bridge", ipam_cfg=[cfg], options=options)
        br.IPAM.Config = [cfg]
        br.EnableIPv6 = bool(self.fixed_cidr_v6)
        if self.fixed_cidr_v6:  # daemon.json ipv6 + fixed-cidr-v6, as docker
            br.IPAM.Config.append(ipam.parse_config(CreateIPAMConfig(
                Subnet=self.fixed_cidr_v6)))
        br.Options = options
        br._bridge = self.bridge_name
        self._save(br)
        self._migrate()
        return br

    def _migrate(self) -> None:
        """Records written before ``_bridge``: their device name was put in Options,
        where compose saw an option nobody set. The name moves out unless the user
        gave it (then it is not moby's br-<id12>)."""
        for net in self.all():
            if net.Driver != "bridge" or net._bridge:
                continue
            opts = net.Options
            net._bridge = opts.get(OPT_BRIDGE_NAME) or _default_bridge(net)
            if opts.get(OPT_BRIDGE_NAME) == _default_bridge(net):
                del opts[OPT_BRIDGE_NAME]
            self._save(net)

    # -- create / remove --------------------------------------------------------------
    def create(self, req: CreateRequest) -> Network:
        name = req.Name or ""
        # moby's only rule for a name (libnetwork's NewNetwork): not blank. Spaces,
        # slashes or unicode are fine, since the name never names a device or chain.
        if not name.strip():
            raise InvalidArgument("invalid name: name is empty")
        driver = req.Driver or "bridge"
        if driver not in DRIVERS:
            raise NotFound(f"plugin \"{driver}\" not found")
        if driver in ("null", "host"):
            raise Forbidden(f'only one instance of "{driver}" network is allowed')
        if self.db.one("SELECT 1 FROM networks WHERE name = ?", name):
            raise Conflict(f"network with name {name} already exists")
        opts = str_map(req.Options)
        for key in opts:
            if key.startswith("com.docker.network.bridge.") and key not in _BRIDGE_OPTS:
                raise InvalidArgument(f"unknown bridge option: {key}")
        check_mtu(opts)
        cfgs = [ipam.parse_config(c) for c in ((req.IPAM and req.IPAM.Config) or [])]
        v4 = [c for c in cfgs if ipaddress.ip_network(c.Subnet).version == 4]
        v6 = [c for c in cfgs if ipaddress.ip_network(c.Subnet).version == 6]
        if v6 and not req.EnableIPv6:
            raise InvalidArgument("IPv6 subnet given without --ipv6")
        if req.EnableIPv6 and not v6:
            raise InvalidArgument("--ipv6 needs an IPv6 --subnet: dockling has no default "
                                  "IPv6 pool")
        existing = [s for n in self.all() for s in subnets(n)]
        for c in cfgs:
            sub = ipaddress.ip_network(c.Subnet)
            if any(sub.overlaps(e) for e in existing if e.version == sub.version):
                raise Forbidden("Pool overlaps with other one on this address space")
        if not v4:
            v4 = [ipam.config_for(ipam.pick_subnet(self.pools,
                                                   existing + ipam.host_routes()))]
        net = new_network(name, driver, ipam_cfg=v4 + v6, options=opts,
                          ipam_options=ipam_options(req), labels=str_map(req.Labels),
                          internal=bool(req.Internal), attachable=bool(req.Attachable),
                          ipv6=bool(req.EnableIPv6))
        net._bridge = opts.get(OPT_BRIDGE_NAME) or _default_bridge(net)
        if any(bridge_of(n) == net._bridge for n in self.all() if n.Driver == "bridge"):
            raise Conflict(f"bridge name {net._bridge} is in use")
        self._save(net)
        return net

    def remove(self, net: Network) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM networks WHERE id = ?", (net.Id,))


def ipam_options(req: CreateRequest) -> dict[str, str] | None:
    """IPAM.Options of a request: None when it sent none (docker keeps null), else
    the map, {} too (the docker CLI sends {})."""
    if req.IPAM is None or req.IPAM.Options is None:
        return None
    return str_map(req.IPAM.Options)


def check_mtu(opts: dict[str, str]) -> None:
    if OPT_MTU in opts:
        try:
            int(opts[OPT_MTU])
        except ValueError:
            raise InvalidArgument(f"invalid MTU: {opts[OPT_MTU]}") from None


def ipv6_config(net: Network) -> IPAMConfig | None:
    if not net.EnableIPv6:
        return None
    return next((c for c in net.IPAM.Config
                 if ipaddress.ip_network(c.Subnet).version == 6), None)


def ipv4_config(net: Network) -> IPAMConfig:
    return next(c for c in net.IPAM.Config if ipaddress.ip_network(c.Subnet).version == 4)


def bridge_of(net: Network) -> str:
    """The Linux bridge of a bridge network."""
    return net._bridge or net.Options.get(OPT_BRIDGE_NAME) or _default_bridge(net)


def _default_bridge(net: Network) -> str:
    return "br-" + net.Id[:12]  # moby's bridge driver: br- and the short ID


def mtu_of(net: Network, default: int) -> int:
    return int(net.Options.get(OPT_MTU) or default)
