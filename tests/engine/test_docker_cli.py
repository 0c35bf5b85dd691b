"""The real docker CLI pointed at dockling's socket (skipped when the docker
client is not installed; a dockerd is never needed)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")


def docker(daemon, *args, input=None):
    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.sock}"}
    return subprocess.run(["docker", *args], capture_output=True, env=env, input=input,
                          timeout=60, stdin=None if input is not None else subprocess.DEVNULL,
                          check=False)


def test_docker_run_exit_codes(daemon):
    res = docker(daemon, "run", "--rm", "busybox", "echo", "hello")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\n"
    assert docker(daemon, "run", "--rm", "busybox", "sh", "-c", "exit 3").returncode == 3
    res = docker(daemon, "run", "--rm", "busybox", "nosuch")
    assert res.returncode == 127
    for _ in range(5):
        out = docker(daemon, "run", "-i", "--rm", "busybox", "cat", input=b"hi\n")
        assert out.stdout == b"hi\n", out.stderr


def test_docker_detached_exec_logs_inspect(daemon):
    res = docker(daemon, "run", "-d", "--name", "dkcli", "busybox", "sh", "-c",
                 "echo ready; sleep 300")
    assert res.returncode == 0, res.stderr
    try:
        assert "dkcli" in docker(daemon, "ps").stdout.decode()
        res = docker(daemon, "exec", "dkcli", "sh", "-c", "echo in-exec; exit 2")
        assert res.returncode == 2 and res.stdout == b"in-exec\n"
        fmt = docker(daemon, "inspect", "-f", "{{.State.Status}} {{.Name}}", "dkcli")
        assert fmt.stdout.decode().strip() == "running /dkcli"
        assert b"ready" in docker(daemon, "logs", "dkcli").stdout
        assert b"busybox" in docker(daemon, "images").stdout
    finally:
        docker(daemon, "rm", "-f", "dkcli")
