"""What the container sees, checked from inside and outside, under
dockling-runc and runc: PID 1, hostname, namespaces, mounts, masked and
read-only paths, capabilities, no_new_privs, rlimits, users."""

from __future__ import annotations

import os

from tests.conftest import new_id


def run(runtime, bundle, *argv, cid=None):
    bundle.args(*argv)
    cid = cid or new_id("iso")
    res = runtime("run", "--bundle", bundle.write(cid), cid, check=False)
    return res


def test_pid1_is_user_program(runtime, bundle):
    res = run(runtime, bundle, "sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.decode().splitlines()
    assert lines[0] == "1"
    assert lines[1].startswith("sh -c")


def test_hostname(runtime, bundle):
    bundle.config["hostname"] = "box1"
    res = run(runtime, bundle, "hostname")
    assert res.stdout.decode().split() == ["box1"]


def test_domainname(dockling, bundle):
    # runc 1.1 (Debian's) ignores "domainname"; runtime-spec has it, so do we.
    bundle.config["domainname"] = "example.test"
    res = run(dockling, bundle, "cat", "/proc/sys/kernel/domainname")
    assert res.stdout.decode().split() == ["example.test"]


def test_new_net_namespace_has_only_lo(runtime, bundle):
    res = run(runtime, bundle, "ip", "-o", "link")
    links = [line.split(":")[1].strip() for line in res.stdout.decode().splitlines()]
    assert links == ["lo"]


def test_namespace_inodes_differ_from_host(runtime, bundle):
    types = ["pid", "net", "ipc", "uts", "mnt", "cgroup"]
    res = run(runtime, bundle, "sh", "-c",
              " ; ".join(f"readlink /proc/self/ns/{t}" for t in types))
    inside = res.stdout.decode().split()
    host = [os.readlink(f"/proc/self/ns/{t}") for t in types]
    assert len(inside) == len(types)
    for i, h in zip(inside, host):
        assert i != h


def test_mount_table(runtime, bundle):
    res = run(runtime, bundle, "cat", "/proc/self/mounts")
    mounts = {}
    for line in res.stdout.decode().splitlines():
        _dev, mp, fstype, opts = line.split()[:4]
        mounts[mp] = (fstype, set(opts.split(",")))
    assert mounts["/proc"][0] == "proc"
    assert mounts["/dev"][0] == "tmpfs" and "nosuid" in mounts["/dev"][1]
    assert mounts["/dev/pts"][0] == "devpts"
    assert mounts["/dev/shm"][0] == "tmpfs"
    assert mounts["/dev/mqueue"][0] == "mqueue"
    assert mounts["/sys"][0] == "sysfs" and "ro" in mounts["/sys"][1]
    assert "ro" in mounts["/proc/sys"][1]
    assert mounts["/sys/fs/cgroup/memory"][0] == "cgroup"
    assert "ro" in mounts["/sys/fs/cgroup/memory"][1]
    # nothing of the host's mount table is visible
    assert not any(mp.startswith(("/work", "/tmp/pytest")) for mp in mounts)


def test_dev_nodes_and_symlinks(runtime, bundle):
    res = run(runtime, bundle, "sh", "-c",
              "ls -l /dev/null /dev/zero /dev/full /dev/random /dev/urandom /dev/tty; "
              "for l in fd stdin stdout stderr ptmx; do readlink /dev/$l; done; "
              "echo x > /dev/null && head -c 4 /dev/zero | wc -c")
    out = res.stdout.decode()
    assert res.returncode == 0, res.stderr
    for name, nums in (("null", "1,   3"), ("zero", "1,   5"), ("urandom", "1,   9"),
                       ("tty", "5,   0")):
        line = next(x for x in out.splitlines() if x.endswith("/dev/" + name))
        assert line.startswith("crw-rw-rw-") and nums in line
    for target in ("/proc/self/fd", "/proc/self/fd/0", "/proc/self/fd/1", "/proc/self/fd/2",
                   "pts/ptmx"):
        assert target + "\n" in out
    assert out.strip().endswith("4")


def test_masked_paths_unreadable(runtime, bundle):
    res = run(runtime, bundle, "sh", "-c",
              "cat /proc/kcore | wc -c; ls /proc/acpi | wc -l; cat /proc/keys | wc -c")
    assert res.stdout.decode().split() == ["0", "0", "0"]


def test_readonly_paths(runtime, bundle):
    res = run(runtime, bundle, "sh", "-c", "echo 1 > /proc/sys/kernel/domainname")
    assert res.returncode != 0
    assert b"Read-only file system" in res.stderr


def test_readonly_root(runtime, bundle):
    bundle.config["root"]["readonly"] = True
    res = run(runtime, bundle, "sh", "-c", "touch /x; echo rc=$?; touch /tmp/y 2>&1; true")
    assert b"rc=1" in res.stdout
    assert b"Read-only file system" in res.stderr


def test_capabilities_as_configured(runtime, bundle):
    caps = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE"]
    bundle.config["process"]["capabilities"] = {
        "bounding": caps, "effective": caps, "permitted": caps, "inheritable": [],
        "ambient": []}
    res = run(runtime, bundle, "grep", "-E", "^Cap(Eff|Bnd|Prm)", "/proc/self/status")
    want = (1 << 0) | (1 << 5) | (1 << 10)
    fields = dict(line.split(":\t") for line in res.stdout.decode().splitlines())
    assert int(fields["CapEff"], 16) == want
    assert int(fields["CapBnd"], 16) == want
    assert int(fields["CapPrm"], 16) == want


def test_capability_enforced(runtime, bundle):
    # no CAP_SYS_ADMIN: mounting is refused; no CAP_NET_RAW: no raw ping socket
    res = run(runtime, bundle, "mount", "-t", "tmpfs", "none", "/mnt")
    assert res.returncode != 0


def test_no_new_privs(runtime, bundle):
    bundle.config["process"]["noNewPrivileges"] = True
    res = run(runtime, bundle, "grep", "NoNewPrivs", "/proc/self/status")
    assert res.stdout.decode().split() == ["NoNewPrivs:", "1"]
    bundle.config["process"]["noNewPrivileges"] = False
    res = run(runtime, bundle, "grep", "NoNewPrivs", "/proc/self/status")
    assert res.stdout.decode().split() == ["NoNewPrivs:", "0"]


def test_rlimits(runtime, bundle):
    bundle.config["process"]["rlimits"] = [
        {"type": "RLIMIT_NOFILE", "hard": 777, "soft": 555},
        {"type": "RLIMIT_NPROC", "hard": 300, "soft": 200},
    ]
    res = run(runtime, bundle, "sh", "-c", "ulimit -n; ulimit -Hn; ulimit -u")
    assert res.stdout.decode().split() == ["555", "777", "200"]


def test_user_uid_gid_groups_umask_cwd_env(runtime, bundle):
    bundle.config["process"]["user"] = {"uid": 1000, "gid": 1001, "additionalGids": [33, 100],
                                        "umask": 0o027}
    bundle.config["process"]["cwd"] = "/tmp"
    bundle.config["process"]["env"].append("GREETING=hi there")
    res = run(runtime, bundle, "sh", "-c", "id -u; id -g; id -G; umask; pwd; echo $GREETING")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().splitlines()
    assert out[0] == "1000" and out[1] == "1001"
    assert set(out[2].split()) == {"1001", "33", "100"}
    assert out[3] == "0027"
    assert out[4] == "/tmp"
    assert out[5] == "hi there"


def test_oom_score_adj(runtime, bundle):
    bundle.config["process"]["oomScoreAdj"] = 321
    res = run(runtime, bundle, "cat", "/proc/self/oom_score_adj")
    assert res.stdout.decode().strip() == "321"


def test_sysctl(runtime, bundle):
    bundle.config["linux"]["sysctl"] = {"net.ipv4.ip_forward": "1",
                                        "kernel.msgmax": "12345"}
    bundle.config["linux"]["readonlyPaths"] = []
    res = run(runtime, bundle, "sh", "-c",
              "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax")
    assert res.stdout.decode().split() == ["1", "12345"]
    with open("/proc/sys/kernel/msgmax") as f:
        assert f.read().strip() != "12345"


def test_bind_mount_ro_and_rw(runtime, bundle, tmp_path):
    rw = tmp_path / "rw"
    rw.mkdir()
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "f").write_text("from host\n")
    bundle.config["mounts"] += [
        {"destination": "/data", "type": "bind", "source": str(rw), "options": ["rbind", "rw"]},
        {"destination": "/conf", "type": "bind", "source": str(ro), "options": ["bind", "ro"]},
    ]
    res = run(runtime, bundle, "sh", "-c",
              "echo written > /data/out; cat /conf/f; touch /conf/x 2>/dev/null || echo ro-ok")
    assert res.stdout.decode().split("\n")[:2] == ["from host", "ro-ok"]
    assert (rw / "out").read_text() == "written\n"
    assert not (ro / "x").exists()


