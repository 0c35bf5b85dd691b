"""-u lookups in an image's /etc/passwd and /etc/group (no daemon, no root)."""

from __future__ import annotations

import os
import threading

import pytest

from dockling.containers import users
from dockling.errors import InvalidArgument


@pytest.fixture
def rootfs(tmp_path):
    root = tmp_path / "rootfs"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n# a comment\nbroken:x:abc:def::/:/bin/sh\n"
        "app:x:1000:1000::/home/app:/bin/sh\n")
    (root / "etc" / "group").write_text("root:x:0:\napp:x:1000:\nextra:x:2000:app\n")
    return root


def test_names_and_ids(rootfs):
    assert users.resolve(str(rootfs), "app") == (1000, 1000, [2000])
    assert users.resolve(str(rootfs), "app:extra") == (1000, 2000, [])
    assert users.resolve(str(rootfs), "1000") == (1000, 1000, [2000])
    assert users.resolve(str(rootfs), "4321:99") == (4321, 99, [])
    assert users.group_id(str(rootfs), "extra") == 2000
    with pytest.raises(InvalidArgument, match="unable to find user broken"):
        users.resolve(str(rootfs), "broken")  # ids that are no numbers: skipped


def test_a_fifo_is_never_opened(rootfs):
    os.unlink(rootfs / "etc" / "passwd")
    os.mkfifo(rootfs / "etc" / "passwd")
    done = threading.Event()
    err: list[BaseException] = []

    def lookup():
        try:
            users.resolve(str(rootfs), "app")
        except BaseException as e:  # noqa: BLE001
            err.append(e)
        done.set()

    threading.Thread(target=lookup, daemon=True).start()
    if not done.wait(5):
        os.close(os.open(rootfs / "etc" / "passwd", os.O_WRONLY | os.O_NONBLOCK))
        pytest.fail("the lookup blocked on a FIFO")
    assert isinstance(err[0], InvalidArgument)
    assert "unable to find user app: no matching entries in passwd file" in str(err[0])
    assert users.resolve(str(rootfs), "0") == (0, 0, [])


def test_too_big_or_a_link_out_counts_as_missing(rootfs, tmp_path):
    with open(rootfs / "etc" / "passwd", "ab") as f:
        f.truncate(users.MAX_SIZE + 1)
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        users.resolve(str(rootfs), "app")
    host = tmp_path / "hostpasswd"
    host.write_text("app:x:0:0::/:/bin/sh\n")
    os.unlink(rootfs / "etc" / "passwd")
    os.symlink(str(host), rootfs / "etc" / "passwd")  # inside the root: no such file
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        users.resolve(str(rootfs), "app")
    os.unlink(rootfs / "etc" / "passwd")
    os.symlink("../../../../../../../" + str(host), rootfs / "etc" / "passwd")
    with pytest.raises(InvalidArgument, match="unable to find user app"):
        users.resolve(str(rootfs), "app")


def test_a_link_inside_the_root_is_followed(rootfs):
    (rootfs / "usr").mkdir()
    os.rename(rootfs / "etc" / "passwd", rootfs / "usr" / "passwd")
    os.symlink("/usr/passwd", rootfs / "etc" / "passwd")
    assert users.resolve(str(rootfs), "app")[0] == 1000
