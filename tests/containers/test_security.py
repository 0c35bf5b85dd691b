"""containers/security.py: capabilities, --security-opt, seccomp profiles and
devices by docker's rules, without root."""

from __future__ import annotations

import json
import os

import pytest

from dockling import gojson
from dockling.containers import security
from dockling.containers.model import DeviceMapping, HostConfig
from dockling.containers.spec import DEFAULT_CAPS
from dockling.errors import InvalidArgument
from dockling.runtime import capabilities


def caps(**hc) -> list[str]:
    return security.capability_set(DEFAULT_CAPS, gojson.convert(hc, HostConfig))


def test_capability_rules():
    assert caps() == DEFAULT_CAPS
    # names without CAP_ and in any case, as the docker CLI sends them
    assert caps(CapAdd=["net_admin"]) == [*DEFAULT_CAPS, "CAP_NET_ADMIN"]
    assert "CAP_CHOWN" not in caps(CapDrop=["CHOWN"])
    assert caps(CapDrop=["ALL"]) == []
    assert caps(CapDrop=["ALL"], CapAdd=["CHOWN"]) == ["CAP_CHOWN"]
    assert caps(CapAdd=["ALL"]) == capabilities.available()
    assert "CAP_KILL" not in caps(CapAdd=["ALL"], CapDrop=["KILL"])
    # added and dropped: the add wins (moby's TweakCapabilities)
    assert "CAP_NET_RAW" in caps(CapAdd=["NET_RAW"], CapDrop=["NET_RAW"])
    assert caps(Privileged=True, CapDrop=["ALL"]) == capabilities.available()


def test_unknown_capability():
    with pytest.raises(InvalidArgument, match='invalid CapAdd: unknown capability: "CAP_NOPE"'):
        caps(CapAdd=["nope"])
    with pytest.raises(InvalidArgument, match="invalid CapDrop"):
        caps(CapDrop=["CAP_NOPE"])


def test_security_opts():
    assert security.parse_security_opts([]).no_new_privs is False
    for opt in ("no-new-privileges", "no-new-privileges:true", "no-new-privileges=true"):
        assert security.parse_security_opts([opt]).no_new_privs is True
    assert security.parse_security_opts(["no-new-privileges:false"]).no_new_privs is False
    o = security.parse_security_opts(["seccomp=unconfined"])
    assert o.unconfined and o.seccomp is None
    o = security.parse_security_opts(['seccomp={"defaultAction": "SCMP_ACT_ALLOW"}'])
    assert o.seccomp == {"defaultAction": "SCMP_ACT_ALLOW"} and not o.unconfined
    # no AppArmor or SELinux here: accepted and ignored, as on a docker host without them
    security.parse_security_opts(["apparmor=unconfined", "label=disable"])


@pytest.mark.parametrize("opt, message", [
    ("no-new-privileges:maybe", "invalid --security-opt 2"),
    ("seccomp={not json", "Decoding seccomp profile failed"),
    ("bogus=1", "invalid --security-opt: 'bogus=1'"),
])
def test_bad_security_opts(opt, message):
    with pytest.raises(InvalidArgument, match=message):
        security.parse_security_opts([opt])


def test_docker_profile_to_oci():
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "archMap": [{"architecture": "SCMP_ARCH_X86_64",
                     "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"name": "personality", "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ", "comment": "x"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        ],
    }
    assert security.docker_profile_to_oci(profile) == {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["personality"], "action": "SCMP_ACT_ALLOW",
             "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_EQ"}]},
            {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13},
        ]}
    # a profile as docker's CLI sends it round-trips through the option
    opts = security.parse_security_opts([f"seccomp={json.dumps(profile)}"])
    assert security.docker_profile_to_oci(opts.seccomp)["syscalls"][2]["errnoRet"] == 13


def test_oci_devices(tmp_path):
    devs, rules = security.oci_devices([DeviceMapping("/dev/null", "/dev/n", "rw")])
    st = os.stat("/dev/null")
    assert devs == [{"type": "c", "path": "/dev/n", "major": 1, "minor": 3,
                     "fileMode": st.st_mode & 0o7777, "uid": st.st_uid, "gid": st.st_gid}]
    assert rules == [{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"}]
    regular = tmp_path / "file"
    regular.write_text("")
    with pytest.raises(InvalidArgument, match="not a device node"):
        security.oci_devices([DeviceMapping(str(regular))])
    with pytest.raises(InvalidArgument, match="no such file or directory"):
        security.oci_devices([DeviceMapping(str(tmp_path / "missing"))])


def test_host_devices_are_device_nodes_only():
    found = security.host_devices()
    assert DeviceMapping("/dev/null", "/dev/null", "rwm") in found
    assert all(not os.path.isdir(d.PathOnHost) for d in found)
