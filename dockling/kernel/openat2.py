"""Opening a path inside a directory as if that directory were ``/``.

A container's root (or a volume) is shared with processes we do not trust:
any component of a path in it may be a symlink, and may become one between
two calls. Resolving a path in user space and then opening the result by
name (``secure_join`` + ``open``) leaves that window open (CVE-2018-15664).
Here the opening *is* the resolution, on descriptors:

- ``openat2(2)`` with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS (Linux 5.6+,
  probed once): the kernel resolves symlinks and ``..`` as if ``root_fd``
  were ``/`` and refuses /proc's magic links;
- elsewhere (older kernels, a seccomp filter that hides it, or
  DOCKLING_NO_OPENAT2=1 in the environment) a walk from
  ``root_fd`` one component at a time with O_PATH | O_NOFOLLOW: a symlink's
  target is read and resolved the same way (absolute ones from the root),
  ``..`` goes back to the directory we came from and never above the root.

Either way the descriptor handed back lies inside the root, whatever is
renamed or swapped meanwhile. Callers then work relative to descriptors
(``dir_fd=``, ``os.scandir(fd)``), never by joined path strings.
``reopen`` turns an O_PATH descriptor into a readable one for the same
inode, so a file can be checked (``fstat``: a regular file, not a FIFO or a
device) before anything opens it for real.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections import deque

# linux/openat2.h
RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10

_NR_OPENAT2 = 437  # the same number on every architecture (the unified syscall table)
_MAX_SYMLINKS = 40  # the kernel's limit (MAXSYMLINKS)
_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64),
                ("resolve", ctypes.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """The raw system call; OSError (ENOSYS where the kernel lacks it)."""
    # a mode with neither O_CREAT nor O_TMPFILE (which includes O_DIRECTORY) is EINVAL
    creates = flags & os.O_CREAT or flags & os.O_TMPFILE == os.O_TMPFILE
    how = _OpenHow(flags | os.O_CLOEXEC, mode if creates else 0, resolve)
    fd = _libc.syscall(_NR_OPENAT2, ctypes.c_int(dirfd), os.fsencode(path), ctypes.byref(how),
                       ctypes.c_size_t(ctypes.sizeof(how)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


# None: not probed yet. Tests set it to False to exercise the walk.
available: bool | None = None


def _have_openat2() -> bool:
    global available
    if available is None and os.environ.get("DOCKLING_NO_OPENAT2"):
        available = False  # to run a daemon, or tests, on the walk
    if available is None:
        try:
            os.close(openat2(-100, "/", os.O_PATH, resolve=RESOLVE_IN_ROOT))
            available = True
        except OSError as err:
            # ENOSYS: an old kernel; EPERM: a seccomp filter (docker's before 20.10)
            available = err.errno not in (errno.ENOSYS, errno.EPERM)
    return available


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0o644,
                 follow: bool = True) -> int:
    """Open ``path`` resolved inside the directory ``root_fd`` (its ``/``).

    ``follow=False``: a final symlink is not followed (with O_PATH the link
    itself is opened; otherwise ELOOP). Errors are OSError as open(2) gives
    them: ENOENT, ENOTDIR, ELOOP...
    """
    if not follow:
        flags |= os.O_NOFOLLOW
    path = path or "."
    if _have_openat2():
        for _ in range(16):
            try:
                return openat2(root_fd, path, flags, mode,
                               RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
            except OSError as err:
                if err.errno != errno.EAGAIN:  # EAGAIN: a rename raced the walk of ".."
                    raise
    return _walk(root_fd, path, flags, mode)


def reopen(fd: int, flags: int) -> int:
    """A new open file description of the inode ``fd`` (an O_PATH fd) refers to
    (through its /proc magic link: ``flags`` must not hold O_NOFOLLOW)."""
    return os.open(f"/proc/self/fd/{fd}", flags | os.O_CLOEXEC)


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def _walk(root_fd: int, path: str, flags: int, mode: int) -> int:
    """openat2's RESOLVE_IN_ROOT in user space, one O_NOFOLLOW open per component."""
    follow_last = not flags & os.O_NOFOLLOW
    pending = deque(_parts(path))
    stack: list[int] = []  # fds opened below the root, the innermost last
    links = 0
    try:
        while pending:
            part = pending.popleft()
            cur = stack[-1] if stack else root_fd
            if part == "..":
                if stack:
                    os.close(stack.pop())
                continue
            last = not pending
            try:
                fd = os.open(part, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=cur)
            except FileNotFoundError:
                if last and flags & os.O_CREAT:
                    return os.open(part, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                                   dir_fd=cur)
                raise
            st = os.fstat(fd)
            if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                os.close(fd)
                links += 1
                if links > _MAX_SYMLINKS:
                    raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), path)
                target = os.readlink(part, dir_fd=cur)
                if target.startswith("/"):
                    while stack:
                        os.close(stack.pop())
                pending.extendleft(reversed(_parts(target)))
                continue
            if not last:
                if not stat.S_ISDIR(st.st_mode):
                    os.close(fd)
                    raise OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), path)
                stack.append(fd)
                continue
            if flags & ~(os.O_NOFOLLOW | os.O_CLOEXEC) == os.O_PATH:
                return fd
            os.close(fd)
            # The name was checked to be no symlink (or not to be followed): open it
            # without following, relative to a directory inside the root. Swapped for
            # a link meanwhile, it fails (ELOOP), it never leaves the root.
            return os.open(part, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=cur)
        # the path named a directory we hold (empty, ``/``, or ending in ``..``)
        return os.open(".", flags & ~os.O_NOFOLLOW | os.O_CLOEXEC, mode,
                       dir_fd=stack[-1] if stack else root_fd)
    finally:
        for fd in stack:
            os.close(fd)
