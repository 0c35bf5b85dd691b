"""COPY and ADD: finding the sources, their checksum, and writing them into a
step's root filesystem.

Sources come from a trusted-to-be-hostile tree (the client's context, or
another stage's or image's root): they are resolved inside that root
(``secure_join``: a symlink named as a source is followed, inside the root
only, as docker does), walked with lstat (links inside are copied as links)
and opened with O_NOFOLLOW. The destination is resolved inside the step's
root the same way and written by the layer unpacker (images/unpack.py),
which never writes through a symlink.

Docker's rules (docs "COPY", moby builder/dockerfile/copy.go): a directory
source copies its contents; several sources or a wildcard need a destination
ending in ``/``; a destination ending in ``/`` or naming an existing
directory receives the sources inside it; owners are 0:0 unless ``--chown``;
ADD unpacks local tar archives (identity, gzip, bzip2, xz) and downloads URLs
(not unpacked, mode 0600, mtime from Last-Modified).
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
import posixpath
import stat
import tarfile
import tempfile

from dockling.errors import InvalidArgument
from dockling.formats.pack import walk
from dockling.formats.unpack import apply_layer
from dockling.kernel.paths import make_mountpoint, secure_join

_WILDCARD = set("*?[")


class Source:
    """One resolved source: ``path`` on the host, ``name`` its base name."""

    __slots__ = ("name", "path", "data", "mode", "mtime", "local")

    def __init__(self, name: str, path: str = "", data: bytes | None = None,
                 mode: int = 0o644, mtime: float = 0, local: bool = True) -> None:
        self.name = name
        self.path = path
        self.local = local  # False: a download, which ADD never unpacks
        self.data = data  # a heredoc's or a download's content, when not a file
        self.mode = mode
        self.mtime = mtime

    def is_dir(self) -> bool:
        return self.data is None and stat.S_ISDIR(os.lstat(self.path).st_mode)


def has_wildcard(pattern: str) -> bool:
    return any(c in _WILDCARD for c in pattern)


def resolve(root: str, patterns: list[str], what: str = "COPY") -> list[Source]:
    """Context (or stage) paths -> sources; docker's errors for what is missing."""
    out: list[Source] = []
    for pat in patterns:
        clean = posixpath.normpath("/" + pat).lstrip("/")
        if has_wildcard(clean):
            found = _glob(root, clean)
            out.extend(Source(posixpath.basename(rel) or ".", p) for rel, p in found)
            continue
        # the directories are resolved inside root; the named entry itself is
        # taken as it is (a symlink is copied as a link, as the classic builder did)
        parent, base = posixpath.split(clean)
        path = os.path.join(secure_join(root, parent), base) if base else root
        if not os.path.lexists(path):
            raise InvalidArgument(f"{what} failed: file not found in build context or "
                                  f"excluded by .dockerignore: stat {clean or '.'}: "
                                  "file does not exist")
        out.append(Source(posixpath.basename(clean) or ".", path))
    if not out:
        raise InvalidArgument(f"{what} failed: no source files were specified")
    return out


def _glob(root: str, pattern: str) -> list[tuple[str, str]]:
    """Go's filepath.Match per path component, resolved inside root."""
    parts = pattern.split("/")
    matches = [("", root)]
    for i, part in enumerate(parts):
        nxt = []
        for rel, path in matches:
            if not has_wildcard(part):
                cand = secure_join(root, posixpath.join(rel, part))
                if os.path.lexists(cand):
                    nxt.append((posixpath.join(rel, part), cand))
                continue
            try:
                names = sorted(os.listdir(path))
            except (NotADirectoryError, FileNotFoundError):
                continue
            go = part.replace("[^", "[!")  # Go's negated class -> fnmatch's
            for n in names:
                if fnmatch.fnmatchcase(n, go):
                    r = posixpath.join(rel, n)
                    p = os.path.join(path, n)
                    if i < len(parts) - 1:
                        p = secure_join(root, r)
                    nxt.append((r, p))
        matches = nxt
    return matches


def checksum(sources: list[Source]) -> str:
    """Content, names, modes and link targets (not mtimes, not owners): the
    cache key of a COPY/ADD, so a touched but unchanged file keeps the cache."""
    h = hashlib.sha256()
    for s in sources:
        h.update(f"\0src {s.name}\0".encode())
        if s.data is not None:
            h.update(b"data\0" + s.data + f"{s.mode:o}".encode())
            continue
        st = os.lstat(s.path)
        _hash_entry(h, "", s.path, st)
        if stat.S_ISDIR(st.st_mode):
            for rel, path, est in walk(s.path):
                _hash_entry(h, rel, path, est)
    return "sha256:" + h.hexdigest()


