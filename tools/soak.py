#!/usr/bin/env python3
"""Soak: parallel clients against a daemon that is killed -9 every few minutes.

    sudo .venv/bin/python tools/soak.py [--minutes 10] [--clients 8] [--kill-every 120]
                                        [--report FILE] [--keep]

Not part of the test run. A private daemon (own root, run dir, socket, bridge,
subnets, iptables chains and cgroup parent, as the test daemons) gets a busybox
image. ``--clients`` threads then loop create / start / exec / logs / stop / rm
through the ``dockling`` CLI, each leaving a few containers behind on purpose
(created, running, exited; some with a published port) so that the end has
something to compare. Meanwhile the harness kill -9's the daemon every
``--kill-every`` seconds and starts it again, and once kill -9's the shim of a
running container.

A client keeps what it believes about each of its containers. A command that
fails while the daemon is down or was killed during it is an outage: the client
waits for the daemon and asks it (inspect by name) what became of the container.
A command that fails with the daemon up is a failure: reported with its output,
and the client goes on from the state the daemon reports.

At the end: every container a client believes in must be in ``ps -a`` with the
state it believes (the container whose shim was killed: exited, 137), and nothing
else may be there. Then everything is removed, and no mount, cgroup (any
hierarchy, v1 or v2), veth, iptables rule, network namespace, runtime state or
process of a container may be left. The report goes to stdout (and --report);
the daemon's log is kept next to it. Exit status 0 when the report is clean.
"""

from __future__ import annotations

import argparse
import collections
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
import tarfile
import tempfile
import threading
import time
import uuid

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from dockling.testing import leaks  # noqa: E402
from dockling.testing import net as testnet  # noqa: E402
from dockling.testing.busybox import make_rootfs  # noqa: E402

BIN = os.path.dirname(sys.executable)
# PID 1 says it started and ends cleanly on TERM (exit 0), as bench/engine.py's loop.
PROGRAM = "echo started; trap 'exit 0' TERM; while :; do sleep 0.1; done"
CLI_TIMEOUT = 90


