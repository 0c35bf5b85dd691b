"""Container commands: run, create, start, stop, kill, restart, rm, ps, logs,
inspect, exec, wait, attach, top, rename, container prune."""

from __future__ import annotations

import os
import sys
import time

from dockling.cli import flags
from dockling.cli.common import each, filters, print_documents
from dockling.cli.main import ExitCode, UsageError, exec_error_code
from dockling.client.http import APIError, Client

# cli.streams and formats.stdcopy (select, struct) are imported by the commands that
# stream: ~1 ms of the start of every other one (rm, stop, run -d)

PS_HEADERS = {"ID": "CONTAINER ID", "Names": "NAMES", "Image": "IMAGE", "Command": "COMMAND",
              "CreatedAt": "CREATED AT", "RunningFor": "CREATED", "Ports": "PORTS",
              "State": "STATE", "Status": "STATUS", "Size": "SIZE", "Labels": "LABELS",
              "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES", "Networks": "NETWORKS",
              "Platform": "PLATFORM"}


def _create_args(sp) -> None:
    sp.add_argument("-d", "--detach", action="store_true")
    sp.add_argument("-i", "--interactive", action="store_true")
    sp.add_argument("-t", "--tty", action="store_true")
    sp.add_argument("--rm", action="store_true")
    sp.add_argument("--name")
    sp.add_argument("-e", "--env", action="append", default=[], type=_env_var)
    sp.add_argument("--env-file", action="append", default=[])
    sp.add_argument("-w", "--workdir")
    sp.add_argument("-u", "--user")
    sp.add_argument("-h", "--hostname")
    sp.add_argument("--domainname")
    sp.add_argument("--entrypoint")
    sp.add_argument("-l", "--label", action="append", default=[])
    sp.add_argument("--network", "--net", default=None)
    sp.add_argument("--stop-signal")
    sp.add_argument("--stop-timeout", type=int)
    sp.add_argument("--read-only", action="store_true")
    sp.add_argument("--log-driver")
    sp.add_argument("--pull", default="missing", choices=["always", "missing", "never"])
    sp.add_argument("-q", "--quiet", action="store_true")  # of the pull
    sp.add_argument("--platform", default=os.environ.get("DOCKER_DEFAULT_PLATFORM") or None)
    sp.add_argument("--cidfile")
    sp.add_argument("--label-file", action="append", default=[])
    sp.add_argument("--runtime")
    sp.add_argument("--oom-score-adj", type=int)
    # deprecated by docker (content trust is gone): accepted and ignored
    sp.add_argument("--disable-content-trust", action="store_true", default=True,
                    help=flags.SUPPRESS)
    _resource_args(sp)
    sp.add_argument("--oom-kill-disable", action="store_true")
    sp.add_argument("--ulimit", action="append", default=[], type=_ulimit)
    sp.add_argument("--shm-size", type=_bytes)
    sp.add_argument("--cap-add", action="append", default=[])
    sp.add_argument("--cap-drop", action="append", default=[])
    sp.add_argument("--privileged", action="store_true")
    sp.add_argument("--security-opt", action="append", default=[])
    sp.add_argument("--device", action="append", default=[])
    sp.add_argument("--group-add", action="append", default=[])
    sp.add_argument("--pid")
    sp.add_argument("--ipc")
    sp.add_argument("--uts")
    sp.add_argument("--cgroupns", choices=["host", "private"])
    sp.add_argument("--tmpfs", action="append", default=[])
    sp.add_argument("--sysctl", action="append", default=[])
    sp.add_argument("--restart", default="no")
    sp.add_argument("-p", "--publish", action="append", default=[])
    sp.add_argument("-P", "--publish-all", action="store_true")
    sp.add_argument("--expose", action="append", default=[])
    sp.add_argument("--ip")
    sp.add_argument("--ip6")
    sp.add_argument("--network-alias", "--net-alias", action="append", default=[])
    sp.add_argument("--mac-address")
    sp.add_argument("--dns", action="append", default=[])
    sp.add_argument("--dns-search", action="append", default=[])
    sp.add_argument("--dns-option", "--dns-opt", action="append", default=[])
    sp.add_argument("--add-host", action="append", default=[])
    sp.add_argument("--link", action="append", default=[])
    sp.add_argument("-a", "--attach", action="append", default=[], type=str.lower,
                    choices=["stdin", "stdout", "stderr"])
    sp.add_argument("--init", action="store_true", default=None)
    sp.add_argument("--log-opt", action="append", default=[])
    sp.add_argument("--userns")
    sp.add_argument("--health-cmd")
    sp.add_argument("--health-interval", type=_duration)
    sp.add_argument("--health-timeout", type=_duration)
    sp.add_argument("--health-start-period", type=_duration)
    sp.add_argument("--health-start-interval", type=_duration)
    sp.add_argument("--health-retries", type=int)
    sp.add_argument("--no-healthcheck", action="store_true")
    sp.add_argument("-v", "--volume", action="append", default=[])
    sp.add_argument("--mount", action="append", default=[], type=_mount)
    sp.add_argument("--volumes-from", action="append", default=[])
    sp.add_argument("image")
    sp.add_argument("command", nargs="...")


