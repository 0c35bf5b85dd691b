"""A build's context on the daemon's side: the client's tar (or a remote URL)
unpacked into a private directory, .dockerignore applied, the Dockerfile read.

The tar is untrusted: it is unpacked with the layer code (images/unpack.py),
which refuses ``..``, links out and entries under symlinks. Compression is
sniffed, not trusted (moby's DecompressStream: identity, gzip, bzip2, xz;
zstd as well). Remote contexts (moby builder/remotecontext/detect.go): a git
URL is cloned; any other URL is downloaded and is a lone Dockerfile when served
as ``text/plain``, else a (compressed) tar.

Lifecycle: ``unpack``/``fetch_remote`` -> ``Context`` -> ``close`` removes the
directory. Leftovers of a killed daemon are removed by ``clean`` at start.
"""

from __future__ import annotations

import io
import os
import secrets
import shutil
import stat
import subprocess
import tarfile

from dockling.errors import InvalidArgument
from dockling.formats.dockerignore import Matcher, read_patterns
from dockling.formats.unpack import apply_layer
from dockling.kernel.paths import secure_join

_BZIP2 = b"BZh"
_XZ = b"\xfd7zXZ\x00"
_MAX_DOCKERFILE = 16 << 20


class Context:
    """An unpacked context: ``root`` (a directory) and the Dockerfile's text."""

    def __init__(self, root: str, base: str) -> None:
        self.root = root
        self.base = base  # what close removes
        self.dockerfile = ""
        self.dockerfile_name = "Dockerfile"

    def close(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)


def workdir(data_root: str) -> str:
    d = os.path.join(data_root, "builder")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return d


def clean(data_root: str) -> None:
    """Remove contexts and step mounts left by a killed daemon."""
    d = workdir(data_root)
    for name in os.listdir(d):
        path = os.path.join(d, name)
        merged = os.path.join(path, "merged")
        if os.path.ismount(merged):
            from dockling.images.layers import unmount

            unmount(merged)
        shutil.rmtree(path, ignore_errors=True)


def new_dir(data_root: str, prefix: str) -> str:
    path = os.path.join(workdir(data_root), f"{prefix}-{secrets.token_hex(8)}")
    os.makedirs(path, mode=0o700)
    return path


def decompressed_archive(f):
    """A context or ADD archive, decompressed: bzip2 and xz here, gzip and zstd by
    apply_layer's own sniffing (moby's DecompressStream takes all four)."""
    buf = f if hasattr(f, "peek") else io.BufferedReader(f, 1 << 16)
    head = buf.peek(6)[:6]
    if head.startswith(_BZIP2):
        import bz2

        return bz2.BZ2File(buf)
    if head.startswith(_XZ):
        import lzma

        return lzma.LZMAFile(buf)
    return buf  # gzip and zstd: apply_layer sniffs those itself


def _is_tar(f) -> bool:
    """Does the (decompressed) stream start with a tar header?"""
    head = f.peek(512)[:512] if hasattr(f, "peek") else b""
    if len(head) < 512:
        return head.strip(b"\0") == b"" and len(head) > 0
    return head[257:262] == b"ustar" or _checksum_ok(head)


def _checksum_ok(block: bytes) -> bool:
    try:
        return tarfile.nti(block[148:156]) == tarfile.calc_chksums(block)[0]
    except (tarfile.HeaderError, ValueError):
        return False


def unpack(body, data_root: str, dockerfile: str) -> Context:
    """The request body (tar, compressed tar, or a lone Dockerfile) -> a Context."""
    base = new_dir(data_root, "ctx")
    root = os.path.join(base, "context")
    os.mkdir(root, 0o755)
    ctx = Context(root, base)
    try:
        stream = decompressed_archive(body)
        head = stream.peek(4)[:4] if hasattr(stream, "peek") else b""
        if not head:
            pass  # an empty context: the Dockerfile lookup below says what is missing
        elif head.startswith((b"\x1f\x8b", b"\x28\xb5\x2f\xfd")) or _is_tar(stream):
            try:
                # root is the daemon's own new dir: spread over the disk, as a layer is
                apply_layer(stream, root, whiteouts=False, spread=True)
            except InvalidArgument as err:
                raise InvalidArgument(f"failed to unpack the build context: {err}") from err
        else:  # not an archive: a Dockerfile sent alone
            _write_lone_dockerfile(stream.read(_MAX_DOCKERFILE + 1), root)
            dockerfile = dockerfile or "Dockerfile"
        prepare(ctx, dockerfile)
        return ctx
    except BaseException:
        ctx.close()
        raise


def _write_lone_dockerfile(data: bytes, root: str) -> None:
    if len(data) > _MAX_DOCKERFILE:
        raise InvalidArgument("the Dockerfile is too large")
    with open(os.path.join(root, "Dockerfile"), "wb") as f:
        f.write(data)


def prepare(ctx: Context, dockerfile: str) -> None:
    """Read the Dockerfile, then drop what .dockerignore excludes (moby's
    removeDockerfile: the Dockerfile and .dockerignore go too when listed)."""
    name = dockerfile or "Dockerfile"
    ctx.dockerfile_name = name
    ctx.dockerfile = read_dockerfile(ctx.root, name)
    patterns = _ignore_patterns(ctx.root)
    if patterns:
        remove_ignored(ctx.root, Matcher(patterns))


def read_dockerfile(root: str, name: str) -> str:
    candidates = [name]
    if name == "Dockerfile":  # moby: the lower-case name is the fallback
        candidates.append("dockerfile")
    for n in candidates:
        data = _read_regular(root, n, _MAX_DOCKERFILE)
        if data is not None:
            return data.decode("utf-8", "replace")
    raise InvalidArgument(f"Cannot locate specified Dockerfile: {name}")


