"""Overlay networks across hosts against one bridge: throughput, latency, and
how soon a new container on host A answers host B.

    sudo .venv/bin/python bench/overlay.py [--mb 500] [--runs 3] [--convergence 10]

Two dockling hosts (network namespaces on an underlay bridge, see
dockling/testing/overlay.py) and a three-member etcd. Cases:

- throughput: from a container to one on another host (overlay, MTU 1450) and to one
  on the same host's bridge network at MTU 1450 (the issue's comparison: VXLAN's cost,
  not the smaller MTU's), in MB/s: the host's iperf3 (apt-get install iperf3) run in
  the containers' namespaces, else busybox dd | nc of N MB;
- latency: ping -c 20 -i 0.2 between the same pairs, average RTT;
- convergence: a container on B pings a fixed address every 10 ms; the clock runs
  from the `run` on A of the container that gets that address until the first
  reply B sees (B's container touches a file on the host), median of N runs.

Numbers are printed, never asserted (bench/, as the others).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dockling.testing.busybox import make_rootfs  # noqa: E402
from dockling.testing.overlay import cluster  # noqa: E402


def _tar(work: str) -> str:
    rootfs = make_rootfs(os.path.join(work, "rootfs"))
    path = os.path.join(work, "busybox.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(rootfs, arcname=".")
    return path


def _server(host, net: str, cname: str) -> None:
    # -ll -e: a server that stays, each connection drained by its own cat
    host.cli("run", "-d", "--name", cname, "--network", net, "busybox", "nc", "-ll", "-p",
             "5001", "-e", "sh", "-c", "cat > /dev/null", check=True)


def _client(host, net: str, cname: str) -> None:
    host.cli("run", "-d", "--name", cname, "--network", net, "busybox", "sleep", "3600",
             check=True)


def throughput(host, client: str, server_ip: str, mb: int, server=None) -> float:
    """MB/s: iperf3 of the host run in both containers' namespaces when installed
    (busybox has none, and its nc copies in small reads), else dd | nc timed from
    here less an empty exec (busybox dd prints no time)."""
    if shutil.which("iperf3") and server is not None:
        return _iperf3(host, client, *server, server_ip)
    t0 = time.perf_counter()
    host.exec(client, "true")
    empty = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = host.exec(client, "sh", "-c",
                    f"dd if=/dev/zero bs=1M count={mb} 2>/dev/null | nc {server_ip} 5001",
                    timeout=300)
    took = time.perf_counter() - t0 - empty
    if res.returncode:
        raise RuntimeError(f"dd | nc failed: {res.stderr}")
    return mb * 1048576 / 1e6 / took


def _pid(host, cname: str) -> str:
    return host.cli("inspect", "-f", "{{.State.Pid}}", cname, check=True).stdout.strip()


def _iperf3(host, client: str, server_host, server: str, server_ip: str) -> float:
    srv = subprocess.Popen(["nsenter", f"--net=/proc/{_pid(server_host, server)}/ns/net",
                            "iperf3", "-s", "-1", "-p", "5201"], stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.3)
        res = subprocess.run(["nsenter", f"--net=/proc/{_pid(host, client)}/ns/net", "iperf3",
                              "-c", server_ip, "-p", "5201", "-t", "3", "-J"],
                             capture_output=True, text=True, check=True, timeout=60)
    finally:
        srv.kill()
        srv.wait()
    return json.loads(res.stdout)["end"]["sum_received"]["bits_per_second"] / 8e6


def latency(host, client: str, target: str) -> float:
    out = host.exec(client, "ping", "-c", "20", "-i", "0.2", target, timeout=60).stdout
    m = re.search(r"= [\d.]+/([\d.]+)/", out)
    if not m:
        raise RuntimeError(f"ping said: {out}")
    return float(m.group(1))


def _ip(host, cname: str, net: str) -> str:
    return host.cli("inspect", "-f", f"{{{{(index .NetworkSettings.Networks \"{net}\")"
                    ".IPAddress}}", cname, check=True).stdout.strip()


def convergence(a, b, net: str, work: str, runs: int,
                run_ms: list[float]) -> list[float]:
    """ms from `run` on A to B's first reply; run_ms gets what `run -d` alone took."""
    out = []
    for i in range(runs):
        target = f"10.88.0.{100 + i}"
        flag = os.path.join(work, f"answered-{i}")
        watcher = f"watch-{uuid.uuid4().hex[:6]}"
        b.cli("run", "-d", "--name", watcher, "--network", net, "-v", f"{work}:/out",
              "busybox", "sh", "-c",
              f"ping -i 0.01 {target} | grep -m1 -q 'bytes from' && touch /out/answered-{i}",
              check=True)
        time.sleep(0.5)
        done: list[float] = []

        def run(i=i, watcher=watcher, done=done) -> None:
            a.cli("run", "-d", "--name", f"new-{i}-{watcher}", "--network", net, "--ip",
                  target, "busybox", "sleep", "3600", check=True)
            done.append(time.perf_counter())

        t0 = time.perf_counter()
        runner = threading.Thread(target=run)
        runner.start()  # B may answer before run returns: watch the flag meanwhile
        deadline = t0 + 30
        while not os.path.exists(flag) and time.perf_counter() < deadline:
            time.sleep(0.001)
        if os.path.exists(flag):
            out.append((time.perf_counter() - t0) * 1000)
        runner.join()
        if done:
            run_ms.append((done[0] - t0) * 1000)
        a.cli("rm", "-f", f"new-{i}-{watcher}")
        b.cli("rm", "-f", watcher)
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mb", type=int, default=500)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--convergence", type=int, default=10)
    a = p.parse_args()
    if os.geteuid() != 0:
        print("bench/overlay.py: run as root", file=sys.stderr)
        return 1
    work = tempfile.mkdtemp(prefix="dockling-bench-overlay-")
    try:
        rows = _measure(work, a)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for case, vals in rows.items():
        med = statistics.median(vals) if vals else float("nan")
        print(f"{case:42s} median {med:9.3f}   ({len(vals)} runs: "
              f"{', '.join(f'{v:.3f}' for v in vals)})")
    ov, br = (statistics.median(rows[k]) for k in ("throughput overlay A->B (MB/s)",
                                                    "throughput bridge on B (MB/s)"))
    print(f"overlay/bridge throughput: {ov / br:.2f} (issue's target: at least 0.85)")
    return 0


