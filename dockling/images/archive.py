"""Making images from archives: `docker import` (a root filesystem tar).

``--change`` takes Dockerfile instructions that only touch the config
(CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, VOLUME, WORKDIR, STOPSIGNAL,
ONBUILD), as docker's import does.
"""

from __future__ import annotations

import hashlib
import json
import os
import shlex

from dockling import clock
from dockling.containers.model import Empty
from dockling.errors import InvalidArgument
from dockling.images.layers import DiffIDMismatch, chain_id
from dockling.images.model import (
    ContainerConfig,
    History,
    ImageConfig,
    RootFS,
    decode_config,
)
from dockling.images.store import ImageStore

_CHANGE_OK = {"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR",
              "STOPSIGNAL", "ONBUILD"}


def _exec_form(arg: str) -> list[str]:
    """JSON array (exec form) or a shell string run by /bin/sh -c."""
    s = arg.strip()
    if s.startswith("["):
        try:
            val = json.loads(s)
        except json.JSONDecodeError:
            val = None
        if isinstance(val, list) and all(isinstance(x, str) for x in val):
            return val
    return ["/bin/sh", "-c", s]


def _pairs(arg: str, what: str) -> list[tuple[str, str]]:
    """ENV/LABEL: `k=v k2="v 2"` or the legacy `k v`."""
    words = shlex.split(arg)
    if words and "=" not in words[0]:
        if len(words) < 2:
            raise InvalidArgument(f"{what} requires two arguments")
        return [(words[0], arg.strip()[len(words[0]):].strip())]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise InvalidArgument(f"{what} names can not be blank: {w!r}")
        out.append((k, v))
    return out


def apply_changes(config: ContainerConfig, changes: list[str]) -> None:
    """Apply Dockerfile instructions to an image's container config in place."""
    for change in changes:
        instr, _, arg = change.strip().partition(" ")
        instr = instr.upper()
        if instr not in _CHANGE_OK:
            raise InvalidArgument(f"{instr} is not a valid change command")
        if instr == "CMD":
            config.Cmd = _exec_form(arg)
        elif instr == "ENTRYPOINT":
            config.Entrypoint = _exec_form(arg)
        elif instr == "ENV":
            env = config.Env if config.Env is not None else []
            for k, v in _pairs(arg, "ENV"):
                env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            config.Env = env
        elif instr == "LABEL":
            config.Labels = {**(config.Labels or {}), **dict(_pairs(arg, "LABEL"))}
        elif instr == "EXPOSE":
            ports = dict(config.ExposedPorts or {})
            for p in arg.split():
                ports[p if "/" in p else p + "/tcp"] = Empty()
            config.ExposedPorts = ports
        elif instr == "USER":
            config.User = arg.strip()
        elif instr == "VOLUME":
            vols = dict(config.Volumes or {})
            for v in _exec_form(arg) if arg.strip().startswith("[") else arg.split():
                vols[v] = Empty()
            config.Volumes = vols
        elif instr == "WORKDIR":
            config.WorkingDir = arg.strip()
        elif instr == "STOPSIGNAL":
            config.StopSignal = arg.strip()
        elif instr == "ONBUILD":
            config.OnBuild = [*(config.OnBuild or []), arg.strip()]


def import_rootfs(images: ImageStore, stream, changes: list[str], message: str = "",
                  source: str = "-") -> str:
    """`docker import`: one layer from a (compressed) tar, a config around it."""
    container_config = ContainerConfig()
    apply_changes(container_config, changes)  # refuse bad changes before unpacking
    layer = images.layers.register(stream, None)
    created = clock.now()
    config = ImageConfig(
        architecture="amd64", os="linux", created=created, config=container_config,
        rootfs=RootFS(type="layers", diff_ids=[layer.diff_id]),
        history=[History(created=created, comment=message or f"Imported from {source}")])
    return images.add(config)


# -- docker save / docker load ------------------------------------------------------------

_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"