def register(sub) -> None:
    for name in ("run", "create"):
        sp = sub.add_parser(name, add_help=False)
        sp.add_argument("--help", action="help")
        _create_args(sp)
        if name == "run":
            sp.add_argument("--detach-keys")
            # dockling's own: the kernel calls that made the container, on stderr
            # (--trace=json is its own option string: "--trace IMAGE" stays unambiguous)
            sp.add_argument("--trace", action="store_const", const="tree")
            sp.add_argument("--trace=json", dest="trace", action="store_const", const="json")
        sp.set_defaults(func=cmd_run if name == "run" else cmd_create)
    for name, fn in (("start", cmd_start), ("container start", None)):
        if fn is None:
            continue
        sp = sub.add_parser(name)
        sp.add_argument("-a", "--attach", action="store_true")
        sp.add_argument("-i", "--interactive", action="store_true")
        sp.add_argument("--detach-keys")
        sp.add_argument("containers", nargs="+")
        sp.set_defaults(func=fn)
    sp = sub.add_parser("stop")
    sp.add_argument("-t", "--time", "--timeout", type=int, default=None, dest="time")
    sp.add_argument("-s", "--signal")
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_stop)
    sp = sub.add_parser("restart")
    sp.add_argument("-t", "--time", "--timeout", type=int, default=None, dest="time")
    sp.add_argument("-s", "--signal")
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_restart)
    sp = sub.add_parser("kill")
    sp.add_argument("-s", "--signal", default="KILL")
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_kill)
    sp = sub.add_parser("rm")
    sp.add_argument("-f", "--force", action="store_true")
    sp.add_argument("-v", "--volumes", action="store_true")
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_rm)
    sp = sub.add_parser("ps")
    sp.add_argument("-a", "--all", action="store_true")
    sp.add_argument("-q", "--quiet", action="store_true")
    sp.add_argument("-l", "--latest", action="store_true")
    sp.add_argument("-n", "--last", type=int, default=-1)
    sp.add_argument("--no-trunc", action="store_true")
    sp.add_argument("-f", "--filter", action="append", default=[])
    sp.add_argument("--format")
    sp.add_argument("-s", "--size", action="store_true")
    sp.set_defaults(func=cmd_ps)
    sp = sub.add_parser("logs")
    sp.add_argument("-f", "--follow", action="store_true")
    sp.add_argument("-n", "--tail", default="all")
    sp.add_argument("--since")
    sp.add_argument("--until")
    sp.add_argument("-t", "--timestamps", action="store_true")
    sp.add_argument("--details", action="store_true")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_logs)
    sp = sub.add_parser("inspect")
    sp.add_argument("-f", "--format")
    sp.add_argument("--type", choices=["container", "image", "network", "volume"])
    sp.add_argument("names", nargs="+")
    sp.set_defaults(func=cmd_inspect)
    sp = sub.add_parser("exec", interspersed=False)
    sp.add_argument("-d", "--detach", action="store_true")
    sp.add_argument("-i", "--interactive", action="store_true")
    sp.add_argument("-t", "--tty", action="store_true")
    sp.add_argument("-e", "--env", action="append", default=[], type=_env_var)
    sp.add_argument("--env-file", action="append", default=[])
    sp.add_argument("-u", "--user")
    sp.add_argument("-w", "--workdir")
    sp.add_argument("--privileged", action="store_true")
    sp.add_argument("--detach-keys")
    sp.add_argument("container")
    sp.add_argument("command", nargs="+")
    sp.set_defaults(func=cmd_exec)
    sp = sub.add_parser("wait")
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_wait)
    sp = sub.add_parser("attach")
    sp.add_argument("--no-stdin", action="store_true")
    sp.add_argument("--sig-proxy", action="store_true", default=True)  # accepted: no proxy
    sp.add_argument("--detach-keys")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_attach)
    sp = sub.add_parser("top")
    sp.add_argument("container")
    sp.add_argument("ps_args", nargs="...")
    sp.set_defaults(func=cmd_top)
    sp = sub.add_parser("update")
    _resource_args(sp)
    sp.add_argument("containers", nargs="+")
    sp.set_defaults(func=cmd_update)
    sp = sub.add_parser("diff")
    sp.add_argument("container")
    sp.set_defaults(func=cmd_diff)
    sp = sub.add_parser("commit")
    sp.add_argument("-a", "--author", default="")
    sp.add_argument("-m", "--message", default="")
    sp.add_argument("-c", "--change", action="append", default=[])
    sp.add_argument("-p", "--pause", action="store_true", default=True)
    sp.add_argument("container")
    sp.add_argument("reference", nargs="?")
    sp.set_defaults(func=cmd_commit)
    sp = sub.add_parser("rename")
    sp.add_argument("container")
    sp.add_argument("new_name")
    sp.set_defaults(func=cmd_rename)


# -- create / run --------------------------------------------------------------------

def _env_var(v: str) -> str:
    """-e K=V, or K (its value from here, if set): docker's opts.ValidateEnv."""
    if not v.partition("=")[0]:
        raise flags.ArgumentTypeError(f"invalid environment variable: {v}")
    return v


def _env_files(paths: list[str]) -> list[str]:
    out = []
    for p in paths:
        try:
            with open(p) as f:
                for line in f:
                    line = line.strip()
                    if line and not line.startswith("#"):
                        out.append(line)
        except OSError as err:
            raise UsageError(f"open {p}: no such file or directory") from err
    return out


