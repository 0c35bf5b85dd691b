"""Routes for /networks: Docker JSON in, network manager call, Docker JSON out."""

from __future__ import annotations

from dockling.api import complete, schema
from dockling.api.server import Request, Response, Router, empty, json_response
from dockling.background import blocking
from dockling.containers.manager import ContainerManager
from dockling.errors import Forbidden
from dockling.network.manager import NetworkManager
from dockling.network.store import PREDEFINED


def routes(r: Router, nets: NetworkManager, containers: ContainerManager) -> None:
    def users(net: dict) -> list[str]:
        return [c["Id"] for c in containers.all()
                if (c["NetworkSettings"]["Networks"].get(net["Name"]) or {}).get("EndpointID")]

    async def list_(req: Request) -> Response:
        filters = req.filters()
        cs = containers.all()
        out = [complete.network(nets.inspect(n["Id"], cs)) for n in nets.store.all()
               if _matches(n, filters, users)]
        return json_response(out)

    async def inspect(req: Request) -> Response:
        return json_response(complete.network(nets.inspect(req.params["id"], containers.all())))

    async def create(req: Request) -> Response:
        net = await nets.create(schema.check(req.json(), schema.NetworkCreate))
        return json_response({"Id": net["Id"], "Warning": ""}, 201)

    async def remove(net: dict, used: list[str]) -> None:
        if net["Driver"] == "overlay":  # etcd round trips (seconds while it is down)
            await blocking(nets.remove, net["Id"], used)
        else:
            nets.remove(net["Id"], used)

    async def delete(req: Request) -> Response:
        net = nets.store.get(req.params["id"])
        await remove(net, users(net))
        await nets.iptables.idle()  # docker answers once the rules are gone
        return empty(204)

    async def connect(req: Request) -> Response:
        body = req.json()
        await containers.connect(body.get("Container") or "", req.params["id"],
                                 body.get("EndpointConfig") or {})
        return empty(200)

    async def disconnect(req: Request) -> Response:
        body = req.json()
        containers.disconnect(body.get("Container") or "", req.params["id"],
                              bool(body.get("Force")))
        return empty(200)

    async def prune(req: Request) -> Response:
        deleted = []
        for net in nets.store.all():
            if net["Name"] in PREDEFINED or users(net):
                continue
            if not _matches(net, {k: v for k, v in req.filters().items()
                                  if k in ("label", "label!")}, users):
                continue
            try:
                await remove(net, [])
            except Forbidden:  # an overlay network another host still uses: kept
                continue
            deleted.append(net["Name"])
        await nets.iptables.idle()
        return json_response({"NetworksDeleted": deleted or None})

    r.add("GET", "/networks", list_)
    r.add("POST", "/networks/create", create)
    r.add("POST", "/networks/prune", prune)
    r.add("GET", "/networks/{id}", inspect)
    r.add("DELETE", "/networks/{id}", delete)
    r.add("POST", "/networks/{id}/connect", connect)
    r.add("POST", "/networks/{id}/disconnect", disconnect)


def _matches(net: dict, filters: dict[str, list[str]], users) -> bool:
    for key, vals in filters.items():
        if not vals:
            continue
        if key == "name" and not any(v in net["Name"] for v in vals):
            return False
        if key == "id" and not any(net["Id"].startswith(v) for v in vals):
            return False
        if key == "driver" and net["Driver"] not in vals:
            return False
        if key == "scope" and net.get("Scope", "local") not in vals:  # local, global
            return False
        if key == "type":
            kind = "builtin" if net["Name"] in PREDEFINED else "custom"
            if kind not in vals:
                return False
        if key == "dangling":
            want = vals[-1].lower() in ("1", "true")
            if (not users(net) and net["Name"] not in PREDEFINED) != want:
                return False
        if key in ("label", "label!"):
            labels = net.get("Labels") or {}
            for v in vals:
                k, eq, val = v.partition("=")
                hit = k in labels and (not eq or labels[k] == val)
                if hit != (key == "label"):
                    return False
    return True