def _measure(work: str, a) -> dict[str, list[float]]:
    with cluster(_tar(work), hosts=2, members=3, ttl=5) as c:
        ha, hb = c.hosts
        ha.cli("network", "create", "-d", "overlay", "--subnet", "10.88.0.0/24", "ov",
               check=True)
        hb.cli("network", "create", "-o", "com.docker.network.driver.mtu=1450", "local",
               check=True)
        deadline = time.monotonic() + 20
        while "ov" not in hb.cli("network", "ls").stdout and time.monotonic() < deadline:
            time.sleep(0.1)
        _server(hb, "ov", "srv-ov")
        _client(ha, "ov", "cli-ov")
        _server(hb, "local", "srv-br")
        _client(hb, "local", "cli-br")
        time.sleep(0.5)
        ip_ov, ip_br = _ip(hb, "srv-ov", "ov"), _ip(hb, "srv-br", "local")
        run_ms: list[float] = []
        rows = {
            "throughput overlay A->B (MB/s)": [
                throughput(ha, "cli-ov", ip_ov, a.mb, (hb, "srv-ov")) for _ in range(a.runs)],
            "throughput bridge on B (MB/s)": [
                throughput(hb, "cli-br", ip_br, a.mb, (hb, "srv-br")) for _ in range(a.runs)],
            "latency overlay A->B (ms)": [latency(ha, "cli-ov", ip_ov)],
            "latency bridge on B (ms)": [latency(hb, "cli-br", ip_br)],
            "convergence run on A -> B answered (ms)": convergence(ha, hb, "ov", work,
                                                                   a.convergence, run_ms),
            "  of which run -d on A returning (ms)": run_ms,
        }
    return rows


if __name__ == "__main__":
    sys.exit(main())