def _body(a) -> dict:
    if a.rm and a.restart not in ("no", ""):
        raise UsageError("Conflicting options: --restart and --rm")
    if a.attach and a.detach:
        raise UsageError("Conflicting options: -a and -d")
    if a.no_healthcheck and any(v is not None for v in (
            a.health_cmd, a.health_interval, a.health_timeout, a.health_retries,
            a.health_start_period)):
        raise UsageError("--no-healthcheck conflicts with --health-* options")
    env = _env_files(a.env_file) + list(a.env)
    env = [e if "=" in e else f"{e}={os.environ[e]}" for e in env
           if "=" in e or e in os.environ]
    labels = {}
    for lab in _env_files(a.label_file) + a.label:  # label files: lines as env files
        k, _, v = lab.partition("=")
        labels[k] = v
    body: dict = {
        "Image": a.image, "Tty": a.tty, "OpenStdin": a.interactive,
        # docker/cli run: -d attaches nothing, so nothing closes stdin (StdinOnce off)
        "StdinOnce": a.interactive and not a.detach,
        "AttachStdin": a.interactive and not a.detach,
        "AttachStdout": not a.detach, "AttachStderr": not a.detach,
        "Env": env, "Labels": labels,
        "HostConfig": {"AutoRemove": a.rm, "NetworkMode": a.network or "default",
                       "ReadonlyRootfs": a.read_only},
    }
    if a.command:
        body["Cmd"] = list(a.command)
    if a.entrypoint is not None:
        body["Entrypoint"] = [a.entrypoint] if a.entrypoint else []
    for key, val in (("WorkingDir", a.workdir), ("User", a.user), ("Hostname", a.hostname),
                     ("Domainname", a.domainname), ("StopSignal", a.stop_signal),
                     ("StopTimeout", a.stop_timeout)):
        if val is not None:
            body[key] = val
    if a.runtime:
        body["HostConfig"]["Runtime"] = a.runtime
    if a.oom_score_adj is not None:
        body["HostConfig"]["OomScoreAdj"] = a.oom_score_adj
    if a.log_driver:
        body["HostConfig"]["LogConfig"] = {"Type": a.log_driver, "Config": {}}
    body["HostConfig"].update(_resource_fields(a))
    if a.shm_size is not None:
        body["HostConfig"]["ShmSize"] = a.shm_size
    if a.oom_kill_disable:
        body["HostConfig"]["OomKillDisable"] = True
    if a.ulimit:
        body["HostConfig"]["Ulimits"] = a.ulimit
    hc = body["HostConfig"]
    if a.cap_add:
        hc["CapAdd"] = a.cap_add
    if a.cap_drop:
        hc["CapDrop"] = a.cap_drop
    if a.privileged:
        hc["Privileged"] = True
    if a.security_opt:
        hc["SecurityOpt"] = [_security_opt(o) for o in a.security_opt]
    if a.device:
        hc["Devices"] = [parse_device(d) for d in a.device]
    if a.group_add:
        hc["GroupAdd"] = a.group_add
    for key, val in (("PidMode", a.pid), ("IpcMode", a.ipc), ("UTSMode", a.uts),
                     ("CgroupnsMode", a.cgroupns)):
        if val:
            hc[key] = val
    if a.tmpfs:
        hc["Tmpfs"] = dict((t.split(":", 1) + [""])[:2] for t in a.tmpfs)
    if a.sysctl:
        hc["Sysctls"] = dict((kv.split("=", 1) + [""])[:2] for kv in a.sysctl)
    # docker's CLI: -v /ctr is an anonymous volume (Config.Volumes), the rest are Binds
    binds = [v for v in a.volume if ":" in v]
    anonymous = [v for v in a.volume if ":" not in v]
    if binds:
        hc["Binds"] = binds
    if anonymous:
        body["Volumes"] = {v: {} for v in anonymous}
    if a.mount:
        hc["Mounts"] = a.mount
    if a.volumes_from:
        hc["VolumesFrom"] = a.volumes_from
    name, _, count = a.restart.partition(":")
    try:
        hc["RestartPolicy"] = {"Name": name, "MaximumRetryCount": int(count or 0)}
    except ValueError as err:
        raise UsageError("invalid restart policy format: maximum retry count must be an "
                         "integer") from err
    if a.attach:
        wanted = {s.lower() for s in a.attach}
        body.update(AttachStdin="stdin" in wanted, AttachStdout="stdout" in wanted,
                    AttachStderr="stderr" in wanted)
    if a.init is not None:
        hc["Init"] = True
    if a.log_opt:
        hc.setdefault("LogConfig", {"Type": a.log_driver or "", "Config": {}})
        hc["LogConfig"]["Config"] = dict((o.split("=", 1) + [""])[:2] for o in a.log_opt)
    if a.userns:
        hc["UsernsMode"] = a.userns
    hcheck = _healthcheck(a)
    if hcheck is not None:
        body["Healthcheck"] = hcheck
    _network_fields(a, body)
    return body


def _network_fields(a, body: dict) -> None:
    """-p/-P/--expose, --ip, --network-alias, --mac-address, --dns*, --add-host, --link."""
    from dockling.errors import InvalidArgument
    from dockling.formats.ports import parse_spec

    hc = body["HostConfig"]
    exposed: dict = {}
    bindings: dict = {}
    try:
        for spec in a.publish:
            for port, binding in parse_spec(spec):
                exposed[port] = {}
                bindings.setdefault(port, []).append(binding)
        for spec in a.expose:
            for port, _ in parse_spec(spec):
                exposed[port] = {}
    except InvalidArgument as err:
        raise UsageError(str(err)) from err
    if exposed:
        body["ExposedPorts"] = exposed
    if bindings:
        hc["PortBindings"] = bindings
    if a.publish_all:
        hc["PublishAllPorts"] = True
    for key, val in (("Dns", a.dns), ("DnsSearch", a.dns_search),
                     ("DnsOptions", a.dns_option), ("ExtraHosts", a.add_host),
                     ("Links", a.link)):
        if val:
            hc[key] = list(val)
    ep: dict = {}
    if a.ip or a.ip6:
        ep["IPAMConfig"] = {k: v for k, v in (("IPv4Address", a.ip), ("IPv6Address", a.ip6))
                            if v}
    if a.network_alias:
        ep["Aliases"] = list(a.network_alias)
    if a.mac_address:
        ep["MacAddress"] = a.mac_address
        body["MacAddress"] = a.mac_address
    if ep:
        net = a.network or "default"
        body["NetworkingConfig"] = {"EndpointsConfig": {
            "bridge" if net == "default" else net: ep}}


