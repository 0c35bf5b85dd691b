"""Named network namespaces: a file under the run dir that holds one open.

The daemon makes a container's network namespace before the container
exists (so its interfaces are ready when the program starts) and the
runtime joins it by path, as CNI and podman do. Work inside a namespace
runs on a short-lived thread that setns()es into it: network namespaces
are per thread, so the daemon's own threads never move.
"""

from __future__ import annotations

import os
import threading

from dockling.kernel import syscalls as sc
from dockling.kernel.threads import run_on_thread


def create(path: str) -> None:
    """A new network namespace, kept alive by a bind mount on ``path``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "a"):
        pass

    def make() -> None:
        sc.unshare(sc.CLONE_NEWNET)
        sc.mount(f"/proc/self/task/{threading.get_native_id()}/ns/net", path, None,
                 sc.MS_BIND)

    run_on_thread(make)


def remove(path: str) -> None:
    try:
        sc.umount(path, sc.MNT_DETACH)
    except OSError:
        pass
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def exists(path: str) -> bool:
    return os.path.ismount(path)


def enter(path: str) -> None:
    """Move the calling thread into the namespace at ``path`` (a file or
    /proc/PID/ns/net): a thread of its own, thrown away after (run_on_thread)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        sc.setns(fd, sc.CLONE_NEWNET)
    finally:
        os.close(fd)


def run_in(path: str, fn, *args):
    """fn(*args) on a thread inside the namespace at ``path``."""
    def inside():
        enter(path)
        return fn(*args)

    return run_on_thread(inside)
