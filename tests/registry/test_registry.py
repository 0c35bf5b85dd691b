"""pull, push and login against real registries (Debian's docker-registry)."""

from __future__ import annotations

import json
import os
import ssl
import subprocess

import pytest

from dockling.registry.endpoints import RegistryConfig
from tests.engine.conftest import name
from tests.registry.conftest import cli, needs_registry

pytestmark = needs_registry


def _inspect(d, ref) -> dict:
    return json.loads(d.cli("image", "inspect", ref, check=True).stdout)[0]


def _seed_with_skopeo(d, host: str, repo: str, tmp_path, creds: str | None = None) -> None:
    """busybox into the registry the way another tool would put it there."""
    tar = tmp_path / "bb.tar"
    d.cli("save", "-o", str(tar), "busybox", check=True)
    args = ["skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{tar}",
            f"docker://{host}/{repo}"]
    if creds:
        args[2:2] = ["--dest-creds", creds]
    subprocess.run(args, check=True, capture_output=True)


def test_pull_from_plain_registry(rdaemon, registry, tmp_path):
    d = rdaemon
    _seed_with_skopeo(d, registry.host, "seeded/busybox:1.0", tmp_path)
    ref = f"{registry.host}/seeded/busybox:1.0"
    out = d.cli("pull", ref, check=True).stdout.decode().splitlines()
    assert out[0] == "1.0: Pulling from seeded/busybox"
    assert out[-1] == ref and out[-2] == f"Status: Downloaded newer image for {ref}"
    assert out[-3].startswith("Digest: sha256:")
    layer_lines = [x for x in out if ": " in x and not x.startswith(("Digest", "Status", "1.0"))]
    assert any(x.endswith(": Pull complete") or x.endswith(": Already exists")
               for x in layer_lines)
    digest = out[-3].split()[1]
    info = _inspect(d, ref)
    assert info["RepoDigests"] == [f"{registry.host}/seeded/busybox@{digest}"]
    assert info["Id"] == _inspect(d, "busybox")["Id"]  # the same config bytes: same ID
    # again: up to date; by digest; and the image runs
    again = d.cli("pull", ref, check=True).stdout.decode()
    assert f"Status: Image is up to date for {ref}" in again
    d.cli("pull", f"{registry.host}/seeded/busybox@{digest}", check=True)
    assert d.cli("run", "--rm", ref, "echo", "ran").stdout == b"ran\n"
    # -q prints the reference only
    assert d.cli("pull", "-q", ref, check=True).stdout.decode() == ref + "\n"
    d.cli("rmi", ref, check=True)


def test_push_rmi_pull_round_trip(rdaemon, registry):
    d = rdaemon
    src = name()
    d.cli("run", "--name", src, "busybox", "sh", "-c", "echo mine > /mine", check=True)
    ref = f"{registry.host}/rt/app:v1"
    d.cli("commit", src, ref, check=True)
    d.cli("rm", src, check=True)
    image_id = _inspect(d, ref)["Id"]
    out = d.cli("push", ref, check=True).stdout.decode().splitlines()
    assert out[0] == f"The push refers to repository [{registry.host}/rt/app]"
    assert any(x.endswith(": Pushed") for x in out)
    digest = out[-1].split("digest: ")[1].split()[0]
    assert out[-1].startswith("v1: digest: sha256:") and " size: " in out[-1]
    # pushing again: every layer is there already
    again = d.cli("push", ref, check=True).stdout.decode()
    assert "Layer already exists" in again and f"digest: {digest}" in again
    d.cli("rmi", ref, check=True)
    pulled = d.cli("pull", ref, check=True).stdout.decode()
    assert f"Digest: {digest}" in pulled
    info = _inspect(d, ref)
    assert info["Id"] == image_id and f"{registry.host}/rt/app@{digest}" in info["RepoDigests"]
    assert d.cli("run", "--rm", ref, "cat", "/mine").stdout == b"mine\n"
    # another repository of the same registry: the layers are mounted, not sent
    other = f"{registry.host}/rt/copy:v1"
    d.cli("tag", ref, other, check=True)
    assert "Mounted from rt/app" in d.cli("push", other, check=True).stdout.decode()
    d.cli("rmi", ref, other, check=True)


