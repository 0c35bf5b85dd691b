"""Routes for /containers and /exec: Docker JSON in, engine call, Docker JSON out.

What walks or packs trees (cp, export, commit, diff, sizes) or runs a
program (top's ps) runs in a worker thread (``blocking``): the event loop
serves every other client meanwhile.
"""

from __future__ import annotations

import asyncio
import json
import tempfile

import msgspec

from dockling import background, clock, gojson
from dockling.api import complete, schema, websocket
from dockling.api.routing import Request, Response, Router, empty, json_response, version_key
from dockling.background import blocking, in_thread
from dockling.containers import copy, model, stats
from dockling.containers.attach import Attach
from dockling.containers.execs import ExecConfig
from dockling.containers.logs import parse_since
from dockling.containers.manager import ContainerManager
from dockling.containers.state import status_text
from dockling.errors import DocklingError, InvalidArgument, NotModified
from dockling.formats import detachkeys
from dockling.formats.stdcopy import STDOUT, frame
from dockling.runtime import api_name
from dockling.runtime.process import parse_signal


def routes(r: Router, m: ContainerManager) -> None:
    async def create(req: Request) -> Response:
        warnings: list[str] = []
        body = gojson.convert(schema.strslices(schema.create_body(req.json())),
                            model.CreateRequest)
        c = m.create(body, req.q("name"), warnings)
        return json_response({"Id": c.Id, "Warnings": warnings}, 201)

    async def list_(req: Request) -> Response:
        listed = m.listed(req.qbool("all"), req.filters(), req.qint("limit", -1) or -1)
        return json_response([summary(c, names) for c, names in listed])

    async def inspect(req: Request) -> Response:
        return json_response(complete.container_inspect(
            msgspec.to_builtins(m.get(req.params["id"])), api_name(m.paths.runtime)))

    async def start(req: Request) -> Response:
        try:
            # trace=1 is dockling's own (run --trace): the start's kernel calls are kept
            await m.start(req.params["id"], trace=req.qbool("trace"))
        except NotModified:
            return empty(304)
        return empty(204)

    async def trace(req: Request) -> Response:
        """dockling's own (no docker route): the kernel calls of a start?trace=1."""
        return json_response(m.trace(req.params["id"]))

    async def stop(req: Request) -> Response:
        t = req.qint("t", req.qint("timeout"))
        if not await m.stop(req.params["id"], t, req.q("signal")):
            return empty(304)
        await m.settled()  # docker answers with the ports unpublished
        return empty(204)

    async def restart(req: Request) -> Response:
        await m.stop(req.params["id"], req.qint("t", req.qint("timeout")), req.q("signal"))
        await m.start(req.params["id"])
        return empty(204)

    async def kill(req: Request) -> Response:
        await m.kill_dead(req.params["id"], parse_signal(req.q("signal") or "SIGKILL"))
        return empty(204)

    async def wait(req: Request) -> Response:
        # docker sends the headers at once and the body at exit: its CLI
        # starts the container only after the wait is acknowledged.
        m.check_waitable(req.params["id"])  # 404 now, not mid-stream
        waiting = asyncio.ensure_future(m.wait(req.params["id"],
                                               req.q("condition") or "not-running"))
        await asyncio.sleep(0)  # let the wait register before we answer

        async def body():
            try:
                code = await waiting
                yield json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n"
            except DocklingError as err:
                yield json.dumps({"StatusCode": -1, "Error": {"Message": str(err)}}).encode()
            finally:
                waiting.cancel()  # the client hung up first: nobody waits any more

        return Response(200, content_type="application/json", stream=body())

    async def delete(req: Request) -> Response:
        cid = req.params["id"]
        if req.qbool("link"):
            m.remove_link(cid)
            return empty(204)
        await m.delete(cid, force=req.qbool("force"), volumes=req.qbool("v"))
        await m.settled()  # docker answers with the ports unpublished
        return empty(204)

    async def rename(req: Request) -> Response:
        m.rename(req.params["id"], req.q("name") or "")
        return empty(204)

    async def top(req: Request) -> Response:
        return json_response(await blocking(m.top, req.params["id"], req.q("ps_args") or ""))

    async def prune(req: Request) -> Response:
        filters = req.filters()
        sizes = await blocking(m.prune_sizes, filters)
        deleted, space = m.prune(filters, sizes)
        return json_response({"ContainersDeleted": deleted or None, "SpaceReclaimed": space})

    async def logs(req: Request) -> Response:
        c, _ = m.log_path(req.params["id"])  # a driver that cannot be read: 400 now
        if not (req.qbool("stdout") or req.qbool("stderr")):
            raise InvalidArgument("Bad parameters: you must choose at least one stream")
        parse_since(req.q("since"))  # 400 now, not a stream cut short
        parse_since(req.q("until"), "until")
        gen = m.logs(c.Id, follow=req.qbool("follow"), tail=req.q("tail") or "all",
                     since=req.q("since"), until=req.q("until"),
                     timestamps=req.qbool("timestamps"), stdout=req.qbool("stdout"),
                     stderr=req.qbool("stderr"))
        ctype = "application/vnd.docker.raw-stream" if c.Config.Tty else \
            "application/vnd.docker.multiplexed-stream"
        return Response(200, content_type=ctype, stream=gen)

    async def attach(req: Request) -> Response:
        att = _attach(m, req)
        ctype = "application/vnd.docker.raw-stream" if att.c.Config.Tty else \
            "application/vnd.docker.multiplexed-stream"
        return Response(101, content_type=ctype, hijack=_attacher(att))

    async def attach_ws(req: Request) -> Response:
        """moby's wsContainersAttach: the same attach over a websocket, raw output in
        binary frames (text before API 1.28)."""
        m.get(req.params["id"])
        headers = websocket.accept(req.headers)
        run = _attacher(_attach(m, req, raw=True))
        binary = req.version is None or version_key(req.version) >= (1, 28)

        async def over_ws(creader, cwriter, leftover: bytes) -> None:
            ws = websocket.Stream(creader, cwriter, leftover, binary)
            await run(ws, ws, b"")

        return Response(101, headers=headers, hijack=over_ws)

    async def resize(req: Request) -> Response:
        await m.resize(req.params["id"], req.qint("h", 0), req.qint("w", 0))
        return empty(200)

    async def exec_create(req: Request) -> Response:
        eid = m.exec_create(req.params["id"], gojson.convert(
            schema.strslices(req.json()), ExecConfig))
        return json_response({"Id": eid}, 201)

    async def exec_start(req: Request) -> Response:
        ex = m.exec_startable(req.params["id"])
        body = req.json()
        # The start's Tty picks the framing only; the process has the pty that
        # exec create asked for (moby's postContainerExecStart).
        tty = bool(body.get("Tty"))
        if body.get("Detach"):
            sreader, swriter = await m.exec_start(ex.ID, frame=not tty)
            background.spawn(m.exec_detached(ex.ID, sreader, swriter), f"exec {ex.ID[:12]}")
            return empty(200)
        keys = m.exec_detach_keys(ex)

        async def run(creader, cwriter, leftover: bytes) -> None:
            # docker answers 101 first and starts the process after: its output
            # must not reach the client in the read that takes the headers (docker-py
            # reads the stream from the raw socket and would lose it); an error to
            # start it goes down the stream, as docker writes it.
            try:
                sreader, swriter = await m.exec_start(ex.ID, frame=not tty)
            except DocklingError as err:
                msg = f"{err}\r\n".encode()
                cwriter.write(msg if tty else frame(STDOUT, msg))
                await _close(cwriter)
                return
            await _pump(sreader, swriter, ex.OpenStdin, keys)(creader, cwriter, leftover)
            m.exec_ended(ex.ID)

        ctype = "application/vnd.docker.raw-stream" if tty else \
            "application/vnd.docker.multiplexed-stream"
        return Response(101, content_type=ctype, hijack=run)

    async def exec_inspect(req: Request) -> Response:
        return json_response(complete.exec_inspect(msgspec.to_builtins(
            m.exec_get(req.params["id"]))))

    async def exec_resize(req: Request) -> Response:
        ex = m.exec_get(req.params["id"])
        await m.resize(ex.ContainerID, req.qint("h", 0), req.qint("w", 0), ex.ID)
        return empty(200)

    async def pause(req: Request) -> Response:
        m.pause(req.params["id"])
        return empty(204)

    async def unpause(req: Request) -> Response:
        m.unpause(req.params["id"])
        return empty(204)

    async def stats_(req: Request) -> Response:
        """One document a second; stream=false: one, with a previous sample
        taken half a second before (for CPU %) unless one-shot."""
        c = m.get(req.params["id"])
        mem_total = stats.host_memory()
        stream = req.qbool("stream", True)

        def reading(previous):
            return m.stats_reading(c.Id, previous, mem_total)

        if not stream:
            doc, prev = reading(None)
            if prev is not None and not req.qbool("one-shot"):
                await asyncio.sleep(0.5)
                doc, _ = reading(prev)
            return json_response(doc)

        async def gen():
            prev = None
            while True:
                doc, prev = reading(prev)
                yield json.dumps(doc).encode() + b"\n"
                if prev is None:
                    return
                await asyncio.sleep(1)

        return Response(200, content_type="application/json", stream=gen())

    async def archive_head(req: Request) -> Response:
        st = await blocking(copy.stat_path, m, req.params["id"], _path(req))
        return Response(200, headers={"X-Docker-Container-Path-Stat": copy.stat_header(st)})

    async def archive_get(req: Request) -> Response:
        path = _path(req)
        tmp = tempfile.TemporaryFile(dir=m.paths.root)  # noqa: SIM115 - closed by body()
        try:
            st = await blocking(copy.get_archive, m, req.params["id"], path, tmp)
        except BaseException:
            in_thread(tmp.close)
            raise
        return Response(200, content_type="application/x-tar", stream=_file_chunks(tmp),
                        headers={"X-Docker-Container-Path-Stat": copy.stat_header(st)})

    async def archive_put(req: Request) -> Response:
        req.body_file.seek(0)
        await blocking(copy.put_archive, m, req.params["id"], _path(req), req.body_file)
        return empty(200)

    async def export(req: Request) -> Response:
        tmp = tempfile.TemporaryFile(dir=m.paths.root)  # noqa: SIM115 - closed by body()
        try:
            await blocking(copy.export, m, req.params["id"], tmp)
        except BaseException:
            in_thread(tmp.close)
            raise
        return Response(200, content_type="application/x-tar", stream=_file_chunks(tmp))

    async def update(req: Request) -> Response:
        m.update(req.params["id"], gojson.convert(req.json(), model.UpdateConfig))
        return json_response({"Warnings": []})

    async def changes(req: Request) -> Response:
        return json_response(await blocking(m.changes, req.params["id"]))

    async def commit(req: Request) -> Response:
        image_id = await blocking(m.commit, req.q("container") or "", req.q("repo"),
                                  req.q("tag"), req.q("comment") or "", req.q("author") or "",
                                  req.query.get("changes", []),
                                  _commit_config(req.json()),
                                  req.qbool("pause", True))  # docker: pause unless pause=0
        return json_response({"Id": image_id}, 201)

    # {id*} as moby's {name:.*}: a reference with slashes (the docker CLI's inspect of
    # an image name tries containers first) is "No such container", not a 405
    r.add("POST", "/containers/create", create)
    r.add("GET", "/containers/{id*}/changes", changes)
    r.add("POST", "/containers/{id*}/update", update)
    r.add("POST", "/commit", commit)
    r.add("GET", "/containers/json", list_)
    r.add("POST", "/containers/prune", prune)
    r.add("GET", "/containers/{id*}/json", inspect)
    r.add("POST", "/containers/{id*}/start", start)
    r.add("GET", "/containers/{id*}/trace", trace)
    r.add("POST", "/containers/{id*}/stop", stop)
    r.add("POST", "/containers/{id*}/restart", restart)
    r.add("POST", "/containers/{id*}/kill", kill)
    r.add("POST", "/containers/{id*}/wait", wait)
    r.add("DELETE", "/containers/{id*}", delete)  # a link's name: /parent/alias
    r.add("POST", "/containers/{id*}/rename", rename)
    r.add("GET", "/containers/{id*}/top", top)
    r.add("GET", "/containers/{id*}/logs", logs)
    r.add("POST", "/containers/{id*}/attach", attach)
    r.add("GET", "/containers/{id*}/attach/ws", attach_ws)
    r.add("POST", "/containers/{id*}/resize", resize)
    r.add("POST", "/containers/{id*}/pause", pause)
    r.add("POST", "/containers/{id*}/unpause", unpause)
    r.add("GET", "/containers/{id*}/stats", stats_)
    r.add("HEAD", "/containers/{id*}/archive", archive_head)
    r.add("GET", "/containers/{id*}/archive", archive_get)
    r.add("PUT", "/containers/{id*}/archive", archive_put)
    r.add("GET", "/containers/{id*}/export", export)
    r.add("POST", "/containers/{id*}/exec", exec_create)
    r.add("POST", "/exec/{id*}/start", exec_start)
    r.add("GET", "/exec/{id*}/json", exec_inspect)
    r.add("POST", "/exec/{id*}/resize", exec_resize)


