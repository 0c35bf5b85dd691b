"""Every key docker's answers carry, at the API boundary.

docker's answers are Go structs marshalled to JSON: every field is there, empty,
zero or null, unless its json tag says ``omitempty``. Clients rely on that: a Go
template on ``{{.HostConfig.Dns}}`` fails with ``map has no entry for key "Dns"``
when the key is missing, docker-py and compose index keys they expect. dockling's
records hold what a client sent and what the engine decided, no more; the routes
pass their answers through here on the way out.

Go's types come from ``dockling.cli.dockertypes`` (docker 28's api/types, the
table the template engine uses), plus the few list types it lacks (below). A
missing field gets the zero value Go would marshal (``""``, ``0``, ``false``,
``null`` for a nil slice, map or pointer, an object of zeros for a struct); a
field whose value is there is walked for its own missing keys. Where docker's
daemon fills a field for every container (``HostConfig.Dns`` is ``[]``,
``ShmSize`` 64 MiB, ``IpcMode`` ``private``...), the same default is given, named
with its source. Present values are never changed, and records are not touched:
everything here works on a copy.
"""

from __future__ import annotations

import copy
import functools

from dockling.cli.dockertypes import NAMED, STRUCTS
from dockling.containers.spec import MASKED_PATHS, READONLY_PATHS
from dockling.runtime.cgroups import is_unified

ZERO_TIME = "0001-01-01T00:00:00Z"

# Answer types dockertypes has no use for (ps and images use formatter contexts
# there): moby api/types as of v28.2.2, container/container.go, image/summary.go,
# volume/list_response.go.
EXTRA = {
    "container.Summary": (
        ("ID", "string", "Id", False, False), ("Names", "[]string"), ("Image", "string"),
        ("ImageID", "string"),
        ("ImageManifestDescriptor", "*v1.Descriptor", "ImageManifestDescriptor", False, True),
        ("Command", "string"), ("Created", "int64"), ("Ports", "[]container.Port"),
        ("SizeRw", "int64", "SizeRw", False, True),
        ("SizeRootFs", "int64", "SizeRootFs", False, True),
        ("Labels", "map[string]string"), ("State", "string"), ("Status", "string"),
        ("HostConfig", "container.Summary.HostConfig"),
        ("NetworkSettings", "*container.NetworkSettingsSummary"),
        ("Mounts", "[]container.MountPoint"),
    ),
    "container.Summary.HostConfig": (
        ("NetworkMode", "string", "NetworkMode", False, True),
        ("Annotations", "map[string]string", "Annotations", False, True),
    ),
    "container.NetworkSettingsSummary": (
        ("Networks", "map[string]*network.EndpointSettings"),
    ),
    "container.Port": (
        ("IP", "string", "IP", False, True), ("PrivatePort", "uint16"),
        ("PublicPort", "uint16", "PublicPort", False, True), ("Type", "string"),
    ),
    "image.Summary": (
        ("Containers", "int64"), ("Created", "int64"), ("ID", "string", "Id", False, False),
        ("Labels", "map[string]string"), ("ParentID", "string", "ParentId", False, False),
        ("Descriptor", "*v1.Descriptor", "Descriptor", False, True),
        ("Manifests", "[]image.ManifestSummary", "Manifests", False, True),
        ("RepoDigests", "[]string"), ("RepoTags", "[]string"), ("SharedSize", "int64"),
        ("Size", "int64"), ("VirtualSize", "int64", "VirtualSize", False, True),
    ),
    "container.ExecInspect": (  # moby api/types/container/exec.go
        ("ID", "string"), ("Running", "bool"), ("ExitCode", "*int"),
        ("ProcessConfig", "*container.ExecProcessConfig"), ("OpenStdin", "bool"),
        ("OpenStderr", "bool"), ("OpenStdout", "bool"), ("CanRemove", "bool"),
        ("ContainerID", "string"), ("DetachKeys", "string"), ("Pid", "int"),
    ),
    "container.ExecProcessConfig": (
        ("Tty", "bool", "tty", False, False),
        ("Entrypoint", "string", "entrypoint", False, False),
        ("Arguments", "[]string", "arguments", False, False),
        ("Privileged", "*bool", "privileged", False, True),
        ("User", "string", "user", False, True),
    ),
    "volume.ListResponse": (
        ("Volumes", "[]*volume.Volume"), ("Warnings", "[]string"),
    ),
}
_cgroup_v2 = functools.cache(is_unified)  # the host's: fixed while the daemon runs
_INTS = {"int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32",
         "uint64", "float32", "float64"}


