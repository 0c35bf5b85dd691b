"""containers/spec.py: a container record + its image -> config.json, without root.

Each expectation is docker's (moby's oci/defaults.go, daemon/oci_linux.go)."""

from __future__ import annotations

import copy

import msgspec
import pytest

from dockling.containers import spec
from dockling.containers.model import Config, Container
from dockling.images.model import ContainerConfig
from dockling.runtime import capabilities
from dockling.runtime.defaults import ALLOWED_DEVICES

USER = (0, 0, [10])


def record(config: dict | None = None, **hc) -> Container:
    cfg = {"Hostname": "c0ffee", "Domainname": "", "Cmd": ["sh", "-c", "true"],
           "Env": ["A=1"], "WorkingDir": "", "Tty": False}
    cfg.update(config or {})
    return msgspec.convert({"Id": "c0ffee", "Config": cfg, "HostConfig": hc,
                            "ResolvConfPath": "/ctr/resolv.conf",
                            "HostnamePath": "/ctr/hostname", "HostsPath": "/ctr/hosts"},
                           Container)


def build(c: Container, image: ContainerConfig | None = None, **kw) -> dict:
    args = {"rootfs": "/ctr/merged", "user": USER, "cgroups_path": "/dockling/c0ffee",
            "cgroup_v2": False, **kw}
    return spec.build(c, image or ContainerConfig(), **args)


def by_dest(cfg: dict) -> dict[str, dict]:
    return {m["destination"]: m for m in cfg["mounts"]}


