"""`dockling daemon --runtime runc`: the same engine over runc's command line."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import ROOT
from tests.engine.conftest import name, running_daemon

pytestmark = pytest.mark.skipif(shutil.which("runc") is None or not ROOT,
                                reason="needs runc and root")


@pytest.fixture(scope="module")
def runc_daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar, runtime="runc") as d:
        yield d


def test_run_exit_stdin_exec(runc_daemon):
    d = runc_daemon
    res = d.cli("run", "--rm", "busybox", "sh", "-c", "echo under runc; exit 3")
    assert res.returncode == 3 and res.stdout == b"under runc\n"
    assert d.cli("run", "-i", "--rm", "busybox", "cat", input=b"hi\n").stdout == b"hi\n"
    res = d.cli("run", "--rm", "busybox", "nosuch")
    assert res.returncode == 127 and b"executable file not found" in res.stderr
    n = name()
    d.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    res = d.cli("exec", n, "sh", "-c", "echo in-exec; exit 2")
    assert res.returncode == 2 and res.stdout == b"in-exec\n"
    assert b"sleep 300" in d.cli("top", n).stdout
    d.cli("stop", "-t", "1", n, check=True)
    d.cli("rm", n, check=True)
    assert d.api("GET", "/info")[2]["DefaultRuntime"] == "runc"