def save(images: ImageStore, names: list[str], out) -> None:
    """`docker save`: docker-archive (manifest.json) and OCI layout in one tar,
    as docker 25+ writes it. Layers are the original tars (tar-split)."""
    import io
    import tarfile
    import tempfile

    from dockling.formats import reference

    written: set[str] = set()
    manifests, index, repos = [], [], {}
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:
        def add_blob(digest: str, data=None, path=None) -> None:
            name = "blobs/sha256/" + digest.removeprefix("sha256:")
            if name in written:
                return
            written.add(name)
            ti = tarfile.TarInfo(name)
            ti.mode = 0o444
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                ti.size = os.path.getsize(path)
                with open(path, "rb") as f:
                    tf.addfile(ti, f)

        for name in names:
            image_id = images.resolve(name)
            img = images.load(image_id)
            tags: list[str] = []
            try:
                ref = reference.parse(name)
                if ref.tag and not reference.looks_like_id_prefix(name):
                    tags = [ref.familiar]
            except InvalidArgument:
                pass
            raw = images.content.read(image_id)
            add_blob(image_id, raw)
            layer_descs = []
            for chain in images.layers.chain(img.diff_ids):
                with tempfile.NamedTemporaryFile(dir=images.content.tmp) as tmp:
                    digest = images.layers.write_tar(chain, tmp)
                    tmp.flush()
                    add_blob(digest, path=tmp.name)
                    layer_descs.append({"mediaType": _OCI_LAYER, "digest": digest,
                                        "size": os.path.getsize(tmp.name)})
            manifest = json.dumps({
                "schemaVersion": 2, "mediaType": _OCI_MANIFEST,
                "config": {"mediaType": _OCI_CONFIG, "digest": image_id, "size": len(raw)},
                "layers": layer_descs}, separators=(",", ":")).encode()
            mdigest = "sha256:" + hashlib.sha256(manifest).hexdigest()
            add_blob(mdigest, manifest)
            desc = {"mediaType": _OCI_MANIFEST, "digest": mdigest, "size": len(manifest)}
            for t in tags:
                full = reference.parse(t)
                index.append({**desc, "annotations": {
                    "io.containerd.image.name": str(full),
                    "org.opencontainers.image.ref.name": full.tag}})
                repos.setdefault(full.familiar_name, {})[full.tag] = image_id[7:]
            if not tags:
                index.append(desc)
            manifests.append({"Config": "blobs/sha256/" + image_id[7:], "RepoTags": tags,
                              "Layers": ["blobs/sha256/" + d["digest"][7:]
                                         for d in layer_descs]})
        for fname, doc in (("manifest.json", manifests),
                           ("index.json", {"schemaVersion": 2,
                                           "mediaType": "application/vnd.oci.image.index.v1+json",
                                           "manifests": index}),
                           ("oci-layout", {"imageLayoutVersion": "1.0.0"}),
                           ("repositories", repos)):
            data = json.dumps(doc).encode()
            ti = tarfile.TarInfo(fname)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


# The first bytes of the compressions docker's load takes (moby go-archive compression)
_GZIP, _BZIP2, _XZ = b"\x1f\x8b\x08", b"BZh", b"\xfd7zXZ\x00"


def _check_tar_start(fileobj) -> bool:
    """Refuse a body that is not a tar as docker's load does, with Go's archive/tar
    errors (moby tarexport.Load untars the body first and answers with that error):
    fewer bytes than a header block is ``unexpected EOF``, a first block that is no
    tar header is ``archive/tar: invalid tar header``. False for an empty tar (no
    bytes, or zeros). ``fileobj`` is left at its start."""
    import tarfile

    block = _first_block(fileobj, tarfile.BLOCKSIZE)
    if not block:
        return False
    if len(block) < tarfile.BLOCKSIZE:
        raise InvalidArgument("unexpected EOF")
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.EOFHeaderError:
        return False  # a block of zeros: the end of an empty archive
    except tarfile.HeaderError as err:
        raise InvalidArgument("archive/tar: invalid tar header") from err
    return True


