"""Container networks through the real kernel: bridges, veths, NAT, DNS, ports.

"The internet" is a network namespace the test makes (a veth from the host),
with a small HTTP server that answers with the address it saw: outbound NAT
is shown by that address being the host's, never a real outside address.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid

import pytest

from dockling.testing.net import free_port
from tests.engine.conftest import name


def _inspect(d, n) -> dict:
    return json.loads(d.cli("inspect", n, check=True).stdout)[0]


def _ip(d, n, net="bridge") -> str:
    return _inspect(d, n)["NetworkSettings"]["Networks"][net]["IPAddress"]


def _run_bg(d, n, *args):
    d.cli("run", "-d", "--name", n, *args, check=True)


@pytest.fixture
def internet():
    """A namespace "outside" the host: 10.253.X.2 serves HTTP, echoing the client."""
    tag = uuid.uuid4().hex[:6]
    ns, host_if = f"dlt-inet-{tag}", f"dli{tag}"
    x = int(tag[:2], 16)
    host_ip, server_ip = f"10.253.{x}.1", f"10.253.{x}.2"
    sh = lambda *c: subprocess.run(c, check=True, capture_output=True)  # noqa: E731
    server = None
    try:
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", host_if, "type", "veth", "peer", "name", "eth0", "netns", ns)
        sh("ip", "addr", "add", f"{host_ip}/30", "dev", host_if)
        sh("ip", "link", "set", host_if, "up")
        sh("ip", "-n", ns, "addr", "add", f"{server_ip}/30", "dev", "eth0")
        sh("ip", "-n", ns, "link", "set", "eth0", "up")
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        code = ("import http.server as h\n"
                "class H(h.BaseHTTPRequestHandler):\n"
                "    def do_GET(self):\n"
                "        b = self.client_address[0].encode()\n"
                "        self.send_response(200); self.send_header('Content-Length', len(b))\n"
                "        self.end_headers(); self.wfile.write(b)\n"
                "    def log_message(self, *a): pass\n"
                f"h.HTTPServer(('{server_ip}', 8000), H).serve_forever()\n")
        server = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", code])
        _listening(lambda: ["ip", "netns", "exec", ns, "cat", "/proc/net/tcp"], 8000)
        yield {"server": server_ip, "host": host_ip}
    finally:
        if server is not None:
            server.kill()
            server.wait()
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, check=False)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)


def test_default_bridge_endpoint(daemon):
    n = name()
    _run_bg(daemon, n, "busybox", "sleep", "300")
    info = _inspect(daemon, n)
    ns = info["NetworkSettings"]
    ip = ns["IPAddress"]
    assert ns["Networks"]["bridge"]["IPAddress"] == ip
    assert ip.startswith(daemon.net["bip"].rsplit(".", 1)[0] + ".")
    assert ns["Gateway"] == daemon.net["bip"].split("/")[0]
    octets = [int(o) for o in ip.split(".")]
    assert ns["MacAddress"] == "02:42:" + ":".join(f"{o:02x}" for o in octets)
    # the notes' check: nsenter into the container's netns shows its own eth0
    out = subprocess.run(["nsenter", "-t", str(info["State"]["Pid"]), "-n", "ip", "addr"],
                         capture_output=True, text=True, check=True).stdout
    assert f"inet {ip}/24" in out and "eth0" in out
    hosts = daemon.cli("exec", n, "cat", "/etc/hosts", check=True).stdout.decode()
    assert f"{ip}\t{info['Config']['Hostname']}\n" in hosts
    resolv = daemon.cli("exec", n, "cat", "/etc/resolv.conf", check=True).stdout.decode()
    assert "nameserver 127." not in resolv
    route = daemon.cli("exec", n, "ip", "route", check=True).stdout.decode()
    assert f"default via {ns['Gateway']} dev eth0" in route
    daemon.cli("rm", "-f", n, check=True)


def test_user_network_names_aliases_and_isolation(daemon):
    net1, net2 = f"n1-{name()}", f"n2-{name()}"
    daemon.cli("network", "create", net1, check=True)
    daemon.cli("network", "create", net2, check=True)
    a, b, c = name(), name(), name()
    _run_bg(daemon, a, "--network", net1, "--network-alias", "web", "busybox", "sleep", "300")
    _run_bg(daemon, b, "--network", net1, "busybox", "sleep", "300")
    _run_bg(daemon, c, "--network", net2, "busybox", "sleep", "300")
    try:
        ip_a = _ip(daemon, a, net1)
        for target in (ip_a, a, "web"):
            res = daemon.cli("exec", b, "ping", "-c1", "-W2", target)
            assert res.returncode == 0, (target, res.stdout, res.stderr)
        out = daemon.cli("exec", b, "nslookup", a, "127.0.0.11").stdout.decode()
        assert f"Address: {ip_a}" in out
        assert daemon.cli("exec", b, "cat", "/etc/resolv.conf").stdout.startswith(
            b"nameserver 127.0.0.11\n")
        # another network: no route between them, and no name either
        assert daemon.cli("exec", c, "ping", "-c1", "-W1", ip_a).returncode != 0
        assert daemon.cli("exec", c, "ping", "-c1", "-W1", a).returncode != 0
        info = json.loads(daemon.cli("network", "inspect", net1, check=True).stdout)[0]
        names = sorted(v["Name"] for v in info["Containers"].values())
        assert names == sorted([a, b])
        # in use: docker's refusal, nothing removed
        res = daemon.cli("network", "rm", net1)
        assert res.returncode == 1 and b"has active endpoints" in res.stderr
    finally:
        daemon.cli("rm", "-f", a, b, c)
    daemon.cli("network", "rm", net1, net2, check=True)


def test_default_bridge_links(daemon):
    n1, n2 = name(), name()
    _run_bg(daemon, n1, "-e", "SECRET=1", "--expose", "80", "busybox", "sleep", "300")
    try:
        assert daemon.cli("run", "--rm", "busybox", "ping", "-c1", "-W1", n1).returncode != 0
        out = daemon.cli("run", "--rm", "--name", n2, "--link", n1, "busybox", "sh", "-c",
                         "cat /etc/hosts; env; ping -c1 -W2 " + n1, check=True).stdout.decode()
        ip = _ip(daemon, n1)
        host = _inspect(daemon, n1)["Config"]["Hostname"]
        assert f"{ip}\t{n1} {host}\n" in out  # as in the notes: 172.17.0.3  node1 5bdc55fc59e1
        prefix = n1.upper().replace("-", "_")
        assert f"{prefix}_PORT_80_TCP=tcp://{ip}:80" in out
        assert f"{prefix}_NAME=/{n2}/{n1}" in out and f"{prefix}_ENV_SECRET=1" in out
    finally:
        daemon.cli("rm", "-f", n1)


def test_internal_network_and_outbound_nat(daemon, internet):
    url = f"http://{internet['server']}:8000/"
    out = daemon.cli("run", "--rm", "busybox", "timeout", "5", "wget", "-qO-", url, check=True)
    assert out.stdout.decode() == internet["host"]  # masqueraded behind the host
    net = f"in-{name()}"
    daemon.cli("network", "create", "--internal", net, check=True)
    try:
        out = daemon.cli("run", "--rm", "--network", net, "busybox", "sh", "-c",
                         f"ip route; timeout 3 wget -qO- {url} || echo unreachable").stdout.decode()
        assert "default" not in out and "unreachable" in out
    finally:
        daemon.cli("network", "rm", net, check=True)


def test_none_and_host(daemon):
    out = daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link",
                     check=True).stdout.decode()
    assert [line.split(":")[1].strip() for line in out.splitlines()] == ["lo"]
    out = daemon.cli("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link",
                     check=True).stdout.decode()
    # the host's own links (other tests' veths and bridges come and go meanwhile)
    host_links = [n for n in os.listdir("/sys/class/net")
                  if not n.startswith(("veth", "dlt", "br-", "dli", "lo"))]
    assert host_links and all(f" {h}:" in out or f" {h}@" in out for h in host_links)
    hostname = daemon.cli("run", "--rm", "--network", "host", "busybox", "hostname",
                          check=True).stdout.decode().strip()
    assert hostname == os.uname().nodename


def test_published_ports(daemon):
    n, m = name(), name()
    port = free_port()
    _run_bg(daemon, n, "-p", f"{port}:80", "-p", "80", "-p", f"{port}:90/udp", "busybox",
            "sh", "-c", "echo hello > /tmp/index.html; httpd -f -p 80 -h /tmp")
    try:
        _container_listens(daemon, n, 80)
        for host in ("127.0.0.1", _host_address()):
            assert _get(f"http://{host}:{port}/") == b"hello\n", host
        ports = _inspect(daemon, n)["NetworkSettings"]["Ports"]
        assert ports["80/tcp"][0] == {"HostIp": "0.0.0.0", "HostPort": str(port)}
        random_port = int(ports["80/tcp"][1]["HostPort"])
        lo, hi = (int(x) for x in open("/proc/sys/net/ipv4/ip_local_port_range").read().split())
        assert lo <= random_port <= hi
        assert _get(f"http://127.0.0.1:{random_port}/") == b"hello\n"
        listing = daemon.cli("port", n, check=True).stdout.decode()
        assert f"80/tcp -> 0.0.0.0:{port}" in listing and f"90/udp -> 0.0.0.0:{port}" in listing
        assert f"0.0.0.0:{port}->80/tcp" in daemon.cli("ps", "-f", f"name={n}").stdout.decode()
        # UDP: a server in the container's network namespace answers from the host
        pid = _inspect(daemon, n)["State"]["Pid"]
        srv = subprocess.Popen(["nsenter", "-t", str(pid), "-n", sys.executable, "-c",
                                "import socket; s=socket.socket(2, 2); s.bind(('0.0.0.0', 90));"
                                " s.settimeout(5); d, a = s.recvfrom(64); s.sendto(b're:' + d, a)"])
        _listening(lambda: ["cat", f"/proc/{pid}/net/udp", f"/proc/{pid}/net/udp6"], 90)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
        s.sendto(b"hi", ("127.0.0.1", port))
        assert s.recvfrom(64)[0] == b"re:hi"
        srv.wait(5)
        # the host port is taken: docker's messages
        res = daemon.cli("run", "--rm", "-p", f"{port}:80", "busybox", "true")
        assert res.returncode == 125
        assert f"Bind for 0.0.0.0:{port} failed: port is already allocated".encode() in \
            res.stderr
        held = socket.socket()
        held.bind(("0.0.0.0", 0))
        held.listen()
        res = daemon.cli("run", "--rm", "-p", f"{held.getsockname()[1]}:80", "busybox", "true")
        held.close()
        assert res.returncode == 125 and b"address already in use" in res.stderr
        # -P publishes what --expose and the image expose
        _run_bg(daemon, m, "-P", "--expose", "7000", "busybox", "sleep", "300")
        assert _inspect(daemon, m)["NetworkSettings"]["Ports"]["7000/tcp"][0]["HostPort"]
    finally:
        daemon.cli("rm", "-f", n, m)
    # stopped: the DNAT rules are gone
    nat = subprocess.run(["iptables", "-t", "nat", "-S", daemon.net["iptables-chain-prefix"]],
                         capture_output=True, text=True, check=False).stdout
    assert f"--dport {port}" not in nat


def test_connect_disconnect_static_ip_and_hosts(daemon):
    net = f"cn-{name()}"
    daemon.cli("network", "create", "--subnet", "10.252.7.0/24", net, check=True)
    n, peer = name(), name()
    _run_bg(daemon, peer, "--network", net, "--ip", "10.252.7.50", "busybox", "sleep", "300")
    _run_bg(daemon, n, "--add-host", "db.local:10.1.2.3", "--add-host",
            "gw:host-gateway", "--dns", "10.9.9.9", "--dns-search", "example.test",
            "busybox", "sleep", "300")
    try:
        assert _ip(daemon, peer, net) == "10.252.7.50"
        hosts = daemon.cli("exec", n, "cat", "/etc/hosts").stdout.decode()
        gw = daemon.net["bip"].split("/")[0]
        assert "10.1.2.3\tdb.local\n" in hosts and f"{gw}\tgw\n" in hosts
        resolv = daemon.cli("exec", n, "cat", "/etc/resolv.conf").stdout.decode()
        assert resolv == "nameserver 10.9.9.9\nsearch example.test\n"
        assert daemon.cli("exec", n, "ping", "-c1", "-W1", "10.252.7.50").returncode != 0
        daemon.cli("network", "connect", "--alias", "second", net, n, check=True)
        out = daemon.cli("exec", n, "ip", "-o", "addr").stdout.decode()
        assert " eth1 " in out and "10.252.7." in out
        assert daemon.cli("exec", n, "ping", "-c1", "-W2", "10.252.7.50").returncode == 0
        assert daemon.cli("exec", peer, "ping", "-c1", "-W2", "second").returncode == 0
        res = daemon.cli("network", "connect", net, n)
        assert res.returncode == 1 and b"already exists in network" in res.stderr
        daemon.cli("network", "disconnect", net, n, check=True)
        assert " eth1 " not in daemon.cli("exec", n, "ip", "-o", "addr").stdout.decode()
        res = daemon.cli("run", "--rm", "--network", net, "--ip", "10.252.7.50", "busybox",
                         "true")
        assert res.returncode == 125 and b"Address already in use" in res.stderr
    finally:
        daemon.cli("rm", "-f", n, peer)
    daemon.cli("network", "rm", net, check=True)


def test_network_commands_and_errors(daemon):
    out = daemon.cli("network", "ls", check=True).stdout.decode().splitlines()
    assert out[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    names = {line.split()[1]: line.split()[2] for line in out[1:]}
    assert names["bridge"] == "bridge" and names["host"] == "host" and names["none"] == "null"
    for driver in ("null", "host"):
        res = daemon.cli("network", "create", "--driver", driver, f"x-{name()}")
        assert res.returncode == 1
        assert res.stderr.decode().strip() == \
            f'Error response from daemon: only one instance of "{driver}" network is allowed'
    net = f"lb-{name()}"
    daemon.cli("network", "create", "--label", "t=1", "-o",
               "com.docker.network.bridge.enable_icc=false", net, check=True)
    res = daemon.cli("network", "create", net)
    assert res.returncode == 1 and b"already exists" in res.stderr
    assert daemon.cli("network", "ls", "-q", "-f", "label=t=1").stdout.decode().split() == \
        [json.loads(daemon.cli("network", "inspect", net).stdout)[0]["Id"][:12]]
    res = daemon.cli("network", "rm", "bridge")
    assert res.returncode == 1 and b"pre-defined network and cannot be removed" in res.stderr
    res = daemon.cli("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert res.returncode == 125 and b"network nosuchnet not found" in res.stderr
    # enable_icc=false: two containers on it cannot talk
    a, b = name(), name()
    _run_bg(daemon, a, "--network", net, "busybox", "sleep", "300")
    try:
        res = daemon.cli("run", "--rm", "--network", net, "busybox", "ping", "-c1", "-W1",
                         _ip(daemon, a, net))
        assert res.returncode != 0
    finally:
        daemon.cli("rm", "-f", a, b)
    out = daemon.cli("network", "prune", "-f", "--filter", "label=t=1", check=True)
    assert net in out.stdout.decode()


def test_network_failing_while_the_runtime_creates_leaves_nothing(daemon):
    """The interfaces are made while the runtime makes the container: when they
    cannot be (the network's bridge was deleted behind the daemon's back), the
    held container is deleted before start answers, and nothing of it is left."""
    net, n = f"gone-{name()}", name()
    nid = daemon.cli("network", "create", net, check=True).stdout.decode().strip()
    try:
        subprocess.run(["ip", "link", "del", f"br-{nid[:12]}"], check=True)
        res = daemon.cli("run", "--name", n, "--network", net, "busybox", "true")
        assert res.returncode == 125, res
        assert f"bridge br-{nid[:12]} is missing".encode() in res.stderr, res.stderr
        c = _inspect(daemon, n)
        assert c["State"]["Status"] == "created" and c["State"]["Pid"] == 0
        assert c["NetworkSettings"]["Networks"][net]["IPAddress"] == ""
        cid = c["Id"]
        assert not os.path.exists(os.path.join(daemon.exec_root, "netns", cid))
        assert not os.path.exists(os.path.join(daemon.exec_root, "runtime", cid))
        for ctl in ("pids", "memory"):
            assert not os.path.exists(f"/sys/fs/cgroup/{ctl}/{daemon.cgroup_parent}/{cid}")
        # the same container starts once the network is whole again (a new bridge)
        daemon.cli("network", "disconnect", net, n, check=True)
        daemon.cli("start", n, check=True)
    finally:
        daemon.cli("rm", "-f", n)
        daemon.cli("network", "rm", net)


def _get(url: str) -> bytes:
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    with opener.open(url, timeout=5) as resp:
        return resp.read()


def _listening(table_cmd, port: int, timeout: float = 10) -> None:
    """Wait until a socket is bound to ``port`` in the /proc/net/{tcp,udp}[6] tables that
    ``table_cmd()`` prints (a server's readiness, rather than a sleep)."""
    deadline = time.monotonic() + timeout
    want = f":{port:04X} "
    while True:
        out = subprocess.run(table_cmd(), capture_output=True, text=True,
                             check=False).stdout
        if any(want in line.split(None, 3)[1] + " " for line in out.splitlines()
               if line.split(None, 1)[0].rstrip(":").isdigit()):
            return
        assert time.monotonic() < deadline, f"nothing bound to port {port}"
        time.sleep(0.02)


def _container_listens(d, n: str, port: int) -> None:
    pid = _inspect(d, n)["State"]["Pid"]
    _listening(lambda: ["cat", f"/proc/{pid}/net/tcp", f"/proc/{pid}/net/tcp6"], port)


def _host_address() -> str:
    out = subprocess.run(["ip", "-o", "-4", "route", "get", "1.1.1.1"], capture_output=True,
                         text=True, check=True).stdout.split()
    return out[out.index("src") + 1]


def test_killed_daemon_keeps_and_then_cleans_networking(tmp_path_factory, busybox_tar):
    from tests.engine.conftest import running_daemon

    with running_daemon(tmp_path_factory, busybox_tar) as d:
        net = f"kn-{name()}"
        d.cli("network", "create", net, check=True)
        web, client = name(), name()
        port = free_port()
        _run_bg(d, web, "--network", net, "-p", f"{port}:80", "busybox", "sh", "-c",
                "echo up > /tmp/index.html; httpd -f -p 80 -h /tmp")
        _run_bg(d, client, "--network", net, "busybox", "sleep", "300")
        _container_listens(d, web, 80)
        assert _get(f"http://127.0.0.1:{port}/") == b"up\n"
        d.kill9()
        assert _get(f"http://127.0.0.1:{port}/") == b"up\n"  # the kernel carries on
        d.start()
        # rules, the held port and the DNS listener are back
        assert _get(f"http://127.0.0.1:{port}/") == b"up\n"
        assert d.cli("exec", client, "ping", "-c1", "-W2", web).returncode == 0
        res = d.cli("run", "--rm", "-p", f"{port}:80", "busybox", "true")
        assert b"port is already allocated" in res.stderr
        # moby's bridge driver names the device br-<short ID>; inspect does not show it
        br = "br-" + json.loads(d.cli("network", "inspect", net).stdout)[0]["Id"][:12]

        def ports_of_bridge() -> list[str]:
            return subprocess.run(["ip", "-o", "link", "show", "master", br],
                                  capture_output=True, text=True, check=True).stdout.splitlines()

        assert len(ports_of_bridge()) == 2
        d.cli("rm", "-f", web, client, check=True)
        deadline = time.monotonic() + 10  # the kernel removes the pairs in the background
        while ports_of_bridge():
            assert time.monotonic() < deadline, f"veth pairs left behind: {ports_of_bridge()}"
            time.sleep(0.05)
        nat = subprocess.run(["iptables", "-t", "nat", "-S", d.net["iptables-chain-prefix"]],
                             capture_output=True, text=True, check=False).stdout
        assert f"--dport {port}" not in nat
        assert not os.listdir(os.path.join(d.exec_root, "netns"))


def test_ipv6_network(daemon):
    net = f"v6-{name()}"
    x = f"{0x1000 + uuid.uuid4().int % 0xf000:x}"  # no leading 0: addresses drop it
    daemon.cli("network", "create", "--ipv6", "--subnet", f"fd00:{x}::/64", net, check=True)
    a, b = name(), name()
    try:
        _run_bg(daemon, a, "--network", net, "busybox", "sleep", "300")
        _run_bg(daemon, b, "--network", net, "--ip6", f"fd00:{x}::99", "busybox", "sleep",
                "300")
        ep = _inspect(daemon, a)["NetworkSettings"]["Networks"][net]
        assert ep["GlobalIPv6Address"].startswith(f"fd00:{x}::")
        assert ep["GlobalIPv6PrefixLen"] == 64 and ep["IPv6Gateway"] == f"fd00:{x}::1"
        assert _inspect(daemon, b)["NetworkSettings"]["Networks"][net][
            "GlobalIPv6Address"] == f"fd00:{x}::99"
        out = daemon.cli("exec", a, "ip", "-6", "addr", check=True).stdout.decode()
        assert f"fd00:{x}::" in out
        assert daemon.cli("exec", a, "ping", "-6", "-c1", "-W2", f"fd00:{x}::99").returncode == 0
        out = daemon.cli("exec", a, "nslookup", "-type=aaaa", b, "127.0.0.11").stdout.decode()
        assert f"fd00:{x}::99" in out
        info = json.loads(daemon.cli("network", "inspect", net).stdout)[0]
        assert f"fd00:{x}::99/64" in [v["IPv6Address"] for v in info["Containers"].values()]
    finally:
        daemon.cli("rm", "-f", a, b)
    daemon.cli("network", "rm", net, check=True)
    res = daemon.cli("network", "create", "--ipv6", f"x-{name()}")
    assert res.returncode == 1 and b"needs an IPv6 --subnet" in res.stderr


def test_ipv6_on_the_default_bridge(tmp_path_factory, busybox_tar):
    """daemon.json ipv6 + fixed-cidr-v6: containers on the default bridge get v6 too."""
    from tests.engine.conftest import running_daemon

    with running_daemon(tmp_path_factory, busybox_tar) as d:
        x = f"{0x1000 + uuid.uuid4().int % 0xf000:x}"  # no leading 0: addresses drop it
        d.stop()
        cfg = os.path.join(d.base, "daemon.json")
        with open(cfg) as f:
            doc = json.load(f)
        doc.update({"ipv6": True, "fixed-cidr-v6": f"fd00:{x}:1::/64"})
        with open(cfg, "w") as f:
            json.dump(doc, f)
        d.start()
        n = name()
        _run_bg(d, n, "busybox", "sleep", "300")
        ns = _inspect(d, n)["NetworkSettings"]
        assert ns["GlobalIPv6Address"].startswith(f"fd00:{x}:1::") and \
            ns["IPv6Gateway"] == f"fd00:{x}:1::1"
        net = json.loads(d.cli("network", "inspect", "bridge").stdout)[0]
        assert net["EnableIPv6"] is True
        assert d.cli("exec", n, "ping", "-6", "-c1", "-W2", f"fd00:{x}:1::1").returncode == 0
        d.cli("rm", "-f", n, check=True)