def _healthcheck(a) -> dict | None:
    """docker's CLI: --no-healthcheck is Test ["NONE"]; --health-cmd runs in a shell."""
    if a.no_healthcheck:
        return {"Test": ["NONE"]}
    hc: dict = {}
    if a.health_cmd:
        hc["Test"] = ["CMD-SHELL", a.health_cmd]
    for key, val in (("Interval", a.health_interval), ("Timeout", a.health_timeout),
                     ("StartPeriod", a.health_start_period),
                     ("StartInterval", a.health_start_interval),
                     ("Retries", a.health_retries)):
        if val is not None:
            if val < 0:
                raise UsageError(f"--health-{key.lower()} cannot be negative")
            hc[key] = val
    return hc or None


def _duration(v: str) -> int:
    """A Go duration (1h2m3s, 500ms) -> nanoseconds."""
    from dockling.clock import parse_duration

    try:
        return round(parse_duration(v) * 10**9)
    except ValueError as err:
        raise flags.ArgumentTypeError(str(err)) from err


def _mount(spec: str) -> dict:
    from dockling.cli.volumes import parse_mount

    return parse_mount(spec)


def _security_opt(opt: str) -> str:
    """seccomp=FILE is sent as the file's JSON, as the docker CLI does."""
    key, _, val = opt.partition("=")
    if key == "seccomp" and val not in ("unconfined", "") and not val.lstrip().startswith("{"):
        try:
            with open(val) as f:
                return "seccomp=" + f.read()
        except OSError as err:
            raise UsageError(f"opening seccomp profile ({val}) failed: {err.strerror}") from err
    return opt


# (flag, HostConfig key, parser) shared by run/create and update
_RESOURCE_FLAGS = [
    (("-m", "--memory"), "Memory", lambda v: _bytes(v)),
    (("--memory-swap",), "MemorySwap", lambda v: _bytes_or_unlimited(v)),
    (("--memory-reservation",), "MemoryReservation", lambda v: _bytes(v)),
    (("--cpus",), "NanoCpus", lambda v: _nano_cpus(v)),
    (("-c", "--cpu-shares"), "CpuShares", int),
    (("--cpu-period",), "CpuPeriod", int),
    (("--cpu-quota",), "CpuQuota", int),
    (("--cpuset-cpus",), "CpusetCpus", str),
    (("--cpuset-mems",), "CpusetMems", str),
    (("--pids-limit",), "PidsLimit", int),
    (("--blkio-weight",), "BlkioWeight", int),
]


def _resource_args(sp) -> None:
    for names, key, parse in _RESOURCE_FLAGS:
        sp.add_argument(*names, dest=key, type=parse, default=None)


def _resource_fields(a) -> dict:
    return {key: getattr(a, key) for _, key, _ in _RESOURCE_FLAGS
            if getattr(a, key) is not None}


def _bytes(v: str) -> int:
    from dockling.units import ram_in_bytes

    try:
        return ram_in_bytes(v)
    except ValueError as err:
        raise flags.ArgumentTypeError(str(err)) from err
    except OverflowError as err:  # inf, 1e400
        raise flags.ArgumentTypeError(f"invalid size: '{v}'") from err


def _bytes_or_unlimited(v: str) -> int:
    return -1 if v.strip() == "-1" else _bytes(v)


def _nano_cpus(v: str) -> int:
    try:
        return round(float(v) * 10**9)
    except (ValueError, OverflowError) as err:  # OverflowError: inf
        raise flags.ArgumentTypeError(f"failed to parse {v} as a rational number") from err


def _ulimit(v: str) -> dict:
    """nofile=1024[:2048]"""
    name, _, vals = v.partition("=")
    soft, _, hard = vals.partition(":")
    try:
        return {"Name": name, "Soft": int(soft), "Hard": int(hard or soft)}
    except ValueError as err:
        raise flags.ArgumentTypeError(f"invalid ulimit argument: {v}") from err


def _create(cli: Client, a) -> str:
    body = _body(a)
    params = {"name": a.name} if a.name else {}
    if a.platform:
        params["platform"] = a.platform
    cidfile = _cidfile(a.cidfile)
    try:
        out = _create_pulling(cli, a, body, params)
        if cidfile is not None:
            cidfile.write(out["Id"])
            cidfile.close()
    except BaseException:
        if cidfile is not None:  # docker's CLI removes it when the create fails
            cidfile.close()
            os.unlink(a.cidfile)
        raise
    for w in out.get("Warnings") or []:
        print(f"WARNING: {w}", file=sys.stderr)
    return out["Id"]


