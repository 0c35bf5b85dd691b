"""Overlay networks across hosts (issue 15): three daemons in their own network
namespaces, an etcd cluster of three, VXLAN between them."""

from __future__ import annotations

import concurrent.futures
import json
import shutil
import subprocess

import pytest

from dockling.cluster.etcd import Etcd
from tests.overlay.conftest import TTL, name, wait_until


def _net(hosts, subnet: str | None = None, on: int = 0) -> str:
    n = name("ov")
    args = ["network", "create", "-d", "overlay", n]
    if subnet:
        args[4:4] = ["--subnet", subnet]
    hosts.hosts[on].cli(*args, check=True)
    return n


def _run(host, net: str, cname: str, *extra: str) -> str:
    return host.cli("run", "-d", "--name", cname, "--network", net, *extra, "busybox",
                    "sleep", "600", check=True).stdout.strip()


def _ip(host, cname: str, net: str) -> str:
    out = host.cli("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{net}\")"
                   ".IPAddress}}", cname, check=True).stdout.strip()
    assert out, f"{cname} has no address on {net}"
    return out


def _ping(host, cname: str, target: str, count: int = 1) -> bool:
    return host.exec(cname, "ping", "-c", str(count), "-W", "2", target).returncode == 0


def _remote_neighbours(host, net: str) -> set[str]:
    """The IPs programmed on the VXLAN device of ``net`` in ``host``'s sandbox."""
    nid = host.cli("network", "inspect", "-f", "{{.Id}}", net, check=True).stdout.strip()
    res = subprocess.run(["nsenter", f"--net={host.exec_root}/overlay/{nid[:12]}", "ip",
                          "-j", "neigh", "show", "dev", "vxlan0"], capture_output=True,
                         text=True, check=False)
    if res.returncode:
        return set()
    return {n["dst"] for n in json.loads(res.stdout or "[]") if "PERMANENT" in n.get("state", [])}


def test_created_on_a_listed_everywhere_as_global(hosts):
    a, b, c = hosts.hosts
    n = _net(hosts, on=0)
    for h in (b, c):
        wait_until(lambda h=h: n in h.cli("network", "ls", "--format",
                                          "{{.Name}} {{.Scope}}").stdout, what=f"{n} on {h.ns}")
        line = next(x for x in h.cli("network", "ls").stdout.splitlines() if f" {n} " in x)
        assert line.split()[2:] == ["overlay", "global"]
    scoped = c.cli("network", "ls", "--filter", "scope=global", "--format", "{{.Scope}}",
                   check=True).stdout.split()
    assert scoped and set(scoped) == {"global"}
    status, body = b.api("GET", f"/networks/{n}")
    assert status == 200 and body["Driver"] == "overlay" and body["Scope"] == "global"
    assert not any(k.startswith("_") for k in body)
    # the same record (ID, subnet) on every host
    ids = {h.cli("network", "inspect", "-f", "{{.Id}} {{(index .IPAM.Config 0).Subnet}}", n,
                 check=True).stdout for h in hosts.hosts}
    assert len(ids) == 1


def test_ping_and_names_across_three_hosts(hosts):
    a, b, c = hosts.hosts
    n = _net(hosts, "10.77.1.0/24", on=0)
    ca, cb, cc = name("a"), name("b"), name("c")
    _run(a, n, ca)
    wait_until(lambda: n in c.cli("network", "ls").stdout, what="network on C")
    _run(b, n, cb, "--network-alias", "bee")
    _run(c, n, cc)  # the network made on A, used on C
    assert _ping(a, ca, cb) and _ping(a, ca, cc)
    assert _ping(a, ca, "bee")  # --network-alias of a container on another host
    assert _ping(c, cc, ca) and _ping(b, cb, cc)
    assert _ping(a, ca, _ip(b, cb, n))
    # MTU lowered by the VXLAN overhead; a full-size packet crosses (no fragments lost)
    assert "mtu 1450" in a.exec(ca, "ip", "link", "show", "eth0").stdout
    assert a.exec(ca, "ping", "-c", "1", "-W", "2", "-s", "1422", cc).returncode == 0


def test_tcp_across_hosts(hosts):
    a, b, _ = hosts.hosts
    n = _net(hosts, on=1)
    server, client = name("srv"), name("cli")
    b.cli("run", "-d", "--name", server, "--network", n, "busybox", "sh", "-c",
          "sleep 600 | nc -l -p 5000 > /got", check=True)  # stdin never ends: nc stays
    wait_until(lambda: n in a.cli("network", "ls").stdout, what="network on A")
    _run(a, n, client)
    res = a.exec(client, "sh", "-c",
                 f"dd if=/dev/zero bs=1024 count=2048 2>/dev/null | nc {server} 5000")
    assert res.returncode == 0, res.stderr
    size = wait_until(lambda: b.exec(server, "sh", "-c", "wc -c < /got").stdout.strip()
                      == "2097152", what="2 MiB received")
    assert size


