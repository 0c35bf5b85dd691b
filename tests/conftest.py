"""Shared fixtures: a busybox rootfs, bundles, runtimes with their own state
root and cgroup parent, and clean-up that runs even when a test fails."""

from __future__ import annotations

import copy
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import time
import uuid

import pytest

from dockling.kernel import syscalls
from dockling.runtime import defaults
from dockling.testing.busybox import make_rootfs
from dockling.testing.private import remove_cgroup_parent  # noqa: F401 - for the test suites

ROOT = os.geteuid() == 0
HAVE_RUNC = shutil.which("runc") is not None
RUNC_BIN = os.path.join(os.path.dirname(sys.executable), "dockling-runc")

needs_root = pytest.mark.skipif(not ROOT, reason="needs root (real namespaces and cgroups)")


def pytest_configure(config):
    if ROOT:
        # Container inits outlive `create` and are re-parented; as subreaper
        # we get them (not PID 1, which here does not reap) and reap them in
        # the fixtures' clean-up.
        syscalls.set_child_subreaper()


@pytest.fixture(scope="session")
def busybox_rootfs(tmp_path_factory) -> str:
    return make_rootfs(str(tmp_path_factory.mktemp("busybox") / "rootfs"))


class Bundle:
    """A bundle dir with a config.json made from runc's template."""

    def __init__(self, path: str, rootfs_template: str, cgroup_parent: str) -> None:
        self.path = path
        self.rootfs = os.path.join(path, "rootfs")
        shutil.copytree(rootfs_template, self.rootfs, symlinks=True)
        self.config = defaults.runc_spec()
        self.config["process"]["terminal"] = False
        self.config["root"]["readonly"] = False
        self.config["hostname"] = "dockling-test"
        self.cgroup_parent = cgroup_parent

    def write(self, cid: str | None = None) -> str:
        cfg = copy.deepcopy(self.config)
        if cid and "cgroupsPath" not in cfg["linux"]:
            cfg["linux"]["cgroupsPath"] = f"{self.cgroup_parent}/{cid}"
        with open(os.path.join(self.path, "config.json"), "w") as f:
            json.dump(cfg, f)
        return self.path

    def args(self, *argv: str) -> None:
        self.config["process"]["args"] = list(argv)


class RuntimeCLI:
    """Drives dockling-runc or runc with its own --root."""

    def __init__(self, name: str, binary: list[str], root: str) -> None:
        self.name = name
        self.binary = binary
        self.root = root
        self.pids: set[int] = set()

    def __call__(self, *args: str, check: bool = True, timeout: float = 60,
                 input: bytes | None = None, out: str | None = None) -> subprocess.CompletedProcess:
        """Run a command. Output goes through files, not pipes: a container
        started by `create` inherits them and would hold a pipe open."""
        os.makedirs(self.root, exist_ok=True)
        base = out or os.path.join(self.root, f".out-{uuid.uuid4().hex[:8]}")
        with open(base + ".stdout", "wb+") as o, open(base + ".stderr", "wb+") as e:
            rc = subprocess.run([*self.binary, "--root", self.root, *args], stdout=o, stderr=e,
                                timeout=timeout, input=input,
                                stdin=None if input is not None else subprocess.DEVNULL,
                                check=False).returncode
        with open(base + ".stdout", "rb") as o, open(base + ".stderr", "rb") as e:
            res = subprocess.CompletedProcess(args, rc, o.read(), e.read())
        if out is None:
            os.unlink(base + ".stdout")
            os.unlink(base + ".stderr")
        if check and res.returncode != 0:
            raise AssertionError(f"{self.name} {' '.join(args)} failed ({res.returncode}): "
                                 f"{res.stderr.decode()}{res.stdout.decode()}")
        return res

    def state(self, cid: str) -> dict:
        st = json.loads(self("state", cid).stdout)
        if st.get("pid"):
            self.pids.add(st["pid"])
        return st

    def create(self, cid: str, bundle: str, *extra: str) -> dict:
        self("create", "--bundle", bundle, *extra, cid, out=self.out_base(cid))
        return self.state(cid)

    def out_base(self, cid: str) -> str:
        return os.path.join(os.path.dirname(self.root), f"{self.name}-{cid}")

    def output(self, cid: str) -> tuple[bytes, bytes]:
        """What the container created by `create` wrote to stdout and stderr."""
        base = self.out_base(cid)
        with open(base + ".stdout", "rb") as o, open(base + ".stderr", "rb") as e:
            return o.read(), e.read()

    def cleanup(self) -> None:
        reap_zombies()  # exec'd processes: a dying PID 1 waits for them
        ids = self("list", "-q", check=False).stdout.decode().split()
        for cid in ids:
            self("delete", "--force", cid, check=False)
        for pid in self.pids:
            reap(pid)
        reap_zombies()
        shutil.rmtree(self.root, ignore_errors=True)