def test_pull_errors(rdaemon, registry):
    d = rdaemon
    res = d.cli("pull", f"{registry.host}/nosuch/repo:1")
    assert res.returncode == 1
    assert res.stderr.decode().startswith(
        f"Error response from daemon: manifest for {registry.host}/nosuch/repo:1 not found")
    free = registry.host.rsplit(":", 1)[0] + ":1"
    res = d.cli("pull", f"{free}/x")
    assert res.returncode == 1 and b"connect: connection refused" in res.stderr
    res = d.cli("run", "--rm", "--pull", "never", f"{registry.host}/nosuch/repo:1", "true")
    assert res.returncode == 125 and b"No such image" in res.stderr
    res = d.cli("push", f"{registry.host}/not/local:1")
    assert res.returncode == 1
    assert b"An image does not exist locally with the tag" in res.stderr


def test_run_pulls_a_missing_image(rdaemon, registry):
    d = rdaemon
    ref = f"{registry.host}/auto/bb:latest"
    d.cli("tag", "busybox", ref, check=True)
    d.cli("push", ref, check=True)
    d.cli("rmi", ref, check=True)
    res = d.cli("run", "--rm", ref, "echo", "hi", check=True)
    assert res.stdout == b"hi\n"
    assert f"Unable to find image '{ref}' locally".encode() in res.stderr
    assert b"Status: Downloaded newer image" in res.stderr
    d.cli("rmi", ref, check=True)


def test_login_basic_auth(rdaemon, htpasswd_registry):
    d, host = rdaemon, htpasswd_registry.host
    ref = f"{host}/private/bb:1"
    d.cli("tag", "busybox", ref, check=True)
    res = cli(d, "push", ref)
    assert res.returncode == 1 and b"denied" in res.stderr.lower() or b"unauthorized" in \
        res.stderr.lower()
    res = cli(d, "login", "-u", "alice", "-p", "wrong", host)
    assert res.returncode == 1 and b"unauthorized" in res.stderr
    res = cli(d, "login", "-u", "alice", "--password-stdin", host, input=b"s3cret\n")
    assert res.returncode == 0 and res.stdout.decode().strip() == "Login Succeeded", res.stderr
    with open(os.path.join(d.docker_config, "config.json")) as f:
        cfg = json.load(f)
    assert "auth" in cfg["auths"][host]
    cli(d, "push", ref, check=True)
    d.cli("rmi", ref, check=True)
    cli(d, "pull", ref, check=True)
    assert cli(d, "logout", host, check=True).stdout.decode().strip() == \
        f"Removing login credentials for {host}"
    d.cli("rmi", ref, check=True)
    res = cli(d, "pull", ref)
    assert res.returncode == 1
    assert f"pull access denied for {host}/private/bb".encode() in res.stderr or \
        b"require 'docker login'" in res.stderr


def test_token_auth(rdaemon, token_registry):
    d, host = rdaemon, token_registry.host
    ref = f"{host}/tok/bb:1"
    d.cli("tag", "busybox", ref, check=True)
    res = cli(d, "push", ref)
    assert res.returncode == 1  # anonymous tokens carry no push access
    cli(d, "login", "-u", "alice", "--password-stdin", host, input=b"s3cret", check=True)
    # the token server gave a refresh token: it is kept instead of the password
    with open(os.path.join(d.docker_config, "config.json")) as f:
        assert json.load(f)["auths"][host] == {"identitytoken": "rt-alice"}
    cli(d, "push", ref, check=True)
    d.cli("rmi", ref, check=True)
    cli(d, "pull", ref, check=True)
    refreshed = [r["scope"] for r in token_registry.tokens.requests
                 if r.get("grant") == "refresh_token" and r["user"] == "alice"]
    assert "repository:tok/bb:pull,push" in refreshed and "repository:tok/bb:pull" in refreshed
    cli(d, "logout", host, check=True)
    d.cli("rmi", ref, check=True)


def test_tls_registry_with_certs_d(rdaemon, tls_registry, tmp_path):
    d, host = rdaemon, tls_registry.host
    ref = f"{host}/tls/bb:1"
    d.cli("tag", "busybox", ref, check=True)
    d.cli("push", ref, check=True)  # the registry speaks only TLS
    d.cli("rmi", ref, check=True)
    d.cli("pull", ref, check=True)
    d.cli("rmi", ref, check=True)
    # the certs.d CA is what makes verification pass (checked directly)
    import socket

    ctx = RegistryConfig(certs_dir=rdaemon.certs_dir).tls(host)
    with socket.create_connection(("127.0.0.1", tls_registry.port)) as s, \
            ctx.wrap_socket(s, server_hostname="127.0.0.1"):
        pass
    bare = RegistryConfig(certs_dir=str(tmp_path / "empty")).tls(host)
    with pytest.raises(ssl.SSLCertVerificationError), \
            socket.create_connection(("127.0.0.1", tls_registry.port)) as s:
        bare.wrap_socket(s, server_hostname="127.0.0.1")


