"""docker's output conventions: tables, human sizes and times, Go-template --format."""

from __future__ import annotations

import json
import re
import time

from dockling.units import human_duration
from dockling.units import human_size  # noqa: F401 - re-exported for the commands


def ago(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago"


def table(rows: list[dict], columns: list[tuple[str, str]]) -> str:
    """Columns padded like Go's tabwriter (min width, 3 spaces of padding)."""
    headers = [h for h, _ in columns]
    cells = [[str(r.get(k, "")) for _, k in columns] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, h in enumerate(headers)]
    out = []
    for line in [headers, *cells]:
        out.append("".join(c.ljust(w + 3) if i < len(line) - 1 else c
                           for i, (c, w) in enumerate(zip(line, widths))).rstrip())
    return "\n".join(out)


_TOKEN = re.compile(r"\{\{\s*(json\s+)?\.([A-Za-z_][\w.]*)?\s*\}\}")


def render(template: str, rows: list[dict], headers: dict[str, str]) -> str:
    """A subset of Go templates: {{.Field}}, {{json .}}, {{json .Field}}, table prefix."""
    is_table = template.startswith("table")
    if is_table:
        template = template[len("table"):].lstrip()
    template = template.replace("\\t", "\t").replace("\\n", "\n")

    def expand(row: dict, header: bool) -> str:
        def sub(m: re.Match) -> str:
            field = m.group(2)
            if header:
                return headers.get(field, field.upper()) if field else ""
            if field is None:
                return json.dumps(row, separators=(",", ":"))
            val = row
            for part in field.split("."):
                val = val.get(part, "") if isinstance(val, dict) else ""
            if m.group(1):
                return json.dumps(val, separators=(",", ":"))
            return str(val)

        for m in re.finditer(r"\{\{(.*?)\}\}", template):
            if not _TOKEN.fullmatch(m.group(0)):
                raise ValueError(f"template: unsupported action {m.group(0)!r}")
        return _TOKEN.sub(sub, template)

    lines = [expand(r, False) for r in rows]
    if is_table:
        lines = [expand({}, True), *lines]
        split = [line.split("\t") for line in lines]
        ncol = max(len(s) for s in split)
        widths = [max(len(s[i]) if i < len(s) else 0 for s in split) for i in range(ncol)]
        lines = ["".join(c.ljust(widths[i] + 3) if i < len(s) - 1 else c
                         for i, c in enumerate(s)).rstrip() for s in split]
    return "\n".join(lines)


def print_formatted(template: str, rows: list[dict], headers: dict[str, str]) -> None:
    """--format output; a template we cannot render is the user's error (exit 1)."""
    from dockling.cli.main import UsageError

    try:
        out = render(template, rows, headers)
    except ValueError as err:
        raise UsageError(str(err)) from err
    if out:
        print(out)


def print_list(rows: list[dict], columns: list[tuple[str, str]], headers: dict[str, str],
               fmt: str | None, quiet_key: str | None = None) -> None:
    """An ls command's output: -q (one key per line), --format, or the table."""
    if quiet_key:
        for r in rows:
            print(r[quiet_key])
    elif fmt:
        print_formatted(fmt, rows, headers)
    else:
        print(table(rows, columns))
