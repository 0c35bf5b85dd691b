"""docker create: a request's body checked as docker checks it, then the record.

Everything docker refuses at create is refused here (unknown restart policy,
capability, sysctl, runtime, bad --add-host, --rm with a restart policy...),
so a container that exists can be started. The record takes the image's
config where the request leaves a field out; the writable layer's dirs are
made now, the overlay is mounted at start.
"""

from __future__ import annotations

import ipaddress
import os

from dockling import clock
from dockling.containers import logs as logfile
from dockling.containers import model, resources, restart, security, spec
from dockling.containers.model import Config, Container, CreateRequest, HostConfig
from dockling.errors import InvalidArgument, NotFound
from dockling.runtime import BUILTIN, api_name
from dockling.volumes import mounts

_NAMESPACED_SYSCTLS = ("kernel.msgmax", "kernel.msgmnb", "kernel.msgmni", "kernel.sem",
                       "kernel.shmall", "kernel.shmmax", "kernel.shmmni",
                       "kernel.shm_rmid_forced")


def create(m, body: CreateRequest, name: str | None, warnings: list[str] | None = None,
           image_volumes: bool = True) -> Container:
    """A new container record for the manager ``m``; ``warnings`` receives docker's
    create warnings. ``image_volumes=False``: the image's VOLUMEs get no volume
    (a build's RUN step: BuildKit keeps what RUN writes under a VOLUME in the layer)."""
    if not body.Image:
        raise InvalidArgument("Config cannot be empty in order to create a container")
    img = m.images.get(body.Image)
    name = m.records.claim_name(name) if name else m.records.generate_name()
    hc = host_config(body, m.paths.runtime, m.get, warnings)
    net_settings = m.networks.initial_settings(hc, body.NetworkingConfig)
    check_extra_hosts(hc.ExtraHosts or [])
    hc.Links = links(m.get, hc.Links or [], name)
    check_sysctls(hc)
    if (hc.UsernsMode or "host") != "host":  # no userns-remap daemon mode yet
        raise InvalidArgument(f"invalid USER mode: {hc.UsernsMode}")
    cid = model.new_id()
    icfg = img.container_config
    cfg = config(body, icfg, cid, hc.NetworkMode)
    argv = spec.command(cfg, Config())
    if not argv:
        raise InvalidArgument("no command specified")
    points = mounts.resolve(cfg, hc, icfg.Volumes if image_volumes else None, m.volumes,
                            m.get)
    d = m.paths.container(cid)
    for sub in ("upper", "work", "merged"):
        os.makedirs(os.path.join(d, sub))
    # overlay gives the container's / the upper dir's mode: docker's 0755, not umask 077
    os.chmod(os.path.join(d, "upper"), 0o755)
    lowers = m.images.layers.lower_dirs(m.images.layers.chain(img.diff_ids))
    c = Container(
        Id=cid,
        Created=clock.now(),
        Path=argv[0],
        Args=argv[1:],
        Image=img.id,
        ResolvConfPath=os.path.join(d, "resolv.conf"),
        HostnamePath=os.path.join(d, "hostname"),
        HostsPath=os.path.join(d, "hosts"),
        LogPath=os.path.join(d, f"{cid}-json.log"),
        Name="/" + name,
        HostConfig=hc,
        GraphDriver=model.DriverData(Name="overlay2", Data={
            "LowerDir": ":".join(lowers), "UpperDir": os.path.join(d, "upper"),
            "WorkDir": os.path.join(d, "work"), "MergedDir": os.path.join(d, "merged")}),
        Mounts=[p.public() for p in points],
        Config=cfg,
        NetworkSettings=net_settings,
        _MountPoints=points,
    )
    m.records.save(c)
    m.records.emit(c, "create")
    return c