def _first_block(fileobj, size: int) -> bytes:
    """The first ``size`` bytes of the archive, decompressed (gzip, bzip2, xz)."""
    import lzma

    start = fileobj.tell()
    try:
        stream = _decompressor(fileobj)
        if stream is None:
            return fileobj.read(size)
        with stream:  # closes the decompressor, not fileobj
            return stream.read(size)
    except EOFError as err:  # a compressed stream cut short: Go's io.ErrUnexpectedEOF
        raise InvalidArgument("unexpected EOF") from err
    except (OSError, lzma.LZMAError) as err:
        raise InvalidArgument(f"invalid archive: {err}") from err
    finally:
        fileobj.seek(start)


def _decompressor(fileobj):
    """A reader of the decompressed stream, by its first bytes; None if plain."""
    import bz2
    import gzip
    import lzma

    start = fileobj.tell()
    magic = fileobj.read(6)
    fileobj.seek(start)
    if magic.startswith(_GZIP):
        # mode: the spooled body is open w+b, GzipFile would take it for writing
        return gzip.GzipFile(fileobj=fileobj, mode="rb")
    if magic.startswith(_BZIP2):
        return bz2.BZ2File(fileobj)
    if magic.startswith(_XZ):
        return lzma.LZMAFile(fileobj)
    return None


def load(images: ImageStore, fileobj) -> list[str]:
    """`docker load` of a docker-archive tar; returns docker's "Loaded image" lines.

    The archive is untrusted: nothing is extracted to disk but through the
    layer store's safe unpacking, and every layer and config is checked
    against its digest before the image is recorded.
    """
    import tarfile

    if not _check_tar_start(fileobj):
        raise InvalidArgument("invalid archive: manifest.json is missing")
    try:
        tf = tarfile.open(fileobj=fileobj, mode="r:*")
    except tarfile.TarError as err:
        raise InvalidArgument(f"invalid archive: {err}") from err
    out: list[str] = []
    with tf:
        def read(name: str) -> bytes:
            try:
                member = tf.getmember(name.lstrip("./"))
            except KeyError as err:
                raise InvalidArgument(f"invalid archive: {name} is missing") from err
            f = tf.extractfile(member)
            if f is None:
                raise InvalidArgument(f"invalid archive: {name} is not a file")
            return f.read()

        try:
            manifest = json.loads(read("manifest.json"))
        except ValueError as err:
            raise InvalidArgument(f"invalid archive: manifest.json: {err}") from err
        for entry in manifest:
            raw = read(entry["Config"])
            cfg_digest = "sha256:" + hashlib.sha256(raw).hexdigest()
            named = os.path.basename(entry["Config"]).removesuffix(".json")
            if named != cfg_digest[7:]:
                raise InvalidArgument(f"invalid archive: config {entry['Config']} does not "
                                      f"match its digest ({cfg_digest})")
            diff_ids = decode_config(raw).rootfs.diff_ids
            if len(diff_ids) != len(entry["Layers"]):
                raise InvalidArgument("invalid archive: layer count does not match the config")
            parent = None
            for i, (layer_path, want) in enumerate(zip(entry["Layers"], diff_ids)):
                try:
                    member = tf.getmember(layer_path)
                except KeyError as err:
                    raise InvalidArgument(f"invalid archive: {layer_path} is missing") from err
                # With expected=, a layer that is not what the config says is never
                # stored: removing it afterwards could remove a layer another image
                # uses (the same content under the same chain id).
                try:
                    layer = images.layers.register(tf.extractfile(member), parent,
                                                   expected=want)
                except DiffIDMismatch as err:  # moby's tarexport words it with chain ids
                    raise InvalidArgument(
                        f'invalid diffID for layer {i}: expected "{chain_id(parent, want)}", '
                        f'got "{chain_id(parent, err.actual)}"') from err
                parent = layer.chain_id
            image_id = images.add_raw(raw)
            tags = entry.get("RepoTags") or []
            for t in tags:
                images.tag(image_id, t)
                out.append(f"Loaded image: {t}")
            if not tags:
                out.append(f"Loaded image ID: {image_id}")
    return out
