"""attach, logs and resize: the streams of a container's process, through its shim.

docker lets a client attach before start (the CLI's ``start -a`` attaches
first): such an attach is counted as pending, the next start tells the shim
how many clients to wait for, and the shim holds the program until they are
connected, so no output is lost. ``logs=1`` gives the log first.
"""

from __future__ import annotations

import asyncio
import logging
import os

from dockling.containers import logs as logfile
from dockling.containers.model import Container
from dockling.containers.state import Status
from dockling.errors import Conflict, InternalError, InvalidArgument
from dockling.formats import detachkeys
from dockling.formats.stdcopy import Frames
from dockling.shim.client import ShimClient

log = logging.getLogger("dockling.containers")


class Attachments:
    """The stream side of the manager ``m``'s containers."""

    def __init__(self, m) -> None:
        self.m = m
        # Attach requests waiting for a created container to start.
        self.pending: dict[str, int] = {}

    def shim(self, cid: str) -> ShimClient:
        return ShimClient(self.m.paths.run(cid), cid)

    def take_pending(self, cid: str) -> int:
        """At start: how many attached clients the shim must wait for."""
        return self.pending.pop(cid, 0)

    # -- logs ---------------------------------------------------------------------------
    def log_path(self, ref: str) -> tuple[Container, str]:
        c = self.m.records.get(ref)
        if c.HostConfig.LogConfig.Type == "none":
            raise InvalidArgument('configured logging driver does not support reading')
        return c, c.LogPath

    async def logs(self, ref: str, **kw):
        c, path = self.log_path(ref)
        if self.m.records.running(c.Id):  # what it wrote before this call is in the log
            await self.shim(c.Id).flush()
        async for chunk in logfile.read(path, lambda: self.m.records.running(c.Id),
                                        tty=c.Config.Tty, **kw):
            yield chunk

    # -- streams ---------------------------------------------------------------------------
    async def open_stream(self, ref: str, request: dict, force: bool = False):
        """The record, the shim's first reply and the stream of ``request`` (attach,
        exec); the container must run unless ``force`` (an attach before start)."""
        c = self.m.records.get(ref)
        if not c.State.Running and not force:
            raise Conflict(f"Container {c.Id} is not running") if request.get(
                "op") == "exec" else Conflict(
                "You cannot attach to a stopped container, start it first")
        reply, reader, writer = await self.shim(c.Id).open(request)
        return c, reply, reader, writer

    async def resize(self, ref: str, height: int, width: int, exec_id: str | None = None) -> None:
        c = self.m.records.get(ref)
        if not c.State.Running:
            raise Conflict(f"Container {c.Id} is not running")
        await self.shim(c.Id).resize(height, width, exec_id)

    def attach(self, ref: str, *, stdin: bool, stdout: bool, stderr: bool, stream: bool,
               logs: bool, raw: bool = False, detach_keys: str | None = None) -> Attach:
        """docker attach, checked now (409s before the hijack); ``raw``: no 8-byte
        stream headers even without a TTY (attach over a websocket)."""
        c = self.m.records.get(ref)
        status = c.State.Status
        if status == Status.PAUSED.value:
            raise Conflict(f"container {ref} is paused, unpause the container before attach")
        if status == Status.RESTARTING.value:
            raise Conflict(f"container {ref} is restarting, wait until the container is "
                           "running")
        # docker attaches to a stopped container too: its next start's output comes
        live = stream and status in ("created", "running", "exited")
        if not live and not logs:
            raise Conflict("You cannot attach to a stopped container, start it first")
        keys = detachkeys.for_attach(detach_keys) if c.Config.Tty else None
        return Attach(self, c, live=live, logs=logs, raw=raw, keys=keys, request={
            "op": "attach", "stdin": stdin, "stdout": stdout, "stderr": stderr,
            "frame": not raw})


class Attach:
    """One client's attach, from its request to the shim's stream. While it
    waits for a created (or exited) container to start, it counts as pending."""

    def __init__(self, owner: Attachments, c: Container, *, live: bool, logs: bool, raw: bool,
                 keys: bytes | None, request: dict) -> None:
        self.owner = owner
        self.c = c
        self.live = live
        self.logs = logs
        self.raw = raw
        self.keys = keys
        self.request = request
        self.stdin = request["stdin"]
        cid = c.Id
        self.waiting = live and c.State.Status in ("created", "exited")
        if self.waiting:
            owner.pending[cid] = owner.pending.get(cid, 0) + 1

    async def backlog(self):
        """The log so far, when asked for (``logs``) and readable."""
        want = self.request
        c = self.c
        if not (self.logs and (want["stdout"] or want["stderr"])) or \
                c.HostConfig.LogConfig.Type == "none":
            return
        frames = Frames() if self.raw and not c.Config.Tty else None
        async for chunk in self.owner.logs(c.Id, follow=False, tail="all", since=None,
                                           until=None, timestamps=False,
                                           stdout=want["stdout"], stderr=want["stderr"]):
            if frames is not None:
                chunk = b"".join(data for _, data in frames.feed(chunk))
            if chunk:
                yield chunk

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """The live stream (None when the container ended or its shim is gone).
        An attach before start connects as soon as the shim exists."""
        cid = self.c.Id
        sock = self.owner.shim(cid).sock
        for _ in range(4000):
            if os.path.exists(sock) or not self.waiting:
                break
            await asyncio.sleep(0.005)
        try:
            _, _, reader, writer = await self.owner.open_stream(cid, self.request,
                                                                force=self.waiting)
        except (Conflict, InternalError) as err:
            log.warning("attach to %s failed: %s", cid[:12], err)
            return None
        return reader, writer

    def release(self) -> None:
        """No longer pending (connected, or the client went away)."""
        pending = self.owner.pending
        cid = self.c.Id
        if self.waiting and pending.get(cid):
            pending[cid] -= 1
            self.waiting = False
