"""The user's notes' Dockerfile example (docker-notes.md: a CentOS web server
image) made to work offline: a Debian bookworm base made with mmdebstrap from
Debian's mirror, a RUN that installs busybox (its httpd applet) from the mirror
through the bridge's NAT, ADD of a local .tar.gz (unpacked), EXPOSE and an
ENTRYPOINT; then `run -d -p` and a page fetched from the host.

Slow (mmdebstrap alone takes ~25 s) and needs the mirror: marked `slow`
(deselect with `-m "not slow"`), skipped with the reason when mmdebstrap is
missing or the mirror does not answer."""

from __future__ import annotations

import http.client
import io
import json
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from dockling.testing.net import free_port
from tests.engine.conftest import running_daemon

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

MIRROR = "http://deb.debian.org/debian"
BASE = "debian-mini:bookworm"
IMAGE = "notes-web:1"

DOCKERFILE = f"""\
# The notes' example, on Debian: a web server image
FROM {BASE}
MAINTAINER test test@example.com
RUN apt-get update && apt-get install -y --no-install-recommends busybox \\
    && rm -rf /var/lib/apt/lists/*
ADD site.tar.gz /var/www/
EXPOSE 80
ENTRYPOINT ["busybox", "httpd", "-f", "-v", "-p", "80", "-h", "/var/www"]
"""

SITE = {"index.html": b"<h1>dockling built me</h1>\n",
        "docs/about.html": b"<p>served by busybox httpd</p>\n"}


def unavailable() -> str | None:
    """Why the test cannot run here, or None."""
    if shutil.which("mmdebstrap") is None:
        return "mmdebstrap is not installed (install.sh installs it)"
    req = urllib.request.Request(f"{MIRROR}/dists/bookworm/Release", method="HEAD")
    try:
        with urllib.request.urlopen(req, timeout=5):
            return None
    except (OSError, http.client.HTTPException) as err:
        return f"Debian's mirror does not answer ({MIRROR}): {err}"


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    reason = unavailable()
    if reason:
        pytest.skip(reason)
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


@pytest.fixture(scope="module")
def debian_base(daemon, tmp_path_factory):
    """debian-mini:bookworm: mmdebstrap's minbase tarball imported with CMD bash."""
    tar = tmp_path_factory.mktemp("debian") / "bookworm.tar"
    with open(tar, "wb") as out:
        res = subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "bookworm", "-",
                              MIRROR], stdout=out, stderr=subprocess.PIPE, timeout=600,
                             check=False)
    if res.returncode != 0:
        pytest.fail(f"mmdebstrap failed ({res.returncode}):\n{res.stderr.decode()[-3000:]}")
    try:
        daemon.cli("import", "--change", 'CMD ["bash"]', str(tar), BASE, timeout=300,
                   check=True)
    finally:
        tar.unlink()
    try:
        yield BASE
    finally:
        daemon.cli("rmi", "-f", BASE)


def context_tar() -> bytes:
    """The build context: the Dockerfile and site.tar.gz (a gzipped tar ADD must unpack)."""
    site = io.BytesIO()
    with tarfile.open(fileobj=site, mode="w:gz") as tf:
        for name, data in SITE.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tf.addfile(ti, io.BytesIO(data))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in (("Dockerfile", DOCKERFILE.encode()),
                           ("site.tar.gz", site.getvalue())):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 1700000000
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def build(sock: str, tag: str, body: bytes) -> list[dict]:
    """POST /build, reading the JSON stream to its end (apt may be quiet for a while)."""
    conn = http.client.HTTPConnection("localhost", timeout=600)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(600)
    s.connect(sock)
    conn.sock = s
    try:
        conn.request("POST", f"/v1.41/build?t={quote(tag)}", body=body,
                     headers={"Content-Type": "application/x-tar"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    assert resp.status == 200, data
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def fetch(url: str, deadline: float) -> bytes:
    """GET url, retrying while the server starts."""
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.read()
        except (OSError, http.client.HTTPException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_notes_web_server_image_builds_and_serves(daemon, debian_base):
    try:
        msgs = build(daemon.sock, IMAGE, context_tar())
        out = "".join(m.get("stream", "") for m in msgs)
        errors = [m for m in msgs if "error" in m or "errorDetail" in m]
        assert not errors, f"{errors}\n{out}"
        assert f"Step 1/6 : FROM {BASE}" in out, out
        assert "Setting up busybox" in out, out  # apt ran in the RUN container
        assert f"Successfully tagged {IMAGE}" in out, out

        status, _, doc = daemon.api("GET", f"/images/{IMAGE}/json")
        assert status == 200, doc
        assert doc["Author"] == "test test@example.com"
        assert doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
        assert doc["Config"]["Entrypoint"][:2] == ["busybox", "httpd"]
        assert not doc["Config"].get("Cmd")  # ENTRYPOINT resets the base's CMD (moby)

        port = free_port("127.0.0.1")
        cid = daemon.cli("run", "-d", "-p", f"127.0.0.1:{port}:80", IMAGE,
                         check=True).stdout.decode().strip()
        try:
            deadline = time.monotonic() + 30
            assert fetch(f"http://127.0.0.1:{port}/", deadline) == SITE["index.html"]
            assert fetch(f"http://127.0.0.1:{port}/docs/about.html", deadline) == \
                SITE["docs/about.html"]
            daemon.cli("stop", "-t", "2", cid, check=True)
        finally:
            daemon.cli("rm", "-f", cid)
        assert daemon.cli("ps", "-aq").stdout.strip() == b""
    finally:
        daemon.cli("rmi", "-f", IMAGE)
