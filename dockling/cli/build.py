"""`dockling build` (also `image build`, `builder build`) and `builder prune`.

The classic builder's client, as docker/cli cli/command/image/build.go is: make the
context (buildcontext.py), send it to POST /build with the options as query parameters
(moby's client/image_build.go imageBuildOptionsToQuery: only what differs from the
daemon's defaults), and show the JSON stream that comes back (buildprogress.py). An
error in the stream exits with its code (the failed RUN's status), or 1.

Only the flags' set-up runs at import: the context and the views load when a build runs.
"""

from __future__ import annotations

import os
import sys

from dockling.cli import flags
from dockling.cli.main import ExitCode, UsageError
from dockling.client.http import APIError, Client

# BuildKit's flags: the classic builder's CLI does not have them
_BUILDKIT_ONLY = ("secret", "ssh", "no-cache-filter", "cache-to", "output")
_PROGRESS = ("auto", "plain", "tty")
# go-units ulimitNameMapping
_ULIMITS = ("core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile",
            "nproc", "rss", "rtprio", "rttime", "sigpending", "stack")
_WHITESPACE = " \t"
_PROXIES = (("httpProxy", "HTTP_PROXY"), ("httpsProxy", "HTTPS_PROXY"),
            ("noProxy", "NO_PROXY"), ("ftpProxy", "FTP_PROXY"), ("allProxy", "ALL_PROXY"))


def register(sub) -> None:
    sp = sub.add_parser("build", usage="dockling build [OPTIONS] PATH | URL | -",
                        description="Build an image from a Dockerfile")
    _build_args(sp)
    sp.set_defaults(func=cmd_build)
    builder = sub.add_parser("builder", description="Manage builds")
    bsub = builder.add_subparsers(dest="builder_cmd")
    sp = bsub.add_parser("prune", description="Remove build cache")
    sp.add_argument("-a", "--all", action="store_true",
                    help="Remove all unused build cache, not just dangling ones")
    sp.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    sp.add_argument("--filter", action="append", default=[],
                    help='Provide filter values (e.g. "until=24h")')
    sp.add_argument("--keep-storage", help="Amount of disk space to keep for cache")
    sp.set_defaults(func=cmd_builder_prune)