def test_defaults():
    cfg = build(record())
    p = cfg["process"]
    assert p["args"] == ["sh", "-c", "true"]
    assert p["user"] == {"uid": 0, "gid": 0, "additionalGids": [10]}
    assert p["cwd"] == "/"
    assert p["terminal"] is False and p["noNewPrivileges"] is False
    assert p["env"][0] == spec.DEFAULT_PATH  # PATH first when the image has none
    assert "A=1" in p["env"] and "HOSTNAME=c0ffee" in p["env"]
    for kind in ("bounding", "effective", "permitted"):
        assert p["capabilities"][kind] == spec.DEFAULT_CAPS
    assert cfg["root"] == {"path": "/ctr/merged", "readonly": False}
    assert cfg["hostname"] == "c0ffee"
    linux = cfg["linux"]
    assert linux["cgroupsPath"] == "/dockling/c0ffee"
    assert [n["type"] for n in linux["namespaces"]] == ["mount", "pid", "ipc", "uts",
                                                          "network"]
    assert linux["maskedPaths"] == spec.MASKED_PATHS
    assert linux["readonlyPaths"] == spec.READONLY_PATHS
    assert linux["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    devices = linux["resources"]["devices"]
    assert devices[0] == {"allow": False, "access": "rwm"}  # deny all, then docker's list
    assert [(d["type"], d["major"], d["minor"]) for d in devices[1:]] == \
        [tuple(x) for x in ALLOWED_DEVICES]
    assert linux["devices"] == [] and linux["sysctl"] == {}
    mounts = by_dest(cfg)
    for dest in ("/proc", "/dev", "/dev/pts", "/sys", "/sys/fs/cgroup", "/dev/mqueue",
                 "/dev/shm"):
        assert dest in mounts
    assert "ro" in mounts["/sys"]["options"]
    assert "size=67108864" in mounts["/dev/shm"]["options"]  # docker's 64 MB /dev/shm
    for dest, src in (("/etc/resolv.conf", "/ctr/resolv.conf"),
                      ("/etc/hostname", "/ctr/hostname"), ("/etc/hosts", "/ctr/hosts")):
        assert mounts[dest]["source"] == src and mounts[dest]["type"] == "bind"


def test_pure_the_record_is_not_changed():
    c = record(CapAdd=["NET_ADMIN"], Tmpfs={"/run": "size=1m"})
    before = copy.deepcopy(c)
    build(c)
    assert c == before


def test_command_and_entrypoint():
    image = ContainerConfig(Entrypoint=["/entry"], Cmd=["image-cmd"])
    # the container's Cmd replaces the image's; the image's entrypoint stays
    assert spec.command(Config(Cmd=["x"]), image) == ["/entry", "x"]
    assert spec.command(Config(), image) == ["/entry", "image-cmd"]
    # a container entrypoint resets the image's Cmd (docker's rule)
    assert spec.command(Config(Entrypoint=["/mine"]), image) == ["/mine"]
    # an empty entrypoint given: the image's is gone too
    assert spec.command(Config(Entrypoint=[], Cmd=["ls"]), image) == ["ls"]


def test_environment():
    env = spec.environment(Config(Env=["A=2", "B=x"], Hostname="h", Tty=True),
                           ContainerConfig(Env=["PATH=/img", "A=1"]))
    assert env == ["PATH=/img", "A=2", "B=x", "HOSTNAME=h", "TERM=xterm"]
    assert spec.environment(Config(Env=["HOSTNAME=mine"]), ContainerConfig())[1:] == \
        ["HOSTNAME=mine"]
    assert "TERM=xterm" not in spec.environment(Config(), ContainerConfig())


def test_working_dir_from_config_then_image():
    assert build(record({"WorkingDir": "/w"}))["process"]["cwd"] == "/w"
    assert build(record(), ContainerConfig(WorkingDir="/img"))["process"]["cwd"] == "/img"


def test_host_and_container_namespaces():
    cfg = build(record(PidMode="host", NetworkMode="host", UTSMode="host"),
                joins={"ipc": "/proc/42/ns/ipc"})
    ns = cfg["linux"]["namespaces"]
    assert ns == [{"type": "mount"}, {"type": "ipc", "path": "/proc/42/ns/ipc"}]
    assert cfg["hostname"] == "" and cfg["domainname"] == ""  # the host's UTS: not set


def test_cgroup_namespace_v1_and_v2():
    def types(cfg):
        return [n["type"] for n in cfg["linux"]["namespaces"]]

    assert "cgroup" not in types(build(record()))  # v1: the host's, as docker
    assert "cgroup" in types(build(record(), cgroup_v2=True))  # v2: private by default
    assert "cgroup" not in types(build(record(CgroupnsMode="host"), cgroup_v2=True))
    assert "cgroup" in types(build(record(CgroupnsMode="private")))


def test_privileged():
    cfg = build(record(Privileged=True))
    assert cfg["process"]["capabilities"]["bounding"] == capabilities.available()
    assert "seccomp" not in cfg["linux"]
    assert cfg["linux"]["maskedPaths"] == [] and cfg["linux"]["readonlyPaths"] == []
    assert cfg["linux"]["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert "rw" in by_dest(cfg)["/sys"]["options"]


def test_security_options_reach_the_spec():
    cfg = build(record(SecurityOpt=["no-new-privileges", "seccomp=unconfined"],
                       CapAdd=["NET_ADMIN"], CapDrop=["CHOWN"]))
    assert cfg["process"]["noNewPrivileges"] is True
    assert "seccomp" not in cfg["linux"]
    caps = cfg["process"]["capabilities"]["effective"]
    assert "CAP_NET_ADMIN" in caps and "CAP_CHOWN" not in caps
    profile = {"defaultAction": "SCMP_ACT_ALLOW",
               "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    import json

    cfg = build(record(SecurityOpt=[f"seccomp={json.dumps(profile)}"]))
    assert cfg["linux"]["seccomp"]["defaultAction"] == "SCMP_ACT_ALLOW"
    assert cfg["linux"]["seccomp"]["syscalls"][0]["names"] == ["mkdir"]


def test_user_mounts_replace_defaults_and_tmpfs():
    mine = {"destination": "/dev/shm", "type": "bind", "source": "/vol", "options": ["rbind"]}
    cfg = build(record(Tmpfs={"/run": "size=1m,mode=700"}), user_mounts=[mine])
    mounts = [m for m in cfg["mounts"] if m["destination"] == "/dev/shm"]
    assert mounts == [mine]
    run = by_dest(cfg)["/run"]
    assert run["type"] == "tmpfs"
    assert run["options"] == ["nosuid", "nodev", "noexec", "size=1m", "mode=700"]


def test_init():
    cfg = build(record(), init_path="/usr/bin/tini-static")
    assert cfg["process"]["args"] == [spec.INIT_DEST, "--", "sh", "-c", "true"]
    m = by_dest(cfg)[spec.INIT_DEST]
    assert m["source"] == "/usr/bin/tini-static" and "ro" in m["options"]


def test_resources_rlimits_sysctls_readonly():
    cfg = build(record(Memory=64 << 20, NanoCpus=500_000_000, PidsLimit=42,
                       Ulimits=[{"Name": "nofile", "Soft": 10, "Hard": 20}],
                       Sysctls={"net.ipv4.ip_forward": "1"}, ReadonlyRootfs=True,
                       OomScoreAdj=100, ShmSize=1 << 20))
    r = cfg["linux"]["resources"]
    assert r["memory"] == {"limit": 64 << 20, "swap": 128 << 20}
    assert r["cpu"] == {"period": 100000, "quota": 50000}
    assert r["pids"] == {"limit": 42}
    assert cfg["process"]["rlimits"] == [{"type": "RLIMIT_NOFILE", "soft": 10, "hard": 20}]
    assert cfg["process"]["oomScoreAdj"] == 100
    assert cfg["linux"]["sysctl"] == {"net.ipv4.ip_forward": "1"}
    assert cfg["root"]["readonly"] is True
    assert f"size={1 << 20}" in by_dest(cfg)["/dev/shm"]["options"]


def test_devices(tmp_path):
    cfg = build(record(Devices=[{"PathOnHost": "/dev/null", "PathInContainer": "/dev/mine",
                                 "CgroupPermissions": "r"}]))
    assert [(d["path"], d["type"], d["major"], d["minor"]) for d in cfg["linux"]["devices"]] \
        == [("/dev/mine", "c", 1, 3)]
    assert cfg["linux"]["resources"]["devices"][-1] == {
        "allow": True, "type": "c", "major": 1, "minor": 3, "access": "r"}


def test_tty_sets_terminal_and_term():
    cfg = build(record({"Tty": True}))
    assert cfg["process"]["terminal"] is True
    assert "TERM=xterm" in cfg["process"]["env"]


@pytest.mark.parametrize("stub", sorted(spec.MOUNT_STUBS - {".dockerenv"}))
def test_mount_stubs_are_mounted_over(stub):
    """Every path left out of diff/commit as a stub is one the spec mounts over."""
    dests = {m["destination"].lstrip("/") for m in build(record())["mounts"]}
    assert stub in dests
