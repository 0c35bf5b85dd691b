"""Host files other host users must not reach, and container files the
container's own (non-root) users must: docker's modes.

The daemon and shims run with umask 077: the data root is 0711 with
containers/ and layers/ 0710, volumes/ 0700 (setuid binaries inside layers and
writable layers are out of reach: CVE-2021-41091); the database, each
container's config.json and logs 0600 (they hold -e secrets); shim sockets
0600; the API socket 0660 (group dockling when it exists). What containers
read stays as docker makes it: /etc/hosts, resolv.conf and hostname 0644,
/ and the directories dockling creates 0755, image files as their tar says.
"""

from __future__ import annotations

import grp
import io
import os
import stat
import tarfile
import time

import pytest

from tests.engine.conftest import name, running_daemon


@pytest.fixture(scope="module")
def d(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as daemon:
        yield daemon


def _mode(path: str) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _umask(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    raise AssertionError("no Umask line")


def _cid(d, ref: str) -> str:
    return d.cli("inspect", "-f", "{{.Id}}", ref, check=True).stdout.decode().strip()


def test_host_side_modes(d):
    n = name()
    # output enough to rotate the log twice
    d.cli("run", "-d", "--name", n, "-e", "SECRET=hunter2", "--log-opt", "max-size=1k",
          "--log-opt", "max-file=3", "busybox", "sh", "-c",
          "i=0; while [ $i -lt 200 ]; do echo line-$i-xxxxxxxxxxxxxxxxxxxxxxxx; "
          "i=$((i+1)); done; sleep 300", check=True)
    cid = _cid(d, n)
    try:
        root = d.root
        assert _mode(root) == 0o711
        assert _mode(os.path.join(root, "containers")) == 0o710
        assert _mode(os.path.join(root, "layers")) == 0o710
        assert _mode(os.path.join(root, "volumes")) == 0o700
        for private in ("blobs", "tmp"):
            assert _mode(os.path.join(root, private)) == 0o700, private
        for suffix in ("", "-wal", "-shm"):
            db = os.path.join(root, "dockling.db" + suffix)
            if os.path.exists(db):
                assert _mode(db) == 0o600, db
        cdir = os.path.join(root, "containers", cid)
        assert _mode(cdir) & 0o007 == 0, oct(_mode(cdir))
        assert _mode(os.path.join(cdir, "config.json")) == 0o600
        log = os.path.join(cdir, f"{cid}-json.log")
        deadline = time.monotonic() + 10
        while not os.path.exists(log + ".2") and time.monotonic() < deadline:
            time.sleep(0.05)
        for path in (log, log + ".1", log + ".2"):
            assert _mode(path) == 0o600, path
        for f in ("hosts", "hostname", "resolv.conf"):
            assert _mode(os.path.join(cdir, f)) == 0o644, f
        run = os.path.join(d.exec_root, "containers", cid)
        assert _mode(os.path.join(d.exec_root, "containers")) == 0o700
        assert _mode(os.path.join(d.exec_root, "runtime")) == 0o700  # state.json: the env
        assert _mode(os.path.join(run, "shim.sock")) == 0o600
        sock = os.stat(d.sock)
        assert stat.S_IMODE(sock.st_mode) == 0o660
        try:
            want_gid = grp.getgrnam("dockling").gr_gid
        except KeyError:
            want_gid = 0
        assert sock.st_gid == want_gid
        # the daemon and the shim: umask 077
        assert _umask(d.proc.pid) == 0o077
        with open(os.path.join(run, "shim.pid")) as f:
            assert _umask(int(f.read())) == 0o077
    finally:
        d.cli("rm", "-f", n)


def _image(d, tag: str) -> None:
    """An image whose tar has a 0700 and a 0755 directory, a 0640 file, a 0620
    fifo, and a file under two directories the tar does not list."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for n, mode in (("dir700", 0o700), ("dir755", 0o755)):
            ti = tarfile.TarInfo(n)
            ti.type, ti.mode = tarfile.DIRTYPE, mode
            tf.addfile(ti)
        for n, mode in (("file640", 0o640), ("implicit/sub/file", 0o644)):
            ti = tarfile.TarInfo(n)
            ti.mode, ti.size = mode, 2
            tf.addfile(ti, io.BytesIO(b"x\n"))
        ti = tarfile.TarInfo("fifo")
        ti.type, ti.mode = tarfile.FIFOTYPE, 0o620
        tf.addfile(ti)
    ctx = io.BytesIO()
    with tarfile.open(fileobj=ctx, mode="w") as tf:
        df = b"FROM busybox\nADD layer.tar /\nCOPY f /new/dir/f\n"
        for n, data in (("Dockerfile", df), ("layer.tar", buf.getvalue()), ("f", b"hi\n")):
            ti = tarfile.TarInfo(n)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    d.cli("build", "-q", "-t", tag, "-", input=ctx.getvalue(), check=True, timeout=120)


def test_what_a_non_root_container_user_reads(d, tmp_path):
    tag = f"modes-{name()}"
    _image(d, tag)
    vol = f"v-{name()}"
    host = tmp_path / "made" / "by" / "run"
    try:
        res = d.cli(
            "run", "--rm", "-u", "1000:1000", "-w", "/work/dir", "-v", f"{vol}:/vol",
            "-v", f"{host}:/hostdir", tag, "sh", "-c",
            "cat /etc/hosts /etc/resolv.conf /etc/hostname /implicit/sub/file /new/dir/f"
            " >/dev/null && ls / /bin /vol /hostdir /dir755 >/dev/null && "
            "stat -c '%a %n' / /etc/hosts /etc/resolv.conf /etc/hostname /work /work/dir"
            " /vol /dir700 /dir755 /file640 /implicit /implicit/sub /implicit/sub/file"
            " /fifo /new /new/dir /tmp", check=True)
        modes = dict(reversed(line.split(" ", 1)) for line in
                     res.stdout.decode().splitlines())
        assert modes == {
            "/": "755", "/etc/hosts": "644", "/etc/resolv.conf": "644",
            "/etc/hostname": "644", "/work": "755", "/work/dir": "755", "/vol": "755",
            "/dir700": "700", "/dir755": "755", "/file640": "640", "/implicit": "755",
            "/implicit/sub": "755", "/implicit/sub/file": "644", "/fifo": "620",
            "/new": "755", "/new/dir": "755", "/tmp": "1777"}, modes
        # -v creates a missing host directory 0755, parents too, as docker does
        for p in (host, host.parent, host.parent.parent):
            assert _mode(str(p)) == 0o755, p
        # a build step running as a user sees the same
        ctx = io.BytesIO()
        with tarfile.open(fileobj=ctx, mode="w") as tf:
            df = (f"FROM {tag}\nUSER 1000\nRUN cat /etc/hosts /new/dir/f /implicit/sub/file"
                  " && ls / >/dev/null\n").encode()
            ti = tarfile.TarInfo("Dockerfile")
            ti.size = len(df)
            tf.addfile(ti, io.BytesIO(df))
        d.cli("build", "-q", "-", input=ctx.getvalue(), check=True, timeout=120)
        # cp into a container: directories the archive implies are 0755
        c = name()
        d.cli("create", "--name", c, tag, "true", check=True)
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tf:
            ti = tarfile.TarInfo("a/b/c")
            ti.size, ti.mode = 2, 0o644
            tf.addfile(ti, io.BytesIO(b"x\n"))
        d.cli("cp", "-", f"{c}:/", input=buf.getvalue(), check=True)
        upper = os.path.join(d.root, "containers", _cid(d, c), "upper")
        assert _mode(os.path.join(upper, "a")) == 0o755
        assert _mode(os.path.join(upper, "a", "b")) == 0o755
        d.cli("rm", c, check=True)
    finally:
        d.cli("volume", "rm", "-f", vol)
        d.cli("rmi", "-f", tag)


def test_an_existing_install_is_fixed_at_start(d):
    """Modes an older dockling left (0755 dirs, 0644 secrets) are tightened at start."""
    n = name()
    d.cli("run", "-d", "--name", n, "-e", "SECRET=hunter2", "busybox", "sleep", "300",
          check=True)
    cid = _cid(d, n)
    try:
        cdir = os.path.join(d.root, "containers", cid)
        loose = {d.root: 0o755, os.path.join(d.root, "containers"): 0o755,
                 os.path.join(d.root, "layers"): 0o755,
                 os.path.join(d.root, "volumes"): 0o755, cdir: 0o755,
                 os.path.join(d.root, "dockling.db"): 0o644,
                 os.path.join(cdir, "config.json"): 0o644,
                 os.path.join(cdir, f"{cid}-json.log"): 0o644,
                 os.path.join(d.exec_root, "containers"): 0o755,
                 os.path.join(d.exec_root, "runtime"): 0o755}
        d.stop()
        for path, mode in loose.items():
            os.chmod(path, mode)
        d.start()
        want = {d.root: 0o711, os.path.join(d.root, "containers"): 0o710,
                os.path.join(d.root, "layers"): 0o710,
                os.path.join(d.root, "volumes"): 0o700, cdir: 0o700,
                os.path.join(d.root, "dockling.db"): 0o600,
                os.path.join(cdir, "config.json"): 0o600,
                os.path.join(cdir, f"{cid}-json.log"): 0o600,
                os.path.join(d.exec_root, "containers"): 0o700,
                os.path.join(d.exec_root, "runtime"): 0o700}
        assert {p: oct(_mode(p)) for p in want} == {p: oct(m) for p, m in want.items()}
        # the container kept running through the restart
        assert d.cli("inspect", "-f", "{{.State.Running}}", n).stdout.strip() == b"true"
    finally:
        d.cli("rm", "-f", n)
