"""The daemon's event loop never stalls: slow work (tar packing, tree walks,
subprocesses) runs in worker threads while the loop keeps answering."""

from __future__ import annotations

import contextlib
import io
import json
import multiprocessing
import os
import shutil
import socket
import tarfile
import threading
import time

import pytest

from tests.engine.conftest import name, running_daemon

GB = 1 << 30
MB = 1 << 20


def _ping(sock: str) -> float:
    """Seconds from connect to the end of a /_ping answer (a fresh connection)."""
    t0 = time.monotonic()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    try:
        s.connect(sock)
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    finally:
        s.close()
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"OK"), data[:200]
    return time.monotonic() - t0


def _drain(sock: str, path: str) -> int:
    """GET path, read the whole (chunked) body; its size in bytes, roughly."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(300)
    s.connect(sock)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n\r\n".encode())
    n = 0
    head = b""
    while chunk := s.recv(1 << 20):
        if not head:
            head = chunk[:12]
        n += len(chunk)
    s.close()
    assert head.startswith(b"HTTP/1.1 200"), head
    return n


@pytest.mark.timeout(600)
def test_ping_answers_within_100ms_during_1gb_export_and_save(daemon):
    n = name()
    daemon.cli("create", "--name", n, "busybox", "true", check=True)
    cid = daemon.cli("inspect", "-f", "{{.Id}}", n, check=True).stdout.decode().strip()
    # 1 GB of holes in the container's writable layer: made at once, read as zeros
    with open(os.path.join(daemon.root, "containers", cid, "upper", "big"), "wb") as f:
        f.truncate(GB)
    image = f"big-{n}"
    daemon.cli("commit", n, image, check=True, timeout=300)  # an image with a 1 GB layer
    try:
        latencies: list[float] = []
        sizes: dict[str, int] = {}
        stop = threading.Event()

        def pinger() -> None:
            while not stop.is_set():
                latencies.append(_ping(daemon.sock))
                time.sleep(0.02)

        def fetch(key: str, path: str) -> None:
            sizes[key] = _drain(daemon.sock, path)

        p = threading.Thread(target=pinger)
        p.start()
        try:
            jobs = [threading.Thread(target=fetch, args=("export", f"/containers/{cid}/export")),
                    threading.Thread(target=fetch, args=("save", f"/images/{image}/get"))]
            for j in jobs:
                j.start()
            for j in jobs:
                j.join(500)
        finally:
            stop.set()
            p.join(60)
        assert sizes.get("export", 0) > GB and sizes.get("save", 0) > GB, sizes
        assert len(latencies) > 20
        worst = sorted(latencies)[-5:]
        assert max(latencies) < 0.1, f"slowest pings (s): {worst}"
    finally:
        daemon.cli("rm", "-f", n)
        daemon.cli("rmi", "-f", image)


# -- each slow operation, with the loop watched ---------------------------------------

_SLOW_TOOL = """#!/bin/sh
{cond}
exec {real} "$@"
"""


@pytest.fixture(scope="module")
def slow_daemon(tmp_path_factory, busybox_tar):
    """A daemon whose `ps` takes 0.6 s and whose iptables port rules take 0.3 s
    each: a call of either on the event loop stalls it visibly."""
    bindir = tmp_path_factory.mktemp("slowbin")
    tools = {"ps": "sleep 0.6",
             "iptables": 'case "$*" in *--dport*) sleep 0.3;; esac'}
    for tool, cond in tools.items():
        real = shutil.which(tool)
        if real is None:
            pytest.skip(f"no {tool}")
        path = bindir / tool
        path.write_text(_SLOW_TOOL.format(cond=cond, real=real))
        path.chmod(0o755)
    old = os.environ["PATH"]
    os.environ["PATH"] = f"{bindir}:{old}"
    try:
        with running_daemon(tmp_path_factory, busybox_tar) as d:
            os.environ["PATH"] = old  # the daemon has it; the CLI and tests need not
            yield d
    finally:
        os.environ["PATH"] = old


@contextlib.contextmanager
def _watched(sock: str, what: str, stalls: list[str], bound: float = 0.25):
    """Ping all along the block; note it in ``stalls`` if an answer took ``bound``
    seconds or more. The pings come from a process of their own: a thread of this
    one would measure this process too (joining a 300 MB answer holds its GIL)."""
    ctx = multiprocessing.get_context("fork")
    stop, results = ctx.Event(), ctx.Queue()
    p = ctx.Process(target=_pinger, args=(sock, stop, results))
    p.start()
    try:
        yield
    finally:
        stop.set()
        latencies = results.get(timeout=60)
        p.join(60)
    assert latencies, what
    if max(latencies) >= bound:
        stalls.append(f"{what}: the loop stalled {max(latencies):.2f} s")


def _pinger(sock: str, stop, results) -> None:
    latencies: list[float] = []
    while not stop.is_set():
        t0 = time.monotonic()
        try:
            latencies.append(_ping(sock))
        except OSError:  # no answer within the ping's 30 s
            latencies.append(time.monotonic() - t0)
        time.sleep(0.02)
    results.put(latencies)


def _request(sock: str, method: str, path: str, body: bytes = b"",
             ctype: str = "application/json") -> tuple[int, bytes]:
    """One request on a fresh connection; (status, raw body incl. chunk framing)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(300)
    s.connect(sock)
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: d\r\nConnection: close\r\n"
              f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    if body:
        s.sendall(body)
    parts = []
    while chunk := s.recv(MB):
        parts.append(chunk)
    s.close()
    head, _, rest = b"".join(parts).partition(b"\r\n\r\n")
    return int(head.split()[1]), rest


