"""Routes for /_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import time

import dockling
from dockling.api.server import (
    API_VERSION,
    MIN_API_VERSION,
    Request,
    Response,
    Router,
    json_response,
)
from dockling.background import blocking
from dockling.containers.logs import parse_since
from dockling.daemon import events as events_bus


def routes(r: Router, daemon) -> None:
    async def ping(req: Request) -> Response:
        return Response(200, b"OK", "text/plain; charset=utf-8",
                        headers={"Builder-Version": "1", "Cache-Control": "no-cache, no-store, "
                                 "must-revalidate", "Pragma": "no-cache"})

    async def version(req: Request) -> Response:
        u = os.uname()
        return json_response({
            "Platform": {"Name": "dockling"},
            "Components": [{"Name": "Engine", "Version": dockling.__version__, "Details": {
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux", "Arch": "amd64", "KernelVersion": u.release}}],
            "Version": dockling.__version__, "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION, "GitCommit": "", "GoVersion":
                f"python{platform.python_version()}",
            "Os": "linux", "Arch": "amd64", "KernelVersion": u.release, "BuildTime": ""})

    async def info(req: Request) -> Response:
        cs = daemon.containers.all()
        running = sum(1 for c in cs if c["State"]["Status"] == "running")
        paused = sum(1 for c in cs if c["State"]["Status"] == "paused")
        u = os.uname()
        return json_response({
            "ID": daemon.id, "Containers": len(cs), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": len(cs) - running - paused,
            "Images": len(daemon.images.all()), "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {"Volume": ["local"], "Network": ["host", "null"],
                        "Log": ["json-file", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            "Debug": False, "ExperimentalBuild": False, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": len(asyncio.all_tasks()), "SystemTime": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "LoggingDriver": "json-file",
            "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if daemon.cgroup_v2 else "1",
            "KernelVersion": u.release, "OperatingSystem": _os_name(), "OSType": "linux",
            "Architecture": u.machine, "NCPU": os.cpu_count(),
            "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "DockerRootDir": daemon.root, "Name": u.nodename, "Labels": [],
            "ServerVersion": dockling.__version__, "DefaultRuntime": daemon.runtime,
            "Runtimes": {"dockling": {"path": "dockling-runc"}, "runc": {"path": "runc"},
                         "crun": {"path": "crun"}}, "SecurityOptions": [
                "name=seccomp,profile=builtin"], "Warnings": None})

    async def events(req: Request) -> Response:
        since, until = parse_since(req.q("since")), parse_since(req.q("until"), "until")
        filters = req.filters()

        def ok(ev: dict) -> bool:
            return events_bus.matches(ev, filters)

        async def gen():
            q = daemon.events.subscribe()
            try:
                if since is not None:
                    for ev in list(daemon.events.history):
                        if ev["timeNano"] / 1e9 >= since and (until is None or
                                                              ev["timeNano"] / 1e9 <= until):
                            if ok(ev):
                                yield json.dumps(ev).encode() + b"\n"
                while True:
                    timeout = None if until is None else max(0.0, until - time.time())
                    try:
                        ev = await asyncio.wait_for(q.get(), timeout)
                    except TimeoutError:
                        return
                    if ok(ev):
                        yield json.dumps(ev).encode() + b"\n"
            finally:
                daemon.events.unsubscribe(q)

        return Response(200, content_type="application/json", stream=gen())

    async def df(req: Request) -> Response:
        return json_response(await blocking(_df, daemon))  # tree walks: in a thread

    r.add("GET", "/_ping", ping)
    r.add("GET", "/version", version)
    r.add("GET", "/info", info)
    r.add("GET", "/events", events)
    r.add("GET", "/system/df", df)


def _df(daemon) -> dict:
    imgs = daemon.images.all()
    cs = daemon.containers.all()
    users = daemon.containers.volume_users()
    vols = [{**v, "UsageData": {"Size": daemon.volumes.size(v["Name"]),
                                "RefCount": len(users.get(v["Name"], []))}}
            for v in daemon.volumes.all()]
    return {
        "LayersSize": sum(i.size for i in imgs),
        "Images": [daemon.images.summary(i) for i in imgs],
        "Containers": [{**daemon.containers.summary(c),
                        "SizeRw": daemon.containers.size_rw(c)} for c in cs],
        "Volumes": vols, "BuildCache": daemon.build_cache.records()}


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"
