"""-u and --group-add read the image's /etc/passwd and /etc/group: hostile ones
(a FIFO, a device, a link out of the root, a huge file) give docker's error,
quickly, and the daemon goes on answering."""

from __future__ import annotations

import io
import os
import socket
import tarfile
import threading
import time

import pytest

from tests.engine.conftest import name


def _image(daemon, busybox_tar: str, tmp_path, replace: dict[str, tarfile.TarInfo],
           data: dict[str, bytes] | None = None) -> str:
    """busybox with /etc/passwd or /etc/group replaced by the given entries."""
    tag = f"hostile-{name()}"
    out = tmp_path / f"{tag}.tar"
    with tarfile.open(busybox_tar) as tin, tarfile.open(out, "w") as tout:
        for m in tin.getmembers():
            rel = m.name.removeprefix("./")
            if rel in replace:
                continue
            tout.addfile(m, tin.extractfile(m) if m.isreg() else None)
        for rel, ti in replace.items():
            ti.name = rel
            body = (data or {}).get(rel)
            tout.addfile(ti, io.BytesIO(body) if body is not None else None)
    daemon.cli("import", str(out), tag, check=True)
    return tag


def _fifo() -> tarfile.TarInfo:
    ti = tarfile.TarInfo()
    ti.type = tarfile.FIFOTYPE
    ti.mode = 0o644
    return ti


def _run_while_pinging(daemon, *args: str) -> tuple[object, float, float]:
    """Run the CLI in a thread; ping every 50 ms meanwhile. (result, its time, worst ping)."""
    result: dict = {}

    def run():
        t = time.monotonic()
        try:
            result["res"] = daemon.cli(*args, timeout=20)
        except Exception as err:  # noqa: BLE001 - a hung daemon: reported below
            result["res"] = err
        result["took"] = time.monotonic() - t

    th = threading.Thread(target=run)
    th.start()
    worst = 0.0
    while th.is_alive():
        t = time.monotonic()
        if _ping(daemon.sock):
            worst = max(worst, time.monotonic() - t)
        else:
            worst = float("inf")
            _unblock_fifos(daemon)  # let a stuck daemon go on, so the test can end
        time.sleep(0.05)
    th.join()
    return result["res"], result["took"], worst


def _ping(sock: str) -> bool:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False
    finally:
        s.close()


def _unblock_fifos(daemon) -> None:
    """If the daemon is stuck opening a FIFO, open its other end so it comes back."""
    containers = os.path.join(daemon.root, "containers")
    for cid in os.listdir(containers):
        for f in ("etc/passwd", "etc/group"):
            try:
                fd = os.open(os.path.join(containers, cid, "merged", f),
                             os.O_WRONLY | os.O_NONBLOCK)
                os.close(fd)
            except OSError:
                pass


@pytest.mark.parametrize("which", ["etc/passwd", "etc/group"])
def test_fifo_passwd_or_group_gives_an_error_and_the_daemon_answers(daemon, busybox_tar,
                                                                   tmp_path, which):
    img = _image(daemon, busybox_tar, tmp_path, {which: _fifo()})
    user = "someuser" if which == "etc/passwd" else "0:somegroup"
    try:
        res, took, worst = _run_while_pinging(daemon, "run", "--rm", "-u", user, img, "true")
    finally:
        _unblock_fifos(daemon)
    assert not isinstance(res, Exception), f"run hung: {res}"
    assert took < 10 and worst < 1.0, (took, worst)
    what = "user someuser: no matching entries in passwd file" if which == "etc/passwd" \
        else "group somegroup: no matching entries in group file"
    assert res.returncode == 125 and f"unable to find {what}".encode() in res.stderr, res
    # numeric ids need no file
    daemon.cli("run", "--rm", "-u", "1000:1000", img, "true", check=True)
    daemon.cli("rmi", img, check=True)


def test_passwd_that_is_a_device_a_link_out_or_huge(daemon, busybox_tar, tmp_path):
    dev = tarfile.TarInfo()
    dev.type = tarfile.CHRTYPE
    dev.devmajor, dev.devminor = 1, 5  # /dev/zero: endless
    big = tarfile.TarInfo()
    big.size = 5 << 20
    link = tarfile.TarInfo()
    link.type = tarfile.SYMTYPE
    link.linkname = "/proc/self/root/etc/passwd"  # the host's, if followed out of the root
    for entry, body in ((dev, None), (big, b"someuser:x:1:1::/:/bin/sh\n" + b"#" * (5 << 20)),
                        (link, None)):
        if body is not None:
            entry.size = len(body)
        img = _image(daemon, busybox_tar, tmp_path, {"etc/passwd": entry},
                     {"etc/passwd": body} if body is not None else None)
        res, took, worst = _run_while_pinging(daemon, "run", "--rm", "-u", "root", img, "true")
        assert not isinstance(res, Exception), f"run hung: {res}"
        assert took < 10 and worst < 1.0, (took, worst)
        assert res.returncode == 125, res
        assert b"unable to find user root: no matching entries in passwd file" in res.stderr
        daemon.cli("rmi", img, check=True)


def test_passwd_through_a_link_inside_the_root(daemon, busybox_tar, tmp_path):
    """A link that stays inside the image is followed there, as docker does."""
    link = tarfile.TarInfo()
    link.type = tarfile.SYMTYPE
    link.linkname = "../usr/passwd"
    real = tarfile.TarInfo("usr/passwd")
    body = b"root:x:0:0:root:/root:/bin/sh\nsomeuser:x:1234:4321::/:/bin/sh\n"
    real.size = len(body)
    img = _image(daemon, busybox_tar, tmp_path, {"etc/passwd": link, "usr/passwd": real},
                 {"usr/passwd": body})
    out = daemon.cli("run", "--rm", "-u", "someuser", img, "id", "-u", check=True)
    assert out.stdout.strip() == b"1234"
    daemon.cli("rmi", img, check=True)
