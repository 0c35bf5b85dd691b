"""Where a registry lives and how to talk to it (TLS, insecure, mirrors).

docker.io is Docker Hub's real API host, registry-1.docker.io, tried after
any registry-mirrors. A registry is "insecure" if daemon.json says so or it
is on 127.0.0.0/8 (docker's default): HTTPS without verification is tried
first, then plain HTTP. Otherwise TLS is verified with the system CAs plus
certs.d/HOST[:PORT]/*.crt, and a client certificate from *.cert + *.key.
"""

from __future__ import annotations

import glob
import ipaddress
import os

from dockling.formats.reference import DEFAULT_DOMAIN

HUB_API = "registry-1.docker.io"


class Endpoint:
    def __init__(self, url: str, verify: object, mirror: bool = False) -> None:
        self.url = url          # https://host:port or http://host:port
        self.verify = verify    # an SSLContext, or False
        self.mirror = mirror


class RegistryConfig:
    def __init__(self, mirrors: list[str] | None = None, insecure: list[str] | None = None,
                 certs_dir: str = "/etc/dockling/certs.d") -> None:
        self.mirrors = [m.rstrip("/") for m in mirrors or []]
        self.insecure = list(insecure or [])
        self.certs_dir = certs_dir

    def is_insecure(self, host: str) -> bool:
        name = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") \
            else host
        name = name.strip("[]")
        if name == "localhost":
            return True
        for entry in self.insecure:
            if entry == host or entry == name:
                return True
            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                pass
        try:
            return ipaddress.ip_address(name).is_loopback
        except ValueError:
            return False

    def tls(self, host: str):
        """An SSLContext: the system CAs plus certs.d/HOST/*.crt, client *.cert/*.key."""
        import ssl  # here: ssl is slow to load, and only TLS registries need it

        ctx = ssl.create_default_context()
        d = os.path.join(self.certs_dir, host)
        for ca in sorted(glob.glob(os.path.join(d, "*.crt"))):
            ctx.load_verify_locations(ca)
        for cert in sorted(glob.glob(os.path.join(d, "*.cert"))):
            key = cert[:-len(".cert")] + ".key"
            ctx.load_cert_chain(cert, key if os.path.exists(key) else None)
        return ctx

    def endpoints(self, domain: str) -> list[Endpoint]:
        out: list[Endpoint] = []
        host = HUB_API if domain == DEFAULT_DOMAIN else domain
        if domain == DEFAULT_DOMAIN:
            for m in self.mirrors:
                mhost = m.split("://", 1)[-1]
                out += self._for_host(mhost, m.startswith("http://"), mirror=True)
        out += self._for_host(host, False)
        return out

    def _for_host(self, host: str, plain: bool, mirror: bool = False) -> list[Endpoint]:
        if plain:
            return [Endpoint(f"http://{host}", False, mirror)]
        if self.is_insecure(host):
            return [Endpoint(f"https://{host}", False, mirror),
                    Endpoint(f"http://{host}", False, mirror)]
        return [Endpoint(f"https://{host}", self.tls(host), mirror)]

