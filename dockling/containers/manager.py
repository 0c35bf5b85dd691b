"""Containers: the one front the daemon, the API routes and the builder call.

``ContainerManager`` is a facade: it holds what the parts share (the stores,
the network manager, the runtime, the paths) and hands each call to the part
that does it. It never speaks HTTP: the API layer translates requests into
these calls.

    model.py      the typed record (docker's ContainerJSON) and request types
    records.py    the SQLite rows, names, lookups, ps's filters
    create.py     docker create: the body checked, the record made
    lifecycle.py  start, stop, kill, pause, update, remove
    monitor.py    exits, health checks, waiters; reconcile at daemon start
    restart.py    restart policies and their scheduler
    execs.py      exec instances and health probes
    attach.py     attach, logs, resize (through shim/client.py)
    commit.py     diff, commit, and the pause around cp and commit
    prune.py, top.py, connect.py   prune and SizeRw; top and stats; network connect

A part reaches the others through the manager (``m.records``, ``m.monitor``...).
The daemon can die and come back: ``reconcile`` re-attaches to the shims it
finds, and reads the exit status of those that finished meanwhile.
"""

from __future__ import annotations

import asyncio
import os
import signal

from dockling.containers import commit as commits
from dockling.containers import connect as connects
from dockling.containers import create as creation
from dockling.containers import prune as pruning
from dockling.containers import records, top
from dockling.containers.attach import Attach, Attachments
from dockling.containers.execs import Exec, ExecConfig, Execs, demux_text
from dockling.containers.lifecycle import Lifecycle
from dockling.containers.model import (
    Container,
    CreateRequest,
    EndpointSettings,
    HealthcheckResult,
    HealthConfig,
    UpdateConfig,
)
from dockling.containers.monitor import Monitor
from dockling.containers.restart import Scheduler
from dockling.images.store import ImageStore
from dockling.runtime import BUILTIN, open_runtime
from dockling.store.db import DB
from dockling.volumes.store import VolumeStore

__all__ = ["ContainerManager", "Paths", "demux_text"]


class Paths:
    def __init__(self, root: str, exec_root: str, runtime: str = "dockling") -> None:
        self.root = root
        self.exec_root = exec_root
        self.runtime = runtime
        self.runtime_root = os.path.join(
            exec_root, "runtime" if runtime in BUILTIN else f"runtime-{runtime}")

    def container(self, cid: str) -> str:
        return os.path.join(self.root, "containers", cid)

    def run(self, cid: str) -> str:
        return os.path.join(self.exec_root, "containers", cid)


