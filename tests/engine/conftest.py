"""A daemon per test module: own root, run dir, socket and cgroup parent;
a busybox image imported the way the set-up does it; clean-up of
containers, mounts, cgroups and processes even when a test fails."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from dockling.testing import net as testnet
from dockling.testing.leaks import cgroup_children
from tests.conftest import ROOT, reap_zombies, remove_cgroup_parent

BIN = os.path.dirname(sys.executable)


class Daemon:
    def __init__(self, base: str, runtime: str = "dockling") -> None:
        self.base = base
        self.runtime = runtime
        self.root = os.path.join(base, "root")
        self.exec_root = os.path.join(base, "run")
        self.sock = os.path.join(base, "d.sock")
        self.cgroup_parent = f"dockling-test-{uuid.uuid4().hex[:8]}"
        self.net = testnet.daemon_config()  # own bridge, subnets and iptables chains
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        cfg = os.path.join(self.base, "daemon.json")
        if not os.path.exists(cfg):
            with open(cfg, "w") as f:
                json.dump(self.net, f)
        log = open(os.path.join(self.base, "daemon.log"), "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "dockling"), "daemon", "--log-level", "debug", "--runtime",
             self.runtime, "--root", self.root, "--exec-root",
             self.exec_root, "-H", f"unix://{self.sock}", "--cgroup-parent",
             self.cgroup_parent, "--config-file", os.path.join(self.base, "daemon.json")],
            stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if os.path.exists(self.sock):
                try:
                    self.api("GET", "/_ping")
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise RuntimeError("daemon did not start:\n" + self.log())

    def log(self) -> str:
        with open(os.path.join(self.base, "daemon.log"), errors="replace") as f:
            return f.read()

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        os.unlink(self.sock)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def cli(self, *args: str, input: bytes | None = None, timeout: float = 60,
            check: bool = False) -> subprocess.CompletedProcess:
        env = {**os.environ, "DOCKLING_HOST": f"unix://{self.sock}",
               "DOCKLING_NO_AUTOSTART": "1"}
        res = subprocess.run([os.path.join(BIN, "dockling"), *args], capture_output=True,
                             input=input, timeout=timeout, env=env,
                             stdin=None if input is not None else subprocess.DEVNULL,
                             check=False)
        if check and res.returncode != 0:
            raise AssertionError(f"dockling {' '.join(args)} -> {res.returncode}\n"
                                 f"{res.stdout.decode()}{res.stderr.decode()}")
        return res

    def api(self, method: str, path: str, body=None, headers: dict | None = None):
        """A plain HTTP client on the socket: (status, headers, parsed body)."""
        conn = http.client.HTTPConnection("localhost", timeout=60)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.sock)
        conn.sock = s
        h = dict(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
            h["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=h)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        ctype = resp.getheader("Content-Type", "")
        parsed = json.loads(data) if data and ctype.startswith("application/json") and \
            b"\n{" not in data.strip() else data
        return resp.status, dict(resp.getheaders()), parsed

    def cleanup(self) -> None:
        """Every step runs even if one before it fails; the first error is raised last."""
        errors: list[BaseException] = []
        for step in (self._remove_containers, self.stop, lambda: _kill_matching(self.base),
                     self._kill_cgroups, self._unmount_all, reap_zombies,
                     lambda: testnet.cleanup(self.root, self.net), self._remove_cgroups,
                     self._keep_logs, lambda: shutil.rmtree(self.base, ignore_errors=True)):
            try:
                step()
            except Exception as err:  # noqa: BLE001 - collected, re-raised below
                errors.append(err)
        if errors:
            raise errors[0]

    def _remove_containers(self) -> None:
        if not self.proc or self.proc.poll() is not None:
            return
        ids = self.cli("ps", "-aq", "--no-trunc").stdout.decode().split()
        if ids:
            self.cli("rm", "-f", *ids)

    def _kill_cgroups(self) -> None:
        """Kill what is left in the containers' cgroups: a container whose shim died
        has a root that no longer shows under base, so _kill_matching misses it."""
        for cg in cgroup_children("/" + self.cgroup_parent):
            try:
                with open(os.path.join(cg, "cgroup.procs")) as f:
                    pids = [int(x) for x in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def _remove_cgroups(self) -> None:
        """Killed processes leave their cgroup a moment later: retry while busy."""
        deadline = time.monotonic() + 10
        while True:
            try:
                remove_cgroup_parent("/" + self.cgroup_parent)
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                self._kill_cgroups()
                reap_zombies()
                time.sleep(0.05)

    def _unmount_all(self) -> None:
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if self.base in line]
        for mp in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, check=False)

    def _keep_logs(self) -> None:
        """Keep the daemon's log (with any shim tracebacks) for a failed CI run."""
        keep = os.path.join(os.environ.get("TMPDIR", "/tmp"), "dockling-test-logs")
        os.makedirs(keep, exist_ok=True)
        with open(os.path.join(keep, f"{self.cgroup_parent}.log"), "w") as f:
            f.write(self.log())


def _kill_matching(base: str) -> None:
    """Kill processes whose cwd/root lies under base (shims, containers)."""
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            root = os.readlink(f"/proc/{name}/root")
        except OSError:
            continue
        if root.startswith(base):
            try:
                os.kill(int(name), signal.SIGKILL)
            except ProcessLookupError:
                pass


@contextlib.contextmanager
def running_daemon(tmp_path_factory, busybox_tar: str, runtime: str = "dockling"):
    """A started daemon with busybox:latest imported; cleaned up on exit."""
    if not ROOT:
        pytest.skip("needs root")
    d = Daemon(str(tmp_path_factory.mktemp("daemon")), runtime)
    try:
        d.start()  # inside: a daemon that fails to start is cleaned up too
        d.cli("import", "--change", 'CMD ["sh"]', busybox_tar, "busybox:latest", check=True)
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def name() -> str:
    return f"t-{uuid.uuid4().hex[:8]}"
