"""Routes for POST /build and POST /build/prune: the classic build API.

Translation only (../shared/clients/build-api-contract.md): query parameters
-> builder.executor.Options, the body (already spooled to disk by the server)
-> an unpacked context, the builder's messages -> JSON lines ending in
``\\r\\n``. An error before the first message is a plain error response; one
after it travels in the stream as ``errorDetail``/``error`` with status 200,
as in moby's build route.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging

from dockling.api.routing import Request, Response, Router, json_response
from dockling.builder import context as ctxlib
from dockling.builder.executor import Builder, Options
from dockling.errors import CommandFailed, DocklingError, InvalidArgument
from dockling.formats import progress

log = logging.getLogger("dockling.api")

_FALSE = ("", "0", "no", "false", "none")  # moby's httputils.BoolValue


def _bool(req: Request, name: str, default: bool = False) -> bool:
    v = req.q(name)
    if v is None:
        return default
    return v.strip().lower() not in _FALSE


def _int(req: Request, name: str) -> int:
    v = req.q(name)
    if v in (None, ""):
        return 0
    try:
        return int(v)
    except ValueError:
        raise InvalidArgument(f"invalid value for {name}: {v!r}") from None


def _json(req: Request, name: str, kind: type, default):
    v = req.q(name)
    if not v:
        return default
    try:
        doc = json.loads(v)
    except ValueError as err:
        raise InvalidArgument(f"invalid {name} JSON: {err}") from err
    if doc is None:
        return default
    if not isinstance(doc, kind):
        raise InvalidArgument(f"invalid {name}: expected a JSON {kind.__name__}")
    return doc


def _registry_config(header: str | None) -> dict:
    """X-Registry-Config: base64url JSON {registry: auth}; old docker-py wraps it in
    {"configs": ...}. Undecodable headers are ignored, as moby does."""
    if not header:
        return {}
    try:
        doc = json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4)))
    except (ValueError, TypeError):
        return {}
    if isinstance(doc, dict) and isinstance(doc.get("configs"), dict):
        doc = doc["configs"]
    return doc if isinstance(doc, dict) else {}


def options(req: Request) -> Options:
    if req.q("securityopt"):
        raise InvalidArgument("The daemon on this platform does not support setting "
                              "security options on build")
    if _bool(req, "squash"):
        raise InvalidArgument("squash is only supported with experimental mode")
    version = req.q("version") or "1"
    if version not in ("1", "2"):
        raise InvalidArgument(f"invalid value for version: {version}")
    if version == "2":
        raise InvalidArgument("BuildKit (version=2) is not supported by dockling: "
                              "use the classic builder (DOCKER_BUILDKIT=0)")
    buildargs = _json(req, "buildargs", dict, {})
    labels = _json(req, "labels", dict, {})
    forcerm = _bool(req, "forcerm")
    return Options(
        tags=[t for t in req.query.get("t", []) if t],
        # q() takes the first value, as Go's FormValue: docker-py sends a Dockerfile
        # from outside the context as dockerfile=<name in the tar>&dockerfile=<its text>
        dockerfile=req.q("dockerfile") or "Dockerfile",
        quiet=_bool(req, "q"), nocache=_bool(req, "nocache"),
        rm=_bool(req, "rm", True) or forcerm, forcerm=forcerm, pull=_bool(req, "pull"),
        buildargs={str(k): (None if v is None else str(v)) for k, v in buildargs.items()},
        labels={str(k): str(v) for k, v in labels.items()},
        target=req.q("target") or "", network_mode=req.q("networkmode") or "",
        extra_hosts=[h for v in req.query.get("extrahosts", []) for h in v.split(",") if h],
        shm_size=_int(req, "shmsize"), memory=_int(req, "memory"),
        memswap=_int(req, "memswap"), cpu_shares=_int(req, "cpushares"),
        cpu_period=_int(req, "cpuperiod"), cpu_quota=_int(req, "cpuquota"),
        cpuset_cpus=req.q("cpusetcpus") or "", cpuset_mems=req.q("cpusetmems") or "",
        ulimits=_json(req, "ulimits", list, []), platform=req.q("platform") or "",
        cache_from=_json(req, "cachefrom", list, []),
        registry_auth=_registry_config(req.headers.get("x-registry-config")))


def encode(m: dict) -> bytes:
    return json.dumps(m).encode() + b"\r\n"


def error_message(err: Exception) -> dict:
    text = str(err) if isinstance(err, DocklingError) else f"{type(err).__name__}: {err}"
    detail: dict = {"message": text}
    if isinstance(err, CommandFailed):
        detail["code"] = err.code
    return {"errorDetail": detail, "error": text}


async def _context(req: Request, root: str, dockerfile: str) -> ctxlib.Context:
    remote = req.q("remote") or ""
    if not remote:
        req.body_file.seek(0)
        return await asyncio.to_thread(ctxlib.unpack, req.body_file, root, dockerfile)
    return await ctxlib.from_remote(remote, root, dockerfile)


def routes(r: Router, builder: Builder) -> None:
    async def build(req: Request) -> Response:
        opts = options(req)
        ctx = await _context(req, builder.data_root, opts.dockerfile)

        async def work(q: asyncio.Queue) -> None:
            await builder.build(ctx, opts, q.put_nowait)

        messages = progress.batches(work)
        try:
            first = await messages.__anext__()
        except StopAsyncIteration:
            first = None
        except BaseException:
            await messages.aclose()
            await asyncio.to_thread(ctx.close)
            raise

        async def body():
            try:
                if first is not None:
                    yield b"".join(map(encode, first))
                async for batch in messages:
                    yield b"".join(map(encode, batch))
            except DocklingError as err:
                yield encode(error_message(err))
            except Exception as err:  # noqa: BLE001 - the stream has begun: report in it
                log.exception("build failed")
                yield encode(error_message(err))
            finally:  # a client that hung up cancels the build, which cleans up
                await messages.aclose()
                await asyncio.to_thread(ctx.close)

        return Response(200, content_type="application/json", stream=body())

    async def prune(req: Request) -> Response:
        keep = _int(req, "keep-storage") or _int(req, "reserved-space")
        deleted, reclaimed = builder.cache.prune(_bool(req, "all"), req.filters(), keep,
                                                 builder.containers.users_of_image)
        return json_response({"CachesDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    r.add("POST", "/build", build)
    r.add("POST", "/build/prune", prune)


__all__ = ["options", "routes"]