def _user_namespace(bundle) -> None:
    bundle.config["linux"]["namespaces"].append({"type": "user"})
    bundle.config["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    bundle.config["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
    # the mapped root must reach the bundle and own the rootfs
    d = bundle.path
    while d != "/":
        os.chmod(d, os.stat(d).st_mode | 0o011)
        d = os.path.dirname(d)
    for dirpath, dirnames, filenames in os.walk(bundle.rootfs):
        for n in dirnames + filenames:
            os.lchown(os.path.join(dirpath, n), 100000, 100000)
    os.lchown(bundle.rootfs, 100000, 100000)
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if m["destination"] != "/sys/fs/cgroup"]


def test_user_namespace_mapping(runtime, bundle):
    _user_namespace(bundle)
    res = run(runtime, bundle, "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map; id -u")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split() == ["0", "100000", "65536", "0", "100000", "65536", "0"]


def test_join_namespace_by_path(runtime, bundle, tmp_path):
    """Namespaces given by path are joined (docker's --network container:X)."""
    bundle.args("sleep", "300")
    first = new_id("nsA")
    st = runtime.create(first, bundle.write(first))
    runtime("start", first)
    ns = bundle.config["linux"]["namespaces"]
    for n in ns:
        if n["type"] in ("network", "uts"):
            n["path"] = f"/proc/{st['pid']}/ns/{'net' if n['type'] == 'network' else 'uts'}"
    res = run(runtime, bundle, "sh", "-c", "readlink /proc/self/ns/net; hostname")
    net, host = res.stdout.decode().split()
    assert net == os.readlink(f"/proc/{st['pid']}/ns/net")
    assert host == "dockling-test"


