"""Record what the docker CLI prints for the --format cases of tests/cli/fixtures/*.json.

Each fixture file holds canned Engine API answers ("routes", served by
tests/cli/fakeapi.py on a private unix socket, no daemon needed) and "cases" (CLI
arguments). This runs the docker CLI (a 28.x client; `docker` on PATH or --docker) for
each case against those answers and stores its exit status, stdout and stderr as the
case's expectation; tests/cli/test_gotemplate_golden.py then runs dockling's CLI over the
same answers and wants the same. "@now-N" in the answers is a time N seconds before the
recording (the tests set the CLI's clock back to it, so "2 hours ago" stays true). A case's "dockling" entry (a known, explained difference)
is kept as it is.

    .venv/bin/python tools/record_gotemplate_fixtures.py            # every fixture
    .venv/bin/python tools/record_gotemplate_fixtures.py --check    # compare, write nothing
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.cli.fakeapi import FakeAPI  # noqa: E402

FIXTURES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "tests", "cli", "fixtures")


def run_docker(docker: str, sock: str, args: list[str], env: dict) -> tuple[int, str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER")}
    e.update(env)
    e["DOCKER_HOST"] = "unix://" + sock
    e["DOCKER_CONFIG"] = os.path.join(os.path.dirname(sock), "docker-config")
    os.makedirs(e["DOCKER_CONFIG"], exist_ok=True)
    r = subprocess.run([docker, *args], capture_output=True, env=e, timeout=60, check=False)
    return (r.returncode, r.stdout.decode("utf-8", "surrogateescape"),
            r.stderr.decode("utf-8", "surrogateescape"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*")
    ap.add_argument("--docker", default="docker")
    ap.add_argument("--check", action="store_true", help="report differences, write nothing")
    a = ap.parse_args()
    version = subprocess.run([a.docker, "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    changed = 0
    for path in a.files or sorted(glob.glob(os.path.join(FIXTURES, "*.json"))):
        with open(path) as f:
            fx = json.load(f)
        if not a.check:
            fx["recorded_at"] = int(time.time())
        with FakeAPI(fx["routes"], fx.get("recorded_at")) as api:
            for case in fx["cases"]:
                rc, out, err = run_docker(a.docker, api.sock, case["args"], fx.get("env", {}))
                if (rc, out, err) != (case.get("rc"), case.get("stdout"), case.get("stderr")):
                    changed += 1
                    print(f"{os.path.basename(path)}: {case['args']}: "
                          f"{(case.get('rc'), case.get('stdout'), case.get('stderr'))!r} -> "
                          f"{(rc, out, err)!r}")
                case.update(rc=rc, stdout=out, stderr=err)
        fx["recorded_with"] = version
        if not a.check:
            with open(path, "w") as f:
                json.dump(fx, f, indent=1)  # ASCII: a cut UTF-8 sequence survives
                f.write("\n")
    print(f"{changed} expectation(s) {'differ' if a.check else 'changed'}")
    return 1 if a.check and changed else 0


if __name__ == "__main__":
    sys.exit(main())
