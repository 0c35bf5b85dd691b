"""Routes for /networks: Docker JSON in, network manager call, Docker JSON out."""

from __future__ import annotations

from dockling import gojson
from dockling.api import complete
from dockling.api.routing import Request, Response, Router, empty, json_response
from dockling.containers.manager import ContainerManager
from dockling.containers.model import EndpointSettings
from dockling.network import filters as selection
from dockling.network import model
from dockling.network.manager import NetworkManager


def routes(r: Router, nets: NetworkManager, containers: ContainerManager) -> None:
    def users(net: model.Network) -> list[str]:
        return containers.network_users(net.Name)

    def answer(net: model.Network, cs: list) -> dict:
        """docker's Network JSON: the record's public fields and its Containers."""
        return complete.network(model.document(net, nets.endpoints(net, cs)))

    async def list_(req: Request) -> Response:
        filters = req.filters()
        cs = containers.all()
        out = [answer(n, cs) for n in nets.store.all() if selection.matches(n, filters, users)]
        return json_response(out)

    async def inspect(req: Request) -> Response:
        return json_response(answer(nets.store.get(req.params["id"]), containers.all()))

    async def create(req: Request) -> Response:
        net = await nets.create(model.create_request(req.json()))
        return json_response({"Id": net.Id, "Warning": ""}, 201)

    async def delete(req: Request) -> Response:
        net = nets.store.get(req.params["id"])
        await selection.remove(nets, net, users(net))
        await nets.iptables.idle()  # docker answers once the rules are gone
        return empty(204)

    async def connect(req: Request) -> Response:
        body = req.json()
        endpoint = gojson.convert(body.get("EndpointConfig") or {}, EndpointSettings)
        await containers.connect(body.get("Container") or "", req.params["id"], endpoint)
        return empty(200)

    async def disconnect(req: Request) -> Response:
        body = req.json()
        containers.disconnect(body.get("Container") or "", req.params["id"],
                              bool(body.get("Force")))
        return empty(200)

    async def prune(req: Request) -> Response:
        deleted = await selection.prune(nets, req.filters(), users)
        await nets.iptables.idle()
        return json_response({"NetworksDeleted": deleted or None})

    r.add("GET", "/networks", list_)
    r.add("POST", "/networks/create", create)
    r.add("POST", "/networks/prune", prune)
    r.add("GET", "/networks/{id}", inspect)
    r.add("DELETE", "/networks/{id}", delete)
    r.add("POST", "/networks/{id}/connect", connect)
    r.add("POST", "/networks/{id}/disconnect", disconnect)

