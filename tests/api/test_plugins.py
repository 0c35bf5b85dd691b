"""api/plugins.py on a test daemon: a docker with no managed plugins (moby's words)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from dockling.api.plugins import NO_PLUGINS
from tests.engine.conftest import daemon  # noqa: F401 - the module's test daemon


@pytest.mark.parametrize("prefix", ["", "/v1.45"])
def test_no_plugins(daemon, prefix):  # noqa: F811
    status, _, doc = daemon.api("GET", prefix + "/plugins")
    assert (status, doc) == (200, [])
    status, _, doc = daemon.api("GET", prefix + '/plugins?filters={"capability":["x"]}')
    assert (status, doc) == (200, [])
    status, _, doc = daemon.api("GET", prefix + '/plugins?filters={"bogus":["x"]}')
    assert status == 400 and doc["message"] == "invalid filter 'bogus'"
    for method, path in (("GET", "/plugins/vieux/sshfs:latest/json"),
                         ("DELETE", "/plugins/vieux/sshfs:latest"),
                         ("POST", "/plugins/vieux/sshfs:latest/enable"),
                         ("POST", "/plugins/vieux/sshfs:latest/disable"),
                         ("POST", "/plugins/vieux/sshfs:latest/set")):
        status, _, doc = daemon.api(method, prefix + path, [] if method == "POST" else None)
        assert status == 404, (method, path, doc)
        assert doc["message"] == 'plugin "vieux/sshfs:latest" not found'
    for method, path in (("POST", "/plugins/pull?remote=vieux/sshfs"),
                         ("POST", "/plugins/create?name=x"),
                         ("GET", "/plugins/privileges?remote=vieux/sshfs")):
        status, _, doc = daemon.api(method, prefix + path)
        assert (status, doc["message"]) == (503, NO_PLUGINS), (method, path)


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_plugin_ls(daemon):  # noqa: F811
    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.sock}"}
    res = subprocess.run(["docker", "plugin", "ls"], env=env, capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0 and res.stdout.split() == ["ID", "NAME", "DESCRIPTION",
                                                           "ENABLED"], res
    res = subprocess.run(["docker", "plugin", "inspect", "nosuch"], env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 1 and 'plugin "nosuch" not found' in res.stderr, res
