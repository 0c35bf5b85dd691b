"""The build context `dockling build` sends with POST /build, made as docker's CLI makes it
(docker/cli cli/command/image/build.go runBuild, build/context.go, build/dockerignore.go).

Four sources: a directory (tarred here on the fly, .dockerignore applied), a tar on
stdin (plain or compressed, passed through untouched), a lone Dockerfile on stdin
(wrapped into a one-entry tar), or a URL the daemon fetches itself (``remote``).
A context is a stream of bytes, never held whole: it can be hundreds of MB.
"""

from __future__ import annotations

import os
import stat
import time
from collections.abc import Iterable, Iterator
from typing import BinaryIO

DEFAULT_DOCKERFILE = "Dockerfile"
_PIECE = 1 << 20  # read files 1 MiB at a time
_BATCH = 256 << 10  # send small entries together, in pieces of about this size
_HEADER_PEEK = 1024  # docker's detectArchiveReader peeks two tar blocks


class ContextError(Exception):
    """A context that cannot be sent; the message is docker's (printed, exit 1)."""


class Context:
    """What POST /build gets: a body (or None when the daemon fetches ``remote``),
    the ``dockerfile`` query value ("" for the daemon's default) and ``remote``.
    (A plain class: dataclasses costs the CLI's start ~3 ms of imports.)"""

    def __init__(self, body: Iterable[bytes] | None, dockerfile: str = "",
                 remote: str = "") -> None:
        self.body, self.dockerfile, self.remote = body, dockerfile, remote


# -- what kind of context ---------------------------------------------------------------

def is_url(spec: str) -> bool:
    """docker/cli urlutil.IsURL."""
    return spec.startswith(("http://", "https://"))


def is_git_url(spec: str) -> bool:
    """docker/cli urlutil.IsGitURL: https://…/x.git[#ref[:dir]], git://, git@, github.com/."""
    if is_url(spec):
        import re

        return re.search(r"\.git(?:#.+)?$", spec) is not None
    return spec.startswith(("git://", "github.com/", "git@"))


def context_type(spec: str) -> str:
    """docker/cli DetectContextType: stdin, local, git or remote."""
    if spec == "-":
        return "stdin"
    if os.path.exists(spec):
        return "local"
    if is_git_url(spec):
        return "git"
    if is_url(spec):
        return "remote"
    raise ContextError(f'unable to prepare context: path "{spec}" not found')


def prepare(spec: str, dockerfile: str, stdin: BinaryIO, compress: bool = False) -> Context:
    """The context for ``build [-f dockerfile] spec``; ``-f -`` reads the Dockerfile from stdin."""
    kind = context_type(spec)
    from_stdin = dockerfile == "-"
    if from_stdin and kind == "stdin":
        raise ContextError("invalid argument: can't use stdin for both build context and "
                           "dockerfile")
    if kind == "stdin":
        ctx = from_reader(stdin, dockerfile)
    elif kind == "local":
        ctx = from_dir(spec, dockerfile, stdin)
    else:
        # docker's CLI clones a git URL and downloads an http(s) one itself; we hand
        # both to the daemon as ``remote`` (the Engine API's own way: moby's
        # remotecontext.Detect clones git URLs and fetches a tar or a Dockerfile).
        # The daemon then has no channel for a Dockerfile from stdin.
        if from_stdin:
            raise ContextError("unable to prepare context: a Dockerfile from stdin "
                               "(-f -) needs a local or stdin context, not a URL")
        return Context(None, dockerfile, spec)
    if compress and ctx.body is not None:
        ctx.body = gzipped(ctx.body)
    return ctx


# -- stdin ----------------------------------------------------------------------------------

