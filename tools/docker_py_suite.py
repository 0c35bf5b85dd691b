#!/usr/bin/env python3
"""Run docker-py's integration suite (tests/integration) against a private dockling daemon.

    sudo .venv/bin/python tools/docker_py_suite.py /path/to/docker-py [TEST...] [options]
         [-- more pytest args]

It fetches nothing itself: give it a docker-py source tree with its tests (docker/docker-py,
written against 7.x). It makes (once) a separate venv with docker-py and its test deps
(``--venv``, /tmp/dpy-venv by default; pip installs from the package index), starts a
daemon of its own (own root, socket, bridge, cgroup parent: dockling.testing.private),
makes the images the tests start from out of Debian's busybox-static (IMAGES below: the
suite's conftest would pull them from Docker Hub otherwise), runs pytest with DOCKER_HOST
on that socket and a time limit per test (pytest-timeout, ``--timeout``), keeps the
daemon's log (``--log``), writes a junit xml (``--junit``) and a list of the failures and
errors by test (``--summary``), then removes the daemon and everything it made. TEST is a
file or node id under the checkout (all of tests/integration when none); ``-k`` selects
by name as pytest's. The exit status is pytest's.

It takes 10-20 minutes on two cores: not part of dockling's own test run.

Deselected, because this machine has no Docker Hub and no other outside address, or
because they test a docker-py helper rather than the engine (``--list-deselected``):
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

_HUB = "pulls from Docker Hub"
_IMG = "tests/integration/api_image_test.py::"
_MODELS_IMG = "tests/integration/models_images_test.py::"
_PLUGIN = "tests/integration/api_plugin_test.py::PluginTest::"
_SSHFS = "installs the vieux/sshfs plugin from Docker Hub"
# node id, or a class's node id for all its tests -> why it cannot run here (pytest's
# --deselect takes prefixes: test_pull would drop test_pull_invalid_platform too)
DESELECT = {
    "tests/integration/api_build_test.py::BuildTest::test_build_streaming":
        "ADD https://dl.dropboxusercontent.com/...: an outside address",
    "tests/integration/api_client_test.py::ConnectionTimeoutTest::test_timeout":
        "connects to 192.168.10.2:4243, an outside address (times the client out; never "
        "reaches the daemon)",
    _IMG + "PullImageTest::test_pull": _HUB + " (hello-world)",
    _IMG + "PullImageTest::test_pull_streaming": _HUB + " (hello-world)",
    _IMG + "ImportImageTest::test_get_load_image": _HUB + " (hello-world)",
    _IMG + "PruneImagesTest::test_prune_images": _HUB + " (hello-world)",
    _IMG + "InspectDistributionTest::test_inspect_distribution":
        "asks Docker Hub for busybox's manifest list",
    _MODELS_IMG + "ImageCollectionTest::test_list": _HUB + " (alpine:latest)",
    _MODELS_IMG + "ImageCollectionTest::test_list_with_repository": _HUB + " (alpine:latest)",
    _MODELS_IMG + "ImageCollectionTest::test_pull": _HUB + " (alpine:latest)",
    _MODELS_IMG + "ImageCollectionTest::test_pull_with_tag": _HUB + " (alpine:3.10)",
    _MODELS_IMG + "ImageCollectionTest::test_pull_with_sha": _HUB + " (hello-world@sha256:…)",
    _MODELS_IMG + "ImageCollectionTest::test_pull_multiple":
        _HUB + " (hello-world, all tags)",
    _MODELS_IMG + "ImageTest::test_tag_and_remove": _HUB + " (alpine:latest)",
    "tests/integration/models_containers_test.py::ContainerCollectionTest::"
    "test_run_with_image_that_does_not_exist":
        "expects Docker Hub's 'pull access denied' for an unknown image (offline the "
        "pull fails on the network instead)",
    **{_PLUGIN + t: _SSHFS for t in (
        "test_enable_plugin", "test_disable_plugin", "test_inspect_plugin",
        "test_plugin_privileges", "test_list_plugins", "test_configure_plugin",
        "test_remove_plugin", "test_force_remove_plugin", "test_install_plugin",
        "test_upgrade_plugin")},
    "tests/integration/credentials/store_test.py::TestStore":
        "tests docker-py's credential-helper client: needs docker-credential-pass and a "
        "gpg key (docker-py's CI image has them), never talks to the daemon",
}
# The images the tests name, made from busybox: FROM busybox in api_build_test,
# TEST_IMG = alpine:3.10 in base.py (and the conftest would pull it), "alpine" (:latest)
# in models_*_test and api_build_test's multi-stage build. alpine gets its own image id
# (its CMD differs, as the real image's does), as the tests assume two images.
IMAGES = {
    "busybox:latest": 'CMD ["sh"]',
    "alpine:3.10": 'CMD ["/bin/sh"]',
}
TAGS = {"alpine:latest": "alpine:3.10"}
TEST_DEPS = ["pytest", "pytest-timeout", "paramiko"]  # tests/helpers.py imports paramiko

__doc__ += "".join(f"\n- {k.split('::', 1)[-1]}: {v}" for k, v in DESELECT.items()) + "\n"


def pytest_collection_modifyitems(config, items) -> None:  # noqa: ANN001 - pytest's hook
    """As a pytest plugin (``-p docker_py_suite``): drop the tests of DESELECT, each by
    its exact node id or its class's."""
    def dropped(node: str) -> bool:
        return any(node == n or node.startswith(n + "::") for n in DESELECT)

    out = [i for i in items if dropped(i.nodeid)]
    if out:
        config.hook.pytest_deselected(items=out)
        items[:] = [i for i in items if not dropped(i.nodeid)]


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


