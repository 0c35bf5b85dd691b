"""Engine benchmarks: issue 14's table in one run. Each case against dockling,
and against docker (when a daemon answers on /var/run/docker.sock) and podman
(when `podman` is on PATH: no daemon, its CLI is driven); medians, and the
ratios dockling/docker and dockling/podman.

    sudo .venv/bin/python bench/engine.py [-n 20] [--idle 20] [--cycles 0]
        [--only dockling,docker,podman]

Cases (the rows of issue 14):

- `run --rm busybox true`, ms per run (median of -n);
- `exec CTR true` into a running container, ms per exec;
- `rm` of a stopped container: `rm` alone is timed (the container ran `true`
  and exited before), ms;
- start --idle containers, each: ms per `run -d busybox sleep 600` (median);
- idle container memory: the PSS the engine adds per idle container (MiB),
  measured once the --idle containers run: dockling's daemon and shims,
  docker's containerd-shim processes, podman's conmon processes;
- `rm -f` of many: the --idle running containers removed by one `rm -f` with
  every ID, ms in all (docker and dockling kill at once; podman is given
  `--time 0` so that it kills rather than waits 10 s on the stop signal);
- with --cycles N: N create+start+stop+rm cycles, --parallel at a time, s.

The pulls are measured by bench/pull.py (a local registry, two image shapes).

A private dockling daemon (own root, socket and cgroup parent) is started and
removed. docker and podman get the same busybox (`import`, tagged
dockling-bench/busybox, removed afterwards); the containers made here are
removed even when a case fails. Neither is installed by this script.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from dockling.testing.private import private_daemon

DOCKER_SOCK = "/var/run/docker.sock"
IMAGE = "dockling-bench/busybox:latest"  # docker's and podman's copy: never the user's busybox
PULL_NOTE = ("pulls (9 layers / 211 MB, 2 layers / 20,000 small files): "
             "sudo .venv/bin/python bench/pull.py")


@dataclass
class Engine:
    """One engine as its CLI drives it."""
    name: str
    cli: list[str]
    env: dict
    image: str
    added_pids: Callable[[], list[int]]  # the processes whose PSS an idle container adds to
    rm_force: list[str] = field(default_factory=lambda: ["rm", "-f"])
    made: set[str] = field(default_factory=set)  # containers to remove at the end

    def run(self, *args: str, timeout: float = 120) -> str:
        res = subprocess.run([*self.cli, *args], env=self.env, capture_output=True,
                             stdin=subprocess.DEVNULL, timeout=timeout, check=False)
        if res.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} -> {res.returncode}: "
                               f"{res.stderr.decode(errors='replace').strip()}")
        return res.stdout.decode().strip()

    def timed(self, *args: str) -> tuple[float, str]:
        """(ms, stdout) of one CLI call."""
        t0 = time.perf_counter()
        out = self.run(*args)
        return (time.perf_counter() - t0) * 1000, out

    def start_one(self, *cmd: str) -> tuple[float, str]:
        ms, cid = self.timed("run", "-d", self.image, *cmd)
        self.made.add(cid)
        return ms, cid

    def clean_up(self) -> None:
        """Remove what the cases made and did not remove (a case failed midway)."""
        if self.made:
            subprocess.run([*self.cli, *self.rm_force, *sorted(self.made)], env=self.env,
                           capture_output=True, check=False, timeout=300)
            self.made.clear()


# -- the processes an engine adds ------------------------------------------------------------
def pss_kb(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _procs():
    for name in os.listdir("/proc"):
        if name.isdigit():
            yield int(name)


def _read(path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return b""


def pids_by_comm(comm: str) -> Callable[[], list[int]]:
    """Processes named ``comm`` (the kernel keeps 15 characters of it:
    containerd-shim-runc-v2 is "containerd-shim")."""
    return lambda: [p for p in _procs() if _read(f"/proc/{p}/comm").strip() == comm.encode()]


def dockling_pids(root_marker: str, daemon_pid: int) -> Callable[[], list[int]]:
    """The daemon, and the shims (and fork server) whose command line names its root."""
    def pids() -> list[int]:
        return [daemon_pid] + [p for p in _procs() if p != daemon_pid
                               and root_marker.encode() in _read(f"/proc/{p}/cmdline")]
    return pids


# -- the cases ---------------------------------------------------------------------------------
def case_run_rm(e: Engine, n: int) -> list[float]:
    return [e.timed("run", "--rm", e.image, "true")[0] for _ in range(n)]


def case_exec(e: Engine, n: int) -> list[float]:
    _, cid = e.start_one("sleep", "600")
    out = [e.timed("exec", cid, "true")[0] for _ in range(n)]
    e.run(*e.rm_force, cid)
    e.made.discard(cid)
    return out


def case_rm_stopped(e: Engine, n: int) -> list[float]:
    out = []
    for _ in range(n):
        _, cid = e.start_one("true")
        e.run("wait", cid)
        out.append(e.timed("rm", cid)[0])
        e.made.discard(cid)
    return out


def case_idle(e: Engine, idle: int) -> dict[str, object]:
    """Start ``idle`` containers one by one, their memory, then one rm -f of all."""
    before = pss_kb(e.added_pids())
    starts, ids = [], []
    for _ in range(idle):
        ms, cid = e.start_one("sleep", "600")
        starts.append(ms)
        ids.append(cid)
    time.sleep(1)  # let the last shims settle (their first allocations, page faults)
    added = (pss_kb(e.added_pids()) - before) / 1024 / idle
    rm_ms, _ = e.timed(*e.rm_force, *ids)
    e.made.difference_update(ids)
    return {f"start {idle} containers, each (ms)": starts,
            "idle container: PSS added (MiB)": added,
            f"rm -f of {idle} running (ms, one call)": rm_ms}


def case_cycles(e: Engine, cycles: int, parallel: int) -> float:
    """create+start+stop+rm, ``parallel`` workers (the program exits on TERM); s."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> None:
        cid = e.run("create", e.image, "sh", "-c",
                    "trap 'exit 0' TERM; while :; do sleep 0.05; done")
        e.made.add(cid)
        for verb in ("start", "stop", "rm"):
            e.run(verb, cid)
        e.made.discard(cid)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(cycles)))
    return time.perf_counter() - t0