_COMPRESSED = (b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00", b"\x28\xb5\x2f\xfd")


def _tar_block_ok(block: bytes) -> bool:
    """A tar header block whose checksum holds (Go's tar.Reader accepts the first entry)."""
    if len(block) < 512 or not any(block[:512]):
        return False
    field = block[148:156]
    try:
        want = int(field.strip(b" \x00").decode("ascii"), 8)
    except ValueError:
        return False
    unsigned = sum(block[:512]) - sum(field) + 8 * 0x20
    signed = sum(b - 256 if b > 127 else b for b in block[:512])
    signed += 8 * 0x20 - sum(b - 256 if b > 127 else b for b in field)
    return want in (unsigned, signed)


def is_archive(head: bytes) -> bool:
    """docker/cli isArchive: a compression magic (go-archive's Detect) or a tar header."""
    if head.startswith(_COMPRESSED):
        return True
    if len(head) >= 4 and int.from_bytes(head[:4], "little") & 0xFFFFFFF0 == 0x184D2A50:
        return True  # a zstd skippable frame
    return _tar_block_ok(head[:512])


def _read_full(f: BinaryIO, n: int) -> bytes:
    out = b""
    while len(out) < n:
        piece = f.read(n - len(out))
        if not piece:
            break
        out += piece
    return out


def _rest(head: bytes, f: BinaryIO) -> Iterator[bytes]:
    if head:
        yield head
    while piece := f.read(_PIECE):
        yield piece


def from_reader(f: BinaryIO, dockerfile: str) -> Context:
    """docker/cli GetContextFromReader: a tar goes through as is; a Dockerfile is wrapped."""
    head = _read_full(f, _HEADER_PEEK)
    if is_archive(head):
        return Context(_rest(head, f), dockerfile)
    prefix = "unable to prepare context from STDIN: "
    if dockerfile == "-":
        raise ContextError(prefix + "build context is not an archive")
    if dockerfile:
        raise ContextError(prefix + "ambiguous Dockerfile source: both stdin and flag "
                           "correspond to Dockerfiles")
    data = head + f.read()
    # docker writes it to a temporary directory and tars that: one entry, 0644
    return Context(single_file_tar(DEFAULT_DOCKERFILE, data, 0o644), DEFAULT_DOCKERFILE)


# -- a directory ----------------------------------------------------------------------------

def _missing_part(path: str) -> str:
    """The first component of path that does not exist (what Go's EvalSymlinks reports)."""
    parts = path.split(os.sep)
    for i in range(2, len(parts) + 1):
        head = os.sep.join(parts[:i])
        if not os.path.lexists(head):
            return head
    return path


def _eval_symlinks(path: str, what: str) -> str:
    real = os.path.realpath(path)
    if not os.path.lexists(real):
        raise ContextError(f"unable to prepare context: unable to evaluate symlinks in {what}: "
                           f"lstat {_missing_part(real)}: no such file or directory")
    return real


def context_dir(given: str) -> str:
    """docker/cli resolveAndValidateContextPath: absolute, symlinks resolved, a directory."""
    root = _eval_symlinks(os.path.abspath(given), "context path")
    if not os.path.isdir(root):
        raise ContextError(f"unable to prepare context: context must be a directory: {root}")
    return root


def dockerfile_rel_path(root: str, given: str) -> str:
    """docker/cli getDockerfileRelPath: the Dockerfile relative to the context ("../x" when
    outside). With no -f: PATH/Dockerfile, or PATH/dockerfile if only that exists."""
    if given == "-":
        return given
    path = given
    if not path:
        path = os.path.join(root, DEFAULT_DOCKERFILE)
        alt = os.path.join(root, DEFAULT_DOCKERFILE.lower())
        if not os.path.lexists(path) and os.path.lexists(alt):
            path = alt
    if not os.path.isabs(path):
        path = os.path.join(root, path)
    return os.path.relpath(_eval_symlinks(path, "Dockerfile path"), root)


def read_dockerignore(root: str) -> list[str]:
    from dockling.formats.dockerignore import read_patterns

    try:
        with open(os.path.join(root, ".dockerignore"), encoding="utf-8",
                  errors="surrogateescape") as f:
            text = f.read()
    except FileNotFoundError:
        return []
    except OSError as err:
        raise ContextError(f"error reading .dockerignore: {err.strerror.lower()}") from err
    return read_patterns(text)


def trim_build_files(patterns: list[str], dockerfile: str, from_stdin: bool) -> list[str]:
    """docker/cli TrimBuildFilesFromExcludes: the Dockerfile and .dockerignore are always
    sent, even when ignored; the daemon leaves them out of what COPY sees."""
    from dockling.formats.dockerignore import Matcher

    matcher = Matcher(patterns)
    out = list(patterns)
    if matcher.matches(".dockerignore"):
        out.append("!.dockerignore")
    # (a Dockerfile outside the context has no entry to keep: docker's "!../x" is a no-op)
    if not from_stdin and not dockerfile.startswith("../") and matcher.matches(dockerfile):
        out.append("!" + dockerfile)
    return out


def validate(root: str, patterns: list[str]) -> None:
    """docker/cli ValidateContextDirectory: fail before sending anything when a file in the
    context cannot be read (symlinks and named pipes are not opened)."""
    from dockling.formats.dockerignore import Matcher
    from dockling.errors import InvalidArgument

    try:
        matcher = Matcher(patterns)
    except InvalidArgument as err:  # a malformed pattern: Go's "syntax error in pattern"
        raise ContextError(f"checking context: {err}") from None
    try:
        for rel in matcher.walk(root):
            path = os.path.join(root, rel)
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                continue  # gone since it was listed
            if stat.S_ISLNK(st.st_mode) or stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(
                    st.st_mode):
                continue
            flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK
            if stat.S_ISDIR(st.st_mode):
                flags |= os.O_DIRECTORY
            try:
                os.close(os.open(path, flags))
            except PermissionError:
                if stat.S_ISDIR(st.st_mode):
                    raise ContextError(f"checking context: can't stat '{path}'") from None
                raise ContextError(f"checking context: no permission to read from '{path}'") \
                    from None
            except OSError:
                pass  # docker only reports permission errors here
    except PermissionError as err:
        raise ContextError(f"checking context: can't stat '{err.filename or root}'") from None


def from_dir(spec: str, dockerfile: str, stdin: BinaryIO) -> Context:
    """docker/cli GetContextFromLocalDir + TarWithOptions + AddDockerfileToBuildContext.

    -f is relative to the current directory, not the context. A Dockerfile from stdin
    (-f -) or from outside the context is added as ``.dockerfile.<random>`` and listed in
    the sent .dockerignore, so the daemon leaves it out of COPY.
    """
    root = context_dir(spec)
    given = os.path.abspath(dockerfile) if dockerfile and dockerfile != "-" else dockerfile
    rel = dockerfile_rel_path(root, given)
    extra: tuple[str, bytes] | None = None
    if dockerfile == "-":
        extra = (_random_name(), stdin.read())
    elif rel.startswith(".." + os.sep):
        try:
            with open(dockerfile, "rb") as f:
                extra = (_random_name(), f.read())
        except OSError as err:
            raise ContextError(f"unable to open Dockerfile: open {dockerfile}: "
                               f"{err.strerror.lower()}") from err
    patterns = read_dockerignore(root)
    validate(root, patterns)
    patterns = trim_build_files(patterns, rel, dockerfile == "-")
    from dockling.formats.dockerignore import Matcher

    body = tar_dir(root, Matcher(patterns), extra)
    return Context(body, extra[0] if extra else rel)


def _random_name() -> str:
    """docker/cli randomSuffix: 20 hex characters."""
    return ".dockerfile." + os.urandom(10).hex()


# -- tar writing ----------------------------------------------------------------------------

def _header(info) -> bytes:
    import tarfile

    # PAX: long names and big sizes get extended headers, as Go's tar writer gives them
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _info(name: str, size: int = 0, mode: int = 0o600, mtime: int | None = None):
    import tarfile

    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = mode
    info.mtime = int(time.time()) if mtime is None else mtime
    info.uid = info.gid = 0  # docker's CLI: ChownOpts{0, 0}, no user or group names
    info.uname = info.gname = ""
    return info


def _pad(size: int) -> bytes:
    return b"\0" * (-size % 512)


def single_file_tar(name: str, data: bytes, mode: int) -> Iterator[bytes]:
    yield _header(_info(name, len(data), mode)) + data + _pad(len(data)) + b"\0" * 1024


def _entry(root: str, rel: str, st: os.stat_result, seen: dict):
    """The TarInfo for one walked path (go-archive's FileInfoHeader), or None to skip it."""
    import tarfile

    mode = st.st_mode
    info = _info(rel, mode=stat.S_IMODE(mode), mtime=int(st.st_mtime))
    if stat.S_ISDIR(mode):
        info.type = tarfile.DIRTYPE
    elif stat.S_ISLNK(mode):
        info.type = tarfile.SYMTYPE
        info.linkname = os.readlink(os.path.join(root, rel))
    elif stat.S_ISREG(mode):
        info.size = st.st_size
    elif stat.S_ISFIFO(mode):
        info.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        info.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return None  # sockets: go-archive leaves them out
    if not stat.S_ISDIR(mode) and st.st_nlink > 1:
        # a second name for a file already sent goes as a hard link, as go-archive does
        first = seen.setdefault((st.st_dev, st.st_ino), rel)
        if first != rel:
            info.type = tarfile.LNKTYPE
            info.linkname = first
            info.size = 0
    return info


def _file_data(path: str, size: int) -> Iterator[bytes]:
    """Exactly ``size`` bytes of a file, padded to a block: a file that shrank while
    being sent is filled with zeros and one that grew is cut, so the tar stays whole."""
    left = size
    with open(path, "rb") as f:
        while left > 0:
            piece = f.read(min(_PIECE, left))
            if not piece:
                break
            left -= len(piece)
            yield piece
    if left:
        yield b"\0" * left
    yield _pad(size)


def tar_dir(root: str, matcher, extra: tuple[str, bytes] | None = None) -> Iterator[bytes]:
    """Stream root as a tar: what ``matcher.walk`` keeps, parents first, uid/gid 0,
    symlinks as symlinks; ``extra`` (name, Dockerfile) is added and named in .dockerignore."""
    import sys

    buf = bytearray()
    seen: dict = {}
    ignore_done = False
    for rel in matcher.walk(root):
        if rel in ("", "."):
            continue
        path = os.path.join(root, rel)
        try:
            st = os.lstat(path)
            info = _entry(root, rel, st, seen)
            if info is None:
                continue
            if extra and rel == ".dockerignore" and stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    data = f.read() + b"\n" + extra[0].encode() + b"\n"
                info.size = len(data)
                buf += _header(info) + data + _pad(len(data))
                ignore_done = True
                continue
            if info.isreg() and info.size:
                data_iter = _file_data(path, info.size)
                first = next(data_iter)  # opens the file: an error skips the entry whole
            else:
                data_iter = iter(())
                first = b""
        except OSError as err:
            # go-archive logs the file it cannot add and goes on with the rest
            print(f"Can't add file {path} to tar: {err}", file=sys.stderr)
            continue
        buf += _header(info)
        buf += first
        try:
            for piece in data_iter:
                if len(buf) >= _BATCH:
                    yield bytes(buf)
                    buf.clear()
                buf += piece
        except OSError as err:  # half a file sent: the tar cannot be finished
            raise ContextError(f"Can't add file {path} to tar: {err}") from err
        if len(buf) >= _BATCH:
            yield bytes(buf)
            buf.clear()
    if extra:
        if not ignore_done:
            data = b".dockerignore\n" + extra[0].encode() + b"\n"
            buf += _header(_info(".dockerignore", len(data))) + data + _pad(len(data))
        buf += _header(_info(extra[0], len(extra[1]))) + extra[1] + _pad(len(extra[1]))
    buf += b"\0" * 1024  # the end of the archive: two zero blocks, as Go's tar writer ends
    yield bytes(buf)


def gzipped(body: Iterable[bytes]) -> Iterator[bytes]:
    """--compress: the context gzipped on the way (docker/cli build.Compress)."""
    import zlib

    z = zlib.compressobj(6, zlib.DEFLATED, 31)
    for piece in body:
        out = z.compress(piece)
        if out:
            yield out
    yield z.flush()