def container_inspect(doc: dict, runtime: str) -> dict:
    """GET /containers/{id}/json from a record's JSON (``doc``, changed here).
    ``runtime``: the daemon's (containers run on it)."""
    hc = doc.setdefault("HostConfig", {})
    # moby daemon/create.go and daemon_unix.go (adaptContainerSettings,
    # setDefaultIpcMode, cgroupns default): what docker fills in at create, so every
    # inspect shows it. The docker CLI sends [] for the DNS lists; so does docker.
    for key in ("Dns", "DnsOptions", "DnsSearch"):
        if hc.get(key) is None:
            hc[key] = []
    hc["Runtime"] = hc.get("Runtime") or runtime
    hc["ShmSize"] = hc.get("ShmSize") or 64 << 20
    hc["IpcMode"] = hc.get("IpcMode") or "private"
    hc["CgroupnsMode"] = hc.get("CgroupnsMode") or ("private" if _cgroup_v2() else "host")
    if not hc.get("Privileged"):
        # moby daemon: the default masked and read-only paths, recorded at create
        if hc.get("MaskedPaths") is None:
            hc["MaskedPaths"] = list(MASKED_PATHS)
        if hc.get("ReadonlyPaths") is None:
            hc["ReadonlyPaths"] = list(READONLY_PATHS)
    return fill(doc, "container.InspectResponse", typed=True)


def exec_inspect(doc: dict) -> dict:
    """GET /exec/{id}/json from an exec's JSON (changed here)."""
    return fill(doc, "container.ExecInspect", typed=True)


def container_summary(doc: dict) -> dict:
    """One entry of GET /containers/json."""
    return fill(copy.deepcopy(doc), "container.Summary")


def image_inspect(doc: dict) -> dict:
    """GET /images/{name}/json as docker answers API < 1.50: ``Config`` is a
    container.Config (moby's image router, imageInspectLegacy), ``RepoTags`` and
    ``RepoDigests`` never null, and an image with no creation time says the zero
    time (docker < 1.44; an empty string breaks the docker CLI's time parsing)."""
    doc = copy.deepcopy(doc)
    for key in ("RepoTags", "RepoDigests"):
        if doc.get(key) is None:
            doc[key] = []
    if not doc.get("Created"):
        doc["Created"] = ZERO_TIME
    config = doc.get("Config")
    doc["Config"] = fill(config if isinstance(config, dict) else {}, "container.Config")
    return fill(doc, "image.InspectResponse")


def image_summary(doc: dict) -> dict:
    """One entry of GET /images/json."""
    return fill(copy.deepcopy(doc), "image.Summary")


def network(doc: dict) -> dict:
    """GET /networks/{id} and each entry of GET /networks. ``EnableIPv4`` (API 1.47)
    is true unless a network says otherwise: libnetwork's default, every driver."""
    doc = copy.deepcopy(doc)
    doc.setdefault("EnableIPv4", True)
    return fill(doc, "network.Inspect")


def volume(doc: dict) -> dict:
    """GET /volumes/{name}, POST /volumes/create: a typed record's JSON."""
    return fill(copy.deepcopy(doc), "volume.Volume", typed=True)


def volume_list(doc: dict) -> dict:
    """GET /volumes: typed records' JSON."""
    return fill(copy.deepcopy(doc), "volume.ListResponse", typed=True)


def info(doc: dict) -> dict:
    """GET /info."""
    return fill(copy.deepcopy(doc), "system.Info")


def version(doc: dict) -> dict:
    """GET /version."""
    return fill(copy.deepcopy(doc), "types.Version")


# -- Go types -> JSON -------------------------------------------------------------------

