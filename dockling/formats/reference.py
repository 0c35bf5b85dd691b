"""Image references, normalized the way docker does.

    busybox                  -> docker.io/library/busybox:latest
    user/app:1.0             -> docker.io/user/app:1.0
    localhost:5000/app       -> localhost:5000/app:latest
    app@sha256:<hex>         -> docker.io/library/app@sha256:<hex>

``familiar`` gives the short form docker prints (``busybox:latest``,
``localhost:5000/app:latest``). Grammar: distribution/reference.
"""

from __future__ import annotations

import re

from dockling.errors import InvalidArgument

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_PATH = rf"{_COMPONENT}(?:/{_COMPONENT})*"
_REF_RE = re.compile(rf"^(?:({_DOMAIN})/)?({_PATH})(?::({_TAG}))?(?:@({_DIGEST}))?$")
_ID_RE = re.compile(r"^[a-f0-9]{64}$")


class Reference:
    __slots__ = ("digest", "domain", "path", "tag")

    def __init__(self, domain: str, path: str, tag: str | None, digest: str | None) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self) -> str:
        """Fully qualified repository: docker.io/library/busybox."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository as docker prints it: busybox, user/app, localhost:5000/app."""
        if self.domain == DEFAULT_DOMAIN:
            return self.path[len(OFFICIAL_PREFIX):] if self.path.startswith(
                OFFICIAL_PREFIX) and self.path.count("/") == 1 else self.path
        return self.name

    def __str__(self) -> str:
        return self._fmt(self.name)

    @property
    def familiar(self) -> str:
        return self._fmt(self.familiar_name)

    def _fmt(self, name: str) -> str:
        out = name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Reference) and str(self) == str(other)

    def __hash__(self) -> int:
        return hash(str(self))


def parse(s: str, default_tag: bool = True) -> Reference:
    """Parse and normalize; a bare name gets ``:latest`` unless it has a digest."""
    if not s:
        raise InvalidArgument("invalid reference format")
    m = _REF_RE.match(s)
    if not m:
        lower = s.lower()
        if lower != s and _REF_RE.match(lower):
            raise InvalidArgument(
                f"invalid reference format: repository name ({s.split(':')[0]}) must be lowercase"
            )
        raise InvalidArgument("invalid reference format")
    domain, path, tag, digest = m.groups()
    # The first component is a registry only if it looks like a host.
    if domain is not None and not ("." in domain or ":" in domain or domain == "localhost"
                                   or domain.lower() != domain):
        path = f"{domain}/{path}"
        domain = None
    if domain is None or domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    if len(f"{domain}/{path}") > 255:
        raise InvalidArgument("invalid reference format: repository name must not be more than "
                              "255 characters")
    if tag is None and digest is None and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest)


def is_full_id(s: str) -> bool:
    return bool(_ID_RE.match(s.removeprefix("sha256:")))


def looks_like_id_prefix(s: str) -> bool:
    """docker accepts a short hex id (and sha256:prefix) wherever an image is named."""
    h = s.removeprefix("sha256:")
    return 1 <= len(h) <= 64 and all(c in "0123456789abcdef" for c in h)


# -- registries as credentials name them (config.json auths, X-Registry-Auth) ---------

HUB_AUTH_KEY = "https://index.docker.io/v1/"  # the key of Docker Hub in config.json


def server_domain(server: str) -> str:
    """A login server as users write it (https://host:5000/, docker.io, Docker Hub's
    index URL) -> the registry's domain."""
    if server in (HUB_AUTH_KEY, "docker.io", "index.docker.io", "registry-1.docker.io"):
        return DEFAULT_DOMAIN
    return server.removeprefix("https://").removeprefix("http://").rstrip("/")


def auth_key(domain: str) -> str:
    """The key credentials are stored under (config.json auths, X-Registry-Auth)."""
    return HUB_AUTH_KEY if domain == DEFAULT_DOMAIN else domain
