"""What the CLI and the neutral package may import (STYLE.md: the CLI never
imports the engine; issue 13).

The CLI is an API client: besides itself it may load the client, the neutral
package (dockling.formats) and three leaf modules (errors, units, clock). The
neutral package may load only the standard library, those leaf modules and
itself, so the engine and the CLI share it without the CLI paying for the
engine. Each rule is checked twice: statically (every import statement,
function-level ones too) and by importing each module in a fresh interpreter.
No daemon and no root needed: `run` talks to tests/cli/fakeapi.py.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import pkgutil
import subprocess
import sys

import pytest

import dockling.cli
import dockling.formats
from tests.cli.fakeapi import FakeAPI

LEAVES = ("dockling.errors", "dockling.units", "dockling.clock")
CLI_ALLOWED = ("dockling.cli", "dockling.client", "dockling.formats", *LEAVES)
FORMATS_ALLOWED = ("dockling.formats", *LEAVES)
# `dockling daemon` runs the daemon in the CLI's process: the one engine import.
CLI_EXCEPTIONS = {("dockling/cli/main.py", "dockling.daemon.main")}
# zstd layers only (formats/unpack.decompressed), imported when such a stream comes.
FORMATS_THIRD_PARTY = {"zstandard"}
ROOT = os.path.dirname(os.path.dirname(dockling.__file__))
BIN = os.path.join(os.path.dirname(sys.executable), "dockling")


def _modules(pkg) -> list[str]:
    return [pkg.__name__] + [m.name for m in pkgutil.walk_packages(pkg.__path__,
                                                                   pkg.__name__ + ".")]


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return name == "dockling" or any(name == p or name.startswith(p + ".") for p in prefixes)


def _imports(pkg) -> list[tuple[str, int, str]]:
    """(file relative to the repo, line, imported module) of every import
    statement under ``pkg``, in functions too; relative imports resolved."""
    out = []
    for mod in _modules(pkg):
        spec = importlib.util.find_spec(mod)
        path = spec.origin
        tree = ast.parse(open(path).read(), path)
        rel = os.path.relpath(path, ROOT)
        package = mod if path.endswith("__init__.py") else mod.rpartition(".")[0]
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out += [(rel, node.lineno, a.name) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")
                    base = ".".join(parts[:len(parts) - node.level + 1] + ([base] if base else []))
                # `from dockling import clock` imports dockling.clock
                out += [(rel, node.lineno, f"{base}.{a.name}" if base == "dockling" else base)
                        for a in node.names]
    return out


def _loaded_by_import(module: str) -> list[str]:
    """The modules importing ``module`` loads in a fresh interpreter."""
    code = ("import sys, json; before = set(sys.modules); import " + module +
            "; print(json.dumps(sorted(set(sys.modules) - before)))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, timeout=60, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    return json.loads(res.stdout)


def test_cli_statements_import_only_client_and_neutral_modules():
    found = _imports(dockling.cli)
    assert any(m == "dockling.formats.ports" for _, _, m in found)  # the scan reads lazy imports
    bad = [(f, line, m) for f, line, m in found
           if m.startswith("dockling.") and not _allowed(m, CLI_ALLOWED)
           and (f, m) not in CLI_EXCEPTIONS]
    assert bad == []


def test_formats_statements_import_only_stdlib_and_leaves():
    found = _imports(dockling.formats)
    bad = [(f, line, m) for f, line, m in found
           if (m.startswith("dockling.") and not _allowed(m, FORMATS_ALLOWED))
           or (not m.startswith("dockling") and m.split(".")[0] not in sys.stdlib_module_names
               and m.split(".")[0] not in FORMATS_THIRD_PARTY and m != "__future__")]
    assert bad == []


@pytest.mark.parametrize("module", _modules(dockling.cli))
def test_each_cli_module_loads_no_engine(module):
    mods = _loaded_by_import(module)
    assert module in mods or module == "dockling.cli"
    assert [m for m in mods if m.startswith("dockling.") and not _allowed(m, CLI_ALLOWED)] == []


@pytest.mark.parametrize("module", _modules(dockling.formats))
def test_each_formats_module_loads_only_the_standard_library(module):
    mods = _loaded_by_import(module)
    assert [m for m in mods if m.startswith("dockling.") and not _allowed(m, FORMATS_ALLOWED)] == []
    third = [m for m in mods if not m.startswith("dockling")
             and m.split(".")[0] not in sys.stdlib_module_names]
    assert third == []


def _command_modules(api: FakeAPI, *args: str) -> list[str]:
    env = {**os.environ, "DOCKLING_HOST": f"unix://{api.sock}", "DOCKLING_NO_AUTOSTART": "1"}
    res = subprocess.run([sys.executable, "-X", "importtime", BIN, *args], capture_output=True,
                         text=True, env=env, timeout=60, stdin=subprocess.DEVNULL, check=False)
    assert res.returncode == 0, res.stderr[-2000:]
    lines = [ln for ln in res.stderr.splitlines() if ln.startswith("import time:")]
    return [ln.rsplit("|", 1)[-1].strip() for ln in lines[1:]]  # [0] is the header


# Module counts measured when this test was written (--help 110, run 84), with room
# for a few: a new heavy import (asyncio ~25 modules, ssl, http.client ~20) fails.
@pytest.mark.parametrize("args,most", [
    (("--help",), 125),
    (("run", "-d", "-p", "127.0.0.1::80", "-m", "64m", "--device", "/dev/null",
      "--restart", "on-failure:3", "-v", "/tmp:/mnt:ro", "busybox", "true"), 100),
])
def test_help_and_run_stay_small(args, most):
    routes = {"/containers/create": {"Id": "c0ffee", "Warnings": []},
              "/containers/c0ffee/start": {}}
    with FakeAPI(routes) as api:
        mods = _command_modules(api, *args)
        if args[0] == "run":
            assert any(r.startswith("/containers/c0ffee/start") for r in api.requests)
    assert "dockling.client.http" in mods  # the list is read right
    assert [m for m in mods if m.startswith("dockling.") and not _allowed(m, CLI_ALLOWED)] == []
    assert len(mods) <= most, sorted(mods)
    if args[0] == "run":  # re and json are ~20 ms of a start (cli/flags.py, client/wirejson.py)
        assert not {"re", "json", "enum", "argparse"} & set(mods), sorted(mods)
        # the tables' module (with units and tabwriter) is ps's and top's alone
        assert "dockling.cli.format" not in mods, sorted(mods)