def _path(req: Request) -> str:
    path = req.q("path")
    if not path:
        raise InvalidArgument("bad parameter: path cannot be empty")
    return path


async def _file_chunks(tmp):
    """A spooled archive, streamed: each read in a thread (a cold disk is slow too)."""
    try:
        tmp.seek(0)
        while chunk := await blocking(tmp.read, 1 << 20):
            yield chunk
    finally:
        in_thread(tmp.close)  # freeing a GB of blocks takes a while


def _attach(m: ContainerManager, req: Request, raw: bool = False) -> Attach:
    """The engine's attach for the request's query (409s now, before the 101)."""
    return m.attach(req.params["id"], stdin=req.qbool("stdin"), stdout=req.qbool("stdout"),
                    stderr=req.qbool("stderr"), stream=req.qbool("stream"),
                    logs=req.qbool("logs"), raw=raw, detach_keys=req.q("detachKeys"))


def _attacher(att: Attach):
    """The hijack of an attach: the log first (``logs``), then the live streams
    (``stream``) until the container ends or the client types the detach keys."""

    async def run(creader, cwriter, leftover: bytes) -> None:
        try:
            async for chunk in att.backlog():
                cwriter.write(chunk)
                await cwriter.drain()
            streams = await att.connect() if att.live else None
            if streams is None:
                await _close(cwriter)
                return
        finally:
            att.release()
        await _pump(*streams, att.stdin, att.keys)(creader, cwriter, leftover)

    return run


