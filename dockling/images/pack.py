"""Packing a directory back into a layer tar (overlay format -> OCI), and
listing a container's changes.

The inverse of unpack.py: a 0:0 character device is written as
``.wh.NAME``, a directory with trusted.overlay.opaque=y gets a
``.wh..wh..opq`` entry. Used by commit (and later save and push).
Entries are written sorted with numeric owners, so the same tree gives the
same tar, and the same diff id.
"""

from __future__ import annotations

import io
import itertools
import os
import posixpath
import stat
import tarfile

from dockling.images.unpack import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def walk(root: str, exclude: frozenset[str] = frozenset()):
    """(relative path, absolute path, lstat) for every entry, sorted, parents first.

    ``exclude``: relative paths left out with everything below them.
    """
    stack = [""]
    while stack:
        rel = stack.pop()
        d = os.path.join(root, rel)
        try:
            names = sorted(os.listdir(d), reverse=True)
        except OSError:
            continue
        children = []
        for n in names:
            r = f"{rel}/{n}" if rel else n
            if r in exclude:
                continue
            p = os.path.join(root, r)
            st = os.lstat(p)
            children.append((r, p, st))
        for r, p, st in reversed(children):
            yield r, p, st
        stack.extend(r for r, p, st in children if stat.S_ISDIR(st.st_mode))


def write_layer(root: str, out, prefix: str = "",
                exclude: frozenset[str] = frozenset()) -> None:
    """Write the tree at ``root`` (an overlay upper dir) as an OCI layer tar.

    ``prefix``: a top directory for every entry, itself included (docker cp's
    archive of one directory: ``etc/``, ``etc/passwd``...). ``exclude``:
    relative paths left out (a container's mount points, see walk).
    """
    inodes: dict[tuple[int, int], str] = {}
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        entries = walk(root, exclude)
        if prefix:
            entries = itertools.chain([("", root, os.lstat(root))], entries)
        for rel, path, st in entries:
            rel = posixpath.join(prefix, rel) if rel else prefix
            if is_whiteout(st):
                parent, name = os.path.split(rel)
                ti = tarfile.TarInfo(os.path.join(parent, WHITEOUT_PREFIX + name))
                ti.mtime = int(st.st_mtime)
                tf.addfile(ti, io.BytesIO(b""))
                continue
            ti = tf.gettarinfo(path, arcname=rel)
            ti.uname = ti.gname = ""
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                key = (st.st_dev, st.st_ino)
                if key in inodes:
                    ti.type = tarfile.LNKTYPE
                    ti.linkname = inodes[key]
                    ti.size = 0
                    tf.addfile(ti)
                    continue
                inodes[key] = rel
            xattrs = _xattrs(path, st)
            if xattrs:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    tf.addfile(ti, f)
            else:
                tf.addfile(ti)
            if stat.S_ISDIR(st.st_mode) and _opaque(path):
                op = tarfile.TarInfo(os.path.join(rel, OPAQUE))
                op.mtime = int(st.st_mtime)
                tf.addfile(op, io.BytesIO(b""))


# Written by overlayfs on copy-up; meaningless (or misleading) in a lower layer.
_OVERLAY_BOOKKEEPING = ("trusted.overlay.origin", "trusted.overlay.impure",
                        "trusted.overlay.nlink", "trusted.overlay.upper")
# An upper dir holding these is not a self-contained layer (data or names live below).
_OVERLAY_FOREIGN = ("trusted.overlay.metacopy", "trusted.overlay.redirect")


def tidy_overlay_xattrs(root: str) -> bool:
    """Drop overlay's copy-up bookkeeping from an upper dir about to become a
    lower layer; True if it holds metacopy or redirect entries instead."""
    foreign = False
    for _, path, st in walk(root):
        if stat.S_ISLNK(st.st_mode):
            continue
        try:
            names = os.listxattr(path, follow_symlinks=False)
        except OSError:
            continue
        for n in names:
            if n in _OVERLAY_FOREIGN:
                foreign = True
            elif n in _OVERLAY_BOOKKEEPING:
                os.removexattr(path, n, follow_symlinks=False)
    return foreign


def _xattrs(path: str, st: os.stat_result) -> dict[str, str]:
    if stat.S_ISLNK(st.st_mode):
        return {}
    out = {}
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    for n in names:
        if n.startswith("trusted.overlay."):
            continue
        try:
            out[n] = os.getxattr(path, n, follow_symlinks=False).decode("utf-8",
                                                                         "surrogateescape")
        except OSError:
            continue
    return out


def changes(upper: str, lowers: list[str],
            exclude: frozenset[str] = frozenset()) -> list[dict]:
    """`docker diff`: Kind 0 = modified (C), 1 = added (A), 2 = deleted (D)."""
    out = []
    for rel, path, st in walk(upper, exclude):
        in_lower = any(os.path.lexists(os.path.join(low, rel)) for low in lowers)
        if is_whiteout(st):
            out.append({"Path": "/" + rel, "Kind": 2})
        elif in_lower:
            out.append({"Path": "/" + rel, "Kind": 0})
        else:
            out.append({"Path": "/" + rel, "Kind": 1})
    return out
