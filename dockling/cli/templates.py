"""docker/cli's templates package (v28.2.2 templates/templates.go): the functions every
--format template has (json, split, join, title, lower, upper, pad, truncate), the
identity versions used to render a table's header row, and parse()."""

from __future__ import annotations

from dockling.cli.gotemplate import Func, Template
from dockling.cli.gotemplate.values import Slice


def _json(v) -> str:
    from dockling.cli.gotemplate.gojson import marshal

    return marshal(v, escape_html=False)


def _split(s: str, sep: str) -> Slice:
    """strings.Split: an empty separator splits after each UTF-8 sequence."""
    parts = list(s) if sep == "" else s.split(sep)
    return Slice(parts, "[]string")


def _runewise(s: str, upper: bool) -> str:
    """strings.ToUpper/ToLower map rune by rune (no expansions like Python's ß -> SS)."""
    out = []
    for c in s:
        m = c.upper() if upper else c.lower()
        out.append(m if len(m) == 1 else c)
    return "".join(out)


def _title(s: str) -> str:
    """strings.Title: the first letter of each word in title case; words are separated
    by anything but letters, digits and '_' (non-ASCII: by Unicode spaces only)."""
    out = []
    prev = " "
    for c in s:
        if ord(prev) < 0x80:
            sep = not (prev.isalnum() or prev == "_")
        else:
            sep = prev.isspace()
        if sep:
            t = c.title()
            out.append(t if len(t) == 1 else c)
        else:
            out.append(c)
        prev = c
    return "".join(out)


def _pad(source: str, prefix: int, suffix: int) -> str:
    if source == "":
        return source
    return " " * prefix + source + " " * suffix


def _truncate(source: str, length: int) -> str:
    """truncateWithLength: cut at a byte count, as docker/cli does."""
    b = source.encode("utf-8", "surrogateescape")
    if len(b) < length:
        return source
    return b[:length].decode("utf-8", "surrogateescape")


def basic_functions() -> dict[str, Func]:
    s, i = "string", "int"
    return {
        "json": Func("json", ["interface {}"], _json, results=(s,)),
        "split": Func("split", [s, s], _split, results=("[]string",)),
        "join": Func("join", ["[]string", s], lambda e, sep: sep.join(str(x) for x in e),
                     results=(s,)),
        "title": Func("title", [s], _title, results=(s,)),
        "lower": Func("lower", [s], lambda v: _runewise(v, False), results=(s,)),
        "upper": Func("upper", [s], lambda v: _runewise(v, True), results=(s,)),
        "pad": Func("pad", [s, i, i], _pad, results=(s,)),
        "truncate": Func("truncate", [s, i], _truncate, results=(s,)),
    }


def header_functions() -> dict[str, Func]:
    """HeaderFunctions: the header row keeps column names intact (pad is not replaced)."""
    s, i = "string", "int"
    ident = lambda v, *_: v  # noqa: E731
    return {"json": Func("json", [s], ident, results=(s,)),
            "split": Func("split", [s, s], ident, results=(s,)),
            "join": Func("join", [s, s], ident, results=(s,)),
            "title": Func("title", [s], ident, results=(s,)),
            "lower": Func("lower", [s], ident, results=(s,)),
            "upper": Func("upper", [s], ident, results=(s,)),
            "truncate": Func("truncate", [s, i], ident, results=(s,))}


def parse(text: str, name: str = "", funcs: dict[str, Func] | None = None) -> Template:
    """templates.Parse / templates.New(name).Parse; raises ParseError."""
    t = Template(name).funcs(basic_functions())
    if funcs:
        t.funcs(funcs)
    return t.parse(text)
