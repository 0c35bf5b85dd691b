"""Network throughput: container to container over the bridge, and host to
container through a published port (-p). The kernel should carry both: a
userland proxy on the path would show here.

    sudo .venv/bin/python bench/network.py [--mb 1000]

Each case streams N MB of zeros with busybox nc and reports MB/s (median of
3). With a docker daemon answering, the same cases run through docker and
the ratio is printed.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import time

from dockling.testing.net import free_port
from dockling.testing.private import docker_answers, print_results, private_daemon


def sh(cli, env, *args, capture=True) -> str:
    return subprocess.run([*cli, *args], env=env, check=True, capture_output=capture,
                          text=True).stdout.strip()


def container_to_container(cli, env, mb: int) -> float:
    srv = sh(cli, env, "run", "-d", "busybox", "sh", "-c", "nc -l -p 5001 > /dev/null")
    try:
        ip = sh(cli, env, "inspect", "-f", "{{.NetworkSettings.IPAddress}}", srv)
        time.sleep(0.3)
        t0 = time.perf_counter()
        sh(cli, env, "run", "--rm", "busybox", "sh", "-c",
           f"dd if=/dev/zero bs=1M count={mb} 2>/dev/null | nc {ip} 5001")
        return mb / (time.perf_counter() - t0)
    finally:
        sh(cli, env, "rm", "-f", srv)


def host_to_container(cli, env, mb: int) -> float:
    port = free_port()
    srv = sh(cli, env, "run", "-d", "-p", f"{port}:5001", "busybox", "sh", "-c",
             "nc -l -p 5001 > /dev/null")
    try:
        time.sleep(0.3)
        chunk = b"\0" * (1 << 20)
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port)) as s:
            for _ in range(mb):
                s.sendall(chunk)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
        return mb / (time.perf_counter() - t0)
    finally:
        sh(cli, env, "rm", "-f", srv)


def run_cases(cli, env, mb: int) -> dict:
    return {"container -> container (bridge)": [container_to_container(cli, env, mb)
                                                for _ in range(3)],
            "host -> container (-p)": [host_to_container(cli, env, mb) for _ in range(3)]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--mb", type=int, default=1000)
    a = ap.parse_args()
    results = {}
    with private_daemon("dockling-netbench") as (cli, env, tar, _pid, _work):
        results["dockling"] = run_cases(cli, env, a.mb)
        docker = docker_answers()
        if docker:
            sh([docker], dict(os.environ), "import", "--change", 'CMD ["sh"]', tar, "busybox")
            results["docker"] = run_cases([docker], dict(os.environ), a.mb)
    print_results(results, " MB/s", "8.0f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
