"""The overlay driver's kernel side (pyroute2), laid out as docker's overlay driver:

    network namespace <exec-root>/overlay/<network id 12>
        br0            a bridge, MTU lowered by the VXLAN overhead
        vxlan0         VXLAN VNI n, UDP 4789, learning off, ARP proxy on; made in the
                       host's namespace (so its UDP socket is the host's) and moved in
        veth...        one per local container; its peer is the container's ethN

A remote container is two entries, both from the cluster store: an FDB entry
(its MAC is behind the VTEP of its host) and a permanent neighbour (its IP
has that MAC), which the VXLAN device's proxy answers ARP from, so no
broadcast ever crosses hosts.

Every call runs on a worker thread (``netns.run_in``/``kernel.threads.run_on_thread``).
"""

from __future__ import annotations

import errno
import os
import socket

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl.ndmsg import NUD_PERMANENT

from dockling.errors import InternalError
from dockling.kernel.threads import run_on_thread
from dockling.network import netns
from dockling.network.netns import run_in

VXLAN_PORT = 4789
VXLAN_OVERHEAD = 50  # outer Ethernet 14 + IPv4 20 + UDP 8 + VXLAN 8
BRIDGE = "br0"
VXLAN = "vxlan0"


def _index(ipr: IPRoute, name: str) -> int | None:
    found = ipr.link_lookup(ifname=name)
    return found[0] if found else None


def ensure_sandbox(path: str, vni: int, mtu: int, fresh_vxlan: bool = False) -> bool:
    """The network's namespace with br0 and vxlan0, up; whether it was made now.

    ``fresh_vxlan``: make vxlan0 again (a daemon start: its FDB and neighbours are
    rebuilt from the store rather than trusted)."""
    made = not netns.exists(path)
    if made:
        netns.create(path)
    has_vxlan = run_in(path, _setup_bridge, mtu)
    if made or fresh_vxlan or not has_vxlan:
        _make_vxlan(path, vni, mtu)
    return made


def _setup_bridge(mtu: int) -> bool:
    with IPRoute() as ipr:
        ipr.link("set", index=_index(ipr, "lo"), state="up")
        idx = _index(ipr, BRIDGE)
        if idx is None:
            ipr.link("add", ifname=BRIDGE, kind="bridge")
            idx = _index(ipr, BRIDGE)
        ipr.link("set", index=idx, mtu=mtu, state="up")
        return _index(ipr, VXLAN) is not None


def _make_vxlan(path: str, vni: int, mtu: int) -> None:
    tmp = f"vx-{vni}"  # its name in the host's namespace until it moves

    def outside() -> None:
        with IPRoute() as ipr:
            old = _index(ipr, tmp)
            if old is not None:  # left by a crash between add and move
                ipr.link("del", index=old)
            try:
                ipr.link("add", ifname=tmp, kind="vxlan", vxlan_id=vni, vxlan_port=VXLAN_PORT,
                         vxlan_learning=0, vxlan_proxy=1, mtu=mtu)
            except NetlinkError as err:
                raise InternalError(f"cannot create VXLAN device for VNI {vni}: {err}") from err
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ipr.link("set", index=_index(ipr, tmp), net_ns_fd=fd)
            finally:
                os.close(fd)

    def drop_old() -> None:
        # first: the kernel refuses a second device of this VNI and port while the
        # old one (whose UDP socket is the host's) exists
        with IPRoute() as ipr:
            old = _index(ipr, VXLAN)
            if old is not None:
                ipr.link("del", index=old)

    def inside() -> None:
        with IPRoute() as ipr:
            idx = _index(ipr, tmp)
            ipr.link("set", index=idx, ifname=VXLAN)
            ipr.link("set", index=idx, master=_index(ipr, BRIDGE), mtu=mtu, state="up")

    run_in(path, drop_old)
    run_on_thread(outside)
    run_in(path, inside)


def remove_sandbox(path: str) -> None:
    """Drop the namespace; the kernel takes br0, vxlan0 and veths with it."""
    netns.remove(path)


