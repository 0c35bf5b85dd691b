"""cp (both ways, stopped or running), export, and hostile paths and archives."""

from __future__ import annotations

import io
import os
import tarfile
import time

from tests.engine.conftest import name


def _tar(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for ti, data in entries:
            tf.addfile(ti, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _file(n: str, data: bytes):
    ti = tarfile.TarInfo(n)
    ti.size = len(data)
    return ti, data


def test_cp_from_stopped_container(daemon, tmp_path):
    c = name()
    daemon.cli("create", "--name", c, "busybox", check=True)
    daemon.cli("cp", f"{c}:/etc/passwd", str(tmp_path / "p"), check=True)
    assert (tmp_path / "p").read_text().startswith("root:x:0:0")
    daemon.cli("cp", f"{c}:/etc", str(tmp_path / "e"), check=True)  # new name
    assert sorted(os.listdir(tmp_path / "e")) == ["group", "passwd"]
    (tmp_path / "into").mkdir()
    res = daemon.cli("cp", f"{c}:/etc", str(tmp_path / "into"), check=True)
    assert b"Successfully copied" in res.stderr
    assert (tmp_path / "into" / "etc" / "passwd").exists()
    res = daemon.cli("cp", f"{c}:/nope", str(tmp_path))
    assert res.returncode == 1 and b"Could not find the file /nope in container" in res.stderr
    # the overlay was mounted for the copy only
    cid = daemon.cli("inspect", "-f", "{{.Id}}", c).stdout.decode().strip()
    assert not os.path.ismount(os.path.join(daemon.root, "containers", cid, "merged"))
    daemon.cli("rm", c, check=True)


def test_cp_into_running_container_and_volume(daemon, tmp_path):
    c = name()
    vol = f"v-{c}"
    daemon.cli("run", "-d", "--name", c, "-v", f"{vol}:/vol", "busybox", "sleep", "300",
               check=True)
    src = tmp_path / "f"
    src.write_text("hello")
    daemon.cli("cp", str(src), f"{c}:/tmp/", check=True)
    daemon.cli("cp", str(src), f"{c}:/renamed", check=True)
    daemon.cli("cp", str(src), f"{c}:/vol/", check=True)
    d = tmp_path / "dir"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "x").write_text("x")
    daemon.cli("cp", str(d), f"{c}:/tmp", check=True)
    out = daemon.cli("exec", c, "sh", "-c", "cat /tmp/f /renamed /vol/f /tmp/dir/sub/x",
                     check=True)
    assert out.stdout == b"hellohellohellox"
    with open(os.path.join(daemon.root, "volumes", vol, "_data", "f")) as f:
        assert f.read() == "hello"  # written to the volume, not under it
    # cp - streams a tar
    out = daemon.cli("cp", f"{c}:/tmp/dir", "-", check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tf:
        assert sorted(tf.getnames()) == ["dir", "dir/sub", "dir/sub/x"]
    daemon.cli("cp", "-", f"{c}:/tmp", input=_tar([_file("fromstdin", b"in")]), check=True)
    assert daemon.cli("exec", c, "cat", "/tmp/fromstdin").stdout == b"in"
    daemon.cli("rm", "-f", c, check=True)
    daemon.cli("volume", "rm", vol, check=True)


def test_cp_never_leaves_the_container(daemon, tmp_path):
    c = name()
    daemon.cli("run", "-d", "--name", c, "busybox", "sleep", "300", check=True)
    daemon.cli("exec", c, "sh", "-c", "ln -s / /tmp/root; ln -s ../../../../../.. /tmp/up; "
               "ln -s /etc/shadow /tmp/shadow", check=True)
    marker = f"dockling-cp-{c}"
    src = tmp_path / marker
    src.write_text("x")
    # symlinks resolve inside the container: into its /, never the host's
    daemon.cli("cp", str(src), f"{c}:/tmp/root/", check=True)
    daemon.cli("cp", str(src), f"{c}:/tmp/up/", check=True)
    assert not os.path.exists(f"/{marker}")
    daemon.cli("exec", c, "test", "-f", f"/{marker}", check=True)
    # a link is copied out as a link, not the host file it names
    daemon.cli("cp", f"{c}:/tmp/shadow", str(tmp_path / "s"), check=True)
    assert os.readlink(tmp_path / "s") == "/etc/shadow"
    # hostile archives: .. entries and writes through a symlink are refused
    up = tarfile.TarInfo("../../../../../../../tmp/" + marker + "-dotdot")
    up.size = 1
    st, _, body = daemon.api("PUT", f"/containers/{c}/archive?path=/tmp",
                             _tar([(up, b"x")]))
    assert st == 400 and "points outside" in body["message"]
    link = tarfile.TarInfo("evil")
    link.type = tarfile.SYMTYPE
    link.linkname = "/"
    st, _, body = daemon.api("PUT", f"/containers/{c}/archive?path=/tmp", _tar(
        [(link, None), _file(f"evil/tmp/{marker}-link", b"x")]))
    assert st == 400
    assert not os.path.exists(f"/tmp/{marker}-dotdot")
    assert not os.path.exists(f"/tmp/{marker}-link")
    st, _, _ = daemon.api("PUT", f"/containers/{c}/archive?path=/etc/passwd",
                          _tar([_file("x", b"x")]))
    assert st == 400  # not a directory
    daemon.cli("rm", "-f", c, check=True)


def test_cp_read_only_rootfs(daemon, tmp_path):
    c = name()
    daemon.cli("run", "-d", "--read-only", "--name", c, "busybox", "sleep", "300",
               check=True)
    (tmp_path / "f").write_text("x")
    res = daemon.cli("cp", str(tmp_path / "f"), f"{c}:/tmp/")
    assert res.returncode == 1 and b"container rootfs is marked read-only" in res.stderr
    daemon.cli("rm", "-f", c, check=True)


def test_export(daemon, tmp_path):
    c = name()
    daemon.cli("run", "--name", c, "busybox", "sh", "-c", "echo mine > /mine", check=True)
    out = tmp_path / "x.tar"
    daemon.cli("export", "-o", str(out), c, check=True)
    with tarfile.open(out) as tf:
        names = tf.getnames()
        assert "mine" in names and "bin/busybox" in names and "etc/passwd" in names
        assert tf.extractfile("mine").read() == b"mine\n"
    daemon.cli("rm", c, check=True)


def test_pause_stats(daemon):
    c = name()
    daemon.cli("run", "-d", "--name", c, "-m", "64m", "busybox", "sh", "-c",
               "while :; do :; done", check=True)
    out = daemon.cli("stats", "--no-stream", c, check=True).stdout.decode().splitlines()
    assert out[0].split("   ")[0] == "CONTAINER ID"
    cols = [x.strip() for x in out[1].split("  ") if x.strip()]
    cpu = float(cols[2].rstrip("%"))
    assert cpu > 20  # a busy loop shows up
    assert cols[3].endswith("/ 64MiB") and cols[7] == "1"
    daemon.cli("pause", c, check=True)
    assert "(Paused)" in daemon.cli("ps", "-f", f"name={c}").stdout.decode()
    out = daemon.cli("stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}", c,
                     check=True).stdout.decode().split()
    assert out == [c, "0.00%"]  # frozen: no CPU time at all
    res = daemon.cli("exec", c, "true")
    assert res.returncode == 1 and b"is paused" in res.stderr
    res = daemon.cli("pause", c)
    assert res.returncode == 1 and b"is already paused" in res.stderr
    daemon.cli("unpause", c, check=True)
    res = daemon.cli("unpause", c)
    assert res.returncode == 1 and b"is not paused" in res.stderr
    daemon.cli("exec", c, "true", check=True)
    daemon.cli("rm", "-f", c, check=True)


# -- a container racing the daemon (CVE-2018-15664 class) ----------------------------------
# It swaps /x/d between a directory and a symlink to a host directory as fast as a
# shell can. The symlink's target does not exist inside the container; a daemon
# that resolves or opens by path on the host follows it out of the container.

def _racer(daemon, host_dir: str) -> str:
    c = name()
    script = (f"mkdir -p /x/d; i=0; while [ $i -lt 20 ]; do echo inside > /x/d/f$i; "
              f"i=$((i+1)); done; ln -s {host_dir} /x/l; "
              "while :; do mv /x/d /x/t; mv /x/l /x/d; mv /x/d /x/l; mv /x/t /x/d; done")
    daemon.cli("run", "-d", "--name", c, "busybox", "sh", "-c", script, check=True)
    for _ in range(100):  # wait for the loop to run
        if daemon.cli("exec", c, "test", "-L", "/x/l").returncode == 0:
            break
    return c


def _host_dir(tmp_path, with_secrets: bool = False) -> str:
    host = tmp_path / "host"
    host.mkdir()
    if with_secrets:
        for i in range(20):
            (host / f"f{i}").write_text("HOSTSECRET\n")
            (host / f"host{i}").write_text("HOSTSECRET\n")
    return str(host)


def test_cp_into_a_racing_container_never_writes_to_the_host(daemon, tmp_path):
    host = _host_dir(tmp_path)
    c = _racer(daemon, host)
    archive = _tar([_file(f"planted{i}", b"x") for i in range(5)])
    try:
        for _ in range(300):
            daemon.api("PUT", f"/containers/{c}/archive?path=/x/d", archive)
            assert os.listdir(host) == [], "cp wrote into the host"
        # it is running again afterwards (cp paused it)
        state = daemon.cli("inspect", "-f", "{{.State.Status}}", c).stdout.decode().strip()
        assert state == "running"
    finally:
        daemon.cli("rm", "-f", c)


def test_cp_from_a_racing_container_never_reads_the_host(daemon, tmp_path):
    host = _host_dir(tmp_path, with_secrets=True)
    c = _racer(daemon, host)
    try:
        for _ in range(300):
            st, _, body = daemon.api("GET", f"/containers/{c}/archive?path=/x")
            if st == 200:
                assert b"HOSTSECRET" not in body and b"host1" not in body
    finally:
        daemon.cli("rm", "-f", c)


def test_export_of_a_racing_container_never_reads_the_host(daemon, tmp_path):
    host = _host_dir(tmp_path, with_secrets=True)
    c = _racer(daemon, host)
    try:
        for _ in range(40):
            st, _, body = daemon.api("GET", f"/containers/{c}/export")
            assert st == 200, body
            assert b"HOSTSECRET" not in body and b"host1" not in body
    finally:
        daemon.cli("rm", "-f", c)


def test_commit_of_a_racing_container_never_reads_the_host(daemon, tmp_path):
    host = _host_dir(tmp_path, with_secrets=True)
    c = _racer(daemon, host)
    images: list[str] = []
    try:
        for _ in range(30):
            st, _, body = daemon.api("POST", f"/commit?container={c}")
            assert st == 201, body
            images.append(body["Id"])
        for image_id in images:
            img = daemon.api("GET", f"/images/{image_id}/json")[2]
            top = img["GraphDriver"]["Data"]["UpperDir"]
            for dirpath, _dirs, files in os.walk(top):
                for f in files:
                    assert not f.startswith("host"), f"{dirpath}/{f} came from the host"
                    p = os.path.join(dirpath, f)
                    if os.path.isfile(p) and not os.path.islink(p):
                        with open(p, "rb") as fh:
                            assert fh.read(10) != b"HOSTSECRET", p
    finally:
        daemon.cli("rm", "-f", c)
        for image_id in images:
            daemon.cli("rmi", image_id)


def test_commit_pauses_a_running_container(daemon):
    c = name()
    daemon.cli("run", "-d", "--name", c, "busybox", "sleep", "300", check=True)
    st, _, body = daemon.api("POST", f"/commit?container={c}&repo=committed-{c}")
    assert st == 201
    assert daemon.cli("inspect", "-f", "{{.State.Status}}", c).stdout.strip() == b"running"
    res = daemon.cli("events", "--since", "0", "--until", str(int(time.time()) + 1),
                     "--filter", f"container={c}", "--format", "{{.Action}}")
    # docker commit pauses (and then unpauses) a running container by default
    assert res.stdout.decode().split()[-3:] == ["pause", "commit", "unpause"]
    daemon.cli("rm", "-f", c, check=True)
    daemon.cli("rmi", f"committed-{c}", check=True)


def test_commit_with_pause_0_does_not_pause(daemon):
    c = name()
    daemon.cli("run", "-d", "--name", c, "busybox", "sleep", "300", check=True)
    st, _, body = daemon.api("POST", f"/commit?container={c}&repo=nopause-{c}&pause=0")
    assert st == 201, body
    res = daemon.cli("events", "--since", "0", "--until", str(int(time.time()) + 1),
                     "--filter", f"container={c}", "--format", "{{.Action}}")
    actions = res.stdout.decode().split()
    assert "commit" in actions and "pause" not in actions, actions
    daemon.cli("rm", "-f", c, check=True)
    daemon.cli("rmi", f"nopause-{c}", check=True)


def test_cp_of_files_bound_on_their_own(daemon, tmp_path):
    """-v /host/file:/ctr/file, and the daemon's /etc/hostname, /etc/hosts and
    /etc/resolv.conf: cp reads the bound file (the rootfs has only an empty stub)."""
    src = tmp_path / "single.txt"
    src.write_text("content\n")
    c = name()
    daemon.cli("run", "-d", "--name", c, "--hostname", "cphost", "-v", f"{src}:/mnt/b.txt",
               "busybox", "sleep", "300", check=True)
    try:
        out = tmp_path / "out"
        out.mkdir()
        for path in ("/mnt/b.txt", "/etc/hostname", "/etc/hosts", "/etc/resolv.conf"):
            daemon.cli("cp", f"{c}:{path}", str(out), check=True)
        assert (out / "b.txt").read_text() == "content\n"  # named as in the container
        assert (out / "hostname").read_text() == "cphost\n"
        assert "localhost" in (out / "hosts").read_text()
        assert (out / "resolv.conf").stat().st_size > 0
        res = daemon.cli("cp", f"{c}:/mnt/b.txt/x", str(out))
        assert res.returncode == 1 and b"Could not find the file /mnt/b.txt/x" in res.stderr
    finally:
        daemon.cli("rm", "-f", c)
