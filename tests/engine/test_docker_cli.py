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


def test_docker_volumes_cp_stats_restart_health(daemon, tmp_path):
    from tests.engine.conftest import name

    n, vol = name(), f"v-{name()}"

    def ok(*args, input=None):
        res = docker(daemon, *args, input=input)
        assert res.returncode == 0, (args, res.stderr)
        return res.stdout.decode()

    ok("volume", "create", vol)
    assert vol in ok("volume", "ls", "-q")
    ok("run", "--rm", "-v", f"{vol}:/d", "busybox", "sh", "-c", "echo kept > /d/f")
    ok("run", "-d", "--name", n, "--restart", "unless-stopped", "--health-cmd", "true",
       "--health-interval", "200ms", "-v", f"{vol}:/d", "busybox", "sleep", "300")
    try:
        ok("cp", f"{n}:/d/f", str(tmp_path / "f"))
        assert (tmp_path / "f").read_text() == "kept\n"
        (tmp_path / "g").write_text("in")
        ok("cp", str(tmp_path / "g"), f"{n}:/tmp/")
        assert ok("exec", n, "cat", "/tmp/g") == "in"
        assert "CPU %" in ok("stats", "--no-stream", n)
        ok("pause", n)
        ok("unpause", n)
        assert ok("inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}", n).strip() == \
            "unless-stopped"
        import time

        deadline = time.monotonic() + 10
        while "(healthy)" not in ok("ps", "-f", f"name={n}"):
            assert time.monotonic() < deadline
            time.sleep(0.1)
    finally:
        docker(daemon, "rm", "-f", n)
    res = docker(daemon, "volume", "rm", vol)
    assert res.returncode == 0, res.stderr


def test_docker_networks_and_ports(daemon):
    from tests.engine.conftest import name

    net, web = f"dn-{name()}", name()

    def ok(*args):
        res = docker(daemon, *args)
        assert res.returncode == 0, (args, res.stderr)
        return res.stdout.decode()

    assert {"bridge", "host", "none"} <= set(ok("network", "ls", "--format",
                                                 "{{.Name}}").split())
    ok("network", "create", net)
    try:
        ok("run", "-d", "--name", web, "--network", net, "--network-alias", "www", "-p", "80",
           "busybox", "httpd", "-f", "-p", "80", "-h", "/etc")
        out = ok("run", "--rm", "--network", net, "busybox", "wget", "-qO-", "http://www/passwd")
        assert out.startswith("root:x:0:0")
        assert ok("port", web, "80").startswith("0.0.0.0:")
        ips = ok("network", "inspect", "-f", "{{range .Containers}}{{.IPv4Address}}{{end}}",
                 net)
        assert "/" in ips
        res = docker(daemon, "network", "create", "--driver", "null", f"x-{name()}")
        assert res.stderr.decode().strip() == \
            'Error response from daemon: only one instance of "null" network is allowed'
    finally:
        docker(daemon, "rm", "-f", web)
        docker(daemon, "network", "rm", net)