def _create_pulling(cli: Client, a, body: dict, params: dict) -> dict:
    """POST /containers/create, pulling the image first (--pull always) or when
    it is missing (--pull missing, docker's default). cli.registry is imported only
    to pull: it loads json and re (~19 ms of every run)."""
    if a.pull == "always":
        from dockling.cli.registry import pull

        pull(cli, a.image, sys.stderr, quiet=a.quiet, platform=a.platform)
    try:
        return cli.post("/containers/create", body, **params)
    except APIError as err:
        if err.status != 404 or "No such image" not in err.message or a.pull == "never":
            raise
    from dockling.cli.registry import pull
    from dockling.formats.reference import parse

    print(f"Unable to find image '{parse(a.image).familiar}' locally", file=sys.stderr)
    pull(cli, a.image, sys.stderr, quiet=a.quiet, platform=a.platform)
    return cli.post("/containers/create", body, **params)


def _cidfile(path: str | None):
    """--cidfile: made before the create (docker/cli's newCIDFile), its ID written after."""
    if not path:
        return None
    if os.path.exists(path):
        raise UsageError(f"container ID file found, make sure the other container isn't "
                         f"running or delete {path}")
    try:
        return open(path, "x")  # closed by _create
    except OSError as err:
        raise UsageError(f"failed to create the container ID file: {err}") from err


def cmd_create(cli: Client, a) -> int:
    print(_create(cli, a))
    return 0


def cmd_run(cli: Client, a) -> int:
    cid = _create(cli, a)
    trace = getattr(a, "trace", None)
    if a.detach:
        _start_or_exit(cli, cid, trace)
        print(cid)
        if trace:
            _print_trace(trace, _fetch_trace(cli, cid))
        return 0
    from dockling.cli.streams import Detached, pump

    want = {x.lower() for x in a.attach} or {"stdout", "stderr", *(
        ["stdin"] if a.interactive else [])}
    spec, keys = detach_keys(a)
    sock = cli.hijack(f"/containers/{cid}/attach", {
        "stream": True, "stdin": "stdin" in want, "stdout": "stdout" in want,
        "stderr": "stderr" in want, "detachKeys": spec or None})
    _start_or_exit(cli, cid, trace)
    # fetched now: an auto-removed container takes its trace along when it exits
    records = _fetch_trace(cli, cid) if trace else []
    try:
        pump(sock, tty_mode=a.tty, stdin="stdin" in want, detach_keys=keys,
             on_resize=lambda: _resize(cli, f"/containers/{cid}/resize"))
    except Detached:
        print("\r\nread escape sequence", file=sys.stderr)
        return 0
    finally:
        sock.close()
        if trace:
            _print_trace(trace, records)
    # The stream ends when the container does; the daemon remembers the
    # status of an auto-removed container for this call.
    return cli.post(f"/containers/{cid}/wait")["StatusCode"]


def _fetch_trace(cli: Client, cid: str) -> list[dict]:
    """The start's kernel calls. The container's init writes its last ones (seccomp,
    execve) after the start has answered: ask again for a moment until they are in."""
    from dockling.cli import trace

    records: list[dict] = []
    for _ in range(100):
        try:
            records = cli.get(f"/containers/{cid}/trace")
        except APIError:
            break  # gone (removed at exit): what we have
        if trace.complete(records):
            break
        time.sleep(0.02)
    return records


def _print_trace(mode: str, records: list[dict]) -> None:
    from dockling.cli import trace

    print(trace.render(records, as_json=mode == "json"), file=sys.stderr)


def parse_device(spec: str) -> dict:
    """--device /dev/x[:/dev/y[:rwm]] -> HostConfig.Devices entry (docker/cli
    parseDevice; here, not in the engine, whose module loaded the runtime)."""
    parts = spec.split(":")
    host = parts[0]
    inside = parts[1] if len(parts) > 1 and not set(parts[1]) <= set("rwm") else host
    perms = parts[-1] if len(parts) > 1 and set(parts[-1]) <= set("rwm") else "rwm"
    return {"PathOnHost": host, "PathInContainer": inside, "CgroupPermissions": perms}


def detach_keys(a) -> tuple[str, bytes]:
    """--detach-keys, else config.json's detachKeys (docker/cli), else docker's
    ctrl-p,ctrl-q: (as written, for the daemon, which ends the stream on them and
    refuses keys it cannot read; as bytes, for our watch of the terminal)."""
    from dockling.cli import dockerconfig
    from dockling.formats import detachkeys

    spec = getattr(a, "detach_keys", None)
    if not spec:
        try:
            spec = dockerconfig.load_config().get("detachKeys") or ""
        except UsageError:
            spec = ""
    try:
        return spec, detachkeys.parse(spec) if spec else detachkeys.DEFAULT
    except ValueError:
        return spec, detachkeys.DEFAULT  # the daemon answers with docker's error


def _start_or_exit(cli: Client, cid: str, trace: str | None = None) -> None:
    try:
        cli.post(f"/containers/{cid}/start", **({"trace": 1} if trace else {}))
    except APIError as err:
        print(f"dockling: Error response from daemon: {err.message}", file=sys.stderr)
        raise ExitCode(exec_error_code(err.message)) from err


def _resize(cli: Client, path: str) -> None:
    from dockling.cli.streams import terminal_size

    h, w = terminal_size()
    if h and w:
        try:
            cli.post(path, h=h, w=w)
        except APIError:
            pass


# -- lifecycle ----------------------------------------------------------------------------

