"""secure_join resolves like a chroot: symlinks followed inside the root,
.. clamped at it, never a result outside."""

from __future__ import annotations

import os

import pytest

from dockling.runtime.paths import is_within, make_mountpoint, secure_join


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "root"
    (r / "etc").mkdir(parents=True)
    (r / "real").mkdir()
    os.symlink("/etc", r / "abs")                  # absolute: means root/etc
    os.symlink("../../../../../../../etc", r / "up")  # climbs: clamped to root/etc
    os.symlink("real", r / "rel")
    os.symlink("loop2", r / "loop1")
    os.symlink("loop1", r / "loop2")
    os.symlink("/real/../../../x", r / "mixed")
    return str(r)


@pytest.mark.parametrize("unsafe, want", [
    ("/etc/passwd", "etc/passwd"),
    ("/abs/passwd", "etc/passwd"),
    ("/up/passwd", "etc/passwd"),
    ("/rel/a/b", "real/a/b"),
    ("/../../../etc", "etc"),
    ("/a/../../b", "b"),
    ("/mixed", "x"),
    ("", ""),
    ("/", ""),
])
def test_secure_join(root, unsafe, want):
    got = secure_join(root, unsafe)
    assert got == os.path.join(root, want).rstrip("/") or got == root
    assert is_within(root, got)


def test_symlink_loop_is_an_error(root):
    with pytest.raises(OSError):
        secure_join(root, "/loop1/x")


def test_make_mountpoint_never_creates_outside(root, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), os.path.join(root, "evil"))
    path = make_mountpoint(root, "/evil/sub/dir", True)
    assert is_within(root, path)
    assert list(outside.iterdir()) == []
    assert os.path.isdir(os.path.join(root, str(outside).lstrip("/"), "sub/dir"))


def test_make_mountpoint_file(root):
    path = make_mountpoint(root, "/abs/resolv.conf", False)
    assert path == os.path.join(root, "etc/resolv.conf")
    assert os.path.isfile(path)