def run_cases(e: Engine, a) -> dict[str, object]:
    print(f"-- {e.name} ...", file=sys.stderr, flush=True)
    res: dict[str, object] = {}
    try:
        res["run --rm busybox true (ms)"] = case_run_rm(e, a.n)
        res["exec CTR true (ms)"] = case_exec(e, a.n)
        res["rm of a stopped container (ms)"] = case_rm_stopped(e, a.n)
        res.update(case_idle(e, a.idle))
        if a.cycles:
            res[f"{a.cycles} create/start/stop/rm, {a.parallel} at a time (s)"] = \
                case_cycles(e, a.cycles, a.parallel)
    finally:
        e.clean_up()
    return res


# -- the engines -------------------------------------------------------------------------------
def docker_daemon() -> str | None:
    """The docker CLI, if a docker daemon answers on /var/run/docker.sock."""
    docker = shutil.which("docker")
    if not docker or not os.path.exists(DOCKER_SOCK):
        return None
    try:
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(3)
            s.connect(DOCKER_SOCK)
            s.sendall(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
            answer = s.recv(64)
    except OSError:
        return None
    return docker if answer.startswith(b"HTTP/1.1 200") else None


def podman_cli() -> list[str] | None:
    """podman's argv: on a host without systemd it is told to use cgroupfs and
    a file for events (its defaults, systemd and journald, would fail)."""
    podman = shutil.which("podman")
    if not podman:
        return None
    if os.path.isdir("/run/systemd/system"):
        return [podman]
    return [podman, "--cgroup-manager=cgroupfs", "--events-backend=file"]


def foreign_engines(tar: str, only: set[str]) -> list[Engine]:
    """docker and podman, each with the bench's busybox imported."""
    out = []
    docker = docker_daemon() if "docker" in only else None
    if docker:
        env = {**os.environ, "DOCKER_HOST": f"unix://{DOCKER_SOCK}"}
        out.append(Engine("docker", [docker], env, IMAGE, pids_by_comm("containerd-shim")))
    podman = podman_cli() if "podman" in only else None
    if podman:
        out.append(Engine("podman", podman, dict(os.environ), IMAGE, pids_by_comm("conmon"),
                          rm_force=["rm", "-f", "--time", "0"]))
    ready = []
    for e in out:
        try:
            e.run("import", "--change", 'CMD ["sh"]', tar, IMAGE)
            ready.append(e)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"{e.name}: cannot import the bench's busybox: {err}", file=sys.stderr)
    return ready


