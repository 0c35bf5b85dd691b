"""Network records: what inspect shows, names docker accepts, the bridge device."""

from __future__ import annotations

import json

import msgspec
import pytest

from dockling.cli.dockertypes import STRUCTS
from dockling.errors import Conflict, InvalidArgument
from dockling.network import model, store
from dockling.store.db import DB

POOLS = [{"base": "10.251.0.0/16", "size": 24}]


@pytest.fixture
def nets(tmp_path):
    s = store.NetworkStore(DB(str(tmp_path / "n.db")), POOLS, "dltstore0", None, 1500)
    s.ensure_defaults()
    return _Requests(s)


class _Requests:
    """The store, taking create requests as the API gives them (JSON bodies)."""

    def __init__(self, s: store.NetworkStore) -> None:
        self.s = s

    def create(self, body: dict) -> model.Network:
        return self.s.create(model.create_request(body))

    def __getattr__(self, name):
        return getattr(self.s, name)


def _json_names(go_type: str) -> list[str]:
    return [f[2] if len(f) > 2 else f[0] for f in STRUCTS[go_type]]


@pytest.mark.parametrize("struct, go_type, left_out", [
    (model.Network, "network.Inspect", model.NOT_STORED),
    (model.IPAM, "network.IPAM", ()),
    (model.IPAMConfig, "network.IPAMConfig", ()),
    (model.ConfigReference, "network.ConfigReference", ()),
    (model.EndpointResource, "network.EndpointResource", ()),
])
def test_structs_have_dockers_fields_in_dockers_order(struct, go_type, left_out):
    # the test that fails when docker's types move (dockertypes.py is docker's)
    public = [f.encode_name for f in msgspec.structs.fields(struct)
              if not f.name.startswith("_")]
    assert public == [n for n in _json_names(go_type) if n not in left_out]


def test_inspect_puts_containers_where_docker_does(nets):
    ep = model.EndpointResource(Name="c", EndpointID="e")
    doc = model.document(nets.get("bridge"), {"cid": ep})
    assert list(doc) == _json_names("network.Inspect")[:-2]  # no Peers, Services (swarm)
    assert doc["Containers"]["cid"]["Name"] == "c"
    assert not [k for k in doc if k.startswith("_")]


def test_records_written_before_the_structs_decode(nets):
    # a row as the dict-record dockling stored it: no EnableIPv4, IPAM config in its order
    old = {"Name": "old", "Id": "a" * 64, "Created": "2025-01-01T00:00:00Z",
           "Scope": "local", "Driver": "bridge", "EnableIPv6": False,
           "IPAM": {"Driver": "default", "Options": None, "Config": [
               {"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1", "IPRange": "10.9.0.0/25"}]},
           "Internal": False, "Attachable": False, "Ingress": False,
           "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Options": {}, "Labels": {},
           "_bridge": "br-aaaaaaaaaaaa"}
    net = model.decode(json.dumps(old))
    assert net.EnableIPv4 and net._bridge == "br-aaaaaaaaaaaa"
    assert net.IPAM.Config[0].IPRange == "10.9.0.0/25"
    assert {k: v for k, v in model.document(net).items() if k != "EnableIPv4"} == {
        k: v for k, v in old.items() if k != "_bridge"}


def test_options_are_only_what_the_user_gave(nets):
    # compose compares Options with its file: any other key is "needs to be recreated"
    net = nets.create({"Name": "proj_default", "Labels": {"a": "b"}, "Attachable": True})
    assert net.Options == {}
    assert model.document(nets.get("proj_default"))["Options"] == {}
    assert store.bridge_of(net) == "br-" + net.Id[:12]
    given = nets.create({"Name": "own", "Options": {store.OPT_BRIDGE_NAME: "dltown0",
                                                    store.OPT_MTU: "1400"}})
    assert given.Options == {store.OPT_BRIDGE_NAME: "dltown0", store.OPT_MTU: "1400"}
    assert store.bridge_of(given) == "dltown0"
    with pytest.raises(Conflict, match="bridge name dltown0 is in use"):
        nets.create({"Name": "own2", "Options": {store.OPT_BRIDGE_NAME: "dltown0"}})


def test_private_state_stays_out_of_the_answer(nets):
    net = nets.create({"Name": "p"})
    assert nets.get("p")._bridge == "br-" + net.Id[:12]
    assert not [k for k in model.document(nets.get("p")) if k.startswith("_")]
    # the default bridge shows the daemon's options, the device name among them (docker0's)
    br = model.document(nets.get("bridge"))
    assert br["Options"][store.OPT_BRIDGE_NAME] == "dltstore0"
    assert store.bridge_of(nets.get("bridge")) == "dltstore0"


@pytest.mark.parametrize("name", ["with space", "a/b", "ünï", "-dash", ".dot", "x" * 200])
def test_any_non_blank_name_and_never_in_the_device(nets, name):
    # moby's libnetwork refuses only a blank name
    net = nets.create({"Name": name})
    assert nets.get(name).Id == net.Id
    assert store.bridge_of(net) == "br-" + net.Id[:12]
    with pytest.raises(Conflict, match="already exists"):
        nets.create({"Name": name})


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_blank_names_are_refused(nets, name):
    with pytest.raises(InvalidArgument, match="invalid name: name is empty"):
        nets.create({"Name": name})


def test_records_from_before_move_the_device_name_out_of_options(nets):
    auto = nets.create({"Name": "old-auto"})
    given = nets.create({"Name": "old-given", "Options": {store.OPT_BRIDGE_NAME: "dltgiv0"}})
    for net, dev in ((auto, "br-" + auto.Id[:12]), (given, "dltgiv0")):
        # as an older dockling wrote them: the device in Options, no private key
        old = dict(msgspec.to_builtins(net), Options={**net.Options, store.OPT_BRIDGE_NAME: dev})
        del old["_bridge"]
        with nets.db.tx() as conn:
            conn.execute("UPDATE networks SET doc = ? WHERE id = ?",
                         (json.dumps(old), net.Id))
    nets.ensure_defaults()  # daemon start
    assert nets.get("old-auto").Options == {}
    assert store.bridge_of(nets.get("old-auto")) == "br-" + auto.Id[:12]
    assert nets.get("old-given").Options == {store.OPT_BRIDGE_NAME: "dltgiv0"}
    assert store.bridge_of(nets.get("old-given")) == "dltgiv0"


def test_ipam_options_are_what_the_client_sent(nets):
    # docker-py's test_create_network_with_ipam_config: null when none were sent
    plain = nets.create({"Name": "plain", "IPAM": {"Driver": "default", "Config": [
        {"Subnet": "10.252.0.0/24"}]}})
    assert plain.IPAM.Options is None
    cli = nets.create({"Name": "cli", "IPAM": {"Driver": "default", "Options": {}}})
    assert cli.IPAM.Options == {}  # the docker CLI sends {}
    given = nets.create({"Name": "given", "IPAM": {"Options": {"k": "v"}}})
    assert nets.get("given").IPAM.Options == {"k": "v"} == given.IPAM.Options
