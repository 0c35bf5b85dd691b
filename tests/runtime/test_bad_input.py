"""Bad bundles fail with one clear line naming the field, a non-zero exit,
and nothing left behind: no state dir, cgroup dir, mount or process."""

from __future__ import annotations

import json
import os

import pytest

from tests.conftest import new_id
from dockling.testing.leaks import existing_cgroups


def _children() -> set[int]:
    me = os.getpid()
    out = set()
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == me:
                        out.add(int(name))
            except OSError:
                pass
    return out


def _mounts_of(bundle) -> list[str]:
    """Our namespace's mounts a create could leave: below the bundle (the
    rootfs of a config without a mount namespace), and the root's
    propagation. Counting every mount would see other tests' containers."""
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == "/" or fields[4].startswith(bundle.path + "/"):
                out.append(" ".join(fields[4:]))
    return out


def _no_mount_ns(c, **linux):
    lx = c["linux"]
    lx.update(namespaces=[n for n in lx["namespaces"] if n["type"] != "mount"],
              maskedPaths=[], readonlyPaths=[], **linux)


CASES = [
    ("invalid-json", lambda c: "{not json", "invalid JSON"),
    ("uid-type", lambda c: c["process"]["user"].update(uid="root"), "$.process.user.uid"),
    ("uid-negative", lambda c: c["process"]["user"].update(uid=-1), "$.process.user.uid"),
    ("no-args", lambda c: c["process"].update(args=[]), "$.process.args"),
    ("unknown-ns", lambda c: c["linux"]["namespaces"].append({"type": "time-travel"}),
     "$.linux.namespaces[6].type"),
    ("unknown-cap", lambda c: c["process"]["capabilities"]["bounding"].append("CAP_FLY"),
     "$.process.capabilities.bounding[3]"),
    ("unknown-rlimit", lambda c: c["process"]["rlimits"].append(
        {"type": "RLIMIT_WISHES", "hard": 1, "soft": 1}), "$.process.rlimits[1].type"),
    ("no-root", lambda c: c.pop("root"), "$.root.path"),
    ("rootfs-missing", lambda c: c["root"].update(path="does-not-exist"), "root.path"),
    ("relative-mount", lambda c: c["mounts"].append({"destination": "data", "type": "tmpfs"}),
     "$.mounts[7].destination"),
    ("bind-source-missing", lambda c: c["mounts"].append(
        {"destination": "/data", "type": "bind", "source": "/no/such/dir",
         "options": ["rbind"]}), "mounts[7].source"),
    ("bad-sysctl", lambda c: c["linux"].update(sysctl={"kernel.no_such_knob": "1"}),
     "linux.sysctl"),
    # The init fails after mounting below the rootfs in our own namespace.
    ("no-mount-ns-bad-sysctl", lambda c: _no_mount_ns(c, sysctl={"kernel.no_such_knob": "1"}),
     "linux.sysctl"),
    ("bad-cgroup-value", lambda c: c["linux"]["resources"].update(cpu={"cpus": "999"}),
     "cpuset.cpus"),
    ("bad-seccomp", lambda c: c["linux"].update(seccomp={"defaultAction": "SCMP_ACT_MAYBE"}),
     "seccomp.defaultAction"),
]


@pytest.mark.parametrize("name, mutate, field", CASES, ids=[c[0] for c in CASES])
def test_bad_config_fails_cleanly(dockling, bundle, name, mutate, field):
    cid = new_id("bad")
    cfg = bundle.config
    cfg["linux"]["cgroupsPath"] = f"{bundle.cgroup_parent}/{cid}"
    body = mutate(cfg)
    with open(os.path.join(bundle.path, "config.json"), "w") as f:
        f.write(body if isinstance(body, str) else json.dumps(cfg))
    mounts, kids = _mounts_of(bundle), _children()
    res = dockling("create", "--bundle", bundle.path, cid, check=False)
    assert res.returncode == 1
    err = res.stderr.decode()
    assert err.count("\n") == 1, err
    assert field in err, err
    assert "Traceback" not in err
    assert not os.path.exists(os.path.join(dockling.root, cid))
    assert existing_cgroups(f"{bundle.cgroup_parent}/{cid}") == []  # any hierarchy
    assert _mounts_of(bundle) == mounts
    assert _children() <= kids


def test_missing_config_json(dockling, tmp_path):
    res = dockling("create", "--bundle", str(tmp_path), new_id("nocfg"), check=False)
    assert res.returncode == 1
    assert b"config.json: no such file" in res.stderr


def test_duplicate_id(dockling, bundle):
    cid = new_id("dup")
    bundle.args("sleep", "300")
    dockling.create(cid, bundle.write(cid))
    res = dockling("create", "--bundle", bundle.path, cid, check=False)
    assert res.returncode == 1
    assert b"container with id exists" in res.stderr
    assert dockling.state(cid)["status"] == "created"


def test_unknown_container(dockling):
    for cmd in (["state"], ["start"], ["kill"], ["delete"], ["pause"], ["exec"]):
        res = dockling(*cmd, "nope-" + new_id(), *(["true"] if cmd == ["exec"] else []),
                       check=False)
        assert res.returncode == 1
        assert b"container does not exist" in res.stderr


def test_bad_container_id(dockling, bundle):
    res = dockling("create", "--bundle", bundle.write(), "../escape", check=False)
    assert res.returncode == 1
    assert b"invalid container id" in res.stderr


def test_program_not_found_fails_create(dockling, bundle):
    bundle.args("/no/such/program")
    cid = new_id("nf")
    res = dockling("create", "--bundle", bundle.write(cid), cid, check=False)
    assert res.returncode == 127
    assert b"no such file or directory" in res.stderr
    assert not os.path.exists(os.path.join(dockling.root, cid))
