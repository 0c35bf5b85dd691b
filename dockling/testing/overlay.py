"""Several dockling hosts on one machine, for tests/overlay and bench/overlay.py.

    root namespace:   underlay bridge dlu<tag> (10.x.y.254/24)
                      etcd members listening on 10.x.y.254, own ports and data dirs
    host namespaces:  dlh<tag><i>, eth0 = 10.x.y.<i+1>, joined to the underlay by a veth;
                      a dockling daemon of its own (root, exec-root, socket, bridge,
                      iptables prefix, cgroup parent), cluster-advertise its address

A daemon enters its host's network namespace with ``nsenter --net``, not ``ip
netns exec``: the latter also gives the daemon a mount namespace of its own,
new at each start, so a daemon restarted after kill -9 would not see the
mounts (container root filesystems, namespace files) its containers still use.

Everything is removed by ``close`` even after a failure: containers, daemons,
their processes, mounts and cgroups, the namespaces (with every device and rule
in them), the underlay bridge and its rule, etcd processes and data.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from dockling.testing import leaks
from dockling.testing import net as testnet
from dockling.testing.private import remove_cgroup_parent

BIN = os.path.dirname(sys.executable)


def _run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    res = subprocess.run(argv, capture_output=True, text=True, check=False)
    if check and res.returncode:
        raise RuntimeError(f"{' '.join(argv)}: {res.stderr.strip()}")
    return res


def etcd_installed() -> bool:
    return shutil.which("etcd") is not None


class EtcdMember:
    def __init__(self, base: str, name: str, ip: str) -> None:
        self.name, self.ip = name, ip
        self.data = os.path.join(base, f"etcd-{name}")
        self.client_port = testnet.free_port()
        self.peer_port = testnet.free_port()
        self.proc: subprocess.Popen | None = None
        self.log = os.path.join(base, f"etcd-{name}.log")

    @property
    def client_url(self) -> str:
        return f"http://{self.ip}:{self.client_port}"

    @property
    def peer_url(self) -> str:
        return f"http://{self.ip}:{self.peer_port}"

    def start(self, initial_cluster: str, token: str) -> None:
        state = "existing" if os.path.exists(self.data) else "new"
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["etcd", "--name", self.name, "--data-dir", self.data,
                 "--listen-client-urls", self.client_url, "--advertise-client-urls",
                 self.client_url, "--listen-peer-urls", self.peer_url,
                 "--initial-advertise-peer-urls", self.peer_url, "--initial-cluster",
                 initial_cluster, "--initial-cluster-token", token, "--initial-cluster-state",
                 state, "--heartbeat-interval", "50", "--election-timeout", "500"],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


class Host:
    """A network namespace on the underlay with a dockling daemon in it."""

    def __init__(self, base: str, ns: str, ip: str, prefix: int, cluster_store: str,
                 ttl: int) -> None:
        self.base, self.ns, self.ip = base, ns, ip
        self.prefix = prefix
        self.root = os.path.join(base, "root")
        self.exec_root = os.path.join(base, "run")
        self.sock = os.path.join(base, "d.sock")
        self.cgroup_parent = f"dockling-ovl-{uuid.uuid4().hex[:8]}"
        self.net = testnet.daemon_config()
        self.net.update({"cluster-store": cluster_store, "cluster-advertise": ip,
                         "cluster-store-opts": {"discovery.ttl": str(ttl)}})
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cfg = os.path.join(self.base, "daemon.json")
        with open(cfg, "w") as f:
            json.dump(self.net, f)
        with open(os.path.join(self.base, "daemon.log"), "ab") as log:
            self.proc = subprocess.Popen(
                ["nsenter", f"--net=/run/netns/{self.ns}", os.path.join(BIN, "dockling"),
                 "daemon", "--log-level", "debug", "--root", self.root, "--exec-root",
                 self.exec_root, "-H", f"unix://{self.sock}", "--cgroup-parent",
                 self.cgroup_parent, "--config-file", cfg],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if os.path.exists(self.sock):
                try:
                    self.api("GET", "/_ping")
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"daemon of {self.ns} did not start:\n{self.log()}")

    def log(self) -> str:
        with open(os.path.join(self.base, "daemon.log"), errors="replace") as f:
            return f.read()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str, timeout: float = 60, check: bool = False,
            docker: bool = False) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKLING_HOST": f"unix://{self.sock}",
               "DOCKER_HOST": f"unix://{self.sock}", "DOCKLING_NO_AUTOSTART": "1"}
        argv = ["docker", *args] if docker else [os.path.join(BIN, "dockling"), *args]
        res = subprocess.run(argv, capture_output=True, timeout=timeout, env=env,
                             stdin=subprocess.DEVNULL, check=False, text=True)
        if check and res.returncode != 0:
            raise AssertionError(f"{self.ns}: {' '.join(argv)} -> {res.returncode}\n"
                                 f"{res.stdout}{res.stderr}")
        return res

    def api(self, method: str, path: str, body=None):
        conn = http.client.HTTPConnection("localhost", timeout=60)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        conn.sock = s
        data = json.dumps(body).encode() if body is not None else None
        conn.request(method, path, body=data, headers={"Content-Type": "application/json"}
                     if data else {})
        resp = conn.getresponse()
        raw = resp.read()
        conn.close()
        return resp.status, json.loads(raw) if raw.strip()[:1] in (b"{", b"[") else raw

    def exec(self, container: str, *argv: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return self.cli("exec", container, *argv, timeout=timeout)

    def close(self) -> list[BaseException]:
        errors: list[BaseException] = []
        for step in (self._remove_containers, self.stop, self._kill_leftovers,
                     self._unmount_all, lambda: _run("ip", "netns", "del", self.ns,
                                                     check=False),
                     self._remove_cgroups, self._keep_log,
                     lambda: shutil.rmtree(self.base, ignore_errors=True)):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - every step runs; errors returned
                errors.append(err)
        return errors

    def _remove_containers(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        ids = self.cli("ps", "-aq", "--no-trunc", timeout=60).stdout.split()
        if ids:
            self.cli("rm", "-f", *ids, timeout=120)

    def _kill_leftovers(self) -> None:
        """Containers, shims and anything else of this host: in its cgroups, or
        with a root or cwd under its base, or in its network namespace."""
        for _ in range(3):
            pids = set()
            for cg in leaks.cgroup_children("/" + self.cgroup_parent):
                with contextlib.suppress(OSError), open(os.path.join(cg, "cgroup.procs")) as f:
                    pids |= {int(x) for x in f.read().split()}
            pids |= _pids_in_netns(self.ns) | _pids_under(self.base)
            pids.discard(os.getpid())
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            _reap()
            if not pids:
                return
            time.sleep(0.1)

    def _unmount_all(self) -> None:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if self.base in line]
        for mp in sorted(mounts, key=len, reverse=True):
            _run("umount", "-l", mp, check=False)

    def _remove_cgroups(self) -> None:
        deadline = time.monotonic() + 10
        while True:
            try:
                remove_cgroup_parent("/" + self.cgroup_parent)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                self._kill_leftovers()
                time.sleep(0.1)

    def _keep_log(self) -> None:
        keep = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dockling-test-logs")
        os.makedirs(keep, exist_ok=True)
        with contextlib.suppress(OSError):
            shutil.copy(os.path.join(self.base, "daemon.log"),
                        os.path.join(keep, f"{self.cgroup_parent}.log"))


class Cluster:
    """``hosts`` dockling hosts and ``members`` etcd members on one underlay."""

    def __init__(self, hosts: int = 3, members: int = 3, ttl: int = 3) -> None:
        self.base = tempfile.mkdtemp(prefix="dockling-overlay-")
        self.tag = uuid.uuid4().hex[:5]
        self.bridge = f"dlu{self.tag}"
        net = f"10.{random.randint(200, 254)}.{random.randint(0, 255)}"
        self.gateway = f"{net}.254"
        self.token = f"dockling-{self.tag}"
        self.members = [EtcdMember(self.base, f"m{i}", self.gateway) for i in range(members)]
        store = "etcd://" + ",".join(f"{m.ip}:{m.client_port}" for m in self.members)
        self.hosts = [Host(os.path.join(self.base, f"h{i}"), f"dlh{self.tag}{i}",
                           f"{net}.{i + 1}", 24, store, ttl) for i in range(hosts)]
        self._rule = ["FORWARD", "-i", self.bridge, "-o", self.bridge, "-j", "ACCEPT"]

    # -- set-up -------------------------------------------------------------------------
    def start(self, busybox_tar: str) -> None:
        _run("ip", "link", "add", self.bridge, "type", "bridge")
        _run("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _run("ip", "link", "set", self.bridge, "up")
        # bridged frames pass the root namespace's FORWARD chain (br_netfilter)
        _run("iptables", "-w", "-I", *self._rule)
        for i, h in enumerate(self.hosts):
            os.makedirs(h.base)
            _run("ip", "netns", "add", h.ns)
            veth = f"dlv{self.tag}{i}"
            _run("ip", "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns",
                 h.ns)
            _run("ip", "link", "set", veth, "master", self.bridge, "up")
            _run("ip", "-n", h.ns, "addr", "add", f"{h.ip}/24", "dev", "eth0")
            _run("ip", "-n", h.ns, "link", "set", "eth0", "up")
            _run("ip", "-n", h.ns, "link", "set", "lo", "up")
        initial = ",".join(f"{m.name}={m.peer_url}" for m in self.members)
        for m in self.members:
            m.start(initial, self.token)
        self.wait_etcd()
        for h in self.hosts:
            h.start()
            h.cli("import", "--change", 'CMD ["sh"]', busybox_tar, "busybox:latest",
                  check=True)

    def wait_etcd(self, timeout: float = 30) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        live = [m for m in self.members if m.proc is not None]
        while time.monotonic() < deadline:
            try:
                if all(httpx.get(f"{m.client_url}/health", timeout=1).json().get(
                        "health") == "true" for m in live):
                    return
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(0.1)
        raise RuntimeError("etcd cluster did not become healthy")

    def restart_member(self, i: int) -> None:
        m = self.members[i]
        m.start(",".join(f"{x.name}={x.peer_url}" for x in self.members), self.token)

    # -- tear-down ----------------------------------------------------------------------
    def close(self) -> None:
        errors: list[BaseException] = []
        for i, h in enumerate(self.hosts):
            errors += h.close()
            # at once: the kernel would take it with the namespace, but later (a workqueue)
            _run("ip", "link", "del", f"dlv{self.tag}{i}", check=False)
        for m in self.members:
            m.stop()
        _run("ip", "link", "del", self.bridge, check=False)
        _run("iptables", "-w", "-D", *self._rule, check=False)
        shutil.rmtree(self.base, ignore_errors=True)
        if errors:
            raise errors[0]


def _pids_in_netns(ns: str) -> set[int]:
    try:
        want = os.stat(f"/run/netns/{ns}")
    except OSError:
        return set()
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                st = os.stat(f"/proc/{name}/ns/net")
            except OSError:
                continue
            if (st.st_dev, st.st_ino) == (want.st_dev, want.st_ino):
                out.add(int(name))
    return out


def _pids_under(base: str) -> set[int]:
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            for link in ("root", "cwd"):
                with contextlib.suppress(OSError):
                    if os.readlink(f"/proc/{name}/{link}").startswith(base):
                        out.add(int(name))
    return out


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


@contextlib.contextmanager
def cluster(busybox_tar: str, hosts: int = 3, members: int = 3, ttl: int = 3):
    c = Cluster(hosts, members, ttl)
    try:
        c.start(busybox_tar)
        yield c
    finally:
        c.close()