def host_config(body: CreateRequest, daemon_runtime: str, get,
                warnings: list[str] | None) -> HostConfig:
    """The request's HostConfig with docker's defaults filled in, checked.
    ``get`` looks a container up (container:X modes must name one)."""
    hc = body.HostConfig or HostConfig()
    # The docker CLI sends empty values for "daemon default".
    hc.NetworkMode = hc.NetworkMode or "default"
    if not hc.RestartPolicy.Name:
        hc.RestartPolicy = model.RestartPolicy(Name="no")
    if not hc.LogConfig.Type:
        hc.LogConfig = model.LogConfig(Type="json-file", Config=hc.LogConfig.Config or {})
    hc.Runtime = runtime_name(hc.Runtime, daemon_runtime)
    logfile.rotation(hc.LogConfig)
    restart.validate(hc.RestartPolicy)
    if hc.AutoRemove and hc.RestartPolicy.Name != "no":
        raise InvalidArgument("can't create 'AutoRemove' container with restart policy")
    resources.validate(hc)
    dropped = resources.discard_unsupported(hc)
    if warnings is not None:
        warnings.extend(dropped)
    security.capability_set([], hc)  # unknown capabilities fail at create, like docker
    security.parse_security_opts(hc.SecurityOpt or [])
    for key in ("PidMode", "IpcMode", "UTSMode", "NetworkMode"):
        mode = getattr(hc, key)
        if mode.startswith("container:"):
            get(mode.split(":", 1)[1])  # docker: 404 for an unknown container
        elif key != "NetworkMode" and mode not in ("", "host", "private", "shareable"):
            raise InvalidArgument(f"invalid {key}: {mode}")
    return hc


def config(body: CreateRequest, icfg: Config, cid: str, net: str) -> Config:
    """The record's Config: the request's over the image's (docker's merge)."""
    cfg = Config(**{f: getattr(body, f) for f in Config.__struct_fields__})
    # "" (what a Go client sends) means the default, as a missing key does
    if not cfg.Hostname:
        cfg.Hostname = cid[:12] if net != "host" else os.uname().nodename
    # the image's and the request's; HOSTNAME and TERM are the runtime's, not the record's
    cfg.Env = [e for e in spec.environment(Config(Env=cfg.Env), icfg)
               if not e.startswith("HOSTNAME=")]
    if cfg.Cmd is None and cfg.Entrypoint is None:
        cfg.Cmd = icfg.Cmd
    if cfg.Entrypoint is None:
        cfg.Entrypoint = icfg.Entrypoint
    cfg.WorkingDir = cfg.WorkingDir or icfg.WorkingDir or ""
    cfg.Labels = {**(icfg.Labels or {}), **(cfg.Labels or {})}
    cfg.User = cfg.User or icfg.User or ""
    if icfg.StopSignal and not cfg.StopSignal:
        cfg.StopSignal = icfg.StopSignal
    return cfg


def links(get, requested: list[str], name: str) -> list[str]:
    """--link name[:alias] -> docker's "/name:/me/alias" (the target must exist)."""
    out = []
    for link in requested:
        target, _, alias = link.partition(":")
        target = target.lstrip("/")
        try:
            other = get(target)
        except NotFound:
            raise NotFound(f"could not get container for {target}") from None
        alias = (alias or target).rsplit("/", 1)[-1]
        out.append(f"{other.Name}:/{name}/{alias}")
    return out


def runtime_name(name: str | None, daemon_runtime: str) -> str:
    """HostConfig.Runtime: "" or missing is the daemon's runtime, as in docker. Every
    container runs on the daemon's one runtime, so another name is refused (docker's
    400), never recorded for a container that would not run on it."""
    default = api_name(daemon_runtime)
    if not name or name == default or (name in BUILTIN and daemon_runtime in BUILTIN):
        return default
    raise InvalidArgument(f"unknown or invalid runtime name: {name}")


def check_sysctls(hc: HostConfig) -> None:
    """docker allows only namespaced sysctls, and net.* not with the host's network."""
    for key in hc.Sysctls or {}:
        if key.startswith("net."):
            if hc.NetworkMode == "host":
                raise InvalidArgument(f"sysctl '{key}' not allowed in host network namespace")
        elif key.startswith("fs.mqueue.") or key in _NAMESPACED_SYSCTLS:
            if key.startswith("kernel.") and hc.IpcMode == "host":
                raise InvalidArgument(f"sysctl '{key}' not allowed with host IPC namespace")
        else:
            raise InvalidArgument(f"sysctl '{key}' is not allowed")


def check_extra_hosts(hosts: list[str]) -> None:
    for h in hosts:
        host, sep, ip = h.partition(":") if "=" not in h else h.partition("=")
        if not sep or not host:
            raise InvalidArgument(f"bad format for add-host: \"{h}\"")
        if ip != "host-gateway":
            try:
                ipaddress.ip_address(ip)
            except ValueError:
                raise InvalidArgument(f"invalid IP address in add-host: \"{ip}\"") from None
