"""Control groups: one manager interface, a v1 and a v2 implementation.

Lifecycle of a manager (both versions):

    m = manager_for(cgroups_path, container_id)
    m.create(resources)   # make the directories, write the limits (raises, leaves nothing)
    m.add(pid)            # move a process in (writing "0" moves the caller)
    m.update(resources)   # change limits of a live group
    m.freeze() / m.thaw() / m.frozen()
    m.pids()              # every process in the group
    m.destroy()           # remove the directories (the group must be empty)

``detect()`` picks the version the way runc does: /sys/fs/cgroup is a
cgroup2 mount -> v2 (unified); otherwise v1 (legacy or hybrid). The value
conversions (cpu shares -> cpu.weight, blkio weight -> io.weight) are pure
functions in ``values``.
"""

from __future__ import annotations

import errno
import os
from typing import Protocol

CGROUP2_SUPER_MAGIC = 0x63677270


class Manager(Protocol):
    path: str

    def create(self, resources) -> None: ...
    def add(self, pid: int) -> None: ...
    def join(self) -> None: ...
    def update(self, resources) -> None: ...
    def freeze(self) -> None: ...
    def thaw(self) -> None: ...
    def frozen(self) -> bool: ...
    def pids(self) -> list[int]: ...
    def destroy(self) -> None: ...
    def bind_sources(self) -> list[tuple[str, str]]: ...
    def stats(self) -> dict: ...
    def to_dict(self) -> dict: ...


def is_unified(root: str = "/sys/fs/cgroup") -> bool:
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                if fields[4] == root and fields[sep + 1] == "cgroup2":
                    return True
    except OSError:
        pass
    return False


def normalize_path(cgroups_path: str, container_id: str) -> str:
    """OCI cgroupsPath -> a path relative to each hierarchy's root.

    Empty means "/<id>" (runc's cgroupfs default). A relative path is taken
    relative to the hierarchy root too: the runtime may itself run in a
    container's cgroup, and nesting under it would surprise the caller.
    """
    if not cgroups_path:
        return "/" + container_id
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        # systemd "slice:prefix:name" form: map onto plain directories.
        slice_, prefix, name = (cgroups_path.split(":") + ["", ""])[:3]
        return "/" + "/".join(p for p in (slice_, f"{prefix}-{name}" if prefix else name) if p)
    return "/" + cgroups_path.strip("/")


def manager_for(cgroups_path: str, container_id: str):
    from dockling.runtime.cgroups import v1, v2

    rel = normalize_path(cgroups_path, container_id)
    if is_unified():
        return v2.Manager(rel)
    return v1.Manager(rel)


def from_dict(d: dict):
    from dockling.runtime.cgroups import v1, v2

    if d.get("version") == 2:
        return v2.Manager(d["path"], root=d.get("root", "/sys/fs/cgroup"))
    return v1.Manager(d["path"], mounts=d.get("mounts"))


def read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def write(path: str, value: str | int) -> None:
    """A cgroup file's new value, through the kernel in use (a trace shows it)."""
    from dockling.errors import InvalidArgument
    from dockling.kernel import syscalls

    try:
        syscalls.write(path, str(value))
    except OSError as err:
        raise InvalidArgument(
            f"cannot set cgroup value {value!r} in {path}: {err.strerror}"
        ) from err


def pids_in(dirpath: str) -> list[int]:
    try:
        with open(os.path.join(dirpath, "cgroup.procs")) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []
    except OSError as err:
        if err.errno == errno.ENODEV:  # a cgroup being removed: nothing in it any more
            return []
        raise


def remove_tree(top: str) -> None:
    """rmdir a cgroup directory and its children, deepest first."""
    if not os.path.isdir(top):
        return
    for dirpath, dirnames, _ in os.walk(top, topdown=False):
        for d in dirnames:
            try:
                os.rmdir(os.path.join(dirpath, d))
            except FileNotFoundError:
                pass
    try:
        os.rmdir(top)
    except FileNotFoundError:
        pass


def read_int(path: str, default: int = 0) -> int:
    """An integer cgroup file; "max" (v2) or a missing file gives ``default``."""
    try:
        v = read(path)
    except OSError:
        return default
    return default if v in ("", "max") else int(v.split()[0])


def read_keyed(path: str) -> dict[str, int]:
    """A "key value" per line file (memory.stat, cpu.stat)."""
    out: dict[str, int] = {}
    try:
        for line in read(path).splitlines():
            k, _, v = line.partition(" ")
            if v.strip().lstrip("-").isdigit():
                out[k] = int(v)
    except OSError:
        pass
    return out
