"""System commands: events, system df, system prune, container prune."""

from __future__ import annotations

import datetime

from dockling.cli.common import confirm, filters
from dockling.cli.format import human_size, print_formatted, table
from dockling.client import wirejson as json  # json's own import is ~5 ms (re)
from dockling.client.http import Client
from dockling.units import human_size4


def register(sub) -> None:
    sp = sub.add_parser("events")
    sp.add_argument("--since")
    sp.add_argument("--until")
    sp.add_argument("-f", "--filter", action="append", default=[])
    sp.add_argument("--format")
    sp.set_defaults(func=cmd_events)
    sp = sub.add_parser("system-df")
    sp.add_argument("-v", "--verbose", action="store_true")
    sp.add_argument("--format")
    sp.set_defaults(func=cmd_df)
    sp = sub.add_parser("system-prune")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("--volumes", action="store_true")
    sp.add_argument("--filter", action="append", default=[])
    sp.set_defaults(func=cmd_system_prune)
    sp = sub.add_parser("container-prune")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("--filter", action="append", default=[])
    sp.set_defaults(func=cmd_container_prune)


def json_lines(resp):
    """The JSON documents of a streamed response, one per line."""
    buf = b""
    while chunk := resp.read1(65536):
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line.strip():
                yield json.loads(line)


def _event_line(ev: dict) -> str:
    ts = datetime.datetime.fromtimestamp(ev["timeNano"] / 1e9).astimezone()
    stamp = ts.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ev['timeNano'] % 10**9:09d}" + (
        ts.strftime("%z")[:3] + ":" + ts.strftime("%z")[3:] if ts.utcoffset() else "Z")
    attrs = ev["Actor"].get("Attributes") or {}
    text = f"{stamp} {ev['Type']} {ev['Action']} {ev['Actor']['ID']}"
    if attrs:
        text += " (" + ", ".join(f"{k}={v}" for k, v in sorted(attrs.items())) + ")"
    return text


def cmd_events(cli: Client, a) -> int:
    params = {"filters": json.dumps(filters(a.filter))}
    for key in ("since", "until"):
        if getattr(a, key):
            params[key] = getattr(a, key)
    tmpl = None
    if a.format:
        from dockling.cli.formatter import event_template, print_event

        tmpl = event_template(a.format)  # checked before anything is asked of the daemon
    resp = cli.open("GET", "/events", params)
    try:
        for ev in json_lines(resp):
            if tmpl is not None:
                print_event(tmpl, ev)
            else:
                print(_event_line(ev), flush=True)
    finally:
        resp.close()
    return 0


DF_HEADERS = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE",
              "Reclaimable": "RECLAIMABLE"}


def _reclaim(part: int, total: int) -> str:
    if total > 0:
        return f"{human_size4(part)} ({part * 100 // total}%)"
    return human_size4(part)


def df_rows(df: dict) -> list[dict]:
    """docker/cli's four disk usage contexts (formatter/disk_usage.go)."""
    images = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    cache = df.get("BuildCache") or []
    layers = df.get("LayersSize", 0)
    used = sum(i.get("Size", 0) - i.get("SharedSize", 0) for i in images
               if i.get("Containers", 0) != 0 and i.get("Size", 0) != -1
               and i.get("SharedSize", 0) != -1)
    active = [c for c in containers if c.get("State") in ("running", "paused", "restarting")]
    c_size = sum(c.get("SizeRw") or 0 for c in containers)
    c_reclaim = sum(c.get("SizeRw") or 0 for c in containers if c not in active)
    vols = [v for v in volumes if (v.get("UsageData") or {}).get("Size", -1) != -1]
    v_size = sum(v["UsageData"]["Size"] for v in vols)
    v_reclaim = sum(v["UsageData"]["Size"] for v in vols if v["UsageData"].get("RefCount") == 0)
    # BuilderSize (deprecated in the API) when a daemon sends it, else the cache's own
    builder = df.get("BuilderSize") or sum(b.get("Size") or 0 for b in cache
                                           if not b.get("Shared"))
    in_use = sum(b.get("Size") or 0 for b in cache if b.get("InUse") and not b.get("Shared"))
    return [
        {"Type": "Images", "TotalCount": str(len(images)),
         "Active": str(sum(1 for i in images if i.get("Containers", 0) > 0)),
         "Size": human_size4(layers), "Reclaimable": _reclaim(layers - used, layers),
         "_type": "formatter.diskUsageImagesContext"},
        {"Type": "Containers", "TotalCount": str(len(containers)), "Active": str(len(active)),
         "Size": human_size4(c_size), "Reclaimable": _reclaim(c_reclaim, c_size),
         "_type": "formatter.diskUsageContainersContext"},
        {"Type": "Local Volumes", "TotalCount": str(len(volumes)),
         "Active": str(sum(1 for v in volumes
                           if (v.get("UsageData") or {}).get("RefCount", 0) > 0)),
         "Size": human_size4(v_size), "Reclaimable": _reclaim(v_reclaim, v_size),
         "_type": "formatter.diskUsageVolumesContext"},
        {"Type": "Build Cache", "TotalCount": str(len(cache)),
         "Active": str(sum(1 for b in cache if b.get("InUse"))), "Size": human_size4(builder),
         "Reclaimable": human_size4(builder - in_use),
         "_type": "formatter.diskUsageBuilderContext"},
    ]


