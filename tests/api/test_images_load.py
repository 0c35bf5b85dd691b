"""POST /images/load of what is not an image archive: docker's answer (moby's
postImagesLoad: status 200, the error in the JSON stream as errorDetail; the words
are Go's archive/tar errors, which tarexport.Load's untar returns)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess

import pytest

from tests.conftest import tar_of
from tests.engine.conftest import daemon  # noqa: F401 - the module's test daemon


def _load(daemon, body: bytes):  # noqa: F811
    status, headers, raw = daemon.api("POST", "/v1.47/images/load", body,
                                      {"Content-Type": "application/x-tar"})
    lines = [json.loads(x) for x in (raw if isinstance(raw, bytes) else
                                     json.dumps(raw).encode()).splitlines() if x.strip()]
    return status, headers.get("Content-Type"), lines


def _error(message: str) -> list[dict]:
    return [{"errorDetail": {"message": message}, "error": message}]


@pytest.mark.parametrize("body,message", [
    (b"abc", "unexpected EOF"),  # docker-py's test_load_error: less than a tar block
    (gzip.compress(b"abc"), "unexpected EOF"),  # decompressed first, as docker does
    (bytes(range(256)) * 4, "archive/tar: invalid tar header"),
])
def test_a_body_that_is_no_tar(daemon, body, message):  # noqa: F811
    assert _load(daemon, body) == (200, "application/json", _error(message))


def test_a_tar_that_is_no_image_archive(daemon):  # noqa: F811
    for body in (b"", tar_of({"hello.txt": b"hi"})):
        status, _, lines = _load(daemon, body)
        assert status == 200 and lines == _error("invalid archive: manifest.json is missing")


def test_a_good_archive_still_loads(daemon, tmp_path):  # noqa: F811
    out = tmp_path / "bb.tar"
    daemon.cli("save", "-o", str(out), "busybox", check=True)
    status, _, lines = _load(daemon, out.read_bytes())
    assert status == 200 and lines == [{"stream": "Loaded image: busybox:latest\n"}]


def test_the_clis_print_the_error_and_fail(daemon, tmp_path):  # noqa: F811
    junk = tmp_path / "junk"
    junk.write_bytes(b"abc")
    res = daemon.cli("load", "-i", str(junk))
    assert (res.returncode, res.stdout, res.stderr) == (1, b"", b"unexpected EOF\n")
    if shutil.which("docker") is None:
        return  # the docker client is optional here
    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.sock}"}
    res = subprocess.run(["docker", "load", "-i", str(junk)], capture_output=True, env=env,
                         timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert (res.returncode, res.stderr) == (1, b"unexpected EOF\n")
