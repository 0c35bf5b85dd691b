"""Volume commands: volume create, ls, inspect, rm, prune; and --mount's CSV."""

from __future__ import annotations

from dockling.cli import flags
from dockling.cli.common import confirm, each, filters, inspect
from dockling.cli.format import human_size, print_list
from dockling.cli.main import UsageError
from dockling.client import wirejson as json  # json's own import is ~5 ms (re)
from dockling.client.http import Client
from dockling.units import human_size4

VOLUME_HEADERS = {"ID": "ID", "Name": "VOLUME NAME", "Group": "GROUP", "Driver": "DRIVER",
                  "Scope": "SCOPE", "Availability": "AVAILABILITY", "Mountpoint": "MOUNTPOINT",
                  "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE", "Status": "STATUS"}


def register(sub) -> None:
    vol = sub.add_parser("volume")
    vsub = vol.add_subparsers(dest="volume_cmd")
    sp = vsub.add_parser("create")
    sp.add_argument("-d", "--driver", default="local")
    sp.add_argument("--label", action="append", default=[])
    sp.add_argument("-o", "--opt", action="append", default=[])
    sp.add_argument("--name")
    sp.add_argument("volume", nargs="?")
    sp.set_defaults(func=cmd_create)
    for name in ("ls", "list"):
        sp = vsub.add_parser(name)
        sp.add_argument("-q", "--quiet", action="store_true")
        sp.add_argument("-f", "--filter", action="append", default=[])
        sp.add_argument("--format")
        sp.set_defaults(func=cmd_ls)
    sp = vsub.add_parser("inspect")
    sp.add_argument("-f", "--format")
    sp.add_argument("volumes", nargs="+")
    sp.set_defaults(func=cmd_inspect)
    for name in ("rm", "remove"):
        sp = vsub.add_parser(name)
        sp.add_argument("-f", "--force", action="store_true")
        sp.add_argument("volumes", nargs="+")
        sp.set_defaults(func=cmd_rm)
    sp = vsub.add_parser("prune")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("--filter", action="append", default=[])
    sp.set_defaults(func=cmd_prune)


