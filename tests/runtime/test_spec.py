"""config.json decoding and validation: every error names its field."""

from __future__ import annotations

import json

import pytest

from dockling.errors import InvalidArgument
from dockling.runtime import defaults, spec
from dockling.kernel import syscalls as sc
from dockling.runtime.rootfs import parse_options


def _cfg(**over):
    c = defaults.runc_spec()
    c.update(over)
    return c


def test_runc_template_decodes():
    s = spec.decode(json.dumps(defaults.runc_spec()).encode())
    assert s.process.args == ["sh"]
    assert s.root.readonly is True
    assert [n.type for n in s.linux.namespaces][:2] == ["pid", "network"]
    assert s.process.capabilities.bounding == defaults.DEFAULT_CAPS
    assert spec.from_dict(spec.to_dict(s)) == s


def test_id_mappings_field_names():
    c = _cfg()
    c["linux"]["namespaces"].append({"type": "user"})
    c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 1000, "size": 1}]
    s = spec.decode(json.dumps(c).encode())
    assert s.linux.uid_mappings[0].host_id == 1000
    assert spec.to_dict(s)["linux"]["uidMappings"][0]["hostID"] == 1000


@pytest.mark.parametrize("mutate, field", [
    (lambda c: c["process"]["user"].update(uid=2**32), "$.process.user.uid"),
    (lambda c: c["process"].update(cwd="relative"), "$.process.cwd"),
    (lambda c: c["process"].update(env=["NOEQUALS"]), "$.process.env[0]"),
    (lambda c: c["linux"]["namespaces"].append({"type": "pid"}), "listed twice"),
    # Without a mount namespace, what would remount the host's paths (runc's rule).
    (lambda c: c["linux"].update(namespaces=[{"type": "pid"}]), "$.linux.maskedPaths"),
    (lambda c: c["linux"].update(namespaces=[], maskedPaths=[]), "$.linux.readonlyPaths"),
    (lambda c: c["linux"].update(namespaces=[], maskedPaths=[], readonlyPaths=[]),
     "$.root.readonly"),
    (lambda c: (c["linux"].update(namespaces=[], maskedPaths=[], readonlyPaths=[],
                                  rootfsPropagation="private"), c["root"].update(readonly=False)),
     "$.linux.rootfsPropagation"),
    (lambda c: c["linux"].update(uidMappings=[{"containerID": 0, "hostID": 0, "size": 1}]),
     "user namespace"),
    (lambda c: c["linux"].update(rootfsPropagation="sideways"), "rootfsPropagation"),
    (lambda c: c["linux"].update(devices=[{"type": "x", "path": "/dev/x"}]),
     "$.linux.devices[0].type"),
    (lambda c: c["linux"]["resources"]["devices"].append({"allow": True, "type": "p"}),
     "$.linux.resources.devices[1].type"),
    (lambda c: c["process"]["rlimits"].append({"type": "RLIMIT_NOFILE", "hard": 1, "soft": 2}),
     "soft limit above hard"),
    (lambda c: c.update(hostname="h", linux={**c["linux"], "namespaces": [{"type": "mount"}]}),
     "$.hostname"),
])
def test_validation_names_field(mutate, field):
    c = _cfg()
    mutate(c)
    with pytest.raises(InvalidArgument) as err:
        spec.decode(json.dumps(c).encode())
    assert field in str(err.value)


def test_no_mount_namespace_accepted():
    # runtime-spec: an absent namespace type is inherited from the runtime.
    c = _cfg(hostname="")
    c["root"]["readonly"] = False
    c["linux"].update(namespaces=[], maskedPaths=[], readonlyPaths=[])
    s = spec.decode(json.dumps(c).encode())
    assert not spec.has_mount_namespace(s)


def test_device_cgroup_rules_for_linux_devices():
    # A FIFO gets no device cgroup rule, an unbuffered "u" node is a "c" to it.
    c = _cfg()
    c["linux"]["devices"] = [
        {"type": "p", "path": "/dev/p", "major": 8, "minor": 666},
        {"type": "u", "path": "/dev/u", "major": 1, "minor": 3},
        {"type": "b", "path": "/dev/b", "major": 8, "minor": 20},
    ]
    rules = defaults.effective_resources(spec.decode(json.dumps(c).encode())).devices
    allowed = [(r.type, r.major, r.minor) for r in rules if r.allow]
    # "c 1:3" is /dev/null's, one of the defaults: once, as every rule (a write each)
    assert allowed == list(defaults.ALLOWED_DEVICES) + [("b", 8, 20)]
    assert ("c", 8, 666) not in allowed and ("p", 8, 666) not in allowed


def test_capability_names_accept_docker_forms():
    from dockling.runtime import capabilities

    assert capabilities.number("CAP_SYS_ADMIN") == 21
    assert capabilities.number("sys_admin") == 21
    assert capabilities.number("CAP_NOPE") is None


def test_parse_mount_options():
    o = parse_options(["rbind", "ro", "nosuid", "rprivate", "mode=755", "size=1k"])
    assert o.flags == sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY | sc.MS_NOSUID
    assert o.propagation == [sc.MS_PRIVATE | sc.MS_REC]
    assert o.data == "mode=755,size=1k"
    assert parse_options(["ro", "rw"]).flags == 0


def test_exec_process_merges_env_and_user():
    base = spec.decode(json.dumps(defaults.runc_spec()).encode()).process
    p = defaults.exec_process(base, ["ls"], env=["TERM=dumb", "X=1"], user="10:20", tty=True)
    assert p.args == ["ls"] and p.terminal
    assert "TERM=dumb" in p.env and "X=1" in p.env and len([e for e in p.env
                                                          if e.startswith("TERM=")]) == 1
    assert (p.user.uid, p.user.gid) == (10, 20)
    with pytest.raises(InvalidArgument):
        defaults.exec_process(base, ["ls"], user="root")
