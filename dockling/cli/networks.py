"""Network commands: network create, ls, inspect, rm, connect, disconnect, prune."""

from __future__ import annotations

from dockling.cli.common import confirm, each, filters, inspect
from dockling.cli.format import print_list
from dockling.cli.main import UsageError
from dockling.client import wirejson as json  # json's own import is ~5 ms (re)
from dockling.client.http import Client

NETWORK_HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE",
                   "IPv4": "IPV4", "IPv6": "IPV6", "Internal": "INTERNAL", "Labels": "LABELS",
                   "CreatedAt": "CREATED AT"}


def register(sub) -> None:
    net = sub.add_parser("network")
    nsub = net.add_subparsers(dest="network_cmd")
    sp = nsub.add_parser("create")
    sp.add_argument("-d", "--driver", default="bridge")
    sp.add_argument("--subnet", action="slice", default=[])
    sp.add_argument("--gateway", action="slice", default=[])
    sp.add_argument("--ip-range", action="slice", default=[])
    sp.add_argument("--aux-address", action="append", default=[])
    sp.add_argument("--internal", action="store_true")
    sp.add_argument("--attachable", action="store_true")
    sp.add_argument("--ipv6", action="store_true")
    sp.add_argument("--label", action="append", default=[])
    sp.add_argument("-o", "--opt", action="append", default=[])
    sp.add_argument("--ipam-driver", default="default")
    sp.add_argument("name")
    sp.set_defaults(func=cmd_create)
    for name in ("ls", "list"):
        sp = nsub.add_parser(name)
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("-f", "--filter", action="append", default=[])
        sp.add_argument("--format")
        sp.add_argument("--no-trunc", action="store_true")
        sp.set_defaults(func=cmd_ls)
    sp = nsub.add_parser("inspect")
    sp.add_argument("-f", "--format")
    sp.add_argument("-v", "--verbose", action="store_true")
    sp.add_argument("networks", nargs="+")
    sp.set_defaults(func=cmd_inspect)
    for name in ("rm", "remove"):
        sp = nsub.add_parser(name)
        sp.add_argument("-f", "--force", action="store_true")
        sp.add_argument("networks", nargs="+")
        sp.set_defaults(func=cmd_rm)
    sp = nsub.add_parser("connect")
    sp.add_argument("--ip")
    sp.add_argument("--ip6")
    sp.add_argument("--alias", action="slice", default=[])
    sp.add_argument("--link", action="slice", default=[])
    sp.add_argument("network")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_connect)
    sp = nsub.add_parser("disconnect")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("network")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_disconnect)
    sp = nsub.add_parser("prune")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("--filter", action="append", default=[])
    sp.set_defaults(func=cmd_prune)


def _kv(items: list[str], what: str) -> dict[str, str]:
    out = {}
    for item in items:
        k, eq, v = item.partition("=")
        if not eq:
            raise UsageError(f"invalid {what}: {item}")
        out[k] = v
    return out


def cmd_create(cli: Client, a) -> int:
    if len(a.gateway) > len(a.subnet) or len(a.ip_range) > len(a.subnet):
        raise UsageError("every ip-range or gateway must have a corresponding subnet")
    configs = []
    for i, subnet in enumerate(a.subnet):
        cfg = {"Subnet": subnet}
        if i < len(a.gateway):
            cfg["Gateway"] = a.gateway[i]
        if i < len(a.ip_range):
            cfg["IPRange"] = a.ip_range[i]
        if a.aux_address and i == 0:
            cfg["AuxiliaryAddresses"] = _kv(a.aux_address, "auxiliary address")
        configs.append(cfg)
    body = {"Name": a.name, "Driver": a.driver, "Internal": a.internal,
            "Attachable": a.attachable, "EnableIPv6": a.ipv6,
            "IPAM": {"Driver": a.ipam_driver, "Config": configs, "Options": {}},
            # docker's MapOpts: a bare key (-o encrypted) is the key with ""
            "Options": _kv([x if "=" in x else x + "=" for x in a.opt], "option"),
            "Labels": _kv(
                [x if "=" in x else x + "=" for x in a.label], "label")}
    print(cli.post("/networks/create", body)["Id"])
    return 0


def cmd_ls(cli: Client, a) -> int:
    nets = cli.get("/networks", filters=json.dumps(filters(a.filter)))
    rows = [_network_row(n, a.no_trunc) for n in sorted(nets, key=lambda n: n["Name"])]
    print_list(rows, [("NETWORK ID", "ID"), ("NAME", "Name"), ("DRIVER", "Driver"),
                      ("SCOPE", "Scope")], NETWORK_HEADERS, a.format, "ID" if a.quiet else None,
               "network.networkContext",
               ("network_id: {{.ID}}\\nname: {{.Name}}\\ndriver: {{.Driver}}\\nscope: {{.Scope}}\\n",
                "network_id: {{.ID}}"))
    return 0


def _network_row(n: dict, no_trunc: bool) -> dict:
    """docker/cli's networkContext."""
    labels = n.get("Labels") or {}

    def created() -> str:
        from dockling.cli.gotemplate.gotime import string

        return string(n.get("Created") or "0001-01-01T00:00:00Z")
    return {"ID": n["Id"] if no_trunc else n["Id"].split(":", 1)[-1][:12], "Name": n["Name"],
            "Driver": n.get("Driver", ""), "Scope": n.get("Scope", ""),
            "IPv4": str(n.get("EnableIPv4", False)).lower(),
            "IPv6": str(n.get("EnableIPv6", False)).lower(),
            "Internal": str(n.get("Internal", False)).lower(), "CreatedAt": created,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
            "_labels": labels}


def _path(network: str, action: str = "") -> str:
    """/networks/NAME[/action] with the name escaped as Go's url.URL writes a path:
    a network's name may hold spaces or any other character (moby checks none)."""
    from urllib.parse import quote

    return f"/networks/{quote(network)}" + (f"/{action}" if action else "")


def cmd_inspect(cli: Client, a) -> int:
    return inspect(a.networks, lambda n: cli.get(_path(n)), a.format,
                   "network.Inspect")


def cmd_rm(cli: Client, a) -> int:
    return each(a.networks, lambda n: cli.call("DELETE", _path(n)))


def cmd_connect(cli: Client, a) -> int:
    ep: dict = {}
    if a.ip or a.ip6:
        ep["IPAMConfig"] = {k: v for k, v in (("IPv4Address", a.ip), ("IPv6Address", a.ip6))
                            if v}
    if a.alias:
        ep["Aliases"] = a.alias
    if a.link:
        ep["Links"] = a.link
    cli.post(_path(a.network, "connect"), {"Container": a.container,
                                                 "EndpointConfig": ep})
    return 0


def cmd_disconnect(cli: Client, a) -> int:
    cli.post(_path(a.network, "disconnect"), {"Container": a.container,
                                                    "Force": a.force})
    return 0


def cmd_prune(cli: Client, a) -> int:
    if not a.force and not confirm("WARNING! This will remove all custom networks not used "
                                   "by at least one container."):
        return 0
    out = cli.post("/networks/prune", filters=json.dumps(filters(a.filter)))
    if out.get("NetworksDeleted"):
        print("Deleted Networks:\n" + "\n".join(out["NetworksDeleted"]))
    return 0