def cmd_start(cli: Client, a) -> int:
    if a.attach or a.interactive:
        from dockling.cli.streams import Detached, pump

        cid = a.containers[0]
        info = cli.get(f"/containers/{cid}/json")
        tty = info["Config"]["Tty"]
        spec, keys = detach_keys(a)
        sock = cli.hijack(f"/containers/{cid}/attach", {
            "stream": True, "stdin": a.interactive, "stdout": True, "stderr": True,
            "detachKeys": spec or None})
        _start_or_exit(cli, cid)
        try:
            pump(sock, tty_mode=tty, stdin=a.interactive, detach_keys=keys)
        except Detached:
            return 0
        return cli.post(f"/containers/{cid}/wait")["StatusCode"]
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/start"))


def cmd_stop(cli: Client, a) -> int:
    params = {}
    if a.time is not None:
        params["t"] = a.time
    if a.signal:
        params["signal"] = a.signal
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/stop", **params))


def cmd_restart(cli: Client, a) -> int:
    params = {"t": a.time, "signal": a.signal}
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/restart", **params))


def cmd_kill(cli: Client, a) -> int:
    return each(a.containers,
                 lambda n: cli.post(f"/containers/{n}/kill", signal=a.signal))


def cmd_rm(cli: Client, a) -> int:
    params = {"force": a.force, "v": a.volumes}
    done = iter(_in_parallel(a.containers,
                             lambda n: cli.call("DELETE", f"/containers/{n}", params)))
    rc = 0
    for n in a.containers:
        try:
            next(done)()
            print(n)
        except APIError as err:
            if a.force and err.status == 404:
                continue  # docker/cli: rm -f of what is not there is no error, and silent
            print(f"Error response from daemon: {err.message}", file=sys.stderr)
            rc = 1
    return rc


_PARALLEL = 50  # docker/cli's parallelOperation: at most 50 requests out at once


def _in_parallel(names: list[str], fn) -> list:
    """fn(name) for every name, the requests out together as docker/cli sends
    them (rm -f of many: the daemon kills and waits for all at once). For each
    name in order, a callable that returns its result or raises its error, so
    the caller prints in the given order. One name: no thread (nor their import)."""
    results: list = [None] * len(names)

    def one(i: int) -> None:
        try:
            out = fn(names[i])
            results[i] = lambda: out
        except Exception as err:  # noqa: BLE001 - raised in the caller's thread, in order
            results[i] = lambda err=err: _raise(err)  # (``err`` is unbound after except)

    if len(names) == 1:
        one(0)
        return results
    import threading

    slots = threading.BoundedSemaphore(_PARALLEL)

    def held(i: int) -> None:
        try:
            one(i)
        finally:
            slots.release()

    threads = []
    for i in range(len(names)):
        slots.acquire()
        threads.append(threading.Thread(target=held, args=(i,), daemon=True))
        threads[-1].start()
    for t in threads:
        t.join()
    return results


def _raise(err: Exception):
    raise err


def cmd_wait(cli: Client, a) -> int:
    rc = 0
    for n in a.containers:
        try:
            print(cli.post(f"/containers/{n}/wait")["StatusCode"])
        except APIError as err:
            print(f"Error response from daemon: {err.message}", file=sys.stderr)
            rc = 1
    return rc


def cmd_update(cli: Client, a) -> int:
    body = _resource_fields(a)
    return each(a.containers, lambda n: cli.post(f"/containers/{n}/update", body))


def cmd_diff(cli: Client, a) -> int:
    for ch in cli.get(f"/containers/{a.container}/changes") or []:
        print(f"{'CAD'[ch['Kind']]} {ch['Path']}")
    return 0


def cmd_commit(cli: Client, a) -> int:
    params: dict = {"container": a.container, "comment": a.message, "author": a.author,
                    "changes": a.change, "pause": a.pause}
    if a.reference:
        from dockling.formats.reference import parse

        ref = parse(a.reference)
        params.update(repo=ref.familiar_name, tag=ref.tag)
    print(cli.call("POST", "/commit", params)["Id"])
    return 0


def cmd_rename(cli: Client, a) -> int:
    cli.post(f"/containers/{a.container}/rename", name=a.new_name)
    return 0


def cmd_top(cli: Client, a) -> int:
    params = {"ps_args": " ".join(a.ps_args)} if a.ps_args else {}
    t = cli.get(f"/containers/{a.container}/top", **params)
    rows = [dict(zip(t["Titles"], p)) for p in t["Processes"]]
    from dockling.cli.format import table  # here: rm, run and exec need none of it

    print(table(rows, [(h, h) for h in t["Titles"]]))
    return 0


# -- ps ---------------------------------------------------------------------------------

def ports_text(ports: list[dict]) -> str:
    """docker/cli DisplayablePorts: 0.0.0.0:8080->80/tcp, 443/tcp; consecutive ports
    grouped (8000-8002/tcp)."""
    groups: dict[str, list[int]] = {}
    order: list[str] = []
    result, host_mappings = [], []

    def host(ip: str, port) -> str:
        return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"

    for p in sorted(ports, key=lambda p: (p.get("PrivatePort", 0), p.get("IP") or "",
                                          p.get("PublicPort") or 0, p.get("Type", ""))):
        current, key = p.get("PrivatePort", 0), p.get("Type", "")
        ip = p.get("IP") or ""
        if ip:
            if (p.get("PublicPort") or 0) != current:
                host_mappings.append(f"{host(ip, p.get('PublicPort') or 0)}->{current}/"
                                     f"{p.get('Type', '')}")
                continue
            key = ip + "/" + key
        g = groups.get(key)
        if g is None:
            groups[key] = [current, current]
            order.append(key)
        elif current == g[1] + 1:
            g[1] = current
        else:
            result.append(_port_group(key, *g))
            groups[key] = [current, current]
    result += [_port_group(k, *groups[k]) for k in order]
    return ", ".join(result + host_mappings)


