"""stats, pause, unpause, port: watching and freezing running containers."""

from __future__ import annotations

import sys
import time

from dockling.cli.common import each
from dockling.cli.format import human_size, print_formatted, table
from dockling.client.http import APIError, Client
from dockling.units import bytes_size

STATS_HEADERS = {"Container": "CONTAINER", "ID": "CONTAINER ID", "Name": "NAME",
                 "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %",
                 "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS"}
_COLUMNS = [("CONTAINER ID", "ID"), ("NAME", "Name"), ("CPU %", "CPUPerc"),
            ("MEM USAGE / LIMIT", "MemUsage"), ("MEM %", "MemPerc"), ("NET I/O", "NetIO"),
            ("BLOCK I/O", "BlockIO"), ("PIDS", "PIDs")]


def register(sub) -> None:
    sp = sub.add_parser("stats")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("--no-stream", action="store_true")
    sp.add_argument("--no-trunc", action="store_true")
    sp.add_argument("--format")
    sp.add_argument("containers", nargs="*")
    sp.set_defaults(func=cmd_stats)
    for name, fn in (("pause", cmd_pause), ("unpause", cmd_unpause)):
        sp = sub.add_parser(name)
        sp.add_argument("containers", nargs="+")
        sp.set_defaults(func=fn)
    sp = sub.add_parser("port")
    sp.add_argument("container")
    sp.add_argument("port", nargs="?")
    sp.set_defaults(func=cmd_port)


def row(doc: dict, no_trunc: bool = False, container: str | None = None) -> dict:
    """docker's CLI arithmetic over one stats document (`container`: the name or ID as
    the user gave it, docker's {{.Container}})."""
    cpu, pre = doc.get("cpu_stats") or {}, doc.get("precpu_stats") or {}
    cpu_delta = cpu.get("cpu_usage", {}).get("total_usage", 0) - pre.get(
        "cpu_usage", {}).get("total_usage", 0)
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu.get("cpu_usage", {}).get("percpu_usage") or [1])
    cpu_pct = cpu_delta / sys_delta * online * 100 if sys_delta > 0 and cpu_delta > 0 else 0.0
    mem = doc.get("memory_stats") or {}
    stats = mem.get("stats") or {}
    usage = mem.get("usage", 0)
    cache = stats.get("total_inactive_file", stats.get("inactive_file", 0))
    if cache < usage:
        usage -= cache
    limit = mem.get("limit", 0)
    rx = sum(n.get("rx_bytes", 0) for n in (doc.get("networks") or {}).values())
    tx = sum(n.get("tx_bytes", 0) for n in (doc.get("networks") or {}).values())
    blk = (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    rd = sum(e["value"] for e in blk if e["op"].lower() == "read")
    wr = sum(e["value"] for e in blk if e["op"].lower() == "write")
    running = doc.get("read", "").startswith("0001") is False
    cid = doc["id"] if no_trunc else doc["id"][:12]
    given = container or doc["id"]
    if not running:
        return {"ID": cid, "Container": given, "Name": doc["name"].lstrip("/"),
                "CPUPerc": "0.00%", "MemUsage": "0B / 0B", "MemPerc": "0.00%",
                "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}
    return {"ID": cid, "Container": given, "Name": doc["name"].lstrip("/"),
            "CPUPerc": f"{cpu_pct:.2f}%",
            "MemUsage": f"{bytes_size(usage)} / {bytes_size(limit)}",
            "MemPerc": f"{usage / limit * 100 if limit else 0:.2f}%",
            "NetIO": f"{human_size(rx)} / {human_size(tx)}",
            "BlockIO": f"{human_size(rd)} / {human_size(wr)}",
            "PIDs": str((doc.get("pids_stats") or {}).get("current", 0))}


def cmd_stats(cli: Client, a) -> int:
    names = a.containers
    if not names:
        names = [c["Id"] for c in cli.get("/containers/json", all=int(a.all))]
    while True:
        rows, rc = [], 0
        for n in names:
            try:
                rows.append(row(cli.get(f"/containers/{n}/stats", stream=0), a.no_trunc, n))
            except APIError as err:
                print(f"Error response from daemon: {err.message}", file=sys.stderr)
                rc = 1
        if a.format and a.format != "table":
            print_formatted(a.format, rows, STATS_HEADERS, "container.statsContext")
        else:
            if not a.no_stream and sys.stdout.isatty():
                print("\033[2J\033[H", end="")
            print(table(rows, _COLUMNS))
        sys.stdout.flush()
        if a.no_stream or rc:
            return rc
        time.sleep(0.5)


def cmd_pause(cli: Client, a) -> int:
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/pause"))


def cmd_unpause(cli: Client, a) -> int:
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/unpause"))


def cmd_port(cli: Client, a) -> int:
    info = cli.get(f"/containers/{a.container}/json")
    ports = (info.get("NetworkSettings") or {}).get("Ports") or {}
    if a.port:
        key = a.port if "/" in a.port else a.port + "/tcp"
        bindings = ports.get(key)
        if not bindings:
            print(f"Error: No public port '{key}' published for {a.container}",
                  file=sys.stderr)
            return 1
        for b in bindings:
            print(f"{b['HostIp'] or '0.0.0.0'}:{b['HostPort']}")
        return 0
    for key, bindings in sorted(ports.items()):
        for b in bindings or []:
            print(f"{key} -> {b['HostIp'] or '0.0.0.0'}:{b['HostPort']}")
    return 0
