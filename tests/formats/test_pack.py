"""Packing a tree into a layer tar: the walk never leaves the root, even while
something inside swaps a directory for a symlink (a running container)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import textwrap

import pytest

from dockling.formats import pack

# Swaps root/x/d (a directory) and root/x/l (a symlink to a host directory) with
# renameat2(RENAME_EXCHANGE) as fast as it can, in another process: the walk
# sees either at any moment, as it would in a running container.
_SWAPPER = textwrap.dedent("""
    import ctypes, os, sys
    libc = ctypes.CDLL(None, use_errno=True)
    a, b = sys.argv[1].encode(), sys.argv[2].encode()
    print("go", flush=True)
    while True:
        libc.renameat2(-100, a, -100, b, 2)
""")


@pytest.fixture
def racing_tree(tmp_path):
    root = tmp_path / "root"
    host = tmp_path / "host"
    (root / "x" / "d").mkdir(parents=True)
    host.mkdir()
    for i in range(20):
        (root / "x" / "d" / f"f{i}").write_text("inside")
        (host / f"f{i}").write_text("HOSTSECRET")
        (host / f"host{i}").write_text("HOSTSECRET")
    os.symlink(str(host), root / "x" / "l")
    proc = subprocess.Popen([sys.executable, "-c", _SWAPPER, str(root / "x" / "d"),
                             str(root / "x" / "l")], stdout=subprocess.PIPE)
    assert proc.stdout.readline() == b"go\n"
    try:
        yield root
    finally:
        proc.kill()
        proc.wait()


def _members(data: bytes) -> dict[str, bytes]:
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf:
            f = tf.extractfile(m) if m.isreg() else None
            out[m.name] = f.read() if f else b""
    return out


def test_write_layer_never_reads_through_a_swapped_symlink(racing_tree):
    for _ in range(300):
        buf = io.BytesIO()
        try:
            pack.write_layer(str(racing_tree), buf)
        except OSError:
            continue  # a file vanished mid-read: an error, never host data
        for n, data in _members(buf.getvalue()).items():
            assert data != b"HOSTSECRET", f"{n} was read from the host"
    for _ in range(100):
        buf = io.BytesIO()
        try:
            pack.write_layer(str(racing_tree / "x"), buf, prefix="x")
        except OSError:
            continue
        assert b"HOSTSECRET" not in buf.getvalue()


def test_walk_and_changes_stay_inside(racing_tree, tmp_path):
    for _ in range(200):
        for rel, _path, _st in pack.walk(str(racing_tree)):
            assert "host" not in rel, f"{rel}: listed from the host"
    lower = tmp_path / "lower"
    lower.mkdir()
    for _ in range(100):
        for ch in pack.changes(str(racing_tree), [str(lower)]):
            assert "host" not in ch["Path"]


def test_same_tree_same_tar(tmp_path):
    """Sorted entries, numeric owners, docker's xattrs: packing twice gives the same
    bytes."""
    root = tmp_path / "r"
    (root / "b" / "c").mkdir(parents=True)
    (root / "a").write_text("a")
    (root / "b" / "c" / "z").write_text("z")
    os.link(root / "a", root / "b" / "hard")
    os.symlink("/nowhere", root / "b" / "sym")
    os.mkfifo(root / "fifo")
    os.setxattr(root / "a", "user.k", b"v")
    caps = (0x02000001).to_bytes(4, "little") + (1 << 13).to_bytes(4, "little") + bytes(12)
    os.setxattr(root / "b" / "c" / "z", "security.capability", caps)
    one, two = io.BytesIO(), io.BytesIO()
    pack.write_layer(str(root), one)
    pack.write_layer(str(root), two)
    assert one.getvalue() == two.getvalue()
    with tarfile.open(fileobj=io.BytesIO(one.getvalue())) as tf:
        names = [m.name for m in tf]
        assert names == ["a", "b", "fifo", "b/c", "b/hard", "b/sym", "b/c/z"]
        assert tf.getmember("b/hard").islnk() and tf.getmember("b/hard").linkname == "a"
        assert tf.getmember("b/sym").linkname == "/nowhere"
        assert tf.getmember("fifo").isfifo()
        # docker's writer records file capabilities only (moby ReadSecurityXattrToTarHeader):
        # not the host's SELinux labels, ACLs or user.* attributes
        assert not [k for k in tf.getmember("a").pax_headers if k.startswith("SCHILY.")]
        z = tf.getmember("b/c/z").pax_headers
        assert z["SCHILY.xattr.security.capability"].encode("utf-8", "surrogateescape") == caps