def _build_args(sp) -> None:
    add = sp.add_argument
    add("-t", "--tag", action="append", default=[],
        help='Name and optionally a tag in the "name:tag" format')
    add("-f", "--file", default="", help='Name of the Dockerfile (Default is "PATH/Dockerfile")')
    add("--build-arg", action="append", default=[], help="Set build-time variables")
    add("--label", action="append", default=[], help="Set metadata for an image")
    add("--target", default="", help="Set the target build stage to build.")
    add("--iidfile", default="", help="Write the image ID to the file")
    add("-q", "--quiet", action="store_true",
               help="Suppress the build output and print image ID on success")
    add("--no-cache", action="store_true", help="Do not use cache when building the image")
    add("--pull", action="store_true", help="Always attempt to pull a newer version of the image")
    add("--rm", action="store_true", default=True,
               help="Remove intermediate containers after a successful build (default true)")
    add("--force-rm", action="store_true", help="Always remove intermediate containers")
    add("--compress", action="store_true", help="Compress the build context using gzip")
    add("--squash", action="store_true", help="Squash newly built layers into a single new layer "
               "(experimental: refused)")
    # deprecated by docker (content trust is gone): accepted and ignored
    add("--disable-content-trust", action="store_true", default=True, help=flags.SUPPRESS)
    add("--network", default="default",
        help="Set the networking mode for the RUN instructions during build")
    add("--add-host", action="append", default=[],
        help='Add a custom host-to-IP mapping ("host:ip")')
    add("--shm-size", help='Size of "/dev/shm"')
    add("--ulimit", action="append", default=[], help="Ulimit options")
    add("-m", "--memory", help="Memory limit")
    add("--memory-swap", help="Swap limit equal to memory plus swap: -1 to enable unlimited "
        "swap")
    add("-c", "--cpu-shares", type=int, default=0, help="CPU shares (relative weight)")
    add("--cpu-period", type=int, default=0, help="Limit the CPU CFS period")
    add("--cpu-quota", type=int, default=0, help="Limit the CPU CFS quota")
    add("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    add("--cpuset-mems", default="", help="MEMs in which to allow execution (0-3, 0,1)")
    add("--cgroup-parent", default="", help='Set the parent cgroup for the "RUN" instructions')
    add("--security-opt", action="slice", default=[], help="Security options")
    add("--platform", default=os.environ.get("DOCKER_DEFAULT_PLATFORM", ""),
        help="Set platform if server is multi-platform capable")
    add("--cache-from", action="slice", default=[], help="Images to consider as cache sources")
    add("--isolation", default="", help="Container isolation technology")
    add("--progress", default="auto",
        help="Set type of progress output (auto, plain, tty). Use plain to show container "
        "output")
    for name in _BUILDKIT_ONLY:
        add(f"--{name}", dest=f"buildkit_{name.replace('-', '_')}", action="append",
            default=[], help=flags.SUPPRESS)
    add("context", metavar="PATH | URL | -")


# -- options -> query -----------------------------------------------------------------------

def _flag_error(value: str, flag: str, why: str) -> UsageError:
    """pflag's words for a value a flag refuses."""
    return UsageError(f'invalid argument "{value}" for "{flag}" flag: {why}\n'
                      "See 'dockling build --help'.")


def _size(value: str | None, flag: str, minus_one: bool = False) -> int:
    """opts.MemBytes (units.RAMInBytes); MemSwapBytes also takes -1 (unlimited)."""
    from dockling.units import ram_in_bytes

    if not value:
        return 0
    if minus_one and value.strip() == "-1":
        return -1
    try:
        return ram_in_bytes(value)
    except ValueError as err:
        raise _flag_error(value, flag, str(err)) from None


def build_args(items: list[str], env) -> dict[str, str | None]:
    """--build-arg K=V; a bare K takes K's value from the environment (opts.ValidateEnv)
    and, when K is unset, goes as null (ConvertKVStringsToMapWithNil): the daemon then
    uses the Dockerfile's ARG default."""
    out: dict[str, str | None] = {}
    for item in items:
        key, eq, value = item.partition("=")
        if not key:
            raise _flag_error(item, "--build-arg", f"invalid environment variable: {item}")
        out[key] = value if eq else env.get(key)
    return out


def add_proxies(args: dict[str, str | None], cfg: dict, host: str) -> None:
    """config.json "proxies" as build args, upper and lower case, unless given
    (docker/cli configfile ParseProxyConfig): the daemon's own entry, else "default"."""
    proxies = cfg.get("proxies") or {}
    conf = proxies.get(host) if host in proxies else proxies.get("default")
    for key, name in _PROXIES:
        value = (conf or {}).get(key)
        if value:
            args.setdefault(name, value)
            args.setdefault(name.lower(), value)


def labels(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        name = key.lstrip(_WHITESPACE)
        if not name:
            raise _flag_error(item, "--label", f"invalid label '{item}': empty name")
        if any(c in name for c in _WHITESPACE):
            raise _flag_error(item, "--label", f"label '{name}' contains whitespaces")
        out[key] = value
    return out


def extra_host(value: str) -> str:
    """opts.ValidateExtraHost: host:ip or host=ip ([ip] too), sent as host:ip."""
    import ipaddress

    host, eq, ip = value.partition("=")
    if not eq:
        host, eq, ip = value.partition(":")
    if not eq or not host or ":" in host:
        raise _flag_error(value, "--add-host", f'bad format for add-host: "{value}"')
    if ip != "host-gateway":
        if len(ip) > 2 and ip[0] == "[" and ip[-1] == "]":
            ip = ip[1:-1]
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            raise _flag_error(value, "--add-host",
                              f'invalid IP address in add-host: "{ip}"') from None
    return f"{host}:{ip}"


def ulimits(items: list[str]) -> list[dict]:
    """go-units ParseUlimit: name=soft[:hard]; one per name (the last wins), sorted."""
    out: dict[str, dict] = {}
    for item in items:
        name, eq, vals = item.partition("=")
        if not eq:
            raise _flag_error(item, "--ulimit", f"invalid ulimit argument: {item}")
        if name not in _ULIMITS:
            raise _flag_error(item, "--ulimit", f"invalid ulimit type: {name}")
        parts = vals.split(":")
        if len(parts) > 2:
            raise _flag_error(item, "--ulimit", f"too many limit value arguments - {vals}, can "
                              "only have up to two, `soft[:hard]`")
        try:
            soft = int(parts[0])
            hard = int(parts[1]) if len(parts) == 2 else soft
        except ValueError as err:
            raise _flag_error(item, "--ulimit", f"strconv.ParseInt: {err}") from None
        if hard != -1 and soft > hard:
            raise _flag_error(item, "--ulimit", "ulimit soft limit must be less than or equal "
                              f"to hard limit: {soft} > {hard}")
        out[name] = {"Name": name, "Hard": hard, "Soft": soft}
    return [out[n] for n in sorted(out)]


def check(a) -> None:
    """What the classic builder refuses before anything is sent."""
    for name in _BUILDKIT_ONLY:
        if getattr(a, f"buildkit_{name.replace('-', '_')}"):
            raise UsageError(f"unknown flag: --{name} (BuildKit only: dockling has the classic "
                             "builder)\nSee 'dockling build --help'.")
    if a.squash:
        raise UsageError("squash is only supported with experimental mode")  # moby's daemon
    if a.isolation and a.isolation.lower() != "default":
        # moby's build route on Linux: Isolation.IsValid is IsDefault
        raise UsageError(f'unsupported isolation: "{a.isolation}"')
    if a.progress not in _PROGRESS:
        raise UsageError(f'invalid progress mode "{a.progress}": choose auto, plain or tty')


def _json(v) -> str:
    import json  # compact, as docker's client sends it (its import loads re: here only)

    return json.dumps(v, separators=(",", ":"))


def query(a, env=os.environ, cfg: dict | None = None, host: str = "") -> dict:
    """POST /build's query parameters for the parsed flags, named and sent as moby's
    client sends them; ``dockerfile`` and ``remote`` come from the context."""
    args = build_args(a.build_arg, env)
    add_proxies(args, cfg or {}, host)
    q: dict = {}
    if a.tag:
        q["t"] = list(a.tag)
    if a.security_opt:
        q["securityopt"] = a.security_opt
    if a.add_host:
        q["extrahosts"] = [extra_host(h) for h in a.add_host]
    flags = {"q": a.quiet, "nocache": a.no_cache, "forcerm": a.force_rm, "pull": a.pull}
    q.update({k: "1" for k, on in flags.items() if on})
    if not a.rm:
        q["rm"] = "0"  # the daemon removes intermediate containers unless told not to
    if a.network and a.network != "default":
        q["networkmode"] = a.network
    numbers = {"cpushares": a.cpu_shares, "cpuquota": a.cpu_quota, "cpuperiod": a.cpu_period,
               "memory": _size(a.memory, "-m, --memory"),
               "memswap": _size(a.memory_swap, "--memory-swap", minus_one=True),
               "shmsize": _size(a.shm_size, "--shm-size")}
    q.update({k: str(v) for k, v in numbers.items() if v})
    texts = {"cpusetcpus": a.cpuset_cpus, "cpusetmems": a.cpuset_mems,
             "cgroupparent": a.cgroup_parent, "target": a.target, "platform": a.platform}
    q.update({k: v for k, v in texts.items() if v})
    if a.ulimit:
        q["ulimits"] = _json(ulimits(a.ulimit))
    if args:
        q["buildargs"] = _json(args)
    if a.label:
        q["labels"] = _json(labels(a.label))
    if a.cache_from:
        q["cachefrom"] = _json(a.cache_from)
    q["version"] = "1"  # BuilderV1: the classic builder
    return q


# -- credentials ----------------------------------------------------------------------------

def _config() -> dict:
    from dockling.cli import dockerconfig

    try:
        return dockerconfig.load_config()
    except UsageError:
        return {}  # docker warns about a broken config.json and goes on without it


def registry_config() -> str:
    """X-Registry-Config: base64url JSON of every credential config.json knows, keyed by
    registry, for FROM's pulls."""
    import base64

    from dockling.cli import dockerconfig

    try:
        auths = dockerconfig.all_credentials()
    except Exception:  # noqa: BLE001 - docker/cli runBuild drops GetAllCredentials' error
        auths = {}
    return base64.urlsafe_b64encode(_json(auths).encode()).decode()


# -- build ----------------------------------------------------------------------------------

def _remove_stale(path: str) -> None:
    """docker: no stale --iidfile is left behind if the build fails."""
    try:
        os.remove(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        raise UsageError(f"removing image ID file: remove {path}: "
                         f"{err.strerror.lower()}") from err


def _fail(message: str, code: int = 1) -> ExitCode:
    print(message, file=sys.stderr)
    return ExitCode(code)


def cmd_build(cli: Client, a) -> int:
    from dockling.cli import buildcontext, buildprogress
    from dockling.cli.system import json_lines

    check(a)
    cfg = _config()
    q = query(a, os.environ, cfg, "unix://" + cli.sock)
    if a.iidfile:
        _remove_stale(a.iidfile)
    try:
        ctx = buildcontext.prepare(a.context, a.file, sys.stdin.buffer, a.compress)
    except buildcontext.ContextError as err:
        raise _fail(str(err)) from None
    if ctx.dockerfile:
        q["dockerfile"] = ctx.dockerfile
    if ctx.remote:
        q["remote"] = ctx.remote
    headers = {"Content-Type": "application/x-tar", "X-Registry-Config": registry_config()}
    view = buildprogress.choose(a.progress, a.quiet)
    body = buildprogress.Upload(ctx.body, view.sending) if ctx.body is not None else None
    view.start()
    try:
        resp = cli.open("POST", "/build", q, body, headers)
        try:
            res = buildprogress.run(json_lines(resp), view)
        except ValueError as err:  # not JSON: jsonmessage's decoder error
            res = buildprogress.Result(error=f"error decoding the build output: {err}", code=1)
        finally:
            resp.close()
    except APIError:
        view.stop()
        if a.quiet:
            sys.stderr.write(view.progress)
        raise
    except buildcontext.ContextError as err:  # a file broke off mid-upload
        view.stop()
        raise _fail(str(err)) from None
    except BaseException:
        view.stop()
        raise
    view.finish(res)
    return _result(a, view, res)


def _result(a, view, res) -> int:
    """After the stream: the error's exit status, -q's output, --iidfile."""
    if res.error is not None:
        if a.quiet:
            sys.stderr.write(view.progress + view.output)
        raise _fail(res.error, res.code)
    image_id = res.image_id
    if a.quiet:
        text = view.output
        sys.stdout.write(text if text else (image_id + "\n" if image_id else ""))
        sys.stdout.flush()
        lines = text.split()
        image_id = image_id or (lines[-1] if lines else "")
    if a.iidfile:
        if not image_id:
            raise _fail(f"server did not provide an image ID. Cannot write {a.iidfile}")
        with open(a.iidfile, "w") as f:
            f.write(image_id)  # no newline, as docker writes it
    return 0


# -- builder prune --------------------------------------------------------------------------

def cmd_builder_prune(cli: Client, a) -> int:
    from dockling.cli.common import confirm, filters
    from dockling.units import human_size4

    keep = _size(a.keep_storage, "--keep-storage")
    f = filters(a.filter)
    # docker/cli cli/command/builder/prune.go
    warning = ("WARNING! This will remove all build cache." if a.all else
               "WARNING! This will remove all dangling build cache.")
    if not a.force and not confirm(warning):
        return 0
    params = {"all": "1" if a.all else None, "keep-storage": str(keep) if keep else None,
              "filters": _json(f) if f else None}
    out = cli.call("POST", "/build/prune", params)
    deleted = out.get("CachesDeleted") or []
    if deleted:
        print("Deleted build cache objects:\n" + "".join(f"{i}\n" for i in deleted))
    print(f"Total reclaimed space: {human_size4(out.get('SpaceReclaimed') or 0)}")
    return 0
