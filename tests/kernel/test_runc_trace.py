"""dockling-runc --trace prints the kernel calls of its own command (and of the
container's processes it forks), after the command's own output."""

from __future__ import annotations

import json
import subprocess

from tests.conftest import RUNC_BIN, new_id


def test_runc_run_trace_json(bundle, tmp_path):
    bundle.args("true")
    cid = new_id("trace")
    root = str(tmp_path / "state")
    res = subprocess.run([RUNC_BIN, "--root", root, "--trace=json", "run", "--bundle",
                          bundle.write(cid), cid], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    records = json.loads(res.stderr)
    roles = {r["role"] for r in records}
    assert {"runtime", "stage1", "init"} <= roles
    calls = [r["call"] for r in records]
    assert calls.index("unshare") < calls.index("pivot_root") < calls.index("execve")
    # stage 1 joins its cgroups: v1's tasks file with "0" (no threadgroup lock), v2's
    # cgroup.procs
    assert any(r["call"] == "write" and r["role"] == "stage1" and (
        r["args"]["path"].endswith("/tasks") or r["args"]["path"].endswith("/cgroup.procs"))
        for r in records)


def test_runc_trace_tree(bundle, tmp_path):
    bundle.args("true")
    cid = new_id("trace")
    res = subprocess.run([RUNC_BIN, "--root", str(tmp_path / "state"), "--trace", "run",
                          "--bundle", bundle.write(cid), cid], capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr
    out = res.stderr.decode()
    assert out.startswith("kernel trace: ") and "\ninit (pid 1)\n" in out
    assert 'execve /bin/true ["true"]' in out
