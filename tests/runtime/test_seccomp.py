"""seccomp from config.json: a denied syscall gives EPERM; docker's default
profile translates, lets ordinary programs run and blocks namespace calls."""

from __future__ import annotations

import hashlib

import msgspec
import pyseccomp
import pytest

from dockling.errors import InvalidArgument
from dockling.runtime import seccomp, spec
from dockling.runtime.seccomp_profiles import docker_default
from tests.conftest import new_id


def _run(runtime, bundle, *argv):
    bundle.args(*argv)
    cid = new_id("sec")
    return runtime("run", "--bundle", bundle.write(cid), cid, check=False)


def test_denied_syscall_gives_eperm(runtime, bundle):
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}],
    }
    res = _run(runtime, bundle, "sh", "-c", "mkdir /tmp/x; echo rc=$?; touch /tmp/y && echo ok")
    assert b"Operation not permitted" in res.stderr
    assert res.stdout.decode().split() == ["rc=1", "ok"]


def test_errno_ret_and_arg_condition(runtime, bundle):
    # deny only fchmodat with mode 0777: chmod 755 works, chmod 777 fails EACCES(13)
    bundle.config["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["chmod", "fchmodat"], "action": "SCMP_ACT_ERRNO",
                      "errnoRet": 13,
                      "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
                     {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
                      "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]}],
    }
    res = _run(runtime, bundle, "sh", "-c",
               "touch /tmp/f; chmod 755 /tmp/f && echo a; chmod 777 /tmp/f || echo b")
    assert res.stdout.decode().split() == ["a", "b"]
    assert b"Permission denied" in res.stderr


def test_docker_default_profile_works(runtime, bundle):
    caps = bundle.config["process"]["capabilities"]["bounding"]
    bundle.config["linux"]["seccomp"] = docker_default(caps)
    res = _run(runtime, bundle, "sh", "-c",
               "ls / >/dev/null && echo ls-ok; unshare -n true; echo unshare=$?; "
               "wc -c < /etc/passwd >/dev/null && echo io-ok")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().split()
    assert "ls-ok" in out and "io-ok" in out
    assert "unshare=1" in out
    assert b"Operation not permitted" in res.stderr


def test_docker_default_allows_admin_calls_with_cap_sys_admin():
    prof = docker_default(["CAP_SYS_ADMIN"])
    names = {n for r in prof["syscalls"] if "args" not in r for n in r["names"]}
    assert {"mount", "unshare", "setns"} <= names
    prof = docker_default(["CAP_CHOWN"])
    names = {n for r in prof["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" and "args" not in r
             for n in r["names"]}
    assert "mount" not in names and "unshare" not in names


def _compile(profile):
    return seccomp.compile_rules(spec.decode(
        b'{"root":{"path":"r"},"process":{"args":["x"]},"linux":{"namespaces":[{"type":"mount"}],'
        b'"seccomp":' + __import__("json").dumps(profile).encode() + b"}}").linux.seccomp)


def test_compile_skips_unknown_syscalls_and_default_action():
    f = _compile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["no_such_syscall_xyz", "getpid"], "action": "SCMP_ACT_ALLOW"},
        {"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert len(f.rules) == 1


def test_compile_splits_same_argument_conditions():
    f = _compile({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["personality"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"},
                  {"index": 0, "value": 2, "op": "SCMP_CMP_EQ"}]}]})
    assert len(f.rules) == 2


@pytest.mark.parametrize("profile, field", [
    ({"defaultAction": "SCMP_ACT_NOPE"}, "defaultAction"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}, "architectures[0]"),
    ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["read"], "action": "SCMP_ACT_ERRNO",
         "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]}, "args[0].op"),
])
def test_compile_rejects_bad_profiles(profile, field):
    with pytest.raises(InvalidArgument, match=field.replace("[", r"\[").replace("]", r"\]")):
        _compile(profile)


def test_filters_are_built_as_a_binary_tree(tmp_path):
    """libseccomp's tree (CTL_OPTIMIZE=2): the same rules, a cheaper load for the
    kernel; the cached program is a new one, not a list-shaped one kept from before."""
    f = _compile(docker_default(["CAP_CHOWN"]))
    assert seccomp._build(f).get_attr(pyseccomp.Attr.CTL_OPTIMIZE) == 2
    old_key = hashlib.sha256(msgspec.msgpack.encode(f)).hexdigest()
    seccomp.with_program(f, str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] != [old_key + ".bpf"]
    assert len(list(tmp_path.iterdir())) == 1
