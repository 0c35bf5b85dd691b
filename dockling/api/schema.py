"""The types of the request bodies the engine reads, checked at the door.

docker's daemon decodes bodies into Go structs: a number where a string
belongs is a 400 ("json: cannot unmarshal number into Go struct field ...").
The engine takes docker's JSON as dicts; without this check a wrong type
became a TypeError deep inside and a 500. Only the types are checked here
(unknown fields pass, as in Go); values are the engine's business. Every
field may be null, as Go's decoder allows; strslice fields (Cmd, Entrypoint,
CapAdd, CapDrop) take a string or a list, as docker's do.
"""

from __future__ import annotations

from typing import Any

import msgspec

from dockling.errors import InvalidArgument

Strs = list[str] | None
StrSlice = list[str] | str | None
StrMap = dict[str, str | None] | None


class _Open(msgspec.Struct, forbid_unknown_fields=False):
    pass


class Healthcheck(_Open):
    Test: StrSlice = None


class PortBinding(_Open):
    HostIp: str | None = None
    HostPort: str | None = None


class HostConfig(_Open):
    Binds: Strs = None
    Links: Strs = None
    VolumesFrom: Strs = None
    Dns: Strs = None
    DnsSearch: Strs = None
    DnsOptions: Strs = None
    ExtraHosts: Strs = None
    SecurityOpt: Strs = None
    CapAdd: StrSlice = None
    CapDrop: StrSlice = None
    Memory: int | None = None
    MemorySwap: int | None = None
    MemoryReservation: int | None = None
    NanoCpus: int | None = None
    CpuShares: int | None = None
    CpuPeriod: int | None = None
    CpuQuota: int | None = None
    PidsLimit: int | None = None
    ShmSize: int | None = None
    PortBindings: dict[str, list[PortBinding] | None] | None = None
    Mounts: list[dict[str, Any]] | None = None
    Ulimits: list[dict[str, Any]] | None = None
    Devices: list[dict[str, Any]] | None = None
    RestartPolicy: dict[str, Any] | None = None
    LogConfig: dict[str, Any] | None = None
    Tmpfs: StrMap = None
    Sysctls: StrMap = None
    NetworkMode: str | None = None
    Privileged: bool | None = None
    AutoRemove: bool | None = None


class NetworkingConfig(_Open):
    EndpointsConfig: dict[str, dict[str, Any] | None] | None = None


class ContainerCreate(_Open):
    Image: str | None = None
    Cmd: StrSlice = None
    Entrypoint: StrSlice = None
    Env: Strs = None
    Labels: StrMap = None
    User: str | None = None
    WorkingDir: str | None = None
    Hostname: str | None = None
    Domainname: str | None = None
    StopSignal: str | None = None
    MacAddress: str | None = None
    Volumes: dict[str, Any] | None = None
    ExposedPorts: dict[str, Any] | None = None
    Healthcheck: Healthcheck | None = None
    HostConfig: HostConfig | None = None
    NetworkingConfig: NetworkingConfig | None = None


class ExecCreate(_Open):
    Cmd: StrSlice = None
    Env: Strs = None
    User: str | None = None
    WorkingDir: str | None = None
    Tty: bool | None = None
    Privileged: bool | None = None


class VolumeCreate(_Open):
    Name: str | None = None
    Driver: str | None = None
    DriverOpts: StrMap = None
    Labels: StrMap = None


def strslices(doc: dict) -> dict:
    """docker's strslice: a string is a list of that one string (Cmd, Entrypoint, Shell;
    HostConfig's CapAdd, CapDrop)."""
    for d, keys in ((doc, ("Cmd", "Entrypoint", "Shell")),
                    (doc.get("HostConfig"), ("CapAdd", "CapDrop"))):
        if isinstance(d, dict):
            for key in keys:
                if isinstance(d.get(key), str):
                    d[key] = [d[key]]
    return doc


def _json_fields(type_name: str) -> dict[str, str]:
    """{json key: Go type} of a Go struct, embedded structs' fields included."""
    from dockling.cli.dockertypes import STRUCTS

    out: dict[str, str] = {}
    for f in STRUCTS.get(type_name.lstrip("*"), ()):
        go_name, typ = f[0], f[1]
        key = f[2] if len(f) > 2 else go_name
        if len(f) > 3 and f[3]:  # embedded: its fields sit at this level
            out.update(_json_fields(typ))
        elif key != "-":
            out[key] = typ
    return out


def go_keys(doc, type_name: str):
    """``doc`` with its keys as Go's encoding/json matches them to ``type_name``'s
    fields: the exact json name, else one equal to it but for case (docker-py
    sends CPURealtimePeriod for CpuRealtimePeriod; docker takes it). Walks into
    struct, pointer, slice and map-of-struct fields; other keys stay as sent."""
    if isinstance(doc, list):
        return [go_keys(x, type_name) for x in doc]
    if not isinstance(doc, dict):
        return doc
    if type_name.startswith("map[string]"):
        return {k: go_keys(v, type_name[len("map[string]"):]) for k, v in doc.items()}
    fields = _json_fields(type_name.lstrip("*[]"))
    if not fields:
        return doc
    lower = {k.lower(): k for k in fields}
    out: dict = {}
    for k, v in doc.items():
        name = k if k in fields else lower.get(k.lower(), k)
        if name in out and name != k:
            continue  # the exact spelling wins over a folded one
        out[name] = go_keys(v, fields[name]) if name in fields else v
    return out


def create_body(doc: dict) -> dict:
    """POST /containers/create's body (container.CreateRequest: Config embedded,
    HostConfig, NetworkingConfig) with Go's key matching."""
    rest = {k: v for k, v in doc.items() if k.lower() not in ("hostconfig",
                                                               "networkingconfig")}
    out = go_keys(rest, "container.Config")
    for k, v in doc.items():
        if k.lower() == "hostconfig":
            out["HostConfig"] = go_keys(v, "container.HostConfig")
        elif k.lower() == "networkingconfig":
            nc = {("EndpointsConfig" if nk.lower() == "endpointsconfig" else nk): nv
                  for nk, nv in (v or {}).items()} if isinstance(v, dict) else v
            if isinstance(nc, dict) and isinstance(nc.get("EndpointsConfig"), dict):
                nc["EndpointsConfig"] = go_keys(nc["EndpointsConfig"],
                                                "map[string]*network.EndpointSettings")
            out["NetworkingConfig"] = nc
    return out


def check(doc: dict, kind: type) -> dict:
    """``doc`` unchanged if its fields have docker's types; else docker's 400."""
    try:
        msgspec.convert(doc, kind)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None
    return doc


__all__ = ["ContainerCreate", "ExecCreate", "HostConfig", "VolumeCreate",
           "check", "create_body", "go_keys", "strslices"]
