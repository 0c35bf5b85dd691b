"""A private daemon for benchmarks: own root, socket, cgroup parent, bridge,
subnets and iptables chains, busybox imported; everything removed after."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time

from dockling.runtime.cgroups import remove_tree
from dockling.testing import leaks
from dockling.testing import net as testnet
from dockling.testing.busybox import make_rootfs

BIN = os.path.dirname(sys.executable)


def remove_cgroup_parent(rel: str) -> None:
    """rmdir a cgroup parent (and what is under it) in every hierarchy: each v1
    one and the v2 tree, which is /sys/fs/cgroup itself on a unified host."""
    for d in leaks.existing_cgroups(rel):
        remove_tree(d)


@contextlib.contextmanager
def private_daemon(prefix: str = "dockling-bench", config: dict | None = None):
    """(cli argv, env, busybox tar path) of a fresh daemon; ``config``: more of
    daemon.json."""
    work = tempfile.mkdtemp(prefix=f"{prefix}-")
    sock = os.path.join(work, "d.sock")
    cfg = {**testnet.daemon_config(), **(config or {})}
    with open(os.path.join(work, "daemon.json"), "w") as f:
        json.dump(cfg, f)
    parent = f"{prefix}-{os.getpid()}"
    env = {**os.environ, "DOCKLING_HOST": f"unix://{sock}", "DOCKLING_NO_AUTOSTART": "1"}
    log = open(os.path.join(work, "daemon.log"), "wb")  # noqa: SIM115 - closed below
    daemon = subprocess.Popen([os.path.join(BIN, "dockling"), "daemon", "--root",
                               os.path.join(work, "root"), "--exec-root",
                               os.path.join(work, "run"), "-H", f"unix://{sock}",
                               "--cgroup-parent", parent, "--config-file",
                               os.path.join(work, "daemon.json")],
                              stdout=log, stderr=log)
    try:
        for _ in range(1000):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        rootfs = make_rootfs(os.path.join(work, "rootfs"))
        tar = os.path.join(work, "busybox.tar")
        with tarfile.open(tar, "w") as tf:
            tf.add(rootfs, arcname=".")
        cli = [os.path.join(BIN, "dockling")]
        subprocess.run([*cli, "import", "--change", 'CMD ["sh"]', tar, "busybox"], env=env,
                       check=True, stdout=subprocess.DEVNULL)
        yield cli, env, tar, daemon.pid, work
    except BaseException:
        log.flush()
        with open(os.path.join(work, "daemon.log"), errors="replace") as f:
            tail = f.read()[-4000:]
        print(f"--- the daemon's log (last lines) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        log.close()
        # containers outlive their daemon (shims): remove them while it still answers,
        # or their cgroups stay busy and their shims run on
        left = subprocess.run([os.path.join(BIN, "dockling"), "ps", "-aq", "--no-trunc"],
                              env=env, capture_output=True, text=True, check=False,
                              timeout=60).stdout.split()
        if left:
            subprocess.run([os.path.join(BIN, "dockling"), "rm", "-f", *left], env=env,
                           capture_output=True, check=False, timeout=120)
        daemon.terminate()
        daemon.wait()
        subprocess.run(["sh", "-c", (f"grep {work} /proc/mounts | cut -d' ' -f2 | "
                        "xargs -r umount -l")], check=False)
        testnet.cleanup(os.path.join(work, "root"), cfg)
        shutil.rmtree(work, ignore_errors=True)
        remove_cgroup_parent("/" + parent)


def docker_answers() -> str | None:
    """The docker binary if a docker daemon answers here."""
    docker = shutil.which("docker")
    if docker and subprocess.run([docker, "info"], capture_output=True,
                                 check=False).returncode == 0:
        return docker
    return None


def print_results(results: dict[str, dict], unit: str, fmt: str = "8.1f") -> None:
    """One line per case: each engine's value, and dockling/docker when docker ran."""
    import statistics

    for case in results["dockling"]:
        line = f"{case:34s}"
        vals = {}
        for eng, res in results.items():
            v = res[case]
            vals[eng] = statistics.median(v) if isinstance(v, list) else v
            line += f"  {eng}: {vals[eng]:{fmt}}{unit if isinstance(v, list) else ''}"
        if vals.get("docker"):
            line += f"  ratio {vals['dockling'] / vals['docker']:.2f}x"
        print(line)
    if "docker" not in results:
        print("docker: no daemon answers here (only the client is installed): no ratio")
