"""Unpacking a layer tar into a directory, safely, in overlay's format.

A layer is untrusted input. Every entry is created relative to directory
fds opened with O_NOFOLLOW, one path component at a time, so an entry can
never land outside ``dest``: not by ``..`` (refused), not by an absolute
path (taken as relative, as tar does), not through a symlink the same tar
planted earlier (refused), not by a hardlink to a file outside (refused).
Symlinks themselves may point anywhere: they are resolved inside the
container's root, never by us.

OCI whiteouts become overlay whiteouts: ``.wh.NAME`` -> a 0:0 character
device NAME, ``.wh..wh..opq`` -> the xattr trusted.overlay.opaque=y on its
directory; a whiteout of ``.`` or ``..`` (``.wh..``, ``.wh...``) is refused,
as containerd refuses it. Ownership, modes, mtimes, xattrs and device nodes
are kept, but xattrs in overlay's namespace (``trusted.overlay.*``): they
would steer overlayfs (opaque directories, redirects, metacopy, xattr
whiteouts), which only whiteout entries may do. Other xattrs are set as
docker sets them (security.capability carries file capabilities).

``dest`` may be a directory fd (docker cp: the destination was opened
inside the container's root, so nothing can redirect it in between).

The stream may be gzip, zstd or plain; the diff id (sha256 of the
uncompressed tar) is computed while reading, so one pass verifies and
unpacks.
"""

from __future__ import annotations

import array
import fcntl
import hashlib
import io
import os
import posixpath
import secrets
import shutil
import stat
import tarfile

from dockling.errors import InvalidArgument

WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
OPAQUE_XATTR = "trusted.overlay.opaque"

_GZIP = b"\x1f\x8b"
_ZSTD = b"\x28\xb5\x2f\xfd"


class HashingReader(io.RawIOBase):
    """Reads through ``raw``, hashes everything, and keeps the tar's header
    bytes (not file data) so the exact tar can be written again (tar-split)."""

    def __init__(self, raw) -> None:
        self.raw = raw
        self.hash = hashlib.sha256()
        self.size = 0
        self.spool: list[tuple[int, bytes]] = []  # (stream offset, bytes) outside skip
        self.skip = (0, 0)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self.raw.read(len(b))
        if not data:
            return 0
        n = len(data)
        b[:n] = data
        self.hash.update(data)
        start, end = self.size, self.size + n
        a, z = self.skip
        if end <= a or start >= z:
            self.spool.append((start, bytes(data)))
        else:
            if start < a:
                self.spool.append((start, bytes(data[:a - start])))
            if end > z:
                self.spool.append((z, bytes(data[z - start:])))
        self.size = end
        return n

    def take(self, start: int, end: int) -> bytes:
        """Stream bytes [start, end) from the spool (header blocks only)."""
        out = bytearray()
        for pos, chunk in self.spool:
            lo, hi = max(start, pos), min(end, pos + len(chunk))
            if lo < hi:
                out += chunk[lo - pos:hi - pos]
        return bytes(out)

    def forget_before(self, pos: int) -> None:
        self.spool = [(p, c) for p, c in self.spool if p + len(c) > pos]

    def drain(self) -> None:
        while self.read(1 << 16):
            pass

    @property
    def digest(self) -> str:
        return "sha256:" + self.hash.hexdigest()


def open_checked(fd: int):
    """A file object reading the inode the O_PATH descriptor ``fd`` holds, reopened
    through its /proc link: the file the caller checked (fstat: a regular file) is
    the one read, never a FIFO or device swapped in by name. (The engine's
    openat2 module has the same ``reopen``; this package imports no engine code,
    as the CLI's cp runs it.)"""
    return open(os.open(f"/proc/self/fd/{fd}", os.O_RDONLY | os.O_CLOEXEC), "rb")


def decompressed(fileobj):
    """Wrap a (possibly compressed) stream; compression is sniffed, not trusted."""
    buf = fileobj if hasattr(fileobj, "peek") else io.BufferedReader(fileobj, 1 << 16)
    head = buf.peek(4)[:4]
    if head.startswith(_GZIP):
        import gzip

        return gzip.GzipFile(fileobj=buf, mode="rb")
    if head.startswith(_ZSTD):
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(buf, read_across_frames=True)
    return buf


