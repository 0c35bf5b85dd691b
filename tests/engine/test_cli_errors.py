"""The CLI never prints a Python traceback: every error path ends in docker's
one-line message and exit code (a fuzz of the commands with bad arguments)."""

from __future__ import annotations

import os
import shlex

import pytest

from tests.engine.conftest import name

# (arguments, exit code, text the message holds)
CASES = [
    ("pull ../../x", 1, "invalid reference format"),
    ('pull ""', 1, "invalid reference format"),
    ("pull UPPER", 1, "must be lowercase"),
    ("pull a@sha256:bad", 1, "invalid reference format"),
    ("pull busybox:", 1, "invalid reference format"),
    ("push ../../x", 1, "invalid reference format"),
    ("commit {c} ../../x", 1, "invalid reference format"),
    ("run ../../x", 125, "invalid reference format"),
    ("tag busybox ../../x", 1, "invalid reference format"),
    ("logs --since bad {c}", 1, "bad"),
    ("logs --until bad {c}", 1, "bad"),
    ("logs --tail x {r}", 0, ""),
    ("events --since bad", 1, "bad"),
    ("container prune -f --filter until=bad", 1, "bad"),
    ("save -o /nonexistent/x busybox", 1, "/nonexistent"),
    ("export -o /nonexistent/dir/x {c}", 1, "/nonexistent"),
    ("load -i /nonexistent", 1, "/nonexistent"),
    ("cp /nonexistent {c}:/", 1, "/nonexistent"),
    ("login --password-stdin -u x 127.0.0.1:1", 1, "non TTY device"),
    ("login -u x 127.0.0.1:1", 1, "non TTY device"),
    ("-H tcp://127.0.0.1:1 ps", 1, "only unix://"),
]


@pytest.fixture(scope="module")
def targets(daemon):
    c, r = name(), name()
    daemon.cli("create", "--name", c, "busybox", "true", check=True)
    daemon.cli("run", "-d", "--name", r, "busybox", "sh", "-c", "echo hi; sleep 300",
               check=True)
    yield {"c": c, "r": r}
    daemon.cli("rm", "-f", c, r)


@pytest.mark.parametrize(("args", "code", "text"), CASES, ids=[c[0] for c in CASES])
def test_an_error_is_one_line_not_a_traceback(daemon, targets, args, code, text):
    res = daemon.cli(*shlex.split(args.format(**targets)))
    err = res.stderr.decode()
    assert "Traceback" not in err, err
    assert res.returncode == code, err
    if text:
        assert text in err
        assert len(err.strip().splitlines()) == 1, err


def test_an_unreachable_daemon_is_said_so(daemon, tmp_path):
    res = daemon.cli("-H", f"unix://{tmp_path}/none.sock", "ps")
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err
    assert err.startswith("Cannot connect to the dockling daemon at unix://"), err


def test_a_socket_without_permission_is_said_so(daemon, tmp_path):
    """A user outside the socket's group: docker's 'permission denied' line."""
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to another user")
    import subprocess
    import sys

    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}", "DOCKLING_NO_AUTOSTART": "1"}
    res = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
         sys.executable, "-m", "dockling.cli.main", "ps"],
        capture_output=True, env=env, cwd="/", check=False, timeout=60)
    err = res.stderr.decode()
    assert res.returncode == 1 and "Traceback" not in err, err
    assert "permission denied" in err, err