def reap(pid: int, timeout: float = 5.0) -> int | None:
    """Reap a container process that was re-parented to us; return its status.

    A dying PID 1 waits until every process of its PID namespace is reaped,
    and exec'd processes are our children too (we are subreaper): reap our
    zombie children as we wait, or both would wait forever.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return None
        if done:
            return status
        reap_zombies(keep=pid)
        if time.monotonic() > deadline:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + timeout
        time.sleep(0.01)


def reap_zombies(keep: int = 0) -> None:
    """waitpid our children that are already zombies (and only those), but
    ``keep``, whose status the caller wants."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if rest[0] == "Z" and int(rest[1]) == me and int(name) != keep:
            try:
                os.waitpid(int(name), os.WNOHANG)
            except ChildProcessError:
                pass


@pytest.fixture
def cgroup_parent():
    rel = f"/dockling-test-{uuid.uuid4().hex[:10]}"
    yield rel
    remove_cgroup_parent(rel)


@pytest.fixture
def bundle(tmp_path, busybox_rootfs, cgroup_parent) -> Bundle:
    return Bundle(str(tmp_path / "bundle"), busybox_rootfs, cgroup_parent)


def _runtimes():
    out = ["dockling-runc"]
    if HAVE_RUNC:
        out.append("runc")
    return out


@pytest.fixture(params=_runtimes())
def runtime(request, tmp_path, cgroup_parent) -> RuntimeCLI:
    """Each behaviour test runs under dockling-runc and, when installed, runc.

    It takes cgroup_parent so that its clean-up (delete) runs before the
    parent cgroup is removed."""
    if not ROOT:
        pytest.skip("needs root")
    root = str(tmp_path / f"state-{request.param}")
    binary = [RUNC_BIN] if request.param == "dockling-runc" else ["runc"]
    rt = RuntimeCLI(request.param, binary, root)
    yield rt
    rt.cleanup()


@pytest.fixture
def dockling(tmp_path, cgroup_parent) -> RuntimeCLI:
    """dockling-runc alone, for behaviour runc does not share."""
    if not ROOT:
        pytest.skip("needs root")
    rt = RuntimeCLI("dockling-runc", [RUNC_BIN], str(tmp_path / "state"))
    yield rt
    rt.cleanup()


def new_id(prefix: str = "t") -> str:
    return f"dltest-{prefix}-{uuid.uuid4().hex[:8]}"


def mount_count() -> int:
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)


def tar_of(files: dict[str, bytes]) -> bytes:
    """An uncompressed tar of regular files, name -> content, in that order."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for n, data in files.items():
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def wait_for(pred, timeout: float = 10.0, interval: float = 0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(interval)
    return pred()


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> str:
    """busybox's root filesystem as a tar, for `dockling import` (the set-up's image)."""
    import tarfile

    d = tmp_path_factory.mktemp("bbtar")
    rootfs = make_rootfs(str(d / "rootfs"))
    path = str(d / "busybox.tar")
    with tarfile.open(path, "w") as tf:
        tf.add(rootfs, arcname=".")
    return path
