"""docker's output conventions: tables, human sizes and times, and the entry points of
--format.

--format is docker/cli's: a Go template (dockling.cli.gotemplate), `json`, `table ...`
with a header row, `raw`; the work is in dockling.cli.formatter, imported only when a
--format is given, so commands start as fast without one. Errors are printed as docker
prints them, with its exit codes (64 for a template that does not parse in inspect, info,
version and events; 1 otherwise)."""

from __future__ import annotations

import sys
import time

from dockling.units import (
    human_duration,
    human_size,  # noqa: F401 - re-exported for the commands
)


def ago(ts: float) -> str:
    return human_duration(time.time() - ts) + " ago"


def table(rows: list[dict], columns: list[tuple[str, str]], minwidth: int = 10) -> str:
    """docker/cli's default tables: tab-separated cells through its tabwriter (cells at
    least minwidth wide, 3 spaces of padding; a line's last cell is not padded)."""
    from dockling.cli.tabwriter import TabWriter

    tw = TabWriter(minwidth, 1, 3)
    tw.write("\t".join(h for h, _ in columns) + "\n")
    for r in rows:
        tw.write("\t".join(str(r.get(k, "")) for _, k in columns) + "\n")
    return tw.flush().removesuffix("\n")


class TypedNil:
    """A nil of a Go type in a row (ps's Platform() is a nil *formatter.Platform)."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name


def fail(message: str, code: int = 1):
    """docker's way out: the error alone on stderr, and its exit status."""
    from dockling.cli.main import ExitCode

    sys.stdout.flush()
    print(message, file=sys.stderr)
    raise ExitCode(code)


def print_formatted(template: str, rows: list, headers: dict[str, str],
                    type_name: str = "formatter.Context") -> None:
    """--format output of rows (dicts become formatter contexts of type_name)."""
    from dockling.cli.formatter import format_contexts, row_context

    out = format_contexts(template, [row_context(r, type_name) for r in rows], headers)
    sys.stdout.write(out)


def print_list(rows: list[dict], columns: list[tuple[str, str]], headers: dict[str, str],
               fmt: str | None, quiet_key: str | None = None,
               type_name: str = "formatter.Context", raw: tuple[str, str] | None = None,
               quiet_wins: bool = False) -> None:
    """An ls command's output as docker/cli's NewXFormat chooses it: -q prints quiet_key
    (ps: whatever --format says, with docker's warning; the others: unless a custom
    format is given), `raw` is docker's raw format (raw, raw with -q), `table` or nothing
    the default table (computed here without the template engine), else the template."""
    if quiet_key and fmt and quiet_wins:
        print("WARNING: Ignoring custom format, because both --format and --quiet are set.",
              file=sys.stderr)
    if quiet_key and (quiet_wins or not fmt or fmt == "table") and \
            not (fmt == "raw" and raw is not None):
        for r in rows:
            print(r[quiet_key])
    elif fmt == "raw" and raw is not None:
        print_formatted(raw[1] if quiet_key else raw[0], rows, headers, type_name)
    elif fmt and fmt != "table":
        print_formatted(fmt, rows, headers, type_name)
    else:
        print(table(rows, columns))


# -- inspect (cli/command/inspect/inspector.go) ----------------------------------------------

def print_inspect(docs: list[tuple[dict, str | None]], fmt: str | None,
                  errors: list[str] | None = None, raw_fallback: bool = True) -> int:
    """docker inspect's output: indented JSON array, or --format per document; the
    errors (fetch errors first, as docker joins them) after the output; 1 if any."""
    errors = list(errors or [])
    if not fmt:
        import json

        print(json.dumps([d for d, _ in docs], indent=4))
    else:
        from dockling.cli.formatter import format_documents

        text, errs = format_documents(docs, fmt, raw_fallback)
        sys.stdout.write(text)
        errors += errs
    if errors:
        sys.stdout.flush()
        print("\n".join(errors), file=sys.stderr)
        return 1
    return 0