class ContainerManager:
    def __init__(self, db: DB, images: ImageStore, volumes: VolumeStore, networks,
                 paths: Paths, cgroup_parent: str, events) -> None:
        self.db = db
        self.images = images
        self.volumes = volumes
        self.networks = networks
        self.paths = paths
        self.cgroup_parent = "/" + cgroup_parent.strip("/")
        self.events = events
        self.runtime = open_runtime(paths.runtime, paths.runtime_root)
        self.init_path: str | None = None  # daemon.json "init-path"
        # daemon.json "containers-per-shim": containers a shim process keeps (group.py)
        self.containers_per_shim = 16
        self.records = records.Records(db, events)
        self.lifecycle = Lifecycle(self)
        self.monitor = Monitor(self)
        self.restarts = Scheduler(self)
        self.execs = Execs(self)
        self.attachments = Attachments(self)

    # -- records -------------------------------------------------------------------
    def get(self, ref: str) -> Container:
        """By full ID, name (with or without /), or unique ID prefix."""
        return self.records.get(ref)

    def all(self) -> list[Container]:
        return self.records.all()

    def users_of_image(self, image_id: str) -> list[tuple[str, bool]]:
        return self.records.users_of_image(image_id)

    def volume_users(self) -> dict[str, list[str]]:
        return self.records.volume_users()

    def network_users(self, network_name: str) -> list[str]:
        return self.records.network_users(network_name)

    def listed(self, all_: bool, filters: dict[str, list[str]],
               limit: int = -1) -> list[tuple[Container, list[str]]]:
        """docker ps's containers, each with the names links give it."""
        return self.records.listed(all_, filters, self.images, limit)

    def list(self, all_: bool, filters: dict[str, list[str]],
             limit: int = -1) -> list[Container]:
        return self.records.list(all_, filters, self.images, limit)

    def rename(self, ref: str, new: str) -> None:
        self.records.rename(ref, new)

    def emit(self, c: Container, action: str, **extra: str) -> None:
        self.records.emit(c, action, **extra)

    def create(self, body: CreateRequest, name: str | None,
               warnings: list[str] | None = None, image_volumes: bool = True) -> Container:
        return creation.create(self, body, name, warnings, image_volumes)

    # -- lifecycle -------------------------------------------------------------------
    async def start(self, ref: str, by_policy: bool = False, trace: bool = False) -> Container:
        return await self.lifecycle.start(ref, by_policy, trace)

    def trace(self, ref: str) -> list[dict]:
        return self.lifecycle.trace(ref)

    def kill(self, ref: str, sig: int = signal.SIGKILL) -> None:
        self.lifecycle.kill(ref, sig)

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> bool:
        return await self.lifecycle.stop(ref, timeout, sig)

    async def kill_dead(self, ref: str, sig: int = signal.SIGKILL,
                        timeout: float = 10.0) -> None:
        await self.lifecycle.kill_dead(ref, sig, timeout)

    async def kill_and_wait(self, ref: str) -> None:
        await self.lifecycle.kill_and_wait(ref)

    def pause(self, ref: str) -> None:
        self.lifecycle.pause(ref)

    def unpause(self, ref: str) -> None:
        self.lifecycle.unpause(ref)

    def update(self, ref: str, changes: UpdateConfig) -> None:
        self.lifecycle.update(ref, changes)

    def remove_link(self, ref: str) -> None:
        self.lifecycle.remove_link(ref)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        self.lifecycle.remove(ref, force, volumes)

    async def delete(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        await self.lifecycle.delete(ref, force, volumes)

    async def settled(self) -> None:
        """Once the iptables work asked so far is done (docker answers stop and rm
        with the ports unpublished)."""
        await self.networks.iptables.idle()

    # -- exits, health, restarts -------------------------------------------------------------
    async def wait(self, ref: str, condition: str = "not-running") -> int:
        return await self.monitor.wait(ref, condition)

    def check_waitable(self, ref: str) -> None:
        self.monitor.check_waitable(ref)

    def healthcheck(self, c: Container, img=None) -> HealthConfig | None:
        return self.monitor.healthcheck(c, img)

    def health_result(self, cid: str, check: HealthConfig, started: float,
                      result: HealthcheckResult) -> bool:
        return self.monitor.health_result(cid, check, started, result)

    async def probe(self, cid: str, argv: list[str], timeout: float) -> tuple[int, str]:
        return await self.execs.probe(cid, argv, timeout)

    def reconcile(self) -> None:
        self.monitor.reconcile()

    def start_at_boot(self) -> None:
        self.restarts.start_at_boot()

    # -- exec ----------------------------------------------------------------------------
    def exec_create(self, ref: str, body: ExecConfig) -> str:
        return self.execs.create(ref, body)

    def exec_get(self, eid: str) -> Exec:
        return self.execs.get(eid)

    def exec_startable(self, eid: str) -> Exec:
        return self.execs.startable(eid)

    def exec_detach_keys(self, ex: Exec) -> bytes | None:
        return self.execs.detach_keys(ex)

    async def exec_start(self, eid: str, frame: bool):
        return await self.execs.start(eid, frame)

    def exec_ended(self, eid: str) -> None:
        self.execs.ended(eid)

    async def exec_detached(self, eid: str, reader: asyncio.StreamReader, writer) -> None:
        await self.execs.detached(eid, reader, writer)

    def exec_process(self, ex: Exec) -> dict:
        return self.execs.process(ex)

    # -- attach / logs ---------------------------------------------------------------------
    def log_path(self, ref: str) -> tuple[Container, str]:
        return self.attachments.log_path(ref)

    def logs(self, ref: str, **kw):
        return self.attachments.logs(ref, **kw)

    async def open_shim_stream(self, ref: str, request: dict, force: bool = False):
        return await self.attachments.open_stream(ref, request, force)

    async def resize(self, ref: str, height: int, width: int, exec_id: str | None = None) -> None:
        await self.attachments.resize(ref, height, width, exec_id)

    def attach(self, ref: str, **kw) -> Attach:
        return self.attachments.attach(ref, **kw)

    # -- files, sizes, processes, networks --------------------------------------------------
    def changes(self, ref: str) -> list[dict]:
        return commits.changes(self, ref)

    def paused_for(self, c: Container, pause: bool = True):
        return commits.paused_for(self, c, pause)

    def commit(self, ref: str, repo: str | None, tag: str | None, comment: str = "",
               author: str = "", changes: list[str] | None = None,
               config: dict | None = None, pause: bool = True) -> str:
        return commits.commit(self, ref, repo, tag, comment, author, changes, config, pause)

    def size_rw(self, c: Container) -> int:
        return pruning.size_rw(self, c)

    def prune_sizes(self, filters: dict[str, list[str]]) -> dict[str, int]:
        return pruning.prune_sizes(self, filters)

    def prune(self, filters: dict[str, list[str]],
              sizes: dict[str, int] | None = None) -> tuple[list[str], int]:
        return pruning.prune(self, filters, sizes)

    def top(self, ref: str, ps_args: str = "") -> dict:
        return top.top(self, ref, ps_args)

    def stats_sample(self, c: Container) -> tuple[dict, int]:
        return top.stats_sample(self, c)

    def stats_reading(self, cid: str, previous, mem_total: int):
        return top.stats_reading(self, cid, previous, mem_total)

    async def connect(self, ref: str, network: str, endpoint: EndpointSettings) -> None:
        await connects.connect(self, ref, network, endpoint)

    def disconnect(self, ref: str, network: str, force: bool = False) -> None:
        connects.disconnect(self, ref, network, force)