def add_endpoint(sandbox: str, container_ns: str, host_if: str, ifname: str, address: str,
                 prefix: int, mac: str, mtu: int) -> None:
    """A veth pair made inside the network's namespace (on br0), its peer made in
    the container's namespace as ifname with the address and MAC."""
    def in_sandbox() -> None:
        with IPRoute() as ipr:
            fd = os.open(container_ns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                ipr.link("add", ifname=host_if, kind="veth", peer={
                    "ifname": ifname, "net_ns_fd": fd, "address": mac, "mtu": mtu})
            finally:
                os.close(fd)
            ipr.link("set", index=_index(ipr, host_if), master=_index(ipr, BRIDGE), mtu=mtu,
                     state="up")

    def in_container() -> None:
        with IPRoute() as ipr:
            p = _index(ipr, ifname)
            ipr.addr("add", index=p, address=address, prefixlen=prefix)
            ipr.link("set", index=p, state="up")

    try:
        run_in(sandbox, in_sandbox)
        run_in(container_ns, in_container)
    except NetlinkError as err:
        delete_endpoint(sandbox, host_if)
        raise InternalError(f"cannot attach {ifname} to the overlay: {err}") from err


def delete_endpoint(sandbox: str, host_if: str) -> None:
    def work() -> None:
        with IPRoute() as ipr:
            idx = _index(ipr, host_if)
            if idx is not None:
                try:
                    ipr.link("del", index=idx)
                except NetlinkError as err:
                    if err.code != errno.ENODEV:
                        raise
    if netns.exists(sandbox):
        run_in(sandbox, work)


def add_peer(sandbox: str, ip: str, mac: str, vtep: str) -> None:
    """A remote container: its MAC behind vtep (FDB), its IP at that MAC (neighbour)."""
    def work() -> None:
        with IPRoute() as ipr:
            vx = _index(ipr, VXLAN)
            if vx is None:
                return
            _ignore(errno.ENOENT, ipr.fdb, "del", ifindex=vx, lladdr=mac)
            ipr.fdb("append", ifindex=vx, lladdr=mac, dst=vtep)
            ipr.neigh("replace", dst=ip, lladdr=mac, ifindex=vx, state=NUD_PERMANENT)
    run_in(sandbox, work)


def announce(sandbox: str, ip: str, mac: str) -> None:
    """A gratuitous ARP for a remote container, sent by br0 to the local ones.

    A local container that asked for this IP before it existed has an incomplete
    (or failed) neighbour entry and would ask again only at the kernel's next ARP
    retry (1 s later); an ARP reply resolves such an entry at once. Nothing is
    created in caches that never asked (arp_accept is 0 by default)."""
    def work() -> None:
        hw = bytes.fromhex(mac.replace(":", ""))
        addr = socket.inet_aton(ip)
        frame = (b"\xff" * 6 + hw + b"\x08\x06"  # Ethernet: broadcast, from it, ARP
                 + b"\x00\x01\x08\x00\x06\x04\x00\x02"  # Ethernet/IPv4, a reply
                 + hw + addr + b"\xff" * 6 + addr)
        with socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as s:
            s.bind((BRIDGE, 0))
            s.send(frame)
    if netns.exists(sandbox):
        try:
            run_in(sandbox, work)
        except OSError:
            pass  # an optimisation: the container's own ARP retry still comes


def delete_peer(sandbox: str, ip: str, mac: str) -> None:
    def work() -> None:
        with IPRoute() as ipr:
            vx = _index(ipr, VXLAN)
            if vx is None:
                return
            _ignore(errno.ENOENT, ipr.fdb, "del", ifindex=vx, lladdr=mac)
            _ignore(errno.ENOENT, ipr.neigh, "del", dst=ip, lladdr=mac, ifindex=vx)
    if netns.exists(sandbox):
        run_in(sandbox, work)


def peers(sandbox: str) -> list[tuple[str, str]]:
    """(IP, MAC) of the permanent neighbours on vxlan0 (tests and diagnosis)."""
    def work() -> list[tuple[str, str]]:
        with IPRoute() as ipr:
            vx = _index(ipr, VXLAN)
            if vx is None:
                return []
            return [(n.get_attr("NDA_DST"), n.get_attr("NDA_LLADDR"))
                    for n in ipr.get_neighbours(ifindex=vx) if n["state"] == NUD_PERMANENT]
    return run_in(sandbox, work) if netns.exists(sandbox) else []


def _ignore(code: int, fn, *args, **kw) -> None:
    try:
        fn(*args, **kw)
    except NetlinkError as err:
        if err.code != code:
            raise
