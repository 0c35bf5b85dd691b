"""Watching running containers: their exits, health checks, waiters, and reconcile.

Each running container has one watcher task: it asks the shim to ``wait``
and records the exit it reports (or reads ``exit.json``, or ends a container
whose shim died). An exit is recorded, the rootfs unmounted, waiters woken,
and the restart policy applied (``restart.Scheduler``); an ``--rm`` container
is removed. ``reconcile`` is the same at daemon start: shims still alive are
watched again, the exits of those that ended meanwhile are recorded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil

from dockling import background, clock
from dockling.containers import health, restart
from dockling.containers.cleanup import remove_dirs
from dockling.containers.model import Container, HealthcheckResult, HealthConfig
from dockling.containers.state import Status, set_status
from dockling.errors import Conflict, NotFound
from dockling.runtime.state import process_start_time
from dockling.shim.client import ShimClient

log = logging.getLogger("dockling.containers")

RECENT_EXITS = 256  # exit codes of removed --rm containers kept for a late `wait`


class Monitor:
    """The exits and health of the manager ``m``'s running containers."""

    def __init__(self, m) -> None:
        self.m = m
        self.watchers: dict[str, asyncio.Task] = {}
        self.health_monitors: dict[str, health.Monitor] = {}
        # Waiters for a container's exit: (future, also wait through restarts?)
        self.exit_futures: dict[str, list[tuple[asyncio.Future, bool]]] = {}
        # Exit codes of auto-removed containers, for a `wait` that comes late.
        self.recent_exits: dict[str, int] = {}

    # -- watching ----------------------------------------------------------------------
    def watch(self, cid: str, check: HealthConfig | None) -> None:
        """Follow a running container: its exit, and its health check if it has one."""
        old = self.watchers.get(cid)
        if old is not None and not old.done():
            return
        self.watchers[cid] = background.spawn(self._wait_shim(cid), f"watch {cid[:12]}")
        if check is not None and cid not in self.health_monitors:
            self.health_monitors[cid] = mon = health.Monitor(self.m, cid, check)
            mon.start()

    def unwatch(self, cid: str) -> None:
        """The container is gone: its watcher and health check end."""
        task = self.watchers.pop(cid, None)
        if task is not None:
            task.cancel()
        mon = self.health_monitors.pop(cid, None)
        if mon is not None:
            mon.stop()

    def healthcheck(self, c: Container, img=None) -> HealthConfig | None:
        """The container's health check (its own over its image's), or None."""
        img = img or self.m.images.load(c.Image)
        return health.effective(c.Config.Healthcheck, img.container_config.Healthcheck)

    def health_result(self, cid: str, check: HealthConfig, started: float,
                      result: HealthcheckResult) -> bool:
        """Record a probe's result; False once the container is gone or stopped."""
        records = self.m.records
        try:
            c = records.get(cid)
        except NotFound:
            return False
        if c.State.Status != Status.RUNNING.value or c.State.Health is None:
            return False
        changed = health.record(c.State.Health, check, started, result)
        records.save(c)
        if changed:
            records.emit(c, f"health_status: {changed}")
        return True

    async def _wait_shim(self, cid: str) -> None:
        result = await ShimClient(self.m.paths.run(cid), cid).wait()
        if result is None:
            result = self.read_exit(cid) or self.shim_lost(cid)
        self.exited(cid, result)

    def shim_lost(self, cid: str) -> dict:
        """The shim died: nobody holds the container's I/O or will record its
        exit, so end it rather than leave it running unwatched."""
        try:
            self.m.runtime.delete(cid, force=True)
        except (NotFound, Conflict):
            pass
        return {"ExitCode": 137, "FinishedAt": clock.now(),
                "Error": "container shim exited unexpectedly"}

    def read_exit(self, cid: str) -> dict | None:
        try:
            with open(os.path.join(self.m.paths.run(cid), "exit.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    # -- an exit ---------------------------------------------------------------------------
    def exited(self, cid: str, result: dict) -> None:
        m = self.m
        try:
            c = m.records.get(cid)
        except NotFound:
            return
        st = c.State
        log.debug("container %s exited: %s", cid[:12], result)
        set_status(st, Status.EXITED)
        # result: the shim's wait reply or exit.json (its JSON, not a record)
        st.Pid, st.ExitCode = 0, result.get("ExitCode", 255)
        st.FinishedAt = result.get("FinishedAt") or clock.now()
        st.OOMKilled, st.Error = bool(result.get("OOMKilled")), result.get("Error", "")
        m.networks.detach(c)
        m.records.save(c)
        m.lifecycle.unmount(c)
        shim_log = os.path.join(m.paths.run(cid), "shim.log")
        if os.path.exists(shim_log):  # a crashed shim's traceback: into the daemon's log
            with open(shim_log, errors="replace") as f:
                log.error("shim of %s failed:\n%s", cid[:12], f.read())
        # renamed aside now, deleted in a worker thread: not on the loop, where many
        # exits at once (rm -f of many) would wait for each other's rmtree
        background.remove_tree(m.paths.run(cid))
        m.records.emit(c, "die", exitCode=str(st.ExitCode))
        self.watchers.pop(cid, None)  # this task: not cancelled by the remove below
        mon = self.health_monitors.pop(cid, None)
        if mon is not None:
            mon.stop()
        again = not c.HostConfig.AutoRemove and restart.should_restart(
            c.HostConfig.RestartPolicy, st.ExitCode, c.RestartCount, c._ManuallyStopped)
        self.wake_waiters(cid, st.ExitCode, restarting=again)
        if again:
            started = clock.parse(st.StartedAt)
            finished = clock.parse(st.FinishedAt)
            ran = (finished - started).total_seconds() if started and finished else 0.0
            m.restarts.after_exit(c, ran)
        if c.HostConfig.AutoRemove:
            self.remember_exit(cid, st.ExitCode)
            m.lifecycle.remove(cid, force=True, volumes=True)

    def remember_exit(self, cid: str, code: int) -> None:
        """An --rm container's exit code, for a `wait` that comes after its removal."""
        self.recent_exits[cid] = code
        while len(self.recent_exits) > RECENT_EXITS:
            self.recent_exits.pop(next(iter(self.recent_exits)))

    # -- waiters ---------------------------------------------------------------------------
    def exit_future(self, cid: str, through_restarts: bool = False) -> asyncio.Future:
        """A future that gets the container's next exit code."""
        fut = asyncio.get_running_loop().create_future()
        self.exit_futures.setdefault(cid, []).append((fut, through_restarts))
        return fut

    def drop_future(self, cid: str, fut: asyncio.Future) -> None:
        waiting = self.exit_futures.get(cid) or []
        for entry in [e for e in waiting if e[0] is fut]:
            waiting.remove(entry)

    def wake_waiters(self, cid: str, code: int, restarting: bool) -> None:
        keep = []
        for fut, through_restarts in self.exit_futures.pop(cid, []):
            if restarting and through_restarts:
                keep.append((fut, through_restarts))
            elif not fut.done():
                fut.set_result(code)
        if keep:
            self.exit_futures[cid] = keep

    def check_waitable(self, ref: str) -> None:
        """404 now for a container a `wait` could not find (a removed --rm
        container's exit is still known)."""
        if ref not in self.recent_exits:
            self.m.records.get(ref)

    async def wait(self, ref: str, condition: str = "not-running") -> int:
        records = self.m.records
        try:
            c = records.get(ref)
        except NotFound:
            if ref in self.recent_exits and condition != "next-exit":
                return self.recent_exits[ref]
            raise
        cid = c.Id
        if condition in ("next-exit", "removed") or c.State.Running:
            # moby: a restart (SetRestarting) wakes not-running and next-exit waiters;
            # only "removed" waits on through restarts
            code = await self.exit_future(cid, condition == "removed")
        else:
            code = c.State.ExitCode
        if condition == "removed" and c.HostConfig.AutoRemove:
            while True:
                try:
                    records.get(cid)
                except NotFound:
                    break
                await asyncio.sleep(0.01)
        return code

    # -- daemon start ------------------------------------------------------------------------
    def reconcile(self) -> None:
        """Re-attach to live shims; settle the containers whose shim is gone; a
        start nobody heard back from is ended; what a removal cut short left
        behind is removed."""
        m = self.m
        records = m.records.all()
        self.remove_orphans({c.Id for c in records})
        for c in records:
            if c.State.Status == Status.CREATED.value:
                self._end_unreported_start(c)
                continue
            if c.State.Status not in (Status.RUNNING.value, Status.PAUSED.value):
                continue
            cid = c.Id
            run = m.paths.run(cid)
            shim_pid = _read_int(os.path.join(run, "shim.pid"))
            if shim_pid and process_start_time(shim_pid) is not None and os.path.exists(
                    os.path.join(run, "shim.sock")):
                self.watch(cid, self.healthcheck(c))
                m.networks.restore(c)
                background.spawn(m.networks.start_dns(c, m.records.all), f"DNS of {cid[:12]}")
                continue
            self.exited(cid, self.read_exit(cid) or self.shim_lost(cid))

    def _end_unreported_start(self, c: Container) -> None:
        """A daemon killed during a start leaves a shim that started the container
        with nobody told: its record still says created. End that start (the
        client saw it fail): the container, its shim, mounts and endpoint go."""
        m = self.m
        cid = c.Id
        run = m.paths.run(cid)
        shim_pid = _read_int(os.path.join(run, "shim.pid"))
        if not os.path.exists(os.path.join(m.paths.runtime_root, cid)) and not shim_pid:
            return
        log.warning("container %s was started by a daemon that died before it was told: "
                    "stopping it", cid[:12])
        self._end_processes(cid)
        m.lifecycle.unmount(c)
        m.networks.detach(c)
        shutil.rmtree(run, ignore_errors=True)

    def _end_processes(self, cid: str) -> None:
        """The container's processes, killed through the runtime (its cgroup and
        state go too). Its shim process, which may keep other containers, is
        left alone: it reaps the init and lets the container go."""
        try:
            self.m.runtime.delete(cid, force=True)
        except Exception:  # nothing of it may be left: go on
            log.exception("deleting %s", cid[:12])

    def remove_orphans(self, known: set[str]) -> None:
        """A daemon killed in a removal, after the record was deleted (the point
        where the container is gone for clients, ``Lifecycle.remove``), leaves its
        directories, maybe its rootfs mounted, maybe runtime state: all of it
        goes now, as the removal would have done."""
        m = self.m
        found: set[str] = set()
        for top in (os.path.join(m.paths.root, "containers"),
                    os.path.join(m.paths.exec_root, "containers"), m.paths.runtime_root):
            try:
                found.update(n for n in os.listdir(top) if _is_id(n))
            except FileNotFoundError:
                continue
        for cid in sorted(found - known):
            log.warning("container %s was being removed when the daemon stopped: "
                        "finishing its removal", cid[:12])
            self._end_processes(cid)
            background.in_thread(remove_dirs, m.paths.container(cid), m.paths.run(cid), True,
                                 name=f"remove {cid[:12]}")

    def live(self) -> set[str]:
        """IDs of the containers whose records say running or paused."""
        return {c.Id for c in self.m.records.all()
                if c.State.Status in (Status.RUNNING.value, Status.PAUSED.value)}


def _is_id(name: str) -> bool:
    return len(name) == 64 and all(ch in "0123456789abcdef" for ch in name)


def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None
