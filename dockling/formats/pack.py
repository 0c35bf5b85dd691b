"""Packing a directory back into a layer tar (overlay format -> OCI), and
listing a container's changes.

The inverse of unpack.py: a 0:0 character device is written as
``.wh.NAME``, a directory with trusted.overlay.opaque=y gets a
``.wh..wh..opq`` entry. Used by commit, cp and export (and the builder).
Entries are written sorted with numeric owners, so the same tree gives the
same tar, and the same diff id.

The tree may belong to a running container, whose processes can swap a
directory for a symlink to the host's / at any moment. So the walk never
goes by joined path strings: each directory is opened with O_NOFOLLOW
relative to its parent's descriptor and listed through that descriptor; a
file is opened O_PATH|O_NOFOLLOW, checked to be a regular file, and only
then opened for reading (so a FIFO or a device planted in its place is
never opened). What is swapped meanwhile is skipped or archived as what it
is now, never followed.
"""

from __future__ import annotations

import errno
import io
import os
import posixpath
import stat
import tarfile
from collections.abc import Iterator

from dockling.formats.unpack import OPAQUE, OPAQUE_XATTR, WHITEOUT_PREFIX, open_checked

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_PATH = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC


def is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(0, 0)


def _open_root(root: str | int) -> int:
    """A readable descriptor of the tree's top: ``root`` is a trusted path or a
    descriptor already opened inside a container's root."""
    if isinstance(root, int):
        return os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=root)
    return os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)


