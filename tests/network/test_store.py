"""Network records: what inspect shows, names docker accepts, the bridge device."""

from __future__ import annotations

import json

import pytest

from dockling.errors import Conflict, InvalidArgument
from dockling.network import store
from dockling.store.db import DB

POOLS = [{"base": "10.251.0.0/16", "size": 24}]


@pytest.fixture
def nets(tmp_path):
    s = store.NetworkStore(DB(str(tmp_path / "n.db")), POOLS, "dltstore0", None, 1500)
    s.ensure_defaults()
    return s


def test_options_are_only_what_the_user_gave(nets):
    # compose compares Options with its file: any other key is "needs to be recreated"
    net = nets.create({"Name": "proj_default", "Labels": {"a": "b"}, "Attachable": True})
    assert net["Options"] == {}
    assert store.public(nets.get("proj_default"))["Options"] == {}
    assert store.bridge_of(net) == "br-" + net["Id"][:12]
    given = nets.create({"Name": "own", "Options": {store.OPT_BRIDGE_NAME: "dltown0",
                                                    store.OPT_MTU: "1400"}})
    assert given["Options"] == {store.OPT_BRIDGE_NAME: "dltown0", store.OPT_MTU: "1400"}
    assert store.bridge_of(given) == "dltown0"
    with pytest.raises(Conflict, match="bridge name dltown0 is in use"):
        nets.create({"Name": "own2", "Options": {store.OPT_BRIDGE_NAME: "dltown0"}})


def test_private_state_stays_out_of_the_answer(nets):
    net = nets.create({"Name": "p"})
    assert nets.get("p")[store.BRIDGE_KEY] == "br-" + net["Id"][:12]
    assert not [k for k in store.public(nets.get("p")) if k.startswith("_")]
    # the default bridge shows the daemon's options, the device name among them (docker0's)
    br = store.public(nets.get("bridge"))
    assert br["Options"][store.OPT_BRIDGE_NAME] == "dltstore0"
    assert store.bridge_of(nets.get("bridge")) == "dltstore0"


@pytest.mark.parametrize("name", ["with space", "a/b", "ünï", "-dash", ".dot", "x" * 200])
def test_any_non_blank_name_and_never_in_the_device(nets, name):
    # moby's libnetwork refuses only a blank name
    net = nets.create({"Name": name})
    assert nets.get(name)["Id"] == net["Id"]
    assert store.bridge_of(net) == "br-" + net["Id"][:12]
    with pytest.raises(Conflict, match="already exists"):
        nets.create({"Name": name})


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_blank_names_are_refused(nets, name):
    with pytest.raises(InvalidArgument, match="invalid name: name is empty"):
        nets.create({"Name": name})


def test_records_from_before_move_the_device_name_out_of_options(nets):
    auto = nets.create({"Name": "old-auto"})
    given = nets.create({"Name": "old-given", "Options": {store.OPT_BRIDGE_NAME: "dltgiv0"}})
    for net, dev in ((auto, "br-" + auto["Id"][:12]), (given, "dltgiv0")):
        # as an older dockling wrote them: the device in Options, no private key
        old = dict(net, Options={**net["Options"], store.OPT_BRIDGE_NAME: dev})
        del old[store.BRIDGE_KEY]
        with nets.db.tx() as conn:
            conn.execute("UPDATE networks SET doc = ? WHERE id = ?",
                         (json.dumps(old), net["Id"]))
    nets.ensure_defaults()  # daemon start
    assert nets.get("old-auto")["Options"] == {}
    assert store.bridge_of(nets.get("old-auto")) == "br-" + auto["Id"][:12]
    assert nets.get("old-given")["Options"] == {store.OPT_BRIDGE_NAME: "dltgiv0"}
    assert store.bridge_of(nets.get("old-given")) == "dltgiv0"


def test_ipam_options_are_what_the_client_sent(nets):
    # docker-py's test_create_network_with_ipam_config: null when none were sent
    plain = nets.create({"Name": "plain", "IPAM": {"Driver": "default", "Config": [
        {"Subnet": "10.252.0.0/24"}]}})
    assert plain["IPAM"]["Options"] is None
    cli = nets.create({"Name": "cli", "IPAM": {"Driver": "default", "Options": {}}})
    assert cli["IPAM"]["Options"] == {}  # the docker CLI sends {}
    given = nets.create({"Name": "given", "IPAM": {"Options": {"k": "v"}}})
    assert nets.get("given")["IPAM"]["Options"] == {"k": "v"} == given["IPAM"]["Options"]
