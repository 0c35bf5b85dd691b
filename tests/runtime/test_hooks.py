"""OCI hooks run at their lifecycle points, with the state on stdin."""

from __future__ import annotations

import json
import os

from tests.conftest import new_id, reap, wait_for
from dockling.testing.leaks import existing_cgroups


def _hook(tmp_path, name: str) -> dict:
    script = tmp_path / f"hook-{name}.sh"
    log = tmp_path / "hooks.log"
    script.write_text(f"#!/bin/sh\nread -r state\necho \"{name} $state\" >> {log}\n")
    script.chmod(0o755)
    return {"path": str(script), "args": [str(script)]}


def test_hooks_order_and_state(runtime, bundle, tmp_path):
    names = ["prestart", "createRuntime", "createContainer", "startContainer", "poststart",
             "poststop"]
    bundle.config["hooks"] = {n: [_hook(tmp_path, n)] for n in names}
    # startContainer runs inside the container: its script must exist there too
    inside = os.path.join(bundle.rootfs, str(tmp_path).lstrip("/"))
    os.makedirs(inside, exist_ok=True)
    bundle.config["hooks"]["startContainer"] = [{"path": "/bin/sh", "args": [
        "sh", "-c", "read -r s; echo startContainer >> /tmp/start.log"]}]
    bundle.args("sleep", "300")
    cid = new_id("hooks")
    st = runtime.create(cid, bundle.write(cid))
    log = tmp_path / "hooks.log"
    lines = log.read_text().splitlines()
    assert [x.split()[0] for x in lines][:3] == ["prestart", "createRuntime", "createContainer"]
    if runtime.name == "dockling-runc":
        # runtime-spec: poststart runs after start. runc 1.1 runs it at create.
        assert len(lines) == 3
    state = json.loads(lines[0].split(" ", 1)[1])
    assert state["id"] == cid and state["pid"] == st["pid"]
    assert state["bundle"] == bundle.path
    runtime("start", cid)
    assert wait_for(lambda: "poststart" in log.read_text())
    assert wait_for(lambda: os.path.exists(os.path.join(bundle.rootfs, "tmp/start.log")))
    runtime("kill", cid, "KILL")
    reap(st["pid"])
    runtime("delete", cid)
    assert log.read_text().splitlines()[-1].startswith("poststop")


def test_failing_prestart_hook_aborts_create(runtime, bundle, tmp_path):
    bundle.config["hooks"] = {"prestart": [{"path": "/bin/false", "args": ["false"]}]}
    bundle.args("true")
    cid = new_id("hookfail")
    res = runtime("create", "--bundle", bundle.write(cid), cid, check=False)
    assert res.returncode != 0
    assert runtime("state", cid, check=False).returncode != 0
    assert existing_cgroups(f"{bundle.cgroup_parent}/{cid}") == []  # any hierarchy, v1 or v2


def test_poststart_state_is_running_even_if_the_program_already_exited(
        dockling, bundle, tmp_path, monkeypatch):
    # runtime-tools' hooks_stdin: `true` may be gone by the time start runs
    # the poststart hooks; they still get the state start made: running, the pid.
    from dockling.runtime import Runtime, state

    out = tmp_path / "poststart.json"
    bundle.config["hooks"] = {"poststart": [{"path": "/bin/sh",
                                             "args": ["sh", "-c", f"cat > {out}"]}]}
    bundle.args("true")
    cid = new_id("hooks")
    pid = dockling.create(cid, bundle.write(cid))["pid"]
    rt = Runtime(dockling.root)
    real = state.process_start_time
    fifo = rt.store.fifo(cid)
    # The program has exited as soon as start has taken the fifo away.
    monkeypatch.setattr(state, "process_start_time",
                        lambda p: real(p) if os.path.exists(fifo) else None)
    rt.start(cid)
    got = json.loads(out.read_text())
    assert (got["status"], got["pid"]) == ("running", pid)
    reap(pid)
