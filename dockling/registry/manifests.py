"""Manifest media types, and picking one platform out of an index."""

from __future__ import annotations

import json
import platform as _platform

from dockling.errors import InvalidArgument, NotFound

DOCKER_V2 = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_V1 = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_V1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_FOREIGN = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
ACCEPT = [OCI_INDEX, DOCKER_LIST, OCI_MANIFEST, DOCKER_V2, DOCKER_V1_SIGNED, DOCKER_V1]
INDEXES = (OCI_INDEX, DOCKER_LIST)
MANIFESTS = (OCI_MANIFEST, DOCKER_V2)


def schema1_message(name: str) -> str:
    return ("[DEPRECATION NOTICE] Docker Image Format v1 and Docker Image manifest version 2, "
            "schema 1 support is disabled by default and will be removed in an upcoming "
            f"release. Suggest the author of {name} to upgrade the image to the OCI Format or "
            "Docker Image manifest v2, schema 2. More information at "
            "https://docs.docker.com/go/deprecated-image-specs/")


def media_type(ctype: str, body: bytes) -> str:
    """The manifest's type: the header, else the document's own mediaType/schemaVersion."""
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidArgument("invalid manifest: not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidArgument("invalid manifest: not a JSON object")
    if doc.get("schemaVersion") == 1:
        return DOCKER_V1
    mt = doc.get("mediaType") or ctype
    if mt in INDEXES + MANIFESTS:
        return mt
    if "manifests" in doc:
        return OCI_INDEX
    if "layers" in doc and "config" in doc:
        return OCI_MANIFEST
    raise InvalidArgument(f"unsupported manifest media type: {mt or ctype}")


def host_platform() -> dict:
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
            "ppc64le": "ppc64le", "s390x": "s390x"}.get(_platform.machine(), _platform.machine())
    return {"os": "linux", "architecture": arch, "variant": "v7" if arch == "arm" else ""}


def parse_platform(text: str | None) -> dict:
    if not text:
        return host_platform()
    parts = text.split("/")
    if len(parts) < 2:
        raise InvalidArgument(f'"{text}": unknown operating system or architecture: '
                              "invalid argument")
    return {"os": parts[0], "architecture": parts[1],
            "variant": parts[2] if len(parts) > 2 else ""}


def platform_text(p: dict) -> str:
    return "/".join(x for x in (p["os"], p["architecture"], p.get("variant")) if x)


def pick(index: dict, want: dict) -> dict:
    """The index entry for the platform (variant optional), or docker's error."""
    entries = index.get("manifests") or []
    best = None
    for e in entries:
        p = e.get("platform") or {}
        if p.get("os") != want["os"] or p.get("architecture") != want["architecture"]:
            continue
        if want.get("variant") and p.get("variant") and p["variant"] != want["variant"]:
            continue
        if (e.get("annotations") or {}).get("vnd.docker.reference.type") == \
                "attestation-manifest":
            continue
        if best is None or (want.get("variant") and p.get("variant") == want["variant"]):
            best = e
    if best is None:
        raise NotFound(f"no matching manifest for {platform_text(want)} in the manifest list "
                       "entries")
    return best
