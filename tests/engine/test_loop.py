"""The daemon's event loop never stalls: slow work (tar packing, tree walks,
subprocesses) runs in worker threads while the loop keeps answering."""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from tests.engine.conftest import name

GB = 1 << 30


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
