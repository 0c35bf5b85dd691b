"""``Kernel``: the one interface every kernel call of the engine goes through.

Modelled on youki's ``Syscall`` trait: the runtime, images, volumes and
network never call ctypes, pyroute2's netlink or the iptables command
directly; they call the kernel in use, ``current()``. This class is the
real kernel. ``record.Recorder`` wraps one and writes each call (name,
arguments, result or errno, duration) to a trace file while passing it on;
``record.Fake`` stands in for it in root-free tests and fails on demand.

Which kernel is in use is a context variable: ``with using(k):`` swaps it
for the current thread or asyncio task (and for threads started through
``contextvars.copy_context``); a forked child keeps its parent's. The
default costs one ContextVar lookup per call, so tracing off is free.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import subprocess

from dockling.kernel import linux


class Kernel:
    """The real kernel. Methods raise OSError as the system calls do."""

    # -- mounts and root ------------------------------------------------------------
    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0,
              data: str | None = None) -> None:
        linux.mount(source, target, fstype, flags, data)

    def umount(self, target: str, flags: int = 0) -> None:
        linux.umount(target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        linux.pivot_root(new_root, put_old)

    # -- namespaces and identity ----------------------------------------------------
    def unshare(self, flags: int) -> None:
        linux.unshare(flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        linux.setns(fd, nstype)

    def sethostname(self, name: str) -> None:
        linux.sethostname(name)

    def setdomainname(self, name: str) -> None:
        linux.setdomainname(name)

    # -- privileges ------------------------------------------------------------------
    def prctl(self, option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0,
              arg5: int = 0) -> int:
        return linux.prctl(option, arg2, arg3, arg4, arg5)

    def capset(self, effective: int, permitted: int, inheritable: int) -> None:
        linux.capset(effective, permitted, inheritable)

    def seccomp(self, program: bytes, flags: int = 0) -> None:
        linux.seccomp_filter(program, flags)

    def execve(self, path: str, args: list[str], env: dict[str, str]):
        os.execve(path, args, env)

    # -- files the kernel serves (cgroup limits) ------------------------------------
    def write(self, path: str, value: str) -> None:
        with open(path, "w") as f:
            f.write(value)

    # -- networking --------------------------------------------------------------------
    def netlink(self, ipr, call: str, *args, **kwargs):
        """``ipr.<call>(*args, **kwargs)`` on a pyroute2 IPRoute (link, addr, route)."""
        return getattr(ipr, call)(*args, **kwargs)

    def iptables(self, argv: list[str]) -> subprocess.CompletedProcess:
        return subprocess.run(argv, capture_output=True, text=True, check=False)

    # -- tracing -------------------------------------------------------------------------
    def process(self, role: str) -> None:
        """Name the calling process (after a fork) in a trace; nothing here."""


LINUX = Kernel()
_current: contextvars.ContextVar[Kernel] = contextvars.ContextVar("dockling_kernel",
                                                                  default=LINUX)


def current() -> Kernel:
    """The kernel in use in this thread or task."""
    return _current.get()


@contextlib.contextmanager
def using(kernel: Kernel):
    """Use ``kernel`` for the calls made inside the block (this context only)."""
    token = _current.set(kernel)
    try:
        yield kernel
    finally:
        _current.reset(token)


def install(kernel: Kernel) -> None:
    """Use ``kernel`` from now on in this context: a forked child that execs or exits."""
    _current.set(kernel)