def test_addresses_never_twice(hosts):
    n = _net(hosts, "10.77.2.0/28", on=2)  # 13 addresses for 9 containers
    for h in hosts.hosts:
        wait_until(lambda h=h: n in h.cli("network", "ls").stdout, what="network")
    jobs = [(h, name(f"p{i}")) for h in hosts.hosts for i in range(3)]
    with concurrent.futures.ThreadPoolExecutor(9) as pool:
        list(pool.map(lambda j: _run(j[0], n, j[1]), jobs))
    ips = [_ip(h, c, n) for h, c in jobs]
    assert len(set(ips)) == len(ips), ips
    assert "10.77.2.1" not in ips  # the gateway is never handed out
    # etcd holds one claim per address, each with its owner
    kvs = _etcd_range(hosts, f"/dockling/ipam/{_id(hosts.hosts[0], n)}/")
    assert sorted(kvs) == sorted(ips)


def test_rm_everywhere_once_unused_anywhere(hosts):
    a, b, c = hosts.hosts
    n = _net(hosts, on=0)
    wait_until(lambda: n in c.cli("network", "ls").stdout, what="network on C")
    cc = name("c")
    _run(c, n, cc)
    res = a.cli("network", "rm", n)
    assert res.returncode != 0 and "has active endpoints" in res.stderr
    a.cli("network", "prune", "-f", check=True)  # used on C: prune on A keeps it
    assert n in b.cli("network", "ls").stdout and n in a.cli("network", "ls").stdout
    c.cli("rm", "-f", cc, check=True)
    a.cli("network", "rm", n, check=True)
    for h in (b, c):
        wait_until(lambda h=h: n not in h.cli("network", "ls").stdout, what=f"rm on {h.ns}")
    left = _etcd_range(hosts, "/dockling/")
    assert not any(n in k or n in v for k, v in left.items()), left


def test_encrypted_refused_not_ignored(hosts):
    """IPsec between hosts is not built: the option is refused by the daemon, never
    silently dropped (a bare -o key is docker's MapOpts: {"encrypted": ""})."""
    a = hosts.hosts[0]
    n = name("enc")
    res = a.cli("network", "create", "-d", "overlay", "-o", "encrypted", n)
    assert res.returncode != 0
    assert "encrypted" in res.stderr and "not implemented" in res.stderr, res.stderr
    status, body = a.api("POST", "/networks/create", {"Name": n, "Driver": "overlay",
                                                       "Options": {"encrypted": ""}})
    assert status == 400 and "not implemented" in body["message"]
    assert n not in a.cli("network", "ls").stdout


def test_overlay_needs_a_cluster_store(daemon):
    status, _, body = daemon.api("POST", "/networks/create",
                                 {"Name": name("x"), "Driver": "overlay"})
    assert status == 503
    assert "cluster-store" in body["message"] and "cluster-advertise" in body["message"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="needs the docker CLI")
def test_docker_cli_creates_and_lists_overlay(hosts):
    a, b, _ = hosts.hosts
    n = name("dk")
    a.cli("network", "create", "--driver", "overlay", n, docker=True, check=True)
    wait_until(lambda: n in b.cli("network", "ls").stdout, what="the network on B")
    out = b.cli("network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Scope}}",
                docker=True, check=True).stdout
    assert f"{n} overlay global" in out.splitlines()
    a.cli("network", "rm", n, docker=True, check=True)


def test_dead_host_vanishes_after_its_lease_and_returns(hosts):
    a, b, c = hosts.hosts
    n = _net(hosts, "10.77.3.0/24", on=0)
    ca, cb, cc = name("a"), name("b"), name("c")
    _run(a, n, ca)
    wait_until(lambda: n in b.cli("network", "ls").stdout and n in c.cli(
        "network", "ls").stdout, what="network on B and C")
    _run(b, n, cb)
    _run(c, n, cc)
    ip_b = _ip(b, cb, n)
    assert _ping(a, ca, cb) and _ping(a, ca, cc)
    b.kill9()
    assert _ping(a, ca, cc) and _ping(c, cc, ca)  # A and C go on
    # after the lease: B's container is gone from A's neighbours and names
    wait_until(lambda: ip_b not in _remote_neighbours(a, n), timeout=TTL + 15,
               what="B's endpoint gone from A's FDB/neighbours")
    assert a.exec(ca, "nslookup", cb, "127.0.0.11").returncode != 0
    assert _ping(a, ca, cc)
    b.start()  # its container ran on: published again
    wait_until(lambda: ip_b in _remote_neighbours(a, n), what="B's endpoint back on A")
    assert b.cli("inspect", "-f", "{{.State.Running}}", cb).stdout.strip() == "true"
    assert _ping(a, ca, cb) and _ping(b, cb, cc)
    assert _ip(b, cb, n) == ip_b  # its address kept (recovered, not allocated again)


