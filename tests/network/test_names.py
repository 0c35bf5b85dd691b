"""Network names as docker takes them (anything not blank), against a real daemon:
the name never becomes a device or chain name, and inspect shows only the user's
options."""

from __future__ import annotations

import json
import subprocess
import uuid
from urllib.parse import quote

import pytest

from dockling.network import bridge
from tests.engine.conftest import running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def rules(d) -> str:
    """The daemon's rules (filter and nat) as iptables-save prints them."""
    p = d.net["iptables-chain-prefix"]
    text = "".join(subprocess.run(["iptables-save", "-t", t], capture_output=True, text=True,
                                  check=True).stdout for t in ("filter", "nat"))
    return "\n".join(line for line in text.splitlines() if p in line)


def test_a_name_with_spaces_lives_and_goes_by_the_api(daemon):
    name = f"my net {uuid.uuid4().hex[:6]} ü"
    status, _, body = daemon.api("POST", "/networks/create", {"Name": name,
                                                              "Labels": {"k": "v"}})
    assert status == 201, body
    nid = body["Id"]
    try:
        status, _, net = daemon.api("GET", f"/networks/{quote(name)}")
        assert status == 200, net
        assert (net["Name"], net["Id"], net["Options"]) == (name, nid, {})
        assert not [k for k in net if k.startswith("_")]
        listed = daemon.api("GET", "/networks")[2]
        assert [n["Options"] for n in listed if n["Id"] == nid] == [{}]
        dev = "br-" + nid[:12]  # moby's device name, never the network's
        assert bridge.link_exists(dev)
        assert dev in rules(daemon)
        assert name not in rules(daemon)
        out = daemon.cli("run", "--rm", "--network", name, "--name", "spc-" + nid[:6],
                         "busybox", "sh", "-c", f"nslookup spc-{nid[:6]} >/dev/null && "
                         "ip -o -4 addr show eth0", check=True).stdout.decode()
        subnet = net["IPAM"]["Config"][0]["Subnet"].rsplit(".", 1)[0]
        assert f"inet {subnet}." in out
    finally:
        status, _, body = daemon.api("DELETE", f"/networks/{quote(name)}")
    assert status == 204, body
    assert not bridge.link_exists(dev)
    assert dev not in rules(daemon)


def test_the_cli_escapes_the_name(daemon):
    name = f"cli net {uuid.uuid4().hex[:6]}"
    nid = daemon.cli("network", "create", name, check=True).stdout.decode().strip()
    try:
        out = daemon.cli("network", "inspect", name, check=True).stdout
        assert json.loads(out)[0]["Id"] == nid
    finally:
        daemon.cli("network", "rm", name, check=True)
    assert daemon.api("GET", f"/networks/{nid}")[0] == 404


@pytest.mark.parametrize("name", ["", "   "])
def test_a_blank_name_is_docker_400(daemon, name):
    status, _, body = daemon.api("POST", "/networks/create", {"Name": name})
    assert (status, body["message"]) == (400, "invalid name: name is empty")


def test_a_given_bridge_name_is_shown_and_used(daemon):
    name, dev = f"given-{uuid.uuid4().hex[:6]}", f"dlg{uuid.uuid4().hex[:8]}"
    status, _, body = daemon.api("POST", "/networks/create", {
        "Name": name, "Options": {"com.docker.network.bridge.name": dev}})
    assert status == 201, body
    try:
        net = daemon.api("GET", f"/networks/{name}")[2]
        assert net["Options"] == {"com.docker.network.bridge.name": dev}
        assert bridge.link_exists(dev)
    finally:
        assert daemon.api("DELETE", f"/networks/{name}")[0] == 204
    assert not bridge.link_exists(dev)
