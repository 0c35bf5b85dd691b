"""Entering namespaces: join the ones given by path, unshare the new ones.

Runs in the first forked child (stage 1). A new PID namespace only applies
to children, so the caller forks once more afterwards; that grandchild is
the container's PID 1 (or the exec'd process).

A new user namespace needs its uid/gid maps written from outside: we ask
the parent over the sync socket and wait, then make ourselves root in it,
before unsharing the other namespaces so that they belong to it.
"""

from __future__ import annotations

import os

from dockling.runtime import sync
from dockling.kernel import syscalls as sc

# setns order: user first (it decides our privileges for the rest), mount
# last (after it, host paths such as /proc/PID/ns are out of reach; the fds
# are opened up front anyway).
_JOIN_ORDER = ("user", "ipc", "uts", "network", "pid", "cgroup", "mount")


def enter(ns: dict[str, str], sock) -> None:
    fds = {}
    try:
        for typ, path in ns.items():
            if path:
                try:
                    fds[typ] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
                except OSError as err:
                    raise OSError(err.errno, f"open {typ} namespace {path}: {err.strerror}",
                                  path) from err
        if "user" in ns:
            if "user" in fds:
                sc.setns(fds["user"], sc.CLONE_NEWUSER)
            else:
                sc.unshare(sc.CLONE_NEWUSER)
                sync.send(sock, "userns")
                sync.expect(sock, "userns-done", "user namespace setup")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        for typ in _JOIN_ORDER:
            if typ in fds and typ != "user":
                sc.setns(fds[typ], sc.NAMESPACE_FLAGS[typ])
        flags = 0
        for typ, path in ns.items():
            if not path and typ != "user":
                flags |= sc.NAMESPACE_FLAGS[typ]
        if flags:
            sc.unshare(flags)
    finally:
        for fd in fds.values():
            os.close(fd)


def write_id_maps(pid: int, uid_mappings, gid_mappings) -> None:
    """Write /proc/PID/{uid,gid}_map for a child's new user namespace."""
    for name, maps in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
        body = "".join(f"{m.container_id} {m.host_id} {m.size}\n" for m in maps)
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(body)


def proc_paths(pid: int, types) -> dict[str, str]:
    """{type: /proc/PID/ns/file} to join a running container's namespaces."""
    return {t: f"/proc/{pid}/ns/{sc.NAMESPACE_FILES[t]}" for t in types}


def same_as_host(typ: str, pid: int) -> bool:
    """Is PID's namespace of this type the same as ours? (setns to our own user ns fails)"""
    f = sc.NAMESPACE_FILES[typ]
    return os.stat(f"/proc/self/ns/{f}").st_ino == os.stat(f"/proc/{pid}/ns/{f}").st_ino
