"""dockling/shim/client.py against a socket that speaks the shim's protocol: one JSON
line per connection, then the reply and a stream. No shim, no root."""

from __future__ import annotations

import asyncio
import json
import os

import pytest

from dockling.errors import InternalError
from dockling.shim.client import ShimClient


def serve(state_dir: str, handle):
    """A server on <state_dir>/shim.sock; ``handle(request, writer)`` answers."""

    async def on_conn(reader, writer) -> None:
        line = await reader.readline()
        await handle(json.loads(line), reader, writer)

    return asyncio.start_unix_server(on_conn, os.path.join(state_dir, "shim.sock"))


def test_open_sends_one_line_and_hands_back_the_stream(tmp_path):
    seen = []

    async def handle(req, reader, writer) -> None:
        seen.append(req)
        writer.write(b'{"ok": true}\n')
        writer.write(b"output")  # the stream after the reply
        await writer.drain()
        data = await reader.read(100)  # what the client sends on the stream
        writer.write(b"|" + data)
        writer.close()

    async def main():
        srv = await serve(str(tmp_path), handle)
        async with srv:
            reply, reader, writer = await ShimClient(str(tmp_path), "c" * 64).open(
                {"op": "attach", "stdin": True})
            writer.write(b"input")
            await writer.drain()
            writer.write_eof()
            data = await reader.read()
            writer.close()
            return reply, data

    reply, data = asyncio.run(main())
    assert seen == [{"op": "attach", "stdin": True}]
    assert reply == {"ok": True}
    assert data == b"output|input"


def test_resize_names_the_exec_only_when_given(tmp_path):
    seen = []

    async def handle(req, reader, writer) -> None:
        seen.append(req)
        writer.write(b'{"ok": true}\n')
        writer.close()

    async def main() -> None:
        srv = await serve(str(tmp_path), handle)
        async with srv:
            client = ShimClient(str(tmp_path), "c" * 64)
            await client.resize(24, 80)
            await client.resize(30, 100, "e" * 64)

    asyncio.run(main())
    assert seen == [{"op": "resize", "height": 24, "width": 80},
                    {"op": "resize", "height": 30, "width": 100, "exec": "e" * 64}]


def test_a_shim_that_hangs_up_before_answering(tmp_path):
    async def handle(req, reader, writer) -> None:
        writer.close()

    async def main():
        srv = await serve(str(tmp_path), handle)
        async with srv:
            client = ShimClient(str(tmp_path), "c" * 64)
            with pytest.raises(InternalError, match="shim closed the stream"):
                await client.open({"op": "exec"})
            return await client.wait()  # the watcher reads exit.json instead

    assert asyncio.run(main()) is None


def test_no_shim(tmp_path):
    async def main():
        client = ShimClient(str(tmp_path), "c" * 64)
        with pytest.raises(InternalError, match="cannot reach the shim of cccccccccccc"):
            await client.call({"op": "resize", "height": 1, "width": 1})
        return await client.wait()

    assert asyncio.run(main()) is None


def test_a_deep_state_dir_is_reached_past_sun_path(tmp_path):
    deep = tmp_path / ("d" * 60) / ("e" * 60)
    deep.mkdir(parents=True)

    async def handle(req, reader, writer) -> None:
        writer.write(json.dumps({"ExitCode": 3}).encode() + b"\n")
        writer.close()

    async def main():
        cwd = os.getcwd()
        os.chdir(deep)  # bind by a short relative name: the real path is past sun_path
        try:
            srv = await asyncio.start_unix_server(
                lambda r, w: _first_line_then(handle, r, w), "shim.sock")
        finally:
            os.chdir(cwd)
        async with srv:
            return await ShimClient(str(deep), "c" * 64).wait()

    assert len(str(deep / "shim.sock").encode()) > 108
    assert asyncio.run(main()) == {"ExitCode": 3}


async def _first_line_then(handle, reader, writer) -> None:
    line = await reader.readline()
    await handle(json.loads(line), reader, writer)