def clean_name(name: str) -> str:
    """Tar member name -> path relative to the layer root; refuse escapes."""
    p = posixpath.normpath("/" + name).lstrip("/")
    raw = posixpath.normpath(name.lstrip("/"))
    if raw == ".." or raw.startswith("../"):
        raise InvalidArgument(f"invalid layer: entry {name!r} points outside the layer")
    return "" if p in (".", "") else p


_FS_IOC_GETFLAGS = 0x80086601
_FS_IOC_SETFLAGS = 0x40086602
_FS_TOPDIR_FL = 0x00020000


def spread_dirs(fd: int) -> None:
    """Mark a directory the top of a hierarchy (``chattr +T``): ext4's Orlov
    allocator then puts each directory made in it in the block group with the
    fewest directories (first from a hash of its name), as for those made in
    ``/``, instead of next to its parent's group, where every other layer,
    container and temporary tree (the host's /var, /tmp too) comes and goes.

    Why: on ext4 without a journal, creating a file scans past each free inode
    of its group freed recently (60 s; 360 s while the inode table is not
    written back: ``recently_deleted`` in fs/ext4/ialloc.c), every create from
    the group's start, so 20,000 files unpacked near a tree just removed took
    10-20 s instead of 1 (bench/pull.py, small files; docker's own time swings
    4-16 s there for the same reason). ``_Dirs`` makes the top directories
    under a random name first, so that hash picks a random empty group, not
    the one the same image's layer, just removed, used. A filesystem without
    these flags (ENOTTY, EOPNOTSUPP...) is left as it is."""
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, _FS_IOC_GETFLAGS, flags, True)
        flags[0] |= _FS_TOPDIR_FL
        fcntl.ioctl(fd, _FS_IOC_SETFLAGS, flags)
    except OSError:
        pass