def test_extra_device_node_and_cgroup_rule(runtime, bundle):
    bundle.config["linux"]["devices"] = [
        {"type": "c", "path": "/dev/mynull", "major": 1, "minor": 3, "fileMode": 0o620,
         "uid": 0, "gid": 5}]
    res = run(runtime, bundle, "sh", "-c",
              "ls -ln /dev/mynull; echo x > /dev/mynull && echo wrote")
    out = res.stdout.decode()
    assert out.startswith("crw--w----") and " 0 " in out and " 5 " in out, out
    assert "wrote" in out


def test_device_cgroup_denies_unlisted_device(runtime, bundle):
    # /dev/kmsg (1:11) is neither a default device nor listed: mknod works
    # (CAP_MKNOD) but the device cgroup refuses opening it.
    bundle.config["process"]["capabilities"]["bounding"].append("CAP_MKNOD")
    bundle.config["process"]["capabilities"]["effective"].append("CAP_MKNOD")
    bundle.config["process"]["capabilities"]["permitted"].append("CAP_MKNOD")
    res = run(runtime, bundle, "sh", "-c", "mknod /tmp/kmsg c 1 11 && head -c1 /tmp/kmsg")
    assert b"Operation not permitted" in res.stderr, res.stderr


def test_what_joins_a_container_is_not_dumpable_until_it_execs():
    """The first child (runtime/container.py, _stage1) turns dumpable off before it
    joins the container's cgroup and namespaces, and the process it forks keeps
    that until execve: a process already in the container cannot ptrace it or read
    its memory and fds (the shim process's, shared by other containers) through
    /proc, as runc's nsexec keeps them."""
    import socket

    from dockling.kernel import syscalls
    from dockling.runtime import container

    class _NoCgroup:
        def join(self) -> None:
            pass

    r, w = os.pipe()
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        os.close(r)
        container._stage1(theirs, _NoCgroup(), {}, lambda: os.write(
            w, str(syscalls.prctl(3)).encode()))  # PR_GET_DUMPABLE
    os.close(w)
    theirs.close()
    try:
        assert os.read(r, 10) == b"0"
        os.waitpid(pid, 0)
    finally:
        os.close(r)
        ours.close()


def test_oom_score_adj_in_a_user_namespace(runtime, bundle):
    """Written from the host before the namespaces (runc's way): from inside a new
    user namespace, the process's own /proc files are host root's."""
    _user_namespace(bundle)
    bundle.config["process"]["oomScoreAdj"] = 100
    res = run(runtime, bundle, "cat", "/proc/self/oom_score_adj")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().strip() == "100"