def _pump(sreader: asyncio.StreamReader, swriter: asyncio.StreamWriter, stdin: bool,
          keys: bytes | None = None):
    """Copy between the hijacked client connection and the shim's stream.

    ``keys``: the detach sequence (a TTY's input only, as docker): once the
    client types it, both connections close and the process goes on."""

    async def run(creader, cwriter, leftover: bytes) -> None:
        proxy = detachkeys.EscapeProxy(keys) if keys is not None and stdin else None

        async def forward(data: bytes) -> bool:
            if proxy is not None:
                data = proxy.feed(data)
            if data:
                swriter.write(data)
                await swriter.drain()
            return proxy is None or not proxy.detached

        async def up() -> None:
            try:
                if leftover and not await forward(leftover):
                    return
                while stdin:
                    data = await creader.read(65536)
                    if not data:
                        break
                    if not await forward(data):
                        return
                if swriter.can_write_eof():
                    swriter.write_eof()
            except (ConnectionError, OSError):
                pass

        async def down() -> None:
            try:
                while True:
                    data = await sreader.read(65536)
                    if not data:
                        break
                    cwriter.write(data)
                    await cwriter.drain()
            except (ConnectionError, OSError):
                pass

        up_task = asyncio.ensure_future(up())
        down_task = asyncio.ensure_future(down())
        await asyncio.wait({down_task, up_task} if proxy is not None else {down_task},
                           return_when=asyncio.FIRST_COMPLETED)
        if proxy is not None and proxy.detached:  # docker closes the client's stream
            down_task.cancel()
        await asyncio.gather(down_task, return_exceptions=True)
        up_task.cancel()
        swriter.close()
        await _close(cwriter)

    return run


