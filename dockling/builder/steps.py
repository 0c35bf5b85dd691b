"""What each Dockerfile instruction does to a stage's image config — pure
data in, data out (no files, no containers).

A stage's state is its image config (an ``ImageConfig``: ``config`` holds
Env, Cmd, Entrypoint...), the build args it has declared, and whether CMD
was set in this stage (ENTRYPOINT resets an inherited CMD). ``apply``
changes the config for the metadata instructions and returns the history
text of the step (BuildKit's ``created_by`` wording, e.g. ``ENV A=b``,
``CMD ["sh" "-c" "x"]``: Go's %q of the list, as BuildKit writes it).

Variables: ENV values override ARG values of the same name (docker docs,
"Using ARG variables"); the predefined proxy args may be given without an
ARG and are never written to the image or its history.
"""

from __future__ import annotations

import copy
import json
import platform as _platform
import posixpath

from dockling.builder import dockerfile as df
from dockling.builder.expand import expand_word, expand_words
from dockling.containers.model import Empty
from dockling.errors import InvalidArgument
from dockling.images.model import ContainerConfig, ImageConfig, RootFS

DEFAULT_SHELL = ["/bin/sh", "-c"]
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# docker's predefined ARGs (docs "Predefined ARGs"): usable without a
# declaration, left out of history and of the cache key
PROXY_ARGS = frozenset({"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY",
                        "ftp_proxy", "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"})
_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386",
         "ppc64le": "ppc64le", "s390x": "s390x", "riscv64": "riscv64"}


def host_platform() -> tuple[str, str]:
    return "linux", _ARCH.get(_platform.machine(), _platform.machine())


def platform_args(target: str | None) -> dict[str, str]:
    """BuildKit's automatic platform ARGs (available once declared)."""
    os_, arch = host_platform()
    build = f"{os_}/{arch}"
    tgt = target or build
    t_os, _, rest = tgt.partition("/")
    t_arch, _, t_variant = rest.partition("/")
    return {"BUILDPLATFORM": build, "BUILDOS": os_, "BUILDARCH": arch, "BUILDVARIANT": "",
            "TARGETPLATFORM": tgt, "TARGETOS": t_os, "TARGETARCH": t_arch or arch,
            "TARGETVARIANT": t_variant}


def go_quote_list(items: list[str]) -> str:
    """Go's fmt %q of a []string: ["a" "b"] (BuildKit's history wording)."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


class Stage:
    """The running state of one build stage."""

    def __init__(self, index: int, name: str | None, image_id: str,
                 image: ImageConfig) -> None:
        self.index = index
        self.name = name
        self.image_id = image_id
        self.image = image
        self.args: dict[str, str | None] = {}
        self.cmd_set = False
        self.onbuild_done = False

    @property
    def config(self) -> ContainerConfig:
        if self.image.config is None:
            self.image.config = ContainerConfig()
        return self.image.config

    def env(self) -> dict[str, str]:
        out = {}
        for kv in self.config.Env or []:
            k, _, v = kv.partition("=")
            out[k] = v
        return out

    def variables(self) -> dict[str, str]:
        """What $NAME means in this stage: ARGs, overridden by ENV."""
        return {**{k: v for k, v in self.args.items() if v is not None}, **self.env()}

    def shell(self) -> list[str]:
        return list(self.config.Shell or DEFAULT_SHELL)

    def run_args(self, build_args: dict[str, str | None]) -> dict[str, str]:
        """Build args a RUN sees as environment (declared ones, and proxies given)."""
        out = {k: v for k, v in self.args.items() if v is not None}
        for k in PROXY_ARGS:
            if build_args.get(k) is not None:
                out[k] = build_args[k]  # type: ignore[assignment]
        return out


def base_image(config: ImageConfig | None) -> ImageConfig:
    """A new stage's image config from its base (scratch: an empty one). The
    committing container of a base made by docker commit is not the stage's."""
    os_, arch = host_platform()
    img = copy.deepcopy(config) if config else ImageConfig(
        architecture=arch, os=os_, config=ContainerConfig(),
        rootfs=RootFS(type="layers"), history=[])
    img.container, img.container_config = "", None
    cfg = img.config = img.config or ContainerConfig()
    env = cfg.Env or []
    if not any(e.startswith("PATH=") for e in env):  # BuildKit's default PATH (dockerfile2llb)
        cfg.Env = [DEFAULT_PATH, *env]
    if img.history is None:
        img.history = []
    return img


def declare_args(stage: Stage, ins: df.Arg, build_args: dict[str, str | None],
                 defaults: dict[str, str], used: set[str]) -> str:
    """ARG: a declared name takes --build-arg's value, else its default (which
    may use earlier variables), else the global (pre-FROM) value."""
    words = []
    for name, default in ins.args:
        value = None
        if default is not None:
            value = expand_word(default, stage.variables())
        elif name in defaults:
            value = defaults[name]
        if name in build_args:
            used.add(name)
            if build_args[name] is not None:
                value = build_args[name]
        stage.args[name] = value
        words.append(f"{name}={value}" if value is not None else name)
    return "ARG " + " ".join(words)