def _port_group(key: str, first: int, last: int) -> str:
    ip, _, typ = key.rpartition("/")
    group = str(first) if first == last else f"{first}-{last}"
    if ip:
        group = f"{f'[{ip}]' if ':' in ip else ip}:{group}->{group}"
    return group + "/" + typ


def _truncate_id(ref: str) -> str:
    """stringid.TruncateID: what follows the first colon, 12 characters of it."""
    return ref.split(":", 1)[-1][:12]


def ellipsis(s: str, width: int) -> str:
    """docker/cli formatter.Ellipsis (display width; ASCII the common case)."""
    if width <= 0:
        return ""
    if len(s) <= width:
        return s
    return s[:width - 1] + "…"


def _familiar(image: str) -> str:
    """reference.FamiliarString of a tag reference, the name alone for a digest one."""
    name = image.partition("@")[0]
    for prefix in ("docker.io/library/", "index.docker.io/library/", "docker.io/",
                   "index.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
            break
    return name


def _ps_image(c: dict, trunc: bool) -> str:
    """docker/cli ContainerContext.Image: an image given by ID (a build's RUN container)
    is shown truncated."""
    image = c.get("Image") or ""
    if not image:
        return "<no image>"
    if trunc:
        if _truncate_id(c.get("ImageID") or "") == _truncate_id(image):
            return _truncate_id(image)
        return _familiar(image)
    return image


def _names(c: dict, trunc: bool) -> str:
    names = [n[1:] for n in c.get("Names") or []]
    if trunc:
        for n in names:
            if "/" not in n:  # a link's name (/web/db) is not the container's own
                names = [n]
                break
    return ",".join(names)


def _local_time(ts: float) -> str:
    """time.Unix(ts, 0).String() in the local zone."""
    t = time.localtime(ts)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", t) + (t.tm_zone or "")


def _ps_row(c: dict, no_trunc: bool) -> dict:
    """One container as docker/cli's ContainerContext presents it."""
    from dockling.cli.format import TypedNil, ago
    from dockling.units import human_size

    trunc = not no_trunc
    labels = c.get("Labels") or {}
    mounts = c.get("Mounts") or []
    srw, srootfs = c.get("SizeRw") or 0, c.get("SizeRootFs") or 0
    size = human_size(srw)
    if srootfs > 0:
        size += f" (virtual {human_size(srootfs)})"
    return {"ID": _truncate_id(c["Id"]) if trunc else c["Id"],
            "Names": _names(c, trunc), "Image": _ps_image(c, trunc),
            "Command": quote_go(ellipsis(c.get("Command") or "", 20) if trunc else
                                c.get("Command") or ""),
            "CreatedAt": _local_time(c.get("Created") or 0),
            "RunningFor": ago(c.get("Created") or 0), "Ports": ports_text(c.get("Ports") or []),
            "State": c.get("State") or "", "Status": c.get("Status") or "", "Size": size,
            "Labels": ",".join(sorted(f"{k}={v}" for k, v in labels.items())),
            "Mounts": ",".join((ellipsis(m.get("Name") or m.get("Source") or "", 15) if trunc
                                else m.get("Name") or m.get("Source") or "") for m in mounts),
            "LocalVolumes": str(sum(1 for m in mounts if m.get("Driver") == "local")),
            "Networks": ",".join((c.get("NetworkSettings") or {}).get("Networks") or {}),
            "Platform": TypedNil("*formatter.Platform"), "_labels": labels}


def quote_go(s: str) -> str:
    """strconv.Quote for the common (printable) case."""
    if all(" " <= ch < "\x7f" or ord(ch) > 0x9f for ch in s):
        return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'
    from dockling.cli.gotemplate.strconv import quote

    return quote(s)


def cmd_ps(cli: Client, a) -> int:
    params: dict = {"all": a.all or a.latest or a.last > 0}
    if a.latest:
        params["limit"] = 1
    elif a.last > 0:
        params["limit"] = a.last
    if a.filter:
        params["filters"] = filters(a.filter)
    fmt = a.format
    if fmt and not a.quiet and fmt not in ("table", "raw"):
        # docker/cli checks the template on an empty container first (and asks for sizes
        # when it uses .Size)
        from dockling.cli.formatter import check_template

        empty = _ps_row({"Id": "", "Created": 0}, a.no_trunc)
        if check_template(fmt, "formatter.ContainerContext", empty, "Size"):
            params["size"] = True
    if a.size:
        params["size"] = True
    cs = cli.get("/containers/json", **params)
    rows = [_ps_row(c, a.no_trunc) for c in cs]
    columns = [("CONTAINER ID", "ID"), ("IMAGE", "Image"), ("COMMAND", "Command"),
               ("CREATED", "RunningFor"), ("STATUS", "Status"), ("PORTS", "Ports"),
               ("NAMES", "Names")]
    if a.size:
        columns.append(("SIZE", "Size"))
    raw = PS_RAW + ("size: {{.Size}}\\n" if a.size else "")
    from dockling.cli.format import print_list

    print_list(rows, columns, PS_HEADERS, fmt, "ID" if a.quiet else None,
               "formatter.ContainerContext", (raw, "container_id: {{.ID}}"), quiet_wins=True)
    return 0


# docker/cli NewContainerFormat's raw format
PS_RAW = ("container_id: {{.ID}}\nimage: {{.Image}}\ncommand: {{.Command}}\n"
          "created_at: {{.CreatedAt}}\nstate: {{- pad .State 1 0}}\n"
          "status: {{- pad .Status 1 0}}\nnames: {{.Names}}\nlabels: {{- pad .Labels 1 0}}\n"
          "ports: {{- pad .Ports 1 0}}\n")


# -- logs / inspect --------------------------------------------------------------------------

def cmd_logs(cli: Client, a) -> int:
    from dockling.formats.stdcopy import STDERR, Frames

    info = cli.get(f"/containers/{a.container}/json")
    resp = cli.open("GET", f"/containers/{a.container}/logs", {
        "stdout": True, "stderr": True, "follow": a.follow, "tail": a.tail,
        "since": a.since, "until": a.until, "timestamps": a.timestamps,
        "details": a.details})
    out, err = sys.stdout.buffer, sys.stderr.buffer
    if info["Config"]["Tty"]:
        while chunk := resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536):
            out.write(chunk)
            out.flush()
        return 0
    frames = Frames()
    while chunk := resp.read1(65536) if hasattr(resp, "read1") else resp.read(65536):
        for stream, payload in frames.feed(chunk):  # complete frames as they come (-f)
            (err if stream == STDERR else out).write(payload)
        out.flush()
        err.flush()
    return 0


