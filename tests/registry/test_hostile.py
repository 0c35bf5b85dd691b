"""A registry that lies, breaks and stalls: a small server of the test's own.

Nothing of a bad blob is kept; a broken download goes on with Range; a
stalled one times out and is retried; bad manifests and escaping layers are
refused in docker's words; a daemon killed mid-pull leaves no blob that
reads as valid.
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import json
import os
import tarfile
import threading
import time

import pytest

from tests.conftest import tar_of
from tests.registry.conftest import free_port, needs_registry

MT_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MT_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"


def sha(b: bytes) -> str:
    return "sha256:" + hashlib.sha256(b).hexdigest()


def layer(files: dict[str, bytes]) -> tuple[bytes, str]:
    """A gzipped layer and its diff id."""
    tar = tar_of(files)
    return gzip.compress(tar, mtime=0), sha(tar)


def image(files: dict[str, bytes], arch: str = "amd64") -> dict:
    blob, diff_id = layer(files)
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                         "created": "2026-01-01T00:00:00Z"}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": sha(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(blob), "digest": sha(blob)}]}).encode()
    return {"blob": blob, "config": config, "manifest": manifest}


class Hostile:
    """Serves /v2/REPO/manifests/REF and /v2/REPO/blobs/DIGEST from dicts; a
    ``behave`` hook per path may break the answer."""

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.behave: dict[str, object] = {}
        self.seen: list[tuple[str, str]] = []
        self.port = free_port()
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):  # noqa: N802
                srv.seen.append((self.path, self.headers.get("Range", "")))
                hook = srv.behave.get(self.path)
                if hook is not None and hook(self) is not None:
                    return
                if self.path == "/v2/":
                    return self.reply(200, b"{}", "application/json")
                parts = self.path.split("/")
                if "manifests" in parts:
                    found = srv.manifests.get(parts[-1])
                    if found is None:
                        return self.reply(404, json.dumps({"errors": [{
                            "code": "MANIFEST_UNKNOWN",
                            "message": "manifest unknown"}]}).encode(), "application/json")
                    return self.reply(200, found[1], found[0])
                if "blobs" in parts:
                    data = srv.blobs.get(parts[-1])
                    if data is None:
                        return self.reply(404, b"{}", "application/json")
                    rng = self.headers.get("Range", "")
                    if rng.startswith("bytes="):
                        start = int(rng[6:].split("-")[0])
                        self.send_response(206)
                        self.send_header("Content-Length", str(len(data) - start))
                        self.send_header("Content-Range",
                                         f"bytes {start}-{len(data) - 1}/{len(data)}")
                        self.end_headers()
                        self.wfile.write(data[start:])
                        return
                    return self.reply(200, data, "application/octet-stream")
                self.reply(404, b"{}", "application/json")

            do_HEAD = do_GET  # noqa: N815

            def reply(self, code, body, ctype):
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), H)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.host = f"127.0.0.1:{self.port}"

    def add(self, repo: str, tag: str, img: dict) -> None:
        self.manifests[tag] = (MT_V2, img["manifest"])
        self.manifests[sha(img["manifest"])] = (MT_V2, img["manifest"])
        self.blobs[sha(img["config"])] = img["config"]
        self.blobs[sha(img["blob"])] = img["blob"]

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def stalling(data: bytes, upto: int, seconds: float, started: threading.Event):
    """A blob answer that sends ``upto`` bytes of ``data`` and then nothing for a while."""
    def handler(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:upto])
        h.wfile.flush()
        started.set()
        time.sleep(seconds)
        return True
    return handler


@pytest.fixture
def hostile():
    h = Hostile()
    yield h
    h.stop()


def _blob_files(d) -> set[str]:
    path = os.path.join(d.root, "blobs", "sha256")
    return set(os.listdir(path)) if os.path.isdir(path) else set()


def test_digest_mismatch_keeps_nothing(rdaemon, hostile):
    d = rdaemon
    img = image({"etc/x": b"one"})
    hostile.add("bad/img", "1", img)
    lie = bytearray(img["blob"])
    lie[len(lie) // 2] ^= 0xFF  # same size, other bytes: the digest does not match
    hostile.blobs[sha(img["blob"])] = bytes(lie)
    before = _blob_files(d)
    res = d.cli("pull", f"{hostile.host}/bad/img:1")
    assert res.returncode == 1
    assert b"filesystem layer verification failed for digest" in res.stderr, res.stderr
    assert _blob_files(d) - before <= {sha(img["config"])[7:]} - {sha(img["blob"])[7:]}
    assert sha(img["blob"])[7:] not in _blob_files(d)
    assert not os.listdir(os.path.join(d.root, "tmp"))
    assert d.cli("image", "inspect", f"{hostile.host}/bad/img:1").returncode == 1


def test_broken_and_stalled_downloads_resume(rdaemon, hostile, tmp_path):
    d = rdaemon
    img = image({"big": os.urandom(3 * 1024 * 1024)})
    hostile.add("flaky/img", "1", img)
    path = f"/v2/flaky/img/blobs/{sha(img['blob'])}"
    calls = []

    def breaks_then_stalls(h):
        calls.append(h.headers.get("Range", ""))
        data = img["blob"]
        if len(calls) == 1:  # half of it, then the connection drops
            h.send_response(200)
            h.send_header("Content-Length", str(len(data)))
            h.end_headers()
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.connection.shutdown(2)
            return True
        if len(calls) == 2:  # a few bytes, then nothing: the read timeout must fire
            start = int(calls[-1][6:].split("-")[0])
            h.send_response(206)
            h.send_header("Content-Length", str(len(data) - start))
            h.end_headers()
            h.wfile.write(data[start:start + 1000])
            h.wfile.flush()
            time.sleep(6)
            return True
        return None

    hostile.behave[path] = breaks_then_stalls
    t0 = time.monotonic()
    d.cli("pull", f"{hostile.host}/flaky/img:1", check=True, timeout=90)
    assert time.monotonic() - t0 < 60
    assert calls[0] == "" and calls[1].startswith("bytes=") and calls[2].startswith("bytes=")
    assert int(calls[2][6:].split("-")[0]) > int(calls[1][6:].split("-")[0])
    c = d.cli("create", f"{hostile.host}/flaky/img:1", check=True).stdout.decode().strip()
    out = tmp_path / "big"
    d.cli("cp", f"{c}:/big", str(out), check=True)
    assert out.stat().st_size == 3 * 1024 * 1024  # the layer is whole
    d.cli("rm", c, check=True)
    d.cli("rmi", f"{hostile.host}/flaky/img:1", check=True)


def test_bad_manifests(rdaemon, hostile):
    d = rdaemon
    hostile.manifests["huge"] = (MT_V2, b"{" + b" " * (5 * 1024 * 1024) + b"}")
    hostile.manifests["notjson"] = (MT_V2, b"this is not a manifest")
    hostile.manifests["v1"] = ("application/vnd.docker.distribution.manifest.v1+prettyjws",
                               json.dumps({"schemaVersion": 1, "name": "x"}).encode())
    arm = image({"a": b"arm"}, "arm64")
    hostile.add("m/img", "armonly-target", arm)
    index = json.dumps({"schemaVersion": 2, "mediaType": MT_LIST, "manifests": [
        {"mediaType": MT_V2, "size": len(arm["manifest"]), "digest": sha(arm["manifest"]),
         "platform": {"architecture": "arm64", "os": "linux"}}]}).encode()
    hostile.manifests["armonly"] = (MT_LIST, index)
    cases = {"huge": b"manifest too big", "notjson": b"invalid manifest: not JSON",
             "v1": b"[DEPRECATION NOTICE] Docker Image Format v1",
             "armonly": b"no matching manifest for linux/amd64 in the manifest list entries"}
    for tag, msg in cases.items():
        res = d.cli("pull", f"{hostile.host}/m/img:{tag}")
        assert res.returncode == 1 and msg in res.stderr, (tag, res.stderr)


def test_multi_arch_index_picks_the_platform(rdaemon, hostile):
    d = rdaemon
    amd, arm = image({"which": b"amd64"}), image({"which": b"arm64"}, "arm64")
    hostile.add("multi/img", "amd", amd)
    hostile.add("multi/img", "arm", arm)
    index = json.dumps({"schemaVersion": 2, "mediaType": MT_LIST, "manifests": [
        {"mediaType": MT_V2, "size": len(m["manifest"]), "digest": sha(m["manifest"]),
         "platform": {"architecture": a, "os": "linux"}}
        for m, a in ((arm, "arm64"), (amd, "amd64"))]}).encode()
    hostile.manifests["1"] = (MT_LIST, index)
    ref = f"{hostile.host}/multi/img:1"
    d.cli("pull", ref, check=True)
    info = json.loads(d.cli("image", "inspect", ref).stdout)[0]
    assert info["Architecture"] == "amd64"
    assert info["RepoDigests"] == [f"{hostile.host}/multi/img@{sha(index)}"]
    d.cli("pull", "--platform", "linux/arm64", ref, check=True)
    assert json.loads(d.cli("image", "inspect", ref).stdout)[0]["Architecture"] == "arm64"
    d.cli("rmi", ref, check=True)


def test_escaping_layer_is_refused(rdaemon, hostile, tmp_path):
    d = rdaemon
    marker = f"dockling-escape-{os.getpid()}"
    img = image({f"../../../../../../tmp/{marker}": b"x"})
    hostile.add("evil/img", "1", img)
    res = d.cli("pull", f"{hostile.host}/evil/img:1")
    assert res.returncode == 1 and b"points outside the layer" in res.stderr
    assert not os.path.exists(f"/tmp/{marker}")


def test_unauthorized_without_credentials(rdaemon, hostile):
    def deny(h):
        h.send_response(401)
        h.send_header("WWW-Authenticate", 'Basic realm="x"')
        h.send_header("Content-Length", "0")
        h.end_headers()
        return True

    hostile.behave["/v2/locked/img/manifests/1"] = deny
    res = rdaemon.cli("pull", f"{hostile.host}/locked/img:1")
    assert res.returncode == 1
    assert (f"pull access denied for {hostile.host}/locked/img, repository does not exist or "
            "may require 'docker login'").encode() in res.stderr


def test_killed_daemon_mid_pull_leaves_no_valid_blob(tmp_path_factory, busybox_tar, hostile):
    from tests.engine.conftest import running_daemon

    img = image({"big": os.urandom(2 * 1024 * 1024)})
    hostile.add("slow/img", "1", img)
    started = threading.Event()
    hostile.behave[f"/v2/slow/img/blobs/{sha(img['blob'])}"] = stalling(
        img["blob"], 100000, 8, started)
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        import subprocess

        env = {**os.environ, "DOCKLING_HOST": f"unix://{d.sock}", "DOCKLING_NO_AUTOSTART": "1"}
        puller = subprocess.Popen([os.path.join(os.path.dirname(__import__("sys").executable),
                                                "dockling"), "pull", f"{hostile.host}/slow/img:1"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert started.wait(20)
        # a partial download in progress: its ingest file holds the bytes sent so far
        tmp = os.path.join(d.root, "tmp")
        deadline = time.monotonic() + 10
        while not any(os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)):
            assert time.monotonic() < deadline, "no partial download in the content store"
            time.sleep(0.02)
        d.kill9()
        puller.wait(10)
        assert sha(img["blob"])[7:] not in _blob_files(d)
        del hostile.behave[f"/v2/slow/img/blobs/{sha(img['blob'])}"]
        d.start()
        assert not os.listdir(os.path.join(d.root, "tmp"))  # emptied at start
        d.cli("pull", f"{hostile.host}/slow/img:1", check=True)
        info = json.loads(d.cli("image", "inspect", f"{hostile.host}/slow/img:1").stdout)[0]
        assert info["RootFS"]["Layers"] == json.loads(img["config"])["rootfs"]["diff_ids"]
        # unpacked only: the compressed blob is not kept after a pull (docker's way)
        assert sha(img["blob"])[7:] not in _blob_files(d)


def test_search_against_a_stub_index(rdaemon, hostile):
    results = {"results": [
        {"name": "busybox", "description": "Busybox base image. " * 5, "star_count": 3000,
         "is_official": True, "is_automated": False},
        {"name": "someone/busybox", "description": "a copy", "star_count": 2,
         "is_official": False, "is_automated": False}]}

    def search(h):
        body = json.dumps(results).encode()
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)
        return True

    hostile.behave["/v1/search?q=busy&n=25"] = search
    out = rdaemon.cli("search", f"{hostile.host}/busy", check=True).stdout.decode().splitlines()
    assert out[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL"]
    assert out[1].split()[0] == "busybox" and out[1].split()[-2:] == ["3000", "[OK]"]
    assert "…" in out[1]
    out = rdaemon.cli("search", "--filter", "stars=10", f"{hostile.host}/busy",
                      check=True).stdout.decode().splitlines()
    assert len(out) == 2 and "someone/busybox" not in out[1]


@needs_registry
def test_mirror_serves_docker_hub_names(tmp_path_factory, busybox_tar, registry, tmp_path):
    """registry-mirrors: docker.io/library/busybox comes from the mirror (no Hub here)."""
    from tests.engine.conftest import running_daemon
    from tests.registry.test_registry import _seed_with_skopeo

    with running_daemon(tmp_path_factory, busybox_tar) as d:
        _seed_with_skopeo(d, registry.host, "library/mirrored:1", tmp_path)
        d.stop()
        cfg = os.path.join(d.base, "daemon.json")
        with open(cfg) as f:
            doc = json.load(f)
        doc["registry-mirrors"] = [f"http://{registry.host}"]
        with open(cfg, "w") as f:
            json.dump(doc, f)
        d.start()
        out = d.cli("pull", "mirrored:1", check=True).stdout.decode()
        assert "Digest: sha256:" in out and out.strip().endswith("docker.io/library/mirrored:1")
        assert d.cli("run", "--rm", "mirrored:1", "true").returncode == 0
        # -a: every tag of the repository
        d.cli("tag", "busybox", f"{registry.host}/multi/tags:a", check=True)
        d.cli("tag", "busybox", f"{registry.host}/multi/tags:b", check=True)
        d.cli("push", "-a", f"{registry.host}/multi/tags", check=True)
        d.cli("rmi", f"{registry.host}/multi/tags:a", f"{registry.host}/multi/tags:b",
              check=True)
        out = d.cli("pull", "-a", f"{registry.host}/multi/tags", check=True).stdout.decode()
        assert "a: Pulling from multi/tags" in out and "b: Pulling from multi/tags" in out


def test_zstd_layer(rdaemon, hostile):
    import zstandard

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        ti = tarfile.TarInfo("z/file")
        ti.size = 4
        tf.addfile(ti, io.BytesIO(b"zstd"))
    tar = raw.getvalue()
    blob = zstandard.ZstdCompressor().compress(tar)
    config = json.dumps({"architecture": "amd64", "os": "linux",
                         "rootfs": {"type": "layers", "diff_ids": [sha(tar)]}}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "size": len(config), "digest": sha(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+zstd",
                    "size": len(blob), "digest": sha(blob)}]}).encode()
    hostile.manifests["z"] = ("application/vnd.oci.image.manifest.v1+json", manifest)
    hostile.blobs[sha(config)] = config
    hostile.blobs[sha(blob)] = blob
    rdaemon.cli("pull", f"{hostile.host}/zs/img:z", check=True)
    info = json.loads(rdaemon.cli("image", "inspect", f"{hostile.host}/zs/img:z").stdout)[0]
    assert info["RootFS"]["Layers"] == [sha(tar)]
    rdaemon.cli("rmi", f"{hostile.host}/zs/img:z", check=True)


def test_interrupted_client_cancels_the_pull(rdaemon, hostile):
    """Ctrl-C: the client goes away, the daemon stops downloading and keeps nothing."""
    import signal
    import subprocess
    import sys

    img = image({"big": os.urandom(1024 * 1024)})
    hostile.add("ctrlc/img", "1", img)
    started = threading.Event()
    hostile.behave[f"/v2/ctrlc/img/blobs/{sha(img['blob'])}"] = stalling(
        img["blob"], 50000, 5, started)
    d = rdaemon
    env = {**os.environ, "DOCKLING_HOST": f"unix://{d.sock}", "DOCKLING_NO_AUTOSTART": "1"}
    p = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "dockling"), "pull",
                          f"{hostile.host}/ctrlc/img:1"], env=env, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    assert started.wait(20)
    tmp = os.path.join(d.root, "tmp")
    deadline = time.monotonic() + 10
    while not os.listdir(tmp):  # the download is under way: there is something to cancel
        assert time.monotonic() < deadline, "the download did not begin"
        time.sleep(0.02)
    p.send_signal(signal.SIGINT)
    p.wait(10)
    deadline = time.monotonic() + 10
    while os.listdir(os.path.join(d.root, "tmp")):
        assert time.monotonic() < deadline, "the cancelled download left its temp file"
        time.sleep(0.1)
    assert sha(img["blob"])[7:] not in _blob_files(d)
    assert d.cli("image", "inspect", f"{hostile.host}/ctrlc/img:1").returncode == 1


def test_foreign_layer_from_its_url(rdaemon, hostile):
    img = image({"f": b"foreign"})
    blob = img["blob"]
    doc = json.loads(img["manifest"])
    doc["layers"][0]["mediaType"] = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
    doc["layers"][0]["urls"] = [f"http://{hostile.host}/elsewhere/layer.tgz"]
    manifest = json.dumps(doc).encode()
    hostile.manifests["1"] = (MT_V2, manifest)
    hostile.blobs[sha(img["config"])] = img["config"]

    def serve(h):
        h.send_response(200)
        h.send_header("Content-Length", str(len(blob)))
        h.end_headers()
        h.wfile.write(blob)
        return True

    hostile.behave["/elsewhere/layer.tgz"] = serve
    rdaemon.cli("pull", f"{hostile.host}/foreign/img:1", check=True)
    assert ("/elsewhere/layer.tgz", "") in hostile.seen
    assert not any(p.startswith("/v2/foreign/img/blobs/" + sha(blob)) for p, _ in hostile.seen)
    rdaemon.cli("rmi", f"{hostile.host}/foreign/img:1", check=True)


def test_terminal_progress_rendering():
    from dockling.formats.progress import Printer, message

    out = io.StringIO()
    p = Printer(out, tty=True)
    for m in (message("Pulling from x", "latest"), message("Pulling fs layer", "aaa"),
              message("Pulling fs layer", "bbb"), message("Downloading", "aaa", 50, 100),
              message("Pull complete", "bbb")):
        p.show(m)
    text = out.getvalue()
    assert "aaa: Downloading [=========================>" in text and "50B/100B" in text
    assert "\x1b[2A" in text  # back up two lines to redraw aaa
    plain = io.StringIO()
    q = Printer(plain, tty=False)
    for m in (message("Pulling fs layer", "aaa"), message("Downloading", "aaa", 50, 100),
              message("Pull complete", "aaa")):
        q.show(m)
    assert plain.getvalue() == "aaa: Pulling fs layer\naaa: Pull complete\n"
    assert q.show({"errorDetail": {"message": "boom"}, "error": "boom"}) == "boom"


def test_registry_without_ranges_restarts_the_layer(rdaemon, hostile, tmp_path):
    """No Range support: a broken download starts over, and so does the unpacking
    that was reading it as it came in."""
    img = image({"big": os.urandom(2 * 1024 * 1024)})
    hostile.add("norange/img", "1", img)
    calls = []

    def no_ranges(h):
        calls.append(h.headers.get("Range", ""))
        data = img["blob"]
        h.send_response(200)  # whatever was asked: the whole blob
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if len(calls) == 1:
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            h.connection.shutdown(2)
        else:
            h.wfile.write(data)
        return True

    hostile.behave[f"/v2/norange/img/blobs/{sha(img['blob'])}"] = no_ranges
    ref = f"{hostile.host}/norange/img:1"
    rdaemon.cli("pull", ref, check=True)
    assert len(calls) == 2 and calls[1].startswith("bytes=")
    c = rdaemon.cli("create", ref, check=True).stdout.decode().strip()
    rdaemon.cli("cp", f"{c}:/big", str(tmp_path / "big"), check=True)
    assert (tmp_path / "big").stat().st_size == 2 * 1024 * 1024
    rdaemon.cli("rm", c, check=True)
    rdaemon.cli("rmi", ref, check=True)


def multi_image(layers: list[dict[str, bytes]]) -> dict:
    """An image of several layers: {"blobs": [...], "config", "manifest"}."""
    made = [layer(files) for files in layers]
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["sh"]},
                         "rootfs": {"type": "layers", "diff_ids": [d for _, d in made]},
                         "created": "2026-01-01T00:00:00Z"}).encode()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": MT_V2,
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "size": len(config), "digest": sha(config)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                    "size": len(b), "digest": sha(b)} for b, _ in made]}).encode()
    return {"blobs": [b for b, _ in made], "diff_ids": [d for _, d in made],
            "config": config, "manifest": manifest}


def _add_multi(hostile, tag: str, img: dict) -> None:
    hostile.manifests[tag] = (MT_V2, img["manifest"])
    hostile.blobs[sha(img["config"])] = img["config"]
    for b in img["blobs"]:
        hostile.blobs[sha(b)] = b


def test_many_layers_complete_in_order(rdaemon, hostile):
    """Each layer unpacks into its own directory as its download comes in, and
    "Pull complete" comes in the layers' order; a later layer's file wins; the
    downloads are not kept."""
    d = rdaemon
    files = [{f"l{i}/f{j}": os.urandom(2000) for j in range(50)} for i in range(4)]
    files[1]["l0/f0"] = b"replaced by layer 1"
    img = multi_image(files)
    _add_multi(hostile, "side", img)
    out = d.cli("pull", f"{hostile.host}/side/img:side", check=True).stdout.decode()
    done = [line.split(":")[0] for line in out.splitlines() if line.endswith(": Pull complete")]
    assert done == [sha(b)[7:19] for b in img["blobs"]]
    info = json.loads(d.cli("image", "inspect", f"{hostile.host}/side/img:side").stdout)[0]
    assert info["RootFS"]["Layers"] == img["diff_ids"]
    assert not os.listdir(os.path.join(d.root, "tmp"))
    assert not {sha(b)[7:] for b in img["blobs"]} & _blob_files(d)
    cid = d.cli("create", f"{hostile.host}/side/img:side", check=True).stdout.decode().strip()
    try:
        got = d.cli("cp", f"{cid}:/l0/f0", "-").stdout
        with tarfile.open(fileobj=io.BytesIO(got)) as tf:
            assert tf.extractfile("f0").read() == b"replaced by layer 1"
    finally:
        d.cli("rm", "-f", cid)
        d.cli("rmi", f"{hostile.host}/side/img:side", check=True)


def test_a_bad_layer_among_many_leaves_no_temporaries(rdaemon, hostile):
    """One layer of four fails its digest while the others download and unpack:
    the pull fails in docker's words, no ingest file and no
    half-unpacked layer is left, and no image is stored."""
    d = rdaemon
    img = multi_image([{f"b{i}/f{j}": os.urandom(3000) for j in range(40)} for i in range(4)])
    _add_multi(hostile, "bad", img)
    lie = bytearray(img["blobs"][1])
    lie[len(lie) // 2] ^= 0xFF
    hostile.blobs[sha(img["blobs"][1])] = bytes(lie)
    res = d.cli("pull", f"{hostile.host}/bad4/img:bad")
    assert res.returncode == 1
    assert b"filesystem layer verification failed for digest" in res.stderr, res.stderr
    assert not os.listdir(os.path.join(d.root, "tmp"))
    assert not [n for n in os.listdir(os.path.join(d.root, "layers")) if n.startswith("tmp-")]
    assert not {sha(b)[7:] for b in img["blobs"]} & _blob_files(d)
    assert d.cli("image", "inspect", f"{hostile.host}/bad4/img:bad").returncode == 1
