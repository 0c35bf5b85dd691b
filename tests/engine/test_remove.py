"""rm: the record goes first, the rest in the background (docker's "removal in
progress", never shown): a name is free at once, ps -a and inspect never show a
half-removed container, many `rm -f` at once all end, and a daemon killed in a
removal leaves nothing behind once it starts again."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from urllib.parse import quote

import pytest

from dockling.testing.leaks import existing_cgroups
from tests.conftest import wait_for
from tests.engine.conftest import name, running_daemon


@pytest.fixture
def own_daemon(tmp_path_factory, busybox_tar):
    """A daemon of this test's own: the tests kill it."""
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def _mounts_under(path: str) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(path + "/")]


def _gone(pid: int) -> bool:
    """Ended (a zombie of ours, the subreaper, counts: it runs no more)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def _leftovers(d, cid: str) -> list[str]:
    """What of a removed container is still on the host: its directories (or
    their renamed-aside copies), runtime state, mounts below them."""
    out = []
    for top in (os.path.join(d.root, "containers"), os.path.join(d.exec_root, "containers"),
                os.path.join(d.exec_root, "runtime")):
        try:
            names = os.listdir(top)
        except FileNotFoundError:
            continue
        out += [os.path.join(top, n) for n in names if cid in n]
        out += _mounts_under(os.path.join(top, cid))
    return out


def test_name_is_free_as_soon_as_rm_answers(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "600", check=True)
    daemon.cli("rm", "-f", n, check=True)
    second = daemon.cli("create", "--name", n, "busybox", "true", check=True)
    daemon.cli("rm", n, check=True)  # a stopped one: the same
    third = daemon.cli("run", "--name", n, "busybox", "true", check=True)
    assert second.returncode == third.returncode == 0
    daemon.cli("rm", n, check=True)


def test_rm_leaves_nothing_behind(daemon):
    n = name()
    cid = daemon.cli("run", "-d", "--name", n, "busybox", "sh", "-c",
                     "mkdir /many && cd /many && for i in $(seq 300); do : > f$i; done; "
                     "sleep 600", check=True).stdout.decode().strip()
    assert wait_for(lambda: b"f300" in daemon.cli("exec", n, "ls", "/many").stdout)
    assert _mounts_under(os.path.join(daemon.root, "containers", cid)), "no rootfs mounted"
    daemon.cli("rm", "-f", n, check=True)
    status, _, _ = daemon.api("GET", f"/containers/{cid}/json")
    assert status == 404
    assert wait_for(lambda: not _leftovers(daemon, cid)), _leftovers(daemon, cid)


LIST = "/containers/json?all=1&filters=" + quote(json.dumps({"label": ["rmtest=1"]}))


def test_ps_never_shows_a_half_removed_container(daemon):
    """ps -a and inspect polled while many containers are removed at once
    (one rm -f with every ID: the CLI sends them together): each container
    listed is whole (inspect answers for it, in a state docker has), and once
    rm has answered none is ever listed again."""
    ids = [daemon.cli("run", "-d", "--label", "rmtest=1", "busybox", "sleep", "600",
                      check=True).stdout.decode().strip() for _ in range(8)]
    seen_states: set[str] = set()
    problems: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            status, _, listed = daemon.api("GET", LIST)
            if status != 200:
                problems.append(f"ps -a answered {status}")
                return
            for row in listed:
                seen_states.add(row["State"])
                st, _, doc = daemon.api("GET", f"/containers/{row['Id']}/json")
                if st == 200:
                    seen_states.add(doc["State"]["Status"])
                    if doc["State"]["Status"] in ("removing", "dead"):
                        problems.append(f"{row['Id'][:12]} inspected as {doc['State']}")

    poller = threading.Thread(target=poll)
    poller.start()
    try:
        res = daemon.cli("rm", "-f", *ids)
    finally:
        stop.set()
        poller.join()
    assert res.returncode == 0, res.stderr.decode()
    assert res.stdout.decode().split() == ids  # docker/cli: each name, in the given order
    assert not problems, problems
    assert seen_states <= {"running", "exited"}, seen_states
    status, _, listed = daemon.api("GET", LIST)
    assert status == 200 and listed == []
    for cid in ids:
        assert daemon.api("GET", f"/containers/{cid}/json")[0] == 404
        assert wait_for(lambda cid=cid: not _leftovers(daemon, cid)), _leftovers(daemon, cid)


def test_rm_of_many_reports_each_in_order(daemon):
    """Requests go out together; the output and the errors keep the given order."""
    a = daemon.cli("create", "busybox", "true", check=True).stdout.decode().strip()
    b = daemon.cli("create", "busybox", "true", check=True).stdout.decode().strip()
    missing = "no-such-" + name()
    res = daemon.cli("rm", a, missing, b)
    assert res.returncode == 1
    assert res.stdout.decode().split() == [a, b]
    assert f"No such container: {missing}" in res.stderr.decode()
    # docker/cli: rm -f passes over what is not there, silently, and succeeds
    c = daemon.cli("create", "busybox", "true", check=True).stdout.decode().strip()
    res = daemon.cli("rm", "-f", missing, c)
    assert (res.returncode, res.stdout.decode().split(), res.stderr) == (0, [c], b"")


def _delete_record(d, cid: str) -> None:
    """The state a daemon killed inside a removal leaves: the record deleted
    (the point where the container is gone for clients), nothing else done."""
    with sqlite3.connect(os.path.join(d.root, "dockling.db")) as db:
        db.execute("DELETE FROM containers WHERE id = ?", (cid,))


def test_kill9_after_the_record_is_gone_leaves_nothing(own_daemon):
    """The worst a removal cut short can leave: the record gone, the container's
    processes, shim, mounted rootfs, cgroup, runtime state and directories
    all still there. The next start ends and removes every one of them."""
    d = own_daemon
    n = name()
    cid = d.cli("run", "-d", "--name", n, "--network", "none", "busybox", "sleep", "600",
                check=True).stdout.decode().strip()
    info = json.loads(d.cli("inspect", n, check=True).stdout)[0]
    pid = info["State"]["Pid"]
    shim_pid = int(open(os.path.join(d.exec_root, "containers", cid, "shim.pid")).read())
    cgroup = f"{d.cgroup_parent}/{cid}"
    assert os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    d.kill9()
    _delete_record(d, cid)
    d.start()
    assert cid not in d.cli("ps", "-aq", "--no-trunc", check=True).stdout.decode()
    assert wait_for(lambda: not _leftovers(d, cid)), _leftovers(d, cid)
    assert wait_for(lambda: _gone(pid)), "the container still runs"
    assert wait_for(lambda: _gone(shim_pid)), "its shim still runs"
    assert wait_for(lambda: existing_cgroups(cgroup) == []), existing_cgroups(cgroup)
    # and the name is free
    d.cli("run", "--rm", "--name", n, "busybox", "true", check=True)


def test_kill9_right_after_rm_leaves_nothing(own_daemon):
    """A real kill: a container with many files in its writable layer, the daemon
    killed as soon as rm answers (its tree may still be being deleted). After
    the next start neither the tree nor a renamed-aside copy is left."""
    d = own_daemon
    d.cli("run", "busybox", "sh", "-c",
          "mkdir /many && cd /many && for i in $(seq 3000); do : > f$i; done",
          check=True, timeout=120)
    cid = d.cli("ps", "-lq", "--no-trunc", "-a", check=True).stdout.decode().strip()
    d.cli("rm", cid, check=True)
    d.kill9()
    d.start()
    assert cid not in d.cli("ps", "-aq", "--no-trunc", check=True).stdout.decode()
    assert wait_for(lambda: not _leftovers(d, cid), timeout=30), _leftovers(d, cid)
