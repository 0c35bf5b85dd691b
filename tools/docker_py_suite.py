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

A few minutes on two cores, more when tests hang until ``--timeout``: not part of
dockling's own test run. Two runs at once on one host disturb each other: the network
tests create networks with fixed subnets (172.28.0.0/16) and publish fixed ports.
Containers the tests leave behind are listed and removed at the end (docker-py's
PruneTest leaks one on docker too).

Deselected, because this machine has no Docker Hub and no other outside address, or
because they test a docker-py helper rather than the engine (``--list-deselected``):
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tarfile
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
    "tests/integration/api_container_test.py::AttachContainerTest::"
    "test_run_container_reading_socket_ws":
        "docker-py's websocket attach dials base_url itself: websocket-client cannot "
        "reach a unix socket ('scheme http+docker is invalid'); it needs a tcp:// "
        "DOCKER_HOST (docker-py's CI runs dind over tcp)",
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
    "tests/integration/credentials/utils_test.py::test_create_environment_dict":
        "rebinds os.environ to a plain dict (mock.patch.dict restores the old object, not "
        "the name): every later test loses DOCKER_HOST and dials /var/run/docker.sock",
    "tests/integration/credentials/store_test.py::TestStore":
        "tests docker-py's credential-helper client: needs docker-credential-pass and a "
        "gpg key (docker-py's CI image has them), never talks to the daemon",
}
# The images the tests name, made from busybox: FROM busybox in api_build_test,
# TEST_IMG = alpine:3.10 in base.py (and the conftest would pull it), "alpine" (:latest)
# in models_*_test and api_build_test's multi-stage build. Each image: its CMD and the
# files it has beyond the busybox rootfs.
ALPINE_PASSWD = """root:x:0:0:root:/root:/bin/ash
bin:x:1:1:bin:/bin:/sbin/nologin
daemon:x:2:2:daemon:/sbin:/sbin/nologin
adm:x:3:4:adm:/var/adm:/sbin/nologin
lp:x:4:7:lp:/var/spool/lpd:/sbin/nologin
sync:x:5:0:sync:/sbin:/bin/sync
shutdown:x:6:0:shutdown:/sbin:/sbin/shutdown
halt:x:7:0:halt:/sbin:/sbin/halt
mail:x:8:12:mail:/var/spool/mail:/sbin/nologin
news:x:9:13:news:/usr/lib/news:/sbin/nologin
uucp:x:10:14:uucp:/var/spool/uucppublic:/sbin/nologin
operator:x:11:0:operator:/root:/sbin/nologin
man:x:13:15:man:/usr/man:/sbin/nologin
postmaster:x:14:12:postmaster:/var/spool/mail:/sbin/nologin
cron:x:16:16:cron:/var/spool/cron:/sbin/nologin
ftp:x:21:21::/var/lib/ftp:/sbin/nologin
sshd:x:22:22:sshd:/dev/null:/sbin/nologin
at:x:25:25:at:/var/spool/cron/atjobs:/sbin/nologin
squid:x:31:31:Squid:/var/cache/squid:/sbin/nologin
xfs:x:33:33:X Font Server:/etc/X11/fs:/sbin/nologin
games:x:35:35:games:/usr/games:/sbin/nologin
postgres:x:70:70::/var/lib/postgresql:/bin/sh
cyrus:x:85:12::/usr/cyrus:/sbin/nologin
vpopmail:x:89:89::/var/vpopmail:/sbin/nologin
ntp:x:123:123:NTP:/var/empty:/sbin/nologin
smmsp:x:209:209:smmsp:/var/spool/mqueue:/sbin/nologin
guest:x:405:100:guest:/dev/null:/sbin/nologin
nobody:x:65534:65534:nobody:/:/sbin/nologin
"""
ALPINE_GROUP = """root:x:0:root
bin:x:1:root,bin,daemon
daemon:x:2:root,bin,daemon
sys:x:3:root,bin,adm
adm:x:4:root,adm,daemon
tty:x:5:
disk:x:6:root,adm
lp:x:7:lp
mem:x:8:
kmem:x:9:
wheel:x:10:root
floppy:x:11:root
mail:x:12:mail
news:x:13:news
uucp:x:14:uucp
man:x:15:man
cron:x:16:cron
console:x:17:
audio:x:18:
cdrom:x:19:
dialout:x:20:root
ftp:x:21:
sshd:x:22:
input:x:23:
at:x:25:at
tape:x:26:root
video:x:27:root
netdev:x:28:
readproc:x:30:
squid:x:31:squid
xfs:x:33:xfs
kvm:x:34:kvm
games:x:35:
shadow:x:42:
postgres:x:70:
cdrw:x:80:
usb:x:85:
vpopmail:x:89:
users:x:100:games
ntp:x:123:
nofiles:x:200:
smmsp:x:209:smmsp
ping:x:999:
nogroup:x:65533:
nobody:x:65534:
"""
IMAGES = {
    "busybox:latest": ('CMD ["sh"]', {}, []),
    # alpine-baselayout's users and directories: api_exec_test runs `whoami` as postgres
    # and `pwd` in /var/opt
    "alpine:3.10": ('CMD ["/bin/sh"]',
                    {"etc/passwd": ALPINE_PASSWD, "etc/group": ALPINE_GROUP,
                     "etc/alpine-release": "3.10.9\n"},
                    ["var/opt", "var/lib", "var/log", "var/spool", "var/cache", "var/empty",
                     "var/tmp", "opt", "srv", "mnt", "media", "run", "lib"]),
}
TAGS = {"alpine:latest": "alpine:3.10"}
# docker-py's CI installs .[dev,ssh,websockets]: tests/helpers.py imports paramiko, the
# attach-over-websocket test needs websocket-client
EXTRAS = "[ssh,websockets]"
TEST_DEPS = ["pytest", "pytest-timeout"]

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
    want = os.path.realpath(checkout) + EXTRAS
    if installed != want:
        env = dict(os.environ)
        if subprocess.run(["git", "-C", checkout, "rev-parse"], capture_output=True,
                          check=False).returncode != 0:
            # hatch-vcs takes the version from git; an exported tree has none
            env["SETUPTOOLS_SCM_PRETEND_VERSION"] = "7.1.0"
        subprocess.run([py, "-m", "pip", "install", "-q", *TEST_DEPS, checkout + EXTRAS],
                       env=env, check=True)
        with open(stamp, "w") as f:
            f.write(want)
    return py


