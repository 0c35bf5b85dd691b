"""IP address management: subnets for new networks, addresses for endpoints.

Allocations are rows of SQLite (``ip_allocations``) with the address as
part of the key, so two endpoints can never get the same address, and a
daemon that restarts knows what is taken. Addresses go out in order after
the last one handed out (docker's allocator does the same), so an address
just freed is not given again at once.
"""

from __future__ import annotations

import ipaddress

from dockling.errors import Conflict, InvalidArgument
from dockling.network.model import CreateIPAMConfig, IPAMConfig, str_map
from dockling.store.db import DB

# docker's default pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20s
DEFAULT_POOLS = [*({"base": f"172.{i}.0.0/16", "size": 16} for i in range(17, 32)),
                 {"base": "192.168.0.0/16", "size": 20}]


def host_routes() -> list[ipaddress.IPv4Network]:
    """The IPv4 networks the host already routes to (not the default route)."""
    out = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                dest, mask = int(fields[1], 16), int(fields[7], 16)
                if dest == 0 and mask == 0:
                    continue
                addr = ipaddress.IPv4Address(dest.to_bytes(4, "little"))
                prefix = bin(mask).count("1")
                out.append(ipaddress.IPv4Network(f"{addr}/{prefix}", strict=False))
    except OSError:
        pass
    return out


def pick_subnet(pools: list[dict], taken: list[ipaddress._BaseNetwork]) -> ipaddress.IPv4Network:
    """The first subnet of the pools that overlaps no taken one (networks, host routes)."""
    for pool in pools:
        base = ipaddress.ip_network(pool["base"])
        for sub in base.subnets(new_prefix=int(pool["size"])):
            if not any(sub.overlaps(t) for t in taken if t.version == sub.version):
                return sub
    raise InvalidArgument("could not find an available, non-overlapping IPv4 address pool "
                          "among the defaults to assign to the network")


def parse_config(cfg: CreateIPAMConfig) -> IPAMConfig:
    """Check one IPAM.Config entry of a create request (Subnet, Gateway, IPRange,
    AuxiliaryAddresses); the entry as the record keeps it."""
    if cfg.Subnet is None:  # the words dockling has always answered with
        raise InvalidArgument("invalid subnet None: 'Subnet'")
    try:
        subnet = ipaddress.ip_network(cfg.Subnet, strict=False)
    except ValueError as err:
        raise InvalidArgument(f"invalid subnet {cfg.Subnet!r}: {err}") from err
    if str(subnet) != cfg.Subnet and ipaddress.ip_interface(cfg.Subnet).ip != \
            subnet.network_address:
        raise InvalidArgument(f"invalid subnet {cfg.Subnet} : it should be "
                              f"{subnet}")
    out = IPAMConfig(Subnet=str(subnet))
    gw = cfg.Gateway
    if gw:
        try:
            g = ipaddress.ip_address(gw)
        except ValueError as err:
            raise InvalidArgument(f"invalid gateway address {gw}") from err
        if g not in subnet:
            raise InvalidArgument(f"no matching subnet for gateway {gw}")
        out.Gateway = gw
    else:
        out.Gateway = str(next(subnet.hosts()))
    if cfg.IPRange:
        try:
            rng = ipaddress.ip_network(cfg.IPRange, strict=False)
        except ValueError as err:
            raise InvalidArgument(f"invalid ip range {cfg.IPRange}") from err
        if not rng.subnet_of(subnet):
            raise InvalidArgument(f"no matching subnet for range {cfg.IPRange}")
        out.IPRange = str(rng)
    aux = str_map(cfg.AuxiliaryAddresses)
    for addr in aux.values():
        try:
            if ipaddress.ip_address(addr) not in subnet:
                raise ValueError
        except ValueError:
            raise InvalidArgument(f"no matching subnet for aux-address {addr}") from None
    if aux:
        out.AuxiliaryAddresses = aux
    return out


def config_for(subnet: ipaddress._BaseNetwork) -> IPAMConfig:
    """A subnet the daemon picked, with docker's gateway: its first host."""
    return IPAMConfig(Subnet=str(subnet), Gateway=str(next(subnet.hosts())))


