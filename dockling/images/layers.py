"""The layer store: each layer unpacked once, by chain id, and overlay mounts.

Layout under ``<root>/layers``:

    <chain-hex>/diff/       the unpacked layer (an overlay lowerdir)
    <chain-hex>/meta.json   {"chain_id", "diff_id", "parent", "size", "link"}
    l/<LINK>                short symlink -> ../<chain-hex>/diff
    empty/                  the lowerdir of an image with no layers

Lifecycle: ``register`` unpacks into a temporary dir and renames it into
place only when complete (``adopt`` takes an overlay upper dir that is
already in the layer format, packs it once for its digest and moves it), so
a killed daemon never leaves a layer that reads as valid (``clean`` drops the
leftovers at start); with ``expected`` a layer that is not the one expected
is never stored. ``remove`` is the caller's decision (images and containers
hold references).

Overlay's mount options are limited to a page; like docker's overlay2 we
name lower layers by short links and mount from inside the layers dir
(relative paths), in a forked child so the daemon's cwd never changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import stat
import tempfile

import msgspec

from dockling import background
from dockling.errors import InternalError, InvalidArgument, NotFound
from dockling.formats.unpack import apply_layer, write_split
from dockling.kernel import syscalls as sc
from dockling.kernel.threads import run_on_thread


def chain_id(parent: str | None, diff_id: str) -> str:
    if not parent:
        return diff_id
    return "sha256:" + hashlib.sha256(f"{parent} {diff_id}".encode()).hexdigest()


class DiffIDMismatch(InvalidArgument):
    """A layer unpacked to another diff id than the one expected: nothing was stored.
    (An InvalidArgument, 400; its own class so callers can word it as docker
    does for their command without reading the message.)"""

    def __init__(self, actual: str, expected: str) -> None:
        super().__init__(f"layer unpacks to {actual}, the image config says {expected}")
        self.actual = actual
        self.expected = expected


class Layer:
    __slots__ = ("chain_id", "diff_id", "link", "parent", "path", "size")

    def __init__(self, path: str, meta: dict) -> None:
        self.path = path
        self.chain_id = meta["chain_id"]
        self.diff_id = meta["diff_id"]
        self.parent = meta.get("parent")
        self.size = meta.get("size", 0)
        self.link = meta["link"]

    @property
    def diff(self) -> str:
        return os.path.join(self.path, "diff")


class LayerStore:
    def __init__(self, root: str) -> None:
        self.root = os.path.join(root, "layers")
        self.links = os.path.join(self.root, "l")
        os.makedirs(self.links, exist_ok=True)
        os.makedirs(os.path.join(self.root, "empty"), exist_ok=True)

    def _dir(self, chain: str) -> str:
        return os.path.join(self.root, chain.removeprefix("sha256:"))

    def exists(self, chain: str) -> bool:
        return os.path.exists(os.path.join(self._dir(chain), "meta.json"))

    def get(self, chain: str) -> Layer:
        d = self._dir(chain)
        try:
            with open(os.path.join(d, "meta.json")) as f:
                return Layer(d, json.load(f))
        except FileNotFoundError as err:
            raise NotFound(f"layer {chain} does not exist") from err

    def register(self, stream, parent: str | None, expected: str | None = None) -> Layer:
        """Unpack a layer stream on top of ``parent`` (a chain id or None).

        ``expected``: the diff id the layer must have; anything else is thrown
        away before it is stored (a pull unpacks before the blob's digest is known;
        a load must never name, or later remove, a layer other images use):
        DiffIDMismatch.
        """
        tmp = os.path.join(self.root, f"tmp-{secrets.token_hex(8)}")
        os.makedirs(os.path.join(tmp, "diff"))
        os.chmod(os.path.join(tmp, "diff"), 0o755)  # the layer's /, as docker's (not the umask's)
        try:
            split: list = []
            diff_id, size = apply_layer(stream, os.path.join(tmp, "diff"), split, spread=True)
            if expected and diff_id != expected:
                raise DiffIDMismatch(diff_id, expected)
            return self._place(tmp, split, diff_id, size, parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def adopt(self, upper: str, parent: str | None, exclude: frozenset[str] = frozenset(),
              spool_dir: str | None = None) -> Layer:
        """Make an overlay upper dir (a stopped container's, a build step's) a layer
        on top of ``parent`` by moving it here: what changed is read once, to
        pack and hash it, and never copied. ``upper`` is gone afterwards.

        ``exclude``: entries dropped first (a container's mount stubs). An upper
        dir with overlay redirects or metacopy files (not the layer format) is
        packed and unpacked instead, like any other layer.
        """
        from dockling.formats import pack

        for rel in exclude:
            _drop(upper, rel)
        tmp = os.path.join(self.root, f"tmp-{secrets.token_hex(8)}")
        os.makedirs(tmp)
        try:
            foreign = pack.tidy_overlay_xattrs(upper)
            with tempfile.TemporaryFile(dir=spool_dir or self.root) as t:
                pack.write_layer(upper, t)
                t.seek(0)
                if foreign:  # not the layer format: store a copy, as register does
                    shutil.rmtree(tmp)
                    return self.register(t, parent)
                split: list = []
                diff_id, size = apply_layer(t, None, split)
            os.rename(upper, os.path.join(tmp, "diff"))
            return self._place(tmp, split, diff_id, size, parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _place(self, tmp: str, split: list, diff_id: str, size: int,
               parent: str | None) -> Layer:
        """Name a complete layer dir by its chain id (or drop it: already stored)."""
        with open(os.path.join(tmp, "tar-split"), "wb") as f:
            f.write(msgspec.msgpack.encode(split))
        chain = chain_id(parent, diff_id)
        if self.exists(chain):
            shutil.rmtree(tmp)
            return self.get(chain)
        link = secrets.token_hex(13).upper()
        meta = {"chain_id": chain, "diff_id": diff_id, "parent": parent, "size": size,
                "link": link}
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f)
        os.symlink(f"../{chain.removeprefix('sha256:')}/diff", os.path.join(self.links, link))
        try:
            os.rename(tmp, self._dir(chain))
        except OSError:
            os.unlink(os.path.join(self.links, link))
            if self.exists(chain):  # registered concurrently
                shutil.rmtree(tmp)
                return self.get(chain)
            raise
        return self.get(chain)

    def write_tar(self, chain: str, out) -> str:
        """Write the layer's original tar (byte for byte: its diff id holds).

        Returns the digest written; raises InternalError if the stored layer
        no longer hashes to its diff id.
        """
        layer = self.get(chain)
        try:
            with open(os.path.join(layer.path, "tar-split"), "rb") as f:
                split = msgspec.msgpack.decode(f.read())
        except FileNotFoundError as err:
            raise InternalError(f"layer {chain}: no tar-split metadata") from err
        hasher = _HashingWriter(out)
        write_split(split, layer.diff, hasher)
        digest = "sha256:" + hasher.hash.hexdigest()
        if digest != layer.diff_id:
            raise InternalError(f"layer {chain}: content does not match diff id "
                                f"{layer.diff_id} (got {digest})")
        return digest

    def remove(self, chain: str) -> None:
        try:
            layer = self.get(chain)
        except NotFound:
            return
        try:
            os.unlink(os.path.join(self.links, layer.link))
        except FileNotFoundError:
            pass
        background.remove_tree(layer.path)  # renamed aside now, deleted in a worker thread

    def chain(self, diff_ids: list[str]) -> list[str]:
        """Chain ids of an image's layers, bottom first."""
        out: list[str] = []
        parent = None
        for d in diff_ids:
            parent = chain_id(parent, d)
            out.append(parent)
        return out

    def lower_dirs(self, chains: list[str]) -> list[str]:
        """Absolute diff dirs, top layer first (overlay's lowerdir order)."""
        return [self.get(c).diff for c in reversed(chains)]

    def mount(self, chains: list[str], upper: str, work: str, target: str) -> None:
        """Overlay-mount the layers (bottom first in ``chains``) with a writable upper."""
        lowers = [f"l/{self.get(c).link}" for c in reversed(chains)] or ["empty"]
        opts = f"lowerdir={':'.join(lowers)},upperdir={upper},workdir={work}"
        if len(opts) > 4000:
            raise InternalError(f"too many layers to mount ({len(chains)})")
        _in_dir(self.root, lambda: sc.mount("overlay", target, "overlay", 0, opts))

    def clean(self) -> None:
        """Remove half-registered layers left by a killed process."""
        for n in os.listdir(self.root):
            if n.startswith("tmp-"):
                shutil.rmtree(os.path.join(self.root, n), ignore_errors=True)


class _HashingWriter:
    def __init__(self, out) -> None:
        self.out = out
        self.hash = hashlib.sha256()

    def write(self, data: bytes) -> None:
        self.hash.update(data)
        self.out.write(data)


def _in_dir(cwd: str, fn) -> None:
    """fn() with cwd set (overlay's relative lower paths), on a thread whose cwd is
    its own (unshare CLONE_FS): a fork of the daemon cost more than the mount."""
    def work() -> None:
        sc.unshare(sc.CLONE_FS)
        os.chdir(cwd)
        fn()

    try:
        run_on_thread(work)
    except OSError as err:
        raise InternalError(f"overlay mount failed: {err}") from err


def _drop(root: str, rel: str) -> None:
    """Remove ``rel`` below ``root`` without following any symlink on the way: an
    upper dir is the container's to shape (etc -> / must not make etc/hosts the
    host's)."""
    *parents, name = rel.split("/")
    fds = [os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]
    try:
        for part in parents:
            try:
                fds.append(os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW |
                                   os.O_CLOEXEC, dir_fd=fds[-1]))
            except OSError:
                return  # missing, or not a directory: nothing below it to drop
        try:
            st = os.stat(name, dir_fd=fds[-1], follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(name, dir_fd=fds[-1])
        else:
            os.unlink(name, dir_fd=fds[-1])
    finally:
        for fd in fds:
            os.close(fd)


def unmount(target: str) -> None:
    try:
        sc.umount(target, sc.MNT_DETACH)
    except OSError as err:
        if err.errno not in (22, 2):  # EINVAL: not mounted; ENOENT: gone
            raise InternalError(f"unmount {target}: {err.strerror}") from err
