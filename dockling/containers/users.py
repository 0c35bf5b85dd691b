"""`-u user[:group]` -> uid, gid and supplementary groups, from the image's
/etc/passwd and /etc/group (read inside the rootfs, never the host's).

The image is untrusted and the daemon reads these files itself: they are
opened inside the root (``openat2.open_in_root``: links followed there
only), checked to be regular files of at most 4 MiB before anything reads
them (a FIFO would hang the daemon, /dev/zero would fill its memory), and
read non-blocking. A file that is not usable counts as missing, as in
docker's lookup (moby's user.GetExecUserPath ignores a passwd it cannot
open): names then give docker's "unable to find user" error, numeric ids
need no file.
"""

from __future__ import annotations

import os
import stat

from dockling.errors import InvalidArgument
from dockling.kernel.openat2 import open_in_root, reopen

MAX_SIZE = 4 << 20


def _read_bounded(rootfs: str, path: str) -> bytes | None:
    """The file's bytes, or None if it is missing or not a regular file of at
    most MAX_SIZE bytes."""
    try:
        root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        fd = open_in_root(root_fd, path, os.O_PATH)
    except OSError:
        return None
    finally:
        os.close(root_fd)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_SIZE:
            return None
        with os.fdopen(reopen(fd, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY), "rb") as f:
            data = f.read(MAX_SIZE + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data if len(data) <= MAX_SIZE else None


def _read(rootfs: str, path: str, ids: tuple[int, ...]) -> list[list[str]]:
    """The entries of a passwd-style file; ``ids``: the fields that must be numbers
    (a line without them is skipped)."""
    data = _read_bounded(rootfs, path)
    if data is None:
        return []
    lines = [line.split(":") for line in data.decode("utf-8", "replace").splitlines()
             if line.strip() and not line.startswith("#")]
    return [p for p in lines if len(p) > max(ids) and all(p[i].isdigit() for i in ids)]


def _passwd(rootfs: str) -> list[list[str]]:
    return _read(rootfs, "/etc/passwd", (2, 3))


def _groups(rootfs: str) -> list[list[str]]:
    return _read(rootfs, "/etc/group", (2,))


def resolve(rootfs: str, user: str) -> tuple[int, int, list[int]]:
    """docker's user spec: name|uid[:group|gid]; unknown names are errors."""
    name, _, group = (user or "0").partition(":")
    passwd = _passwd(rootfs)
    groups = _groups(rootfs)
    uid = gid = None
    username = None
    if name.isdigit():
        uid = int(name)
        for p in passwd:
            if len(p) > 3 and p[2] == name:
                username, gid = p[0], int(p[3])
                break
    else:
        for p in passwd:
            if len(p) > 3 and p[0] == name:
                username, uid, gid = name, int(p[2]), int(p[3])
                break
        if uid is None:
            raise InvalidArgument(f"unable to find user {name}: no matching entries in passwd file")
    if group:
        if group.isdigit():
            gid = int(group)
        else:
            match = [g for g in groups if len(g) > 2 and g[0] == group]
            if not match:
                raise InvalidArgument(
                    f"unable to find group {group}: no matching entries in group file")
            gid = int(match[0][2])
    if gid is None:
        gid = 0
    extra: list[int] = []
    if username and not group:
        for g in groups:
            if len(g) > 3 and username in g[3].split(",") and int(g[2]) != gid:
                extra.append(int(g[2]))
    return uid, gid, extra


def group_id(rootfs: str, group: str) -> int:
    """--group-add: a gid, or a group name from the image's /etc/group."""
    if str(group).isdigit():
        return int(group)
    for g in _groups(rootfs):
        if len(g) > 2 and g[0] == group:
            return int(g[2])
    raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
