"""create/start/state/kill/delete transitions as the runtime-spec describes,
under dockling-runc and runc alike."""

from __future__ import annotations

import os
import signal

from tests.conftest import new_id, reap, wait_for
from dockling.testing.leaks import existing_cgroups


def _cmdline(pid: int) -> bytes:
    with open(f"/proc/{pid}/cmdline", "rb") as f:
        return f.read()


def test_create_start_kill_delete(runtime, bundle, tmp_path):
    bundle.args("sh", "-c", "echo started > /tmp/marker; exec sleep 300")
    cid = new_id("life")
    st = runtime.create(cid, bundle.write(cid))
    assert st["status"] == "created"
    assert st["id"] == cid
    assert st["bundle"] == bundle.path
    pid = st["pid"]
    assert pid > 0 and os.path.exists(f"/proc/{pid}")
    # created: the init waits; the user program has not run yet.
    assert not os.path.exists(os.path.join(bundle.rootfs, "tmp/marker"))
    assert b"sleep" not in _cmdline(pid)

    runtime("start", cid)
    assert wait_for(lambda: os.path.exists(os.path.join(bundle.rootfs, "tmp/marker")))
    assert wait_for(lambda: b"sleep" in _cmdline(pid))
    assert runtime.state(cid)["status"] == "running"
    assert runtime.state(cid)["pid"] == pid

    # start twice is refused
    again = runtime("start", cid, check=False)
    assert again.returncode != 0

    # delete without --force refuses a running container
    res = runtime("delete", cid, check=False)
    assert res.returncode != 0
    assert runtime.state(cid)["status"] == "running"

    runtime("kill", cid, "KILL")
    status = reap(pid)
    assert status is not None and os.WIFSIGNALED(status)
    assert os.WTERMSIG(status) == signal.SIGKILL
    assert runtime.state(cid)["status"] == "stopped"

    runtime("delete", cid)
    res = runtime("state", cid, check=False)
    assert res.returncode != 0
    assert not os.path.exists(os.path.join(runtime.root, cid))
    assert existing_cgroups(f"{bundle.cgroup_parent}/{cid}") == []  # any hierarchy, v1 or v2


def test_kill_default_signal_is_term(runtime, bundle):
    bundle.args("sh", "-c", "trap 'exit 42' TERM; touch /tmp/trapped; while :; do sleep 0.1; done")
    cid = new_id("term")
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    assert wait_for(lambda: os.path.exists(os.path.join(bundle.rootfs, "tmp/trapped")))
    runtime("kill", cid)
    status = reap(st["pid"])
    assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 42


def test_delete_created_container(runtime, bundle):
    bundle.args("true")
    cid = new_id("crdel")
    st = runtime.create(cid, bundle.write(cid))
    runtime("delete", cid)
    reap(st["pid"])
    assert runtime("state", cid, check=False).returncode != 0
    assert not os.path.exists(f"/proc/{st['pid']}") or reap(st["pid"]) is None


def test_delete_force_running(runtime, bundle):
    bundle.args("sleep", "300")
    cid = new_id("force")
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    runtime("delete", "--force", cid)
    reap(st["pid"])
    assert runtime("state", cid, check=False).returncode != 0
    assert existing_cgroups(f"{bundle.cgroup_parent}/{cid}") == []  # any hierarchy, v1 or v2


def test_pause_resume(runtime, bundle):
    bundle.args("sleep", "300")
    cid = new_id("pause")
    runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    runtime("pause", cid)
    assert runtime.state(cid)["status"] == "paused"
    with open(f"/sys/fs/cgroup/freezer{bundle.cgroup_parent}/{cid}/freezer.state") as f:
        assert f.read().strip() == "FROZEN"
    runtime("resume", cid)
    assert runtime.state(cid)["status"] == "running"
    assert runtime("resume", cid, check=False).returncode != 0


def test_run_foreground_exit_code(runtime, bundle):
    bundle.args("sh", "-c", "echo out; echo err >&2; exit 3")
    cid = new_id("run")
    res = runtime("run", "--bundle", bundle.write(cid), cid, check=False)
    assert res.returncode == 3
    assert res.stdout == b"out\n"
    assert res.stderr.endswith(b"err\n")
    assert runtime("state", cid, check=False).returncode != 0


def test_list_and_ps(runtime, bundle):
    bundle.args("sh", "-c", "sleep 300 & exec sleep 301")
    cid = new_id("list")
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    out = runtime("list").stdout.decode()
    assert out.splitlines()[0].split()[:4] == ["ID", "PID", "STATUS", "BUNDLE"]
    assert cid in out and "running" in out
    assert runtime("list", "-q").stdout.decode().split() == [cid]
    import json

    def two_pids():
        p = json.loads(runtime("ps", "--format", "json", cid).stdout)
        return p if len(p) == 2 else None

    pids = wait_for(two_pids)
    assert st["pid"] in pids and len(pids) == 2
    table = runtime("ps", cid).stdout.decode()
    assert "sleep 300" in table and "sleep 301" in table


def test_pid_file(runtime, bundle, tmp_path):
    bundle.args("sleep", "300")
    cid = new_id("pidf")
    pf = tmp_path / "init.pid"
    st = runtime.create(cid, bundle.write(cid), "--pid-file", str(pf))
    assert int(pf.read_text()) == st["pid"]


def test_kill_all(runtime, bundle):
    bundle.args("sh", "-c", "sleep 300 & sleep 301 & wait")
    cid = new_id("kall")
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    import json

    assert wait_for(lambda: len(json.loads(runtime("ps", "--format", "json", cid).stdout)) == 3)
    runtime("kill", "--all", cid, "KILL")
    reap(st["pid"])
    assert runtime.state(cid)["status"] == "stopped"
