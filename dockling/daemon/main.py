"""`dockling daemon`: state, reconcile with the shims found, serve the Engine API.

Configuration: flags, else /etc/dockling/daemon.json (``--config-file``),
else defaults. Containers outlive the daemon (their shims are detached);
at start the daemon re-attaches to live shims and records the exit of
containers that ended while it was away.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import fcntl
import json
import logging
import os
import secrets
import shutil
import signal
import sys

from dockling import background, cluster
from dockling.api import build as build_api
from dockling.api import containers as containers_api
from dockling.api import images as images_api
from dockling.api import networks as networks_api
from dockling.api import plugins as plugins_api
from dockling.api import registry as registry_api
from dockling.api import swarm as swarm_api
from dockling.api import system as system_api
from dockling.api import volumes as volumes_api
from dockling.api.routing import Router
from dockling.api.server import serve_unix
from dockling.builder import context as build_context
from dockling.builder.cache import BuildCache
from dockling.builder.executor import Builder
from dockling.containers.manager import ContainerManager, Paths
from dockling.daemon import layout
from dockling.daemon.watchdog import Watchdog
from dockling.errors import Conflict, InvalidArgument
from dockling.events import Events
from dockling.images.content import ContentStore
from dockling.images.layers import LayerStore
from dockling.images.store import ImageStore
from dockling.network.manager import Config as NetConfig
from dockling.network.manager import NetworkManager
from dockling.registry.endpoints import RegistryConfig
from dockling.registry.pull import Puller
from dockling.registry.push import Pusher
from dockling.runtime import BUILTIN
from dockling.runtime.cgroups import is_unified
from dockling.store.db import DB
from dockling.volumes.model import UsageData
from dockling.volumes.store import VolumeStore

DEFAULT_ROOT = "/var/lib/dockling"
DEFAULT_EXEC_ROOT = "/run/dockling"
DEFAULT_SOCKET = "/run/dockling/dockling.sock"
DEFAULT_CONFIG = "/etc/dockling/daemon.json"
DEFAULT_CERTS = "/etc/dockling/certs.d"  # HOST:PORT/ca.crt, client.cert, client.key

log = logging.getLogger("dockling.daemon")


def socket_path(host: str) -> str:
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise InvalidArgument(f"unsupported host {host!r}: only unix:// sockets are implemented")


class Daemon:
    def __init__(self, root: str, exec_root: str, cgroup_parent: str = "dockling",
                 runtime: str = "dockling", net_config: NetConfig | None = None,
                 registry: RegistryConfig | None = None, max_downloads: int = 3) -> None:
        self.root = root
        self.exec_root = exec_root
        layout.secure(root, exec_root)  # docker's modes, an older install's fixed too
        self.id = _engine_id(root)
        self.cgroup_v2 = is_unified()
        self.db = DB(os.path.join(root, "dockling.db"))
        self.content = ContentStore(root)
        self.layers = LayerStore(root)
        self.images = ImageStore(self.db, self.content, self.layers)
        self.registry = registry or RegistryConfig()
        self.puller = Puller(self.images, self.registry, max_downloads)
        self.events = Events(db=self.db)
        self.runtime = runtime
        self.volumes = VolumeStore(self.db, root, self.events)
        self.networks = NetworkManager(self.db, exec_root, net_config or NetConfig(),
                                       self.events)
        self.containers = ContainerManager(self.db, self.images, self.volumes, self.networks,
                                           Paths(root, exec_root, runtime), cgroup_parent,
                                           self.events)
        self.build_cache = BuildCache(self.db, self.images)
        self.builder = Builder(self.images, self.containers, self.build_cache, self.puller,
                               self.events, root)

    def router(self) -> Router:
        r = Router()
        system_api.routes(r, self)
        containers_api.routes(r, self.containers)
        images_api.routes(r, self.images, self.containers, self.events, self.puller)
        registry_api.routes(r, Pusher(self.images, self.registry), self.registry,
                            self.events)
        volumes_api.routes(r, self.volumes, self.containers, self.events)
        networks_api.routes(r, self.networks, self.containers)
        build_api.routes(r, self.builder)
        swarm_api.routes(r)
        plugins_api.routes(r)
        return r

    def disk_usage(self) -> dict:
        """docker system df: images, containers (SizeRw), volumes (size, users) and
        the build cache. Tree walks: for a worker thread."""
        imgs = self.images.all()
        containers = self.containers.all()
        users = self.containers.volume_users()
        vols = self.volumes.all()
        for v in vols:
            v.UsageData = UsageData(RefCount=len(users.get(v.Name, [])),
                                    Size=self.volumes.size(v.Name))
        # docker's df: per image, the containers using it and the size of the layers it
        # shares with other images; LayersSize counts each layer once
        chains = {i.id: self.layers.chain(i.diff_ids) for i in imgs}
        holders = collections.Counter(ch for cs in chains.values() for ch in set(cs))
        sizes = {ch: self.layers.get(ch).size for ch in holders}
        using = collections.Counter(c.Image for c in containers)
        summaries = []
        for i in imgs:
            s = self.images.summary(i)
            s.Containers = using[i.id]
            s.SharedSize = sum(sizes[ch] for ch in set(chains[i.id]) if holders[ch] > 1)
            summaries.append(s)
        return {
            "LayersSize": sum(sizes.values()),
            "Images": summaries,
            "Containers": [(c, self.containers.size_rw(c)) for c in containers],
            "Volumes": vols, "BuildCache": self.build_cache.records()}

    def reconcile(self) -> None:
        """Re-attach to live shims; settle the containers whose shim is gone."""
        self.content.clean_tmp()
        self.layers.clean()
        background.clean_removing(os.path.join(self.root, "containers"),
                                  os.path.join(self.exec_root, "containers"),
                                  self.volumes.root, self.layers.root)
        build_context.clean(self.root)
        self.networks.start()
        m = self.containers
        m.reconcile()
        self.networks.remove_stale_sandboxes(m.monitor.live())
        m.start_at_boot()


async def serve(daemon: Daemon, sock: str) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    dog = None
    threshold = float(os.environ.get("DOCKLING_STALL_WARNING") or 1.0)
    if threshold > 0:
        dog = Watchdog(threshold)
        dog.start()
    daemon.reconcile()
    srv = await serve_unix(daemon.router(), sock)
    log.info("API listening on %s", sock)
    await stop.wait()
    srv.close()
    # (asyncio.run then waits for the worker threads: trees being removed)
    await asyncio.to_thread(daemon.networks.iptables.close)
    await asyncio.to_thread(daemon.networks.shutdown)  # the cluster store's threads end
    if dog is not None:
        dog.stop()
    try:
        os.unlink(sock)
    except FileNotFoundError:
        pass


def _engine_id(root: str) -> str:
    path = os.path.join(root, "engine-id")
    try:
        with open(path) as f:
            return f.read().strip()
    except FileNotFoundError:
        eid = secrets.token_hex(16)
        with open(path, "w") as f:
            f.write(eid)
        return eid


def load_config(path: str, explicit: bool) -> dict:
    try:
        with open(path) as f:
            return json.load(f)
    except FileNotFoundError:
        if explicit:
            raise InvalidArgument(f"unable to configure the daemon: open {path}: "
                                  "no such file or directory") from None
        return {}
    except ValueError as err:
        raise InvalidArgument(f"unable to configure the daemon with file {path}: {err}") from err


def hold_pidfile(path: str):
    """Create and lock the pid file, our pid in it: one engine (a daemon or a
    dockling.Engine) per exec root. Conflict when another one holds it; the
    lock goes with the returned file (or the process)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    pf = open(path, "a+")  # noqa: SIM115 - the caller holds it
    try:
        fcntl.flock(pf, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pf.close()
        raise Conflict(f"pid file {path} is locked: is another daemon running?") from None
    pf.seek(0)
    pf.truncate()
    pf.write(str(os.getpid()))
    pf.flush()
    return pf


def from_config(root: str, exec_root: str, cfg: dict, cgroup_parent: str | None = None,
                runtime: str | None = None, init_path: str | None = None) -> Daemon:
    """The engine's managers as daemon.json's keys (``cfg``) set them up: the one
    construction the daemon and dockling.Engine share. InvalidArgument for
    settings that cannot work."""
    net = NetConfig(bridge_name=cfg.get("bridge") or "dockling0", bip=cfg.get("bip"),
                    pools=cfg.get("default-address-pools"), mtu=int(cfg.get("mtu") or 1500),
                    iptables=cfg.get("iptables", True) is not False,
                    chain_prefix=cfg.get("iptables-chain-prefix") or "DOCKLING",
                    fixed_cidr_v6=cfg.get("fixed-cidr-v6") if cfg.get("ipv6") else None)
    # cluster-store, cluster-advertise, cluster-store-opts: overlay networks
    net.cluster = cluster.parse_config(cfg)
    if cfg.get("ipv6") and not cfg.get("fixed-cidr-v6"):
        raise InvalidArgument("ipv6 needs fixed-cidr-v6 (dockling has no default IPv6 pool)")
    reg = RegistryConfig(mirrors=cfg.get("registry-mirrors"),
                         insecure=cfg.get("insecure-registries"),
                         certs_dir=os.environ.get("DOCKLING_CERTS_DIR", DEFAULT_CERTS))
    d = Daemon(root, exec_root, cgroup_parent or cfg.get("cgroup-parent", "dockling"),
               runtime or cfg.get("default-runtime", "dockling"), net, reg,
               int(cfg.get("max-concurrent-downloads") or 3))
    d.containers.init_path = init_path or cfg.get("init-path")
    per_shim = cfg.get("containers-per-shim", 16)
    if not isinstance(per_shim, int) or isinstance(per_shim, bool) or per_shim < 1:
        raise InvalidArgument(f"containers-per-shim must be a whole number of at least 1, "
                              f"not {per_shim!r}")
    d.containers.containers_per_shim = per_shim
    return d


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockling daemon", description="Run the dockling daemon")
    p.add_argument("--root", default=None)
    p.add_argument("--exec-root", default=None)
    p.add_argument("-H", "--host", default=None)
    p.add_argument("-l", "--log-level", default=None,
                   choices=["debug", "info", "warn", "error", "fatal"])
    p.add_argument("--runtime", default=None)
    p.add_argument("-p", "--pidfile", default=None)
    p.add_argument("--config-file", default=None)
    p.add_argument("--cgroup-parent", default=None)
    p.add_argument("--init-path", default=None)
    return p


def main(argv: list[str] | None = None) -> int:
    # Everything the daemon writes is its own unless it says otherwise (what
    # containers read is made 0644/0755 explicitly); its shims inherit this.
    os.umask(layout.UMASK)
    a = parser().parse_args(argv)
    try:
        cfg = load_config(a.config_file or DEFAULT_CONFIG, a.config_file is not None)
    except InvalidArgument as err:
        print(err, file=sys.stderr)
        return 1
    root = a.root or os.environ.get("DOCKLING_ROOT") or cfg.get("data-root", DEFAULT_ROOT)
    exec_root = a.exec_root or os.environ.get("DOCKLING_EXEC_ROOT") or cfg.get(
        "exec-root", DEFAULT_EXEC_ROOT)
    hosts = cfg.get("hosts") or []
    host = a.host or (hosts[0] if hosts else "unix://" + DEFAULT_SOCKET)
    level = a.log_level or cfg.get("log-level", "info")
    runtime = a.runtime or cfg.get("default-runtime", "dockling")
    logging.basicConfig(level={"warn": "WARNING", "fatal": "CRITICAL"}.get(level, level.upper()),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("pyroute2", "httpcore", "httpx"):  # their debug is per message/request
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if runtime not in BUILTIN and shutil.which(runtime) is None:
        print(f"dockling daemon: runtime {runtime!r} not found in PATH", file=sys.stderr)
        return 1
    if os.geteuid() != 0:
        print("dockling daemon: must run as root", file=sys.stderr)
        return 1
    sock = socket_path(host)
    os.makedirs(os.path.dirname(sock), exist_ok=True)
    pidfile = a.pidfile or os.path.join(exec_root, "dockling.pid")
    try:
        pf = hold_pidfile(pidfile)  # held (and locked) for the daemon's life
        d = from_config(root, exec_root, cfg, a.cgroup_parent, runtime, a.init_path)
    except (Conflict, InvalidArgument) as err:
        print(f"dockling daemon: {err}", file=sys.stderr)
        return 1
    try:
        asyncio.run(serve(d, sock))
    finally:
        d.db.close()
        os.unlink(pidfile)
        pf.close()
    return 0
