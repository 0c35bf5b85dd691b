"""The pure parts of networking: IPAM, -p specs, resolv.conf, MACs."""

from __future__ import annotations

import pytest

from dockling.errors import Conflict, InvalidArgument
from dockling.network import etc, ipam
from dockling.network.model import CreateIPAMConfig, IPAMConfig
from dockling.formats.ports import parse_spec
from dockling.store.db import DB


@pytest.fixture
def allocator(tmp_path):
    return ipam.IPAM(DB(str(tmp_path / "x.db")))


def test_allocation_order_exhaustion_and_no_quick_reuse(allocator):
    cfg = IPAMConfig(Subnet="10.0.0.0/29", Gateway="10.0.0.1")
    got = [allocator.allocate("n", cfg, f"c{i}") for i in range(5)]
    assert got == ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5", "10.0.0.6"]
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        allocator.allocate("n", cfg, "c9")
    allocator.release("n", "c2")
    allocator.release("n", "c0")
    # after the last handed out, wrapping: .2 is free but .4 comes first
    assert allocator.allocate("n", cfg, "c10") == "10.0.0.2"
    cfg2 = IPAMConfig(Subnet="10.1.0.0/16", Gateway="10.1.0.1",
                      AuxiliaryAddresses={"r": "10.1.0.2"})
    assert allocator.allocate("m", cfg2, "x") == "10.1.0.3"
    assert allocator.allocate("m", cfg2, "y", want="10.1.9.9") == "10.1.9.9"
    with pytest.raises(Conflict, match="Address already in use"):
        allocator.allocate("m", cfg2, "z", want="10.1.9.9")
    with pytest.raises(InvalidArgument):
        allocator.allocate("m", cfg2, "z", want="10.2.0.1")
    assert allocator.owners("m") == {"x": "10.1.0.3", "y": "10.1.9.9"}


def test_subnet_choice_skips_taken_and_host_routes():
    import ipaddress

    taken = [ipaddress.ip_network("172.17.0.0/16"), ipaddress.ip_network("172.18.0.0/16")]
    assert str(ipam.pick_subnet(ipam.DEFAULT_POOLS, taken)) == "172.19.0.0/16"
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    with pytest.raises(InvalidArgument, match="no matching subnet for gateway"):
        ipam.parse_config(CreateIPAMConfig(Subnet="10.0.0.0/24", Gateway="10.0.1.1"))


def test_port_specs():
    assert parse_spec("8080:80") == [("80/tcp", {"HostIp": "", "HostPort": "8080"})]
    assert parse_spec("127.0.0.1:53:53/udp") == [
        ("53/udp", {"HostIp": "127.0.0.1", "HostPort": "53"})]
    assert parse_spec("80") == [("80/tcp", {"HostIp": "", "HostPort": ""})]
    assert parse_spec("8000-8001:80-81") == [
        ("80/tcp", {"HostIp": "", "HostPort": "8000"}),
        ("81/tcp", {"HostIp": "", "HostPort": "8001"})]
    assert parse_spec("9000-9009:80") == [("80/tcp", {"HostIp": "", "HostPort": "9000-9009"})]
    for bad in ("abc", "1:2:3:4", "80/xyz", "0:80"):
        with pytest.raises(InvalidArgument):
            parse_spec(bad)


def test_resolv_conf():
    host = "nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp.example\noptions edns0\n"
    assert etc.resolv_conf(host, embedded=False, dns=[], search=[], options=[]) == \
        "nameserver 10.0.0.2\nsearch corp.example\noptions edns0\n"
    assert etc.resolv_conf(host, embedded=True, dns=[], search=[], options=[]) == \
        "nameserver 127.0.0.11\nsearch corp.example\noptions edns0 ndots:0\n"
    assert etc.resolv_conf(host, embedded=False, dns=["1.2.3.4"], search=["x"],
                           options=["ndots:2"]) == \
        "nameserver 1.2.3.4\nsearch x\noptions ndots:2\n"
    assert etc.resolv_conf(host, embedded=False, dns=[], search=[], options=[],
                           host_network=True) == host


def test_next_free_serves_any_cursor():
    """ipam.next_free, the one loop local and overlay networks allocate with: the pool,
    after the cursor, wrapping; /31 and /32 use every address."""
    cfg = IPAMConfig(Subnet="10.0.0.0/29", Gateway="10.0.0.1")
    assert ipam.next_free(cfg, {"10.0.0.1"}) == "10.0.0.2"
    assert ipam.next_free(cfg, {"10.0.0.1"}, after="10.0.0.4") == "10.0.0.5"
    assert ipam.next_free(cfg, {"10.0.0.1", "10.0.0.2"}, after="10.0.0.6") == "10.0.0.3"
    assert ipam.next_free(IPAMConfig(Subnet="10.0.0.0/31", Gateway="10.0.0.0"),
                          {"10.0.0.0"}) == "10.0.0.1"
    with pytest.raises(Conflict, match="no available IPv4 addresses"):
        ipam.next_free(IPAMConfig(Subnet="10.0.0.0/30", Gateway="10.0.0.1"),
                       {"10.0.0.1", "10.0.0.2"})