def fill(value, type_name: str, typed: bool = False):
    """``value`` (JSON of Go type ``type_name``) with every field Go would marshal.
    ``typed``: ``value`` comes from a typed record, which holds every field (zero or
    not): the omitempty fields that are empty are left out, as Go leaves them out."""
    return _complete(value, type_name, typed)


@functools.cache
def _fields(struct: str) -> tuple[tuple[str, str, bool, bool], ...]:
    """(json name, Go type, embedded, omitempty) of a struct's fields; json "-" dropped."""
    out = []
    for f in STRUCTS.get(struct) or EXTRA[struct]:
        name, typ = f[0], f[1]
        json_name, embedded, omitempty = (f[2], f[3], f[4]) if len(f) > 2 else (name, False,
                                                                                  False)
        if json_name != "-":
            out.append((json_name, typ, embedded, omitempty))
    return tuple(out)


def _resolve(typ: str) -> str:
    while typ in NAMED:
        typ = NAMED[typ]
    return typ


def _is_struct(typ: str) -> bool:
    return typ in STRUCTS or typ in EXTRA


def _complete(value, typ: str, typed: bool = False):
    typ = _resolve(typ)
    if typ.startswith("*"):
        return None if value is None else _complete(value, typ[1:], typed)
    if _is_struct(typ):
        return _complete_struct(value, typ, typed) if isinstance(value, dict) else value
    if typ.startswith("[]") and isinstance(value, list):
        return [_complete(v, typ[2:], typed) for v in value]
    if typ.startswith("map[") and isinstance(value, dict):
        elem = _map_elem(typ)
        return {k: _complete(v, elem, typed) for k, v in value.items()}
    return value


def _complete_struct(doc: dict, struct: str, typed: bool = False) -> dict:
    if typed:
        for key in [k for k in doc if k.startswith("_")]:
            del doc[key]  # a record's private state (dockling's), never in an answer
    for name, typ, embedded, omitempty in _fields(struct):
        inner = _resolve(typ.lstrip("*"))
        if embedded and _is_struct(inner):
            _complete_struct(doc, inner, typed)  # Go inlines an embedded struct's fields
        elif name in doc:
            if typed and omitempty and _is_empty(doc[name], typ):
                del doc[name]
            else:
                doc[name] = _complete(doc[name], typ, typed)
        elif not omitempty or not _can_be_empty(typ):
            doc[name] = _zero(typ)
    return doc


def _is_empty(value, typ: str) -> bool:
    """What Go's omitempty leaves out: nil, and for a non-pointer false, 0, "" and
    empty slices and maps (a pointer to a zero value is sent)."""
    if value is None:
        return True
    if _resolve(typ).startswith("*") or not _can_be_empty(typ):
        return False
    return value in ("", 0, False) or value == [] or value == {}


def _can_be_empty(typ: str) -> bool:
    """Go's omitempty drops false, 0, "", nil and empty slices and maps; a struct
    value (time.Time too) or a fixed-size array is never empty, so always sent."""
    typ = _resolve(typ)
    if typ == "time.Time" or _is_struct(typ):
        return False
    return not (typ.startswith("[") and not typ.startswith("[]") and not typ.startswith("[0]"))


def _zero(typ: str):
    typ = _resolve(typ)
    if typ.startswith(("*", "[]", "map[")) or typ == "interface {}":
        return None
    if typ.startswith("["):  # a Go array, e.g. ConsoleSize [2]uint
        n, elem = typ[1:].split("]", 1)
        return [_zero(elem) for _ in range(int(n))]
    if _is_struct(typ):
        return _complete_struct({}, typ)
    if typ == "string":
        return ""
    if typ == "bool":
        return False
    if typ == "time.Time":
        return ZERO_TIME
    if typ in _INTS:
        return 0
    return None


def _map_elem(typ: str) -> str:
    depth = 0
    for i, ch in enumerate(typ):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
            if depth == 0:
                return typ[i + 1:]
    return ""


__all__ = ["container_inspect", "container_summary", "exec_inspect", "fill", "image_inspect",
           "image_summary",
           "info", "network", "version", "volume", "volume_list"]
