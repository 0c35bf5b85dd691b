"""Dockerfile parsing: text in, stages of typed instructions out.

``parse`` follows BuildKit's two passes. The first is its parser package
(parser.go, line_parsers.go, directives.go, split_command.go): parser
directives (``# syntax=``, ``# escape=``, ``# check=``) before anything else,
comments, line continuations (comments and empty lines inside one are
skipped), heredocs for RUN/COPY/ADD, ``--flags``, JSON or shell form. The
second (``instructions.py``) checks each instruction and types it; stages
then start at each FROM, and ARGs before the first FROM are ``meta_args``.

Errors are ``InvalidArgument`` with BuildKit's words. As there, errors of the
second pass say where: ``dockerfile parse error on line 3: unknown
instruction: FOO (did you mean FROM?)``; errors of the first pass (``ENV
must have two arguments``, ``unterminated heredoc``, ``file with no
instructions``) and ``no build stage in current context`` do not. A file of
zero bytes is ``the Dockerfile (<name>) cannot be empty`` (moby's
remotecontext; only comments or blank lines is "file with no
instructions"). A Dockerfile with only ARGs parses to no stages: the caller
says "No image was generated. Is your Dockerfile empty?" as the classic
builder does.

``parse_instruction`` parses an ONBUILD trigger again in the child build.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from dockling.builder.expand import Lexer, go_quote
from dockling.builder.instructions import (
    Add,
    Arg,
    Cmd,
    Copy,
    Entrypoint,
    Env,
    Expose,
    From,
    Healthcheck,
    Heredoc,
    Instruction,
    Label,
    Maintainer,
    Node,
    Onbuild,
    Run,
    Shell,
    StopSignal,
    User,
    Volume,
    Workdir,
    healthcheck_config,
    parse_go_duration,
    parse_heredoc,
    to_instruction,
)
from dockling.errors import InvalidArgument

__all__ = [
    "Add", "Arg", "Cmd", "Copy", "Dockerfile", "Entrypoint", "Env", "Expose", "From",
    "Healthcheck", "Heredoc", "Instruction", "Label", "Maintainer", "Onbuild", "Run", "Shell",
    "Stage", "StopSignal", "User", "Volume", "Workdir", "healthcheck_config", "parse",
    "parse_go_duration", "parse_heredoc", "parse_instruction",
]


@dataclass(slots=True)
class Stage:
    name: str | None
    base: From
    instructions: list[Instruction] = field(default_factory=list)
    index: int = 0


@dataclass(slots=True)
class Dockerfile:
    stages: list[Stage]
    meta_args: list[Arg]
    escape: str = "\\"
    syntax: str | None = None


_WS = re.compile(r"[\t\v\f\r ]+")  # parser.go's reWhitespace (no \n: lines are split)
_GO_SPACE = "[\t\n\f\r ]"  # RE2's \s
_DIRECTIVE = re.compile(rf"([a-zA-Z][a-zA-Z0-9]*){_GO_SPACE}*={_GO_SPACE}*(.+?){_GO_SPACE}*\Z")


class _Directives:
    """Parser directives: only in comments before any other line (directives.go)."""

    def __init__(self, escape: str = "\\") -> None:
        self.done = False
        self.seen: set[str] = set()
        self.syntax: str | None = None
        self.set_escape(escape)

    def set_escape(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise InvalidArgument(f"invalid escape token '{token}' does not match ` or \\")
        self.escape = token
        e = re.escape(token)
        # The escape as the last non-blank character continues the line, unless
        # it is itself escaped; alone on a line it continues too.
        self.continuation = re.compile(rf"([^{e}]){e}[ \t]*\Z|^{e}[ \t]*\Z")

    def check(self, line: str) -> bool:
        """Whether ``line`` is a directive (and apply it)."""
        if self.done:
            return False
        if not line.startswith("#"):
            self.done = True
            return False
        m = _DIRECTIVE.match(line[1:].lstrip())
        key = m[1].lower() if m else ""
        if key not in ("syntax", "escape", "check"):
            self.done = True
            return False
        assert m is not None
        if key in self.seen:
            raise InvalidArgument(f"only one {key} parser directive can be used")
        self.seen.add(key)
        if key == "escape":
            self.set_escape(m[2])
        elif key == "syntax":
            self.syntax = m[2]
        return True


def _lines(text: str) -> list[str]:
    # bufio.Scanner with line endings kept (parser.go's scanLines): "\n" only
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _is_comment(line: str) -> bool:
    return line.lstrip().startswith("#")


def _process_line(d: _Directives, line: str, strip_left: bool) -> str:
    line = line.rstrip("\r\n")
    if strip_left:
        line = line.lstrip()
    d.check(line)
    return "" if _is_comment(line) else line


def _trim_continuation(line: str, d: _Directives) -> tuple[str, bool]:
    if d.continuation.search(line):
        return d.continuation.sub(r"\1", line), False
    return line, True


# -- splitting a logical line (split_command.go, line_parsers.go) ---------

def _extract_flags(line: str, esc: str) -> tuple[str, list[str]]:
    """Leading ``--name=value`` words; quotes and escapes removed from them."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            if line[pos:pos + 2] != "--":
                return line[pos:], words
            phase = "word"
        if pos == n:
            word = "".join(buf)
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                word = "".join(buf)
                phase = "space"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                buf, blank_ok = [], False
            elif ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
            elif ch == esc:
                if pos + 1 < n:
                    pos += 1
                    buf.append(line[pos])
            else:
                buf.append(ch)
        elif ch == quote:
            phase = "word"
        elif ch == esc:
            if pos + 1 == n:
                phase = "word"
            else:
                pos += 1
                buf.append(line[pos])
        else:
            buf.append(ch)
        pos += 1
    return "", words


