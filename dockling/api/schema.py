"""Request bodies before their types: Go's key matching for create's nested
documents (``go_keys``, ``create_body``), docker's strslice (a string is a list of
one), and the volume create body. The typed decoding itself is
``dockling.gojson.convert`` into each kind's request Struct (containers/model.py,
network/model.py): a wrong type is docker's 400, never a 500 from inside.
"""

from __future__ import annotations

import msgspec

StrMap = dict[str, str | None] | None


class _Open(msgspec.Struct, forbid_unknown_fields=False):
    pass


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


__all__ = ["VolumeCreate", "create_body", "go_keys", "strslices"]
