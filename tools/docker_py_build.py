#!/usr/bin/env python3
"""Run docker-py's own build tests against a private dockling daemon.

    sudo .venv/bin/python tools/docker_py_build.py /path/to/docker-py [pytest args...]

It fetches nothing itself: give it a docker-py checkout (its source tree, tests
included). It makes (once) a separate venv with docker-py and its test deps
(``--venv``, /tmp/dpy-venv by default; pip installs from the package index), starts a
daemon of its own (own root, socket, bridge, cgroup parent: dockling.testing.private),
imports busybox and tags it as the images the tests name, runs
tests/integration/api_build_test.py and the build tests of models_images_test.py with
DOCKER_HOST on that socket, prints pytest's summary, keeps the daemon's log
(``--log``) and removes the daemon and everything it made. The exit status is pytest's.

Deselected, because they need the outside world (this machine has no Docker Hub and
no other outside addresses):
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

# node id -> why it cannot run here
DESELECT = {
    "tests/integration/api_build_test.py::BuildTest::test_build_streaming":
        "ADD https://dl.dropboxusercontent.com/...: an outside address",
}
# models_images_test.py: only the build tests (the others pull from Docker Hub)
MODELS_BUILD = ["test_build", "test_build_with_error", "test_build_with_multiple_success",
                "test_build_with_success_build_output"]
# the images the tests start from: busybox stands in for each
TAGS = ["busybox:latest", "busybox:buildroot-2014.02", "alpine:3.10", "alpine:latest"]
TEST_DEPS = ["pytest", "pytest-timeout", "paramiko"]  # tests/helpers.py imports paramiko

__doc__ += "".join(f"\n- {k.split('::')[-1]}: {v}" for k, v in DESELECT.items()) + "\n"


def venv(path: str, checkout: str) -> str:
    """The venv's python, with docker-py from ``checkout`` installed (again when the
    checkout differs from the one installed last)."""
    py = os.path.join(path, "bin", "python")
    stamp = os.path.join(path, ".docker-py-checkout")
    if not os.path.exists(py):
        base = getattr(sys, "_base_executable", sys.executable)  # not this venv's python
        subprocess.run([base, "-m", "venv", path], check=True)
    try:
        with open(stamp) as f:
            installed = f.read()
    except FileNotFoundError:
        installed = ""
    if installed != os.path.realpath(checkout):
        env = dict(os.environ)
        if subprocess.run(["git", "-C", checkout, "rev-parse"], capture_output=True,
                          check=False).returncode != 0:
            # hatch-vcs takes the version from git; an exported tree has none
            env["SETUPTOOLS_SCM_PRETEND_VERSION"] = "7.1.0"
        subprocess.run([py, "-m", "pip", "install", "-q", *TEST_DEPS, checkout], env=env,
                       check=True)
        with open(stamp, "w") as f:
            f.write(os.path.realpath(checkout))
    return py


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkout", help="a docker-py source tree (with tests/)")
    p.add_argument("--venv", default="/tmp/dpy-venv")
    p.add_argument("--log", default="/tmp/docker-py-build-daemon.log",
                   help="where to keep the daemon's log")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER,
                   help="more pytest arguments (e.g. -k cache_from -x)")
    a = p.parse_args()
    checkout = os.path.abspath(a.checkout)
    if not os.path.isfile(os.path.join(checkout, "tests/integration/api_build_test.py")):
        p.error(f"{checkout}: not a docker-py checkout (no tests/integration/api_build_test.py)")
    if os.geteuid() != 0:
        p.error("needs root (the daemon makes namespaces, cgroups and mounts)")
    py = venv(a.venv, checkout)

    from dockling.testing.private import private_daemon

    tests = ["tests/integration/api_build_test.py",
             *(f"tests/integration/models_images_test.py::ImageCollectionTest::{t}"
               for t in MODELS_BUILD)]
    print("deselected:")
    for node, why in DESELECT.items():
        print(f"  {node}: {why}")
    with private_daemon("dockling-dpy") as (cli, env, _tar, _pid, work):
        try:
            for tag in TAGS[1:]:
                subprocess.run([*cli, "tag", TAGS[0], tag], env=env, check=True)
            sock = env["DOCKLING_HOST"]
            denv = {k: v for k, v in os.environ.items()
                    if not k.startswith(("DOCKER_", "DOCKLING_"))}
            denv.update(DOCKER_HOST=sock, DOCKER_CONFIG=os.path.join(work, "docker-config"),
                        PYTHONDONTWRITEBYTECODE="1")
            argv = [py, "-m", "pytest", "-p", "no:cacheprovider", "--timeout", "300",
                    "-rfEsxX", *tests, *(f"--deselect={n}" for n in DESELECT),
                    *a.pytest_args]
            print("$ DOCKER_HOST=" + sock, " ".join(argv[1:]), flush=True)
            rc = subprocess.run(argv, cwd=checkout, env=denv, check=False).returncode
        finally:
            shutil.copyfile(os.path.join(work, "daemon.log"), a.log)
            print(f"the daemon's log: {a.log}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