_INSPECT_KINDS = (("container", "/containers/{}/json", "container.InspectResponse"),
                  ("image", "/images/{}/json", "image.InspectResponse"),
                  ("network", "/networks/{}", "network.Inspect"),
                  ("volume", "/volumes/{}", "volume.Volume"))


def cmd_inspect(cli: Client, a) -> int:
    """docker inspect: the first of container, image, network, volume with that name
    (--type: that kind only), each typed as docker types it for --format."""
    from urllib.parse import quote

    docs, errors = [], []
    for n in a.names:
        doc = None
        for kind, path, go_type in _INSPECT_KINDS:
            if a.type not in (None, kind):
                continue
            try:
                # a network's name may hold spaces; an image reference keeps / and :
                doc = (cli.get(path.format(quote(n, safe="/:@"))), go_type)
                break
            except APIError as err:
                # docker/cli isErrSkippable: not found, or not this kind's kind of name
                skippable = err.status == 404 or "not supported" in err.message or \
                    "invalid reference format" in err.message
                if not skippable or a.type == kind:
                    errors.append(f"Error response from daemon: {err.message}")
                    doc = False
                    break
        if doc is None:
            errors.append(f"Error: No such object: {n}")
        elif doc:
            docs.append(doc)
    if not a.format:
        return print_documents([d for d, _ in docs], None, errors=errors)
    return print_documents(docs, a.format, errors=errors)


# -- exec / attach -----------------------------------------------------------------------------

def cmd_exec(cli: Client, a) -> int:
    from dockling.cli.streams import Detached, pump

    body = {"AttachStdin": a.interactive, "AttachStdout": not a.detach,
            "AttachStderr": not a.detach, "Tty": a.tty, "Cmd": list(a.command),
            "Env": _env_files(a.env_file) + list(a.env), "Privileged": a.privileged}
    if a.user:
        body["User"] = a.user
    if a.workdir:
        body["WorkingDir"] = a.workdir
    spec, keys = detach_keys(a)
    if spec:
        body["DetachKeys"] = spec
    eid = cli.post(f"/containers/{a.container}/exec", body)["Id"]
    try:
        if a.detach:
            cli.post(f"/exec/{eid}/start", {"Detach": True, "Tty": a.tty})
            return 0
        sock = cli.hijack(f"/exec/{eid}/start", body={"Detach": False, "Tty": a.tty})
    except APIError as err:
        print(f"Error response from daemon: {err.message}", file=sys.stderr)
        raise ExitCode(exec_error_code(err.message) if exec_error_code(
            err.message) != 125 else 126) from err
    try:
        pump(sock, tty_mode=a.tty, stdin=a.interactive, detach_keys=keys,
             on_resize=lambda: _resize(cli, f"/exec/{eid}/resize"))
    except Detached:
        return 0
    finally:
        sock.close()
    for _ in range(200):
        info = cli.get(f"/exec/{eid}/json")
        if info["ExitCode"] is not None and not info["Running"]:
            return info["ExitCode"]
        time.sleep(0.01)
    return 0


def cmd_attach(cli: Client, a) -> int:
    from dockling.cli.streams import Detached, pump

    info = cli.get(f"/containers/{a.container}/json")
    if not info["State"]["Running"]:  # docker's CLI checks here (the API would wait for a start)
        print("You cannot attach to a stopped container, start it first", file=sys.stderr)
        return 1
    stdin = not a.no_stdin and info["Config"]["OpenStdin"]
    spec, keys = detach_keys(a)
    sock = cli.hijack(f"/containers/{a.container}/attach", {
        "stream": True, "stdin": stdin, "stdout": True, "stderr": True,
        "detachKeys": spec or None})
    try:
        pump(sock, tty_mode=info["Config"]["Tty"], stdin=stdin, detach_keys=keys,
             on_resize=lambda: _resize(cli, f"/containers/{a.container}/resize"))
    except Detached:
        print("\r\nread escape sequence", file=sys.stderr)
        return 0
    return cli.post(f"/containers/{a.container}/wait")["StatusCode"]

