"""The overlay driver: networks that span hosts, shared through etcd.

Keys (all under /<prefix>/, ``dockling`` unless cluster-store names one):

    networks/<id>              the network's record (docker's JSON, Scope "global")
    names/<name>, vni/<n>, subnets/<cidr>    claims that make a name, a VXLAN ID
                               and a subnet unique, taken in the same transaction
    ipam/<net id>/<ip>         {"owner": container, "host": vtep}: an address taken
    endpoints/<net id>/<container>   {"ip", "mac", "names", "host"}: on the host's lease

Lifecycle. ``start``: read everything once (the networks are mirrored into the
local store, so ``network ls`` and every lookup by name work as for local
networks), then follow a watch from the revision after that read: a change is
applied as it comes (a record mirrored or dropped, a remote endpoint's FDB and
neighbour entries added or removed, the DNS cache updated), never by reading
all again. A liveness thread holds this host's lease (TTL discovery.ttl):
endpoints are put on it, so a host that dies loses them after the TTL; a lease
found expired (etcd was away longer) is granted again and everything this host
runs is published again. ``stop`` ends both threads; the kernel state stays,
as containers outlive the daemon.

Addresses are taken by compare-and-swap (``ipam/`` keys created only if
absent), never guessed locally; they are not on the lease, so a dead host
releases nothing, and a restarted one finds its own (same owner) again. What
cannot reach etcd while a container goes (its endpoint key, its address) is
queued and done when etcd answers again; until then the address stays taken,
so nothing is handed out twice.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import threading

from dockling.cluster.config import ClusterConfig
from dockling.cluster.etcd import (
    Etcd,
    StoreError,
    StoreUnavailable,
    absent,
    delete_op,
    put_op,
    unchanged,
)
from dockling.containers.model import Container, EndpointSettings
from dockling.errors import Conflict, Forbidden, InvalidArgument, NotFound
from dockling.network import ipam, model, overlay_dp
from dockling.network import store as netstore
from dockling.network.model import CreateRequest, IPAMConfig, Network

log = logging.getLogger("dockling.overlay")

DRIVER = "overlay"
OPT_ENCRYPTED = "encrypted"
# docker swarm's default address pool for overlay networks
POOLS = [{"base": "10.0.0.0/8", "size": 24}]
VNI_FIRST, VNI_LAST = 4096, (1 << 24) - 1  # moby's overlay driver starts at 4096
NOT_CONFIGURED = ("overlay networks need a cluster store: set \"cluster-store\" "
                  "(etcd://host:2379[,host:2379...]) and \"cluster-advertise\" (the address "
                  "other hosts reach this one on) in daemon.json")


class Keys:
    def __init__(self, prefix: str) -> None:
        self.root = f"/{prefix}/"

    def network(self, nid: str = "") -> str:
        return f"{self.root}networks/{nid}"

    def name(self, name: str) -> str:
        return f"{self.root}names/{name}"

    def vni(self, vni: int | str = "") -> str:
        return f"{self.root}vni/{vni}"

    def subnet(self, cidr: str = "") -> str:
        return f"{self.root}subnets/{cidr.replace('/', '_')}"

    def ipam(self, nid: str, ip: str = "") -> str:
        return f"{self.root}ipam/{nid}/{ip}"

    def endpoint(self, nid: str, cid: str = "") -> str:
        return f"{self.root}endpoints/{nid}/{cid}"


class Overlay:
    def __init__(self, cfg: ClusterConfig, store: netstore.NetworkStore, exec_root: str,
                 mtu: int, etcd: Etcd | None = None) -> None:
        self.cfg = cfg
        self.store = store
        self.etcd = etcd or Etcd(cfg.endpoints, cfg.ca, cfg.cert)
        self.keys = Keys(cfg.prefix)
        self.host = cfg.advertise
        self.dir = os.path.join(exec_root, "overlay")
        self.mtu = mtu - overlay_dp.VXLAN_OVERHEAD
        self._lock = threading.RLock()
        self._remote: dict[str, dict[str, dict]] = {}  # net id -> container -> endpoint
        self._mine: dict[tuple[str, str], dict] = {}  # (net id, container) -> endpoint
        self._ready: set[str] = set()  # sandboxes programmed by this daemon run
        self._pending: list[tuple] = []  # ("endpoint"|"release", net, container[, ip])
        self._flush_lock = threading.Lock()
        self._cursor: dict[str, str] = {}  # network -> the address handed out last
        self._lease = 0
        self._synced = False
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # -- daemon -------------------------------------------------------------------------
    def start(self) -> None:
        try:
            self._sync_and_watch()
            self._renew()
        except StoreError as err:  # serve what is mirrored; the liveness thread retries
            log.error("%s; overlay networks work with what is programmed until it answers",
                      err)
        self._spawn(self._liveness, "cluster-lease")

    def stop(self) -> None:
        self._stop.set()
        self.etcd.interrupt_watch()
        for t in self._threads:
            t.join(5)
        self.etcd.close()

    def _spawn(self, fn, name: str, *args) -> None:
        t = threading.Thread(target=fn, args=args, name=name, daemon=True)
        t.start()
        self._threads.append(t)

    def _liveness(self) -> None:
        down = False
        while not self._stop.wait(max(self.cfg.ttl / 3, 0.5)):
            try:
                if not self._synced:
                    self._sync_and_watch()
                self._renew()
                self._flush_pending()
                if down:
                    log.warning("cluster store %s answers again", self.etcd.describe())
                down = False
            except StoreError as err:
                if not down:
                    log.error("%s", err)
                down = True

    def _renew(self) -> None:
        if self._lease and self.etcd.keepalive(self._lease) > 0:
            return
        if self._lease:
            log.warning("lease %x expired: publishing this host's endpoints again", self._lease)
        lease = self.etcd.grant(self.cfg.ttl)
        with self._lock:
            mine = list(self._mine.items())
        for (nid, cid), ep in mine:
            self.etcd.put(self.keys.endpoint(nid, cid), json.dumps(ep), lease)
        self._lease = lease

    # -- the store's view --------------------------------------------------------------------
    def _sync_and_watch(self) -> None:
        rev = self._sync()
        self._synced = True
        self._spawn(self.etcd.watch, "cluster-watch", self.keys.root, rev + 1,
                    self._on_events, self._stop, lambda: self._sync() + 1)

    def _sync(self) -> int:
        """Read everything once: mirror the networks, cache remote endpoints, and
        program the sandboxes this host has (their VXLAN device made anew)."""
        kvs, rev = self.etcd.range(self.keys.root)
        nets = {n.Id: n for n in (model.decode(kv.value) for kv in kvs
                                  if kv.key.startswith(self.keys.network()))}
        remote: dict[str, dict[str, dict]] = {}
        for kv in kvs:
            if kv.key.startswith(self.keys.endpoint("")[:-1]):
                ep = kv.json()
                nid, cid = kv.key[len(self.keys.endpoint("")[:-1]):].split("/", 1)
                if ep.get("host") != self.host:
                    remote.setdefault(nid, {})[cid] = ep
        with self._lock:
            for net in self.store.all():
                if net.Driver == DRIVER and net.Id not in nets:
                    self._forget_network(net.Id)
            for net in nets.values():
                self._mirror(net)
            self._remote = remote
            for nid in list(nets):
                if os.path.exists(self._sandbox(nid)):
                    self._ready.discard(nid)
                    try:
                        self._ensure_sandbox(nets[nid], fresh=True)
                    except Exception:  # noqa: BLE001 - the next endpoint retries it
                        log.exception("cannot program overlay network %s", nid[:12])
        return rev

    def _mirror(self, net: Network) -> None:
        try:
            self.store._save(net)  # noqa: SLF001 - the store's one writer of a whole record
        except Exception as err:  # noqa: BLE001 - e.g. a local network of that name
            log.warning("cannot mirror overlay network %s: %s", net.Name, err)

    def _forget_network(self, nid: str) -> None:
        overlay_dp.remove_sandbox(self._sandbox(nid))
        self._ready.discard(nid)
        self._remote.pop(nid, None)
        try:
            self.store.remove(self.store.get(nid))
        except NotFound:
            pass

    def _on_events(self, events) -> None:
        for ev in events:
            try:
                self._apply(ev)
            except Exception:  # noqa: BLE001 - one bad change must not stop the watch
                log.exception("applying %s %s", ev.type, ev.kv.key)

    def _apply(self, ev) -> None:
        key = ev.kv.key
        eps = self.keys.endpoint("")[:-1]
        with self._lock:
            if key.startswith(self.keys.network()):
                nid = key[len(self.keys.network()):]
                if ev.type == "DELETE":
                    self._forget_network(nid)
                else:
                    self._mirror(model.decode(ev.kv.value))
            elif key.startswith(eps):
                nid, cid = key[len(eps):].split("/", 1)
                known = self._remote.setdefault(nid, {})
                prev = known.pop(cid, None)
                ready = nid in self._ready
                if prev is not None and ready:
                    overlay_dp.delete_peer(self._sandbox(nid), prev["ip"], prev["mac"])
                if ev.type == "DELETE":
                    return
                ep = ev.kv.json()
                if ep.get("host") == self.host:
                    return
                known[cid] = ep
                if ready:
                    overlay_dp.add_peer(self._sandbox(nid), ep["ip"], ep["mac"], ep["host"])
                    overlay_dp.announce(self._sandbox(nid), ep["ip"], ep["mac"])

    # -- networks ---------------------------------------------------------------------------
    def create(self, req: CreateRequest) -> Network:
        name = req.Name or ""
        if not name.strip():
            raise InvalidArgument("invalid name: name is empty")
        opts = model.str_map(req.Options)
        if OPT_ENCRYPTED in opts:
            raise InvalidArgument("overlay option encrypted (IPsec between hosts) is not "
                                  "implemented by dockling: create the network without "
                                  "-o encrypted")
        if req.EnableIPv6:
            raise InvalidArgument("dockling's overlay networks are IPv4 only: drop --ipv6")
        netstore.check_mtu(opts)
        cfgs = [ipam.parse_config(c) for c in ((req.IPAM and req.IPAM.Config) or [])]
        if any(ipaddress.ip_network(c.Subnet).version != 4 for c in cfgs):
            raise InvalidArgument("dockling's overlay networks are IPv4 only")
        if len(cfgs) > 1:
            raise InvalidArgument("dockling's overlay networks have one subnet")
        for _ in range(32):  # another host may win a claim: read again and retry
            net = self._try_create(name, req, opts, cfgs)
            if net is not None:
                self._mirror(net)
                return net
        raise Conflict(f"could not claim a VXLAN ID and subnet for network {name}: too many "
                       "concurrent creations")

    def _try_create(self, name: str, req: CreateRequest, opts: dict[str, str],
                    cfgs: list[IPAMConfig]) -> Network | None:
        if any(n.Name == name for n in self.store.all()) or self.etcd.get(
                self.keys.name(name)):
            raise Conflict(f"network with name {name} already exists")
        kvs, _ = self.etcd.range(self.keys.root)
        vnis = {int(kv.key.rsplit("/", 1)[1]) for kv in kvs if kv.key.startswith(self.keys.vni())}
        taken = [ipaddress.ip_network(kv.key.rsplit("/", 1)[1].replace("_", "/"))
                 for kv in kvs if kv.key.startswith(self.keys.subnet())]
        taken += [s for n in self.store.all() for s in netstore.subnets(n)]
        if cfgs:
            sub = ipaddress.ip_network(cfgs[0].Subnet)
            if any(sub.overlaps(t) for t in taken if t.version == 4):
                raise Forbidden("Pool overlaps with other one on this address space")
            cfg = cfgs[0]
        else:
            cfg = ipam.config_for(ipam.pick_subnet(POOLS, taken))
        vni = next(n for n in range(VNI_FIRST, VNI_LAST) if n not in vnis)
        net = netstore.new_network(name, DRIVER, ipam_cfg=[cfg], options=opts,
                                   labels=model.str_map(req.Labels),
                                   internal=bool(req.Internal),
                                   attachable=bool(req.Attachable))
        net.Scope = "global"
        net._vni = vni
        k = self.keys
        ok = self.etcd.txn(
            [absent(k.name(name)), absent(k.vni(vni)), absent(k.subnet(cfg.Subnet))],
            [put_op(k.network(net.Id), model.encode(net)), put_op(k.name(name), net.Id),
             put_op(k.vni(vni), net.Id), put_op(k.subnet(cfg.Subnet), net.Id)])
        if ok:
            return net
        if cfgs and self.etcd.get(k.subnet(cfg.Subnet)):
            raise Forbidden("Pool overlaps with other one on this address space")
        return None

    def remove(self, net: Network) -> None:
        """Everywhere, if no host has a container on it (its addresses are the proof)."""
        kvs, _ = self.etcd.range(self.keys.ipam(net.Id))
        if kvs:
            raise Forbidden(f"error while removing network: network {net.Name} id "
                            f"{net.Id} has active endpoints")
        k = self.keys
        cfg = netstore.ipv4_config(net)
        self.etcd.txn([], [delete_op(k.network(net.Id)), delete_op(k.name(net.Name)),
                           delete_op(k.vni(net._vni)), delete_op(k.subnet(cfg.Subnet)),
                           delete_op(k.endpoint(net.Id), prefix=True)])
        with self._lock:
            self._forget_network(net.Id)

    # -- endpoints -------------------------------------------------------------------------------
    def connect(self, c: Container, net: Network, ep: EndpointSettings, ifname: str,
                container_ns: str, host_if: str) -> None:
        """Address (by compare-and-swap), veth into the network's sandbox, and the
        endpoint published on this host's lease; fills ``ep``."""
        if not self._lease:
            raise StoreUnavailable(f"cluster store unavailable: no lease from etcd at "
                                   f"{self.etcd.describe()} (is a quorum of it up?)")
        cid = c.Id
        cfg = netstore.ipv4_config(net)
        subnet = ipaddress.ip_network(cfg.Subnet)
        self._forget_pending(net.Id, cid)
        ip = self.allocate(net, cid, ep.IPAMConfig.IPv4Address if ep.IPAMConfig else None)
        mac = ep._mac or c.Config.MacAddress or ipam.mac_for(ip)
        names = [c.Name[1:], cid[:12], *(ep.Aliases or [])]
        record = {"ip": ip, "mac": mac, "names": [n.lower() for n in names],
                  "host": self.host}
        try:
            with self._lock:
                sandbox = self._ensure_sandbox(net)
            overlay_dp.add_endpoint(sandbox, container_ns, host_if, ifname, ip,
                                    subnet.prefixlen, mac, self.net_mtu(net))
            self.etcd.put(self.keys.endpoint(net.Id, cid), json.dumps(record), self._lease)
        except BaseException:
            overlay_dp.delete_endpoint(self._sandbox(net.Id), host_if)
            with self._lock:
                self._pending.append(("release", net.Id, cid, ip))
            self._flush_quietly()
            raise
        with self._lock:
            self._mine[(net.Id, cid)] = record
        ep.NetworkID, ep.Gateway, ep.IPAddress = net.Id, cfg.Gateway, ip
        ep.IPPrefixLen, ep.MacAddress, ep.DNSNames = subnet.prefixlen, mac, names
        ep._host_if, ep._ifname = host_if, ifname

    def disconnect(self, cid: str, ep: EndpointSettings) -> None:
        """The endpoint's key and address go (now, or once etcd answers); a live
        disconnect's veth too."""
        nid = ep.NetworkID
        with self._lock:
            self._mine.pop((nid, cid), None)
        if ep._host_if:
            overlay_dp.delete_endpoint(self._sandbox(nid), ep._host_if)
        # On a thread: a container's exit must not wait for etcd (nor fail without it);
        # the liveness thread retries what is left.
        with self._lock:
            self._pending.append(("endpoint", nid, cid))
            if ep.IPAddress:
                self._pending.append(("release", nid, cid, ep.IPAddress))
        threading.Thread(target=self._flush_quietly, name="cluster-release", daemon=True).start()

    def restore(self, c: Container) -> None:
        """A container that ran on while the daemon was away: publish it again."""
        for ep in c.NetworkSettings.Networks.values():
            nid = ep.NetworkID
            if not ep.IPAddress or not self.owns(nid):
                continue
            record = {"ip": ep.IPAddress, "mac": ep.MacAddress,
                      "names": [n.lower() for n in ep.DNSNames or []],
                      "host": self.host}
            with self._lock:
                self._mine[(nid, c.Id)] = record
            if self._lease:
                try:
                    self.etcd.put(self.keys.endpoint(nid, c.Id), json.dumps(record),
                                  self._lease)
                except StoreError as err:  # the liveness thread publishes it with a lease
                    log.warning("cannot publish %s yet: %s", c.Id[:12], err)

    def owns(self, nid: str | None) -> bool:
        if not nid:
            return False
        try:
            return self.store.get(nid).Driver == DRIVER
        except NotFound:
            return False

    def lookup(self, nids: set[str], name: str) -> list[str]:
        """Addresses of ``name`` among other hosts' containers on these networks."""
        with self._lock:
            return [ep["ip"] for nid in nids for ep in self._remote.get(nid, {}).values()
                    if name in ep.get("names", ())]

    def peers(self, nid: str) -> dict[str, dict]:
        with self._lock:
            return dict(self._remote.get(nid, {}))

    # -- addresses --------------------------------------------------------------------------
    def allocate(self, net: Network, cid: str, want: str | None = None) -> str:
        nid = net.Id
        cfg = netstore.ipv4_config(net)
        for _ in range(64):
            kvs, _ = self.etcd.range(self.keys.ipam(nid))
            taken = {kv.key.rsplit("/", 1)[1]: kv.json() for kv in kvs}
            mine = [ip for ip, a in taken.items() if a.get("owner") == cid]
            if want:
                if want in mine:  # a restarted host finds its own address again
                    return want
                if want in taken or want == cfg.Gateway:
                    raise Conflict("Address already in use")
                choice = want
            elif mine:
                return mine[0]
            else:
                choice = ipam.next_free(cfg, set(taken) | ipam.reserved(cfg),
                                        self._cursor.get(nid))
            value = json.dumps({"owner": cid, "host": self.host})
            if self.etcd.create(self.keys.ipam(nid, choice), value):
                self._cursor[nid] = choice
                return choice
        raise Conflict(f"could not allocate an address on {net.Name}: too many "
                       "concurrent allocations")

    def _release_address(self, nid: str, cid: str, ip: str) -> None:
        """Delete ipam/<net>/<ip> only if ``cid`` holds it: never another's."""
        key = self.keys.ipam(nid, ip)
        kv = self.etcd.get(key)
        if kv is not None and kv.json().get("owner") == cid:
            self.etcd.txn([unchanged(key, kv.mod_revision)], [delete_op(key)])

    def _flush_pending(self) -> None:
        """Endpoint keys and addresses of containers gone, in order; a failure keeps
        the rest for the next round. One flush at a time (``connect`` takes the same
        lock to drop what a container coming back would otherwise lose)."""
        with self._flush_lock:
            with self._lock:
                todo, self._pending = self._pending, []
            try:
                while todo:
                    kind, nid, cid, *ip = todo[0]
                    if kind == "endpoint":
                        self.etcd.delete(self.keys.endpoint(nid, cid))
                    else:
                        self._release_address(nid, cid, ip[0])
                    todo.pop(0)
            finally:
                with self._lock:
                    self._pending = todo + self._pending

    def _flush_quietly(self) -> None:
        try:
            self._flush_pending()
        except StoreError:
            pass  # etcd away: the liveness thread flushes once it answers

    def _forget_pending(self, nid: str, cid: str) -> None:
        """A container connecting again keeps what its last exit queued for release
        (the same address, found again by owner): drop those operations."""
        with self._flush_lock, self._lock:
            self._pending = [op for op in self._pending if op[1:3] != (nid, cid)]

    # -- sandboxes -------------------------------------------------------------------------------
    def _sandbox(self, nid: str) -> str:
        return os.path.join(self.dir, nid[:12])

    def net_mtu(self, net: Network) -> int:
        return netstore.mtu_of(net, self.mtu)

    def _ensure_sandbox(self, net: Network, fresh: bool = False) -> str:
        """The network's namespace, with every known remote endpoint programmed."""
        nid = net.Id
        path = self._sandbox(nid)
        if nid in self._ready and os.path.exists(path):
            return path
        overlay_dp.ensure_sandbox(path, net._vni, self.net_mtu(net), fresh_vxlan=fresh)
        for ep in self._remote.get(nid, {}).values():
            overlay_dp.add_peer(path, ep["ip"], ep["mac"], ep["host"])
        self._ready.add(nid)
        return path
