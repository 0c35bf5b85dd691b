"""The bridge driver's kernel side, through netlink (pyroute2).

A Linux bridge per network with the gateway address on it; per endpoint a
veth pair: one end on the bridge, the other moved into the container's
namespace and named eth0 (eth1...), with its address, MAC and, for the
network that gives the default route, a route via the gateway.

pyroute2's synchronous API runs its own event loop, so every call here
runs on a worker thread (``netns.run_on_thread``), never on the daemon's.
Requests that change something go through the kernel seam
(``syscalls.netlink``), so a trace shows the veth, addresses and routes.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockling.errors import Conflict, InternalError
from dockling.kernel import syscalls as sc
from dockling.network.netns import run_in, run_on_thread


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass


IFA_F_NODAD = 0x02  # an IPv6 address usable at once, without duplicate detection


def ensure_bridge(name: str, gateway: str, prefix: int, mtu: int,
                  v6: tuple[str, int] | None = None) -> None:
    """The bridge with the gateway address(es), up (created if missing)."""
    def work() -> None:
        with IPRoute() as ipr:
            idx = _index(ipr, name)
            if idx is None:
                try:
                    sc.netlink(ipr, "link", "add", ifname=name, kind="bridge")
                except NetlinkError as err:
                    raise InternalError(f"failed to create bridge {name}: {err}") from err
                idx = _index(ipr, name)
            sc.netlink(ipr, "link", "set", index=idx, mtu=mtu)
            have = {a.get_attr("IFA_ADDRESS") for a in ipr.get_addr(index=idx, family=2)}
            if gateway not in have:
                try:
                    sc.netlink(ipr, "addr", "add", index=idx, address=gateway, prefixlen=prefix)
                except NetlinkError as err:
                    if err.code != errno.EEXIST:
                        raise
            if v6:
                try:
                    sc.netlink(ipr, "addr", "add", index=idx, address=v6[0], prefixlen=v6[1],
                               flags=IFA_F_NODAD)
                except NetlinkError as err:
                    if err.code != errno.EEXIST:
                        raise
            sc.netlink(ipr, "link", "set", index=idx, state="up")
    run_on_thread(work)
    # Traffic from the host's own 127.0.0.1 to a published port is DNATed to
    # a container; the kernel routes it out of the bridge only with this.
    _sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
    _sysctl("/proc/sys/net/ipv4/ip_forward", "1")


def delete_link(name: str) -> None:
    def work() -> None:
        with IPRoute() as ipr:
            idx = _index(ipr, name)
            if idx is not None:
                try:
                    sc.netlink(ipr, "link", "del", index=idx)
                except NetlinkError as err:
                    if err.code != errno.ENODEV:
                        raise
    run_on_thread(work)


def link_exists(name: str) -> bool:
    return os.path.exists(f"/sys/class/net/{name}")


def host_veth_name() -> str:
    return "veth" + secrets.token_hex(4)[:7]


def add_endpoint(netns_path: str, bridge: str, host_if: str, ifname: str, address: str,
                 prefix: int, mac: str, gateway: str | None, mtu: int,
                 v6: tuple[str, int, str | None] | None = None) -> None:
    """A veth pair: host_if on the bridge; its peer made inside the namespace as ifname.

    Making the peer in its namespace, rather than moving it there, saves the
    ~20 ms the kernel spends on a move (synchronize_net).
    """
    def outside() -> None:
        with IPRoute() as ipr:
            br = _index(ipr, bridge)
            if br is None:
                raise InternalError(f"bridge {bridge} is missing")
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                sc.netlink(ipr, "link", "add", ifname=host_if, kind="veth", peer={
                    "ifname": ifname, "net_ns_fd": fd, "address": mac, "mtu": mtu})
            except NetlinkError as err:
                if err.code == errno.EEXIST:
                    raise Conflict(f"interface {host_if} or {ifname} exists") from err
                raise
            finally:
                os.close(fd)
            sc.netlink(ipr, "link", "set", index=_index(ipr, host_if), master=br, mtu=mtu,
                       state="up")

    def inside() -> None:
        with IPRoute() as ipr:
            p = _index(ipr, ifname)
            sc.netlink(ipr, "addr", "add", index=p, address=address, prefixlen=prefix)
            sc.netlink(ipr, "link", "set", index=p, state="up")
            if gateway:
                sc.netlink(ipr, "route", "replace", dst="0.0.0.0/0", gateway=gateway, oif=p)
            if v6:
                sc.netlink(ipr, "addr", "add", index=p, address=v6[0], prefixlen=v6[1],
                           flags=IFA_F_NODAD)
                if v6[2]:
                    sc.netlink(ipr, "route", "replace", dst="::/0", gateway=v6[2], oif=p,
                               family=10)

    try:
        run_on_thread(outside)
        run_in(netns_path, inside)
    except BaseException:
        delete_link(host_if)
        raise


def loopback_up(netns_path: str) -> None:
    def inside() -> None:
        with IPRoute() as ipr:
            sc.netlink(ipr, "link", "set", index=_index(ipr, "lo"), state="up")
    run_in(netns_path, inside)


def addresses(netns_path: str, ifname: str) -> list[str]:
    def inside() -> list[str]:
        with IPRoute() as ipr:
            idx = _index(ipr, ifname)
            if idx is None:
                return []
            return [f"{a.get_attr('IFA_ADDRESS')}/{a['prefixlen']}"
                    for a in ipr.get_addr(index=idx, family=2)]
    return run_in(netns_path, inside)


def network_of(address: str, prefix: int) -> str:
    return str(ipaddress.ip_interface(f"{address}/{prefix}").network)