# -- the table ---------------------------------------------------------------------------------
def value(v: object) -> float:
    return statistics.median(v) if isinstance(v, list) else float(v)  # type: ignore[arg-type]


def print_table(results: dict[str, dict[str, object]]) -> None:
    engines = list(results)
    others = [e for e in ("docker", "podman") if e in results]
    head = f"{'case':44s}" + "".join(f"{e:>11s}" for e in engines) + "".join(
        f"{'dockling/' + e:>17s}" for e in others)
    print(head)
    print("-" * len(head))
    for case in results["dockling"]:
        vals = {e: value(results[e][case]) for e in engines if case in results[e]}
        line = f"{case:44s}" + "".join(
            f"{vals[e]:11.1f}" if e in vals else f"{'-':>11s}" for e in engines)
        for o in others:
            ratio = vals["dockling"] / vals[o] if vals.get(o) else None
            line += f"{ratio:16.2f}x" if ratio is not None else f"{'-':>17s}"
        print(line)
    print("(medians of the per-call cases; memory and rm -f of many: one measurement)")
    if "docker" not in results:
        print(f"docker: no daemon answers on {DOCKER_SOCK}: no dockling/docker ratio")
    if "podman" not in results:
        print("podman: not on PATH: no dockling/podman ratio")
    print(PULL_NOTE)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=20, help="calls per per-call case")
    ap.add_argument("--idle", type=int, default=20,
                    help="containers started, measured idle, then removed by one rm -f")
    ap.add_argument("--cycles", type=int, default=0,
                    help="create/start/stop/rm cycles (0: not run)")
    ap.add_argument("--parallel", type=int, default=4)
    ap.add_argument("--only", default="dockling,docker,podman",
                    help="engines to run, of dockling,docker,podman (dockling always runs)")
    ap.add_argument("--containers-per-shim", type=int, default=None,
                    help="dockling's daemon.json key of that name (default: the daemon's)")
    a = ap.parse_args()
    only = set(a.only.split(","))
    # the environment sets PYTHONDONTWRITEBYTECODE: a module edited since install.sh
    # compiled it is compiled again by every CLI call (~17 ms for cli/containers.py)
    subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(
        os.path.dirname(os.path.abspath(__file__))) + "/dockling"], check=False,
        stdout=subprocess.DEVNULL)
    results: dict[str, dict[str, object]] = {}
    cfg = {} if a.containers_per_shim is None else {
        "containers-per-shim": a.containers_per_shim}
    with private_daemon("dockling-bench", cfg) as (cli, env, tar, daemon_pid, work):
        dockling = Engine("dockling", cli, env, "busybox", dockling_pids(work, daemon_pid))
        results["dockling"] = run_cases(dockling, a)
        for e in foreign_engines(tar, only):
            try:
                results[e.name] = run_cases(e, a)
            except (RuntimeError, subprocess.TimeoutExpired) as err:  # the others still count
                print(f"{e.name}: {err}", file=sys.stderr)
            finally:
                subprocess.run([*e.cli, "rmi", IMAGE], env=e.env, capture_output=True,
                               check=False)
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
