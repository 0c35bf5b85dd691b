"""Routes for /images: list, inspect, history, tag, delete, prune, create?fromSrc.

save, load and import pack or unpack layers: in a worker thread
(``blocking``), so that the event loop serves every other client meanwhile.
"""

from __future__ import annotations

import json
import tempfile

import msgspec

from dockling.api import complete
from dockling.api.registry import progress_response
from dockling.api.routing import Request, Response, Router, empty, json_response
from dockling.background import blocking, in_thread
from dockling.containers.manager import ContainerManager
from dockling.errors import DocklingError, InvalidArgument, NotFound
from dockling.formats import progress, reference
from dockling.images import archive
from dockling.images import filters as image_filters
from dockling.images.history import history as image_history
from dockling.images.store import ImageStore
from dockling.registry import auth
from dockling.registry.pull import Puller


def routes(r: Router, images: ImageStore, containers: ContainerManager, events,
           puller: Puller) -> None:
    async def _pull(req: Request) -> Response:
        """POST /images/create?fromImage=: progress JSON while pulling (docker's stream).

        Errors before the first message (no such repository, no manifest, no
        access) are a plain error response, as docker's are."""
        name = req.q("fromImage") or ""
        tag = req.q("tag") or ""
        creds = auth.from_header(req.headers.get("x-registry-auth"))
        if "@" in name or ":" in name.rsplit("/", 1)[-1]:
            refs = [reference.parse(name)]
        elif tag:
            refs = [reference.parse(f"{name}@{tag}" if tag.startswith("sha256:")
                                    else f"{name}:{tag}")]
        elif req.q("tag") == "":  # present and empty: every tag (pull -a)
            base = reference.parse(name, default_tag=False)
            refs = [reference.parse(f"{base.name}:{t}") for t in await puller.tags(base, creds)]
            if not refs:
                raise NotFound(f"no tags found for {base.familiar_name}")
        else:
            refs = [reference.parse(f"{name}:latest")]
        platform = req.q("platform") or None
        return await progress_response(
            [puller.pull(r, creds, platform) for r in refs],
            lambda i: events.emit("image", "pull", str(refs[i]), {"name": str(refs[i])}))

    async def list_(req: Request) -> Response:
        filters = req.filters()
        out = []
        for img in images.listed(req.qbool("all")):
            if not image_filters.matches(img, filters, images):
                continue
            out.append(complete.image_summary(msgspec.to_builtins(images.summary(img))))
        return json_response(out)

    async def inspect(req: Request) -> Response:
        doc = images.inspect(images.get(req.params["name"]))
        return json_response(complete.image_inspect(msgspec.to_builtins(doc)))

    async def history(req: Request) -> Response:
        return json_response(msgspec.to_builtins(image_history(images, req.params["name"])))

    async def tag(req: Request) -> Response:
        repo = req.q("repo") or ""
        tag_ = req.q("tag") or "latest"
        image_id = images.resolve(req.params["name"])
        ref = images.tag(image_id, f"{repo}:{tag_}" if tag_ else repo)
        events.emit("image", "tag", image_id, {"name": ref.familiar})
        return empty(201)

    async def delete(req: Request) -> Response:
        image_id = images.resolve(req.params["name"])
        out = images.remove(req.params["name"], req.qbool("force"),
                            containers.users_of_image, prune=not req.qbool("noprune"))
        for item in out:
            events.emit("image", *item.event(image_id))
        return json_response(msgspec.to_builtins(out))

    async def prune(req: Request) -> Response:
        dangling_only = req.filters().get("dangling", ["true"]) != ["false"]
        deleted, reclaimed = images.prune(dangling_only, containers.users_of_image)
        return json_response({"ImagesDeleted": msgspec.to_builtins(deleted) or None,
                              "SpaceReclaimed": reclaimed})

    async def create(req: Request) -> Response:
        """POST /images/create?fromSrc=-: import the body as a root filesystem."""
        src = req.q("fromSrc")
        if src is None:
            return await _pull(req)
        if src != "-":
            raise InvalidArgument("importing from a URL is not supported (use a file or -)")
        changes = req.query.get("changes", [])
        req.body_file.seek(0)
        image_id = await blocking(archive.import_rootfs, images, req.body_file, changes,
                                  req.q("message") or "")
        repo = req.q("repo")
        if repo:
            t = req.q("tag")
            images.tag(image_id, f"{repo}:{t}" if t else repo)
        events.emit("image", "import", image_id)
        return Response(200, json.dumps({"status": image_id}).encode() + b"\n",
                        "application/json")

    async def get(req: Request) -> Response:
        names = [req.params["name"]] if "name" in req.params else req.query.get("names", [])
        if not names:
            raise InvalidArgument("no image names given")
        for n in names:
            images.resolve(n)  # 404 before the stream starts
        tmp = tempfile.TemporaryFile(dir=images.content.tmp)  # noqa: SIM115

        async def body():
            try:
                await blocking(archive.save, images, names, tmp)
                tmp.seek(0)
                while chunk := await blocking(tmp.read, 1 << 20):
                    yield chunk
            finally:
                in_thread(tmp.close)  # freeing a GB of blocks takes a while

        return Response(200, content_type="application/x-tar", stream=body())

    async def load(req: Request) -> Response:
        """docker answers 200 and puts a failed load's error in the JSON stream
        (moby's postImagesLoad writes streamformatter.FormatError): docker-py raises
        ImageLoadError from its errorDetail, the docker CLI prints it and exits 1."""
        req.body_file.seek(0)
        try:
            lines = await blocking(archive.load, images, req.body_file)
        except DocklingError as err:
            return Response(200, json.dumps(progress.error(str(err))).encode() + b"\n",
                            "application/json")
        for line in lines:
            events.emit("image", "load", line.split(": ", 1)[1])
        body = b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\n" for line in lines)
        return Response(200, body, "application/json")

    r.add("GET", "/images/get", get)
    r.add("POST", "/images/load", load)
    r.add("GET", "/images/json", list_)
    r.add("POST", "/images/create", create)
    r.add("POST", "/images/prune", prune)
    r.add("GET", "/images/{name*}/json", inspect)
    r.add("GET", "/images/{name*}/history", history)
    r.add("POST", "/images/{name*}/tag", tag)
    r.add("GET", "/images/{name*}/get", get)
    r.add("DELETE", "/images/{name*}", delete)