def image_tar(base: str, dest: str, files: dict[str, str], dirs: list[str]) -> str:
    """The busybox rootfs tar ``base`` with ``files`` (path -> text) put in place of
    its own and ``dirs`` added, written to ``dest``."""
    with tarfile.open(base) as src, tarfile.open(dest, "w") as out:
        have = set()
        for m in src:
            have.add(m.name.removeprefix("./"))
            if m.name.removeprefix("./") not in files:
                out.addfile(m, src.extractfile(m) if m.isfile() else None)
        for d in dirs:
            if d not in have:
                out.addfile(_dir(d))
        for path, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo("./" + path)
            info.size, info.mode = len(data), 0o644
            out.addfile(info, io.BytesIO(data))
    return dest


def _dir(path: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo("./" + path)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info


def make_images(cli: list[str], env: dict, tar: str, work: str) -> None:
    """Import the busybox rootfs (with each image's own files) once per image of
    IMAGES, then tag TAGS."""
    for ref, (change, files, dirs) in IMAGES.items():
        src = tar
        if files or dirs:
            src = image_tar(tar, os.path.join(work, ref.replace(":", "_") + ".tar"), files,
                            dirs)
        subprocess.run([*cli, "import", "--change", change, src, ref], env=env, check=True,
                       stdout=subprocess.DEVNULL)
    for ref, src in TAGS.items():
        subprocess.run([*cli, "tag", src, ref], env=env, check=True)


def client_env(sock: str, work: str) -> dict:
    """The tests' environment: DOCKER_HOST on the private socket, and a HOME and
    DOCKER_CONFIG of their own (the context tests write ~/.docker/contexts)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DOCKER_", "DOCKLING_"))}
    home = os.path.join(work, "home")
    os.makedirs(os.path.join(home, ".docker"), exist_ok=True)
    # docker-py keeps contexts beside config.json, in ./contexts when there is none
    # (the checkout, shared by every run)
    with open(os.path.join(home, ".docker", "config.json"), "w") as f:
        f.write("{}\n")
    env.update(DOCKER_HOST=sock, HOME=home, DOCKER_CONFIG=os.path.join(home, ".docker"),
               PYTHONDONTWRITEBYTECODE="1",
               PYTHONPATH=os.path.dirname(os.path.abspath(__file__)))  # -p docker_py_suite
    return env


def remove_leftovers(cli: list[str], env: dict) -> None:
    """Say which containers the tests left behind (their tear-downs ignore API errors)
    and remove them: a container outlives its daemon, so they would hold the cgroup
    parent."""
    ps = subprocess.run([*cli, "ps", "-a", "--no-trunc", "--format",
                         "{{.ID}}\t{{.Names}}\t{{.Command}}\t{{.Status}}"], env=env,
                        capture_output=True, text=True, check=False).stdout.splitlines()
    for line in ps:
        print(f"left behind by the tests: {line}")
        subprocess.run([*cli, "rm", "-f", line.split("\t")[0]], env=env, check=False,
                       stdout=subprocess.DEVNULL)


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


def daemon_gone(pid: int, sock: str) -> str:
    """Why the daemon no longer answers ('' while it does): every test after that
    point fails on it, which the summary must say rather than blame each test."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "X"
    if state in ("Z", "X"):
        return f"the daemon (pid {pid}) exited during the run"
    if not os.path.exists(sock):
        return f"the daemon's socket {sock} was removed during the run (a stop signal?)"
    return ""


def write_summary(path: str, last: str, junit: str, checkout: str, gone: str) -> None:
    """pytest's counts and one line per failure or error."""
    rows = failures(junit, checkout)
    with open(path, "w") as f:
        f.write(f"{last}\n" + (f"WARNING: {gone}\n" if gone else "") + "\n")
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
    with private_daemon("dockling-dpy") as (cli, env, tar, pid, work):
        junit = a.junit or os.path.join(work, "junit.xml")
        try:
            make_images(cli, env, tar, work)
            sock = env["DOCKLING_HOST"]
            argv = [py, "-m", "pytest", "-p", "no:cacheprovider", "-p", "docker_py_suite",
                    "--timeout", str(a.timeout), "-rfEsxX", f"--junitxml={junit}",
                    *(a.tests or ["tests/integration"]),
                    *(["-k", a.keyword] if a.keyword else []), *extra]
            print("$ DOCKER_HOST=" + sock, " ".join(argv[1:]), flush=True)
            rc, last = run_pytest(argv, a.checkout, client_env(sock, work))
            gone = daemon_gone(pid, sock.removeprefix("unix://"))
            if gone:
                print(f"WARNING: {gone}")
            if os.path.exists(junit):
                write_summary(a.summary, last, junit, a.checkout, gone)
        finally:
            remove_leftovers(cli, env)
            shutil.copyfile(os.path.join(work, "daemon.log"), a.log)
            print(f"the daemon's log: {a.log}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