def _read_regular(root: str, rel: str, limit: int) -> bytes | None:
    """A regular file inside root (symlinks resolved inside it), or None."""
    path = secure_join(root, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = b""
        while len(data) <= limit and (chunk := os.read(fd, 1 << 20)):
            data += chunk
    finally:
        os.close(fd)
    if len(data) > limit:
        raise InvalidArgument(f"{rel} is too large")
    return data


def _ignore_patterns(root: str) -> list[str]:
    data = _read_regular(root, ".dockerignore", 1 << 20)
    return read_patterns(data.decode("utf-8", "replace")) if data else []


def remove_ignored(root: str, matcher: Matcher) -> None:
    """Delete every path .dockerignore excludes (directories whole, unless a
    ``!`` pattern may bring something inside back)."""
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        keep = []
        for d in dirnames:
            rel = f"{rel_dir}/{d}" if rel_dir else d
            full = os.path.join(dirpath, d)
            if matcher.matches(rel) and not matcher.exclusions:
                shutil.rmtree(full, ignore_errors=True)
            elif os.path.islink(full):
                if matcher.matches(rel):
                    os.unlink(full)
            else:
                keep.append(d)
        dirnames[:] = keep
        for n in filenames:
            rel = f"{rel_dir}/{n}" if rel_dir else n
            if matcher.matches(rel):
                os.unlink(os.path.join(dirpath, n))


# -- remote contexts and downloads ------------------------------------------------------

class DownloadFailed(Exception):
    """A GET that did not deliver: ``reason`` is the status line (``status`` set)
    or the transport error (``status`` None)."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


async def download(url: str, out):
    """GET ``url`` into the binary file ``out`` (redirects followed, streamed);
    the response's headers. DownloadFailed for a status of 400 or more or a
    transport error: callers say it in their own docker words."""
    import httpx

    try:
        async with httpx.AsyncClient(follow_redirects=True, timeout=60) as client:
            async with client.stream("GET", url) as resp:
                if resp.status_code >= 400:
                    raise DownloadFailed(f"{resp.status_code} {resp.reason_phrase}",
                                         resp.status_code)
                async for chunk in resp.aiter_bytes(1 << 20):
                    out.write(chunk)
                return resp.headers
    except httpx.HTTPError as err:
        raise DownloadFailed(str(err)) from err


async def from_remote(url: str, data_root: str, dockerfile: str) -> Context:
    """The build's ``remote`` parameter: a git URL cloned, an http(s) one fetched."""
    import asyncio
    import tempfile

    if is_git_url(url):
        return await asyncio.to_thread(fetch_git, url, data_root, dockerfile)
    if not url.startswith(("http://", "https://")):
        raise InvalidArgument(f"unable to prepare context: unsupported remote {url!r}")
    with tempfile.NamedTemporaryFile(dir=workdir(data_root)) as tmp:
        try:
            headers = await download(url, tmp)
        except DownloadFailed as err:
            raise InvalidArgument(f"unable to prepare context: error downloading remote "
                                  f"context {url}: {err.reason}") from err
        tmp.flush()
        return await asyncio.to_thread(from_download, tmp.name,
                                       headers.get("content-type", ""), data_root, dockerfile)


def is_git_url(url: str) -> bool:
    """moby's urlutil.IsGitURL (and detect.go's rules)."""
    import re

    if url.startswith(("git://", "git@", "github.com/")):
        return True
    return bool(re.match(r"^https?://.*\.git(?:#.+)?$", url))


def fetch_git(url: str, data_root: str, dockerfile: str) -> Context:
    """``git clone`` the repository (``#ref:subdir`` as docker reads it)."""
    repo, _, frag = url.partition("#")
    ref, _, sub = frag.partition(":")
    if url.startswith("github.com/"):
        repo = "https://" + repo
    base = new_dir(data_root, "ctx")
    clone = os.path.join(base, "git")
    ctx = Context(clone, base)
    try:
        cmd = ["git", "clone", "--recurse-submodules", "--depth", "1"]
        if ref:
            cmd += ["--branch", ref]
        try:
            subprocess.run([*cmd, "--", repo, clone], check=True, capture_output=True,
                           timeout=600, env={**os.environ, "GIT_TERMINAL_PROMPT": "0"})
        except FileNotFoundError as err:
            raise InvalidArgument("unable to prepare context: git is not installed") from err
        except subprocess.CalledProcessError as err:
            raise InvalidArgument("unable to prepare context: unable to 'git clone' to "
                                  f"temporary context directory: "
                                  f"{err.stderr.decode(errors='replace').strip()}") from err
        shutil.rmtree(os.path.join(clone, ".git"), ignore_errors=True)
        if sub:
            root = secure_join(clone, sub)
            if not os.path.isdir(root):
                raise InvalidArgument(f"unable to prepare context: {sub} is not a directory")
            ctx.root = root
        prepare(ctx, dockerfile)
        return ctx
    except BaseException:
        ctx.close()
        raise


def from_download(path: str, content_type: str, data_root: str, dockerfile: str) -> Context:
    """A downloaded remote context: a lone Dockerfile (text/plain) or a tar."""
    with open(path, "rb") as f:
        if content_type.split(";")[0].strip() == "text/plain":
            base = new_dir(data_root, "ctx")
            root = os.path.join(base, "context")
            os.mkdir(root, 0o755)
            ctx = Context(root, base)
            try:
                _write_lone_dockerfile(f.read(_MAX_DOCKERFILE + 1), root)
                prepare(ctx, dockerfile)
            except BaseException:
                ctx.close()
                raise
            return ctx
        return unpack(f, data_root, dockerfile)