def _hash_entry(h, rel: str, path: str, st: os.stat_result) -> None:
    h.update(f"\0{rel}\0{st.st_mode:o}\0".encode())
    if stat.S_ISLNK(st.st_mode):
        h.update(os.readlink(path).encode())
    elif stat.S_ISREG(st.st_mode):
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)


def dest_layout(sources: list[Source], dest: str, workdir: str, rootfs: str,
                wildcard: bool, what: str = "COPY") -> tuple[str, str | None]:
    """(directory to write into, the file's new name or None for "keep names")."""
    if not dest.startswith("/"):
        dest = posixpath.join(workdir or "/", dest)
    into_dir = dest.endswith("/") or dest.endswith("/.") or dest in ("/", ".")
    if len(sources) > 1 or wildcard:
        if not into_dir:
            raise InvalidArgument(f"When using {what} with more than one source file, the "
                                  "destination must be a directory and end with a /")
    clean = posixpath.normpath(dest)
    if into_dir or os.path.isdir(secure_join(rootfs, clean)):
        return clean, None
    if sources[0].data is None and sources[0].is_dir():
        return clean, None  # a directory's contents go into dest
    return posixpath.dirname(clean) or "/", posixpath.basename(clean)


def write(sources: list[Source], rootfs: str, dest_dir: str, rename: str | None,
          uid: int, gid: int, chmod: int | None, owner_set: bool,
          unpack_archives: bool = False) -> None:
    """Write the sources under ``dest_dir`` of ``rootfs``."""
    target = make_mountpoint(rootfs, dest_dir, True)
    if owner_set:
        os.chown(target, uid, gid, follow_symlinks=False)
    with tempfile.TemporaryFile(dir=os.path.dirname(rootfs.rstrip("/"))) as tmp:
        archives = []
        with tarfile.open(fileobj=tmp, mode="w", format=tarfile.PAX_FORMAT) as tf:
            for s in sources:
                if unpack_archives and s.local and s.data is None and _is_archive(s.path):
                    archives.append(s)
                    continue
                _add(tf, s, rename or s.name, uid, gid, chmod)
        tmp.seek(0)
        apply_layer(tmp, target, whiteouts=False)
    for s in archives:  # ADD: a local archive is unpacked with its own owners
        fd = os.open(s.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            from dockling.builder.context import decompressed_archive

            apply_layer(decompressed_archive(f), target, whiteouts=False)


def _add(tf: tarfile.TarFile, s: Source, name: str, uid: int, gid: int,
         chmod: int | None) -> None:
    if s.data is not None:
        ti = tarfile.TarInfo(name)
        ti.size = len(s.data)
        ti.mode = chmod if chmod is not None else s.mode
        ti.mtime = int(s.mtime)
        ti.uid, ti.gid = uid, gid
        import io

        tf.addfile(ti, io.BytesIO(s.data))
        return
    st = os.lstat(s.path)
    if stat.S_ISDIR(st.st_mode):  # its contents, not itself, go into the destination
        for rel, path, est in walk(s.path):
            _add_entry(tf, path, est, rel, uid, gid, chmod)
        return
    _add_entry(tf, s.path, st, name, uid, gid, chmod)


def _add_entry(tf: tarfile.TarFile, path: str, st: os.stat_result, name: str, uid: int,
               gid: int, chmod: int | None) -> None:
    ti = tarfile.TarInfo(name)
    ti.mode = (chmod if chmod is not None else st.st_mode) & 0o7777
    ti.mtime = int(st.st_mtime)
    ti.uid, ti.gid = uid, gid
    if stat.S_ISDIR(st.st_mode):
        ti.type = tarfile.DIRTYPE
        tf.addfile(ti)
    elif stat.S_ISLNK(st.st_mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(path)
        tf.addfile(ti)
    elif stat.S_ISREG(st.st_mode):
        ti.size = st.st_size
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as f:
            tf.addfile(ti, f)
    # sockets, fifos and devices in a context are skipped, as docker's tar does


def _is_archive(path: str) -> bool:
    """ADD's test: does the file start like a (compressed) tar?"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        head = os.read(fd, 512)
    finally:
        os.close(fd)
    if head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")):
        return True
    return len(head) == 512 and (head[257:262] == b"ustar")