def _split_command(line: str, esc: str) -> tuple[str, list[str], str]:
    parts = _WS.split(line.strip(), maxsplit=1)
    if len(parts) < 2:
        return parts[0], [], ""
    rest, flags = _extract_flags(parts[1], esc)
    return parts[0], flags, rest.strip()


def _parse_words(rest: str, esc: str) -> list[str]:
    """Words with their quotes and escapes kept, for ENV, LABEL and ARG."""
    words: list[str] = []
    buf: list[str] = []
    phase, quote, blank_ok = "space", "", False
    pos, n = 0, len(rest)
    while pos <= n:
        ch = rest[pos] if pos < n else ""
        if phase == "space":
            if pos == n:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if pos == n:
            if blank_ok or buf:
                words.append("".join(buf))
            break
        if phase == "word":
            if ch.isspace():
                phase = "space"
                if blank_ok or buf:
                    words.append("".join(buf))
                buf, blank_ok = [], False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
        else:
            if ch == quote:
                phase = "word"
            if ch == esc and quote == "'":
                buf.append(ch)
                pos += 1
                continue
        if ch == esc:
            if pos + 1 == n:  # an escape at the very end is dropped
                if phase == "quote":
                    phase = "word"
                pos += 1
                continue
            buf.append(ch)
            pos += 1
            ch = rest[pos]
        buf.append(ch)
        pos += 1
    return words


