"""A kernel that writes down every call: ``Recorder`` (for traces) and ``Fake`` (for tests).

``Recorder(path, role)`` wraps the kernel in use: each call goes on to it
and is appended to ``path`` as one JSON line (an O_APPEND write, so the
daemon, the runtime and the container's init can share one file):

    {"ts": ns since the epoch, "pid": 1234, "role": "init", "call": "mount",
     "args": {...}, "ms": 0.21, "error": "EPERM ..."}     # error only on failure

``args`` are the call's arguments made readable: flags as names
(MS_BIND|MS_REC, CLONE_NEWNS|...), capability masks as names, prctl
options as their PR_ names. ``execve`` is written before it happens (it
does not return). ``read`` loads a trace file in time order.

``Fake()`` answers every call with success and touches nothing: a root-free
test runs pure logic (which mounts, which flags, which values) against it
and reads ``calls`` and ``files``; ``fail={"mount": errno.EPERM}`` makes the
next call of that name fail, to test the way back.
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import json
import os
import subprocess
import threading
import time

from dockling.kernel import caps, syscalls
from dockling.kernel.base import Kernel, current, using

# A container's trace, in its run dir: the daemon's steps and its shim's.
TRACE_FILE = "trace.jsonl"


def _bits(prefix: str) -> list[tuple[int, str]]:
    """The single-bit flags of ``syscalls`` named PREFIX..., lowest bit first."""
    found = {}
    for name, bit in vars(syscalls).items():
        if name.startswith(prefix) and isinstance(bit, int) and bit and not bit & (bit - 1):
            found.setdefault(bit, name)
    return sorted(found.items())


_FLAG_BITS = {"MS_": _bits("MS_"), "CLONE_": _bits("CLONE_")}


def _names(value: int, prefix: str) -> str:
    """MS_BIND|MS_REC for 0x5000, lowest bit first (bits no name covers as hex)."""
    out, left = [], value
    for bit, name in _FLAG_BITS[prefix]:
        if left & bit:
            out.append(name)
            left &= ~bit
    if left:
        out.append(hex(left))
    return "|".join(out) or "0"


_PR = {v: k for k, v in vars(syscalls).items()
       if k.startswith("PR_") and not k.startswith("PR_CAP_AMBIENT_")}


def describe(call: str, args: tuple, kwargs: dict) -> dict:
    """A call's arguments as a trace shows them."""
    if call == "mount":
        source, target, fstype, flags, data = (list(args) + [None] * 5)[:5]
        return {"source": source, "target": target, "fstype": fstype,
                "flags": _names(flags or 0, "MS_"), "data": data or ""}
    if call == "umount":
        return {"target": args[0], "flags": "MNT_DETACH" if len(args) > 1 and args[1] else "0"}
    if call in ("unshare", "setns"):
        flags = args[-1] if call == "unshare" or len(args) > 1 else 0
        out = {"flags": _names(flags, "CLONE_")}
        if call == "setns":
            out["ns"] = _fd_path(args[0])
        return out
    if call == "prctl":
        option, rest = args[0], list(args[1:])
        out = {"option": _PR.get(option, str(option))}
        if option == syscalls.PR_CAPBSET_DROP or (option == syscalls.PR_CAP_AMBIENT and
                                                  rest and rest[0] == 2):
            cap = rest[0] if option == syscalls.PR_CAPBSET_DROP else rest[1]
            out["cap"] = caps.CAPS[cap] if cap < len(caps.CAPS) else str(cap)
        elif rest:
            out["arg"] = rest[0]
        return out
    if call == "capset":
        return {k: caps.names_of(v) for k, v in zip(("effective", "permitted", "inheritable"),
                                                      args)}
    if call == "seccomp":
        return {"instructions": len(args[0]) // 8, "bytes": len(args[0]), "flags": args[1]}
    if call == "execve":
        return {"path": args[0], "argv": list(args[1])}
    if call == "netlink":
        return {"op": f"{args[1]} {args[2]}" if len(args) > 2 else args[1],
                **{k: v for k, v in kwargs.items()}}
    if call == "iptables":
        return {"argv": list(args[0])}
    if call == "pivot_root":
        return {"new_root": args[0], "put_old": args[1]}
    if call in ("sethostname", "setdomainname"):
        return {"name": args[0]}
    if call == "write":
        return {"path": args[0], "value": args[1]}
    return {"args": list(args), **kwargs}


def _fd_path(fd: int) -> str:
    try:
        return os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        return str(fd)


class Recorder(Kernel):
    """The kernel in use, each call written to ``path`` on the way."""

    def __init__(self, path: str, role: str, inner: Kernel | None = None) -> None:
        self.inner = inner or current()
        self.role = role
        self.path = path
        # O_APPEND: each line lands whole at the end, whoever else writes the file
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        self._lock = threading.Lock()

    def close(self) -> None:
        """Stop writing (calls still reach the kernel): a late thread writes nothing."""
        with self._lock:
            if self.fd >= 0:
                os.close(self.fd)
                self.fd = -1

    def process(self, role: str) -> None:
        self.role = role
        # a forked child holds a copy of the lock, which another thread may have held
        self._lock = threading.Lock()

    def _emit(self, call: str, args: tuple, kwargs: dict, start: int, took: float,
              error: BaseException | None, result=None) -> None:
        rec = {"ts": start, "pid": os.getpid(), "role": self.role, "call": call,
               "args": describe(call, args, kwargs), "ms": round(took, 3)}
        if error is not None:
            code = getattr(error, "errno", None)
            rec["error"] = (f"{errno_mod.errorcode.get(code, code)}: {error}" if code
                            else str(error))
        elif result is not None and call != "netlink":
            rec["result"] = result
        line = json.dumps(rec, default=str) + "\n"
        with self._lock:
            if self.fd >= 0:
                os.write(self.fd, line.encode())

    def _call(self, call: str, fn, *args, **kwargs):
        start, t0 = time.time_ns(), time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as err:
            self._emit(call, args, kwargs, start, (time.perf_counter() - t0) * 1000, err)
            raise
        self._emit(call, args, kwargs, start, (time.perf_counter() - t0) * 1000, None,
                   _result(call, result))
        return result

    def mount(self, *a, **kw):
        return self._call("mount", self.inner.mount, *a, **kw)

    def umount(self, *a, **kw):
        return self._call("umount", self.inner.umount, *a, **kw)

    def pivot_root(self, *a, **kw):
        return self._call("pivot_root", self.inner.pivot_root, *a, **kw)

    def unshare(self, *a, **kw):
        return self._call("unshare", self.inner.unshare, *a, **kw)

    def setns(self, *a, **kw):
        return self._call("setns", self.inner.setns, *a, **kw)

    def sethostname(self, *a, **kw):
        return self._call("sethostname", self.inner.sethostname, *a, **kw)

    def setdomainname(self, *a, **kw):
        return self._call("setdomainname", self.inner.setdomainname, *a, **kw)

    def prctl(self, *a, **kw):
        return self._call("prctl", self.inner.prctl, *a, **kw)

    def capset(self, *a, **kw):
        return self._call("capset", self.inner.capset, *a, **kw)

    def seccomp(self, *a, **kw):
        return self._call("seccomp", self.inner.seccomp, *a, **kw)

    def write(self, *a, **kw):
        return self._call("write", self.inner.write, *a, **kw)

    def netlink(self, *a, **kw):
        return self._call("netlink", self.inner.netlink, *a, **kw)

    def iptables(self, *a, **kw):
        return self._call("iptables", self.inner.iptables, *a, **kw)

    def execve(self, path, args, env):
        # written first: a successful execve never comes back to say so
        self._emit("execve", (path, args), {}, time.time_ns(), 0.0, None)
        return self.inner.execve(path, args, env)


def _result(call: str, result):
    if call == "iptables":
        return result.returncode
    return result if isinstance(result, (int, str)) else None


class Fake(Kernel):
    """No kernel at all: every call succeeds (or fails as ``fail`` says) and is kept."""

    def __init__(self, fail: dict[str, int] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.files: dict[str, str] = {}
        self.fail = dict(fail or {})

    def _call(self, call: str, *args, **kwargs) -> None:
        self.calls.append((call, describe(call, args, kwargs)))
        if call in self.fail:
            code = self.fail.pop(call)
            raise OSError(code, os.strerror(code), args[1] if call == "mount" else None)

    def named(self, call: str) -> list[dict]:
        """The arguments of each call named ``call``, in order."""
        return [a for c, a in self.calls if c == call]

    def mount(self, *a, **kw):
        self._call("mount", *a, **kw)

    def umount(self, *a, **kw):
        self._call("umount", *a, **kw)

    def pivot_root(self, *a, **kw):
        self._call("pivot_root", *a, **kw)

    def unshare(self, *a, **kw):
        self._call("unshare", *a, **kw)

    def setns(self, *a, **kw):
        self._call("setns", *a, **kw)

    def sethostname(self, *a, **kw):
        self._call("sethostname", *a, **kw)

    def setdomainname(self, *a, **kw):
        self._call("setdomainname", *a, **kw)

    def prctl(self, *a, **kw):
        self._call("prctl", *a, **kw)
        return 0

    def capset(self, *a, **kw):
        self._call("capset", *a, **kw)

    def seccomp(self, *a, **kw):
        self._call("seccomp", *a, **kw)

    def write(self, path, value):
        self._call("write", path, value)
        self.files[path] = value

    def netlink(self, ipr, call, *a, **kw):
        self._call("netlink", ipr, call, *a, **kw)

    def iptables(self, argv):
        self._call("iptables", argv)
        return subprocess.CompletedProcess(argv, 0, "", "")

    def execve(self, path, args, env):
        self._call("execve", path, args)
        raise SystemExit(0)  # the process would be gone


@contextlib.contextmanager
def tracing(path: str, role: str):
    """Record the calls made in the block to ``path`` (a new trace: an old one goes)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    rec = Recorder(path, role)
    try:
        with using(rec):
            yield rec
    finally:
        rec.close()


def read(path: str) -> list[dict]:
    """A trace file's records in time order ([] when there is none)."""
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line cut by a process killed mid-write
    out.sort(key=lambda r: r.get("ts", 0))
    return out
