"""secure_join resolves like a chroot: symlinks followed inside the root,
.. clamped at it, never a result outside."""

from __future__ import annotations

import os

import pytest

from dockling.kernel.paths import is_within, make_mountpoint, secure_join


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


CASES = [
    ("/etc/passwd", "etc/passwd"),
    ("/abs/passwd", "etc/passwd"),
    ("/up/passwd", "etc/passwd"),
    ("/rel/a/b", "real/a/b"),
    ("/../../../etc", "etc"),
    ("/a/../../b", "b"),
    ("/mixed", "x"),
    ("real/./a//b/", "real/a/b"),
    ("", ""),
    ("/", ""),
]


def check_join(join, root: str, unsafe: str, want: str) -> None:
    """The exact path: an answer that is merely inside the root (the root itself,
    say) is wrong for every case but the last two."""
    got = join(root, unsafe)
    assert got == os.path.join(root, want).rstrip("/")
    assert is_within(root, got)


@pytest.mark.parametrize("unsafe, want", CASES)
def test_secure_join(root, unsafe, want):
    check_join(secure_join, root, unsafe, want)


@pytest.mark.parametrize("bad", [
    lambda root, unsafe: root,                                      # always the root
    lambda root, unsafe: os.path.join(root, unsafe.lstrip("/")),   # no resolution at all
    lambda root, unsafe: os.path.normpath(os.path.join(root, unsafe.lstrip("/"))),
], ids=["root", "plain-join", "normpath"])
def test_the_cases_reject_wrong_implementations(root, bad):
    """The table above must fail an implementation that only stays inside the root."""
    failed = 0
    for unsafe, want in CASES:
        try:
            check_join(bad, root, unsafe, want)
        except AssertionError:
            failed += 1
    assert failed > 0


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


def test_make_mountpoint_creates_what_is_missing_below_what_exists(root, tmp_path):
    """The existing part of the path is skipped, the rest made 0755 (runc's modes),
    through symlinks resolved inside the root; a second call finds it all there."""
    os.symlink("/nowhere/deep", os.path.join(root, "dangling"))
    want = {"/rel/x/y": "real/x/y", "/dangling/z": "nowhere/deep/z", "/up/sub": "etc/sub"}
    for dest, rel in want.items():
        path = make_mountpoint(root, dest, True)
        assert path == os.path.join(root, rel) and os.path.isdir(path)
        assert os.stat(path).st_mode & 0o777 == 0o755
        assert make_mountpoint(root, dest, True) == path
    assert not os.path.exists("/nowhere")
