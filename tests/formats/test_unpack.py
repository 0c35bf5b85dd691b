"""Layer unpacking with hostile and ordinary tars."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import tarfile

import pytest

from dockling.errors import InvalidArgument
from dockling.formats.unpack import OPAQUE_XATTR, apply_layer


def make_tar(entries) -> bytes:
    """entries: (name, kind, extra dict)"""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, kind, extra in entries:
            ti = tarfile.TarInfo(name)
            ti.mtime = extra.get("mtime", 1_600_000_000)
            ti.uid = extra.get("uid", 0)
            ti.gid = extra.get("gid", 0)
            ti.mode = extra.get("mode", 0o644)
            if "xattrs" in extra:
                ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in extra["xattrs"].items()}
            data = None
            if kind == "file":
                data = extra.get("data", b"")
                ti.size = len(data)
            elif kind == "dir":
                ti.type = tarfile.DIRTYPE
                ti.mode = extra.get("mode", 0o755)
            elif kind == "sym":
                ti.type = tarfile.SYMTYPE
                ti.linkname = extra["target"]
            elif kind == "hard":
                ti.type = tarfile.LNKTYPE
                ti.linkname = extra["target"]
            elif kind == "chr":
                ti.type = tarfile.CHRTYPE
                ti.devmajor, ti.devminor = extra["dev"]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


@pytest.fixture
def dirs(tmp_path):
    dest = tmp_path / "layer"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("keep\n")
    return dest, outside


def _untouched(outside):
    assert sorted(p.name for p in outside.iterdir()) == ["secret"]
    assert (outside / "secret").read_text() == "keep\n"


def test_ordinary_layer_keeps_metadata(dirs):
    dest, _ = dirs
    data = make_tar([
        ("etc", "dir", {}),
        ("etc/passwd", "file", {"data": b"root:x:0:0\n", "mode": 0o600}),
        ("usr/bin/su", "file", {"data": b"#!", "mode": 0o4755, "uid": 0}),
        ("home/user", "dir", {"uid": 1000, "gid": 1000, "mode": 0o750}),
        ("home/user/f", "file", {"data": b"x", "uid": 1000, "gid": 100}),
        ("bin/sh", "sym", {"target": "/bin/busybox"}),
        ("bin/busybox", "file", {"data": b"ELF", "mode": 0o755}),
        ("bin/ash", "hard", {"target": "bin/busybox"}),
        ("dev/null", "chr", {"dev": (1, 3), "mode": 0o666}),
        ("run/fifo", "fifo", {}),
        ("attr", "file", {"data": b"", "xattrs": {"user.note": "hello"}}),
    ])
    diff_id, size = apply_layer(io.BytesIO(data), str(dest))
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert (dest / "etc/passwd").read_bytes() == b"root:x:0:0\n"
    assert stat.S_IMODE((dest / "etc/passwd").stat().st_mode) == 0o600
    assert stat.S_IMODE((dest / "usr/bin/su").stat().st_mode) == 0o4755
    st = (dest / "home/user").stat()
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
    assert st.st_mtime == 1_600_000_000
    assert (dest / "home/user/f").stat().st_gid == 100
    assert os.readlink(dest / "bin/sh") == "/bin/busybox"
    assert (dest / "bin/ash").stat().st_ino == (dest / "bin/busybox").stat().st_ino
    dn = (dest / "dev/null").stat()
    assert stat.S_ISCHR(dn.st_mode) and os.major(dn.st_rdev) == 1 and os.minor(dn.st_rdev) == 3
    assert stat.S_ISFIFO((dest / "run/fifo").stat().st_mode)
    assert os.getxattr(dest / "attr", "user.note") == b"hello"


def test_whiteouts_become_overlay_whiteouts(dirs):
    dest, _ = dirs
    data = make_tar([
        ("etc", "dir", {}),
        ("etc/.wh.motd", "file", {}),
        ("var/cache", "dir", {}),
        ("var/cache/.wh..wh..opq", "file", {}),
        ("var/cache/new", "file", {"data": b"n"}),
    ])
    apply_layer(io.BytesIO(data), str(dest))
    wh = os.lstat(dest / "etc/motd")
    assert stat.S_ISCHR(wh.st_mode) and wh.st_rdev == os.makedev(0, 0)
    assert os.getxattr(dest / "var/cache", OPAQUE_XATTR) == b"y"
    assert not (dest / "var/cache/.wh..wh..opq").exists()
    assert (dest / "var/cache/new").read_bytes() == b"n"


@pytest.mark.parametrize("compress", ["gzip", "zstd"])
def test_compressed_layers(dirs, compress):
    dest, _ = dirs
    data = make_tar([("a", "file", {"data": b"hello"})])
    if compress == "gzip":
        blob = gzip.compress(data)
    else:
        import zstandard

        blob = zstandard.ZstdCompressor().compress(data)
    diff_id, _ = apply_layer(io.BytesIO(blob), str(dest))
    assert diff_id == "sha256:" + hashlib.sha256(data).hexdigest()
    assert (dest / "a").read_bytes() == b"hello"


def test_absolute_names_stay_inside(dirs):
    dest, outside = dirs
    data = make_tar([(str(outside / "secret"), "file", {"data": b"pwned"})])
    apply_layer(io.BytesIO(data), str(dest))
    _untouched(outside)
    assert (dest / str(outside).lstrip("/") / "secret").read_bytes() == b"pwned"


@pytest.mark.parametrize("entries", [
    [("../escape", "file", {"data": b"x"})],
    [("a/../../escape", "file", {"data": b"x"})],
    [("link", "sym", {"target": "OUTSIDE"}), ("link/secret", "file", {"data": b"pwned"})],
    [("link", "sym", {"target": "../outside"}), ("link/new", "file", {"data": b"pwned"})],
    [("h", "hard", {"target": "../outside/secret"})],
    [("h", "hard", {"target": "OUTSIDE/secret"})],
    [("d", "sym", {"target": "OUTSIDE"}), ("d/.wh.secret", "file", {})],
    [("d", "sym", {"target": "OUTSIDE"}), ("d/.wh..wh..opq", "file", {})],
], ids=["dotdot", "nested-dotdot", "abs-symlink-dir", "rel-symlink-dir", "hardlink-dotdot",
        "hardlink-abs", "whiteout-through-symlink", "opaque-through-symlink"])
@pytest.mark.parametrize("spread", [False, True], ids=["plain", "spread"])
def test_hostile_layers_refused(dirs, entries, spread):
    dest, outside = dirs
    fixed = []
    for name, kind, extra in entries:
        extra = {k: (v.replace("OUTSIDE", str(outside)) if isinstance(v, str) else v)
                 for k, v in extra.items()}
        fixed.append((name, kind, extra))
    with pytest.raises(InvalidArgument, match="invalid layer"):
        apply_layer(io.BytesIO(make_tar(fixed)), str(dest), spread=spread)
    _untouched(outside)


def test_truncated_tar(dirs):
    dest, _ = dirs
    data = make_tar([("big", "file", {"data": b"x" * 100_000})])
    with pytest.raises(InvalidArgument, match="invalid layer"):
        apply_layer(io.BytesIO(data[:5000]), str(dest))


def test_garbage_is_refused(dirs):
    dest, _ = dirs
    with pytest.raises(InvalidArgument, match="invalid layer"):
        apply_layer(io.BytesIO(b"this is not a tar" * 100), str(dest))


def test_tar_split_rewrites_identical_bytes(tmp_path):
    from dockling.images.layers import LayerStore

    data = make_tar([
        ("etc", "dir", {}),
        ("etc/passwd", "file", {"data": b"root:x:0:0\n" * 100, "mode": 0o600}),
        ("a/very/" + "long" * 40 + "/name", "file", {"data": b"x" * 1000}),
        ("bin/sh", "sym", {"target": "/bin/busybox"}),
        ("bin/busybox", "file", {"data": b"ELF" * 333}),
        ("bin/ash", "hard", {"target": "bin/busybox"}),
        ("etc/.wh.motd", "file", {}),
        ("attr", "file", {"data": b"", "xattrs": {"user.note": "hello"}}),
    ])
    store = LayerStore(str(tmp_path))
    layer = store.register(io.BytesIO(gzip.compress(data)), None)
    out = io.BytesIO()
    assert store.write_tar(layer.chain_id, out) == layer.diff_id
    assert out.getvalue() == data


@pytest.mark.parametrize("name", [".wh..", "d/.wh..", "d/.wh...", ".wh."])
def test_whiteouts_of_dot_and_dotdot_refused(dirs, name):
    """A whiteout's target is a name in its directory: `.wh..` would white out the
    directory itself, `.wh...` its parent (containerd: "invalid whiteout name")."""
    dest, _ = dirs
    data = make_tar([("d", "dir", {}), ("d/keep", "file", {"data": b"k"}),
                     (name, "file", {})])
    with pytest.raises(InvalidArgument, match="invalid layer: invalid whiteout name"):
        apply_layer(io.BytesIO(data), str(dest))
    assert (dest / "d" / "keep").read_bytes() == b"k"
    assert os.listdir(dest) == ["d"]


def test_overlay_xattrs_from_a_layer_are_dropped(dirs):
    """trusted.overlay.* would steer overlayfs (opaque dirs, redirects, metacopy,
    xattr whiteouts): only .wh. entries make whiteouts. Other xattrs are set as
    docker sets them (security.capability: file capabilities)."""
    dest, _ = dirs
    # vfs_cap_data v2: cap_net_raw (13) permitted, effective bit
    caps = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + bytes(12)
    data = make_tar([
        ("d", "dir", {"xattrs": {"trusted.overlay.opaque": "y", "user.a": "1"}}),
        ("d/f", "file", {"data": b"x", "xattrs": {
            "trusted.overlay.redirect": "/etc", "trusted.overlay.metacopy": "",
            "trusted.overlay.whiteout": "", "security.capability":
            caps.decode("utf-8", "surrogateescape")}}),
        ("e", "dir", {"xattrs": {"trusted.overlay.whiteouts": ""}}),
    ])
    apply_layer(io.BytesIO(data), str(dest))
    for p in (dest / "d", dest / "d" / "f", dest / "e"):
        assert not [n for n in os.listxattr(p) if n.startswith("trusted.overlay.")], p
    assert os.getxattr(dest / "d", "user.a") == b"1"
    assert os.getxattr(dest / "d" / "f", "security.capability") == caps


def test_cp_archives_drop_overlay_xattrs_too(dirs):
    dest, _ = dirs
    data = make_tar([("d", "dir", {"xattrs": {"trusted.overlay.opaque": "y"}})])
    apply_layer(io.BytesIO(data), str(dest), whiteouts=False)
    assert OPAQUE_XATTR not in os.listxattr(dest / "d")


def test_unpack_into_a_directory_fd(dirs):
    """cp gives the destination as a descriptor opened inside the container's root:
    nothing between its resolution and the unpack can redirect it."""
    dest, outside = dirs
    fd = os.open(dest, os.O_PATH | os.O_DIRECTORY)
    try:
        apply_layer(io.BytesIO(make_tar([("a/b", "file", {"data": b"x"})])), fd,
                    whiteouts=False)
    finally:
        os.close(fd)
    assert (dest / "a" / "b").read_bytes() == b"x"
    _untouched(outside)


def test_tar_split_never_reads_through_a_link_the_layer_planted(tmp_path):
    """A layer that writes etc/secret, then replaces etc with a link out: writing
    its tar again (save, push) must not read the file the link points at."""
    from dockling.errors import DocklingError
    from dockling.images.layers import LayerStore

    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("HOSTSECRET")
    data = make_tar([("etc", "dir", {}), ("etc/secret", "file", {"data": b"layer's!!!"}),
                     ("etc", "sym", {"target": str(outside)})])
    store = LayerStore(str(tmp_path / "store"))
    layer = store.register(io.BytesIO(data), None)
    out = io.BytesIO()
    with pytest.raises(DocklingError):
        store.write_tar(layer.chain_id, out)
    assert b"HOSTSECRET" not in out.getvalue()


def _fs_flags(path) -> int | None:
    """FS_IOC_GETFLAGS of a directory; None where the filesystem has no such flags."""
    import array
    import fcntl

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        flags = array.array("i", [0])
        fcntl.ioctl(fd, 0x80086601, flags, True)
        return flags[0]
    except OSError:
        return None
    finally:
        os.close(fd)


def test_spread_layer_keeps_names_modes_and_owners(dirs):
    """A layer store's unpack (spread=True) makes its top directories under a
    temporary name and renames them: what lands is what the tar says, nothing
    else, and the layer's root is marked a top directory (chattr +T) where the
    filesystem has such flags (ext4)."""
    dest, outside = dirs
    data = make_tar([
        ("usr", "dir", {"mode": 0o750, "uid": 7, "gid": 8, "mtime": 1_500_000_000}),
        ("usr/lib/x", "file", {"data": b"x"}),
        ("opt/implied/file", "file", {"data": b"y"}),  # opt and opt/implied not in the tar
        ("top", "file", {"data": b"t"}),
        ("usr", "dir", {"mode": 0o755}),  # a directory again: kept, its mode changes
    ])
    apply_layer(io.BytesIO(data), str(dest), spread=True)
    assert sorted(os.listdir(dest)) == ["opt", "top", "usr"]
    st = os.lstat(dest / "usr")
    assert (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid) == (0o755, 0, 0)
    assert (dest / "usr" / "lib" / "x").read_bytes() == b"x"
    assert stat.S_IMODE(os.lstat(dest / "opt").st_mode) == 0o755  # docker's implied mode
    assert (dest / "opt" / "implied" / "file").read_bytes() == b"y"
    flags = _fs_flags(dest)
    assert flags is None or flags & 0x00020000
    _untouched(outside)


def test_plain_unpack_leaves_the_destination_flags_alone(dirs):
    """docker cp's destination is the user's directory: never marked."""
    dest, _ = dirs
    before = _fs_flags(dest)
    apply_layer(io.BytesIO(make_tar([("a/b", "file", {"data": b"x"})])), str(dest),
                whiteouts=False)
    assert _fs_flags(dest) == before


@pytest.mark.parametrize("spread", [False, True], ids=["plain", "spread"])
def test_later_entries_replace_earlier_ones(dirs, spread):
    """A tar may name a path twice; the last entry wins, whatever the kinds
    (created exclusively first, the old entry removed only when it is there)."""
    dest, outside = dirs
    data = make_tar([
        ("f", "file", {"data": b"one"}),
        ("f", "file", {"data": b"two", "mode": 0o600}),
        ("d", "dir", {}),
        ("d/inner", "file", {"data": b"gone"}),
        ("d", "file", {"data": b"now a file"}),
        ("s", "sym", {"target": str(outside / "secret")}),
        ("s", "file", {"data": b"not through the link"}),
        ("l", "file", {"data": b"plain"}),
        ("l", "hard", {"target": "f"}),
        ("g", "file", {"data": b"x"}),
        ("g", "dir", {"mode": 0o700}),
        ("g/in", "file", {"data": b"in"}),
        ("p", "file", {"data": b"x"}),
        ("p", "fifo", {"mode": 0o640}),
    ])
    apply_layer(io.BytesIO(data), str(dest), spread=spread)
    assert (dest / "f").read_bytes() == b"two"
    assert stat.S_IMODE(os.lstat(dest / "f").st_mode) == 0o600
    assert (dest / "d").read_bytes() == b"now a file"
    assert (dest / "s").read_bytes() == b"not through the link"
    assert not (dest / "s").is_symlink()
    assert os.lstat(dest / "l").st_ino == os.lstat(dest / "f").st_ino
    assert (dest / "g" / "in").read_bytes() == b"in"
    assert stat.S_ISFIFO(os.lstat(dest / "p").st_mode)
    assert stat.S_IMODE(os.lstat(dest / "p").st_mode) == 0o640
    assert sorted(os.listdir(dest)) == ["d", "f", "g", "l", "p", "s"]
    _untouched(outside)


def test_truncated_small_file_is_refused(dirs):
    """File data is read from the stream directly: a tar cut inside a member's
    data is an invalid layer, not a short file."""
    dest, _ = dirs
    data = make_tar([("a", "file", {"data": b"x" * 300}), ("b", "file", {"data": b"y" * 3000})])
    with pytest.raises(InvalidArgument, match="invalid layer"):
        apply_layer(io.BytesIO(data[:512 * 4 + 1000]), str(dest))
