"""docker exec: exec instances, their processes in the shim, and health probes.

An exec instance lives in memory (as in moby: they do not survive a daemon
restart); its process runs under the container's shim, which writes
``exec-<id>.json`` with the exit code when it ends. The process is the
container's own (config.json's) with the exec's overrides.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import msgspec

from dockling.containers import health, model, users
from dockling.containers.model import Container
from dockling.containers.state import Status
from dockling.errors import Conflict, InvalidArgument, NotFound
from dockling.formats import detachkeys
from dockling.formats.stdcopy import Frames


class ExecConfig(msgspec.Struct):
    """POST /containers/{id}/exec (container.ExecOptions)."""
    User: str = ""
    Privileged: bool = False
    Tty: bool = False
    ConsoleSize: list[int] | None = None
    AttachStdin: bool = False
    AttachStderr: bool = False
    AttachStdout: bool = False
    Detach: bool = False
    DetachKeys: str = ""
    Env: list[str] | None = None
    WorkingDir: str = ""
    Cmd: list[str] | None = None


class ExecProcessConfig(msgspec.Struct):
    tty: bool = False
    entrypoint: str = ""
    arguments: list[str] = msgspec.field(default_factory=list)
    privileged: bool = False
    user: str = ""


class Exec(msgspec.Struct):
    """An exec instance (container.ExecInspect), with the request that made it and
    whether its exec_die was sent."""
    ID: str
    Running: bool = False
    ExitCode: int | None = None
    ProcessConfig: ExecProcessConfig = msgspec.field(default_factory=ExecProcessConfig)
    OpenStdin: bool = False
    OpenStderr: bool = False
    OpenStdout: bool = False
    CanRemove: bool = False
    ContainerID: str = ""
    DetachKeys: str = ""
    Pid: int = 0
    _request: ExecConfig = msgspec.field(default_factory=ExecConfig)
    _died: bool = False


class Execs:
    """The exec instances of the manager ``m``'s containers."""

    def __init__(self, m) -> None:
        self.m = m
        self.instances: dict[str, Exec] = {}
        # container id -> (config.json's identity, its process as JSON): the file
        # holds the whole spec (a seccomp profile of ~1,000 lines) and only start
        # rewrites it, so an exec (a health check every few seconds) parses just
        # the process part
        self._procs: dict[str, tuple[tuple, str]] = {}

    def create(self, ref: str, body: ExecConfig) -> str:
        m = self.m
        c = m.records.get(ref)
        Status(c.State.Status).check_running(c.Id)
        cmd = body.Cmd or []
        if not cmd:
            raise InvalidArgument("No exec command specified")
        if body.DetachKeys:
            detachkeys.for_exec(body.DetachKeys)  # docker: 400 at create for keys it cannot read
        eid = model.new_id()
        ex = self.instances[eid] = Exec(
            ID=eid, ProcessConfig=ExecProcessConfig(
                tty=body.Tty, entrypoint=cmd[0], arguments=cmd[1:],
                privileged=body.Privileged, user=body.User),
            OpenStdin=body.AttachStdin, OpenStderr=body.AttachStderr,
            OpenStdout=body.AttachStdout, ContainerID=c.Id, DetachKeys=body.DetachKeys,
            _request=body)
        c.ExecIDs = [*(c.ExecIDs or []), eid]
        m.records.save(c)
        m.records.emit(c, f"exec_create: {_exec_text(ex)}", execID=eid)
        return eid

    def get(self, eid: str) -> Exec:
        ex = self.instances.get(eid)
        if ex is None:
            raise NotFound(f"No such exec instance: {eid}")
        if ex.Running:
            st = self._result(ex.ContainerID, ex.ID)
            if st is not None:
                self._exited(ex, st["ExitCode"])
        return ex

    def _exited(self, ex: Exec, code: int) -> None:
        """The exec ended with ``code``: the instance keeps it (exec inspect, as in
        moby), the container's ExecIDs no longer list it (docker's: running execs
        only), and the shim's result file is read for the last time."""
        ex.Running, ex.ExitCode = False, code
        try:
            os.unlink(os.path.join(self.m.paths.run(ex.ContainerID), f"exec-{ex.ID}.json"))
        except OSError:
            pass
        try:
            c = self.m.records.get(ex.ContainerID)
        except NotFound:
            return
        if ex.ID in (c.ExecIDs or []):
            c.ExecIDs = [e for e in c.ExecIDs if e != ex.ID] or None
            self.m.records.save(c)

    def startable(self, eid: str) -> Exec:
        """The exec, which must not have run yet (docker's 409)."""
        ex = self.get(eid)
        if ex.Running or ex.ExitCode is not None:
            raise Conflict(f"Error: Exec command {ex.ID} has already run")
        return ex

    def detach_keys(self, ex: Exec) -> bytes | None:
        """The exec's detach sequence: a TTY's input only, as docker."""
        return detachkeys.for_exec(ex.DetachKeys) if ex.ProcessConfig.tty else None

    async def start(self, eid: str, frame: bool):
        """Start an exec; the shim's (reader, writer) of its stream: docker's 8-byte
        frames when ``frame`` (the start asked for no TTY), else the raw bytes.

        A process that cannot start raises InvalidArgument in runc's words under
        docker's prefix, and its exec records exit code 126 (127 for a missing
        program), as moby's setExitCodeFromError does."""
        m = self.m
        ex = self.startable(eid)
        c = m.records.get(ex.ContainerID)  # once: the process, then the event
        proc = self.process_for(c, ex._request)
        ex.Running = True  # a second start meanwhile is refused
        try:
            _, reply, reader, writer = await m.attachments.open_stream(
                ex.ContainerID, {"op": "exec", "id": ex.ID, "process": proc,
                                    "stdin": ex.OpenStdin, "tty": proc["terminal"],
                                    "frame": frame})
        except BaseException:
            self._exited(ex, 126)
            raise
        if "error" in reply:
            writer.close()
            self._exited(ex, reply.get("ExitCode", 126))
            why = reply["error"]
            if not why.startswith("unable to start container process"):
                why = f"unable to start container process: {why}"
            raise InvalidArgument(f"OCI runtime exec failed: exec failed: {why}: unknown")
        ex.Pid = reply.get("Pid", 0)
        m.records.emit(c, f"exec_start: {_exec_text(ex)}", execID=eid)
        return reader, writer

    def ended(self, eid: str) -> None:
        """An exec's stream ended: if the process did (not a detach), record its exit
        and send moby's exec_die event, once."""
        ex = self.get(eid)
        if ex.ExitCode is None or ex._died:
            return
        ex._died = True
        try:
            c = self.m.records.get(ex.ContainerID)
        except NotFound:
            return
        self.m.records.emit(c, "exec_die", execID=eid, exitCode=str(ex.ExitCode))

    async def detached(self, eid: str, reader: asyncio.StreamReader, writer) -> None:
        """A detached exec (start with Detach): its output goes nowhere, and its end
        is still recorded and announced."""
        try:
            while await reader.read(65536):
                pass
        except OSError:
            pass
        finally:
            writer.close()
        self.ended(eid)

    def _result(self, cid: str, eid: str) -> dict | None:
        try:
            with open(os.path.join(self.m.paths.run(cid), f"exec-{eid}.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def process(self, ex: Exec) -> dict:
        """The OCI process for an exec: the container's, with exec's overrides."""
        return self.process_for(self.m.records.get(ex.ContainerID), ex._request)

    def process_for(self, c: Container, body: ExecConfig) -> dict:
        """config.json's process (an OCI document, for the shim) with the exec's
        overrides."""
        paths = self.m.paths
        proc = json.loads(self._base_process(os.path.join(paths.container(c.Id),
                                                          "config.json"), c.Id))
        proc["args"] = body.Cmd
        proc["terminal"] = bool(body.Tty)
        env = {kv.split("=", 1)[0]: kv for kv in proc["env"]}
        for kv in body.Env or []:
            env[kv.split("=", 1)[0]] = kv
        proc["env"] = list(env.values())
        if body.WorkingDir:
            proc["cwd"] = body.WorkingDir
        if body.User:
            merged = os.path.join(paths.container(c.Id), "merged")
            uid, gid, groups = users.resolve(merged, body.User)
            proc["user"] = {"uid": uid, "gid": gid, "additionalGids": groups}
        if body.Privileged:
            from dockling.runtime.capabilities import CAPS

            proc["capabilities"] = {k: list(CAPS) for k in ("bounding", "effective",
                                                            "permitted")}
        proc.pop("consoleSize", None)
        return proc

    def _base_process(self, path: str, cid: str) -> str:
        """The container's process in config.json, as JSON (a fresh copy per load)."""
        st = os.stat(path)
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        hit = self._procs.get(cid)
        if hit is not None and hit[0] == key:
            return hit[1]
        with open(path) as f:
            text = json.dumps(json.load(f)["process"])
        if len(self._procs) >= 512:  # removed containers' entries: drop them all, rarely
            self._procs.clear()
        self._procs[cid] = (key, text)
        return text

    async def probe(self, cid: str, argv: list[str], timeout: float) -> tuple[int, str]:
        """Run argv in the container (as an exec, not listed); its exit code and output."""
        m = self.m
        eid = model.new_id()
        proc = self.process_for(m.records.get(cid), ExecConfig(Cmd=argv))
        _, reply, reader, writer = await m.attachments.open_stream(
            cid, {"op": "exec", "id": eid, "process": proc, "stdin": False, "tty": False})
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
            result = self._result(cid, eid) or {}
            return result.get("ExitCode", -1), demux_text(bytes(out))
        finally:
            writer.close()
            try:
                os.unlink(os.path.join(m.paths.run(cid), f"exec-{eid}.json"))
            except OSError:
                pass


def _exec_text(ex: Exec) -> str:
    """An exec's command in its events, as moby writes it (entrypoint, space, args)."""
    pc = ex.ProcessConfig
    return pc.entrypoint + " " + " ".join(pc.arguments)


def demux_text(data: bytes) -> str:
    """The text of a multiplexed (8-byte framed) stream, stdout and stderr in order."""
    return b"".join(d for _, d in Frames().feed(data)).decode(errors="replace")