def cmd_df(cli: Client, a) -> int:
    rows = df_rows(cli.get("/system/df"))
    if a.format and a.format != "table":
        print_formatted(a.format, rows, DF_HEADERS)
        return 0
    print(table(rows, [("TYPE", "Type"), ("TOTAL", "TotalCount"), ("ACTIVE", "Active"),
                       ("SIZE", "Size"), ("RECLAIMABLE", "Reclaimable")]))
    return 0


def _prune_containers(cli: Client, f: dict) -> tuple[list[str], int]:
    out = cli.post("/containers/prune", filters=json.dumps(f))
    return out.get("ContainersDeleted") or [], out.get("SpaceReclaimed") or 0


def cmd_container_prune(cli: Client, a) -> int:
    if not a.force and not confirm("WARNING! This will remove all stopped containers."):
        return 0
    deleted, space = _prune_containers(cli, filters(a.filter))
    if deleted:
        print("Deleted Containers:\n" + "\n".join(deleted) + "\n")
    print(f"Total reclaimed space: {human_size(space)}")
    return 0


def cmd_system_prune(cli: Client, a) -> int:
    what = ["all stopped containers", "all networks not used by at least one container"]
    if a.volumes:
        what.append("all anonymous volumes not used by at least one container")
    what.append("all images without at least one container associated to them" if a.all
                else "all dangling images")
    what.append("unused build cache")
    if not a.force and not confirm("WARNING! This will remove:\n" + "\n".join(
            f"  - {w}" for w in what) + "\n"):
        return 0
    f = filters(a.filter)
    deleted, space = _prune_containers(cli, f)
    if deleted:
        print("Deleted Containers:\n" + "\n".join(deleted) + "\n")
    out = cli.post("/networks/prune", filters=json.dumps(f))
    if out.get("NetworksDeleted"):
        print("Deleted Networks:\n" + "\n".join(out["NetworksDeleted"]) + "\n")
    if a.volumes:
        out = cli.post("/volumes/prune", filters=json.dumps(f))
        if out.get("VolumesDeleted"):
            print("Deleted Volumes:\n" + "\n".join(out["VolumesDeleted"]) + "\n")
        space += out.get("SpaceReclaimed") or 0
    out = cli.post("/images/prune", filters=json.dumps(
        {**f, "dangling": ["false" if a.all else "true"]}))
    if out.get("ImagesDeleted"):
        print("Deleted Images:")
        for item in out["ImagesDeleted"]:
            for k, v in item.items():
                print(f"{k}: {v}")
        print()
    space += out.get("SpaceReclaimed") or 0
    space += _prune_build_cache(cli, f, a.all)
    print(f"Total reclaimed space: {human_size(space)}")
    return 0


def _prune_build_cache(cli: Client, f: dict, all_cache: bool) -> int:
    """system prune's last part, as docker/cli's builder pruner: the unused build cache."""
    from dockling.client.http import APIError

    try:
        out = cli.post("/build/prune", filters=json.dumps(f), all=all_cache or None)
    except APIError as err:
        if err.status == 404:  # a daemon without a builder has no cache to prune
            return 0
        raise
    if out.get("CachesDeleted"):
        print("Deleted build cache objects:\n" + "".join(f"{i}\n" for i in out["CachesDeleted"]))
    return out.get("SpaceReclaimed") or 0