def test_etcd_one_member_down_everything_works(hosts):
    a, b, _ = hosts.hosts
    n = _net(hosts, on=0)
    hosts.members[0].stop()
    try:
        wait_until(lambda: n in b.cli("network", "ls").stdout, what="network on B")
        ca, cb = name("a"), name("b")
        _run(a, n, ca)
        _run(b, n, cb)
        assert _ping(a, ca, cb) and _ping(b, cb, ca)
        m = name("ov")
        b.cli("network", "create", "-d", "overlay", m, check=True)
    finally:
        hosts.restart_member(0)
        hosts.wait_etcd()


def test_etcd_without_quorum_old_traffic_flows_new_endpoints_fail(hosts):
    a, b, c = hosts.hosts
    n = _net(hosts, "10.77.4.0/24", on=0)
    ca, cc, gone = name("a"), name("c"), name("gone")
    _run(a, n, ca)
    _run(a, n, gone)
    wait_until(lambda: n in c.cli("network", "ls").stdout, what="network on C")
    _run(c, n, cc)
    # both ways before the quorum goes: C must have learned A's endpoints from etcd
    # (a ping from A proves only A's side)
    wait_until(lambda: _ping(a, ca, cc) and _ping(c, cc, _ip(a, ca, n)),
               what="traffic both ways")
    ip_gone = _ip(a, gone, n)
    nid = _id(a, n)
    for m in hosts.members[1:]:
        m.stop()
    try:
        assert _ping(a, ca, _ip(c, cc, n)) and _ping(c, cc, _ip(a, ca, n))
        late = name("late")
        res = a.cli("run", "-d", "--name", late, "--network", n, "busybox", "sleep", "600")
        assert res.returncode != 0
        assert "cluster store unavailable" in res.stderr, res.stderr
        a.cli("rm", "-f", late)
        # a container may still go: its address and endpoint are released later
        a.cli("rm", "-f", gone, check=True)
    finally:
        for i in (1, 2):
            hosts.restart_member(i)
        hosts.wait_etcd()
    wait_until(lambda: ip_gone not in _etcd_range(hosts, f"/dockling/ipam/{nid}/"),
               timeout=30, what="the address of the removed container released")
    wait_until(lambda: ip_gone not in _remote_neighbours(c, n), what="its endpoint gone on C")
    # back: new endpoints again, and the first address was not handed out twice
    again = name("again")
    wait_until(lambda: a.cli("run", "-d", "--name", again, "--network", n, "busybox",
                             "sleep", "600").returncode == 0 or a.cli("rm", "-f", again)
               and False, timeout=30, what="run after etcd is back")
    ips = [_ip(a, ca, n), _ip(c, cc, n), _ip(a, again, n)]
    assert len(set(ips)) == 3
    assert _ping(c, cc, again)


def _id(host, net: str) -> str:
    return host.cli("network", "inspect", "-f", "{{.Id}}", net, check=True).stdout.strip()


def _etcd_range(hosts, prefix: str) -> dict[str, str]:
    """key tail -> value of every key under prefix (from any live member)."""
    e = Etcd([m.client_url for m in hosts.members if m.proc is not None])
    try:
        kvs, _ = e.range(prefix)
    finally:
        e.close()
    return {kv.key[len(prefix):]: kv.value.decode() for kv in kvs}


def test_connect_and_disconnect_a_running_container(hosts):
    a, b, _ = hosts.hosts
    n = _net(hosts, on=1)
    local = name("lo")
    a.cli("network", "create", local, check=True)
    ca, cb = name("a"), name("b")
    try:
        _run(a, local, ca)
        _run(b, n, cb)
        wait_until(lambda: n in a.cli("network", "ls").stdout, what="network on A")
        a.cli("network", "connect", n, ca, check=True)
        assert _ping(a, ca, cb)  # by name, through the embedded DNS it already had
        assert _ping(b, cb, ca)
        ip = _ip(a, ca, n)
        a.cli("network", "disconnect", n, ca, check=True)
        assert ip not in a.exec(ca, "ip", "-o", "addr").stdout
        wait_until(lambda: ip not in _remote_neighbours(b, n), what="its endpoint gone on B")
        wait_until(lambda: ip not in _etcd_range(hosts, f"/dockling/ipam/{_id(a, n)}/"),
                   what="its address released")
    finally:
        a.cli("rm", "-f", ca)
        a.cli("network", "rm", local)