async def _close(cwriter) -> None:
    """End the client's hijacked stream: what we wrote, then EOF."""
    try:
        await cwriter.drain()
        if cwriter.can_write_eof():
            cwriter.write_eof()
    except OSError:
        pass


def _commit_config(doc: dict) -> dict | None:
    """POST /commit's body, a container.Config merged key by key over the container's:
    checked as Go would decode it (a 400 for a wrong type), nulls left out (Go leaves
    those fields alone), a string Cmd or Entrypoint a one-element list."""
    if not doc:
        return None
    doc = schema.strslices(doc)
    gojson.convert(doc, model.Config)
    return {k: v for k, v in doc.items() if v is not None}


def summary(c: model.Container, link_names: list[str]) -> dict:
    """A record as a row of docker's container list; ``link_names``: the names the
    links to it give it ("/me/alias")."""
    cfg = c.Config
    return complete.container_summary({
        "Id": c.Id,
        "Names": [c.Name, *link_names],
        "Image": cfg.Image,
        "ImageID": c.Image,
        "Command": " ".join([c.Path, *c.Args]),
        "Created": int(clock.unix(c.Created)),
        "Ports": port_list(c.NetworkSettings.Ports or {}),
        "Labels": cfg.Labels or {},
        "State": c.State.Status,
        "Status": status_text(c.State),
        "HostConfig": {"NetworkMode": c.HostConfig.NetworkMode or "default"},
        "NetworkSettings": {"Networks": msgspec.to_builtins(c.NetworkSettings.Networks)},
        "Mounts": msgspec.to_builtins(c.Mounts),
    })


def port_list(ports: model.PortMap) -> list[dict]:
    """NetworkSettings.Ports -> the Ports of the container list (docker ps)."""
    out = []
    for port, binds in ports.items():
        num, _, proto = port.partition("/")
        if not binds:
            out.append({"PrivatePort": int(num), "Type": proto or "tcp"})
        for b in binds or []:
            out.append({"IP": b.HostIp, "PrivatePort": int(num),
                        "PublicPort": int(b.HostPort), "Type": proto or "tcp"})
    return out


__all__ = ["port_list", "routes", "summary"]
