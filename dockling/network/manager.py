"""Networks and a container's place in them.

At daemon start: the default networks, our iptables chains, a bridge per
bridge network. At container start (``attach``): a named network
namespace, an endpoint (veth, address, MAC, routes) per network, published
ports, the embedded DNS server for user-defined networks, and the hosts and
resolv.conf files. At exit (``detach``) all of it goes, and the addresses
return to IPAM. The daemon restarted after a crash rebuilds the rules and
listeners of running containers and removes what stopped ones left.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import os
import re

import msgspec

from dockling.containers.model import (
    Container,
    EndpointSettings,
    HostConfig,
    NetworkingConfig,
    NetworkSettings,
    PortBinding,
    PortMap,
)
from dockling.errors import Conflict, Forbidden, InvalidArgument, NotFound, Unavailable
from dockling.network import bridge, etc, ipam, netns, store
from dockling.network.dns import Resolver, host_resolvers
from dockling.network.iptables import IPTables
from dockling.network.model import CreateRequest, EndpointResource, Network
from dockling.network.ports import Reservations

log = logging.getLogger("dockling.network")

_DEFAULT_MODES = ("default", "bridge")
_DNS_DRIVERS = ("bridge", "overlay")  # user-defined networks with the embedded DNS


class Sandbox:
    """A container's network namespace between prepare and plumb: its path, the
    bridge endpoints to make and the overlay ones to connect (network, endpoint,
    interface name)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.bridges: list[bridge.Endpoint] = []
        self.overlays: list[tuple[Network, EndpointSettings, str]] = []
        self.rules: list = []  # the published ports' iptables futures


class Config:
    """The daemon's network settings (daemon.json keys in brackets)."""

    def __init__(self, bridge_name: str = "dockling0", bip: str | None = None,
                 pools: list[dict] | None = None, mtu: int = 1500, iptables: bool = True,
                 chain_prefix: str = "DOCKLING", fixed_cidr_v6: str | None = None,
                 cluster=None) -> None:
        self.bridge_name = bridge_name      # ["bridge"]: the default bridge's device
        self.bip = bip                      # ["bip"]: its gateway/prefix
        self.pools = pools or ipam.DEFAULT_POOLS  # ["default-address-pools"]
        self.mtu = mtu                      # ["mtu"]
        self.iptables = iptables            # ["iptables"]
        self.chain_prefix = chain_prefix    # ["iptables-chain-prefix"] (ours)
        self.fixed_cidr_v6 = fixed_cidr_v6  # ["ipv6"] + ["fixed-cidr-v6"]: v6 on the bridge
        self.cluster = cluster  # ["cluster-store"...]: a cluster.ClusterConfig for overlay


def network_name(mode: str) -> str:
    return "bridge" if mode in _DEFAULT_MODES else mode


def empty_endpoint(net_id: str = "", cfg: EndpointSettings | None = None) -> EndpointSettings:
    """An endpoint not yet connected: what the request asked for, on network ``net_id``."""
    cfg = cfg or EndpointSettings()
    return EndpointSettings(IPAMConfig=cfg.IPAMConfig, Links=cfg.Links, Aliases=cfg.Aliases,
                            MacAddress=cfg.MacAddress, DriverOpts=cfg.DriverOpts,
                            NetworkID=net_id)


