"""Security flags on `run`, each shown by trying what it allows or forbids."""

from __future__ import annotations

import json

from tests.engine.conftest import name


def _capeff(daemon, *flags) -> int:
    out = daemon.cli("run", "--rm", *flags, "busybox", "grep", "CapEff", "/proc/self/status")
    return int(out.stdout.split()[1], 16)


def test_default_caps_and_cap_add_drop(daemon):
    default = _capeff(daemon)
    assert default == 0xA80425FB  # docker's 14 default capabilities
    assert not _capeff(daemon, "--cap-drop", "CHOWN") & 1
    res = daemon.cli("run", "--rm", "--cap-drop", "chown", "busybox", "chown", "1", "/tmp")
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr
    assert _capeff(daemon, "--cap-drop", "ALL") == 0
    assert _capeff(daemon, "--cap-drop", "ALL", "--cap-add", "KILL") == 1 << 5
    # CAP_SYS_ADMIN also opens docker's seccomp profile for mount
    res = daemon.cli("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "mount", "-t",
                     "tmpfs", "none", "/tmp")
    assert res.returncode == 0, res.stderr
    res = daemon.cli("run", "--rm", "busybox", "mount", "-t", "tmpfs", "none", "/tmp")
    assert res.returncode != 0


def test_privileged(daemon):
    res = daemon.cli("run", "--rm", "--privileged", "busybox", "sh", "-c",
                     "mount -t tmpfs none /tmp && echo mounted; grep CapEff /proc/self/status;"
                     " grep ' /sys ' /proc/mounts; test -e /dev/kmsg && echo devices")
    out = res.stdout.decode()
    assert "mounted" in out and "devices" in out
    assert "sysfs rw" in out
    with open("/proc/self/status") as f:
        host_bnd = next(int(x.split()[1], 16) for x in f if x.startswith("CapBnd:"))
    assert int(out.split("CapEff:")[1].split()[0], 16) == host_bnd


def test_no_new_privileges_and_seccomp_opts(daemon, tmp_path):
    out = daemon.cli("run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep",
                     "NoNewPrivs", "/proc/self/status").stdout.decode().split()
    assert out == ["NoNewPrivs:", "1"]
    profile = tmp_path / "deny-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}))
    res = daemon.cli("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox",
                     "mkdir", "/tmp/x")
    assert res.returncode != 0 and b"Operation not permitted" in res.stderr
    res = daemon.cli("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox",
                     "mkdir", "/tmp/x")
    assert res.returncode == 0


def test_device_and_group_add(daemon):
    res = daemon.cli("run", "--rm", "--device", "/dev/null:/dev/mynull", "--group-add",
                     "wheel", "--group-add", "4242", "busybox", "sh", "-c",
                     "echo x > /dev/mynull && echo wrote; id -G")
    out = res.stdout.decode().split("\n")
    assert out[0] == "wrote", res.stderr
    assert {"10", "4242"} <= set(out[1].split())


def test_bad_security_flags(daemon):
    for args, msg in ((["--cap-add", "FLY"], b'unknown capability: "CAP_FLY"'),
                      (["--security-opt", "bogus"], b"invalid --security-opt"),
                      (["--device", "/dev/nope"], b"error gathering device information")):
        n = name()
        res = daemon.cli("run", "--rm", "--name", n, *args, "busybox", "true")
        assert res.returncode != 0 and msg in res.stderr, (args, res.stderr)
        daemon.cli("rm", "-f", n)
