"""Routes for /volumes: Docker JSON in, volume store call, Docker JSON out."""

from __future__ import annotations

import msgspec

from dockling.api import complete, schema
from dockling.api.routing import Request, Response, Router, empty, json_response
from dockling.containers.manager import ContainerManager
from dockling.errors import InvalidArgument
from dockling.volumes.model import Volume
from dockling.volumes.prune import prune as prune_volumes
from dockling.volumes.store import VolumeStore


def answer(vol: Volume) -> dict:
    """A record as docker's Volume JSON: its fields are docker's keys."""
    return complete.volume(msgspec.to_builtins(vol))


def create_body(doc: dict) -> schema.VolumeCreate:
    """POST /volumes/create's body, typed; a field of the wrong type is docker's 400."""
    try:
        return msgspec.convert(doc, schema.VolumeCreate)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None


def routes(r: Router, volumes: VolumeStore, containers: ContainerManager, events) -> None:
    async def list_(req: Request) -> Response:
        vols = volumes.list(req.filters(), containers.volume_users())
        return json_response(complete.volume_list(
            {"Volumes": [msgspec.to_builtins(v) for v in vols], "Warnings": None}))

    async def create(req: Request) -> Response:
        body = create_body(req.json())
        vol = volumes.create(body.Name or None, body.Driver or "local", body.DriverOpts,
                             body.Labels)
        return json_response(answer(vol), 201)

    async def inspect(req: Request) -> Response:
        return json_response(answer(volumes.get(req.params["name"])))

    async def delete(req: Request) -> Response:
        name = req.params["name"]
        users = containers.volume_users().get(name, [])
        volumes.remove(name, users, force=req.qbool("force"))
        return empty(204)

    async def prune(req: Request) -> Response:
        """Unused volumes; only anonymous ones unless all=true (API 1.42+)."""
        deleted, reclaimed = prune_volumes(volumes, req.filters(), containers.volume_users(),
                                           events)
        return json_response({"VolumesDeleted": deleted or None, "SpaceReclaimed": reclaimed})

    r.add("GET", "/volumes", list_)
    r.add("POST", "/volumes/create", create)
    r.add("POST", "/volumes/prune", prune)
    r.add("GET", "/volumes/{name}", inspect)
    r.add("DELETE", "/volumes/{name}", delete)
