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


class IPAMConfig(_Open):
    Subnet: str | None = None
    IPRange: str | None = None
    Gateway: str | None = None


class IPAM(_Open):
    Driver: str | None = None
    Config: list[IPAMConfig] | None = None
    Options: StrMap = None


class NetworkCreate(_Open):
    Name: str | None = None
    Driver: str | None = None
    Internal: bool | None = None
    EnableIPv6: bool | None = None
    IPAM: IPAM | None = None
    Options: StrMap = None
    Labels: StrMap = None


class VolumeCreate(_Open):
    Name: str | None = None
    Driver: str | None = None
    DriverOpts: StrMap = None
    Labels: StrMap = None


def strslices(doc: dict) -> dict:
    """docker's strslice: a string is a list of that one string (CapAdd, CapDrop)."""
    hc = doc.get("HostConfig")
    if isinstance(hc, dict):
        for key in ("CapAdd", "CapDrop"):
            if isinstance(hc.get(key), str):
                hc[key] = [hc[key]]
    return doc


def check(doc: dict, kind: type) -> dict:
    """``doc`` unchanged if its fields have docker's types; else docker's 400."""
    try:
        msgspec.convert(doc, kind)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None
    return doc


__all__ = ["ContainerCreate", "ExecCreate", "HostConfig", "NetworkCreate", "VolumeCreate",
           "check", "strslices"]
