"""Typed Dockerfile instructions, made from the parser's nodes.

The second half of BuildKit's parse (``frontend/dockerfile/instructions``:
parse.go, bflag.go, the RUN flag hooks): each node becomes one dataclass,
its ``--flags`` are checked against the instruction's own set, and the
argument counts give docker's messages. Values stay as written (quotes and
``$VAR`` kept); expansion happens at build time (``expand.py``).

Every instruction carries ``line``/``end_line`` (1-based, heredoc bodies
included), ``original`` (the logical line, continuations joined as BuildKit's
``node.Original``, trimmed: what "Step N/M : ..." prints and the history and
cache keys use), ``keyword`` (upper case) and ``flags`` (name -> raw values).

``dockerfile.py`` is the way in (``parse``); these types are re-exported there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import ClassVar

from dockling.builder.expand import Lexer, go_quote
from dockling.containers.model import HealthConfig
from dockling.errors import InvalidArgument

__all__ = [
    "Add", "Arg", "Cmd", "Copy", "Entrypoint", "Env", "Expose", "From", "Healthcheck", "Heredoc",
    "Instruction", "Label", "Maintainer", "Onbuild", "Run", "Shell", "StopSignal", "User",
    "Volume", "Workdir", "healthcheck_config", "parse_go_duration", "parse_heredoc",
]


@dataclass(slots=True)
class Heredoc:
    """A here-document. ``content`` is the body up to the terminator, line
    endings kept; with ``chomp`` (``<<-``) its leading tabs are already
    stripped (BuildKit strips them when the heredoc is used). ``expand`` is
    False when the delimiter was quoted (``<<'EOF'``, ``<<"EOF"``)."""

    name: str
    content: str = ""
    expand: bool = True
    chomp: bool = False


@dataclass(slots=True, kw_only=True)
class Instruction:
    keyword: ClassVar[str] = ""
    line: int = 0
    end_line: int = 0
    original: str = ""
    flags: dict[str, list[str]] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class From(Instruction):
    keyword: ClassVar[str] = "FROM"
    image: str
    name: str | None = None  # lower-cased, as BuildKit does
    platform: str | None = None


@dataclass(slots=True, kw_only=True)
class Run(Instruction):
    """``shell``: shell form, ``cmd`` is ``[the text]`` and SHELL goes before it."""

    keyword: ClassVar[str] = "RUN"
    cmd: list[str]
    shell: bool = True
    heredocs: list[Heredoc] = field(default_factory=list)
    mounts: list[str] = field(default_factory=list)
    network: str | None = None
    security: str | None = None


@dataclass(slots=True, kw_only=True)
class Cmd(Instruction):
    keyword: ClassVar[str] = "CMD"
    cmd: list[str]
    shell: bool = True


@dataclass(slots=True, kw_only=True)
class Entrypoint(Instruction):
    keyword: ClassVar[str] = "ENTRYPOINT"
    cmd: list[str]
    shell: bool = True


@dataclass(slots=True, kw_only=True)
class Shell(Instruction):
    keyword: ClassVar[str] = "SHELL"
    cmd: list[str]


@dataclass(slots=True, kw_only=True)
class Env(Instruction):
    keyword: ClassVar[str] = "ENV"
    pairs: list[tuple[str, str]]


@dataclass(slots=True, kw_only=True)
class Label(Instruction):
    keyword: ClassVar[str] = "LABEL"
    pairs: list[tuple[str, str]]


@dataclass(slots=True, kw_only=True)
class Arg(Instruction):
    keyword: ClassVar[str] = "ARG"
    args: list[tuple[str, str | None]]


@dataclass(slots=True, kw_only=True)
class Maintainer(Instruction):
    keyword: ClassVar[str] = "MAINTAINER"
    name: str


@dataclass(slots=True, kw_only=True)
class Expose(Instruction):
    keyword: ClassVar[str] = "EXPOSE"
    ports: list[str]  # sorted, as BuildKit sorts them


@dataclass(slots=True, kw_only=True)
class User(Instruction):
    keyword: ClassVar[str] = "USER"
    user: str


@dataclass(slots=True, kw_only=True)
class Workdir(Instruction):
    keyword: ClassVar[str] = "WORKDIR"
    path: str


@dataclass(slots=True, kw_only=True)
class Volume(Instruction):
    keyword: ClassVar[str] = "VOLUME"
    paths: list[str]


@dataclass(slots=True, kw_only=True)
class StopSignal(Instruction):
    keyword: ClassVar[str] = "STOPSIGNAL"
    signal: str


@dataclass(slots=True, kw_only=True)
class Healthcheck(Instruction):
    """Options are the raw flag values; ``healthcheck_config`` converts them."""

    keyword: ClassVar[str] = "HEALTHCHECK"
    test: list[str] | None
    interval: str | None = None
    timeout: str | None = None
    start_period: str | None = None
    start_interval: str | None = None
    retries: str | None = None


@dataclass(slots=True, kw_only=True)
class Onbuild(Instruction):
    """``expression``: the trigger as written ("RUN echo hi"), heredoc bodies appended."""

    keyword: ClassVar[str] = "ONBUILD"
    expression: str


@dataclass(slots=True, kw_only=True)
class Copy(Instruction):
    """``sources`` as written; a source that is a heredoc word (``<<EOF``,
    see ``parse_heredoc``) is the next entry of ``heredocs``, in order."""

    keyword: ClassVar[str] = "COPY"
    sources: list[str]
    dest: str
    from_: str | None = None
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    parents: bool = False
    excludes: list[str] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass(slots=True, kw_only=True)
class Add(Instruction):
    keyword: ClassVar[str] = "ADD"
    sources: list[str]
    dest: str
    chown: str | None = None
    chmod: str | None = None
    link: bool = False
    checksum: str | None = None
    keep_git_dir: bool = False
    excludes: list[str] = field(default_factory=list)
    heredocs: list[Heredoc] = field(default_factory=list)


@dataclass(slots=True)
class Node:
    """One logical line as the parser split it (BuildKit's parser.Node).

    ``args`` is nodeArgs(): for ONBUILD, the trigger's keyword then its args.
    """

    keyword: str  # as written
    original: str
    flags: list[str]
    args: list[str]
    json: bool = False
    child: Node | None = None  # ONBUILD's trigger
    heredocs: list[Heredoc] = field(default_factory=list)  # bodies as written
    start_line: int = 0
    end_line: int = 0


# -- heredoc words -------------------------------------------------------

_HEREDOC_RE = re.compile(r"([0-9]*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word opens (``<<EOF``, ``<<-'EOF'``, ``3<<EOF``), or None.

    The delimiter is quoted, so the body is not expanded, when lexing it with
    and without raw quotes gives different quote counts (parser.ParseHeredoc).
    """
    m = _HEREDOC_RE.match(word)
    if not m or not m[3]:
        return None
    rest = m[3]
    words = Lexer("\\", skip_unset_env=True).process_words(rest, {})
    if len(words) != 1:
        return None
    raw = Lexer("\\", raw_quotes=True, skip_unset_env=True).process_words(rest, {})
    if len(raw) != len(words):
        raise InvalidArgument(
            f"internal lexing of heredoc produced inconsistent results: {rest}")
    quotes = words[0].count("'") + words[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return Heredoc(name=words[0], expand=quotes == raw_quotes, chomp=m[2] == "-")


def _heredoc_or_none(word: str) -> Heredoc | None:
    try:  # BuildKit's MustParseHeredoc: a malformed one is no heredoc
        return parse_heredoc(word)
    except InvalidArgument:
        return None


def _chomped(h: Heredoc) -> Heredoc:
    if not h.chomp:
        return replace(h)
    return replace(h, content=re.sub(r"(?m)^\t+", "", h.content))


# -- flags (bflag.go) ----------------------------------------------------

_BOOL, _STRING, _STRINGS = "bool", "string", "strings"
_COPY_FLAGS = {"chown": _STRING, "from": _STRING, "chmod": _STRING, "link": _BOOL,
               "exclude": _STRINGS, "parents": _BOOL}
# BuildKit also has ADD --unpack and RUN --device; we do not implement them,
# so they are refused as unknown flags rather than silently ignored.
_ADD_FLAGS = {"chown": _STRING, "chmod": _STRING, "link": _BOOL, "keep-git-dir": _BOOL,
              "checksum": _STRING, "exclude": _STRINGS}
_RUN_FLAGS = {"mount": _STRINGS, "network": _STRING, "security": _STRING}
_HEALTH_FLAGS = dict.fromkeys(
    ("interval", "timeout", "start-period", "start-interval", "retries"), _STRING)


def _levenshtein(a: str, b: str) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def suggest(message: str, value: str, options: list[str], case_sensitive: bool) -> str:
    """BuildKit's suggest.WrapError: "<message> (did you mean X?)" when an
    option is within edit distance 2 (options sorted: Go's map order is random)."""
    key = value if case_sensitive else value.lower()
    match, best = "", 3
    for opt in sorted(options):
        cand = opt if case_sensitive else opt.lower()
        if cand == key:
            return message
        dist = _levenshtein(key, cand)
        if dist < best:
            best = dist
            if case_sensitive or value not in (value.lower(), value.upper()):
                match = cand
            else:
                match = cand.lower() if value == value.lower() else cand.upper()
    return f"{message} (did you mean {match}?)" if match else message


def _parse_flags(args: list[str], spec: dict[str, str]) -> dict[str, bool | str | list[str]]:
    values: dict[str, bool | str | list[str]] = {}
    for arg in args:
        if arg == "--":
            break  # POSIX: "--" ends the options
        if not arg.startswith("--"):
            raise InvalidArgument(f"arg should start with -- : {arg}")
        flag, sep, value = arg.partition("=")
        name = flag[2:]
        kind = spec.get(name)
        if kind is None:
            raise InvalidArgument(suggest(f"unknown flag: {flag}", name, list(spec), True))
        if name in values and kind != _STRINGS:
            raise InvalidArgument(f"duplicate flag specified: {flag}")
        if kind == _BOOL:
            if sep and not value:
                raise InvalidArgument(f"missing a value on flag: {flag}")
            if value.lower() not in ("true", "false", ""):
                raise InvalidArgument(f"expecting boolean value for flag {flag}, not: {value}")
            values[name] = value.lower() != "false"
            continue
        if not sep:
            raise InvalidArgument(f"missing a value on flag: {flag}")
        if kind == _STRING:
            values[name] = value
        else:
            strings = values.setdefault(name, [])
            assert isinstance(strings, list)
            strings.append(value)
    return values


def _raw_flags(args: list[str]) -> dict[str, list[str]]:
    raw: dict[str, list[str]] = {}
    for arg in args:
        if arg == "--":
            break
        flag, _, value = arg.partition("=")
        raw.setdefault(flag.removeprefix("--"), []).append(value)
    return raw


def _str(values: dict[str, bool | str | list[str]], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) and value else None


def _list(values: dict[str, bool | str | list[str]], name: str) -> list[str]:
    value = values.get(name)
    return value if isinstance(value, list) else []


# -- durations (Go's time.ParseDuration) ---------------------------------

_UNITS = {"ns": 1, "us": 10**3, "µs": 10**3, "μs": 10**3, "ms": 10**6, "s": 10**9,
          "m": 60 * 10**9, "h": 3600 * 10**9}
_DURATION_PART = re.compile(r"([0-9]*)(?:\.([0-9]*))?")


def parse_go_duration(text: str) -> int:
    """Nanoseconds of a Go duration ("1m30s", "500ms", "-1.5h"), Go's errors."""
    invalid = InvalidArgument(f'time: invalid duration "{text}"')
    s, neg = text, False
    if s[:1] in ("-", "+"):
        neg, s = s[0] == "-", s[1:]
    if s == "0":
        return 0
    if not s:
        raise invalid
    total = 0
    while s:
        m = _DURATION_PART.match(s)
        assert m is not None
        whole, frac = m[1], m[2] or ""
        if not whole and not frac:
            raise invalid
        s = s[m.end():]
        unit_text = re.match(r"[^0-9.]*", s)[0]  # type: ignore[index]
        if not unit_text:
            raise InvalidArgument(f'time: missing unit in duration "{text}"')
        s = s[len(unit_text):]
        unit = _UNITS.get(unit_text)
        if unit is None:
            raise InvalidArgument(f'time: unknown unit "{unit_text}" in duration "{text}"')
        total += int(whole or "0") * unit + (int(frac) * unit // 10 ** len(frac) if frac else 0)
        if total > 1 << 63:
            raise invalid
    if not neg and total > (1 << 63) - 1:
        raise invalid
    return -total if neg else total


def _interval(name: str, value: str | None) -> int:
    # buildkit's parseOptInterval: empty and 0 mean "use the default"
    if not value:
        return 0
    ns = parse_go_duration(value)
    if ns != 0 and ns < 1_000_000:
        raise InvalidArgument(f"Interval {go_quote(name)} cannot be less than 1ms")
    return ns


def healthcheck_config(h: Healthcheck) -> HealthConfig:
    """The image config's Healthcheck (durations in nanoseconds); zeros mean
    "default" (docker's JSON omits them). Raises docker's errors for bad values."""
    config = HealthConfig(
        Test=list(h.test or []),
        Interval=_interval("interval", h.interval),
        Timeout=_interval("timeout", h.timeout),
        StartPeriod=_interval("start-period", h.start_period),
        StartInterval=_interval("start-interval", h.start_interval),
    )
    if h.retries:
        if not re.fullmatch(r"[+-]?[0-9]+", h.retries):
            raise InvalidArgument(
                f"strconv.ParseInt: parsing {go_quote(h.retries)}: invalid syntax")
        retries = int(h.retries)
        if not -(1 << 31) <= retries < 1 << 31:
            raise InvalidArgument(
                f"strconv.ParseInt: parsing {go_quote(h.retries)}: value out of range")
        if retries < 0:
            raise InvalidArgument(f"--retries cannot be negative ({retries})")
        config.Retries = retries
    return config


# -- node -> instruction (instructions/parse.go) -------------------------

def _base(node: Node) -> dict:
    return {"line": node.start_line, "end_line": node.end_line,
            "original": node.original.strip(), "flags": _raw_flags(node.flags)}


def _at_least_one(cmd: str) -> InvalidArgument:
    return InvalidArgument(f"{cmd} requires at least one argument")


def _exactly_one(cmd: str) -> InvalidArgument:
    return InvalidArgument(f"{cmd} requires exactly one argument")


def _json_args(node: Node) -> list[str]:
    # handleJSONArgs: the exec form as is, the shell form as one string
    if not node.args or node.json:
        return list(node.args)
    return [" ".join(node.args)]


def _kvps(node: Node, cmd: str) -> list[tuple[str, str]]:
    args = node.args
    if not args:
        raise _at_least_one(cmd)
    if len(args) % 3:
        raise InvalidArgument(f"Bad input to {cmd}, too many arguments")
    pairs = []
    for j in range(0, len(args), 3):
        if not args[j]:
            raise InvalidArgument(f"{cmd} names can not be blank")
        pairs.append((args[j], args[j + 1]))
    return pairs


def _env(node: Node) -> Env:
    _parse_flags(node.flags, {})
    return Env(pairs=_kvps(node, "ENV"), **_base(node))


def _label(node: Node) -> Label:
    _parse_flags(node.flags, {})
    return Label(pairs=_kvps(node, "LABEL"), **_base(node))


def _maintainer(node: Node) -> Maintainer:
    if len(node.args) != 1:
        raise _exactly_one("MAINTAINER")
    _parse_flags(node.flags, {})
    return Maintainer(name=node.args[0], **_base(node))


_STAGE_NAME = re.compile(r"[a-z][a-z0-9_.-]*")


def _from(node: Node) -> From:
    args = node.args
    name = None
    if len(args) == 3 and args[1].lower() == "as":
        name = args[2].lower()
        if not _STAGE_NAME.fullmatch(name):
            raise InvalidArgument(
                f"invalid name for build stage: {go_quote(args[2])}, "
                "name can't start with a number or contain symbols")
    elif len(args) != 1:
        raise InvalidArgument("FROM requires either one or three arguments")
    values = _parse_flags(node.flags, {"platform": _STRING})
    return From(image=args[0], name=name, platform=_str(values, "platform"), **_base(node))


_ONBUILD_PREFIX = re.compile(r"^[\t\n\f\r ]*ONBUILD[\t\n\f\r ]*", re.IGNORECASE)


def _onbuild(node: Node) -> Onbuild:
    if not node.args:
        raise _at_least_one("ONBUILD")
    _parse_flags(node.flags, {})
    trigger = node.args[0].strip().upper()
    if trigger == "ONBUILD":
        raise InvalidArgument("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if trigger in ("MAINTAINER", "FROM"):
        raise InvalidArgument(f"{trigger} isn't allowed as an ONBUILD trigger")
    expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
    for h in node.heredocs:  # the trigger is parsed again in the child build
        expression += "\n" + h.content + h.name
    return Onbuild(expression=expression, **_base(node))


def _workdir(node: Node) -> Workdir:
    if len(node.args) != 1:
        raise _exactly_one("WORKDIR")
    _parse_flags(node.flags, {})
    return Workdir(path=node.args[0], **_base(node))


def _run(node: Node) -> Run:
    values = _parse_flags(node.flags, _RUN_FLAGS)
    network = values.get("network")
    if network is not None and network not in ("default", "none", "host"):
        raise InvalidArgument(f"invalid network mode {go_quote(str(network))}")
    security = values.get("security")
    if security is not None and security not in ("insecure", "sandbox"):
        raise InvalidArgument(f"security {go_quote(str(security))} is not valid")
    return Run(cmd=_json_args(node), shell=not node.json,
               heredocs=[_chomped(h) for h in node.heredocs], mounts=_list(values, "mount"),
               network=network if isinstance(network, str) else None,
               security=security if isinstance(security, str) else None, **_base(node))


def _cmd(node: Node) -> Cmd:
    _parse_flags(node.flags, {})
    return Cmd(cmd=_json_args(node), shell=not node.json, **_base(node))


def _entrypoint(node: Node) -> Entrypoint:
    _parse_flags(node.flags, {})
    return Entrypoint(cmd=_json_args(node), shell=not node.json, **_base(node))


def _healthcheck(node: Node) -> Healthcheck:
    if not node.args:
        raise _at_least_one("HEALTHCHECK")
    kind, args = node.args[0].upper(), node.args[1:]
    if kind == "NONE":
        if args:
            raise InvalidArgument("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(test=["NONE"], **_base(node))  # flags are not even checked
    values = _parse_flags(node.flags, _HEALTH_FLAGS)
    if kind != "CMD":
        raise InvalidArgument(f"Unknown type {go_quote(kind)} in HEALTHCHECK (try CMD)")
    cmd = _json_args(replace(node, args=args))
    if not cmd:
        raise InvalidArgument("Missing command after HEALTHCHECK CMD")
    h = Healthcheck(test=["CMD" if node.json else "CMD-SHELL", *cmd],
                    interval=_raw(values, "interval"), timeout=_raw(values, "timeout"),
                    start_period=_raw(values, "start-period"),
                    start_interval=_raw(values, "start-interval"),
                    retries=_raw(values, "retries"), **_base(node))
    healthcheck_config(h)  # buildkit checks the values when it parses
    return h


def _raw(values: dict[str, bool | str | list[str]], name: str) -> str | None:
    value = values.get(name)
    return value if isinstance(value, str) else None


def _expose(node: Node) -> Expose:
    if not node.args:
        raise _at_least_one("EXPOSE")
    _parse_flags(node.flags, {})
    return Expose(ports=sorted(node.args), **_base(node))


def _user(node: Node) -> User:
    if len(node.args) != 1:
        raise _exactly_one("USER")
    _parse_flags(node.flags, {})
    return User(user=node.args[0], **_base(node))


def _volume(node: Node) -> Volume:
    if not node.args:
        raise _at_least_one("VOLUME")
    _parse_flags(node.flags, {})
    paths = [v.strip() for v in node.args]
    if "" in paths:
        raise InvalidArgument("VOLUME specified can not be an empty string")
    return Volume(paths=paths, **_base(node))


def _stopsignal(node: Node) -> StopSignal:
    if len(node.args) != 1:
        raise _exactly_one("STOPSIGNAL")
    return StopSignal(signal=node.args[0], **_base(node))  # buildkit ignores its flags


def _arg(node: Node) -> Arg:
    if not node.args:
        raise _at_least_one("ARG")
    args: list[tuple[str, str | None]] = []
    for word in node.args:  # flags are not checked, as in buildkit
        key, sep, value = word.partition("=")
        if sep and not key:
            raise InvalidArgument("ARG names can not be blank")
        args.append((key, value if sep else None))
    return Arg(args=args, **_base(node))


def _shell(node: Node) -> Shell:
    _parse_flags(node.flags, {})
    cmd = _json_args(node)
    if not cmd:
        raise _at_least_one("SHELL")
    if not node.json:
        raise InvalidArgument("SHELL requires the arguments to be in JSON form")
    return Shell(cmd=cmd, **_base(node))


def _sources(node: Node, cmd: str) -> tuple[list[str], str, list[Heredoc]]:
    sources, dest = node.args[:-1], node.args[-1]
    if _heredoc_or_none(dest) is not None:
        raise InvalidArgument(f"{cmd} cannot accept a heredoc as a destination")
    bodies = {h.name: h.content for h in node.heredocs}
    heredocs = []
    for src in sources:
        h = _heredoc_or_none(src)
        if h is not None:  # in JSON form there is no body: an empty file, as buildkit
            h.content = bodies.get(h.name, "")
            heredocs.append(_chomped(h))
    return sources, dest, heredocs


def _no_destination(cmd: str) -> InvalidArgument:
    return InvalidArgument(f"{cmd} requires at least two arguments, but only one was provided. "
                           "Destination could not be determined")


def _copy(node: Node) -> Copy:
    if len(node.args) < 2:
        raise _no_destination("COPY")
    values = _parse_flags(node.flags, _COPY_FLAGS)
    sources, dest, heredocs = _sources(node, "COPY")
    return Copy(sources=sources, dest=dest, from_=_str(values, "from"),
                chown=_str(values, "chown"), chmod=_str(values, "chmod"),
                link=values.get("link") is True, parents=values.get("parents") is True,
                excludes=_list(values, "exclude"), heredocs=heredocs, **_base(node))


def _add(node: Node) -> Add:
    if len(node.args) < 2:
        raise _no_destination("ADD")
    values = _parse_flags(node.flags, _ADD_FLAGS)
    sources, dest, heredocs = _sources(node, "ADD")
    return Add(sources=sources, dest=dest, chown=_str(values, "chown"),
               chmod=_str(values, "chmod"), link=values.get("link") is True,
               checksum=_str(values, "checksum"), keep_git_dir=values.get("keep-git-dir") is True,
               excludes=_list(values, "exclude"), heredocs=heredocs, **_base(node))


_BUILDERS = {
    "add": _add, "arg": _arg, "cmd": _cmd, "copy": _copy, "entrypoint": _entrypoint, "env": _env,
    "expose": _expose, "from": _from, "healthcheck": _healthcheck, "label": _label,
    "maintainer": _maintainer, "onbuild": _onbuild, "run": _run, "shell": _shell,
    "stopsignal": _stopsignal, "user": _user, "volume": _volume, "workdir": _workdir,
}


def to_instruction(node: Node) -> Instruction:
    """The typed instruction of a node; errors without the line prefix."""
    build = _BUILDERS.get(node.keyword.lower())
    if build is None:
        # BuildKit's text (docker 23+, classic builder too): the keyword as
        # written plus a suggestion; 20.10 upper-cased it and had no suggestion.
        raise InvalidArgument(suggest(f"unknown instruction: {node.keyword}", node.keyword,
                                      [k.upper() for k in _BUILDERS], False))
    return build(node)
