"""daemon.json's cluster keys (root-free)."""

from __future__ import annotations

import pytest

from dockling.cluster.config import parse_config
from dockling.errors import InvalidArgument


def test_no_cluster_store_no_cluster():
    assert parse_config({}) is None


def test_members_prefix_ttl_and_advertise_port_dropped():
    c = parse_config({"cluster-store": "etcd://10.0.0.1:2379,10.0.0.2/mine",
                      "cluster-advertise": "10.0.0.1:2376",
                      "cluster-store-opts": {"discovery.ttl": "5"}})
    assert c.endpoints == ["http://10.0.0.1:2379", "http://10.0.0.2:2379"]
    assert (c.prefix, c.ttl, c.advertise) == ("mine", 5, "10.0.0.1")


def test_tls_options_make_https():
    c = parse_config({"cluster-store": "etcd://h:2379", "cluster-advertise": "10.1.1.1",
                      "cluster-store-opts": {"kv.cacertfile": "/ca", "kv.certfile": "/c",
                                             "kv.keyfile": "/k"}})
    assert c.endpoints == ["https://h:2379"] and c.ca == "/ca" and c.cert == ("/c", "/k")


def test_interface_as_advertise():
    c = parse_config({"cluster-store": "etcd://h", "cluster-advertise": "eth9"},
                     addresses=lambda name: ["192.0.2.9"] if name == "eth9" else [])
    assert c.advertise == "192.0.2.9"


@pytest.mark.parametrize("cfg, words", [
    ({"cluster-store": "consul://h:8500", "cluster-advertise": "10.0.0.1"}, "etcd://"),
    ({"cluster-store": "etcd://h:2379"}, "cluster-advertise"),
    ({"cluster-advertise": "10.0.0.1"}, "cluster-store"),
    ({"cluster-store": "etcd://", "cluster-advertise": "10.0.0.1"}, "no etcd member"),
    ({"cluster-store": "etcd://h", "cluster-advertise": "nosuchif0"}, "nosuchif0"),
    ({"cluster-store": "etcd://h", "cluster-advertise": "10.0.0.1",
      "cluster-store-opts": {"kv.certfile": "/c"}}, "kv.keyfile"),
    ({"cluster-store": "etcd://h", "cluster-advertise": "10.0.0.1",
      "cluster-store-opts": {"discovery.ttl": "x"}}, "discovery.ttl"),
])
def test_bad_settings_say_what_is_wrong(cfg, words):
    with pytest.raises(InvalidArgument, match=words):
        parse_config(cfg, addresses=lambda name: [])
