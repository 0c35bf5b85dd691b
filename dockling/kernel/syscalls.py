"""The system calls the engine makes, as functions, and their flags.

Each function passes its call to the kernel in use (``base.current()``):
the real one (ctypes, ``linux.py``), a ``Recorder`` that also writes it to
a trace, or a test's ``Fake``. Errors are OSError with errno and the path
or value acted on. Nothing here decides anything: the callers (rootfs,
namespaces, capabilities, process, netns, layers) hold the logic.
"""

from __future__ import annotations

from dockling.kernel.base import current

# clone(2) flags for unshare/setns.
CLONE_FS = 0x00000200  # the cwd, root and umask: a thread's own after unshare
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mount": CLONE_NEWNS,
    "cgroup": CLONE_NEWCGROUP,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "user": CLONE_NEWUSER,
    "pid": CLONE_NEWPID,
    "network": CLONE_NEWNET,
}
# The names of the namespace files under /proc/PID/ns/.
NAMESPACE_FILES = {
    "mount": "mnt", "cgroup": "cgroup", "uts": "uts", "ipc": "ipc",
    "user": "user", "pid": "pid", "network": "net",
}

# mount(2) flags.
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_SYNCHRONOUS = 16
MS_REMOUNT = 32
MS_MANDLOCK = 64
MS_DIRSYNC = 128
MS_NOSYMFOLLOW = 256
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_MOVE = 8192
MS_REC = 16384
MS_SILENT = 32768
MS_UNBINDABLE = 1 << 17
MS_PRIVATE = 1 << 18
MS_SLAVE = 1 << 19
MS_SHARED = 1 << 20
MS_RELATIME = 1 << 21
MS_STRICTATIME = 1 << 24
MNT_DETACH = 2

# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_KEEPCAPS = 8
PR_CAPBSET_DROP = 24
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
PR_GET_NO_NEW_PRIVS = 39
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_RAISE = 2
PR_CAP_AMBIENT_CLEAR_ALL = 4



def mount(source: str | None, target: str, fstype: str | None, flags: int = 0,
          data: str | None = None) -> None:
    current().mount(source, target, fstype, flags, data)


def umount(target: str, flags: int = 0) -> None:
    current().umount(target, flags)


def unshare(flags: int) -> None:
    current().unshare(flags)


def setns(fd: int, nstype: int = 0) -> None:
    current().setns(fd, nstype)


def pivot_root(new_root: str, put_old: str) -> None:
    current().pivot_root(new_root, put_old)


def sethostname(name: str) -> None:
    current().sethostname(name)


def setdomainname(name: str) -> None:
    current().setdomainname(name)


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return current().prctl(option, arg2, arg3, arg4, arg5)


def set_no_new_privs() -> None:
    prctl(PR_SET_NO_NEW_PRIVS, 1)


def set_keepcaps(on: bool) -> None:
    prctl(PR_SET_KEEPCAPS, 1 if on else 0)


def set_dumpable(on: bool) -> None:
    prctl(PR_SET_DUMPABLE, int(on))


def set_child_subreaper() -> None:
    prctl(PR_SET_CHILD_SUBREAPER, 1)


def set_pdeathsig(sig: int) -> None:
    prctl(PR_SET_PDEATHSIG, sig)


def capbset_drop(cap: int) -> None:
    prctl(PR_CAPBSET_DROP, cap)


def ambient_clear() -> None:
    try:
        prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)
    except OSError:
        pass  # kernels before 4.3 have no ambient set


def ambient_raise(cap: int) -> None:
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)


def capset(effective: int, permitted: int, inheritable: int) -> None:
    current().capset(effective, permitted, inheritable)


def seccomp(program: bytes, flags: int = 0) -> None:
    """Install a BPF filter (seccomp(2) SET_MODE_FILTER) in the calling thread."""
    current().seccomp(program, flags)


def execve(path: str, args: list[str], env: dict[str, str]):
    current().execve(path, args, env)


def write(path: str, value: str) -> None:
    """Write a kernel file (a cgroup limit): the whole value in one write."""
    current().write(path, value)


def netlink(ipr, call: str, *args, **kwargs):
    """A netlink request through pyroute2: ``ipr.<call>(*args, **kwargs)`` (link, addr, route)."""
    return current().netlink(ipr, call, *args, **kwargs)


def iptables(argv: list[str]):
    """Run the iptables command; its CompletedProcess (text output)."""
    return current().iptables(argv)
