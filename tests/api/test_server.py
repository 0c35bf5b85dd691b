"""api/server.py without a daemon: the socket it serves on."""

from __future__ import annotations

import asyncio
import grp
import os
import socket
import stat

import pytest

from dockling.api import routing, server


def _some_group() -> grp.struct_group:
    for name in ("nogroup", "daemon", "users"):
        try:
            return grp.getgrnam(name)
        except KeyError:
            continue
    pytest.skip("no spare group")


def test_the_socket_has_its_mode_and_group_before_it_appears(tmp_path, monkeypatch):
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    group = _some_group()
    path = str(tmp_path / "d.sock")
    with open(path, "w"):
        pass  # what a killed daemon left: replaced
    seen: list[tuple[int, int, bool]] = []
    real_rename = os.rename

    def rename(src, dst):
        st = os.stat(src)
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(src)
            listening = True
        except OSError:
            listening = False
        finally:
            probe.close()
        seen.append((stat.S_IMODE(st.st_mode), st.st_gid, listening))
        return real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    old = os.umask(0)  # the most permissive umask an embedding program could have

    async def main() -> None:
        srv = await server.serve_unix(routing.Router(), path, group=group.gr_name)
        srv.close()
        await srv.wait_closed()

    try:
        asyncio.run(main())
    finally:
        os.umask(old)
    assert seen == [(0o660, group.gr_gid, True)]
    st = os.stat(path)
    assert stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o660
    assert st.st_gid == group.gr_gid
    assert os.listdir(tmp_path) == ["d.sock"]


def test_without_the_group_the_socket_is_roots(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    path = str(tmp_path / "d.sock")

    async def main() -> None:
        srv = await server.serve_unix(routing.Router(), path, group="no-such-group-dl")
        srv.close()
        await srv.wait_closed()

    asyncio.run(main())
    st = os.stat(path)
    assert st.st_gid == 0 and stat.S_IMODE(st.st_mode) == 0o660


def test_a_hijack_starts_at_once_and_its_bytes_follow_the_head(tmp_path):
    """The route's work (an exec's start) runs before the client has read the 101;
    what it writes meanwhile reaches the client after the head, never in the read
    that takes it (docker-py reads the head through a buffer, then the raw socket)."""
    import threading

    path = str(tmp_path / "d.sock")
    route_ran = threading.Event()
    ready = threading.Event()

    async def hijacked(creader, cwriter, leftover: bytes) -> None:
        route_ran.set()
        cwriter.write(b"stream bytes")
        await cwriter.drain()
        cwriter.write_eof()

    async def start(req):
        return routing.Response(101, content_type="application/vnd.docker.raw-stream",
                               hijack=hijacked)

    router = routing.Router()
    router.add("POST", "/exec/{id}/start", start)
    stop: list = []

    def serve() -> None:
        async def main() -> None:
            srv = await server.serve_unix(router, path)
            done = asyncio.get_running_loop().create_future()
            stop.append((asyncio.get_running_loop(), done))
            ready.set()
            await done
            srv.close()
            await srv.wait_closed()

        asyncio.run(main())

    t = threading.Thread(target=serve)
    t.start()
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        assert ready.wait(10)
        s.connect(path)
        s.sendall(b"POST /exec/x/start HTTP/1.1\r\nHost: docker\r\nContent-Length: 2\r\n"
                  b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n{}")
        assert route_ran.wait(10)  # before we read a byte
        head = s.recv(65536)
        assert head.startswith(b"HTTP/1.1 101 UPGRADED\r\n") and head.endswith(b"\r\n\r\n")
        rest = b""
        while chunk := s.recv(65536):
            rest += chunk
        assert rest == b"stream bytes"
    finally:
        s.close()
        if stop:
            loop, done = stop[0]
            loop.call_soon_threadsafe(done.set_result, None)
        t.join(10)
