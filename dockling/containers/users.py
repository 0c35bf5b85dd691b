"""`-u user[:group]` -> uid, gid and supplementary groups, from the image's
/etc/passwd and /etc/group (read inside the rootfs, never the host's)."""

from __future__ import annotations

from dockling.errors import InvalidArgument
from dockling.runtime.paths import secure_join


def _read(rootfs: str, path: str) -> list[list[str]]:
    try:
        with open(secure_join(rootfs, path)) as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip()
                    and not line.startswith("#")]
    except OSError:
        return []


def resolve(rootfs: str, user: str) -> tuple[int, int, list[int]]:
    """docker's user spec: name|uid[:group|gid]; unknown names are errors."""
    name, _, group = (user or "0").partition(":")
    passwd = _read(rootfs, "/etc/passwd")
    groups = _read(rootfs, "/etc/group")
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
    for g in _read(rootfs, "/etc/group"):
        if len(g) > 2 and g[0] == group:
            return int(g[2])
    raise InvalidArgument(f"unable to find group {group}: no matching entries in group file")
