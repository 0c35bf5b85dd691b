"""Runtime state on disk and the container status state machine.

Each container has ``<root>/<id>/``: ``state.json`` (written atomically) and,
between create and start, ``exec.fifo`` on which the init process waits.
Status is derived, never stored, the way runc derives it, so a crash of the
runtime between two steps can not leave a stale status behind:

    init process gone (or a zombie, or its pid reused)  -> stopped
    exec.fifo still present                             -> created
    cgroup frozen                                       -> paused
    otherwise                                           -> running
"""

from __future__ import annotations

import enum
import os
import re

import msgspec

from dockling.errors import Conflict, InvalidArgument, NotFound

_ID_RE = re.compile(r"^[\w+\-.]+$")


class Status(str, enum.Enum):
    CREATING = "creating"
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    STOPPED = "stopped"

    # Guards: each raises Conflict with runc's wording for a forbidden move.
    def check_start(self) -> None:
        if self is Status.STOPPED:
            raise Conflict("cannot start a container that has stopped")
        if self is not Status.CREATED:
            raise Conflict(f"cannot start an already {self.value} container")

    def check_kill(self) -> None:
        if self is Status.STOPPED:
            raise Conflict("container not running")

    def check_delete(self, cid: str, force: bool) -> None:
        if self in (Status.RUNNING, Status.PAUSED) and not force:
            raise Conflict(f"cannot delete container {cid} that is not stopped: {self.value}")

    def check_pause(self) -> None:
        if self is not Status.RUNNING:
            raise Conflict(f"container not running: {self.value}")

    def check_resume(self) -> None:
        if self is not Status.PAUSED:
            raise Conflict(f"container not paused: {self.value}")

    def check_exec(self) -> None:
        if self is not Status.RUNNING:
            raise Conflict(f"cannot exec in a {self.value} container")


class State(msgspec.Struct):
    id: str
    pid: int
    bundle: str
    rootfs: str
    created: str
    init_start_time: int
    cgroup: dict
    config: dict
    owner: str = ""
    annotations: dict = {}
    # Without a mount namespace: IDs of the mounts that were below the rootfs
    # before create, which delete leaves alone (None: the container has one).
    host_mounts: list[int] | None = None

    def oci(self, status: Status) -> dict:
        """The runtime-spec state JSON (what `state` prints)."""
        out = {
            "ociVersion": self.config.get("ociVersion", "1.0.2"),
            "id": self.id,
            "pid": self.pid if status is not Status.STOPPED else 0,
            "status": status.value,
            "bundle": self.bundle,
            "rootfs": self.rootfs,
            "created": self.created,
            "owner": self.owner,
        }
        if self.annotations:
            out["annotations"] = self.annotations
        return out


class Brief(msgspec.Struct):
    """What start, kill, status and delete read of state.json. The config (the whole
    spec) stays undecoded bytes: decoding it into a long-lived shim, for two fields,
    left ~0.6 MB of its memory private (measured per idle container), and was most
    of the CPU a shim spends when its container exits."""
    id: str
    pid: int
    init_start_time: int
    cgroup: dict
    config: msgspec.Raw
    rootfs: str = ""
    host_mounts: list[int] | None = None

    def hooks(self, name: str) -> bool:
        """Does the config have hooks of this kind (e.g. "poststart")?"""
        return bool(msgspec.json.decode(self.config, type=ConfigHooks).hooks.get(name))


class ConfigHooks(msgspec.Struct):
    hooks: dict = {}


def check_id(cid: str) -> None:
    if not cid or not _ID_RE.match(cid) or cid in (".", ".."):
        raise InvalidArgument(f"invalid container id format: {cid!r}")


class Store:
    """The state directories under one runtime root (runc's --root)."""

    def __init__(self, root: str) -> None:
        self.root = root

    def dir(self, cid: str) -> str:
        check_id(cid)
        return os.path.join(self.root, cid)

    def fifo(self, cid: str) -> str:
        return os.path.join(self.dir(cid), "exec.fifo")

    def reserve(self, cid: str) -> str:
        """Create the state dir; refuse an id in use."""
        os.makedirs(self.root, 0o711, exist_ok=True)
        d = self.dir(cid)
        try:
            os.mkdir(d, 0o711)
        except FileExistsError as err:
            raise Conflict(f"container with id exists: {cid}") from err
        return d

    def save(self, st: State) -> None:
        d = self.dir(st.id)
        tmp = os.path.join(d, f".state.json.{os.getpid()}")
        # Atomic (rename) but not fsync'd, as runc writes it: the state root is
        # under /run, a tmpfs gone at reboot with every container it describes.
        with open(tmp, "wb") as f:
            f.write(msgspec.json.encode(st))
        os.rename(tmp, os.path.join(d, "state.json"))

    def load(self, cid: str) -> State:
        try:
            with open(os.path.join(self.dir(cid), "state.json"), "rb") as f:
                return msgspec.json.decode(f.read(), type=State)
        except FileNotFoundError as err:
            raise NotFound("container does not exist") from err

    def load_brief(self, cid: str) -> Brief:
        try:
            with open(os.path.join(self.dir(cid), "state.json"), "rb") as f:
                return msgspec.json.decode(f.read(), type=Brief)
        except FileNotFoundError as err:
            raise NotFound("container does not exist") from err

    def ids(self) -> list[str]:
        try:
            names = sorted(os.listdir(self.root))
        except FileNotFoundError:
            return []
        return [n for n in names if os.path.exists(os.path.join(self.root, n, "state.json"))]

    def remove(self, cid: str) -> None:
        import shutil

        shutil.rmtree(self.dir(cid), ignore_errors=True)


def process_start_time(pid: int) -> int | None:
    """Field 22 of /proc/PID/stat; None if the process is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            data = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None
    rest = data[data.rindex(")") + 2:].split()
    if rest[0] in ("Z", "X"):
        return None
    return int(rest[19])


def derive_status(st: State | Brief, fifo: str, frozen) -> Status:
    if process_start_time(st.pid) != st.init_start_time:
        return Status.STOPPED
    if os.path.exists(fifo):
        return Status.CREATED
    if frozen():
        return Status.PAUSED
    return Status.RUNNING
