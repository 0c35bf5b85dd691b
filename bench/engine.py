"""Engine benchmarks: the same cases through dockling and, when a docker
daemon answers, through docker; medians and the ratio.

    sudo .venv/bin/python bench/engine.py [-n 20] [--idle 50]

Cases: `run --rm busybox true`, `exec true`, `run -d` + `stop` + `rm`,
200 create+start+stop+rm cycles 4 at a time (--cycles, --parallel), and
N idle `sleep` containers (total start time, and the memory the engine adds:
PSS of the daemon and its shims, which share pages after the fork).
A private dockling daemon (own root, socket and cgroup parent) is started
and removed. For docker, feed it the same busybox with `docker import`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from dockling.testing.private import docker_answers, print_results, private_daemon

BIN = os.path.dirname(sys.executable)


def timed(cmd: list[str], env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stdin=subprocess.DEVNULL)
    return time.perf_counter() - t0


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


def engine_pids(root_marker: str, daemon_pid: int | None) -> list[int]:
    """The daemon and the shims whose state lives under root_marker."""
    pids = [daemon_pid] if daemon_pid else []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if int(name) != daemon_pid and root_marker.encode() in cmd:
            pids.append(int(name))
    return pids


def lifecycle(cli: list[str], env: dict, cycles: int, parallel: int) -> float:
    """create+start+stop+rm, ``parallel`` workers; the program exits on TERM."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_: int) -> None:
        cid = subprocess.run([*cli, "create", "busybox", "sh", "-c",
                              "trap 'exit 0' TERM; while :; do sleep 0.05; done"], env=env,
                             check=True, capture_output=True).stdout.decode().strip()
        for verb in ("start", "stop", "rm"):
            subprocess.run([*cli, verb, cid], env=env, check=True, stdout=subprocess.DEVNULL)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, range(cycles)))
    return time.perf_counter() - t0


def run_cases(cli: list[str], env: dict, n: int, idle: int, pid_fn, cycles: int = 200,
              parallel: int = 4) -> dict:
    res: dict[str, object] = {}
    res["run --rm true"] = [timed([*cli, "run", "--rm", "busybox", "true"], env)
                            for _ in range(n)]
    name = f"bench-exec-{os.getpid()}"
    subprocess.run([*cli, "run", "-d", "--name", name, "busybox", "sleep", "600"], env=env,
                   check=True, stdout=subprocess.DEVNULL)
    res["exec true"] = [timed([*cli, "exec", name, "true"], env) for _ in range(n)]
    subprocess.run([*cli, "rm", "-f", name], env=env, check=True, stdout=subprocess.DEVNULL)
    cycle = []
    for i in range(n):
        t0 = time.perf_counter()
        cid = subprocess.run([*cli, "run", "-d", "busybox", "sleep", "600"], env=env,
                             check=True, capture_output=True).stdout.decode().strip()
        subprocess.run([*cli, "stop", "-t", "1", cid], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run([*cli, "rm", cid], env=env, check=True, stdout=subprocess.DEVNULL)
        cycle.append(time.perf_counter() - t0)
    res["run -d/stop/rm"] = cycle
    res[f"{cycles} create/start/stop/rm, {parallel} at a time: total s"] = lifecycle(
        cli, env, cycles, parallel)
    before = pss_kb(pid_fn())
    t0 = time.perf_counter()
    ids = []
    for i in range(idle):
        ids.append(subprocess.run([*cli, "run", "-d", "busybox", "sleep", "600"], env=env,
                                  check=True, capture_output=True).stdout.decode().strip())
    res[f"{idle} idle: total start s"] = time.perf_counter() - t0
    res[f"{idle} idle: engine MiB added"] = (pss_kb(pid_fn()) - before) / 1024
    subprocess.run([*cli, "rm", "-f", *ids], env=env, check=True, stdout=subprocess.DEVNULL)
    return res


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--idle", type=int, default=50)
    ap.add_argument("--cycles", type=int, default=200)
    ap.add_argument("--parallel", type=int, default=4)
    a = ap.parse_args()
    results = {}
    with private_daemon("dockling-bench") as (cli, env, tar, daemon_pid, work):
        results["dockling"] = run_cases(cli, env, a.n, a.idle,
                                        lambda: engine_pids(work, daemon_pid), a.cycles,
                                        a.parallel)
        docker = docker_answers()
        if docker:
            subprocess.run([docker, "import", "--change", 'CMD ["sh"]', tar, "busybox"],
                           check=True, stdout=subprocess.DEVNULL)
            results["docker"] = run_cases([docker], dict(os.environ), a.n, a.idle,
                                          lambda: engine_pids("containerd", None), a.cycles,
                                          a.parallel)
    for res in results.values():  # seconds -> ms for the per-call cases
        for case, v in res.items():
            if isinstance(v, list):
                res[case] = [x * 1000 for x in v]
    print_results(results, " ms (median)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
