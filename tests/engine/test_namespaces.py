"""--pid/--ipc/--uts/--network modes, --tmpfs and --sysctl."""

from __future__ import annotations

import json
import os

from tests.engine.conftest import name


def _run(daemon, *args) -> str:
    res = daemon.cli("run", "--rm", *args)
    assert res.returncode == 0, res.stderr
    return res.stdout.decode()


def test_host_namespaces(daemon):
    out = _run(daemon, "--pid", "host", "busybox", "sh", "-c", "echo $$; cat /proc/1/comm")
    pid, comm = out.split()
    assert pid != "1"
    with open("/proc/1/comm") as f:
        assert comm == f.read().strip()
    out = _run(daemon, "--ipc", "host", "--uts", "host", "busybox", "sh", "-c",
               "readlink /proc/self/ns/ipc; hostname")
    ipc, host = out.split()
    assert ipc == os.readlink("/proc/self/ns/ipc")
    assert host == os.uname().nodename


def test_join_another_container(daemon):
    a = name()
    daemon.cli("run", "-d", "--name", a, "busybox", "sleep", "300", check=True)
    try:
        pid = json.loads(daemon.cli("inspect", a).stdout)[0]["State"]["Pid"]
        out = _run(daemon, "--pid", f"container:{a}", "--network", f"container:{a}",
                   "busybox", "sh", "-c", "ps -o comm | grep -c sleep; readlink /proc/self/ns/net")
        count, net = out.split()
        assert count == "1"
        assert net == os.readlink(f"/proc/{pid}/ns/net")
    finally:
        daemon.cli("rm", "-f", a)
    res = daemon.cli("run", "--rm", "--pid", "container:nope", "busybox", "true")
    assert res.returncode == 125 and b"No such container: nope" in res.stderr


def test_tmpfs_and_sysctl(daemon):
    out = _run(daemon, "--tmpfs", "/run:size=1m", "--sysctl", "net.ipv4.ip_forward=1",
               "--sysctl", "kernel.msgmax=12345", "busybox", "sh", "-c",
               "grep ' /run ' /proc/mounts; cat /proc/sys/net/ipv4/ip_forward "
               "/proc/sys/kernel/msgmax")
    lines = out.splitlines()
    assert lines[0].startswith("tmpfs /run tmpfs") and "size=1024k" in lines[0]
    assert "noexec" in lines[0]
    assert lines[1:] == ["1", "12345"]
    res = daemon.cli("run", "--rm", "--sysctl", "kernel.hostname=x", "busybox", "true")
    assert res.returncode == 125 and b"sysctl 'kernel.hostname' is not allowed" in res.stderr
    res = daemon.cli("run", "--rm", "--network", "host", "--sysctl", "net.ipv4.ip_forward=1",
                     "busybox", "true")
    assert res.returncode == 125 and b"not allowed in host network namespace" in res.stderr
