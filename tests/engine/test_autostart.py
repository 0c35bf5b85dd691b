"""The CLI starts the daemon when nothing answers on its socket, including a
socket file left behind by a killed daemon.

The daemon the CLI starts takes no flags: it reads /etc/dockling/daemon.json and
writes /var/log/dockling.log. Run as is, it would take the default bridge, the
DOCKLING iptables chains (and set them up afresh: a real daemon's rules gone) and
the real log. So the CLI runs in a mount namespace of the test's own, where
overlays on /etc and /var/log give it this test's daemon.json (own bridge,
subnets, chains and cgroup parent, like every test daemon) and log file, and the
host's files stay untouched.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import uuid

import pytest

from dockling.network import bridge
from dockling.testing import net as testnet
from tests.conftest import ROOT, remove_cgroup_parent, wait_for
from tests.engine.conftest import BIN

SCRIPT = """set -e
mount -t overlay overlay -o lowerdir=/etc,upperdir="$1/etc",workdir="$1/etc-work" /etc
mkdir -p /etc/dockling
cp "$1/daemon.json" /etc/dockling/daemon.json
mount -t overlay overlay -o lowerdir=/var/log,upperdir="$1/log",workdir="$1/log-work" /var/log
exec "$2" version
"""


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_autostart_over_stale_socket(tmp_path):
    sock = tmp_path / "d.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays, nothing listens: a killed daemon's leftover
    ns = tmp_path / "ns"
    for d in ("etc", "etc-work", "log", "log-work"):
        (ns / d).mkdir(parents=True)
    cfg = {**testnet.daemon_config(), "cgroup-parent": f"dockling-test-{uuid.uuid4().hex[:8]}"}
    (ns / "daemon.json").write_text(json.dumps(cfg))
    env = {**os.environ, "DOCKLING_HOST": f"unix://{sock}",
           "DOCKLING_ROOT": str(tmp_path / "root"), "DOCKLING_EXEC_ROOT": str(tmp_path / "run")}
    env.pop("DOCKLING_NO_AUTOSTART", None)
    pidfile = tmp_path / "run" / "dockling.pid"
    try:
        res = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c",
                              SCRIPT, "sh", str(ns), os.path.join(BIN, "dockling")],
                             capture_output=True, env=env, timeout=30, check=False)
        assert res.returncode == 0, res.stderr
        assert b"starting it in the background" in res.stderr
        assert b"Server: dockling" in res.stdout
        # it is the test's daemon: its bridge, and its log in the test's overlay
        assert bridge.link_exists(cfg["bridge"])
        assert wait_for(lambda: (ns / "log" / "dockling.log").exists() and
                        b"API listening" in (ns / "log" / "dockling.log").read_bytes())
    finally:
        if wait_for(lambda: pidfile.exists() and pidfile.read_text().strip(), timeout=5):
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)

            def gone() -> bool:
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                return not os.path.exists(f"/proc/{pid}")

            if not wait_for(gone, timeout=10):
                os.kill(pid, signal.SIGKILL)
        testnet.cleanup(str(tmp_path / "root"), cfg)
        remove_cgroup_parent("/" + cfg["cgroup-parent"])
