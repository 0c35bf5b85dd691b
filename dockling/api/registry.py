"""Routes for registry work: POST /images/{name}/push and POST /auth; and the
progress stream that pull and push answer with."""

from __future__ import annotations

import logging

from dockling.api.routing import Request, Response, Router, json_response
from dockling.errors import DocklingError, Forbidden
from dockling.formats import progress, reference
from dockling.formats.reference import HUB_AUTH_KEY, server_domain
from dockling.registry import auth, search
from dockling.registry.client import RepoClient
from dockling.registry.endpoints import RegistryConfig
from dockling.registry.push import Pusher

log = logging.getLogger("dockling.api")


async def progress_response(streams: list, done=None) -> Response:
    """The first message is awaited here: an error before it is a plain error
    response (docker's behaviour); later ones travel in the stream."""
    first = await streams[0].__anext__()

    async def body():
        yield progress.encode(first)
        try:
            for i, stream in enumerate(streams):
                async for m in stream:
                    yield progress.encode(m)
                if done is not None:
                    done(i)
        except DocklingError as err:
            yield progress.encode(progress.error(str(err)))
        except Exception as err:  # noqa: BLE001 - the stream has begun: report in it
            log.exception("registry transfer failed")
            yield progress.encode(progress.error(f"{type(err).__name__}: {err}"))
        finally:  # a client that went away stops the transfer
            for stream in streams:
                await stream.aclose()

    return Response(200, content_type="application/json", stream=body())


def routes(r: Router, pusher: Pusher, config: RegistryConfig, events) -> None:
    async def push(req: Request) -> Response:
        name = req.params["name"]
        creds = auth.from_header(req.headers.get("x-registry-auth"))
        base = reference.parse(name, default_tag=False)
        tag = req.q("tag")
        if tag:
            refs = [reference.parse(f"{base.name}:{tag}")]
        elif base.tag:
            refs = [base]
        else:  # every local tag of the repository (push -a)
            refs = [reference.parse(t) for t in pusher.images.tags_of_repo(base.name)]
            if not refs:
                pusher.check(reference.parse(base.name))
        for ref in refs:
            pusher.check(ref)
        return await progress_response(
            [pusher.push(ref, creds) for ref in refs],
            lambda i: events.emit("image", "push", str(refs[i]), {"name": str(refs[i])}))

    async def login(req: Request) -> Response:
        """Check credentials against the registry's /v2/ (token flow included)."""
        body = req.json()
        server = body.get("serveraddress") or HUB_AUTH_KEY
        domain = server_domain(server)
        creds = auth.Credentials(body.get("username") or "", body.get("password") or "",
                                 body.get("identitytoken") or "")
        client = RepoClient(config, domain, "", creds)
        try:
            resp = await client.request("GET", "/v2/", actions="", ok=(200,))
            if resp.status_code != 200:
                raise Forbidden(f"Get \"{client.current.url if client.current else ''}/v2/\":"
                                " unauthorized: incorrect username or password")
            token = await client.auths[client.current.url].refresh_token()
        finally:
            await client.close()
        return json_response({"Status": "Login Succeeded", "IdentityToken": token})

    async def search_(req: Request) -> Response:
        results = await search.search(config, req.q("term") or "", req.qint("limit", 25))
        filters = req.filters()
        stars = int((filters.get("stars") or ["0"])[-1] or 0)
        out = []
        for r in results:
            if r["star_count"] < stars:
                continue
            if "is-official" in filters and str(r["is_official"]).lower() != \
                    filters["is-official"][-1].lower():
                continue
            if "is-automated" in filters and str(r["is_automated"]).lower() != \
                    filters["is-automated"][-1].lower():
                continue
            out.append(r)
        return json_response(out)

    r.add("GET", "/images/search", search_)
    r.add("POST", "/images/{name*}/push", push)
    r.add("POST", "/auth", login)
