"""The CLI starts the daemon when nothing answers on its socket, including a
socket file left behind by a killed daemon."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import pytest

from tests.conftest import ROOT
from tests.engine.conftest import BIN


@pytest.mark.skipif(not ROOT, reason="needs root")
def test_autostart_over_stale_socket(tmp_path):
    sock = tmp_path / "d.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # the file stays, nothing listens: a killed daemon's leftover
    env = {**os.environ, "DOCKLING_HOST": f"unix://{sock}",
           "DOCKLING_ROOT": str(tmp_path / "root"), "DOCKLING_EXEC_ROOT": str(tmp_path / "run")}
    env.pop("DOCKLING_NO_AUTOSTART", None)
    try:
        res = subprocess.run([os.path.join(BIN, "dockling"), "version"], capture_output=True,
                             env=env, timeout=30, check=False)
        assert res.returncode == 0, res.stderr
        assert b"starting it in the background" in res.stderr
        assert b"Server: dockling" in res.stdout
    finally:
        pidfile = tmp_path / "run" / "dockling.pid"
        for _ in range(100):
            if pidfile.exists() and pidfile.read_text().strip():
                break
            time.sleep(0.05)
        if pidfile.exists() and pidfile.read_text().strip():
            pid = int(pidfile.read_text())
            os.kill(pid, signal.SIGTERM)
            for _ in range(200):
                if not os.path.exists(f"/proc/{pid}"):
                    break
                try:
                    os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    pass
                time.sleep(0.05)
