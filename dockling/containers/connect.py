"""network connect and disconnect of an existing container (docker's rules).

The endpoint is recorded in the container's NetworkSettings; a running
container gets its interface now, a stopped one at its next start.
"""

from __future__ import annotations

from dockling.containers.model import EndpointSettings
from dockling.errors import Forbidden


async def connect(m, ref: str, network: str, endpoint: EndpointSettings | None) -> None:
    c = m.records.get(ref)
    net = m.networks.store.get(network)
    mode = c.HostConfig.NetworkMode or "default"
    if mode == "host" or net.Driver in ("host", "null") or mode == "none":
        raise Forbidden("container cannot be disconnected from host network or connected "
                        "to host network" if "host" in (mode, net.Driver) else
                        "container cannot be connected to multiple networks with one of "
                        "the networks in private (none) mode")
    if net.Name in c.NetworkSettings.Networks:
        raise Forbidden(f"endpoint with name {c.Name[1:]} already exists in network "
                        f"{net.Name}")
    ep = m.networks.new_endpoint(net, endpoint)
    c.NetworkSettings.Networks[net.Name] = ep
    if c.State.Running and not c.State.Restarting:
        await m.networks.connect_live(c, net, ep, m.records.all)
    m.records.save(c)


def disconnect(m, ref: str, network: str, force: bool = False) -> None:
    c = m.records.get(ref)
    net = m.networks.store.get(network)
    ep = c.NetworkSettings.Networks.get(net.Name)
    if ep is None:
        raise Forbidden(f"container {c.Id} is not connected to network {net.Name}")
    if net.Driver == "host":
        raise Forbidden("container cannot be disconnected from host network or connected "
                        "to host network")
    m.networks.disconnect_live(c, net.Name)
    del c.NetworkSettings.Networks[net.Name]
    m.records.save(c)
