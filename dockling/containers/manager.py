"""Containers: create, start, stop, kill, wait, remove, exec, logs, attach.

The manager owns container records (SQLite), their root filesystems
(overlay over the image's layers) and their shims. It never speaks HTTP:
the API layer translates requests into these calls.

Start path: mount the overlay, write hostname/hosts/resolv.conf, build the
OCI config, fork a shim (which creates and starts the container through
the runtime library), then watch the shim's "wait" answer to record the
exit. The daemon can die and come back: ``reconcile`` re-attaches to the
shims it finds, and reads the exit status of those that finished meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import shutil
import signal
import subprocess
import tempfile
import time

from dockling import background, clock
from dockling.containers import (
    health,
    model,
    resources,
    restart,
    security,
    spec,
    stats,
    users,
)
from dockling.containers import logs as logfile
from dockling.containers.logs import parse_since
from dockling.containers.model import Status
from dockling.disk import tree_size
from dockling.errors import Conflict, Forbidden, InternalError, InvalidArgument, NotFound
from dockling.formats import detachkeys, pack
from dockling.images import archive
from dockling.images.layers import unmount
from dockling.images.store import ImageStore
from dockling.runtime import BUILTIN, api_name, open_runtime
from dockling.runtime.cgroups import is_unified
from dockling.kernel.paths import make_mountpoint
from dockling.runtime.process import parse_signal
from dockling.shim import shim as shimlib
from dockling.store.db import DB
from dockling.volumes import mounts
from dockling.volumes.store import ANONYMOUS_LABEL, VolumeStore

log = logging.getLogger("dockling.containers")

# static builds only: the init runs inside images that have no libc
_INIT_BINARIES = ("docker-init", "tini-static", "catatonit")
_NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
_ADJ = ["admiring", "brave", "clever", "dreamy", "eager", "festive", "gallant", "happy",
        "jolly", "keen", "lucid", "modest", "nifty", "quirky", "serene", "trusting", "vibrant",
        "wizardly", "zealous", "bold"]
_NAMES = ["turing", "hopper", "lovelace", "ritchie", "thompson", "torvalds", "knuth", "dijkstra",
          "hamilton", "liskov", "kay", "mccarthy", "perlman", "wozniak", "curie", "noether",
          "shannon", "babbage", "goldberg", "pike"]


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
        self.watchers: dict[str, asyncio.Task] = {}
        # Waiters for a container's exit: (future, also wait through restarts?)
        self.exit_futures: dict[str, list[tuple[asyncio.Future, bool]]] = {}
        # Restarts waiting for their back-off delay, and each container's last delay.
        self.restarts: dict[str, asyncio.TimerHandle] = {}
        self.backoff: dict[str, float] = {}
        self.health_monitors: dict[str, health.Monitor] = {}
        self.init_path: str | None = None  # daemon.json "init-path"
        self.execs: dict[str, dict] = {}
        # Exit codes of auto-removed containers, for a `wait` that comes late.
        self.recent_exits: dict[str, int] = {}
        # Attach requests waiting for a created container to start.
        self.pending_attach: dict[str, int] = {}

    # -- records -------------------------------------------------------------------
    def _save(self, c: dict) -> None:
        with self.db.tx() as conn:
            conn.execute("INSERT OR REPLACE INTO containers(id, name, image_id, doc) "
                         "VALUES (?,?,?,?)", (c["Id"], c["Name"].lstrip("/"), c["Image"],
                                              json.dumps(c)))

    def get(self, ref: str) -> dict:
        """By full ID, name (with or without /), or unique ID prefix."""
        row = self.db.one("SELECT doc FROM containers WHERE id = ? OR name = ?", ref,
                          ref.lstrip("/"))
        if row is None and ref and all(ch in "0123456789abcdef" for ch in ref):
            rows = self.db.query("SELECT doc FROM containers WHERE id LIKE ?", ref + "%")
            if len(rows) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
            row = rows[0] if rows else None
        if row is None:
            raise NotFound(f"No such container: {ref}")
        return json.loads(row["doc"])

    def all(self) -> list[dict]:
        return [json.loads(r["doc"]) for r in self.db.query("SELECT doc FROM containers")]

    def users_of_image(self, image_id: str) -> list[tuple[str, bool]]:
        out = []
        for r in self.db.query("SELECT doc FROM containers WHERE image_id = ?", image_id):
            c = json.loads(r["doc"])
            out.append((c["Id"], c["State"]["Running"]))
        return out

    # -- create --------------------------------------------------------------------
    def create(self, body: dict, name: str | None, warnings: list[str] | None = None,
               image_volumes: bool = True) -> dict:
        """A new container record; ``warnings`` receives docker's create warnings.

        ``image_volumes=False``: the image's VOLUMEs get no volume (a build's RUN
        step: BuildKit keeps what RUN writes under a VOLUME in the layer)."""
        image_ref = body.get("Image") or ""
        if not image_ref:
            raise InvalidArgument("Config cannot be empty in order to create a container")
        img = self.images.get(image_ref)
        if name:
            if not _NAME_RE.match(name):
                raise InvalidArgument(f"Invalid container name ({name}), only "
                                      "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
            name = name.lstrip("/")
            other = self.db.one("SELECT id FROM containers WHERE name = ?", name)
            if other:
                raise Conflict(f'Conflict. The container name "/{name}" is already in use by '
                               f'container "{other["id"]}". You have to remove (or rename) that '
                               "container to be able to reuse that name.")
        else:
            name = self._generate_name()
        hc = dict(body.get("HostConfig") or {})
        # The docker CLI sends empty values for "daemon default".
        hc["NetworkMode"] = hc.get("NetworkMode") or "default"
        if not (hc.get("RestartPolicy") or {}).get("Name"):
            hc["RestartPolicy"] = {"Name": "no", "MaximumRetryCount": 0}
        if not (hc.get("LogConfig") or {}).get("Type"):
            hc["LogConfig"] = {"Type": "json-file", "Config": (hc.get("LogConfig") or {}).get(
                "Config") or {}}
        hc.setdefault("AutoRemove", False)
        hc["Runtime"] = _runtime_name(hc.get("Runtime"), self.paths.runtime)
        logfile.rotation(hc["LogConfig"])
        restart.validate(hc["RestartPolicy"])
        if hc["AutoRemove"] and hc["RestartPolicy"]["Name"] != "no":
            raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
        resources.validate(hc)
        dropped = resources.discard_unsupported(hc)
        if warnings is not None:
            warnings.extend(dropped)
        security.capability_set([], hc)  # unknown capabilities fail at create, like docker
        security.parse_security_opts(hc.get("SecurityOpt") or [])
        net = hc["NetworkMode"]
        for key in ("PidMode", "IpcMode", "UTSMode", "NetworkMode"):
            mode = hc.get(key) or ""
            if mode.startswith("container:"):
                self.get(mode.split(":", 1)[1])  # docker: 404 for an unknown container
            elif key != "NetworkMode" and mode not in ("", "host", "private", "shareable"):
                raise InvalidArgument(f"invalid {key}: {mode}")
        net_settings = self.networks.initial_settings(hc, body.get("NetworkingConfig"))
        _check_extra_hosts(hc.get("ExtraHosts") or [])
        hc["Links"] = self._links(hc.get("Links") or [], name)
        _check_sysctls(hc)
        if (hc.get("UsernsMode") or "host") != "host":  # no userns-remap daemon mode yet
            raise InvalidArgument(f"invalid USER mode: {hc['UsernsMode']}")
        cid = model.new_id()
        icfg = img.container_config
        cfg = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
        cfg["Image"] = image_ref
        # "" (what a Go client sends) means the default, as a missing key does
        if not cfg.get("Hostname"):
            cfg["Hostname"] = cid[:12] if net != "host" else os.uname().nodename
        cfg["Domainname"] = cfg.get("Domainname") or ""
        cfg["Env"] = spec.environment({"Env": cfg.get("Env") or []}, icfg)
        cfg["Env"] = [e for e in cfg["Env"] if not e.startswith("HOSTNAME=")]
        if cfg.get("Cmd") is None and cfg.get("Entrypoint") is None:
            cfg["Cmd"] = icfg.get("Cmd")
        if cfg.get("Entrypoint") is None:
            cfg["Entrypoint"] = icfg.get("Entrypoint")
        cfg.setdefault("WorkingDir", icfg.get("WorkingDir", ""))
        cfg["WorkingDir"] = cfg["WorkingDir"] or icfg.get("WorkingDir", "")
        cfg["Labels"] = {**(icfg.get("Labels") or {}), **(cfg.get("Labels") or {})}
        for k in ("Tty", "OpenStdin", "StdinOnce", "AttachStdin", "AttachStdout",
                  "AttachStderr"):
            cfg[k] = bool(cfg.get(k))
        cfg.setdefault("User", icfg.get("User", ""))
        cfg["User"] = cfg["User"] or icfg.get("User", "")
        if icfg.get("StopSignal") and not cfg.get("StopSignal"):
            cfg["StopSignal"] = icfg["StopSignal"]
        argv = spec.command(cfg, {})
        if not argv:
            raise InvalidArgument("no command specified")
        points = mounts.resolve(cfg, hc, icfg.get("Volumes") if image_volumes else None,
                                self.volumes, self.get)
        d = self.paths.container(cid)
        for sub in ("upper", "work", "merged"):
            os.makedirs(os.path.join(d, sub))
        # overlay gives the container's / the upper dir's mode: docker's 0755, not umask 077
        os.chmod(os.path.join(d, "upper"), 0o755)
        chains = self.images.layers.chain(img.diff_ids)
        lowers = self.images.layers.lower_dirs(chains)
        c = {
            "Id": cid,
            "Created": clock.now(),
            "Path": argv[0],
            "Args": argv[1:],
            "State": model.initial_state(),
            "Image": img.id,
            "ResolvConfPath": os.path.join(d, "resolv.conf"),
            "HostnamePath": os.path.join(d, "hostname"),
            "HostsPath": os.path.join(d, "hosts"),
            "LogPath": os.path.join(d, f"{cid}-json.log"),
            "Name": "/" + name,
            "RestartCount": 0,
            "Driver": "overlay2",
            "Platform": "linux",
            "MountLabel": "",
            "ProcessLabel": "",
            "AppArmorProfile": "",
            "ExecIDs": None,
            "HostConfig": hc,
            "GraphDriver": {"Name": "overlay2", "Data": {
                "LowerDir": ":".join(lowers), "UpperDir": os.path.join(d, "upper"),
                "WorkDir": os.path.join(d, "work"), "MergedDir": os.path.join(d, "merged")}},
            "Mounts": mounts.public(points),
            "MountPoints": points,
            "Config": cfg,
            "NetworkSettings": net_settings,
        }
        self._save(c)
        self._emit(c, "create")
        return c

    def _emit(self, c: dict, action: str, **extra: str) -> None:
        """A container event; docker's attributes: the labels, image and name."""
        attrs = {**(c["Config"].get("Labels") or {}), "image": c["Config"].get("Image", ""),
                 "name": c["Name"][1:], **extra}
        self.events.emit("container", action, c["Id"], attrs)

    def _generate_name(self) -> str:
        for _ in range(100):
            n = f"{random.choice(_ADJ)}_{random.choice(_NAMES)}"
            if not self.db.one("SELECT 1 FROM containers WHERE name = ?", n):
                return n
        return f"{random.choice(_ADJ)}_{random.choice(_NAMES)}{random.randint(0, 99)}"

    # -- start ---------------------------------------------------------------------
    async def start(self, ref: str, by_policy: bool = False) -> dict:
        """Start a created or exited container; ``by_policy``: a restart policy's restart."""
        c = self.get(ref)
        Status(c["State"]["Status"]).check_start()
        cid = c["Id"]
        c["HasBeenManuallyStopped"] = False
        if not by_policy:  # a user's start begins the policy's count again, as in docker
            c["RestartCount"] = 0
            self.backoff.pop(cid, None)
        d = self.paths.container(cid)
        img = self.images.load(c["Image"])
        merged = os.path.join(d, "merged")
        run_dir = self.paths.run(cid)
        os.makedirs(run_dir, exist_ok=True)
        for stale in ("exit.json",):
            try:
                os.unlink(os.path.join(run_dir, stale))
            except FileNotFoundError:
                pass
        t0 = time.perf_counter()
        try:
            if not os.path.ismount(merged):
                self.images.layers.mount(self.images.layers.chain(img.diff_ids),
                                         os.path.join(d, "upper"), os.path.join(d, "work"),
                                         merged)
            workdir = c["Config"].get("WorkingDir") or img.container_config.get("WorkingDir")
            if workdir:
                # docker creates a missing working directory (inside the rootfs only)
                make_mountpoint(merged, workdir, True)
            try:
                user = users.resolve(merged, c["Config"].get("User") or "0")
                extra = [users.group_id(merged, g) for g in c["HostConfig"].get("GroupAdd") or []]
            except InvalidArgument as err:
                raise InvalidArgument(f"unable to start container process: {err}") from err
            user = (user[0], user[1], user[2] + [g for g in extra if g not in user[2]])
            cg_path = f"{self.cgroup_parent}/{cid}"
            joins = self._joins(c["HostConfig"])
            self._check_links_running(c)
            netns_path = await self.networks.attach(c, self.all)
            if netns_path:
                joins["network"] = netns_path
            others = self.all()
            self.networks.write_etc(c, others)
            link_env = self.networks.link_env(c, others)
            points = c.get("MountPoints") or []
            for p in points:
                if p["Type"] != "volume":
                    continue
                if p.get("CopyData") and not p.get("Subpath"):  # a part: nothing of the image's
                    mounts.copy_up(merged, p["Destination"], self.volumes.mount(p["Name"]))
                self.events.emit("volume", "mount", p["Name"], {  # docker: at start
                    "container": cid, "destination": p["Destination"], "driver": p["Driver"],
                    "propagation": p["Propagation"], "read/write": str(p["RW"]).lower()})
            # link variables go to the process only, not into the record (docker's way)
            for_spec = {**c, "Config": {**c["Config"], "Env": link_env + c["Config"]["Env"]}}
            oci = spec.build(for_spec, img.container_config, rootfs=merged, user=user,
                             cgroups_path=cg_path, cgroup_v2=is_unified(), joins=joins,
                             user_mounts=mounts.oci(points, lambda p: self._volume_source(c, p)),
                             init_path=self._init_path() if c["HostConfig"].get("Init")
                             else None)
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(oci, f)
            t1 = time.perf_counter()
            log_type = c["HostConfig"].get("LogConfig", {}).get("Type", "json-file")
            max_size, max_files = logfile.rotation(c["HostConfig"].get("LogConfig") or {})
            opts = shimlib.Options(
                cid=cid, bundle=d, runtime_root=self.paths.runtime_root, state_dir=run_dir,
                log_path=c["LogPath"] if log_type == "json-file" else None,
                tty=c["Config"]["Tty"], open_stdin=c["Config"]["OpenStdin"],
                stdin_once=c["Config"]["StdinOnce"],
                new_netns=False,  # the network manager made (or chose) the namespace
                wait_attach=self.pending_attach.pop(cid, 0), runtime=self.paths.runtime,
                log_max_size=max_size, log_max_files=max_files)
            log.debug("starting %s, holding it for %d attached client(s)", cid[:12],
                      opts.wait_attach)
            sock = shimlib.spawn(opts)
            try:
                sock.setblocking(False)
                data = await asyncio.get_running_loop().sock_recv(sock, 65536)
            finally:
                sock.close()
            started = shimlib.started(json.loads(data) if data else None, cid)
            log.debug("start %s: rootfs+spec %.1f ms, shim+runtime %.1f ms", cid[:12],
                      (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000)
        except Exception as err:
            self._start_failed(c, err)
            raise
        st = c["State"]
        model.set_status(st, Status.RUNNING)
        st.update(Pid=started["Pid"], StartedAt=clock.now(), ExitCode=0, Error="",
                  FinishedAt=model.ZERO_TIME, OOMKilled=False)
        check = self.healthcheck(c, img)
        if check is not None:
            st["Health"] = health.initial()
        self._save(c)
        self._emit(c, "start")
        self._watch(cid, check)
        return c

    def _links(self, links: list[str], name: str) -> list[str]:
        """--link name[:alias] -> docker's "/name:/me/alias" (the target must exist)."""
        out = []
        for link in links:
            target, _, alias = link.partition(":")
            target = target.lstrip("/")
            try:
                other = self.get(target)
            except NotFound:
                raise NotFound(f"could not get container for {target}") from None
            alias = (alias or target).rsplit("/", 1)[-1]
            out.append(f"{other['Name']}:/{name}/{alias}")
        return out

    def _check_links_running(self, c: dict) -> None:
        for link in c["HostConfig"].get("Links") or []:
            target, _, alias = link.partition(":")
            try:
                other = self.get(target.lstrip("/"))
            except NotFound:
                raise NotFound(f"could not get container for {target.lstrip('/')}") from None
            if not other["State"]["Running"]:
                raise Conflict(f"Cannot link to a non running container: {target} AS {alias}")

    def _init_path(self) -> str:
        """The static init binary for --init (daemon's init-path, else found on PATH)."""
        if self.init_path:
            return self.init_path
        for name in _INIT_BINARIES:
            path = shutil.which(name)
            if path:
                return path
        raise InvalidArgument('exec: "docker-init": executable file not found in $PATH')

    def _joins(self, hc: dict) -> dict[str, str]:
        """container:X modes -> the /proc paths of X's namespaces (X must run)."""
        from dockling.kernel.syscalls import NAMESPACE_FILES

        out = {}
        for typ, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"),
                         ("network", "NetworkMode")):
            mode = hc.get(key) or ""
            if not mode.startswith("container:"):
                continue
            other = self.get(mode.split(":", 1)[1])
            if not other["State"]["Running"]:
                raise Conflict(f"cannot join {typ} namespace of a non running container: "
                               f"{other['Name'][1:]}")
            out[typ] = f"/proc/{other['State']['Pid']}/ns/{NAMESPACE_FILES[typ]}"
        return out

    def _start_failed(self, c: dict, err: Exception) -> None:
        st = c["State"]
        code = getattr(err, "code", None) or 128
        model.set_status(st, Status.EXITED if c["State"]["StartedAt"] != model.ZERO_TIME
                         else Status.CREATED)
        st.update(Error=str(err), ExitCode=code, Pid=0)
        self.networks.detach(c)
        self._save(c)
        self._unmount(c)
        if c["HostConfig"].get("AutoRemove"):
            self.recent_exits[c["Id"]] = code
            # moby's start cleans up --rm containers too
            self.remove(c["Id"], force=True, volumes=True)

    def _volume_source(self, c: dict, p: dict) -> str:
        """The host path the runtime binds for a volume point: the volume, or its
        subpath pinned under the container's directory (mounts.bind_subpath)."""
        path = self.volumes.mount(p["Name"])
        if not p.get("Subpath"):
            return path
        target = self._subpath_target(c, p)
        mounts.unbind_subpath(target)  # a start after a crash: not twice
        mounts.bind_subpath(path, p["Subpath"], target)
        return target

    def _subpath_target(self, c: dict, p: dict) -> str:
        import hashlib

        key = hashlib.sha256(p["Destination"].encode()).hexdigest()[:16]
        return os.path.join(self.paths.container(c["Id"]), "subpaths", key)

    def _unmount(self, c: dict) -> None:
        # subpath binds first: the container's tree is deleted later, and must not
        # reach into a volume through one
        for p in c.get("MountPoints") or []:
            if p.get("Subpath"):
                mounts.unbind_subpath(self._subpath_target(c, p))
        merged = os.path.join(self.paths.container(c["Id"]), "merged")
        if os.path.ismount(merged):
            unmount(merged)
        in_use = {p["Name"] for o in self.all() if o["State"]["Running"] and o["Id"] != c["Id"]
                  for p in o.get("MountPoints") or [] if p["Type"] == "volume"}
        for p in c.get("MountPoints") or []:
            if p["Type"] == "volume" and p["Name"] not in in_use:
                self.volumes.unmount(p["Name"])

    def volume_users(self) -> dict[str, list[str]]:
        """volume name -> the IDs of the containers that mount it (running or not)."""
        out: dict[str, list[str]] = {}
        for c in self.all():
            for p in c.get("MountPoints") or []:
                if p["Type"] == "volume":
                    out.setdefault(p["Name"], []).append(c["Id"])
        return out

    # -- exit ----------------------------------------------------------------------
    def healthcheck(self, c: dict, img=None) -> dict | None:
        """The container's health check (its own over its image's), or None."""
        img = img or self.images.load(c["Image"])
        return health.effective(c["Config"].get("Healthcheck"),
                                img.container_config.get("Healthcheck"))

    def _watch(self, cid: str, check: dict | None) -> None:
        """Follow a running container: its exit, and its health check if it has one."""
        old = self.watchers.get(cid)
        if old is not None and not old.done():
            return
        self.watchers[cid] = background.spawn(self._wait_shim(cid), f"watch {cid[:12]}")
        if check is not None and cid not in self.health_monitors:
            self.health_monitors[cid] = mon = health.Monitor(self, cid, check)
            mon.start()

    def health_result(self, cid: str, check: dict, started: float, result: dict) -> bool:
        """Record a probe's result; False once the container is gone or stopped."""
        try:
            c = self.get(cid)
        except NotFound:
            return False
        if c["State"]["Status"] != Status.RUNNING.value or "Health" not in c["State"]:
            return False
        changed = health.record(c["State"]["Health"], check, started, result)
        self._save(c)
        if changed:
            self._emit(c, f"health_status: {changed}")
        return True

    async def probe(self, cid: str, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run argv in the container (as an exec); its exit code and output."""
        eid = model.new_id()
        proc = self._process_for(self.get(cid), {"Cmd": argv})
        _, reply, reader, writer = await self.open_shim_stream(
            cid, {"op": "exec", "id": eid, "process": proc, "stdin": False, "tty": False})
        run_dir = self.paths.run(cid)
        try:
            if "error" in reply:
                return reply.get("ExitCode", 126), reply["error"]
            out = bytearray()

            async def collect() -> None:
                while chunk := await reader.read(65536):
                    out.extend(chunk)

            try:
                await asyncio.wait_for(collect(), timeout)
            except TimeoutError:
                try:
                    os.kill(reply["Pid"], signal.SIGKILL)
                except (ProcessLookupError, KeyError):
                    pass
                return -1, f"Health check exceeded timeout ({health.go_duration(timeout)})"
            result = self._exec_result({"ContainerID": cid, "ID": eid}) or {}
            return result.get("ExitCode", -1), demux_text(bytes(out))
        finally:
            writer.close()
            try:
                os.unlink(os.path.join(run_dir, f"exec-{eid}.json"))
            except OSError:
                pass

    async def _wait_shim(self, cid: str) -> None:
        sock = os.path.join(self.paths.run(cid), "shim.sock")
        result = None
        try:
            with shimlib.unix_path(sock) as p:
                reader, writer = await asyncio.open_unix_connection(p)
            writer.write(b'{"op": "wait"}\n')
            await writer.drain()
            line = await reader.readline()
            writer.close()
            if line:
                result = json.loads(line)
        except (OSError, ValueError):
            result = None
        if result is None:
            result = self._read_exit(cid) or self._shim_lost(cid)
        self._exited(cid, result)

    def _shim_lost(self, cid: str) -> dict:
        """The shim died: nobody holds the container's I/O or will record its
        exit, so end it rather than leave it running unwatched."""
        try:
            self.runtime.delete(cid, force=True)
        except (NotFound, Conflict):
            pass
        return {"ExitCode": 137, "FinishedAt": clock.now(),
                "Error": "container shim exited unexpectedly"}

    def _read_exit(self, cid: str) -> dict | None:
        try:
            with open(os.path.join(self.paths.run(cid), "exit.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def _exited(self, cid: str, result: dict) -> None:
        try:
            c = self.get(cid)
        except NotFound:
            return
        st = c["State"]
        log.debug("container %s exited: %s", cid[:12], result)
        model.set_status(st, Status.EXITED)
        st.update(Pid=0, ExitCode=result.get("ExitCode", 255),
                  FinishedAt=result.get("FinishedAt") or clock.now(),
                  OOMKilled=bool(result.get("OOMKilled")), Error=result.get("Error", ""))
        self.networks.detach(c)
        self._save(c)
        self._unmount(c)
        shim_log = os.path.join(self.paths.run(cid), "shim.log")
        if os.path.exists(shim_log):  # a crashed shim's traceback: into the daemon's log
            with open(shim_log, errors="replace") as f:
                log.error("shim of %s failed:\n%s", cid[:12], f.read())
        shutil.rmtree(self.paths.run(cid), ignore_errors=True)
        self._emit(c, "die", exitCode=str(st["ExitCode"]))
        self.watchers.pop(cid, None)
        mon = self.health_monitors.pop(cid, None)
        if mon is not None:
            mon.stop()
        again = not c["HostConfig"].get("AutoRemove") and restart.should_restart(
            c["HostConfig"].get("RestartPolicy") or {}, st["ExitCode"], c["RestartCount"],
            bool(c.get("HasBeenManuallyStopped")))
        self._wake_waiters(cid, st["ExitCode"], restarting=again)
        if again:
            started = clock.parse(st["StartedAt"])
            finished = clock.parse(st["FinishedAt"])
            ran = (finished - started).total_seconds() if started and finished else 0.0
            self._schedule_restart(c, restart.next_delay(self.backoff.get(cid), ran))
        if c["HostConfig"].get("AutoRemove"):
            self.recent_exits[cid] = st["ExitCode"]
            while len(self.recent_exits) > 256:
                self.recent_exits.pop(next(iter(self.recent_exits)))
            self.remove(cid, force=True, volumes=True)

    def _wake_waiters(self, cid: str, code: int, restarting: bool) -> None:
        keep = []
        for fut, through_restarts in self.exit_futures.pop(cid, []):
            if restarting and through_restarts:
                keep.append((fut, through_restarts))
            elif not fut.done():
                fut.set_result(code)
        if keep:
            self.exit_futures[cid] = keep

    def _schedule_restart(self, c: dict, delay: float) -> None:
        cid = c["Id"]
        self._cancel_restart(cid)
        self.backoff[cid] = delay
        model.set_status(c["State"], Status.RESTARTING)
        self._save(c)
        log.debug("restarting %s in %.1f s (policy %s)", cid[:12], delay,
                  c["HostConfig"]["RestartPolicy"]["Name"])
        self.restarts[cid] = asyncio.get_running_loop().call_later(
            delay, lambda: background.spawn(self._restart(cid), f"restart {cid[:12]}"))

    def _cancel_restart(self, cid: str) -> None:
        handle = self.restarts.pop(cid, None)
        if handle is not None:
            handle.cancel()

    async def _restart(self, cid: str) -> None:
        self.restarts.pop(cid, None)
        try:
            c = self.get(cid)
        except NotFound:
            return
        if c["State"]["Status"] != Status.RESTARTING.value:
            return
        model.set_status(c["State"], Status.EXITED)
        c["RestartCount"] = c.get("RestartCount", 0) + 1
        self._save(c)
        try:
            await self.start(cid, by_policy=True)
        except Exception as err:  # noqa: BLE001 - a failed restart is recorded, not raised
            log.warning("restart of %s failed: %s", cid[:12], err)
            c = self.get(cid)
            if restart.should_restart(c["HostConfig"]["RestartPolicy"], c["State"]["ExitCode"],
                                      c["RestartCount"], bool(c.get("HasBeenManuallyStopped"))):
                self._schedule_restart(c, restart.next_delay(self.backoff.get(cid), 0))
            else:
                self._wake_waiters(cid, c["State"]["ExitCode"], restarting=False)

    def start_at_boot(self) -> None:
        """Daemon start: restart what the policies say, finish pending restarts."""
        for c in self.all():
            st = c["State"]
            pending = st["Status"] == Status.RESTARTING.value
            if pending or (st["Status"] == Status.EXITED.value and restart.start_at_boot(
                    c["HostConfig"].get("RestartPolicy") or {}, st["ExitCode"],
                    c.get("RestartCount", 0), bool(c.get("HasBeenManuallyStopped")))):
                self._schedule_restart(c, 0)

    async def wait(self, ref: str, condition: str = "not-running") -> int:
        try:
            c = self.get(ref)
        except NotFound:
            if ref in self.recent_exits and condition != "next-exit":
                return self.recent_exits[ref]
            raise
        cid = c["Id"]
        running = c["State"]["Running"]
        if condition in ("next-exit", "removed") or running:
            fut = asyncio.get_running_loop().create_future()
            # moby: a restart (SetRestarting) wakes not-running and next-exit waiters;
            # only "removed" waits on through restarts
            self.exit_futures.setdefault(cid, []).append((fut, condition == "removed"))
            code = await fut
        else:
            code = c["State"]["ExitCode"]
        if condition == "removed" and c["HostConfig"].get("AutoRemove"):
            while True:
                try:
                    self.get(cid)
                except NotFound:
                    break
                await asyncio.sleep(0.01)
        return code

    # -- stop / kill ---------------------------------------------------------------
    def kill(self, ref: str, sig: int = signal.SIGKILL) -> None:
        c = self.get(ref)
        if not c["State"]["Running"]:
            raise Conflict(f"Cannot kill container: {ref}: Container {c['Id']} is not running")
        if c["State"]["Restarting"]:
            raise Conflict(f"Cannot kill container: {ref}: Container {c['Id']} is restarting, "
                           "wait until the container is running")
        if sig in (signal.SIGKILL, parse_signal(c["Config"].get("StopSignal") or "SIGTERM")):
            c["HasBeenManuallyStopped"] = True  # the policy must not bring it back
            self._save(c)
        try:
            self.runtime.kill(c["Id"], sig)
        except (NotFound, Conflict):
            pass
        self._emit(c, "kill", signal=str(sig))

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> bool:
        """SIGTERM (or the stop signal), then SIGKILL after timeout. False if not running."""
        c = self.get(ref)
        if not c["State"]["Running"]:
            return False
        cid = c["Id"]
        c["HasBeenManuallyStopped"] = True
        if c["State"]["Restarting"]:  # between two runs: just call off the restart
            self._cancel_restart(cid)
            model.set_status(c["State"], Status.EXITED)
            self._save(c)
            self._wake_waiters(cid, c["State"]["ExitCode"], restarting=False)
            self._emit(c, "stop")
            return True
        self._save(c)
        if timeout is None:
            timeout = c["Config"].get("StopTimeout") or 10
        sig_name = sig or c["Config"].get("StopSignal") or "SIGTERM"
        fut = asyncio.get_running_loop().create_future()
        self.exit_futures.setdefault(cid, []).append((fut, False))
        if c["State"]["Paused"]:
            self.runtime.resume(cid)
        try:
            self.runtime.kill(cid, parse_signal(sig_name))
        except (NotFound, Conflict):
            pass
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout if timeout >= 0 else None)
        except TimeoutError:
            try:
                self.runtime.kill(cid, signal.SIGKILL)
            except (NotFound, Conflict):
                pass
            await fut
        self._emit(c, "stop")
        return True

    async def kill_dead(self, ref: str, sig: int = signal.SIGKILL,
                        timeout: float = 10.0) -> None:
        """docker kill: send ``sig``; for SIGKILL, answer once the container has
        exited (moby's kill.go waits on the state), so an inspect right after sees
        it stopped. Bounded: a process stuck in the kernel does not hold the
        client forever (the exit is recorded when it comes)."""
        if sig != signal.SIGKILL:
            self.kill(ref, sig)
            return
        c = self.get(ref)
        cid = c["Id"]
        fut = asyncio.get_running_loop().create_future()
        entry = (fut, False)
        self.exit_futures.setdefault(cid, []).append(entry)
        try:
            self.kill(cid, sig)
            if c["State"]["Paused"]:  # a frozen task gets SIGKILL once thawed (moby unpauses)
                try:
                    self.runtime.resume(cid)
                except (NotFound, Conflict):
                    pass
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            log.warning("container %s not dead %.0f s after SIGKILL", cid[:12], timeout)
        finally:
            waiting = self.exit_futures.get(cid) or []
            if entry in waiting:
                waiting.remove(entry)

    async def kill_and_wait(self, ref: str) -> None:
        """SIGKILL and wait for the exit (rm -f of a running container)."""
        c = self.get(ref)
        fut = asyncio.get_running_loop().create_future()
        self.exit_futures.setdefault(c["Id"], []).append((fut, False))
        try:
            self.kill(c["Id"], signal.SIGKILL)
        except Conflict:  # it ended on its own meanwhile
            self._wake_waiters(c["Id"], c["State"]["ExitCode"], restarting=False)
        await fut

    # -- remove --------------------------------------------------------------------
    def remove_link(self, ref: str) -> None:
        """docker rm --link /parent/alias: the parent forgets that link; both
        containers stay (moby's delete.go rmLink). The link is named as docker
        registers it: the parent's name, then the alias."""
        name = "/" + ref.lstrip("/")
        parent, _, alias = name.rpartition("/")
        if not parent:
            # moby: a plain error, so a 500
            raise InternalError("Conflict, cannot remove the default link name of the "
                                "container")
        try:
            c = self.get(parent)
        except NotFound:
            raise NotFound(f"No such container: {ref}") from None
        links = c["HostConfig"].get("Links") or []
        kept = [link for link in links if link.partition(":")[2] != f"{c['Name']}/{alias}"]
        if len(kept) == len(links):
            raise NotFound(f"No such container: {ref}")
        c["HostConfig"]["Links"] = kept
        self._save(c)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``volumes``: also remove the container's anonymous volumes (rm -v, --rm)."""
        c = self.get(ref)
        cid = c["Id"]
        Status(c["State"]["Status"]).check_remove(c["Name"], force)
        self._cancel_restart(cid)
        self.backoff.pop(cid, None)
        if c["State"]["Running"] and not c["State"]["Restarting"]:
            try:
                self.runtime.delete(cid, force=True)
            except (NotFound, Conflict):
                pass
        self.networks.detach(c)
        self._unmount(c)
        with self.db.tx() as conn:
            conn.execute("DELETE FROM containers WHERE id = ?", (cid,))
        # a writable layer can be GBs and many files: deleted in a worker thread
        background.remove_tree(self.paths.container(cid))
        background.remove_tree(self.paths.run(cid))
        task = self.watchers.pop(cid, None)
        if task is not None:
            task.cancel()
        mon = self.health_monitors.pop(cid, None)
        if mon is not None:
            mon.stop()
        if volumes:
            users = self.volume_users()
            for p in c.get("MountPoints") or []:
                if p["Type"] != "volume" or users.get(p["Name"]):
                    continue
                try:
                    vol = self.volumes.get(p["Name"])
                except NotFound:
                    continue
                if ANONYMOUS_LABEL in (vol.get("Labels") or {}):
                    self.volumes.remove(p["Name"], [])
                    self.events.emit("volume", "destroy", p["Name"], {"driver": "local"})
        # Waiters (condition=removed) learn the last exit code.
        self._wake_waiters(cid, c["State"]["ExitCode"], restarting=False)
        self._emit(c, "destroy")

    # -- pause / stats --------------------------------------------------------------
    def pause(self, ref: str) -> None:
        c = self.get(ref)
        Status(c["State"]["Status"]).check_pause(c["Id"])
        self.runtime.pause(c["Id"])
        model.set_status(c["State"], Status.PAUSED)
        self._save(c)
        self._emit(c, "pause")

    def unpause(self, ref: str) -> None:
        c = self.get(ref)
        if c["State"]["Status"] != Status.PAUSED.value:
            raise Conflict(f"Container {c['Id']} is not paused")
        self.runtime.resume(c["Id"])
        model.set_status(c["State"], Status.RUNNING)
        self._save(c)
        self._emit(c, "unpause")

    def stats_sample(self, c: dict) -> tuple[dict, int]:
        """The container's cgroup counters and the host's CPU time, read together."""
        from dockling.runtime.cgroups import manager_for

        cg = manager_for(f"{self.cgroup_parent}/{c['Id']}", c["Id"])
        return cg.stats(), stats.system_cpu_ns()

    def _prunable(self, filters: dict[str, list[str]]) -> list[dict]:
        until = filters.get("until")
        cutoff = parse_since(until[-1], "until") if until else None
        out = []
        for c in self.all():
            if c["State"]["Status"] not in ("exited", "created", "dead"):
                continue
            if cutoff is not None and clock.unix(c["Created"]) >= cutoff:
                continue
            if not _labels_match(c["Config"].get("Labels") or {}, filters):
                continue
            out.append(c)
        return out

    def prune_sizes(self, filters: dict[str, list[str]]) -> dict[str, int]:
        """The SizeRw of each container ``prune`` would remove: tree walks, for a
        worker thread."""
        return {c["Id"]: self.size_rw(c) for c in self._prunable(filters)}

    def prune(self, filters: dict[str, list[str]],
              sizes: dict[str, int] | None = None) -> tuple[list[str], int]:
        """Remove stopped containers (filters: label, label!, until); IDs and bytes freed.

        ``sizes``: from ``prune_sizes`` (walked off the event loop); a container
        stopped since then counts 0."""
        deleted, space = [], 0
        for c in self._prunable(filters):
            space += self.size_rw(c) if sizes is None else sizes.get(c["Id"], 0)
            self.remove(c["Id"])
            deleted.append(c["Id"])
        self.events.emit("container", "prune", "", {"reclaimed": str(space)})
        return deleted, space

    def size_rw(self, c: dict) -> int:
        """Bytes in the container's writable layer (docker's SizeRw)."""
        return tree_size(os.path.join(self.paths.container(c["Id"]), "upper"))

    # -- network connect / disconnect ---------------------------------------------------
    async def connect(self, ref: str, network: str, endpoint: dict) -> None:
        c = self.get(ref)
        net = self.networks.store.get(network)
        mode = c["HostConfig"].get("NetworkMode") or "default"
        if mode == "host" or net["Driver"] in ("host", "null") or mode == "none":
            raise Forbidden("container cannot be disconnected from host network or connected "
                            "to host network" if "host" in (mode, net["Driver"]) else
                            "container cannot be connected to multiple networks with one of "
                            "the networks in private (none) mode")
        if net["Name"] in c["NetworkSettings"]["Networks"]:
            raise Forbidden(f"endpoint with name {c['Name'][1:]} already exists in network "
                            f"{net['Name']}")
        ep = self.networks.new_endpoint(net, endpoint)
        c["NetworkSettings"]["Networks"][net["Name"]] = ep
        if c["State"]["Running"] and not c["State"]["Restarting"]:
            await self.networks.connect_live(c, net, ep, self.all)
        self._save(c)

    def disconnect(self, ref: str, network: str, force: bool = False) -> None:
        c = self.get(ref)
        net = self.networks.store.get(network)
        ep = c["NetworkSettings"]["Networks"].get(net["Name"])
        if ep is None:
            raise Forbidden(f"container {c['Id']} is not connected to network {net['Name']}")
        if net["Driver"] == "host":
            raise Forbidden("container cannot be disconnected from host network or connected "
                            "to host network")
        self.networks.disconnect_live(c, net["Name"])
        del c["NetworkSettings"]["Networks"][net["Name"]]
        self._save(c)

    def update(self, ref: str, changes: dict) -> None:
        """docker update: new resource limits, applied live if the container runs."""
        c = self.get(ref)
        allowed = {"CpuShares", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus",
                   "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "PidsLimit",
                   "BlkioWeight", "RestartPolicy"}
        hc = {**c["HostConfig"], **{k: v for k, v in changes.items() if k in allowed}}
        resources.validate(hc)
        if c["State"]["Running"]:
            from dockling.runtime import spec as oci

            new = oci.from_dict({"root": {"path": "/"}, "process": {"args": ["x"]},
                                 "linux": {"resources": resources.oci_resources(
                                     {k: v for k, v in hc.items() if k in changes
                                      or k in ("Memory", "MemorySwap")})}})
            self.runtime.update(c["Id"], new.linux.resources)
        c["HostConfig"] = hc
        self._save(c)
        self._emit(c, "update")

    def rename(self, ref: str, new: str) -> None:
        c = self.get(ref)
        if not _NAME_RE.match(new):
            raise InvalidArgument(f"Invalid container name ({new}), only "
                                  "[a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        new = new.lstrip("/")
        other = self.db.one("SELECT id FROM containers WHERE name = ?", new)
        if other and other["id"] != c["Id"]:
            raise Conflict(f'Conflict. The container name "/{new}" is already in use by '
                           f'container "{other["id"]}". You have to remove (or rename) that '
                           "container to be able to reuse that name.")
        c["Name"] = "/" + new
        self._save(c)

    # -- queries -------------------------------------------------------------------
    def inspect(self, ref: str) -> dict:
        c = self.get(ref)
        for private in ("MountPoints", "HasBeenManuallyStopped"):
            c.pop(private, None)
        for ep in c["NetworkSettings"]["Networks"].values():
            for key in [k for k in ep if k.startswith("_")]:
                del ep[key]
        return c

    def link_names(self) -> dict[str, list[str]]:
        """Container name -> the names links give it ("/me/alias"), which docker
        lists among its Names."""
        out: dict[str, list[str]] = {}
        for other in self.all():
            for link in other["HostConfig"].get("Links") or []:
                target, _, alias = link.partition(":")
                out.setdefault(target, []).append(alias)
        return out

    def summary(self, c: dict, link_names: list[str] = ()) -> dict:
        cfg = c["Config"]
        img_name = cfg.get("Image", "")
        cmd = " ".join([c["Path"], *c["Args"]])
        return {
            "Id": c["Id"],
            "Names": [c["Name"], *link_names],
            "Image": img_name,
            "ImageID": c["Image"],
            "Command": cmd,
            "Created": int(clock.unix(c["Created"])),
            "Ports": _port_list(c["NetworkSettings"].get("Ports") or {}),
            "Labels": cfg.get("Labels") or {},
            "State": c["State"]["Status"],
            "Status": model.status_text(c["State"]),
            "HostConfig": {"NetworkMode": c["HostConfig"].get("NetworkMode", "default")},
            "NetworkSettings": {"Networks": c["NetworkSettings"]["Networks"]},
            "Mounts": c.get("Mounts", []),
        }

    def list(self, all_: bool, filters: dict[str, list[str]], limit: int = -1) -> list[dict]:
        out = []
        for c in sorted(self.all(), key=lambda c: c["Created"], reverse=True):
            if not all_ and not c["State"]["Running"] and limit <= 0:
                continue
            if not _matches(c, filters, self.images):
                continue
            out.append(c)
        if limit > 0:
            out = out[:limit]
        return out

    def top(self, ref: str, ps_args: str = "") -> dict:
        """docker top: the host's ps (with the user's options), rows of this container."""
        c = self.get(ref)
        if not c["State"]["Running"] or c["State"]["Restarting"]:
            raise Conflict(f"Container {c['Id']} is not running")
        pids = set(self.runtime.pids(c["Id"]))
        try:
            out = subprocess.run(["ps", *(ps_args.split() or ["-ef"])], capture_output=True,
                                 text=True, check=True, timeout=10).stdout
        except subprocess.CalledProcessError as err:
            raise InternalError(f"ps: {err.stderr.strip() or err}") from err
        lines = out.splitlines()
        titles = lines[0].split() if lines else []
        if "PID" not in titles:
            raise InternalError("Couldn't find PID field in ps output")
        col = titles.index("PID")
        procs = []
        for line in lines[1:]:
            fields = line.split(None, len(titles) - 1)
            try:
                pid = int(fields[col])
            except (IndexError, ValueError):
                continue
            if pid in pids:
                procs.append(fields)
        return {"Titles": titles, "Processes": procs}

    # -- logs / attach -----------------------------------------------------------------
    def log_path(self, ref: str) -> tuple[dict, str]:
        c = self.get(ref)
        if c["HostConfig"].get("LogConfig", {}).get("Type") == "none":
            raise InvalidArgument('configured logging driver does not support reading')
        return c, c["LogPath"]

    async def logs(self, ref: str, **kw):
        c, path = self.log_path(ref)
        async for chunk in logfile.read(path, lambda: self._running(c["Id"]),
                                        tty=c["Config"]["Tty"], **kw):
            yield chunk

    def _running(self, cid: str) -> bool:
        try:
            return self.get(cid)["State"]["Running"]
        except NotFound:
            return False

    async def open_shim_stream(self, ref: str, request: dict, force: bool = False):
        c = self.get(ref)
        if not c["State"]["Running"] and not force:
            raise Conflict(f"Container {c['Id']} is not running") if request.get(
                "op") == "exec" else Conflict(
                "You cannot attach to a stopped container, start it first")
        sock = os.path.join(self.paths.run(c["Id"]), "shim.sock")
        try:
            with shimlib.unix_path(sock) as p:
                reader, writer = await asyncio.open_unix_connection(p, limit=1 << 20)
        except OSError as err:
            raise InternalError(f"cannot reach the shim of {c['Id'][:12]}: {err}") from err
        writer.write(json.dumps(request).encode() + b"\n")
        await writer.drain()
        line = await reader.readline()
        try:
            reply = json.loads(line)
        except ValueError as err:
            writer.close()
            raise InternalError("shim closed the stream") from err
        return c, reply, reader, writer

    async def resize(self, ref: str, height: int, width: int, exec_id: str | None = None) -> None:
        c = self.get(ref)
        if not c["State"]["Running"]:
            raise Conflict(f"Container {c['Id']} is not running")
        sock = os.path.join(self.paths.run(c["Id"]), "shim.sock")
        with shimlib.unix_path(sock) as p:
            reader, writer = await asyncio.open_unix_connection(p)
        req = {"op": "resize", "height": height, "width": width}
        if exec_id:
            req["exec"] = exec_id
        writer.write(json.dumps(req).encode() + b"\n")
        await writer.drain()
        await reader.readline()
        writer.close()

    # -- diff / commit -------------------------------------------------------------------
    def changes(self, ref: str) -> list[dict]:
        c = self.get(ref)
        img = self.images.load(c["Image"])
        lowers = self.images.layers.lower_dirs(self.images.layers.chain(img.diff_ids))
        out = pack.changes(os.path.join(self.paths.container(c["Id"]), "upper"), lowers,
                           spec.MOUNT_STUBS)
        return _without_stub_parents(out)

    @contextlib.contextmanager
    def paused_for(self, c: dict, pause: bool = True):
        """Freeze a running container while its files are read or written (cp,
        commit), as docker does: its processes cannot swap a directory for a
        symlink meanwhile. The record says paused (a daemon killed meanwhile
        leaves a container `unpause` recovers); pause and unpause events, as
        docker's commit gives. A container paused already stays paused. One that
        cannot be frozen (no freezer, stopped meanwhile) is worked on as it is:
        the descriptor walks alone keep the work inside its root."""
        paused = False
        if pause and c["State"]["Status"] == Status.RUNNING.value:
            try:
                self.pause(c["Id"])
                paused = True
            except (Conflict, InvalidArgument, InternalError, NotFound) as err:
                # NotFound: it exited meanwhile and its runtime state is gone (moby's
                # commit ignores the pause's error too)
                log.warning("container %s not paused: %s", c["Id"][:12], err)
        try:
            yield
        finally:
            if paused:
                try:
                    self.unpause(c["Id"])
                except (Conflict, NotFound):
                    pass  # unpaused, stopped or gone meanwhile

    def commit(self, ref: str, repo: str | None, tag: str | None, comment: str = "",
               author: str = "", changes: list[str] | None = None,
               config: dict | None = None, pause: bool = True) -> str:
        """The container's upper dir becomes a new layer on top of its image.

        ``pause``: docker's commit pauses a running container (the API's
        ``pause``, true unless given false)."""
        c = self.get(ref)
        img = self.images.load(c["Image"])
        upper = os.path.join(self.paths.container(c["Id"]), "upper")
        chains = self.images.layers.chain(img.diff_ids)
        with self.paused_for(c, pause):
            with tempfile.TemporaryFile(dir=self.paths.root) as tmp:
                pack.write_layer(upper, tmp, exclude=spec.MOUNT_STUBS)
                tmp.seek(0)
                layer = self.images.layers.register(tmp, chains[-1] if chains else None)
            new_cfg = {k: v for k, v in c["Config"].items()
                       if k not in ("Hostname", "Domainname", "AttachStdin", "AttachStdout",
                                    "AttachStderr", "Image")}
            new_cfg.update(config or {})
            archive.apply_changes(new_cfg, changes or [])
            created = clock.now()
            cfg = dict(img.config)
            cfg.update(created=created, config=new_cfg, author=author or cfg.get("author", ""),
                       container=c["Id"])
            cfg["rootfs"] = {"type": "layers", "diff_ids": [*img.diff_ids, layer.diff_id]}
            cfg["history"] = [*(img.config.get("history") or []),
                              {"created": created, "created_by": " ".join([c["Path"], *c["Args"]]),
                               "comment": comment, **({"author": author} if author else {})}]
            image_id = self.images.add(cfg, parent=img.id)
            if repo:
                self.images.tag(image_id, f"{repo}:{tag}" if tag else repo)
            self._emit(c, "commit")
        return image_id

    # -- exec ----------------------------------------------------------------------------
    def exec_create(self, ref: str, body: dict) -> str:
        c = self.get(ref)
        Status(c["State"]["Status"]).check_running(c["Id"])
        cmd = body.get("Cmd") or []
        if not cmd:
            raise InvalidArgument("No exec command specified")
        keys = _field(body, "DetachKeys") or ""
        if keys:
            detachkeys.for_exec(keys)  # docker: 400 at create for keys it cannot read
        eid = model.new_id()
        self.execs[eid] = {
            "ID": eid, "Running": False, "ExitCode": None, "ProcessConfig": {
                "tty": bool(body.get("Tty")), "entrypoint": cmd[0], "arguments": cmd[1:],
                "privileged": bool(body.get("Privileged")), "user": body.get("User", "")},
            "OpenStdin": bool(body.get("AttachStdin")), "OpenStderr": bool(
                body.get("AttachStderr")), "OpenStdout": bool(body.get("AttachStdout")),
            "CanRemove": False, "ContainerID": c["Id"], "DetachKeys": keys,
            "Pid": 0, "_body": body}
        c["ExecIDs"] = [*(c.get("ExecIDs") or []), eid]
        self._save(c)
        self._emit(c, f"exec_create: {_exec_text(self.execs[eid])}", execID=eid)
        return eid

    async def exec_start(self, eid: str, frame: bool):
        """Start an exec; the shim's (reader, writer) of its stream: docker's 8-byte
        frames when ``frame`` (the start asked for no TTY), else the raw bytes.

        A process that cannot start raises InvalidArgument in runc's words under
        docker's prefix, and its exec records exit code 126 (127 for a missing
        program), as moby's setExitCodeFromError does."""
        ex = self.exec_get(eid)
        if ex["Running"] or ex["ExitCode"] is not None:
            raise Conflict(f"Error: Exec command {ex['ID']} has already run")
        proc = self.exec_process(ex)
        ex["Running"] = True  # a second start meanwhile is refused
        try:
            _, reply, reader, writer = await self.open_shim_stream(
                ex["ContainerID"], {"op": "exec", "id": ex["ID"], "process": proc,
                                    "stdin": ex["OpenStdin"], "tty": proc["terminal"],
                                    "frame": frame})
        except BaseException:
            ex["Running"] = False
            ex["ExitCode"] = 126
            raise
        if "error" in reply:
            writer.close()
            ex["Running"] = False
            ex["ExitCode"] = reply.get("ExitCode", 126)
            why = reply["error"]
            if not why.startswith("unable to start container process"):
                why = f"unable to start container process: {why}"
            raise InvalidArgument(f"OCI runtime exec failed: exec failed: {why}: unknown")
        ex["Pid"] = reply.get("Pid", 0)
        self._emit(self.get(ex["ContainerID"]), f"exec_start: {_exec_text(ex)}", execID=eid)
        return reader, writer

    def exec_ended(self, eid: str) -> None:
        """An exec's stream ended: if the process did (not a detach), record its exit
        and send moby's exec_die event, once."""
        ex = self.exec_get(eid)
        if ex["ExitCode"] is None or ex.get("_died"):
            return
        ex["_died"] = True
        try:
            c = self.get(ex["ContainerID"])
        except NotFound:
            return
        self._emit(c, "exec_die", execID=eid, exitCode=str(ex["ExitCode"]))

    async def exec_detached(self, eid: str, reader: asyncio.StreamReader, writer) -> None:
        """A detached exec (start with Detach): its output goes nowhere, and its end
        is still recorded and announced."""
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            writer.close()
        self.exec_ended(eid)

    def exec_get(self, eid: str) -> dict:
        ex = self.execs.get(eid)
        if ex is None:
            raise NotFound(f"No such exec instance: {eid}")
        if ex["Running"]:
            st = self._exec_result(ex)
            if st is not None:
                ex["Running"] = False
                ex["ExitCode"] = st["ExitCode"]
        return ex

    def _exec_result(self, ex: dict) -> dict | None:
        try:
            with open(os.path.join(self.paths.run(ex["ContainerID"]),
                                   f"exec-{ex['ID']}.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def exec_process(self, ex: dict) -> dict:
        """The OCI process for an exec: the container's, with exec's overrides."""
        return self._process_for(self.get(ex["ContainerID"]), ex["_body"])

    def _process_for(self, c: dict, body: dict) -> dict:
        with open(os.path.join(self.paths.container(c["Id"]), "config.json")) as f:
            proc = json.load(f)["process"]
        proc["args"] = body["Cmd"]
        proc["terminal"] = bool(body.get("Tty"))
        env = {kv.split("=", 1)[0]: kv for kv in proc["env"]}
        for kv in body.get("Env") or []:
            env[kv.split("=", 1)[0]] = kv
        proc["env"] = list(env.values())
        if body.get("WorkingDir"):
            proc["cwd"] = body["WorkingDir"]
        if body.get("User"):
            merged = os.path.join(self.paths.container(c["Id"]), "merged")
            uid, gid, groups = users.resolve(merged, body["User"])
            proc["user"] = {"uid": uid, "gid": gid, "additionalGids": groups}
        if body.get("Privileged"):
            from dockling.runtime.capabilities import CAPS

            proc["capabilities"] = {k: list(CAPS) for k in ("bounding", "effective",
                                                            "permitted")}
        proc.pop("consoleSize", None)
        return proc


_NAMESPACED_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                       "kernel.shm_rmid_forced")


def _field(doc: dict, name: str):
    """``doc[name]`` matched as Go's encoding/json does: exact key, else any case."""
    if name in doc:
        return doc[name]
    low = name.lower()
    return next((v for k, v in doc.items() if k.lower() == low), None)


def _without_stub_parents(changes: list[dict]) -> list[dict]:
    """Drop "/etc modified" when all that changed there are the mount stubs (hosts,
    hostname, resolv.conf): docker keeps those in its init layer, so its diff of a
    container that only touched /test is [/test added]."""
    parents = {"/" + os.path.dirname(s) for s in spec.MOUNT_STUBS if "/" in s}
    busy = {p for p in parents for ch in changes if ch["Path"].startswith(p + "/")}
    return [ch for ch in changes
            if not (ch["Kind"] == 0 and ch["Path"] in parents and ch["Path"] not in busy)]


def _exec_text(ex: dict) -> str:
    """An exec's command in its events, as moby writes it (entrypoint, space, args)."""
    pc = ex["ProcessConfig"]
    return pc["entrypoint"] + " " + " ".join(pc["arguments"])


def demux_text(data: bytes) -> str:
    """The text of a multiplexed (8-byte framed) stream, stdout and stderr in order."""
    out = bytearray()
    while len(data) >= 8:
        size = int.from_bytes(data[4:8], "big")
        out.extend(data[8:8 + size])
        data = data[8 + size:]
    return out.decode(errors="replace")


def _labels_match(labels: dict, filters: dict[str, list[str]]) -> bool:
    for v in filters.get("label") or []:
        k, eq, val = v.partition("=")
        if k not in labels or (eq and labels[k] != val):
            return False
    for v in filters.get("label!") or []:
        k, eq, val = v.partition("=")
        if k in labels and (not eq or labels[k] == val):
            return False
    return True


def _runtime_name(name: str | None, daemon_runtime: str) -> str:
    """HostConfig.Runtime: "" or missing is the daemon's runtime, as in docker. Every
    container runs on the daemon's one runtime, so another name is refused (docker's
    400), never recorded for a container that would not run on it."""
    default = api_name(daemon_runtime)
    if not name or name == default or (name in BUILTIN and daemon_runtime in BUILTIN):
        return default
    raise InvalidArgument(f"unknown or invalid runtime name: {name}")


def _check_sysctls(hc: dict) -> None:
    """docker allows only namespaced sysctls, and net.* not with the host's network."""
    for key in hc.get("Sysctls") or {}:
        if key.startswith("net."):
            if hc.get("NetworkMode") == "host":
                raise InvalidArgument(f"sysctl '{key}' not allowed in host network namespace")
        elif key.startswith("fs.mqueue.") or key in _NAMESPACED_SYSCTLS:
            if key.startswith("kernel.") and hc.get("IpcMode") == "host":
                raise InvalidArgument(f"sysctl '{key}' not allowed with host IPC namespace")
        else:
            raise InvalidArgument(f"sysctl '{key}' is not allowed")


def _check_extra_hosts(hosts: list[str]) -> None:
    import ipaddress

    for h in hosts:
        host, sep, ip = h.partition(":") if "=" not in h else h.partition("=")
        if not sep or not host:
            raise InvalidArgument(f"bad format for add-host: \"{h}\"")
        if ip != "host-gateway":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise InvalidArgument(f"invalid IP address in add-host: \"{ip}\"") from None


def _port_list(ports: dict) -> list[dict]:
    """NetworkSettings.Ports -> the Ports of the container list (docker ps)."""
    out = []
    for port, binds in ports.items():
        num, _, proto = port.partition("/")
        if not binds:
            out.append({"PrivatePort": int(num), "Type": proto or "tcp"})
        for b in binds or []:
            out.append({"IP": b["HostIp"], "PrivatePort": int(num),
                        "PublicPort": int(b["HostPort"]), "Type": proto or "tcp"})
    return out


def _matches(c: dict, filters: dict[str, list[str]], images: ImageStore) -> bool:
    for key, values in filters.items():
        if not values:
            continue
        if key == "status" and c["State"]["Status"] not in values:
            return False
        # docker matches the name with and without its leading slash (moby#37728)
        if key == "name" and not any(re.search(v, c["Name"]) or re.search(v, c["Name"][1:])
                                     for v in values):
            return False
        if key == "id" and not any(c["Id"].startswith(v) for v in values):
            return False
        if key == "label":
            labels = c["Config"].get("Labels") or {}
            for v in values:
                k, eq, val = v.partition("=")
                if k not in labels or (eq and labels[k] != val):
                    return False
        if key == "ancestor":
            ok = False
            for v in values:
                try:
                    if images.resolve(v) == c["Image"]:
                        ok = True
                except (NotFound, InvalidArgument):
                    if c["Config"].get("Image") == v:
                        ok = True
            if not ok:
                return False
        if key == "exited" and (c["State"]["Status"] != "exited" or str(
                c["State"]["ExitCode"]) not in values):
            return False
    return True