def reserved(cfg: IPAMConfig) -> set[str]:
    """Addresses of a subnet no endpoint gets: the gateway, the aux addresses."""
    return {cfg.Gateway, *(cfg.AuxiliaryAddresses or {}).values()}


class IPAM:
    def __init__(self, db: DB) -> None:
        self.db = db

    def allocate(self, network_id: str, cfg: IPAMConfig, owner: str,
                 want: str | None = None) -> str:
        """An address of the network's subnet for ``owner`` (``want`` if given and free)."""
        subnet = ipaddress.ip_network(cfg.Subnet)
        unavailable = reserved(cfg)
        with self.db.tx() as conn:
            taken = {r["address"] for r in conn.execute(
                "SELECT address FROM ip_allocations WHERE network_id = ?", (network_id,))}
            if want:
                try:
                    addr = ipaddress.ip_address(want)
                except ValueError as err:
                    raise InvalidArgument(f"invalid IP address {want}") from err
                if addr not in subnet:
                    raise InvalidArgument(f"invalid IP address {want}: it does not belong to "
                                          "any of this network's subnets")
                if want in taken or want in unavailable:
                    raise Conflict("Address already in use")
                choice = want
            else:
                choice = self._next(network_id, cfg, taken | unavailable, conn)
            conn.execute("INSERT INTO ip_allocations(network_id, address, owner) "
                         "VALUES (?, ?, ?)", (network_id, choice, owner))
            conn.execute("INSERT OR REPLACE INTO ipam_cursor(network_id, last) VALUES (?, ?)",
                         (_cursor_key(network_id, subnet), choice))
        return choice

    def _next(self, network_id: str, cfg: IPAMConfig, unavailable: set[str], conn) -> str:
        row = conn.execute("SELECT last FROM ipam_cursor WHERE network_id = ?",
                           (_cursor_key(network_id, ipaddress.ip_network(cfg.Subnet)),)
                           ).fetchone()
        return next_free(cfg, unavailable, row["last"] if row is not None else None)

    def release(self, network_id: str, owner: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM ip_allocations WHERE network_id = ? AND owner = ?",
                         (network_id, owner))

    def release_network(self, network_id: str) -> None:
        with self.db.tx() as conn:
            conn.execute("DELETE FROM ip_allocations WHERE network_id = ?", (network_id,))
            conn.execute("DELETE FROM ipam_cursor WHERE network_id IN (?, ?)",
                         (network_id, network_id + ":v6"))

    def owners(self, network_id: str) -> dict[str, str]:
        return {r["owner"]: r["address"] for r in self.db.query(
            "SELECT owner, address FROM ip_allocations WHERE network_id = ?", network_id)}


def next_free(cfg: IPAMConfig, unavailable: set[str], after: str | None = None) -> str:
    """The first address of cfg's pool (its IPRange, else its Subnet) not in
    ``unavailable``, after ``after`` (the one handed out last), wrapping around:
    a local network's cursor is in SQLite, an overlay's in the daemon. Integers, not
    address objects: a /16 has 65534 of them."""
    pool = ipaddress.ip_network(cfg.IPRange or cfg.Subnet)
    subnet = ipaddress.ip_network(cfg.Subnet)
    first = max(int(pool.network_address), int(subnet.network_address) + 1)
    last = min(int(pool.broadcast_address), int(subnet.broadcast_address) - 1)
    if pool.prefixlen >= subnet.max_prefixlen - 1:  # /31, /32: every address
        first, last = int(pool.network_address), int(pool.broadcast_address)
    taken = {int(ipaddress.ip_address(a)) for a in unavailable}
    start = first
    if after is not None:
        prev = int(ipaddress.ip_address(after))
        if first <= prev < last:
            start = prev + 1
    span = last - first + 1
    for k in range(span):
        n = first + (start - first + k) % span
        if n not in taken:
            return str(ipaddress.ip_address(n))
    raise Conflict(f"no available IPv{subnet.version} addresses on this network's "
                   f"address pools: {cfg.Subnet}")


def _cursor_key(network_id: str, subnet) -> str:
    return network_id if subnet.version == 4 else network_id + ":v6"


def mac_for(ip: str) -> str:
    """docker's MAC for an IPv4 endpoint: 02:42 and the address's four bytes."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)