def key_values(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        k, _, v = item.partition("=")
        out[k] = v
    return out


def cmd_create(cli: Client, a) -> int:
    if a.name and a.volume and a.name != a.volume:
        raise UsageError("conflicting options: either specify --name or provide positional "
                         "arg, not both")
    vol = cli.post("/volumes/create", {"Name": a.name or a.volume or "", "Driver": a.driver,
                                       "DriverOpts": key_values(a.opt),
                                       "Labels": key_values(a.label)})
    print(vol["Name"])
    return 0


def cmd_ls(cli: Client, a) -> int:
    vols = cli.get("/volumes", filters=json.dumps(filters(a.filter)))["Volumes"] or []
    rows = [_volume_row(v) for v in vols]
    print_list(rows, [("DRIVER", "Driver"), ("VOLUME NAME", "Name")], VOLUME_HEADERS,
               a.format, "Name" if a.quiet else None, "formatter.volumeContext",
               ("name: {{.Name}}\\ndriver: {{.Driver}}\\n", "name: {{.Name}}"))
    return 0


def _volume_row(v: dict) -> dict:
    """docker/cli's volumeContext."""
    labels = v.get("Labels") or {}
    usage = v.get("UsageData")
    cluster = v.get("ClusterVolume")
    return {"Name": v["Name"], "Driver": v.get("Driver", ""), "Scope": v.get("Scope", ""),
            "Mountpoint": v.get("Mountpoint", ""),
            "Labels": ",".join(f"{k}={val}" for k, val in sorted(labels.items())),
            "Links": "N/A" if usage is None else str(usage.get("RefCount", 0)),
            "Size": "N/A" if usage is None else human_size4(usage.get("Size", 0)),
            "Group": "N/A" if cluster is None else cluster.get("Spec", {}).get("Group", ""),
            "Availability": "N/A" if cluster is None else
            cluster.get("Spec", {}).get("Availability", ""),
            "Status": "N/A" if cluster is None else "created", "_labels": labels}


def cmd_inspect(cli: Client, a) -> int:
    # docker volume inspect has no raw fallback (its getter returns no raw JSON)
    return inspect(a.volumes, lambda n: cli.get(f"/volumes/{n}"), a.format, "volume.Volume",
                   raw_fallback=False)


def cmd_rm(cli: Client, a) -> int:
    return each(a.volumes, lambda n: cli.call("DELETE", f"/volumes/{n}", {"force": a.force}))


def cmd_prune(cli: Client, a) -> int:
    what = "all local volumes" if a.all else "anonymous local volumes"
    if not a.force and not confirm(f"WARNING! This will remove {what} not used by at least "
                                   "one container."):
        return 0
    f = filters(a.filter)
    if a.all:
        f["all"] = ["true"]
    out = cli.post("/volumes/prune", filters=json.dumps(f))
    if out.get("VolumesDeleted"):
        print("Deleted Volumes:")
        for n in out["VolumesDeleted"]:
            print(n)
        print()
    print(f"Total reclaimed space: {human_size(out['SpaceReclaimed'])}")
    return 0


_MOUNT_KEYS = {"type", "source", "src", "target", "destination", "dst", "readonly", "ro",
               "bind-propagation", "bind-nonrecursive", "volume-nocopy", "volume-subpath",
               "volume-label",
               "volume-driver", "volume-opt", "tmpfs-size", "tmpfs-mode", "consistency"}


def _bool(v: str, field: str) -> bool:
    if v.lower() in ("", "1", "true"):
        return True
    if v.lower() in ("0", "false"):
        return False
    raise flags.ArgumentTypeError(f'invalid value for {field}: {v}')


def parse_mount(spec: str) -> dict:
    """--mount type=bind,src=/a,dst=/b,readonly -> the API's Mount object (docker CLI's)."""
    from dockling.cli.containers import _bytes

    m: dict = {"Type": "volume"}
    for field in spec.split(","):
        key, eq, val = field.partition("=")
        key = key.strip().lower()
        if key not in _MOUNT_KEYS:
            raise flags.ArgumentTypeError(f"unexpected key '{key}' in '{field}'")
        if not eq and key not in ("readonly", "ro", "volume-nocopy", "bind-nonrecursive"):
            raise flags.ArgumentTypeError(f"invalid field '{field}' must be a key=value "
                                             "pair")
        if key == "type":
            m["Type"] = val
        elif key in ("source", "src"):
            m["Source"] = val
        elif key in ("target", "destination", "dst"):
            m["Target"] = val
        elif key in ("readonly", "ro"):
            m["ReadOnly"] = _bool(val, key)
        elif key == "bind-propagation":
            m.setdefault("BindOptions", {})["Propagation"] = val
        elif key == "bind-nonrecursive":
            m.setdefault("BindOptions", {})["NonRecursive"] = _bool(val, key)
        elif key == "volume-nocopy":
            m.setdefault("VolumeOptions", {})["NoCopy"] = _bool(val, key)
        elif key == "volume-subpath":  # API 1.45
            m.setdefault("VolumeOptions", {})["Subpath"] = val
        elif key == "volume-label":
            k, _, v = val.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("Labels", {})[k] = v
        elif key == "volume-driver":
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {})["Name"] = val
        elif key == "volume-opt":
            k, _, v = val.partition("=")
            m.setdefault("VolumeOptions", {}).setdefault("DriverConfig", {}).setdefault(
                "Options", {})[k] = v
        elif key == "tmpfs-size":
            m.setdefault("TmpfsOptions", {})["SizeBytes"] = _bytes(val)
        elif key == "tmpfs-mode":
            try:
                m.setdefault("TmpfsOptions", {})["Mode"] = int(val, 8)
            except ValueError as err:
                raise flags.ArgumentTypeError(f"invalid value for {key}: {val}") from err
        elif key == "consistency":
            m["Consistency"] = val
    if not m.get("Target"):
        raise flags.ArgumentTypeError("target is required")
    return m
