"""Resolving paths inside a container root without ever leaving it.

A container image is untrusted: its /etc may be a symlink to the host's
/etc, its /proc a symlink to ``../../..``. ``secure_join`` resolves a path the
way the kernel would if ``root`` were ``/`` (symlinks followed, ``..`` clamped
at the root), so the result is always under ``root``. ``open_inside`` then
opens the result with O_PATH and checks through /proc/self/fd that nothing
swapped a component for a symlink in between; callers mount onto
``/proc/self/fd/N`` so the kernel acts on the checked inode, as runc does.

A path the daemon reads or writes while the container's processes run (cp,
commit, -u) must not be resolved here and opened later by name: that is
``openat2.open_in_root``'s job (resolution and opening in one step).
"""

from __future__ import annotations

import errno
import os
import stat
from collections import deque

from dockling.errors import InvalidArgument

_MAX_SYMLINKS = 255


def _parts(path: str) -> list[str]:
    return [p for p in path.split("/") if p not in ("", ".")]


def secure_join(root: str, unsafe: str) -> str:
    """Join ``unsafe`` onto ``root``, resolving symlinks as if chrooted in ``root``."""
    root = os.path.abspath(root)
    pending = deque(_parts(unsafe))
    current: list[str] = []
    followed = 0
    while pending:
        part = pending.popleft()
        if part == "..":
            if current:
                current.pop()
            continue
        candidate = os.path.join(root, *current, part)
        try:
            st = os.lstat(candidate)
        except FileNotFoundError:
            current.append(part)
            continue
        except NotADirectoryError:
            current.append(part)
            continue
        if not stat.S_ISLNK(st.st_mode):
            current.append(part)
            continue
        followed += 1
        if followed > _MAX_SYMLINKS:
            raise OSError(errno.ELOOP, "too many levels of symbolic links", unsafe)
        target = os.readlink(candidate)
        if target.startswith("/"):
            current = []
        pending.extendleft(reversed(_parts(target)))
    return os.path.join(root, *current)


def is_within(root: str, path: str) -> bool:
    root = os.path.abspath(root)
    path = os.path.abspath(path)
    return path == root or path.startswith(root.rstrip("/") + "/")


def open_inside(root: str, path: str) -> int:
    """Open an already-resolved ``path`` with O_PATH and prove it lies under ``root``."""
    fd = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    real = os.readlink(f"/proc/self/fd/{fd}")
    if not is_within(root, real):
        os.close(fd)
        raise InvalidArgument(f"mount destination {path} resolves outside the root to {real}")
    return fd


def make_mountpoint(root: str, dest: str, is_dir: bool) -> str:
    """Resolve ``dest`` inside ``root`` and create it (dir or empty file) if missing."""
    path = secure_join(root, dest)
    rel = os.path.relpath(path, root)
    parts = [] if rel == "." else rel.split("/")
    # What exists of it was just resolved (no symlink left in ``path``): start at
    # the first missing component. A container's mount points mostly exist, and
    # re-resolving every prefix from the root was most of what its mounts cost.
    have = len(parts)
    while have and not os.path.lexists(os.path.join(root, *parts[:have])):
        have -= 1
    if have == len(parts):
        return path
    # Create the rest one at a time, re-resolving so that nothing we create
    # can be redirected through a symlink planted in between.
    cur = os.path.join(root, *parts[:have])
    for i, part in enumerate(parts[have:], have):
        nxt = secure_join(root, os.path.join(os.path.relpath(cur, root), part))
        last = i == len(parts) - 1
        if not os.path.lexists(nxt):
            # 0755 as runc makes them, whatever the caller's umask (the daemon's is 077)
            if last and not is_dir:
                fd = os.open(nxt, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o755)
                os.fchmod(fd, 0o755)
                os.close(fd)
            else:
                os.mkdir(nxt, 0o755)
                os.chmod(nxt, 0o755, follow_symlinks=False)
        cur = nxt
    return cur