def _sparse_tar(path: str, size: int, name: str = "big", files: int = 0) -> None:
    """A tar holding a file of ``size`` zero bytes (read from a sparse file) and
    ``files`` small files."""
    src = path + ".src"
    with open(src, "wb") as f:
        f.truncate(size)
    with tarfile.open(path, "w") as tf:
        tf.add(src, arcname=name)
        for i in range(files):
            ti = tarfile.TarInfo(f"many/d{i // 100}/f{i % 100}")
            ti.size = 1
            tf.addfile(ti, io.BytesIO(b"x"))
    os.unlink(src)


def _many_files(root: str, n: int) -> None:
    for i in range(n // 100):
        d = os.path.join(root, f"d{i}")
        os.makedirs(d)
        for j in range(100):
            with open(os.path.join(d, f"f{j}"), "wb") as f:
                f.write(b"x")


@pytest.mark.timeout(900)
def test_the_loop_answers_during_each_slow_operation(slow_daemon, tmp_path):
    d = slow_daemon
    sock = d.sock
    stalls: list[str] = []

    # top: `ps` runs in a thread
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    with _watched(sock, "top", stalls):
        assert d.cli("top", n, check=True).stdout
    # published ports: the iptables rules are made (and dropped) on their own thread
    p = name()
    with _watched(sock, "run -p", stalls):
        d.cli("run", "-d", "--name", p, "-p", "80", "-p", "81", "busybox", "sleep",
              "300", check=True)
    with _watched(sock, "rm -f of a container with published ports", stalls):
        d.cli("rm", "-f", p, check=True)
    d.cli("rm", "-f", n, check=True)

    # a container with 30,000 files and a 300 MB file in its writable layer
    c = name()
    d.cli("create", "--name", c, "busybox", "true", check=True)
    cid = d.cli("inspect", "-f", "{{.Id}}", c, check=True).stdout.decode().strip()
    upper = os.path.join(d.root, "containers", cid, "upper")
    _many_files(upper, 30_000)
    with open(os.path.join(upper, "big"), "wb") as f:
        f.truncate(300 * MB)
    # its log: 2 x 40 MB of json-file lines, one file rotated
    line = json.dumps({"log": "y" * 200 + "\n", "stream": "stdout",
                       "time": "2024-01-01T00:00:00.000000000Z"}).encode() + b"\n"
    log = os.path.join(d.root, "containers", cid, f"{cid}-json.log")
    for path in (log + ".1", log):
        with open(path, "wb") as f:
            f.write(line * (40 * MB // len(line)))
    with _watched(sock, "logs of 80 MB, rotated", stalls):
        status, body = _request(sock, "GET", f"/containers/{cid}/logs?stdout=1&tail=all")
        assert status == 200 and len(body) > 50 * MB
    with _watched(sock, "diff", stalls):
        status, body = _request(sock, "GET", f"/containers/{cid}/changes")
        assert status == 200 and b"/big" in body
    with _watched(sock, "system df", stalls):
        status, body = _request(sock, "GET", "/system/df")
        assert status == 200
    with _watched(sock, "cp from a container", stalls):
        status, body = _request(sock, "GET", f"/containers/{cid}/archive?path=/big")
        assert status == 200 and len(body) > 300 * MB
    tar = str(tmp_path / "in.tar")
    _sparse_tar(tar, 300 * MB, "in", files=30_000)
    with open(tar, "rb") as f:
        data = f.read()
    with _watched(sock, "cp into a container", stalls):
        status, _ = _request(sock, "PUT", f"/containers/{cid}/archive?path=/", data,
                             "application/x-tar")
        assert status == 200
    with _watched(sock, "import", stalls):
        status, body = _request(sock, "POST", f"/images/create?fromSrc=-&repo=imp-{c}", data,
                                "application/x-tar")
        assert status == 200, body
    del data
    with _watched(sock, "load", stalls):
        save = str(tmp_path / "save.tar")
        d.cli("save", "-o", save, f"imp-{c}", check=True, timeout=300)
        d.cli("rmi", f"imp-{c}", check=True)
        with open(save, "rb") as f:
            status, body = _request(sock, "POST", "/images/load?quiet=1", f.read(),
                                    "application/x-tar")
        assert status == 200, body
    with _watched(sock, "rmi of an image of 30,000 files", stalls):
        d.cli("rmi", f"imp-{c}", check=True)
    with _watched(sock, "rm of a container with 30,000 files", stalls):
        d.cli("rm", c, check=True)
    # container prune: its sizes are walked in a thread
    c2 = name()
    d.cli("create", "--name", c2, "busybox", "true", check=True)
    cid2 = d.cli("inspect", "-f", "{{.Id}}", c2, check=True).stdout.decode().strip()
    _many_files(os.path.join(d.root, "containers", cid2, "upper"), 60_000)
    with _watched(sock, "container prune", stalls):
        d.cli("container", "prune", "-f", check=True)
    assert not stalls, "\n".join(stalls)
