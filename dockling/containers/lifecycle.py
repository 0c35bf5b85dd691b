"""start, stop, kill, pause, unpause, update and remove: a container's state changes.

Start path: mount the overlay, write hostname/hosts/resolv.conf, build the
OCI config, have a shim forked (it creates and starts the container through
the runtime), then hand the container to the monitor, which records its exit.
Each transition is guarded by ``state.Status`` (docker's 409 wording); the
record is saved and the event sent once the change is made.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import logging
import os
import shutil
import signal
import time

import msgspec

from dockling import background, clock
from dockling.containers import cleanup, health, model, resources, spec, users
from dockling.containers import logs as logfile
from dockling.containers.model import Container, HostConfig, MountSpec, UpdateConfig
from dockling.containers.state import Status, set_status
from dockling.errors import Conflict, InternalError, InvalidArgument, NotFound
from dockling.images.layers import unmount
from dockling.kernel import record
from dockling.kernel.paths import make_mountpoint
from dockling.runtime.cgroups import is_unified
from dockling.runtime.process import parse_signal
from dockling.shim import shim as shimlib
from dockling.volumes import mounts
from dockling.volumes.store import ANONYMOUS_LABEL

log = logging.getLogger("dockling.containers")

# what docker update changes (moby's container.UpdateConfig Resources we apply)
_UPDATABLE = ("CpuShares", "Memory", "MemorySwap", "MemoryReservation", "NanoCpus",
              "CpuPeriod", "CpuQuota", "CpusetCpus", "CpusetMems", "BlkioWeight")
_GONE_TRACES = 16  # auto-removed containers whose start's trace is kept (run --rm --trace)
# static builds only: the init runs inside images that have no libc
_INIT_BINARIES = ("docker-init", "tini-static", "catatonit")


class Lifecycle:
    """The state changes of the manager ``m``'s containers."""

    def __init__(self, m) -> None:
        self.m = m
        # run --rm --trace: the traces of the last auto-removed containers, for the CLI
        # that asks once its container has gone (a `true` is removed within ms)
        self.gone_traces: dict[str, list[dict]] = {}

    # -- start ---------------------------------------------------------------------
    async def start(self, ref: str, by_policy: bool = False, trace: bool = False) -> Container:
        """Start a created or exited container; ``by_policy``: a restart policy's restart;
        ``trace``: the kernel calls of this start (the daemon's and the shim's) go to
        the container's trace (``kernel.record``), for ``run --trace``."""
        if not trace:
            return await self._start(ref, by_policy, False)
        d = self.m.paths.container(self.m.records.get(ref).Id)
        with record.tracing(os.path.join(d, record.TRACE_FILE), "daemon"):
            return await self._start(ref, by_policy, True)

    def trace(self, ref: str) -> list[dict]:
        """The kernel calls of the container's last traced start, in time order (kept in
        its directory, not the run dir: they outlive its exit, until rm; an
        auto-removed container's for a while after)."""
        try:
            cid = self.m.records.get(ref).Id
        except NotFound:
            if ref in self.gone_traces:
                return self.gone_traces[ref]
            raise
        return record.read(os.path.join(self.m.paths.container(cid), record.TRACE_FILE))

    async def _start(self, ref: str, by_policy: bool, trace: bool) -> Container:
        m = self.m
        c = m.records.get(ref)
        Status(c.State.Status).check_start()
        cid = c.Id
        c._ManuallyStopped = False
        if not by_policy:  # a user's start begins the policy's count again, as in docker
            c.RestartCount = 0
            m.restarts.forget_backoff(cid)
        d = m.paths.container(cid)
        img = m.images.load(c.Image)
        merged = os.path.join(d, "merged")
        run_dir = m.paths.run(cid)
        os.makedirs(run_dir, exist_ok=True)
        try:
            os.unlink(os.path.join(run_dir, "exit.json"))
        except FileNotFoundError:
            pass
        t0 = time.perf_counter()
        try:
            user = await asyncio.to_thread(self._prepare_rootfs, c, img, d)
            cg_path = f"{m.cgroup_parent}/{cid}"
            joins = self._joins(c.HostConfig)
            self._check_links_running(c)
            sandbox = m.networks.prepare(c)
            plumb = None
            if sandbox is not None:
                joins["network"] = sandbox.path
                plumb = functools.partial(m.networks.plumb, c, sandbox, m.records.all)
            # the other containers matter to --link only (hosts entries, variables):
            # reading every record costs a start more the more containers there are
            others = m.records.all() if c.HostConfig.Links else []
            m.networks.write_etc(c, others)
            link_env = m.networks.link_env(c, others)
            points = c._MountPoints
            self._mount_volumes(c, merged, points)
            # link variables go to the process only, not into the record (docker's way)
            for_spec = msgspec.structs.replace(c, Config=msgspec.structs.replace(
                c.Config, Env=link_env + (c.Config.Env or [])))
            oci = spec.build(for_spec, img.container_config, rootfs=merged, user=user,
                             cgroups_path=cg_path, cgroup_v2=is_unified(), joins=joins,
                             user_mounts=mounts.oci(points, lambda p: self._volume_source(c, p)),
                             init_path=self._init_path() if c.HostConfig.Init
                             else None)
            with open(os.path.join(d, "config.json"), "w") as f:
                f.write(json.dumps(oci))  # dumps: C's encoder; dump streams through Python's
            t1 = time.perf_counter()
            started = await self._spawn_shim(c, d, run_dir, trace, plumb)
            log.debug("start %s: rootfs+spec %.1f ms, shim+runtime %.1f ms", cid[:12],
                      (t1 - t0) * 1000, (time.perf_counter() - t1) * 1000)
        except Exception as err:
            self._start_failed(c, err)
            raise
        st = c.State
        set_status(st, Status.RUNNING)
        st.Pid, st.StartedAt, st.FinishedAt = started["Pid"], clock.now(), model.ZERO_TIME
        st.ExitCode, st.Error, st.OOMKilled = 0, "", False
        check = m.monitor.healthcheck(c, img)
        if check is not None:
            st.Health = health.initial()
        m.records.save(c)
        m.records.emit(c, "start")
        m.monitor.watch(cid, check)
        return c

    def _mount_volumes(self, c: Container, merged: str, points: list[MountSpec]) -> None:
        """Copy the image's files up into empty volumes; docker's volume mount events."""
        m = self.m
        for p in points:
            if p.Type != "volume":
                continue
            if p.CopyData and not p.Subpath:  # a part: nothing of the image's
                mounts.copy_up(merged, p.Destination, m.volumes.mount(p.Name))
            m.events.emit("volume", "mount", p.Name, {  # docker: at start
                "container": c.Id, "destination": p.Destination, "driver": p.Driver,
                "propagation": p.Propagation, "read/write": str(p.RW).lower()})

    def _prepare_rootfs(self, c: Container, img, d: str) -> tuple[int, int, list[int]]:
        """The container's root mounted (a worker thread's job: a mount, a few file
        reads in the image); the user it runs as (uid, gid, groups)."""
        merged = os.path.join(d, "merged")
        if not os.path.ismount(merged):
            layers = self.m.images.layers
            layers.mount(layers.chain(img.diff_ids), os.path.join(d, "upper"),
                         os.path.join(d, "work"), merged)
        workdir = c.Config.WorkingDir or img.container_config.WorkingDir
        if workdir:
            # docker creates a missing working directory (inside the rootfs only)
            make_mountpoint(merged, workdir, True)
        return _user(merged, c)

    async def _spawn_shim(self, c: Container, bundle: str, run_dir: str, trace: bool,
                          plumb) -> dict:
        """Have the shim forked; its "started" message ({"Pid", "ShimPid"}).
        ``plumb()``: the network's second half, made while the runtime makes the
        container (from when the shim is on its way: both want the CPU); the shim
        starts the container once it is done, or deletes it if it failed."""
        m = self.m
        cid = c.Id
        log_type = c.HostConfig.LogConfig.Type or "json-file"
        max_size, max_files = logfile.rotation(c.HostConfig.LogConfig)
        opts = shimlib.Options(
            cid=cid, bundle=bundle, runtime_root=m.paths.runtime_root, state_dir=run_dir,
            log_path=c.LogPath if log_type == "json-file" else None,
            tty=c.Config.Tty, open_stdin=c.Config.OpenStdin,
            stdin_once=c.Config.StdinOnce,
            new_netns=False,  # the network manager made (or chose) the namespace
            wait_attach=m.attachments.take_pending(cid), runtime=m.paths.runtime,
            log_max_size=max_size, log_max_files=max_files, trace=trace,
            hold=plumb is not None, alone=spec.needs_own_shim(c.HostConfig))
        log.debug("starting %s, holding it for %d attached client(s)", cid[:12],
                  opts.wait_attach)
        sock = shimlib.spawn(opts, m.containers_per_shim)
        loop = asyncio.get_running_loop()
        plumbing = asyncio.ensure_future(plumb()) if plumb is not None else None
        try:
            sock.setblocking(False)
            if plumbing is not None:
                data = await loop.sock_recv(sock, 65536)
                shimlib.report(json.loads(data) if data else None, cid)  # "created"
                try:
                    await plumbing
                except BaseException:
                    # the shim deletes the container; its answer once it has
                    shimlib.release(sock, go=False)
                    await loop.sock_recv(sock, 65536)
                    raise
                shimlib.release(sock, go=True)
            data = await loop.sock_recv(sock, 65536)
        except BaseException:
            if plumbing is not None:  # its thread may be at work still: let it end first
                await asyncio.gather(plumbing, return_exceptions=True)
            raise
        finally:
            sock.close()
        return shimlib.report(json.loads(data) if data else None, cid)

    def _check_links_running(self, c: Container) -> None:
        for link in c.HostConfig.Links or []:
            target, _, alias = link.partition(":")
            try:
                other = self.m.records.get(target.lstrip("/"))
            except NotFound:
                raise NotFound(f"could not get container for {target.lstrip('/')}") from None
            if not other.State.Running:
                raise Conflict(f"Cannot link to a non running container: {target} AS {alias}")

    def _init_path(self) -> str:
        """The static init binary for --init (daemon's init-path, else found on PATH)."""
        if self.m.init_path:
            return self.m.init_path
        for name in _INIT_BINARIES:
            path = shutil.which(name)
            if path:
                return path
        raise InvalidArgument('exec: "docker-init": executable file not found in $PATH')

    def _joins(self, hc: HostConfig) -> dict[str, str]:
        """container:X modes -> the /proc paths of X's namespaces (X must run)."""
        from dockling.kernel.syscalls import NAMESPACE_FILES

        out = {}
        for typ, key in (("pid", "PidMode"), ("ipc", "IpcMode"), ("uts", "UTSMode"),
                         ("network", "NetworkMode")):
            mode = getattr(hc, key)
            if not mode.startswith("container:"):
                continue
            other = self.m.records.get(mode.split(":", 1)[1])
            if not other.State.Running:
                raise Conflict(f"cannot join {typ} namespace of a non running container: "
                               f"{other.Name[1:]}")
            out[typ] = f"/proc/{other.State.Pid}/ns/{NAMESPACE_FILES[typ]}"
        return out

    def _start_failed(self, c: Container, err: Exception) -> None:
        m = self.m
        st = c.State
        code = getattr(err, "code", None) or 128
        set_status(st, Status.EXITED if c.State.StartedAt != model.ZERO_TIME
                         else Status.CREATED)
        st.Error, st.ExitCode, st.Pid = str(err), code, 0
        m.networks.detach(c)
        m.records.save(c)
        self.unmount(c)
        if c.HostConfig.AutoRemove:
            m.monitor.remember_exit(c.Id, code)
            # moby's start cleans up --rm containers too
            self.remove(c.Id, force=True, volumes=True)

    # -- the root filesystem -------------------------------------------------------------
    def _volume_source(self, c: Container, p: MountSpec) -> str:
        """The host path the runtime binds for a volume point: the volume, or its
        subpath pinned under the container's directory (mounts.bind_subpath)."""
        path = self.m.volumes.mount(p.Name)
        if not p.Subpath:
            return path
        target = self._subpath_target(c, p)
        mounts.unbind_subpath(target)  # a start after a crash: not twice
        mounts.bind_subpath(path, p.Subpath, target)
        return target

    def _subpath_target(self, c: Container, p: MountSpec) -> str:
        key = hashlib.sha256(p.Destination.encode()).hexdigest()[:16]
        return os.path.join(self.m.paths.container(c.Id), "subpaths", key)

    def unmount(self, c: Container) -> None:
        """The container's root filesystem and the volumes no running container uses."""
        merged = os.path.join(self.m.paths.container(c.Id), "merged")
        self._release_volumes(c)
        if os.path.ismount(merged):
            unmount(merged)

    def _release_volumes(self, c: Container) -> None:
        """Subpath binds, and the volumes no running container uses, unmounted."""
        m = self.m
        # subpath binds first: the container's tree is deleted later, and must not
        # reach into a volume through one
        for p in c._MountPoints:
            if p.Subpath:
                mounts.unbind_subpath(self._subpath_target(c, p))
        own = [p.Name for p in c._MountPoints if p.Type == "volume"]
        if not own:  # the scan below reads every record: not for each of many exits
            return
        in_use = {p.Name for o in m.records.all()
                  if o.State.Running and o.Id != c.Id
                  for p in o._MountPoints if p.Type == "volume"}
        for name in own:
            if name not in in_use:
                m.volumes.unmount(name)

    # -- stop / kill ---------------------------------------------------------------
    def kill(self, ref: str, sig: int = signal.SIGKILL) -> None:
        m = self.m
        c = m.records.get(ref)
        if not c.State.Running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.Id} is not running")
        if c.State.Restarting:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.Id} is restarting, "
                           "wait until the container is running")
        if sig in (signal.SIGKILL, parse_signal(c.Config.StopSignal or "SIGTERM")):
            c._ManuallyStopped = True  # the policy must not bring it back
            m.records.save(c)
        try:
            m.runtime.kill(c.Id, sig)
        except (NotFound, Conflict):
            pass
        m.records.emit(c, "kill", signal=str(sig))

    async def stop(self, ref: str, timeout: int | None = None, sig: str | None = None) -> bool:
        """SIGTERM (or the stop signal), then SIGKILL after timeout. False if not running."""
        m = self.m
        c = m.records.get(ref)
        if not c.State.Running:
            return False
        cid = c.Id
        c._ManuallyStopped = True
        if c.State.Restarting:  # between two runs: just call off the restart
            m.restarts.cancel(cid)
            set_status(c.State, Status.EXITED)
            m.records.save(c)
            m.monitor.wake_waiters(cid, c.State.ExitCode, restarting=False)
            m.records.emit(c, "stop")
            return True
        m.records.save(c)
        if timeout is None:
            timeout = c.Config.StopTimeout or 10
        sig_name = sig or c.Config.StopSignal or "SIGTERM"
        fut = m.monitor.exit_future(cid)
        if c.State.Paused:
            m.runtime.resume(cid)
        self._signal(c, parse_signal(sig_name))
        try:
            await asyncio.wait_for(asyncio.shield(fut), timeout if timeout >= 0 else None)
        except TimeoutError:
            self._signal(c, signal.SIGKILL)
            await fut
        m.records.emit(c, "stop")
        return True

    def _signal(self, c: Container, sig: int) -> None:
        """A signal of stop's, with moby's kill event (signal=15, then 9 at the timeout)."""
        try:
            self.m.runtime.kill(c.Id, sig)
        except (NotFound, Conflict):
            return
        self.m.records.emit(c, "kill", signal=str(sig))

    async def kill_dead(self, ref: str, sig: int = signal.SIGKILL,
                        timeout: float = 10.0) -> None:
        """docker kill: send ``sig``; for SIGKILL, answer once the container has
        exited (moby's kill.go waits on the state), so an inspect right after sees
        it stopped. Bounded: a process stuck in the kernel does not hold the
        client forever (the exit is recorded when it comes)."""
        m = self.m
        if sig != signal.SIGKILL:
            self.kill(ref, sig)
            return
        c = m.records.get(ref)
        cid = c.Id
        fut = m.monitor.exit_future(cid)
        try:
            self.kill(cid, sig)
            if c.State.Paused:  # a frozen task gets SIGKILL once thawed (moby unpauses)
                try:
                    m.runtime.resume(cid)
                except (NotFound, Conflict):
                    pass
            await asyncio.wait_for(asyncio.shield(fut), timeout)
        except TimeoutError:
            log.warning("container %s not dead %.0f s after SIGKILL", cid[:12], timeout)
        finally:
            m.monitor.drop_future(cid, fut)

    async def kill_and_wait(self, ref: str) -> None:
        """SIGKILL and wait for the exit (rm -f of a running container)."""
        m = self.m
        c = m.records.get(ref)
        fut = m.monitor.exit_future(c.Id)
        try:
            self.kill(c.Id, signal.SIGKILL)
        except Conflict:  # it ended on its own meanwhile
            m.monitor.wake_waiters(c.Id, c.State.ExitCode, restarting=False)
        await fut

    # -- pause / update ----------------------------------------------------------------
    def pause(self, ref: str) -> None:
        m = self.m
        c = m.records.get(ref)
        Status(c.State.Status).check_pause(c.Id)
        m.runtime.pause(c.Id)
        set_status(c.State, Status.PAUSED)
        m.records.save(c)
        m.records.emit(c, "pause")

    def unpause(self, ref: str) -> None:
        m = self.m
        c = m.records.get(ref)
        if c.State.Status != Status.PAUSED.value:
            raise Conflict(f"Container {c.Id} is not paused")
        m.runtime.resume(c.Id)
        set_status(c.State, Status.RUNNING)
        m.records.save(c)
        m.records.emit(c, "unpause")

    def update(self, ref: str, changes: UpdateConfig) -> None:
        """docker update: new resource limits, applied live if the container runs. A
        field left at its zero value changes nothing (moby's update; the docker CLI
        sends every field)."""
        m = self.m
        c = m.records.get(ref)
        hc = msgspec.structs.replace(c.HostConfig)
        changed = {k for k in _UPDATABLE if getattr(changes, k)}
        if changes.PidsLimit is not None:
            changed.add("PidsLimit")
        for k in changed:
            setattr(hc, k, getattr(changes, k))
        if changes.RestartPolicy is not None and changes.RestartPolicy.Name:
            hc.RestartPolicy = changes.RestartPolicy
        resources.validate(hc)
        if c.State.Running:
            from dockling.runtime import spec as oci

            live = HostConfig(**{k: getattr(hc, k) for k in changed | {"Memory", "MemorySwap"}})
            new = oci.from_dict({"root": {"path": "/"}, "process": {"args": ["x"]},
                                 "linux": {"resources": resources.oci_resources(live)}})
            m.runtime.update(c.Id, new.linux.resources)
        c.HostConfig = hc
        m.records.save(c)
        m.records.emit(c, "update")

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
            c = self.m.records.get(parent)
        except NotFound:
            raise NotFound(f"No such container: {ref}") from None
        links = c.HostConfig.Links or []
        kept = [link for link in links if link.partition(":")[2] != f"{c.Name}/{alias}"]
        if len(kept) == len(links):
            raise NotFound(f"No such container: {ref}")
        c.HostConfig.Links = kept
        self.m.records.save(c)

    async def delete(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """docker rm: with ``force``, a running container is killed first and
        removed once it has exited (moby: kill, die, destroy; no stop event)."""
        if force:
            c = self.m.records.get(ref)
            if c.State.Running and not c.State.Restarting:
                await self.kill_and_wait(ref)
        self.remove(ref, force=force, volumes=volumes)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``volumes``: also remove the container's anonymous volumes (rm -v, --rm).

        What a client can see goes first, at once: ports and addresses released,
        volumes let go, the record deleted (ps -a and inspect no longer show it, its
        name is free). The rest, its root filesystem's unmount and the deletion of
        its directories, runs in a worker thread after the answer: docker's
        "removal in progress", never shown. A daemon killed in between leaves
        directories without a record, which reconcile removes at the next start
        (``Monitor.remove_orphans``)."""
        m = self.m
        c = m.records.get(ref)
        cid = c.Id
        Status(c.State.Status).check_remove(c.Name, force)
        m.restarts.cancel(cid)
        m.restarts.forget_backoff(cid)
        if c.State.Running and not c.State.Restarting:
            try:
                m.runtime.delete(cid, force=True)
            except (NotFound, Conflict):
                pass
        m.networks.detach(c)
        self._release_volumes(c)
        if c.HostConfig.AutoRemove:
            self._keep_trace(cid)
        m.records.delete(cid)
        background.in_thread(cleanup.remove_dirs, m.paths.container(cid), m.paths.run(cid),
                             name=f"remove {cid[:12]}")
        m.monitor.unwatch(cid)
        if volumes:
            self._remove_anonymous_volumes(c)
        # Waiters (condition=removed) learn the last exit code.
        m.monitor.wake_waiters(cid, c.State.ExitCode, restarting=False)
        m.records.emit(c, "destroy")

    def _keep_trace(self, cid: str) -> None:
        path = os.path.join(self.m.paths.container(cid), record.TRACE_FILE)
        if os.path.exists(path):
            self.gone_traces[cid] = record.read(path)
            while len(self.gone_traces) > _GONE_TRACES:
                self.gone_traces.pop(next(iter(self.gone_traces)))

    def _remove_anonymous_volumes(self, c: Container) -> None:
        m = self.m
        in_use = m.records.volume_users()
        for p in c._MountPoints:
            if p.Type != "volume" or in_use.get(p.Name):
                continue
            try:
                vol = m.volumes.get(p.Name)
            except NotFound:
                continue
            if ANONYMOUS_LABEL in (vol.Labels or {}):
                m.volumes.remove(p.Name, [])  # its destroy event: the store's


def _user(merged: str, c: Container) -> tuple[int, int, list[int]]:
    """The process's uid, gid and groups (--group-add too), from the image's files."""
    try:
        user = users.resolve(merged, c.Config.User or "0")
        extra = [users.group_id(merged, g) for g in c.HostConfig.GroupAdd or []]
    except InvalidArgument as err:
        raise InvalidArgument(f"unable to start container process: {err}") from err
    return user[0], user[1], user[2] + [g for g in extra if g not in user[2]]