class _Dirs:
    """Directory fds below dest, opened component by component, never via symlinks."""

    def __init__(self, dest: str | int, spread: bool = False) -> None:
        if isinstance(dest, int):  # a readable descriptor of our own, even from an O_PATH one
            self.root = os.open(".", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC, dir_fd=dest)
        else:
            self.root = os.open(dest, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
        self.cache: dict[str, int] = {"": self.root}
        self.spread = spread
        if spread:
            spread_dirs(self.root)

    def mkdir(self, pfd: int, parent: str, base: str, mode: int) -> None:
        """mkdir; at the top of a spread layer under a random name first (see
        spread_dirs), then renamed: two syscalls for the few top directories."""
        if not (self.spread and parent == ""):
            os.mkdir(base, mode, dir_fd=pfd)
            return
        tmp = f".tmp-{secrets.token_hex(8)}"
        os.mkdir(tmp, mode, dir_fd=pfd)
        try:
            os.rename(tmp, base, src_dir_fd=pfd, dst_dir_fd=pfd)
        except OSError:
            os.rmdir(tmp, dir_fd=pfd)
            raise

    def get(self, rel: str, create: bool = True) -> int:
        if rel in self.cache:
            return self.cache[rel]
        parent, base = posixpath.split(rel)
        pfd = self.get(parent, create)
        try:
            fd = os.open(base, os.O_DIRECTORY | os.O_NOFOLLOW | os.O_RDONLY | os.O_CLOEXEC,
                         dir_fd=pfd)
        except FileNotFoundError:
            if not create:
                raise
            self.mkdir(pfd, parent, base, 0o755)
            fd = os.open(base, os.O_DIRECTORY | os.O_NOFOLLOW | os.O_RDONLY | os.O_CLOEXEC,
                         dir_fd=pfd)
            os.fchmod(fd, 0o755)  # a directory the tar implies: docker's 0755, not the umask's
        except (NotADirectoryError, OSError) as err:
            raise InvalidArgument(
                f"invalid layer: {rel!r} is a symlink or not a directory "
                f"but the layer puts files under it"
            ) from err
        self.cache[rel] = fd
        return fd

    def forget(self, rel: str) -> None:
        """A directory was removed or replaced: drop it and its children.
        (A directory's children are cached only after it: nothing to scan
        when ``rel`` itself is not, which is every file's case.)"""
        if rel not in self.cache:
            return
        for key in [k for k in self.cache if k == rel or k.startswith(rel + "/")]:
            if key:
                os.close(self.cache.pop(key))

    def close(self) -> None:
        for fd in self.cache.values():
            os.close(fd)
        self.cache.clear()


def _remove(pfd: int, base: str) -> None:
    try:
        st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(base, dir_fd=pfd)
    else:
        os.unlink(base, dir_fd=pfd)


def apply_layer(fileobj, dest: str | int | None, split: list | None = None,
                whiteouts: bool = True, spread: bool = False) -> tuple[str, int]:
    """Unpack a layer stream into ``dest``; return (diff id, uncompressed size).

    With ``split`` (a list), it receives what ``tar_split`` needs to write
    the very same tar bytes again from ``dest``. ``whiteouts=False`` unpacks
    a plain archive (docker cp): .wh. names are ordinary files there.
    ``dest=None`` only reads: the digest, size and split of a tar whose
    content already lies in a directory (a committed upper dir). ``spread``:
    ``dest`` is a new layer's own directory, to be spread over the disk (see
    spread_dirs); never a directory of the user's (docker cp).
    """
    reader = HashingReader(decompressed(fileobj))
    dirs = _Dirs(dest, spread) if dest is not None else None
    dir_times: list[tuple[str, float]] = []
    end = 0
    try:
        try:
            with tarfile.open(fileobj=io.BufferedReader(reader, 1 << 16), mode="r|") as tf:
                for m in tf:
                    padded = -(-m.size // 512) * 512 if m.isreg() else 0
                    reader.skip = (m.offset_data, m.offset_data + padded)
                    if split is not None:
                        split.append({"h": reader.take(m.offset, m.offset_data),
                                      "p": clean_name(m.name) if m.isreg() else None,
                                      "n": m.size if m.isreg() else 0, "pad": padded - (
                                          m.size if m.isreg() else 0)})
                    if dirs is not None:
                        _apply(tf, m, dirs, dir_times, whiteouts)
                    end = m.offset_data + padded
                    reader.forget_before(end)
        except tarfile.TarError as err:
            raise InvalidArgument(f"invalid layer: not a valid tar stream: {err}") from err
        except EOFError as err:
            raise InvalidArgument("invalid layer: unexpected end of the tar stream") from err
        reader.skip = (0, 0)
        reader.drain()
        if split is not None:
            split.append({"trailer": reader.take(end, reader.size)})
        for rel, mtime in reversed(dir_times):
            fd = dirs.cache.get(rel) if dirs is not None else None
            if fd is not None:
                os.utime(fd, (mtime, mtime))
    finally:
        if dirs is not None:
            dirs.close()
    return reader.digest, reader.size


def _open_content(dirs: _Dirs, rel: str):
    """A layer's regular file for reading, reached through directories only: a
    later entry of the same layer may have replaced a directory on its path
    with a symlink (to anywhere), which is never followed."""
    parent, base = posixpath.split(rel)
    try:
        pfd = dirs.get(parent, create=False)
        fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
    except (OSError, InvalidArgument) as err:
        raise InvalidArgument(f"layer content changed: {rel} is gone") from err
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InvalidArgument(f"layer content changed: {rel} is not a regular file")
        return open_checked(fd)
    finally:
        os.close(fd)


def write_split(split: list, root: str, out) -> None:
    """Write the original layer tar again: saved headers, file data from ``root``."""
    dirs = _Dirs(root)
    try:
        _write_split(split, dirs, out)
    finally:
        dirs.close()


def _write_split(split: list, dirs: _Dirs, out) -> None:
    for e in split:
        if "trailer" in e:
            out.write(e["trailer"])
            continue
        out.write(e["h"])
        if e["n"]:
            with _open_content(dirs, e["p"]) as f:
                left = e["n"]
                while left:
                    chunk = f.read(min(left, 1 << 20))
                    if not chunk:
                        raise InvalidArgument(f"layer content changed: {e['p']} is short")
                    out.write(chunk)
                    left -= len(chunk)
        out.write(b"\0" * e["pad"])


def _apply(tf: tarfile.TarFile, m: tarfile.TarInfo, dirs: _Dirs, dir_times,
           whiteouts: bool = True) -> None:
    rel = clean_name(m.name)
    if not rel:
        return  # the layer root itself
    parent, base = posixpath.split(rel)
    if whiteouts and base.startswith(WHITEOUT_PREFIX):
        pfd = dirs.get(parent)
        if base == OPAQUE:
            os.setxattr(pfd, OPAQUE_XATTR, b"y")
        elif base.startswith(".wh..wh."):
            return  # aufs hardlink bookkeeping: nothing to unpack
        else:
            name = base[len(WHITEOUT_PREFIX):]
            if name in ("", ".", ".."):  # the directory itself, or its parent
                raise InvalidArgument(f"invalid layer: invalid whiteout name: {base}")
            dirs.forget(posixpath.join(parent, name))
            _remove(pfd, name)
            os.mknod(name, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        return
    pfd = dirs.get(parent)
    if m.isdir():
        try:
            st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                _remove(pfd, base)
                raise FileNotFoundError
        except FileNotFoundError:
            dirs.mkdir(pfd, parent, base, 0o700)
        fd = dirs.get(rel, create=False)
        os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        _xattrs(fd, m)
        dir_times.append((rel, m.mtime))
        return
    if m.isreg():
        fd = _replacing(dirs, pfd, rel, base, lambda: os.open(
            base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600,
            dir_fd=pfd))
        try:
            _copy_data(tf, m, fd)
            os.fchown(fd, m.uid, m.gid)
            os.fchmod(fd, m.mode & 0o7777)
            _xattrs(fd, m)
            os.utime(fd, (m.mtime, m.mtime))
        finally:
            os.close(fd)
    elif m.issym():
        _replacing(dirs, pfd, rel, base, lambda: os.symlink(m.linkname, base, dir_fd=pfd))
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        os.utime(base, (m.mtime, m.mtime), dir_fd=pfd, follow_symlinks=False)
    elif m.islnk():
        target = clean_name(m.linkname)
        if not target:
            raise InvalidArgument(f"invalid layer: hardlink {m.name!r} to the layer root")
        tparent, tbase = posixpath.split(target)
        try:
            tfd = dirs.get(tparent, create=False)
            _replacing(dirs, pfd, rel, base, lambda: os.link(
                tbase, base, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False))
        except FileNotFoundError as err:
            raise InvalidArgument(
                f"invalid layer: hardlink {m.name!r} to {m.linkname!r}, which is not in the layer"
            ) from err
    elif m.ischr() or m.isblk() or m.isfifo():
        if m.isfifo():
            _replacing(dirs, pfd, rel, base,
                       lambda: os.mkfifo(base, m.mode & 0o7777, dir_fd=pfd))
        else:
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            _replacing(dirs, pfd, rel, base, lambda: os.mknod(
                base, kind | (m.mode & 0o7777), os.makedev(m.devmajor, m.devminor),
                dir_fd=pfd))
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        # mknod/mkfifo's mode went through the umask: set it, by an O_PATH fd (never opened)
        fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
        try:
            os.chmod(f"/proc/self/fd/{fd}", m.mode & 0o7777)
        finally:
            os.close(fd)
        if _xattr_items(m):  # by an O_PATH fd: a FIFO or a device is never opened
            fd = os.open(base, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                _xattrs(f"/proc/self/fd/{fd}", m)
            finally:
                os.close(fd)
    else:
        raise InvalidArgument(f"invalid layer: entry {m.name!r} has unsupported type {m.type!r}")


def _replacing(dirs: _Dirs, pfd: int, rel: str, base: str, make):
    """Create an entry by ``make()``; what the layer put there before (a file, a
    directory, a link) is removed first, but only when there is one: a fresh
    layer dir holds nothing, and a stat per entry is a syscall per file."""
    try:
        return make()
    except FileExistsError:
        dirs.forget(rel)
        _remove(pfd, base)
        return make()


def _copy_data(tf: tarfile.TarFile, m: tarfile.TarInfo, fd: int) -> None:
    """A member's data into ``fd``, read from the tar stream itself: extractfile
    makes three objects per member, for a few hundred bytes in a small file."""
    if m.sparse is not None:  # GNU sparse: tarfile knows the map
        src = tf.extractfile(m)
        while chunk := src.read(1 << 20):
            _write_all(fd, chunk)
        return
    stream = tf.fileobj
    stream.seek(m.offset_data)  # forward only (a stream): where the data starts
    left = m.size
    while left:
        chunk = stream.read(min(left, 1 << 20))
        if not chunk:
            raise EOFError("unexpected end of data")
        _write_all(fd, chunk)
        left -= len(chunk)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _xattr_items(m: tarfile.TarInfo) -> list[tuple[str, bytes]]:
    out = []
    for key, value in (m.pax_headers or {}).items():
        if key.startswith("SCHILY.xattr."):
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                continue  # overlay's own: whiteouts and opaque dirs come from .wh. entries
            out.append((name, value.encode("utf-8", "surrogateescape")))
    return out


def _xattrs(target: int | str, m: tarfile.TarInfo) -> None:
    for name, raw in _xattr_items(m):
        os.setxattr(target, name, raw)