def make_images(cli: list[str], env: dict, tar: str) -> None:
    """Import the busybox rootfs once per image of IMAGES, then tag TAGS."""
    for ref, change in IMAGES.items():
        subprocess.run([*cli, "import", "--change", change, tar, ref], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    for ref, src in TAGS.items():
        subprocess.run([*cli, "tag", src, ref], env=env, check=True)


def client_env(sock: str, work: str) -> dict:
    """The tests' environment: DOCKER_HOST on the private socket, and a HOME and
    DOCKER_CONFIG of their own (the context tests write ~/.docker/contexts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKLING_"))}
    home = os.path.join(work, "home")
    os.makedirs(home, exist_ok=True)
    env.update(DOCKER_HOST=sock, HOME=home, DOCKER_CONFIG=os.path.join(home, ".docker"),
               PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))  # -p docker_py_suite
    return env


def run_pytest(argv: list[str], cwd: str, env: dict) -> tuple[int, str]:
    """pytest's status and its last summary line (echoing its output as it comes)."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    last = ""
    assert proc.stdout is not None
    for line in proc.stdout:
        sys.stdout.write(line)
        sys.stdout.flush()
        if line.startswith("=") and " in " in line:
            last = line.strip("= \n")
    return proc.wait(), last


def node_id(classname: str, name: str, checkout: str) -> str:
    """pytest's node id from a junit testcase: its classname is the module's dotted
    path, then the class if any (tests.integration.api_build_test.BuildTest)."""
    parts = classname.split(".")
    for i in range(len(parts), 0, -1):
        path = "/".join(parts[:i]) + ".py"
        if os.path.isfile(os.path.join(checkout, path)):
            return "::".join([path, *parts[i:], name])
    return f"{classname}::{name}"


def failures(junit: str, checkout: str) -> list[tuple[str, str, str]]:
    """(node id, FAILED/ERROR, first line of the message) of each failure and error
    in a pytest junit xml, in run order."""
    out = []
    for case in ET.parse(junit).getroot().iter("testcase"):
        node = node_id(case.get("classname", ""), case.get("name", ""), checkout)
        for el in case:
            if el.tag in ("failure", "error"):
                msg = (el.get("message") or el.text or "").strip().splitlines()
                out.append((node, el.tag.upper(), msg[0][:300] if msg else ""))
    return out


def write_summary(path: str, last: str, junit: str, checkout: str) -> None:
    """pytest's counts and one line per failure or error."""
    rows = failures(junit, checkout)
    with open(path, "w") as f:
        f.write(f"{last}\n\n")
        for node, kind, msg in rows:
            f.write(f"{kind:6s} {node}\n       {msg}\n")
    print(f"failures and errors by test ({len(rows)}): {path}")


def parse_args(argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkout", nargs="?", help="a docker-py source tree (with tests/)")
    p.add_argument("tests", nargs="*", metavar="TEST",
                   help="files or node ids under the checkout (default: tests/integration)")
    p.add_argument("-k", dest="keyword", help="pytest's -k expression")
    p.add_argument("--timeout", type=int, default=120,
                   help="seconds one test may take before pytest-timeout fails it")
    p.add_argument("--venv", default="/tmp/dpy-venv")
    p.add_argument("--log", default="/tmp/docker-py-suite-daemon.log",
                   help="where to keep the daemon's log")
    p.add_argument("--junit", help="write pytest's junit xml here")
    p.add_argument("--summary", default="/tmp/docker-py-suite-failures.txt",
                   help="where to write the counts and the failures by test")
    p.add_argument("--list-deselected", action="store_true",
                   help="print the deselected tests with their reasons and exit")
    a, extra = p.parse_known_args(argv)
    if a.list_deselected:
        return a, extra
    if not a.checkout:
        p.error("give a docker-py checkout")
    a.checkout = os.path.abspath(a.checkout)
    if not os.path.isdir(os.path.join(a.checkout, "tests/integration")):
        p.error(f"{a.checkout}: not a docker-py checkout (no tests/integration)")
    if os.geteuid() != 0:
        p.error("needs root (the daemon makes namespaces, cgroups and mounts)")
    # a TEST after an option lands among the unknown arguments: take it back
    a.tests += [x for x in extra if not x.startswith("-")
                and os.path.exists(os.path.join(a.checkout, x.split("::")[0]))]
    return a, [x for x in extra if x != "--" and x not in a.tests]


def main(argv: list[str] | None = None) -> int:
    a, extra = parse_args(argv)
    if a.list_deselected:
        for node, why in DESELECT.items():
            print(f"{node}\n    {why}")
        return 0
    py = venv(a.venv, a.checkout)

    from dockling.testing.private import private_daemon

    print(f"deselected: {len(DESELECT)} node ids (--list-deselected says why)")
    with private_daemon("dockling-dpy") as (cli, env, tar, _pid, work):
        junit = a.junit or os.path.join(work, "junit.xml")
        try:
            make_images(cli, env, tar)
            sock = env["DOCKLING_HOST"]
            argv = [py, "-m", "pytest", "-p", "no:cacheprovider", "-p", "docker_py_suite",
                    "--timeout", str(a.timeout), "-rfEsxX", f"--junitxml={junit}",
                    *(a.tests or ["tests/integration"]),
                    *(["-k", a.keyword] if a.keyword else []), *extra]
            print("$ DOCKER_HOST=" + sock, " ".join(argv[1:]), flush=True)
            rc, last = run_pytest(argv, a.checkout, client_env(sock, work))
            if os.path.exists(junit):
                write_summary(a.summary, last, junit, a.checkout)
        finally:
            shutil.copyfile(os.path.join(work, "daemon.log"), a.log)
            print(f"the daemon's log: {a.log}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
