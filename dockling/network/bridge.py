"""The bridge driver's kernel side, through netlink (pyroute2).

A Linux bridge per network with the gateway address on it; per endpoint a
veth pair: one end on the bridge, the other made in the container's
namespace and named eth0 (eth1...), with its address, MAC and, for the
network that gives the default route, a route via the gateway.

Every call here runs on a thread of its own (``kernel.threads.run_on_thread``): the
namespace it enters stays with that thread, and pyroute2's synchronous API
runs an event loop of its own.
Requests that change something go through the kernel seam
(``syscalls.netlink``), so a trace shows the veth, addresses and routes.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import secrets
from typing import NamedTuple

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError

from dockling.errors import Conflict, InternalError
from dockling.kernel import syscalls as sc
from dockling.kernel.threads import run_on_thread
from dockling.network import netns
from dockling.network.netns import run_in


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


class Endpoint(NamedTuple):
    """One veth pair to make: ``host_if`` on ``bridge``, its peer ``ifname`` in the
    container's namespace with the address (and the default route via ``gateway``)."""
    bridge: str
    host_if: str
    ifname: str
    address: str
    prefix: int
    mac: str
    gateway: str | None
    mtu: int
    v6: tuple[str, int, str | None] | None = None  # address, prefix, gateway


def make_endpoints(netns_path: str, endpoints: list[Endpoint], loopback: bool = True) -> None:
    """The namespace's loopback up (``loopback``) and each endpoint made, from one
    thread inside the namespace with a netlink socket on each side (a socket stays
    in the namespace it was opened in): each pair is made already on its bridge and
    up, its peer already in the namespace with its MAC. Moving a peer in afterwards
    costs the kernel ~20 ms (synchronize_net); every pyroute2 request ~1 ms."""
    def work() -> None:
        with IPRoute() as host:  # opened before the thread leaves the host's namespace
            netns.enter(netns_path)
            fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)  # the peers' namespace
            try:
                with IPRoute() as inside:
                    if loopback:  # lo is index 1 in every namespace
                        sc.netlink(inside, "link", "set", index=1, state="up")
                    for ep in endpoints:
                        _add_pair(host, fd, ep)
                        _configure(inside, ep)
            finally:
                os.close(fd)
    run_on_thread(work)


def add_endpoint(netns_path: str, ep: Endpoint) -> None:
    """One more pair into a namespace in use (network connect); none is left if it fails."""
    try:
        make_endpoints(netns_path, [ep], loopback=False)
    except BaseException:
        delete_link(ep.host_if)
        raise


def _add_pair(host: IPRoute, ns_fd: int, ep: Endpoint) -> None:
    br = _index(host, ep.bridge)
    if br is None:
        raise InternalError(f"bridge {ep.bridge} is missing")
    try:
        sc.netlink(host, "link", "add", ifname=ep.host_if, kind="veth", master=br,
                   mtu=ep.mtu, state="up", peer={"ifname": ep.ifname, "net_ns_fd": ns_fd,
                                                 "address": ep.mac, "mtu": ep.mtu})
    except NetlinkError as err:
        if err.code == errno.EEXIST:
            raise Conflict(f"interface {ep.host_if} or {ep.ifname} exists") from err
        raise


def _configure(inside: IPRoute, ep: Endpoint) -> None:
    p = _index(inside, ep.ifname)
    sc.netlink(inside, "addr", "add", index=p, address=ep.address, prefixlen=ep.prefix)
    sc.netlink(inside, "link", "set", index=p, state="up")
    if ep.gateway:
        sc.netlink(inside, "route", "replace", dst="0.0.0.0/0", gateway=ep.gateway, oif=p)
    if ep.v6:
        address, prefix, gateway = ep.v6
        sc.netlink(inside, "addr", "add", index=p, address=address, prefixlen=prefix,
                   flags=IFA_F_NODAD)
        if gateway:
            sc.netlink(inside, "route", "replace", dst="::/0", gateway=gateway, oif=p,
                       family=10)


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
