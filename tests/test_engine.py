"""dockling.Engine: the engine in-process. The README's example as written; the
handles against the real kernel; containers that outlive the Engine, seen by a
daemon started later on the same root; one engine per exec root."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import uuid

import pytest

from dockling.errors import CommandFailed, Conflict, NotFound
from dockling.testing import net as testnet
from tests.conftest import ROOT
from tests.engine.conftest import Daemon, _kill_matching, running_daemon

pytestmark = pytest.mark.skipif(not ROOT, reason="needs root")

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def readme_example() -> str:
    """The python block of the README's Engine section."""
    with open(os.path.join(REPO, "README.md")) as f:
        text = f.read()
    section = text.split("## The engine as a library", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```python\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_import_dockling_does_not_load_the_engine():
    code = "import sys, dockling; print('dockling.engine' in sys.modules); dockling.Engine"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert out.strip() == "False"


def test_readme_example_runs():
    code = readme_example()
    cfg = ast.literal_eval(re.search(r"^config = (\{.*\})$", code, re.M).group(1))
    base = re.search(r'root="(/tmp/[^"/]+)/root"', code).group(1)
    assert not os.path.exists(base), f"{base} is left from an earlier run"
    try:
        res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             cwd=REPO, timeout=120, check=False)
        assert res.returncode == 0, res.stderr[-3000:]
        assert res.stdout == "hi\n"
    finally:  # what a failed run may leave: processes, mounts, the bridge and chains
        _kill_matching(base)
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if base in line]
        for mp in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mp], capture_output=True, check=False)
        testnet.cleanup(os.path.join(base, "root"), {"bridge": cfg["bridge"], **cfg})
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def engine_dir(tmp_path):
    """A daemon's layout (root, run dir, network settings), not started: the
    Engine uses it, and its clean-up removes what either left."""
    d = Daemon(str(tmp_path))
    open(os.path.join(d.base, "daemon.log"), "w").close()  # its clean-up keeps the log
    try:
        yield d
    finally:
        d.cleanup()


def _engine(d: Daemon):
    from dockling import Engine

    return Engine(root=d.root, exec_root=d.exec_root, config=d.net,
                  cgroup_parent=d.cgroup_parent)


def test_handles(engine_dir, busybox_tar):
    with _engine(engine_dir) as e:
        e.images.import_(busybox_tar, "busybox:latest", changes=['CMD ["sh"]'])
        assert e.images.exists("busybox")
        c = e.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2; exit 3"],
                             name=f"eng-{uuid.uuid4().hex[:8]}")
        assert (c.status, c.wait()) == ("exited", 3)
        assert c.logs() == b"out\nerr\n"
        assert c.logs(stderr=False) == b"out\n"
        assert e.containers.get(c.name).id == c.id
        assert c.id in [x.id for x in e.containers.list(all=True)]
        c.remove()
        with pytest.raises(NotFound):
            e.containers.get(c.id)

        vol = e.volumes.create(f"engvol{uuid.uuid4().hex[:8]}")
        net = e.networks.create(f"engnet{uuid.uuid4().hex[:8]}")
        t = e.containers.run("busybox", ["sh", "-c", "echo kept > /v/f; ip -4 -o addr show eth0"],
                             host_config={"Binds": [f"{vol['Name']}:/v"],
                                          "NetworkMode": net["Name"]})
        subnet = net["IPAM"]["Config"][0]["Subnet"].rsplit(".", 2)[0]
        assert f"inet {subnet}." in t.logs().decode()
        with pytest.raises(Conflict):
            e.volumes.remove(vol["Name"])  # in use by t
        t.remove()
        with open(os.path.join(e.volumes.get(vol["Name"])["Mountpoint"], "f")) as f:
            assert f.read() == "kept\n"
        e.volumes.remove(vol["Name"])
        e.networks.remove(net["Name"])
        assert net["Name"] not in [n["Name"] for n in e.networks.list()]

        ctx = os.path.join(engine_dir.base, "ctx")
        os.makedirs(ctx)
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nCOPY a /a\nRUN cat /a > /b\n")
        with open(os.path.join(ctx, "a"), "w") as f:
            f.write("built\n")
        lines: list[str] = []
        image_id = e.images.build(ctx, "engbuilt:1", log=lines.append)
        assert e.images.get("engbuilt:1")["Id"] == image_id
        assert any("Step 3/3" in ln for ln in lines)
        b = e.containers.run("engbuilt:1", ["cat", "/b"])
        assert b.logs() == b"built\n"
        b.remove()
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM busybox\nRUN exit 7\n")
        with pytest.raises(CommandFailed):
            e.images.build(ctx)
        deleted = e.images.remove("engbuilt:1")
        assert {"Untagged": "engbuilt:1"} in deleted


def test_containers_outlive_the_engine_and_a_daemon_sees_them(engine_dir, busybox_tar):
    name = f"eng-{uuid.uuid4().hex[:8]}"
    with _engine(engine_dir) as e:
        e.images.import_(busybox_tar, "busybox:latest")
        c = e.containers.run("busybox", ["sleep", "300"], name=name, detach=True)
        cid = c.id
    engine_dir.start()  # a daemon on the root and exec root the Engine used
    ps = engine_dir.cli("ps", "--no-trunc", "--format", "{{.ID}} {{.Names}} {{.State}}",
                        check=True)
    assert ps.stdout.decode().split() == [cid, name, "running"]
    engine_dir.cli("stop", "-t", "0", name, check=True)  # the daemon watches it: it ends
    st = engine_dir.cli("inspect", "-f", "{{.State.Status}}", name, check=True)
    assert st.stdout.decode().strip() == "exited"


def test_one_engine_per_exec_root(tmp_path_factory, busybox_tar):
    from dockling import Engine

    with running_daemon(tmp_path_factory, busybox_tar) as d:
        with pytest.raises(Conflict):
            Engine(root=d.root, exec_root=d.exec_root, config=d.net,
                   cgroup_parent=d.cgroup_parent)
        assert d.cli("ps").returncode == 0  # the daemon is untouched