def _scan(dfd: int, rel: str, exclude: frozenset[str]) -> list[tuple[str, str, os.stat_result]]:
    """(relative path, name, lstat) of a directory's entries, sorted by name."""
    with os.scandir(dfd) as it:
        names = sorted(e.name for e in it)
    out = []
    for n in names:
        r = f"{rel}/{n}" if rel else n
        if r in exclude:
            continue
        try:
            st = os.stat(n, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            continue  # gone meanwhile
        out.append((r, n, st))
    return out


def entries(root: str | int, exclude: frozenset[str] = frozenset()
            ) -> Iterator[tuple[str, int, str, os.stat_result]]:
    """(relative path, parent dir fd, name, lstat) of every entry below ``root``:
    sorted, parents first, each directory's entries together. The parent's fd is
    valid until the next item is asked for. ``exclude``: relative paths left out
    with everything below them."""
    top = _open_root(root)
    stack: list[tuple[int, Iterator]] = [(top, iter(()))]
    try:
        kids = _scan(top, "", exclude)
        for r, n, st in kids:
            yield r, top, n, st
        stack[-1] = (top, iter([k for k in kids if stat.S_ISDIR(k[2].st_mode)]))
        while stack:
            fd, subdirs = stack[-1]
            nxt = next(subdirs, None)
            if nxt is None:
                os.close(stack.pop()[0])
                continue
            r, n, _ = nxt
            try:
                sub = os.open(n, _DIR, dir_fd=fd)
            except OSError:
                continue  # removed, or swapped for a symlink: never followed
            stack.append((sub, iter(())))
            kids = _scan(sub, r, exclude)
            for r2, n2, st2 in kids:
                yield r2, sub, n2, st2
            stack[-1] = (sub, iter([k for k in kids if stat.S_ISDIR(k[2].st_mode)]))
    finally:
        for fd, _ in stack:
            os.close(fd)


def walk(root: str, exclude: frozenset[str] = frozenset()):
    """(relative path, absolute path, lstat) for every entry, sorted, parents first.

    The absolute path is for trees nothing changes meanwhile (a build context,
    an image's layers); the walk itself goes by descriptors (see ``entries``).
    ``exclude``: relative paths left out with everything below them.
    """
    for rel, _fd, _name, st in entries(root, exclude):
        yield rel, os.path.join(root, rel), st


def _tarinfo(name: str, st: os.stat_result, linkname: str = "") -> tarfile.TarInfo | None:
    """TarFile.gettarinfo from a stat result (same fields, so the same bytes),
    owners numeric only; None for a socket, which tar cannot hold."""
    ti = tarfile.TarInfo(name)
    mode = st.st_mode
    if stat.S_ISREG(mode):
        ti.type, ti.size = tarfile.REGTYPE, st.st_size
    elif stat.S_ISDIR(mode):
        ti.type = tarfile.DIRTYPE
    elif stat.S_ISFIFO(mode):
        ti.type = tarfile.FIFOTYPE
    elif stat.S_ISLNK(mode):
        ti.type, ti.linkname = tarfile.SYMTYPE, linkname
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None  # docker skips sockets too
    ti.mode = mode
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = st.st_mtime
    return ti


# The only xattr docker's tar writer records (moby ReadSecurityXattrToTarHeader; file
# capabilities such as ping's cap_net_raw): never the host's SELinux labels, ACLs,
# user.* attributes or overlay's trusted.overlay.* bookkeeping.
_KEPT_XATTR = "security.capability"


def _xattrs_fd(fd: int) -> dict[str, str]:
    """The xattrs a layer records for an inode (``fd``: readable, or O_PATH)."""
    for target in (fd, f"/proc/self/fd/{fd}"):  # an O_PATH fd: through its /proc link
        try:
            value = os.getxattr(target, _KEPT_XATTR)
        except OSError as err:
            if err.errno == errno.EBADF:
                continue
            return {}
        return {_KEPT_XATTR: value.decode("utf-8", "surrogateescape")}
    return {}


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


class _Writer:
    """One tar being written: hard links seen, entries added from (dir fd, name)."""

    def __init__(self, tf: tarfile.TarFile) -> None:
        self.tf = tf
        self.inodes: dict[tuple[int, int], str] = {}

    def add(self, rel: str, dfd: int, name: str, st: os.stat_result) -> None:
        tf = self.tf
        if is_whiteout(st):
            parent, base = posixpath.split(rel)
            ti = tarfile.TarInfo(posixpath.join(parent, WHITEOUT_PREFIX + base))
            ti.mtime = int(st.st_mtime)
            tf.addfile(ti, io.BytesIO(b""))
            return
        if stat.S_ISLNK(st.st_mode):
            try:
                target = os.readlink(name, dir_fd=dfd)
            except OSError:
                return  # replaced meanwhile
            tf.addfile(_tarinfo(rel, st, target))
            return
        if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
            first = self.inodes.get((st.st_dev, st.st_ino))
            if first is not None:
                ti = _tarinfo(rel, st)
                ti.type, ti.linkname, ti.size = tarfile.LNKTYPE, first, 0
                tf.addfile(ti)
                return
        flags = _DIR if stat.S_ISDIR(st.st_mode) else _PATH
        try:
            fd = os.open(name, flags, dir_fd=dfd)
        except OSError:
            return  # removed, or swapped for a symlink meanwhile
        try:
            st = os.fstat(fd)  # what was opened, whatever the name held before
            ti = _tarinfo(rel, st)
            if ti is None:
                return
            xattrs = _xattrs_fd(fd)
            if xattrs:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
            if stat.S_ISREG(st.st_mode):
                # checked: a regular file, so opening it for reading has no side effect
                with open_checked(fd) as f:
                    if st.st_nlink > 1:
                        self.inodes[(st.st_dev, st.st_ino)] = rel
                    tf.addfile(ti, f)
                return
            tf.addfile(ti)
            if stat.S_ISDIR(st.st_mode) and _opaque(fd):
                op = tarfile.TarInfo(posixpath.join(rel, OPAQUE))
                op.mtime = int(st.st_mtime)
                tf.addfile(op, io.BytesIO(b""))
        finally:
            os.close(fd)


def write_layer(root: str | int, out, prefix: str = "",
                exclude: frozenset[str] = frozenset()) -> None:
    """Write the tree at ``root`` (an overlay upper dir, a container's root) as an
    OCI layer tar. ``root``: a trusted path, or a directory fd opened inside a
    container's root (``openat2.open_in_root``).

    ``prefix``: a top directory for every entry, itself included (docker cp's
    archive of one directory: ``etc/``, ``etc/passwd``...). ``exclude``:
    relative paths left out (a container's mount points, see walk).
    """
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        w = _Writer(tf)
        if prefix:
            top = _open_root(root)
            try:
                w.add(prefix, top, ".", os.fstat(top))
            finally:
                os.close(top)
        for rel, dfd, name, st in entries(root, exclude):
            w.add(posixpath.join(prefix, rel) if prefix else rel, dfd, name, st)


def write_entry(dir_fd: int, name: str, arcname: str, out) -> None:
    """One entry that is not a directory (a file, a link, a device...) as a tar,
    read through ``dir_fd`` (docker cp of one file)."""
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        _Writer(tf).add(arcname, dir_fd, name,
                        os.stat(name, dir_fd=dir_fd, follow_symlinks=False))


def write_named(parent_fd: int, name: str, arcname: str, out) -> None:
    """``name`` in ``parent_fd`` as a tar whose top entry is ``arcname``: a
    directory with its tree, anything else alone (the name is not followed)."""
    try:
        fd = os.open(name, _DIR, dir_fd=parent_fd)
    except OSError as err:
        if err.errno not in (errno.ENOTDIR, errno.ELOOP):
            raise
        write_entry(parent_fd, name, arcname, out)  # not a directory
        return
    try:
        write_layer(fd, out, prefix=arcname)
    finally:
        os.close(fd)


def write_archive(path: str, arcname: str, out) -> None:
    """A host path as a tar whose top entry is ``arcname`` (the CLI's side of cp)."""
    parent, name = os.path.split(os.path.abspath(path))
    parent_fd = os.open(parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        write_named(parent_fd, name or ".", arcname, out)
    finally:
        os.close(parent_fd)


# Written by overlayfs on copy-up; meaningless (or misleading) in a lower layer.
_OVERLAY_BOOKKEEPING = ("trusted.overlay.origin", "trusted.overlay.impure",
                        "trusted.overlay.nlink", "trusted.overlay.upper")
# An upper dir holding these is not a self-contained layer (data or names live below).
_OVERLAY_FOREIGN = ("trusted.overlay.metacopy", "trusted.overlay.redirect")


def tidy_overlay_xattrs(root: str) -> bool:
    """Drop overlay's copy-up bookkeeping from an upper dir about to become a
    lower layer; True if it holds metacopy or redirect entries instead."""
    foreign = False
    for _, dfd, name, st in entries(root):
        if stat.S_ISLNK(st.st_mode):
            continue
        try:
            fd = os.open(name, _PATH, dir_fd=dfd)
        except OSError:
            continue
        try:
            path = f"/proc/self/fd/{fd}"
            for n in os.listxattr(path):
                if n in _OVERLAY_FOREIGN:
                    foreign = True
                elif n in _OVERLAY_BOOKKEEPING:
                    os.removexattr(path, n)
        except OSError:
            continue
        finally:
            os.close(fd)
    return foreign


def _lexists_below(root_fd: int, rel: str) -> bool:
    """Whether ``rel`` exists below ``root_fd`` without following any symlink
    (overlay merges by name: a symlink in a lower layer is not a directory)."""
    parts = rel.split("/")
    fds: list[int] = []
    try:
        cur = root_fd
        for part in parts[:-1]:
            cur = os.open(part, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC,
                          dir_fd=cur)
            fds.append(cur)
        os.stat(parts[-1], dir_fd=cur, follow_symlinks=False)
        return True
    except OSError:
        return False
    finally:
        for fd in fds:
            os.close(fd)


def changes(upper: str, lowers: list[str],
            exclude: frozenset[str] = frozenset()) -> list[dict]:
    """`docker diff`: Kind 0 = modified (C), 1 = added (A), 2 = deleted (D)."""
    out = []
    lower_fds = [os.open(low, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC) for low in lowers]
    try:
        for rel, _fd, _name, st in entries(upper, exclude):
            if is_whiteout(st):
                out.append({"Path": "/" + rel, "Kind": 2})
            elif any(_lexists_below(fd, rel) for fd in lower_fds):
                out.append({"Path": "/" + rel, "Kind": 0})
            else:
                out.append({"Path": "/" + rel, "Kind": 1})
    finally:
        for fd in lower_fds:
            os.close(fd)
    return out
