"""Routes for /_ping, /version, /info, /events, /system/df."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import platform
import time

import msgspec

import dockling
from dockling.api import complete
from dockling.api import containers as containers_api
from dockling.api import swarm as swarm_api
from dockling.api.routing import (
    API_VERSION,
    MIN_API_VERSION,
    Request,
    Response,
    Router,
    json_response,
)
from dockling.background import blocking
from dockling.containers.logs import parse_since
from dockling.runtime import BUILTIN, api_name


def routes(r: Router, daemon) -> None:
    async def ping(req: Request) -> Response:
        return Response(200, b"OK", "text/plain; charset=utf-8",
                        headers={"Builder-Version": "1", "Cache-Control": "no-cache, no-store, "
                                 "must-revalidate", "Pragma": "no-cache"})

    async def version(req: Request) -> Response:
        u = os.uname()
        go = f"python{platform.python_version()}"
        return json_response(complete.version({
            "Platform": {"Name": "dockling"},
            "Components": [{"Name": "Engine", "Version": dockling.__version__, "Details": {
                "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux", "Arch": "amd64", "KernelVersion": u.release,
                "Experimental": "false", "GitCommit": "", "GoVersion": go, "BuildTime": ""}}],
            "Version": dockling.__version__, "ApiVersion": API_VERSION,
            "MinAPIVersion": MIN_API_VERSION, "GitCommit": "", "GoVersion": go,
            "Os": "linux", "Arch": "amd64", "KernelVersion": u.release, "BuildTime": ""}))

    async def info(req: Request) -> Response:
        cs = daemon.containers.all()
        running = sum(1 for c in cs if c.State.Status == "running")
        paused = sum(1 for c in cs if c.State.Status == "paused")
        u = os.uname()
        return json_response(complete.info({
            "ID": daemon.id, "Containers": len(cs), "ContainersRunning": running,
            "ContainersPaused": paused, "ContainersStopped": len(cs) - running - paused,
            "Images": len(daemon.images.all()), "Driver": "overlay2",
            "DriverStatus": [["Backing Filesystem", "extfs"]],
            "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                        "Authorization": None, "Log": ["json-file", "none"]},
            "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
            "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
            # API <= 1.47 still has these two (docker 28 dropped them with 1.48)
            "BridgeNfIptables": _sysctl_on("net/bridge/bridge-nf-call-iptables"),
            "BridgeNfIp6tables": _sysctl_on("net/bridge/bridge-nf-call-ip6tables"),
            "OomKillDisable": not daemon.cgroup_v2,  # docker: v1's memory.oom_control only
            "Debug": False, "ExperimentalBuild": False, "NFd": len(os.listdir("/proc/self/fd")),
            "NGoroutines": len(asyncio.all_tasks()), "SystemTime": time.strftime(
                "%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "LoggingDriver": "json-file",
            "NEventsListener": len(daemon.events.subscribers),
            "CgroupDriver": "cgroupfs", "CgroupVersion": "2" if daemon.cgroup_v2 else "1",
            "KernelVersion": u.release, "OperatingSystem": _os_release("PRETTY_NAME", "Linux"),
            "OSVersion": _os_release("VERSION_ID", ""), "OSType": "linux",
            "Architecture": u.machine, "IndexServerAddress": "https://index.docker.io/v1/",
            "RegistryConfig": _registry_config(daemon.registry), "NCPU": os.cpu_count(),
            "MemTotal": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"),
            "DockerRootDir": daemon.root, **_proxies(), "Name": u.nodename, "Labels": [],
            "ServerVersion": dockling.__version__, "DefaultRuntime": api_name(daemon.runtime),
            # every container runs on the daemon's one runtime
            "Runtimes": {api_name(daemon.runtime): {
                "path": "dockling-runc" if daemon.runtime in BUILTIN else daemon.runtime}},
            "Swarm": swarm_api.INACTIVE,
            # containers run under their shims, on through a daemon restart
            "LiveRestoreEnabled": True, "InitBinary": "docker-init",
            "SecurityOptions": ["name=seccomp,profile=builtin"],
            "CDISpecDirs": [],  # moby's info: promoteNil, [] with CDI off
            "Warnings": None}))

    async def events(req: Request) -> Response:
        since, until = parse_since(req.q("since")), parse_since(req.q("until"), "until")
        stream = daemon.events.stream(req.filters(), since, until)

        async def gen():
            try:
                async for ev in stream:
                    yield json.dumps(ev).encode() + b"\n"
            finally:
                await stream.aclose()  # the client hung up: its subscription ends now

        return Response(200, content_type="application/json", stream=gen())

    async def df(req: Request) -> Response:
        usage = await blocking(daemon.disk_usage)  # tree walks: in a thread
        usage["Volumes"] = [msgspec.to_builtins(v) for v in usage["Volumes"]]
        usage["Images"] = [msgspec.to_builtins(i) for i in usage["Images"]]
        usage["BuildCache"] = [msgspec.to_builtins(b) for b in usage["BuildCache"]]
        usage["Containers"] = [{**containers_api.summary(c, []), "SizeRw": size}
                               for c, size in usage["Containers"]]
        return json_response(usage)

    r.add("GET", "/_ping", ping)
    r.add("GET", "/version", version)
    r.add("GET", "/info", info)
    r.add("GET", "/events", events)
    r.add("GET", "/system/df", df)


def _os_release(key: str, default: str) -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith(key + "="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return default


def _sysctl_on(name: str) -> bool:
    try:
        with open(f"/proc/sys/{name}") as f:
            return f.read().strip() == "1"
    except OSError:
        return False  # br_netfilter not loaded


def _proxies() -> dict:
    """The daemon's proxy settings as docker reports them (from its environment)."""
    env = os.environ
    return {"HttpProxy": env.get("HTTP_PROXY") or env.get("http_proxy") or "",
            "HttpsProxy": env.get("HTTPS_PROXY") or env.get("https_proxy") or "",
            "NoProxy": env.get("NO_PROXY") or env.get("no_proxy") or ""}


def _registry_config(reg) -> dict:
    """moby's registry.ServiceConfig: loopback is always insecure; insecure entries are
    CIDRs or registries of their own (IndexConfigs, Secure false); docker.io official."""
    cidrs, hosts = ["::1/128", "127.0.0.0/8"], []
    for entry in reg.insecure:
        try:
            net = str(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.append(entry)
            continue
        if net not in cidrs:
            cidrs.append(net)
    index = {"docker.io": {"Name": "docker.io", "Mirrors": list(reg.mirrors), "Secure": True,
                           "Official": True}}
    for host in hosts:
        index[host] = {"Name": host, "Mirrors": [], "Secure": False, "Official": False}
    # docker 27 (API 1.47) still sends the two AllowNondistributable* keys, null
    return {"AllowNondistributableArtifactsCIDRs": None,
            "AllowNondistributableArtifactsHostnames": None, "InsecureRegistryCIDRs": cidrs,
            "IndexConfigs": index, "Mirrors": list(reg.mirrors)}