@pytest.mark.skipif(__import__("shutil").which("docker") is None, reason="no docker client")
def test_docker_cli_pull_push_login(rdaemon, htpasswd_registry, tmp_path):
    d, host = rdaemon, htpasswd_registry.host
    env = {**os.environ, "DOCKER_HOST": f"unix://{d.sock}", "DOCKER_CONFIG": str(tmp_path)}

    def docker(*args, input=None):
        return subprocess.run(["docker", *args], capture_output=True, env=env, input=input,
                              timeout=60, check=False)

    ref = f"{host}/dk/bb:1"
    assert docker("tag", "busybox", ref).returncode == 0
    res = docker("login", "-u", "alice", "--password-stdin", host, input=b"s3cret")
    assert res.returncode == 0 and b"Login Succeeded" in res.stdout, res.stderr
    res = docker("push", ref)
    assert res.returncode == 0, res.stderr
    assert b"digest: sha256:" in res.stdout
    assert docker("rmi", ref).returncode == 0
    res = docker("pull", ref)
    assert res.returncode == 0 and b"Downloaded newer image" in res.stdout, res.stderr
    assert docker("rmi", ref).returncode == 0


def test_credential_helper(rdaemon, htpasswd_registry, tmp_path, monkeypatch):
    """credsStore: login stores through docker-credential-NAME, pull reads through it."""
    d, host = rdaemon, htpasswd_registry.host
    store = tmp_path / "store.json"
    helper = tmp_path / "bin" / "docker-credential-dltest"
    helper.parent.mkdir()
    helper.write_text(f"""#!{__import__('sys').executable}
import json, os, sys
path = {str(store)!r}
db = json.load(open(path)) if os.path.exists(path) else {{}}
action, data = sys.argv[1], sys.stdin.read().strip()
if action == "store":
    doc = json.loads(data); db[doc["ServerURL"]] = doc
    json.dump(db, open(path, "w"))
elif action == "get":
    if data not in db:
        print("credentials not found in native keychain"); sys.exit(1)
    print(json.dumps(db[data]))
elif action == "erase":
    db.pop(data, None); json.dump(db, open(path, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    (cfg_dir / "config.json").write_text(json.dumps({"credsStore": "dltest"}))
    monkeypatch.setenv("DOCKER_CONFIG", str(cfg_dir))
    res = d.cli("login", "-u", "alice", "--password-stdin", host, input=b"s3cret")
    assert res.returncode == 0, res.stderr
    assert json.loads(store.read_text())[host]["Secret"] == "s3cret"
    assert "auths" not in json.loads((cfg_dir / "config.json").read_text())
    ref = f"{host}/helper/bb:1"
    d.cli("tag", "busybox", ref, check=True)
    d.cli("push", ref, check=True)
    d.cli("logout", host, check=True)
    assert host not in json.loads(store.read_text())
    d.cli("rmi", ref, check=True)


def test_big_layer_goes_up_in_chunks(rdaemon, registry):
    """A layer over 8 MB is uploaded with PATCH chunks, then pulled back whole."""
    d = rdaemon
    src = name()
    d.cli("run", "--name", src, "busybox", "sh", "-c",
          "head -c 12582912 /dev/urandom > /big; md5sum /big > /big.md5", check=True)
    ref = f"{registry.host}/chunks/big:1"
    d.cli("commit", src, ref, check=True)
    d.cli("rm", src, check=True)
    out = d.cli("push", ref, check=True).stdout.decode()
    assert "Pushed" in out
    assert d.log().count(": chunk up to byte") >= 3  # 4 MiB PATCHes, then the PUT
    d.cli("rmi", ref, check=True)
    d.cli("pull", ref, check=True)
    res = d.cli("run", "--rm", ref, "md5sum", "-c", "/big.md5", check=True)
    assert b"/big: OK" in res.stdout
    d.cli("rmi", ref, check=True)
