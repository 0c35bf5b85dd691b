"""Registries for the tests: Debian's docker-registry on 127.0.0.1, plain, with
htpasswd, with TLS (a test CA in a certs.d of the test's own), and with token
auth from a token server the tests run; each on a free port, stopped and
removed afterwards."""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse

import pytest

from dockling.testing.net import free_port  # noqa: F401 - used by the tests too
from tests.engine.conftest import running_daemon

REGISTRY = shutil.which("docker-registry")
# For the tests that start docker-registry. A conftest's ``pytestmark`` marks nothing
# (pytest reads it from test modules only): test_registry.py sets it as its
# pytestmark, test_hostile.py (which serves its own hostile registry) on the one
# test that needs the real one.
needs_registry = pytest.mark.skipif(REGISTRY is None, reason="docker-registry is not installed")


class Registry:
    def __init__(self, base: str, extra: str = "", tls: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.base = base
        cfg = os.path.join(base, "config.yml")
        tls_cfg = f"  tls:\n    certificate: {tls[0]}\n    key: {tls[1]}\n" if tls else ""
        with open(cfg, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {base}/data\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.host}\n{tls_cfg}{extra}")
        self.log = open(os.path.join(base, "registry.log"), "wb")  # noqa: SIM115
        self.proc = subprocess.Popen([REGISTRY, "serve", cfg], stdout=self.log,
                                     stderr=self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def rdaemon(tmp_path_factory, busybox_tar):
    """A daemon of this module's own, with its own certs.d and docker config dir."""
    base = tmp_path_factory.mktemp("regd")
    certs = base / "certs.d"
    certs.mkdir()
    os.environ["DOCKLING_CERTS_DIR"] = str(certs)
    os.environ["DOCKLING_REGISTRY_TIMEOUT"] = "2"  # stalls fail fast in the tests
    try:
        with running_daemon(tmp_path_factory, busybox_tar) as d:
            d.certs_dir = str(certs)
            d.docker_config = str(base / "docker-config")
            yield d
    finally:
        os.environ.pop("DOCKLING_CERTS_DIR", None)
        os.environ.pop("DOCKLING_REGISTRY_TIMEOUT", None)


def cli(d, *args, input=None, check=False):
    """dockling with the module's docker config dir (logins stay in the test)."""
    old = os.environ.get("DOCKER_CONFIG")
    os.environ["DOCKER_CONFIG"] = d.docker_config
    try:
        return d.cli(*args, input=input, check=check)
    finally:
        if old is None:
            os.environ.pop("DOCKER_CONFIG", None)
        else:
            os.environ["DOCKER_CONFIG"] = old


@pytest.fixture
def registry(tmp_path):
    r = Registry(str(tmp_path))
    yield r
    r.stop()


@pytest.fixture
def htpasswd_registry(tmp_path):
    import bcrypt

    pw = tmp_path / "htpasswd"
    pw.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode() +
                  "\n")
    r = Registry(str(tmp_path), f"auth:\n  htpasswd:\n    realm: test\n    path: {pw}\n")
    yield r
    r.stop()


def make_ca(d) -> tuple[str, str, str]:
    """A CA and a server certificate for 127.0.0.1: (ca.crt, server.crt, server.key)."""
    sh = lambda *a: subprocess.run(a, check=True, capture_output=True)  # noqa: E731
    ca_key, ca_crt = f"{d}/ca.key", f"{d}/ca.crt"
    key, csr, crt = f"{d}/server.key", f"{d}/server.csr", f"{d}/server.crt"
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
       "-out", ca_crt, "-days", "2", "-subj", "/CN=dockling test CA")
    sh("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
       "-subj", "/CN=127.0.0.1")
    ext = f"{d}/ext.cnf"
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
       "-CAcreateserial", "-out", crt, "-days", "2", "-extfile", ext)
    return ca_crt, crt, key


@pytest.fixture
def tls_registry(tmp_path, rdaemon):
    """TLS on a non-loopback name would be verified; 127.0.0.1 is insecure by default,
    so the daemon's TLS check is shown by the CA in certs.d making HTTPS work."""
    ca, crt, key = make_ca(str(tmp_path))
    r = Registry(str(tmp_path), tls=(crt, key))
    d = os.path.join(rdaemon.certs_dir, r.host)
    os.makedirs(d)
    shutil.copy(ca, os.path.join(d, "ca.crt"))
    r.ca = ca
    yield r
    r.stop()
    shutil.rmtree(d, ignore_errors=True)


class TokenServer:
    """Issues registry tokens (JWT, RS256, x5c) to alice:s3cret for what she asks."""

    def __init__(self, base: str) -> None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import rsa
        from cryptography.x509.oid import NameOID

        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "token issuer")])
        now = datetime.datetime.now(datetime.UTC)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self.key.public_key()).serial_number(1)
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=2))
                     .sign(self.key, hashes.SHA256()))
        self.bundle = os.path.join(base, "token.pem")
        with open(self.bundle, "wb") as f:
            f.write(self.cert.public_bytes(serialization.Encoding.PEM))
        self.requests: list[dict] = []
        self.port = free_port()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                q = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
                auth = self.headers.get("Authorization", "")
                user = ""
                if auth.startswith("Basic "):
                    u, _, p = base64.b64decode(auth[6:]).decode().partition(":")
                    if (u, p) != ("alice", "s3cret"):
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = u
                scope = (q.get("scope") or [""])[0]
                server.requests.append({"user": user, "scope": scope})
                access = []
                if scope and user:
                    typ, name, actions = scope.split(":")
                    access = [{"type": typ, "name": name, "actions": actions.split(",")}]
                body = json.dumps({"token": server.token(user, q["service"][0], access)})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body.encode())

            def do_POST(self):  # noqa: N802 - OAuth2: password and refresh_token grants
                n = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(n).decode())
                grant = (form.get("grant_type") or [""])[0]
                scope = (form.get("scope") or [""])[0]
                ok = (grant == "password" and form.get("username") == ["alice"] and
                      form.get("password") == ["s3cret"]) or (
                    grant == "refresh_token" and form.get("refresh_token") == ["rt-alice"])
                server.requests.append({"user": "alice" if ok else "", "scope": scope,
                                        "grant": grant})
                if not ok:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                access = []
                if scope:
                    typ, name, actions = scope.split(":")
                    access = [{"type": typ, "name": name, "actions": actions.split(",")}]
                doc = {"access_token": server.token("alice", form["service"][0], access)}
                if grant == "password":
                    doc["refresh_token"] = "rt-alice"
                body = json.dumps(doc).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def token(self, user: str, service: str, access: list) -> str:
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import padding

        def b64(b: bytes) -> str:
            return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

        der = self.cert.public_bytes(serialization.Encoding.DER)
        header = {"alg": "RS256", "typ": "JWT", "x5c": [base64.b64encode(der).decode()]}
        now = int(time.time())
        claims = {"iss": "dockling-test", "sub": user, "aud": service, "exp": now + 300,
                  "nbf": now - 10, "iat": now, "jti": str(now), "access": access}
        signing = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
        sig = self.key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing}.{b64(sig)}"

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def token_registry(tmp_path):
    ts = TokenServer(str(tmp_path))
    r = Registry(str(tmp_path), (
        f"auth:\n  token:\n    realm: http://127.0.0.1:{ts.port}/token\n"
        f"    service: dockling-test-registry\n    issuer: dockling-test\n"
        f"    rootcertbundle: {ts.bundle}\n"))
    r.tokens = ts
    yield r
    r.stop()
    ts.stop()
