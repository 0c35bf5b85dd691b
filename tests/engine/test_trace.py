"""run --trace: the kernel calls that made the container, from the daemon's
process (overlay, netns, veth) and the runtime's (cgroups, namespaces, mounts,
pivot_root, capabilities, seccomp, execve), read back through the kernel seam."""

from __future__ import annotations

import json

from dockling.runtime.cgroups import is_unified
from tests.engine.conftest import name


def _run_traced(daemon, mode: str) -> tuple[str, str]:
    n = name()
    res = daemon.cli("run", mode, "--name", n, "--cpus", "0.5", "--network", "bridge",
                     "busybox", "true", check=True)
    return n, res.stderr.decode()


def test_trace_tree_shows_each_step(daemon):
    n, out = _run_traced(daemon, "--trace")
    try:
        cid = daemon.cli("inspect", "-f", "{{.Id}}", n, check=True).stdout.decode().strip()
        lines = out.splitlines()
        # the overlay the daemon mounts, with its layers
        assert any(" mount overlay overlay -> " in ln and f"{cid}/merged" in ln
                   and "lowerdir=" in ln and "upperdir=" in ln and "workdir=" in ln
                   for ln in lines), out
        # --cpus 0.5 is a quota of half the 100 ms period
        want = "cpu.max = 50000 100000" if is_unified() else "cpu.cfs_quota_us = 50000"
        assert any(f"/{cid}/" in ln and want in ln for ln in lines), out
        assert any("pivot_root . ." in ln for ln in lines), out
        assert any("netlink link add" in ln and "kind=veth" in ln for ln in lines), out
        assert any("unshare " in ln and "CLONE_NEWNS" in ln and "CLONE_NEWPID" in ln
                   for ln in lines), out
        assert any("mount proc proc -> " in ln for ln in lines), out
        assert any("capset: keep effective" in ln for ln in lines), out
        assert any("seccomp filter: " in ln for ln in lines), out
        assert 'execve /bin/true ["true"]' in out
        # daemon first, then the runtime's processes, each under its role
        roles = [ln.split(" (pid")[0] for ln in lines if " (pid " in ln]
        assert roles[0] == "daemon" and {"runtime", "stage1", "init"} <= set(roles), roles
    finally:
        daemon.cli("rm", "-f", n)


def test_trace_json_parses_and_the_daemon_keeps_it(daemon):
    n, out = _run_traced(daemon, "--trace=json")
    try:
        records = json.loads(out)
        calls = [r["call"] for r in records]
        assert {"mount", "pivot_root", "write", "netlink", "execve"} <= set(calls)
        assert all(r["ms"] >= 0 and r["pid"] > 0 for r in records)
        assert [r["ts"] for r in records] == sorted(r["ts"] for r in records)
        # GET /containers/{id}/trace (dockling's own route) answers the same records
        status, _, body = daemon.api("GET", f"/containers/{n}/trace")
        assert status == 200 and body == records
    finally:
        daemon.cli("rm", "-f", n)


def test_no_trace_unless_asked(daemon):
    n = name()
    daemon.cli("run", "--name", n, "busybox", "true", check=True)
    try:
        status, _, body = daemon.api("GET", f"/containers/{n}/trace")
        assert status == 200 and body == []
    finally:
        daemon.cli("rm", "-f", n)


def test_trace_of_an_auto_removed_container(daemon):
    """run --rm --trace: `true` is gone (and removed) within a few ms of its start,
    often before the CLI asks for the trace; the daemon keeps it for that question."""
    import time

    st, _, body = daemon.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"], "HostConfig": {"AutoRemove": True}})
    assert st == 201, body
    cid = body["Id"]
    st, _, _ = daemon.api("POST", f"/containers/{cid}/start?trace=1")
    assert st == 204
    deadline = time.monotonic() + 30
    while daemon.api("GET", f"/containers/{cid}/json")[0] != 404:
        assert time.monotonic() < deadline, "the --rm container was not removed"
        time.sleep(0.05)
    st, _, records = daemon.api("GET", f"/containers/{cid}/trace")
    assert st == 200, records
    calls = [r["call"] for r in records]
    assert "pivot_root" in calls and calls[-1] == "execve", calls
    st, _, _ = daemon.api("GET", "/containers/nosuchcontainer/trace")
    assert st == 404
    res = daemon.cli("run", "--rm", "--trace", "busybox", "true", check=True)
    assert 'execve /bin/true ["true"]' in res.stderr.decode()