# -- the daemon under test ------------------------------------------------------------
class Daemon:
    """A private daemon that can be killed -9 and started again on the same state."""

    def __init__(self, work: str) -> None:
        self.work = work
        self.root = os.path.join(work, "root")
        self.exec_root = os.path.join(work, "run")
        self.sock = os.path.join(work, "d.sock")
        self.log_path = os.path.join(work, "daemon.log")
        self.cgroup_parent = f"dockling-soak-{uuid.uuid4().hex[:8]}"
        self.net = testnet.daemon_config()
        with open(os.path.join(work, "daemon.json"), "w") as f:
            json.dump(self.net, f)
        self.proc: subprocess.Popen | None = None
        self.gen = 0                    # +1 at each kill: a call that spans one is an outage
        self.up = threading.Event()
        self.lock = threading.Lock()
        self.env = {**os.environ, "DOCKLING_HOST": f"unix://{self.sock}",
                    "DOCKLING_NO_AUTOSTART": "1"}

    def start(self) -> float:
        t0 = time.monotonic()
        with open(self.log_path, "ab") as log:
            log.write(f"\n==== soak: daemon start (generation {self.gen}) ====\n".encode())
            log.flush()
            self.proc = subprocess.Popen(
                [os.path.join(BIN, "dockling"), "daemon", "--log-level", "debug",
                 "--root", self.root, "--exec-root", self.exec_root, "-H",
                 f"unix://{self.sock}", "--cgroup-parent", self.cgroup_parent,
                 "--config-file", os.path.join(self.work, "daemon.json")],
                stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited ({self.proc.returncode}) at start")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if self.api("GET", "/_ping")[0] == 200:
                    self.up.set()
                    return time.monotonic() - t0
            time.sleep(0.02)
        raise RuntimeError("the daemon did not answer within 60 s")

    def kill9(self) -> None:
        with self.lock:
            self.up.clear()
            self.gen += 1
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        # the socket file stays, as after a real crash: the next daemon must cope

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.up.clear()

    def api(self, method: str, path: str, timeout: float = 30):
        conn = http.client.HTTPConnection("localhost", timeout=timeout)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        conn.sock = s
        try:
            conn.request(method, path)
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        try:
            return resp.status, json.loads(data) if data else None
        except ValueError:
            return resp.status, data

    def cli(self, *args: str, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([os.path.join(BIN, "dockling"), *args], env=self.env,
                                  capture_output=True, stdin=subprocess.DEVNULL,
                                  timeout=timeout, check=False)
        except subprocess.TimeoutExpired as err:
            return subprocess.CompletedProcess(args, -1, err.stdout or b"",
                                               (err.stderr or b"") + b"\n[soak: timed out]")


# -- what the clients believe ---------------------------------------------------------
class Belief:
    def __init__(self, name: str, plan: str, port: bool) -> None:
        self.name = name
        self.plan = plan          # full | keep-created | keep-running | keep-exited
        self.port = port
        self.cid = ""
        self.state = "absent"     # absent, created, running, exited, removed
        self.exit_code: int | None = None
        self.execd = False
        self.done = False         # the client is finished with it
        self.shim_killed = False
        self.history: list[str] = []  # what the client did to it, for the report
        self.failures = 0             # failed commands in a row with the daemon up


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.ok: collections.Counter = collections.Counter()
        self.outage: collections.Counter = collections.Counter()
        self.failures: list[dict] = []
        self.cycles = 0

    def failure(self, **kw) -> None:
        with self.lock:
            self.failures.append(kw)


class Client(threading.Thread):
    def __init__(self, n: int, d: Daemon, stats: Stats, stop: threading.Event,
                 beliefs: dict[str, Belief], block: threading.Lock, keep_max: int) -> None:
        super().__init__(name=f"client-{n}", daemon=True)
        self.n = n
        self.d = d
        self.stats = stats
        self.stop_ev = stop
        self.beliefs = beliefs
        self.blocks = block
        self.keep_max = keep_max
        self.kept = 0
        self.rng = random.Random(n)
        self.count = 0

    def run(self) -> None:
        while not self.stop_ev.is_set():
            self.cycle()

    def cycle(self) -> None:
        self.count += 1
        name = f"soak-{self.n}-{self.count}"
        r = self.rng.random()
        plan = "full"
        if self.kept < self.keep_max:
            plan = ("keep-created" if r < 0.03 else "keep-running" if r < 0.08
                    else "keep-exited" if r < 0.13 else "full")
        if plan != "full":
            self.kept += 1
        b = Belief(name, plan, port=self.rng.random() < 0.25)
        with self.blocks:
            self.beliefs[name] = b
        for _ in range(20):  # steps; each moves the container on (or resolves it)
            # a container that fails again and again (daemon up) is left as it is
            if b.done or self.stop_ev.is_set() or b.failures >= 3:
                break
            self.step(b)
        b.done = True
        with self.stats.lock:
            self.stats.cycles += 1

    def step(self, b: Belief) -> None:
        if b.state == "absent":
            args = ["create", "--name", b.name, *(["-p", "80"] if b.port else []),
                    "busybox", "sh", "-c", PROGRAM]
            res = self.call(b, "create", args)
            if res is not None:
                b.cid, b.state = res.stdout.decode().strip(), "created"
        elif b.state == "created":
            if b.plan == "keep-created":
                b.done = True
            elif self.call(b, "start", ["start", b.name]) is not None:
                b.state = "running"
        elif b.state == "running" and not b.execd:
            word = f"hi-{self.n}-{self.count}"
            res = self.call(b, "exec", ["exec", b.name, "echo", word])
            if res is None:
                return
            b.execd = True
            if res.stdout.decode().strip() != word:
                self.stats.failure(verb="exec", name=b.name, gen=self.d.gen, rc=0,
                                   out=f"exec printed {res.stdout!r}, not {word!r}")
            self.check_logs(b)
        elif b.state == "running":
            if b.plan == "keep-running":
                b.done = True
            elif self.call(b, "stop", ["stop", b.name]) is not None:
                b.state, b.exit_code = "exited", 137 if b.shim_killed else 0
        elif b.state == "exited":
            if b.plan == "keep-exited":
                b.done = True
            elif self.call(b, "rm", ["rm", b.name]) is not None:
                b.state, b.done = "removed", True
        elif b.state == "removed":
            b.done = True
        else:  # restarting, paused, dead: nothing here asks for those
            self.stats.failure(verb="state", name=b.name, gen=self.d.gen, rc=0,
                               out=f"unexpected state {b.state}")
            if self.call(b, "rm", ["rm", "-f", b.name]) is not None:
                b.state, b.done = "removed", True

    def check_logs(self, b: Belief) -> None:
        """PID 1 echoes "started" first; the log must show it (soon after start)."""
        deadline = time.monotonic() + 10
        while True:
            res = self.call(b, "logs", ["logs", b.name])
            if res is None or b"started" in res.stdout:
                return
            if time.monotonic() > deadline:
                self.stats.failure(verb="logs", name=b.name, gen=self.d.gen, rc=0,
                                   out=f"no 'started' in the log: {res.stdout[-200:]!r}")
                return
            time.sleep(0.2)

    def call(self, b: Belief, verb: str, args: list[str]) -> subprocess.CompletedProcess | None:
        """Run a CLI command; None when it failed (the belief is then re-read)."""
        self.d.up.wait()
        gen = self.d.gen
        t0 = time.monotonic()
        res = self.d.cli(*args)
        stamp = f"{time.strftime('%H:%M:%S')} {verb}"
        if res.returncode == 0:
            b.failures = 0
            b.history.append(f"{stamp} ok")
            with self.stats.lock:
                self.stats.ok[verb] += 1
            return res
        b.history.append(f"{stamp} rc={res.returncode} gen {gen}->{self.d.gen}")
        if gen != self.d.gen or not self.d.up.is_set():
            with self.stats.lock:
                self.stats.outage[verb] += 1
        elif not b.shim_killed:
            b.failures += 1
            self.stats.failure(verb=verb, name=b.name, cid=b.cid, gen=gen, rc=res.returncode,
                               secs=round(time.monotonic() - t0, 2),
                               at=time.strftime("%H:%M:%S"),
                               out=(res.stdout + res.stderr).decode(errors="replace").strip())
        self.resolve(b)
        return None

    def resolve(self, b: Belief) -> None:
        """Ask the daemon what became of the container (after an outage or a failure)."""
        for _ in range(100):
            self.d.up.wait()
            try:
                status, doc = self.d.api("GET", f"/containers/{b.name}/json")
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            if status == 404:
                b.state = "removed" if b.state not in ("absent",) else "absent"
                if b.state == "removed":
                    b.done = True
                return
            if status == 200:
                b.cid = doc["Id"]
                b.state = doc["State"]["Status"]
                b.exit_code = doc["State"]["ExitCode"]
                b.history.append(f"  resolved: {b.state}")
                return
            time.sleep(0.2)


# -- the harness ----------------------------------------------------------------------
def import_busybox(d: Daemon) -> None:
    rootfs = make_rootfs(os.path.join(d.work, "rootfs"))
    tar = os.path.join(d.work, "busybox.tar")
    with tarfile.open(tar, "w") as tf:
        tf.add(rootfs, arcname=".")
    res = d.cli("import", "--change", 'CMD ["sh"]', tar, "busybox")
    if res.returncode:
        raise RuntimeError(f"import failed: {res.stderr.decode()}")
    shutil.rmtree(rootfs)
    os.unlink(tar)


def iptables_lines(prefix: str) -> list[str]:
    out = []
    for cmd in ("iptables-save", "ip6tables-save"):
        res = subprocess.run([cmd], capture_output=True, text=True, check=False)
        out += [f"{cmd[:-5]}: {line}" for line in res.stdout.splitlines()
                if prefix in line and not line.startswith(":")]
    return out


def bridge_ports(names: list[str]) -> list[str]:
    out = []
    for br in names:
        res = subprocess.run(["ip", "-o", "link", "show", "master", br], capture_output=True,
                             text=True, check=False)
        out += [line.split(":")[1].strip() for line in res.stdout.splitlines()]
    return out


def kill_a_shim(d: Daemon, beliefs: dict[str, Belief], lock: threading.Lock,
                rng: random.Random) -> str:
    with lock:
        running = [b for b in beliefs.values() if b.state == "running" and b.cid]
    kept = [b for b in running if b.done]
    pool = kept or running
    if not pool:
        return "no running container to pick"
    b = rng.choice(pool)
    try:
        with open(os.path.join(d.exec_root, "containers", b.cid, "shim.pid")) as f:
            pid = int(f.read())
    except (OSError, ValueError) as err:
        return f"{b.name}: no shim pid ({err})"
    b.shim_killed = True
    os.kill(pid, signal.SIGKILL)
    if b.done:  # nobody acts on it any more: what the daemon must now say
        b.state, b.exit_code = "exited", 137
    return f"{b.name} ({b.cid[:12]}), shim pid {pid}"


def verify(d: Daemon, beliefs: dict[str, Belief]) -> list[str]:
    """Every believed container in ps -a with its state; nothing else."""
    problems = []
    status, listed = d.api("GET", "/containers/json?all=1")
    if status != 200:
        return [f"ps -a answered {status}: {listed}"]
    actual = {c["Names"][0].lstrip("/"): c for c in listed}
    believed = {n: b for n, b in beliefs.items() if b.state not in ("absent", "removed")}
    for n, b in sorted(believed.items()):
        c = actual.get(n)
        if c is None:
            problems.append(f"{n}: believed {b.state}, not in ps -a")
            continue
        if c["State"] != b.state:
            problems.append(f"{n}: believed {b.state}, ps -a says {c['State']} "
                            f"({c['Status']})")
            continue
        if b.state == "exited":
            _, doc = d.api("GET", f"/containers/{c['Id']}/json")
            code = doc["State"]["ExitCode"]
            if b.exit_code is not None and code != b.exit_code:
                problems.append(f"{n}: exited {code}, believed {b.exit_code}")
            if b.shim_killed and "shim" not in doc["State"]["Error"]:
                problems.append(f"{n}: shim killed but Error is {doc['State']['Error']!r}")
    for n in sorted(set(actual) - set(believed)):
        problems.append(f"{n}: in ps -a ({actual[n]['State']}), no client believes in it")
    return problems


def _cgroup_pids(d: Daemon) -> list[int]:
    out: set[int] = set()
    for cg in leaks.cgroup_children("/" + d.cgroup_parent):
        with contextlib.suppress(OSError), open(os.path.join(cg, "cgroup.procs")) as f:
            out.update(int(x) for x in f.read().split())
    return sorted(out)


def _proc_info(pid: int) -> str:
    """" [ppid P, state S, waiting in W]": where a leftover process is stuck."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/wchan") as f:
            wchan = f.read().strip()
    except OSError:
        return ""
    return f" [ppid {fields[1]}, state {fields[0]}, waiting in {wchan or '-'}]"


def _container_of(pid: int, d: Daemon, names: dict[str, str]) -> str:
    """" (container NAME)" from the process's cgroup, when it is one of ours."""
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            text = f.read()
    except OSError:
        return ""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if f"/{d.cgroup_parent}/" in path:
            cid = path.rsplit("/", 1)[-1]
            return f" (container {names.get(cid, cid[:12])})"
    return ""


def leak_report(d: Daemon, baseline_rules: list[str], bridges: list[str],
                names: dict[str, str]) -> list[str]:
    """After every container is removed, with the daemon still up."""
    found: list[str] = []
    deadline = time.monotonic() + 15  # the kernel removes veth pairs in the background
    while True:
        found = []
        found += [f"mount: {m}" for m in leaks.mounts_under(d.work)]
        found += [f"cgroup: {c}" for c in leaks.cgroup_children("/" + d.cgroup_parent)]
        found += [f"veth: {v}" for v in bridge_ports(bridges)]
        rules = iptables_lines(d.net["iptables-chain-prefix"])
        found += [f"iptables rule: {r}" for r in rules if r not in baseline_rules]
        for sub in ("netns", "containers", "runtime"):
            p = os.path.join(d.exec_root, sub)
            if os.path.isdir(p):
                found += [f"run dir: {sub}/{e}" for e in os.listdir(p) if e != ".seccomp"]
        p = os.path.join(d.root, "containers")
        if os.path.isdir(p):
            found += [f"container dir: {e}" for e in os.listdir(p)]
        found += [f"process: {pid} {cmd}{_proc_info(pid)}{_container_of(pid, d, names)}"
                  for pid, cmd in leaks.processes_under(d.work,
                                                        exclude=set(_family(d.proc.pid)))]
        found += [f"process in a container cgroup: {pid}{_container_of(pid, d, names)}"
                  for pid in _cgroup_pids(d)]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def _family(pid: int) -> list[int]:
    """The daemon and its direct children (its fork server)."""
    out = [pid]
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(name))
            except OSError:
                pass
    return out


def stray_processes_after_stop(d: Daemon) -> list[str]:
    deadline = time.monotonic() + 10
    while True:
        procs = leaks.processes_under(d.work)
        if not procs or time.monotonic() > deadline:
            return [f"process after daemon stop: {pid} {cmd}{_proc_info(pid)}"
                    for pid, cmd in procs]
        time.sleep(0.2)


def daemon_log_findings(path: str) -> list[str]:
    out = []
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    for i, line in enumerate(lines):
        if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback"):
            out.append(line[:300])
    return out


def _grouped(failures: list[dict]) -> list[str]:
    """One line per distinct (verb, message): how often, on which containers, when."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for f in failures:
        msg = f.get("out", "")
        for cid in {f.get("cid", "")} - {""}:
            msg = msg.replace(cid, "<id>")
        groups.setdefault((f["verb"], msg), []).append(f)
    out = []
    for (verb, msg), fs in groups.items():
        names = sorted({f["name"] for f in fs})
        times = sorted(f.get("at", "") for f in fs)
        out.append(f"    {len(fs)} x {verb}: {msg!r} on {', '.join(names[:6])}"
                   f"{' ...' if len(names) > 6 else ''} (first at {times[0]})")
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=10)
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--kill-every", type=float, default=120, help="seconds between kill -9s")
    p.add_argument("--keep-max", type=int, default=4,
                   help="containers each client leaves behind on purpose")
    p.add_argument("--report", default="/tmp/dockling-soak-report.txt")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--keep", action="store_true", help="keep the work dir (state, logs)")
    a = p.parse_args()
    if os.geteuid() != 0:
        print("soak: needs root (real namespaces, cgroups, iptables)", file=sys.stderr)
        return 2
    seed = a.seed if a.seed is not None else random.randrange(1 << 30)
    rng = random.Random(seed)
    work = tempfile.mkdtemp(prefix="dockling-soak-")
    d = Daemon(work)
    lines: list[str] = []
    events: list[str] = []
    t_start = time.monotonic()

    def note(text: str) -> None:
        stamp = f"{time.monotonic() - t_start:7.1f}s"
        events.append(f"{stamp} {text}")
        print(f"soak {stamp} {text}", flush=True)

    stats = Stats()
    beliefs: dict[str, Belief] = {}
    block = threading.Lock()
    stop = threading.Event()
    clean = False
    try:
        note(f"daemon up in {d.start():.2f} s (work {work}, seed {seed})")
        import_busybox(d)
        baseline_rules = iptables_lines(d.net["iptables-chain-prefix"])
        clients = [Client(i, d, stats, stop, beliefs, block, a.keep_max)
                   for i in range(a.clients)]
        for c in clients:
            c.start()
        end = t_start + a.minutes * 60
        next_kill = time.monotonic() + a.kill_every
        shim_at = time.monotonic() + rng.uniform(0.2, 0.6) * a.minutes * 60
        shim_done = False
        kills = 0
        while time.monotonic() < end:
            time.sleep(0.2)
            now = time.monotonic()
            if not shim_done and now >= shim_at:
                shim_done = True
                note(f"kill -9 a shim: {kill_a_shim(d, beliefs, block, rng)}")
            if now >= next_kill:
                kills += 1
                d.kill9()
                note(f"kill -9 the daemon (#{kills}, pid {d.proc.pid})")
                time.sleep(rng.uniform(0.5, 2.0))  # the clients meet a dead socket
                note(f"daemon up again in {d.start():.2f} s")
                next_kill = time.monotonic() + a.kill_every
        note("clients: finish the current step")
        stop.set()
        for c in clients:
            c.join(CLI_TIMEOUT * 3)
        stuck = [c.name for c in clients if c.is_alive()]
        note("verify ps -a against the clients' beliefs")
        mismatches = verify(d, beliefs)
        kept = collections.Counter(b.state for b in beliefs.values()
                                   if b.state not in ("absent", "removed"))
        note("remove everything")
        status, listed = d.api("GET", "/containers/json?all=1")
        for c in listed or []:
            st, body = d.api("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=60)
            if st != 204:
                mismatches.append(f"rm -f {c['Names'][0]}: {st} {body}")
        status, nets = d.api("GET", "/networks")
        bridges = [n["Options"].get("com.docker.network.bridge.name") for n in nets
                   if n["Driver"] == "bridge"]
        names = {b.cid: b.name for b in beliefs.values() if b.cid}
        left = leak_report(d, baseline_rules, [b for b in bridges if b], names)
        d.stop()
        left += stray_processes_after_stop(d)
        left += [f"process in a container cgroup after daemon stop: {pid}"
                 f"{_container_of(pid, d, names)}" for pid in _cgroup_pids(d)]
        log_errors = daemon_log_findings(d.log_path)
        clean = not (mismatches or left or stats.failures or stuck)
        secs = time.monotonic() - t_start
        lines += [
            "dockling soak report",
            f"  ran {secs / 60:.1f} min, {a.clients} clients, daemon kill -9 every "
            f"{a.kill_every:.0f} s ({kills} kills), one shim kill; seed {seed}",
            f"  cycles {stats.cycles}; commands ok: "
            + ", ".join(f"{k} {v}" for k, v in sorted(stats.ok.items())),
            "  cut by a daemon kill (outage, resolved by inspect): "
            + (", ".join(f"{k} {v}" for k, v in sorted(stats.outage.items())) or "none"),
            f"  left on purpose at the end: {dict(kept)}",
            f"  failures with the daemon up: {len(stats.failures)}",
            *_grouped(stats.failures),
            f"  clients stuck at the end: {stuck or 'none'}",
            f"  ps -a vs beliefs: {'all match' if not mismatches else len(mismatches)}",
            *[f"    {m}" for m in mismatches],
            f"  left after removing everything: {'nothing' if not left else len(left)}",
            *[f"    {x}" for x in left],
            *[f"  history of {n}: {'; '.join(b.history)}" for n, b in sorted(beliefs.items())
              if any(x.startswith(f"{n}:") or f"(container {n})" in x
                     for x in mismatches + left)],
            f"  daemon log ERROR lines: {len(log_errors)}",
            *[f"    {x}" for x in log_errors[:30]],
            "  timeline:",
            *[f"    {e}" for e in events],
            f"  RESULT: {'CLEAN' if clean else 'PROBLEMS FOUND'}",
        ]
    except BaseException:
        stop.set()
        raise
    finally:
        stop.set()
        d.stop()
        keep_log = os.path.splitext(a.report)[0] + "-daemon.log"
        with contextlib.suppress(OSError):
            shutil.copy(d.log_path, keep_log)
        if lines:
            lines.append(f"  daemon log kept at {keep_log}")
            text = "\n".join(lines) + "\n"
            with open(a.report, "w") as f:
                f.write(text)
            print(text)
        _teardown(d, keep=a.keep)
    return 0 if clean else 1


def _teardown(d: Daemon, keep: bool) -> None:
    """Whatever is left goes, as the test daemons' clean-up does; each step runs even if
    one before it fails (a leak found above must not stop the clean-up)."""
    from dockling.testing.private import remove_cgroup_parent

    def kill_all() -> None:
        pids = {pid for pid, _ in leaks.processes_under(d.work)}
        for cg in leaks.cgroup_children("/" + d.cgroup_parent):  # containers' processes
            with contextlib.suppress(OSError), open(os.path.join(cg, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def unmount() -> None:
        for mp in sorted(leaks.mounts_under(d.work), key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, check=False)

    def cgroups() -> None:
        for _ in range(100):
            try:
                remove_cgroup_parent("/" + d.cgroup_parent)
                return
            except OSError:
                kill_all()
                time.sleep(0.1)
        remove_cgroup_parent("/" + d.cgroup_parent)

    steps = [kill_all, unmount, lambda: testnet.cleanup(d.root, d.net), cgroups]
    if not keep:
        steps.append(lambda: shutil.rmtree(d.work, ignore_errors=True))
    for step in steps:
        try:
            step()
        except Exception as err:  # noqa: BLE001 - reported, the next step still runs
            print(f"soak: clean-up step failed: {err!r}", file=sys.stderr)


if __name__ == "__main__":
    raise SystemExit(main())