def _json(rest: str) -> list[str] | None:
    rest = rest.lstrip()
    if not rest.startswith("["):
        return None

    def no_constants(name: str) -> None:
        raise ValueError(name)  # Go's JSON has no NaN or Infinity

    try:
        value = json.loads(rest, parse_constant=no_constants)
    except ValueError:
        return None  # not JSON: the shell form, as buildkit falls back
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise InvalidArgument(
            "when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _maybe_json(rest: str) -> tuple[list[str], bool]:
    if not rest:
        return [], False
    args = _json(rest)
    return (args, True) if args is not None else ([rest], False)


def _maybe_json_list(rest: str) -> tuple[list[str], bool]:
    args = _json(rest)
    if args is not None:
        return args, True
    return (_WS.split(rest) if rest else []), False


def _name_val(rest: str, esc: str, key: str) -> list[str]:
    # "ENV name value" (old form) or "ENV a=b c=d": a space or an = first decides
    words = _parse_words(rest, esc)
    if not words:
        return []
    if "=" not in words[0]:
        parts = _WS.split(rest, maxsplit=1)
        if len(parts) < 2:
            raise InvalidArgument(f"{key} must have two arguments")
        return [parts[0], parts[1], ""]
    args = []
    for word in words:
        if "=" not in word:
            raise InvalidArgument(f"Syntax error - can't find = in {go_quote(word)}. "
                                  "Must be of the form: name=value")
        k, v = word.split("=", 1)
        args += [k, v, "="]
    return args


def _health(rest: str) -> tuple[list[str], bool]:
    m = re.match(r"(\S*)(\s*)", rest)
    assert m is not None
    kind, cmd = m[1], rest[m.end():]
    if not kind:
        return [], False
    args, is_json = _maybe_json(cmd)
    return [kind, *args], is_json


def _node(line: str, esc: str) -> Node:
    cmd, flags, rest = _split_command(line, esc)
    kw = cmd.lower()
    child = None
    is_json = False
    if kw in ("env", "label"):
        args = _name_val(rest, esc, kw.upper())
    elif kw == "arg":
        args = _parse_words(rest, esc)
    elif kw in ("cmd", "entrypoint", "run", "shell"):
        args, is_json = _maybe_json(rest)
    elif kw in ("add", "copy", "volume"):
        args, is_json = _maybe_json_list(rest)
    elif kw in ("expose", "from"):
        args = _WS.split(rest) if rest else []
    elif kw in ("maintainer", "stopsignal", "user", "workdir"):
        args = [rest] if rest else []
    elif kw == "healthcheck":
        args, is_json = _health(rest)
    elif kw == "onbuild":
        child = _node(rest, esc) if rest else None
        args = [child.keyword, *child.args] if child else []
    else:
        args = [""]  # an unknown instruction: refused by the second pass
    return Node(keyword=cmd, original=line, flags=flags, args=args, json=is_json, child=child)


def _takes_heredocs(node: Node) -> bool:
    if node.keyword.lower() == "onbuild" and node.child is not None:
        node = node.child
    return node.keyword.lower() in ("add", "copy", "run") and not node.json


def _heredocs_in(line: str) -> list[Heredoc]:
    # buildkit lexes the whole line with "\" as escape whatever the directive says
    lexer = Lexer("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lexer.process_words(line, {})
    except InvalidArgument:
        return []
    return [h for h in map(parse_heredoc, words) if h is not None]


def _nodes(text: str, escape: str = "\\") -> tuple[list[Node], _Directives]:
    """The first pass (parser.Parse): one node per logical line."""
    d = _Directives(escape)
    lines = _lines(text)
    nodes: list[Node] = []
    current = 0  # lines read so far
    i = 0
    while i < len(lines):
        raw = lines[i].removeprefix("\ufeff") if current == 0 else lines[i]
        i += 1
        line = _process_line(d, raw, strip_left=True)
        current += 1
        start = current
        line, ended = _trim_continuation(line, d)
        if ended and not line:
            continue
        parts = [line]
        while not ended and i < len(lines):
            raw = lines[i]
            i += 1
            part = _process_line(d, raw, strip_left=False)
            current += 1
            # comments and blank lines inside a continuation are dropped
            if _is_comment(raw) or not part.lstrip():
                continue
            part, ended = _trim_continuation(part, d)
            parts.append(part)
        logical = "".join(parts)
        node = _node(logical, d.escape)
        if _takes_heredocs(node) and "<<" in logical:
            for heredoc in _heredocs_in(logical):
                body: list[str] = []
                terminated = False
                while i < len(lines):
                    raw = lines[i]
                    i += 1
                    current += 1
                    candidate = raw.rstrip("\r\n")
                    if heredoc.chomp:
                        candidate = candidate.lstrip("\t")
                    if candidate == heredoc.name:
                        terminated = True
                        break
                    body.append(raw)
                if not terminated:
                    raise InvalidArgument("unterminated heredoc")
                heredoc.content = "".join(body)
                node.heredocs.append(heredoc)
        node.start_line, node.end_line = start, current
        nodes.append(node)
    if not nodes:
        raise InvalidArgument("file with no instructions")
    return nodes, d


def parse(text: str | bytes, name: str = "Dockerfile") -> Dockerfile:
    """Parse a Dockerfile; ``name`` is only for the empty-file error."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text:
        raise InvalidArgument(f"the Dockerfile ({name}) cannot be empty")
    nodes, d = _nodes(text)
    stages: list[Stage] = []
    meta_args: list[Arg] = []
    for node in nodes:
        try:
            inst = to_instruction(node)
        except InvalidArgument as e:
            raise InvalidArgument(
                f"dockerfile parse error on line {node.start_line}: {e}") from None
        if isinstance(inst, From):
            stages.append(Stage(name=inst.name, base=inst, index=len(stages)))
        elif not stages and isinstance(inst, Arg):
            meta_args.append(inst)
        elif not stages:
            raise InvalidArgument("no build stage in current context")
        else:
            stages[-1].instructions.append(inst)
    return Dockerfile(stages=stages, meta_args=meta_args, escape=d.escape, syntax=d.syntax)


def parse_instruction(line: str, escape: str = "\\") -> Instruction:
    """One instruction, e.g. an ONBUILD trigger run by a child build (which
    BuildKit parses on its own: the parent's escape directive does not apply)."""
    nodes, _ = _nodes(line, escape)
    if len(nodes) != 1:
        raise InvalidArgument("onbuild trigger should be a single expression")
    inst = to_instruction(nodes[0])
    if isinstance(inst, From):
        # buildkit's "%T is not a command type"; ONBUILD FROM is refused earlier
        raise InvalidArgument("*instructions.Stage is not a command type")
    return inst
