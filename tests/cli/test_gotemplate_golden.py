"""Golden tests: dockling's CLI prints what the docker CLI (28.2.2) printed for the same
--format over the same Engine API answers (tests/cli/fixtures/gotemplate_*.json, made
with tools/record_gotemplate_fixtures.py). No daemon, no root: the answers come from a
canned API on a unix socket, and the CLI runs in this process."""

from __future__ import annotations

import glob
import io
import json
import os
import sys
import time

import pytest

from tests.cli.fakeapi import FakeAPI

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "fixtures",
                                         "gotemplate_*.json")))


def _cases() -> list:
    return list(_each_case())


def _each_case():
    for path in FIXTURES:
        with open(path) as f:
            fx = json.load(f)
        name = os.path.basename(path)[len("gotemplate_"):-len(".json")]
        for i, case in enumerate(fx["cases"]):
            yield pytest.param(path, i, id=f"{name}-{i}-{' '.join(case['args'])[:60]}")


@pytest.fixture(scope="module")
def servers():
    """One canned API per fixture file, for the whole module."""
    running, loaded = {}, {}
    try:
        for path in FIXTURES:
            with open(path) as f:
                loaded[path] = json.load(f)
            api = FakeAPI(loaded[path]["routes"], loaded[path].get("recorded_at"))
            api.__enter__()
            running[path] = api
        yield running, loaded
    finally:
        for api in running.values():
            api.__exit__(None, None, None)


def run_cli(sock: str, args: list[str], env: dict, now: int | None = None
            ) -> tuple[int, str, str]:
    """dockling's main() in this process, stdout and stderr captured as bytes; with
    `now`, its clock runs from that time (the fixture's recording)."""
    from dockling.cli.main import main

    real_time = time.time
    if now is not None:
        start = real_time()
        time.time = lambda: now + (real_time() - start)
    saved = {k: os.environ.get(k) for k in (*env, "DOCKLING_NO_AUTOSTART")}
    os.environ.update(env)
    os.environ["DOCKLING_NO_AUTOSTART"] = "1"
    time.tzset()
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape",
                           newline="", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape",
                           newline="", write_through=True)
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        rc = main(["-H", "unix://" + sock, *args])
    finally:
        time.time = real_time
        sys.stdout, sys.stderr = old
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        time.tzset()
    return (rc, out.buffer.getvalue().decode("utf-8", "surrogateescape"),
            err.buffer.getvalue().decode("utf-8", "surrogateescape"))


@pytest.mark.parametrize(("path", "index"), _cases())
def test_same_as_docker(servers, path, index):
    apis, loaded = servers
    fx = loaded[path]
    case = fx["cases"][index]
    want = {"rc": case["rc"], "stdout": case["stdout"], "stderr": case["stderr"]}
    # a known difference, explained in the fixture ("why")
    want.update({k: v for k, v in case.get("dockling", {}).items() if k in want})
    rc, out, err = run_cli(apis[path].sock, case["args"], fx.get("env", {}),
                           fx.get("recorded_at"))
    assert (out, err, rc) == (want["stdout"], want["stderr"], want["rc"])
