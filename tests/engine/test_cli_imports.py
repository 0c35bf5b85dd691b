"""What the CLI loads: a client of the API, not the engine. `run`, `exec` and the
other hot commands must not import the runtime, the shim, the daemon, the API
server or the container manager (each costs tens of ms of start, and the CLI is
meant to need none of them: STYLE.md)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.engine.conftest import BIN, name

ENGINE = ("dockling.runtime", "dockling.shim", "dockling.daemon", "dockling.api",
          "dockling.containers.manager", "dockling.images.store", "dockling.network.manager",
          "dockling.builder.executor", "dockling.store")


def loaded(daemon, *args: str) -> set[str]:
    """The dockling modules a CLI command imports (python -X importtime)."""
    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
           "DOCKLING_NO_AUTOSTART": "1"}
    res = subprocess.run([sys.executable, "-X", "importtime", os.path.join(BIN, "dockling"),
                          *args], capture_output=True, text=True, env=env, timeout=60,
                         stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return {line.rsplit("|", 1)[-1].strip() for line in res.stderr.splitlines()
            if line.startswith("import time:")} - {""}


@pytest.fixture(scope="module")
def target(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    yield n
    daemon.cli("rm", "-f", n)


@pytest.mark.parametrize("args", [
    ("run", "--rm", "--device", "/dev/null:/dev/xnull", "-p", "127.0.0.1::80", "-v",
     "/tmp:/mnt:ro", "-e", "A=1", "--restart", "no", "-m", "64m", "busybox", "true"),
    ("exec", "{target}", "true"),
    ("ps", "-a"),
    ("images",),
    ("inspect", "{target}"),
    ("logs", "{target}"),
    ("version",),
])
def test_hot_commands_load_no_engine(daemon, target, args):
    args = tuple(a.format(target=target) for a in args)
    mods = loaded(daemon, *args)
    assert "dockling.client.http" in mods  # the list is read right
    heavy = sorted(m for m in mods if m.startswith(ENGINE))
    assert heavy == [], heavy
