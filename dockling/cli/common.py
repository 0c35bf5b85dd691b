"""What many commands share: acting on each name, printing inspect documents,
parsing --filter, asking for confirmation."""

from __future__ import annotations

import sys

from dockling.cli.main import UsageError
from dockling.client.http import APIError


def each(names: list[str], fn) -> int:
    """fn(name) for every name; echo the name or docker's error (exit 1 if any failed)."""
    rc = 0
    for n in names:
        try:
            fn(n)
            print(n)
        except APIError as err:
            print(f"Error response from daemon: {err.message}", file=sys.stderr)
            rc = 1
    return rc


def inspect(names: list[str], fetch, fmt: str | None, go_type: str | None = None,
            raw_fallback: bool = True) -> int:
    """docker's inspect output: a JSON array, or --format once per document (as the
    Go type docker decodes it into, e.g. "volume.Volume"); errors after the output."""
    docs, errors = [], []
    for n in names:
        try:
            docs.append(fetch(n))
        except APIError as err:
            errors.append(f"Error response from daemon: {err.message}")
    return print_documents(docs, fmt, go_type, errors, raw_fallback)


def print_documents(docs: list[dict], fmt: str | None, go_type: str | None = None,
                    errors: list[str] | None = None, raw_fallback: bool = True) -> int:
    if not fmt:
        for e in errors or []:
            print(e, file=sys.stderr)
        import json

        print(json.dumps(docs, indent=4))
        return 1 if errors else 0
    from dockling.cli.format import print_inspect

    typed = [d if isinstance(d, tuple) else (d, go_type) for d in docs]
    return print_inspect(typed, fmt, errors, raw_fallback)


def filters(items: list[str]) -> dict[str, list[str]]:
    """--filter k=v (repeatable) -> the API's filters map."""
    out: dict[str, list[str]] = {}
    for f in items:
        k, eq, v = f.partition("=")
        if not eq:
            raise UsageError(f"bad format of filter (expected name=value): {f}")
        out.setdefault(k, []).append(v)
    return out


def refuse_terminal(output: str | None) -> None:
    """save and export write a tar: never to a terminal (docker's words)."""
    if not output and sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or "
                         "redirect")


def save_stream(resp, output: str | None) -> None:
    """A tar answer (save, export) to -o FILE or to stdout."""
    out = open(output, "wb") if output else sys.stdout.buffer  # noqa: SIM115
    try:
        while chunk := resp.read1(1 << 20):
            out.write(chunk)
    finally:
        resp.close()
        if output:
            out.close()
        else:
            out.flush()


def confirm(message: str) -> bool:
    print(f"{message}\nAre you sure you want to continue? [y/N] ", end="", flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")
