"""Process flags: --init, --stop-signal, --stop-timeout, --log-opt rotation,
--log-driver none, --userns."""

from __future__ import annotations

import json
import os
import time

from tests.engine.conftest import name


def test_init_reaps_and_forwards_signals(daemon):
    out = daemon.cli("run", "--rm", "--init", "busybox", "sh", "-c",
                     "(sleep 0.1 &); sleep 0.5; ps -o pid,stat,comm", check=True)
    lines = out.stdout.decode().splitlines()
    assert lines[1].split() == ["1", "S", "docker-init"]
    assert not any(" Z " in line for line in lines), lines  # the orphan was reaped
    n = name()
    daemon.cli("run", "-d", "--init", "--name", n, "busybox", "sleep", "300", check=True)
    t0 = time.monotonic()
    daemon.cli("stop", "-t", "10", n, check=True)
    assert time.monotonic() - t0 < 5  # SIGTERM reached sleep through the init
    code = daemon.cli("inspect", "-f", "{{.State.ExitCode}}", n).stdout.strip()
    assert code == b"143"
    daemon.cli("rm", n, check=True)


def test_stop_signal_and_timeout(daemon):
    n = name()
    # PID 1 only gets the signals it handles: this one handles USR1, not TERM
    daemon.cli("run", "-d", "--name", n, "--stop-signal", "USR1", "busybox", "sh", "-c",
               "trap 'exit 42' USR1; while :; do sleep 0.1; done", check=True)
    t0 = time.monotonic()
    daemon.cli("stop", n, check=True)
    assert time.monotonic() - t0 < 5
    info = json.loads(daemon.cli("inspect", n).stdout)[0]
    assert info["Config"]["StopSignal"] == "USR1"
    assert info["State"]["ExitCode"] == 42
    n2 = name()
    daemon.cli("run", "-d", "--name", n2, "--stop-timeout", "1", "busybox", "sleep", "300",
               check=True)
    t0 = time.monotonic()
    daemon.cli("stop", n2, check=True)
    took = time.monotonic() - t0
    assert 0.8 < took < 5  # 1 s for TERM (ignored by PID 1), then KILL
    assert daemon.cli("inspect", "-f", "{{.State.ExitCode}}", n2).stdout.strip() == b"137"
    daemon.cli("rm", n, n2, check=True)


def test_log_rotation(daemon):
    n = name()
    daemon.cli("run", "--name", n, "--log-opt", "max-size=1k", "--log-opt", "max-file=3",
               "busybox", "sh", "-c",
               "i=0; while [ $i -lt 300 ]; do echo line $i; i=$((i+1)); done", check=True)
    path = json.loads(daemon.cli("inspect", n).stdout)[0]["LogPath"]
    files = sorted(f for f in os.listdir(os.path.dirname(path)) if "-json.log" in f)
    assert [f[64:] for f in files] == ["-json.log", "-json.log.1", "-json.log.2"]
    assert all(os.path.getsize(os.path.join(os.path.dirname(path), f)) <= 1024 for f in files)
    out = daemon.cli("logs", n, check=True).stdout.decode().splitlines()
    # the oldest lines are gone, the rest is in order and ends with the last line
    assert out[-1] == "line 299" and len(out) < 300
    assert [int(x.split()[1]) for x in out] == list(range(300 - len(out), 300))
    daemon.cli("rm", n, check=True)
    for flags, msg in ((["--log-opt", "bogus=1"], b"unknown log opt 'bogus'"),
                       (["--log-opt", "max-file=0"], b"max-file cannot be less than 1"),
                       (["--log-driver", "syslogx"], b"no log driver named 'syslogx'")):
        res = daemon.cli("run", "--rm", *flags, "busybox", "true")
        assert res.returncode == 125 and msg in res.stderr, res.stderr
    # max-file without max-size: docker's json-file takes it and never rotates
    out = daemon.cli("run", "--rm", "--log-opt", "max-file=2", "busybox", "echo", "kept",
                     check=True)
    assert out.stdout == b"kept\n"


def test_log_driver_none(daemon):
    n = name()
    out = daemon.cli("run", "--name", n, "--log-driver", "none", "busybox", "echo", "hi",
                     check=True)
    assert out.stdout == b"hi\n"  # attached output still flows
    res = daemon.cli("logs", n)
    assert res.returncode == 1
    assert b"configured logging driver does not support reading" in res.stderr
    daemon.cli("rm", n, check=True)


def test_userns(daemon):
    daemon.cli("run", "--rm", "--userns", "host", "busybox", "true", check=True)
    res = daemon.cli("run", "--rm", "--userns", "bogus", "busybox", "true")
    assert res.returncode == 125 and b"invalid USER mode: bogus" in res.stderr
