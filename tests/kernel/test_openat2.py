"""open_in_root: with openat2(2) and with the O_PATH walk, nothing resolves out
of the root (no root needed)."""

from __future__ import annotations

import errno
import os

import pytest

from dockling.kernel import openat2


@pytest.fixture(params=["openat2", "walk"])
def mode(request, monkeypatch):
    if request.param == "walk":
        monkeypatch.setattr(openat2, "available", False)
    elif not openat2._have_openat2():
        pytest.skip("this kernel has no openat2")
    return request.param


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    for d in (root / "etc", root / "a" / "b", outside):
        d.mkdir(parents=True)
    (root / "etc" / "passwd").write_text("inside\n")
    (outside / "passwd").write_text("OUTSIDE\n")
    os.symlink("/", root / "rootlink")
    os.symlink("../../../../../../..", root / "a" / "up")
    os.symlink(str(outside), root / "abs")             # absolute: inside the root, not the host
    os.symlink("/etc/passwd", root / "a" / "pw")
    os.symlink("loop2", root / "loop1")
    os.symlink("loop1", root / "loop2")
    os.symlink("/proc/self/root/etc/passwd", root / "magic")
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY)
    yield root, outside, fd
    os.close(fd)


def _read(fd: int) -> str:
    with os.fdopen(openat2.reopen(fd, os.O_RDONLY), "r") as f:
        return f.read()


def _where(fd: int) -> str:
    return os.readlink(f"/proc/self/fd/{fd}")


def test_paths_resolve_inside(mode, tree):
    root, _, rfd = tree
    for path in ("/etc/passwd", "etc/passwd", "../../etc/passwd", "/rootlink/etc/passwd",
                 "a/up/etc/passwd", "a/pw", "/a/b/../../etc/./passwd"):
        fd = openat2.open_in_root(rfd, path)
        try:
            assert _read(fd) == "inside\n", path
            assert _where(fd) == str(root / "etc" / "passwd")
        finally:
            os.close(fd)


def test_absolute_link_to_a_host_path_stays_inside(mode, tree):
    root, outside, rfd = tree
    with pytest.raises(FileNotFoundError):
        openat2.open_in_root(rfd, "abs/passwd")
    # O_CREAT through a dangling link creates its target inside the root
    os.symlink(str(outside / "new"), root / "hostnew")
    with pytest.raises(FileNotFoundError):
        openat2.open_in_root(rfd, "hostnew", os.O_WRONLY | os.O_CREAT)
    os.symlink("/created", root / "new")
    os.close(openat2.open_in_root(rfd, "new", os.O_WRONLY | os.O_CREAT))
    assert (root / "created").is_file()
    assert sorted(os.listdir(outside)) == ["passwd"]


def test_last_component_unfollowed(mode, tree):
    root, _, rfd = tree
    fd = openat2.open_in_root(rfd, "a/pw", follow=False)
    try:
        assert _where(fd) == str(root / "a" / "pw")
    finally:
        os.close(fd)
    with pytest.raises(OSError) as err:
        openat2.open_in_root(rfd, "a/pw", os.O_RDONLY, follow=False)
    assert err.value.errno == errno.ELOOP


def test_errors(mode, tree):
    _, _, rfd = tree
    for path, code in (("loop1", errno.ELOOP), ("etc/passwd/x", errno.ENOTDIR),
                       ("nope/x", errno.ENOENT)):
        with pytest.raises(OSError) as err:
            openat2.open_in_root(rfd, path)
        assert err.value.errno == code, path
    # a /proc magic link resolves inside the root: there is no proc/ there
    with pytest.raises(OSError):
        openat2.open_in_root(rfd, "magic")


def test_root_itself(mode, tree):
    root, _, rfd = tree
    for path in ("", "/", "..", "a/b/../../.."):
        fd = openat2.open_in_root(rfd, path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert _where(fd) == str(root)
        finally:
            os.close(fd)


def test_this_kernel_has_openat2():
    """Linux >= 5.6: the kernel confines the walk itself (the fallback is for older ones)."""
    release = tuple(int(x) for x in os.uname().release.split(".")[:2])
    if release < (5, 6):
        pytest.skip("kernel before 5.6")
    openat2.available = None
    assert openat2._have_openat2()