def apply(stage: Stage, ins, escape: str = "\\") -> str:
    """Apply a metadata instruction to the stage's config; its history text."""
    cfg = stage.config
    variables = stage.variables()

    def word(w: str) -> str:
        return expand_word(w, variables, escape)

    if isinstance(ins, df.Env):
        env = stage.env()
        pairs = [(word(k), word(v)) for k, v in ins.pairs]  # values of before this line
        for k, v in pairs:
            if not k:
                raise InvalidArgument("ENV names can not be blank")
            env[k] = v
        cfg.Env = [f"{k}={v}" for k, v in env.items()]
        return "ENV " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(ins, df.Label):
        pairs = [(word(k), word(v)) for k, v in ins.pairs]
        cfg.Labels = {**(cfg.Labels or {}), **dict(pairs)}
        return "LABEL " + " ".join(f"{k}={v}" for k, v in pairs)
    if isinstance(ins, df.Maintainer):
        stage.image.author = ins.name
        return "MAINTAINER " + ins.name
    if isinstance(ins, (df.Cmd, df.Entrypoint)):
        argv = stage.shell() + ins.cmd if ins.shell else list(ins.cmd)
        if isinstance(ins, df.Cmd):
            cfg.Cmd = argv
            stage.cmd_set = True
            return "CMD " + go_quote_list(argv)
        cfg.Entrypoint = argv
        if not stage.cmd_set:  # docs: ENTRYPOINT resets a CMD inherited from the base
            cfg.Cmd = None
        return "ENTRYPOINT " + go_quote_list(argv)
    if isinstance(ins, df.Expose):
        ports = dict(cfg.ExposedPorts or {})
        new = []
        for raw in ins.ports:
            for p in expand_words(raw, variables, escape):
                for key in _port_keys(p):
                    ports[key] = Empty()
                    new.append(key)
        cfg.ExposedPorts = ports
        return "EXPOSE map[" + " ".join(f"{k}:{{}}" for k in sorted(new)) + "]"
    if isinstance(ins, df.User):
        cfg.User = word(ins.user)
        return "USER " + cfg.User
    if isinstance(ins, df.Workdir):
        path = word(ins.path)
        if not path.startswith("/"):
            path = (cfg.WorkingDir or "/").rstrip("/") + "/" + path
        cfg.WorkingDir = posixpath.normpath(path)
        return "WORKDIR " + cfg.WorkingDir
    if isinstance(ins, df.Volume):
        vols = dict(cfg.Volumes or {})
        new = []
        for p in ins.paths:
            v = word(p).strip()
            if not v:
                raise InvalidArgument("VOLUME specified can not be an empty string")
            vols[v] = Empty()
            new.append(v)
        cfg.Volumes = vols
        return "VOLUME [" + " ".join(new) + "]"
    if isinstance(ins, df.StopSignal):
        sig = word(ins.signal)
        _check_signal(sig)
        cfg.StopSignal = sig
        return "STOPSIGNAL " + sig
    if isinstance(ins, df.Healthcheck):
        # docker's image config leaves the zero (default) durations out (omitempty):
        # HealthConfig's omit_defaults does
        cfg.Healthcheck = df.healthcheck_config(ins)
        return "HEALTHCHECK " + ins.original.split(None, 1)[1] if " " in ins.original else \
            "HEALTHCHECK"
    if isinstance(ins, df.Shell):
        cfg.Shell = list(ins.cmd)
        return "SHELL " + go_quote_list(list(ins.cmd))
    if isinstance(ins, df.Onbuild):
        cfg.OnBuild = [*(cfg.OnBuild or []), ins.expression]
        return "ONBUILD " + ins.expression
    raise InvalidArgument(f"unsupported instruction {ins.keyword}")


def _port_keys(p: str) -> list[str]:
    """EXPOSE 80 | 80/udp | 8000-8002/tcp -> docker's "80/tcp" keys."""
    port, _, proto = p.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in ("tcp", "udp", "sctp"):
        raise InvalidArgument(f"invalid proto: {proto}")
    lo, _, hi = port.partition("-")
    try:
        a, b = int(lo), int(hi or lo)
    except ValueError:
        raise InvalidArgument(f"invalid containerPort: {port}") from None
    if not (0 < a <= 65535 and a <= b <= 65535):
        raise InvalidArgument(f"invalid range specified for container port: {port}")
    return [f"{n}/{proto}" for n in range(a, b + 1)]


def _check_signal(sig: str) -> None:
    import signal

    s = sig.upper()
    if s.isdigit():
        return
    name = s if s.startswith("SIG") else "SIG" + s
    if not hasattr(signal, name) and not name.startswith("SIGRTM"):
        raise InvalidArgument(f"Invalid signal: {sig}")


def run_argv(stage: Stage, ins: df.Run) -> list[str]:
    """The RUN's command line: shell form runs under SHELL; heredocs are handed
    to the shell with the command (BuildKit), a lone heredoc is the script."""
    if not ins.shell:
        return list(ins.cmd)
    text = ins.cmd[0] if ins.cmd else ""
    if ins.heredocs:
        if len(ins.heredocs) == 1 and text.strip() in (f"<<{ins.heredocs[0].name}",
                                                       f"<<-{ins.heredocs[0].name}",
                                                       f"<<'{ins.heredocs[0].name}'",
                                                       f'<<"{ins.heredocs[0].name}"'):
            return stage.shell() + [ins.heredocs[0].content]
        body = "".join(h.content + ("" if h.content.endswith("\n") else "\n") + h.name + "\n"
                       for h in ins.heredocs)
        text = text + "\n" + body
    return stage.shell() + [text]


def run_history(argv: list[str], args: dict[str, str]) -> str:
    """BuildKit's created_by of a RUN: ``RUN |2 A=1 B=2 /bin/sh -c cmd # buildkit``."""
    shown = {k: v for k, v in args.items() if k not in PROXY_ARGS}
    prefix = f"|{len(shown)} " + " ".join(f"{k}={v}" for k, v in sorted(shown.items())) + " " \
        if shown else ""
    return f"RUN {prefix}{' '.join(argv)} # buildkit"