class NetworkManager:
    def __init__(self, db, exec_root: str, cfg: Config, events) -> None:
        self.cfg = cfg
        self.events = events
        self.store = store.NetworkStore(db, cfg.pools, cfg.bridge_name, cfg.bip, cfg.mtu,
                                        cfg.fixed_cidr_v6)
        self.ipam = ipam.IPAM(db)
        self.iptables = IPTables(cfg.chain_prefix, cfg.iptables)
        self.ports = Reservations()
        self.resolvers: dict[str, Resolver] = {}
        self.netns_dir = os.path.join(exec_root, "netns")
        self.overlay = None
        if cfg.cluster is not None:
            from dockling.network.overlay import Overlay

            self.overlay = Overlay(cfg.cluster, self.store, exec_root, cfg.mtu)

    # -- daemon ----------------------------------------------------------------------
    def start(self) -> None:
        self.store.ensure_defaults()
        self.iptables.setup()
        for net in self.store.all():
            if net.Driver == "bridge":
                self._bring_up(net).result()  # daemon start: nothing is served yet
        if self.overlay is not None:
            self.overlay.start()

    def _bring_up(self, net: Network):
        """The bridge now; its rules on the iptables thread (the future returned)."""
        cfg = store.ipv4_config(net)
        prefix = ipaddress.ip_network(cfg.Subnet).prefixlen
        cfg6 = store.ipv6_config(net)
        bridge.ensure_bridge(store.bridge_of(net), cfg.Gateway, prefix,
                             store.mtu_of(net, self.cfg.mtu), v6=(
                                 cfg6.Gateway, ipaddress.ip_network(cfg6.Subnet).prefixlen)
                             if cfg6 else None)
        return self.iptables.add_network(store.bridge_of(net), cfg.Subnet,
                                         **self._flags(net))

    def _flags(self, net: Network) -> dict:
        return {"icc": store.flag(net, store.OPT_ICC), "masquerade": store.flag(
            net, store.OPT_MASQ), "internal": net.Internal}

    def shutdown(self) -> None:
        for r in self.resolvers.values():
            r.close()
        self.resolvers.clear()
        if self.overlay is not None:
            self.overlay.stop()

    def _overlay(self):
        if self.overlay is None:
            from dockling.network.overlay import NOT_CONFIGURED

            raise Unavailable(NOT_CONFIGURED)  # 503, as docker's "not a swarm manager"
        return self.overlay

    def sandbox_path(self, cid: str) -> str:
        return os.path.join(self.netns_dir, cid)

    # -- networks (the API) ---------------------------------------------------------------
    async def create(self, req: CreateRequest) -> Network:
        if req.Driver == "overlay":  # stored in etcd, made on a host when used
            net = await asyncio.to_thread(self._overlay().create, req)
        else:
            net = self.store.create(req)
            try:
                await asyncio.wrap_future(self._bring_up(net))
            except Exception:
                self.store.remove(net)
                raise
        self.events.emit("network", "create", net.Id, {"name": net.Name, "type": net.Driver})
        return net

    def remove(self, ref: str, users: list[str]) -> None:
        net = self.store.get(ref)
        if net.Name in store.PREDEFINED:
            raise Forbidden(f"{net.Name} is a pre-defined network and cannot be removed")
        if users:
            raise Forbidden(f"error while removing network: network {net.Name} id "
                            f"{net.Id} has active endpoints")
        if net.Driver == "bridge":
            cfg = store.ipv4_config(net)
            self.iptables.forget(self.iptables.remove_network(
                store.bridge_of(net), cfg.Subnet, **self._flags(net)),
                f"rules of network {net.Name}")
            bridge.delete_link(store.bridge_of(net))
        if net.Driver == "overlay":  # everywhere, if no host uses it
            self._overlay().remove(net)
        self.ipam.release_network(net.Id)
        self.store.remove(net)
        self.events.emit("network", "destroy", net.Id, {"name": net.Name, "type": net.Driver})

    def endpoints(self, net: Network,
                  containers: list[Container]) -> dict[str, EndpointResource]:
        """inspect's Containers: the endpoints of running containers on ``net``."""
        eps = {}
        for c in containers:
            ep = c.NetworkSettings.Networks.get(net.Name)
            if ep and ep.EndpointID:
                eps[c.Id] = EndpointResource(
                    Name=c.Name[1:], EndpointID=ep.EndpointID,
                    MacAddress=ep.MacAddress,
                    IPv4Address=f"{ep.IPAddress}/{ep.IPPrefixLen}"
                    if ep.IPAddress else "",
                    IPv6Address=f"{ep.GlobalIPv6Address}/{ep.GlobalIPv6PrefixLen}"
                    if ep.GlobalIPv6Address else "")
        return eps

    # -- a container's networks ---------------------------------------------------------------
    def initial_settings(self, hc: HostConfig,
                         networking: NetworkingConfig | None) -> NetworkSettings:
        """NetworkSettings of a new container (validates the networks it names)."""
        mode = hc.NetworkMode or "default"
        settings = NetworkSettings()
        if mode.startswith("container:"):
            return settings
        name = network_name(mode)
        net = self.store.get(name)
        if net.Driver in ("host", "null") and mode != net.Name:
            mode = net.Name
        eps = dict(networking.EndpointsConfig or {}) if networking else {}
        settings.Networks[net.Name] = empty_endpoint(net.Id, eps.pop(
            name, None) or eps.pop(mode, None) or eps.pop(net.Id, None))
        for other, cfg in eps.items():  # more networks at create (API 1.44+)
            o = self.store.get(other)
            settings.Networks[o.Name] = empty_endpoint(o.Id, cfg)
        for nname, ep in settings.Networks.items():
            self._check_endpoint(self.store.get(nname), ep, mode)
        return settings

    def _check_endpoint(self, net: Network, ep: EndpointSettings, mode: str) -> None:
        want = ep.IPAMConfig.IPv4Address if ep.IPAMConfig else ""
        if (want or ep.Aliases) and net.Name == "bridge":
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only" if want else
                                  "network-scoped alias is supported only for containers in "
                                  "user defined networks")
        if want:
            cfg = store.ipv4_config(net)
            if ipaddress.ip_address(want) not in ipaddress.ip_network(cfg.Subnet):
                raise InvalidArgument(f"Invalid address {want}: It does not belong to any of "
                                      "this network's subnets")

    def prepare(self, c: Container) -> Sandbox | None:
        """A start's network, first half, before the container exists: the namespace
        (made now: the runtime joins it by path) and each endpoint's addresses,
        chosen and recorded (hosts files are written from them). None for host and
        container:X modes. ``plumb`` makes the interfaces, while the runtime works."""
        mode = c.HostConfig.NetworkMode or "default"
        if mode == "host" or mode.startswith("container:"):
            return None
        path = self.sandbox_path(c.Id)
        if netns.exists(path):
            self.detach(c)
        netns.create(path)
        st = c.NetworkSettings
        st.SandboxID, st.SandboxKey = c.Id, path
        sb = Sandbox(path)
        try:
            gateway_given = False
            for i, (name, ep) in enumerate(sorted(
                    st.Networks.items(), key=lambda kv: kv[0] != network_name(mode))):
                net = self.store.get(name)
                if net.Driver == "overlay":
                    sb.overlays.append((net, ep, f"eth{i}"))
                elif net.Driver == "bridge":
                    sb.bridges.append(self._plan_endpoint(
                        c, net, ep, f"eth{i}", default_route=not gateway_given))
                    gateway_given = gateway_given or not net.Internal
            if not sb.overlays:  # a host port taken fails the start here, before it began
                sb.rules = self._publish(c)
        except BaseException:
            self.detach(c)
            raise
        return sb

    async def plumb(self, c: Container, sb: Sandbox, all_containers) -> None:
        """The second half: the veth pairs, overlay endpoints, published ports and the
        embedded DNS, off the event loop. On failure the caller detaches, once no one
        (the runtime) may be joining the namespace any more."""
        await asyncio.to_thread(bridge.make_endpoints, sb.path, sb.bridges)
        for net, ep, ifname in sb.overlays:
            await self._connect_overlay(c, net, ep, ifname)
        if sb.overlays:  # an overlay address may be the ports' target
            sb.rules = self._publish(c)
        for rules in sb.rules:  # made on the iptables thread
            await asyncio.wrap_future(rules)
        await self._start_dns(c, all_containers)

    def _plan_endpoint(self, c: Container, net: Network, ep: EndpointSettings, ifname: str,
                       default_route: bool) -> bridge.Endpoint:
        """The endpoint's addresses taken from IPAM and recorded; the pair to make."""
        cfg = store.ipv4_config(net)
        subnet = ipaddress.ip_network(cfg.Subnet)
        want = ep.IPAMConfig.IPv4Address if ep.IPAMConfig else ""
        ip = self.ipam.allocate(net.Id, cfg, c.Id, want)
        if ep._mac is None:
            ep._mac = ep.MacAddress  # the user's, kept across restarts
        mac = ep._mac or c.Config.MacAddress or ipam.mac_for(ip)
        host_if = bridge.host_veth_name()
        cfg6 = store.ipv6_config(net)
        ip6, v6 = "", None
        routed = not net.Internal and default_route
        try:
            if cfg6:
                ip6 = self.ipam.allocate(net.Id, cfg6, c.Id,
                                         ep.IPAMConfig.IPv6Address if ep.IPAMConfig else "")
                v6 = (ip6, ipaddress.ip_network(cfg6.Subnet).prefixlen,
                      cfg6.Gateway if routed else None)
        except BaseException:
            self.ipam.release(net.Id, c.Id)
            raise
        from dockling.containers.model import new_id

        ep.NetworkID, ep.EndpointID, ep.Gateway = net.Id, new_id(), cfg.Gateway
        ep.IPAddress, ep.IPPrefixLen, ep.MacAddress = ip, subnet.prefixlen, mac
        ep._host_if, ep._ifname = host_if, ifname
        if v6:
            ep.GlobalIPv6Address, ep.GlobalIPv6PrefixLen = ip6, v6[1]
            ep.IPv6Gateway = cfg6.Gateway
        if net.Name != "bridge":
            ep.DNSNames = [c.Name[1:], c.Id[:12], *(ep.Aliases or [])]
        if net.Name == "bridge":
            st = c.NetworkSettings
            st.Gateway, st.IPAddress, st.IPPrefixLen = cfg.Gateway, ip, subnet.prefixlen
            st.MacAddress, st.EndpointID = mac, ep.EndpointID
            st.GlobalIPv6Address, st.GlobalIPv6PrefixLen = ep.GlobalIPv6Address, \
                ep.GlobalIPv6PrefixLen
            st.IPv6Gateway = ep.IPv6Gateway
        self.events.emit("network", "connect", net.Id, {"container": c.Id,
                                                       "name": net.Name, "type": net.Driver})
        return bridge.Endpoint(store.bridge_of(net), host_if, ifname, ip, subnet.prefixlen,
                               mac, cfg.Gateway if routed else None,
                               store.mtu_of(net, self.cfg.mtu), v6)

    async def _connect_overlay(self, c: Container, net: Network, ep: EndpointSettings,
                               ifname: str) -> None:
        """An overlay endpoint: etcd and netlink work, off the event loop."""
        from dockling.containers.model import new_id

        if ep._mac is None:
            ep._mac = ep.MacAddress
        await asyncio.to_thread(self._overlay().connect, c, net, ep, ifname,
                                self.sandbox_path(c.Id), bridge.host_veth_name())
        ep.EndpointID = new_id()
        self.events.emit("network", "connect", net.Id, {"container": c.Id,
                                                       "name": net.Name, "type": net.Driver})

    def new_endpoint(self, net: Network, cfg: EndpointSettings | None) -> EndpointSettings:
        ep = empty_endpoint(net.Id, cfg)
        self._check_endpoint(net, ep, "")
        return ep

    async def connect_live(self, c: Container, net: Network, ep: EndpointSettings,
                           all_containers) -> None:
        """network connect on a running container: one more interface, now."""
        used = {e._ifname for e in c.NetworkSettings.Networks.values()}
        ifname = next(f"eth{i}" for i in range(64) if f"eth{i}" not in used)
        has_route = any(e.IPAddress and e is not ep and not self.store.get(n).Internal
                        for n, e in c.NetworkSettings.Networks.items())
        if net.Driver == "overlay":
            await self._connect_overlay(c, net, ep, ifname)
        else:
            plan = self._plan_endpoint(c, net, ep, ifname, default_route=not has_route)
            try:
                await asyncio.to_thread(bridge.add_endpoint, self.sandbox_path(c.Id), plan)
            except BaseException:
                self._release(c, net.Name, ep)  # its address back, a disconnect after the connect
                raise
        if net.Name != "bridge" and c.Id not in self.resolvers:
            await self.start_dns(c, all_containers)

    def disconnect_live(self, c: Container, name: str) -> None:
        ep = c.NetworkSettings.Networks.get(name) or EndpointSettings()
        if ep._host_if:
            bridge.delete_link(ep._host_if)  # its peer, the container's ethN, goes too
        self._release(c, name, ep)

    def _release(self, c: Container, name: str, ep: EndpointSettings) -> None:
        """An endpoint's address back to IPAM, and docker's disconnect event."""
        if self.overlay is not None and ep.EndpointID and self.overlay.owns(
                ep.NetworkID):
            self.overlay.disconnect(c.Id, ep)
        if ep.NetworkID:
            self.ipam.release(ep.NetworkID, c.Id)
        if ep.EndpointID:
            self.events.emit("network", "disconnect", ep.NetworkID, {
                "container": c.Id, "name": name, "type": "bridge"})

    def detach(self, c: Container) -> None:
        """Undo attach: DNS, ports, endpoints, addresses, the namespace."""
        cid = c.Id
        r = self.resolvers.pop(cid, None)
        if r is not None:
            r.close()
        self._unpublish(c)
        st = c.NetworkSettings
        path = self.sandbox_path(cid)
        for name, ep in st.Networks.items():
            host_if, ep._host_if = ep._host_if, None
            if host_if and not netns.exists(path):
                # no namespace to take the pair with it (a crash in between): by hand
                try:
                    bridge.delete_link(host_if)
                except Exception as err:  # noqa: BLE001 - teardown goes on
                    log.warning("cannot delete %s: %s", host_if, err)
            ep._ifname = None
            self._release(c, name, ep)
            st.Networks[name] = msgspec.structs.replace(
                empty_endpoint(ep.NetworkID, ep), MacAddress=ep._mac or "", _mac=ep._mac)
        c.NetworkSettings = NetworkSettings(Networks=st.Networks)
        # The kernel destroys the namespace, and with it each veth pair, once
        # nothing holds it: in the background, where a delete by hand would
        # cost ~20 ms per interface right here.
        netns.remove(path)

    # -- published ports ------------------------------------------------------------------------
    def _publish(self, c: Container) -> list:
        """Hold the host ports, record them; the rules' futures (to await)."""
        hc = c.HostConfig
        exposed = dict(c.Config.ExposedPorts or {})
        bindings = {k: list(v or []) for k, v in (hc.PortBindings or {}).items()}
        if hc.PublishAllPorts:
            for port in exposed:
                bindings.setdefault(port, [PortBinding()])
        ports: PortMap = {p: None for p in exposed}
        rules = []
        bridge_name, ip = self._port_target(c)
        for port, binds in bindings.items():
            ports[port] = []
            if ip is None:
                continue
            num, _, proto = port.partition("/")
            proto = proto or "tcp"
            for b in binds or [PortBinding()]:
                host_ip = b.HostIp
                hp = self.ports.take(c.Id, proto, host_ip, b.HostPort)
                rules.append(self.iptables.add_port(bridge_name, proto, host_ip, hp, ip,
                                                    int(num)))
                ports[port].append(PortBinding(host_ip or "0.0.0.0", str(hp)))
        c.NetworkSettings.Ports = ports
        return rules

    def _port_target(self, c: Container) -> tuple[str | None, str | None]:
        """(bridge, container IP) that published ports lead to: the first endpoint
        with an address; (None, None) without one or if its network is gone."""
        for name, ep in c.NetworkSettings.Networks.items():
            if ep.IPAddress:
                try:
                    return store.bridge_of(self.store.get(name)), ep.IPAddress
                except NotFound:
                    return None, None
        return None, None

    def _published(self, c: Container):
        """The recorded bindings: (proto, host ip, host port, container port)."""
        for port, binds in (c.NetworkSettings.Ports or {}).items():
            num, _, proto = port.partition("/")
            for b in binds or []:
                yield (proto or "tcp", "" if b.HostIp == "0.0.0.0" else b.HostIp,
                       int(b.HostPort), int(num))

    def _unpublish(self, c: Container) -> None:
        bridge_name, ip = self._port_target(c)
        if ip is not None:
            for proto, host_ip, host_port, port in self._published(c):
                self.iptables.forget(self.iptables.remove_port(
                    bridge_name, proto, host_ip, host_port, ip, port),
                    f"unpublish {host_port}/{proto} of {c.Id[:12]}")
        self.ports.release(c.Id)

    def restore(self, c: Container) -> None:
        """A running container found at daemon start: its rules and held ports again."""
        if self.overlay is not None:
            self.overlay.restore(c)  # its overlay endpoints published again
        bridge_name, ip = self._port_target(c)
        if ip is None:
            return
        for proto, host_ip, host_port, port in self._published(c):
            try:
                self.ports.take(c.Id, proto, host_ip, str(host_port))
            except Conflict as err:
                log.warning("cannot hold port %s again: %s", host_port, err)
            self.iptables.forget(self.iptables.add_port(
                bridge_name, proto, host_ip, host_port, ip, port),
                f"publish {host_port}/{proto} of {c.Id[:12]}")

    def remove_stale_sandboxes(self, live: set[str]) -> None:
        """Namespaces a crash left behind for containers that no longer run."""
        try:
            names = os.listdir(self.netns_dir)
        except FileNotFoundError:
            return
        for cid in names:
            if cid not in live:
                netns.remove(os.path.join(self.netns_dir, cid))

    # -- names ----------------------------------------------------------------------------------
    async def start_dns(self, c: Container, all_containers) -> None:
        try:
            await self._start_dns(c, all_containers)
        except OSError as err:
            log.warning("no embedded DNS for %s: %s", c.Id[:12], err)

    async def _start_dns(self, c: Container, all_containers) -> None:
        user_nets = [n for n in c.NetworkSettings.Networks if n != "bridge"
                     and self.store.get(n).Driver in _DNS_DRIVERS]
        if not user_nets:
            return
        cid = c.Id
        upstreams = list(c.HostConfig.Dns or []) or host_resolvers()

        def lookup(name: str) -> list[str] | None:
            # Until start saves the record (after the shim says "started"), the stored
            # one has none of this start's addresses, and the process may ask at once:
            # answer from the live record meanwhile.
            return self.lookup(cid, name, [
                c if x.Id == cid and not x.State.Running else x
                for x in all_containers()])

        r = Resolver(self.sandbox_path(cid), lookup, upstreams)
        await r.start()
        self.resolvers[cid] = r

    def lookup(self, cid: str, name: str, containers: list[Container]) -> list[str] | None:
        """Addresses of ``name`` on the networks container ``cid`` is on, else None."""
        me = next((c for c in containers if c.Id == cid), None)
        if me is None:
            return None
        mine = {n for n, ep in me.NetworkSettings.Networks.items() if ep.IPAddress}
        found = []
        # --link (all user networks), and an endpoint's own Links (that network only:
        # docker-py's links= on create or connect): alias -> the linked container's name
        legacy = _link_aliases(me.HostConfig.Links)
        links = {n: {**legacy, **_link_aliases(me.NetworkSettings.Networks[n].Links)}
                 for n in mine}
        for c in containers:
            for net, ep in c.NetworkSettings.Networks.items():
                if net not in mine or not ep.IPAddress or net == "bridge":
                    continue
                names = {x.lower() for x in (ep.DNSNames or [])}
                if name in names or links[net].get(name) == c.Name[1:]:
                    found.append(ep.IPAddress)
                    if ep.GlobalIPv6Address:
                        found.append(ep.GlobalIPv6Address)
        if self.overlay is not None:  # containers of other hosts, from etcd
            found += self.overlay.lookup({me.NetworkSettings.Networks[n].NetworkID
                                          for n in mine}, name)
        return found or None

    def write_etc(self, c: Container, containers: list[Container]) -> None:
        """hosts, hostname and resolv.conf of a container about to start.

        0644 as docker's (the daemon's umask is 077): they are bind-mounted into a
        container whose processes may run as any user."""
        cfg, hc = c.Config, c.HostConfig
        mode = hc.NetworkMode or "default"
        with _public(c.HostnamePath) as f:
            f.write(cfg.Hostname + "\n")
        extra = []
        for h in hc.ExtraHosts or []:
            host, _, ip = h.partition(":") if "=" not in h else h.partition("=")
            if ip == "host-gateway":
                ip = self._host_gateway()
            extra.append((ip, host))
        extra += self._link_hosts(c, containers)
        if mode == "host":
            with open("/etc/hosts") as f:
                text = f.read()
            text += "".join(f"{ip}\t{names}\n" for ip, names in extra)
        else:
            own = []
            fqdn = cfg.Hostname + (f".{cfg.Domainname}" if cfg.Domainname else "")
            for name, ep in c.NetworkSettings.Networks.items():
                if ep.IPAddress:
                    names = [fqdn] if fqdn == cfg.Hostname else [fqdn, cfg.Hostname]
                    own.append((ep.IPAddress, " ".join(names)))
            text = etc.hosts(own, extra)
        with _public(c.HostsPath) as f:
            f.write(text)
        try:
            with open("/etc/resolv.conf") as f:
                host_text = f.read()
        except OSError:
            host_text = ""
        embedded = any(n != "bridge" and self.store.get(n).Driver in _DNS_DRIVERS
                       for n in c.NetworkSettings.Networks) and mode != "host"
        with _public(c.ResolvConfPath) as f:
            f.write(etc.resolv_conf(host_text, embedded=embedded,
                                    dns=[] if embedded else list(hc.Dns or []),
                                    search=list(hc.DnsSearch or []),
                                    options=list(hc.DnsOptions or []),
                                    host_network=mode == "host"))

    def _host_gateway(self) -> str:
        return store.ipv4_config(self.store.get("bridge")).Gateway

    @staticmethod
    def _linked(c: Container, containers: list[Container]):
        """(alias, linked container, its default-bridge IP) per --link."""
        by_name = {o.Name: o for o in containers}
        for link in c.HostConfig.Links or []:
            target, _, alias = link.partition(":")
            child = by_name.get("/" + target.lstrip("/"))
            if child is not None:
                ep = child.NetworkSettings.Networks.get("bridge")
                ip = ep.IPAddress if ep else ""
                yield alias.rsplit("/", 1)[-1] or target.lstrip("/"), child, ip

    def _link_hosts(self, c: Container, containers: list[Container]) -> list[tuple[str, str]]:
        out = []
        for alias, child, ip in self._linked(c, containers):
            if not ip:
                continue
            names = f"{alias} {child.Config.Hostname}"
            if alias != child.Name[1:]:
                names += " " + child.Name[1:]
            out.append((ip, names))
        return out

    def link_env(self, c: Container, containers: list[Container]) -> list[str]:
        """docker's link variables (ALIAS_PORT_80_TCP=tcp://ip:80, ALIAS_NAME, ALIAS_ENV_X)."""
        env = []
        for alias, child, ip in self._linked(c, containers):
            prefix = re.sub(r"[^A-Za-z0-9]", "_", alias).upper()
            ports = sorted(child.Config.ExposedPorts or {},
                           key=lambda p: (int(p.split("/")[0]), p))
            for i, port in enumerate(ports):
                num, _, proto = port.partition("/")
                proto = proto or "tcp"
                if i == 0:
                    env.append(f"{prefix}_PORT={proto}://{ip}:{num}")
                key = f"{prefix}_PORT_{num}_{proto.upper()}"
                env += [f"{key}={proto}://{ip}:{num}", f"{key}_ADDR={ip}",
                        f"{key}_PORT={num}", f"{key}_PROTO={proto}"]
            env.append(f"{prefix}_NAME={c.Name}/{alias}")
            for kv in child.Config.Env or []:
                k, _, v = kv.partition("=")
                if k not in ("HOME", "PATH", "HOSTNAME"):
                    env.append(f"{prefix}_ENV_{k}={v}")
        return env


def _link_aliases(links: list[str] | None) -> dict[str, str]:
    """["target:alias"...] (alias may be /me/alias) -> {alias (lower case): target}."""
    out = {}
    for link in links or []:
        target, _, alias = link.partition(":")
        out[(alias.rsplit("/", 1)[-1] or target.lstrip("/")).lower()] = target.lstrip("/")
    return out


def _public(path: str):
    """Open for writing, mode 0644 whatever the umask (an existing file too)."""
    f = open(path, "w")  # noqa: SIM115 - the caller's with closes it
    os.fchmod(f.fileno(), 0o644)
    return f
