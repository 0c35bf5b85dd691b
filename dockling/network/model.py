"""The network record: docker's Network JSON as msgspec Structs.

Field names are docker's JSON keys in the order of moby's Go types
(``network.Inspect``, ``network.IPAM``, ``network.IPAMConfig``,
``network.ConfigReference``; see ``dockling/cli/dockertypes.py``), defaults the
Go zero values. A stored record is ``Network`` encoded as JSON in
``networks.doc`` (and, for an overlay network, in etcd); fields that start with
``_`` are dockling's private state and never reach an answer:

    _bridge   a bridge network's Linux bridge (store.bridge_of)
    _vni      an overlay network's VXLAN ID (overlay.py)

``Network`` leaves out three of network.Inspect's fields: ``Containers`` is not
stored but computed by inspect from the container records (``EndpointResource``
entries, put in its place by ``document``), and ``Peers`` and ``Services`` are
swarm's (omitempty, never set by dockling).

``CreateRequest`` is POST /networks/create's body as Go's decoder takes it:
every field may be null, unknown fields pass.
"""

from __future__ import annotations

import msgspec

from dockling import clock
from dockling.errors import InvalidArgument

NOT_STORED = ("Containers", "Peers", "Services")  # network.Inspect fields Network lacks


class ConfigReference(msgspec.Struct):
    Network: str = ""


class IPAMConfig(msgspec.Struct, omit_defaults=True):
    # every field is omitempty in Go: omit_defaults leaves out the same ones
    Subnet: str = ""
    IPRange: str = ""
    Gateway: str = ""
    AuxiliaryAddresses: dict[str, str] | None = None


class IPAM(msgspec.Struct):
    Driver: str = ""
    Options: dict[str, str] | None = None  # as the client sent them: null if none
    # every record has had a list (docker's bridge, host and none show [])
    Config: list[IPAMConfig] = msgspec.field(default_factory=list)


class Network(msgspec.Struct):
    Name: str = ""
    Id: str = ""
    Created: str = clock.ZERO
    Scope: str = ""
    Driver: str = ""
    # API 1.47; libnetwork's default for every driver is true, and records written
    # before the field existed mean true: the one default that is not Go's zero
    EnableIPv4: bool = True
    EnableIPv6: bool = False
    IPAM: IPAM = msgspec.field(default_factory=IPAM)
    Internal: bool = False
    Attachable: bool = False
    Ingress: bool = False
    ConfigFrom: ConfigReference = msgspec.field(default_factory=ConfigReference)
    ConfigOnly: bool = False
    # docker's inspect shows {} for both when a network has none, never null
    Options: dict[str, str] = msgspec.field(default_factory=dict)
    Labels: dict[str, str] = msgspec.field(default_factory=dict)
    _bridge: str = ""
    _vni: int = 0


class EndpointResource(msgspec.Struct):
    """One entry of inspect's ``Containers``: a container's endpoint on the network."""
    Name: str = ""
    EndpointID: str = ""
    MacAddress: str = ""
    IPv4Address: str = ""
    IPv6Address: str = ""


# -- the create request ------------------------------------------------------------------
StrMap = dict[str, str | None] | None  # Go decodes a null value as ""


class CreateIPAMConfig(msgspec.Struct, forbid_unknown_fields=False):
    Subnet: str | None = None
    IPRange: str | None = None
    Gateway: str | None = None
    AuxiliaryAddresses: StrMap = None


class CreateIPAM(msgspec.Struct, forbid_unknown_fields=False):
    Driver: str | None = None
    Config: list[CreateIPAMConfig] | None = None
    Options: StrMap = None


class CreateRequest(msgspec.Struct, forbid_unknown_fields=False):
    Name: str | None = None
    Driver: str | None = None
    Internal: bool | None = None
    Attachable: bool | None = None
    EnableIPv6: bool | None = None
    IPAM: CreateIPAM | None = None
    Options: StrMap = None
    Labels: StrMap = None


def create_request(body: dict) -> CreateRequest:
    """A request body, typed; wrong types are docker's 400."""
    try:
        return msgspec.convert(body, CreateRequest)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"json: cannot unmarshal: {err}") from None


def str_map(m: StrMap) -> dict[str, str]:
    """A request's map[string]string as Go decodes it (null values are "")."""
    return {k: "" if v is None else v for k, v in (m or {}).items()}


# -- storage and the API's JSON ----------------------------------------------------------
_decoder = msgspec.json.Decoder(Network)
_encoder = msgspec.json.Encoder()


def decode(doc: str | bytes) -> Network:
    return _decoder.decode(doc)


def encode(net: Network) -> bytes:
    return _encoder.encode(net)


def document(net: Network, endpoints: dict[str, EndpointResource] | None = None) -> dict:
    """docker's JSON of a network: no private fields; with ``endpoints``, inspect's
    ``Containers`` in network.Inspect's place (after ConfigOnly)."""
    out = {}
    for key, value in msgspec.to_builtins(net).items():
        if key.startswith("_"):
            continue
        if key == "Options" and endpoints is not None:
            out["Containers"] = msgspec.to_builtins(endpoints)
        out[key] = value
    return out


__all__ = ["IPAM", "NOT_STORED", "ConfigReference", "CreateIPAM", "CreateIPAMConfig",
           "CreateRequest", "EndpointResource", "IPAMConfig", "Network", "create_request",
           "decode", "document", "encode", "str_map"]
