"""Pull throughput from a local registry: an image of N layers (~200 MB of
incompressible data in 8 layers by default), pulled by dockling (download,
verify, unpack: ready to run), copied by `skopeo copy` to a directory
(download and verify only), and pulled by docker when a daemon answers.

    sudo .venv/bin/python bench/pull.py [--layers 8] [--mb 200]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time

from dockling.testing.private import docker_answers, private_daemon


def docker_archive(path: str, layers: int, mb: int) -> None:
    """A docker-archive (docker save format) with ``layers`` random layers."""
    per = mb * 1024 * 1024 // layers
    diff_ids, names = [], []
    with tarfile.open(path, "w") as out:
        for i in range(layers):
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w") as tf:
                data = os.urandom(per)
                ti = tarfile.TarInfo(f"data/layer{i}.bin")
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            blob = raw.getvalue()
            digest = hashlib.sha256(blob).hexdigest()
            diff_ids.append("sha256:" + digest)
            names.append(f"{digest}/layer.tar")
            ti = tarfile.TarInfo(names[-1])
            ti.size = len(blob)
            out.addfile(ti, io.BytesIO(blob))
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": ["sh"]}, "created": "2026-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        cname = hashlib.sha256(config).hexdigest() + ".json"
        manifest = json.dumps([{"Config": cname, "RepoTags": ["bench/big:latest"],
                                "Layers": names}]).encode()
        for n, data in ((cname, config), ("manifest.json", manifest)):
            ti = tarfile.TarInfo(n)
            ti.size = len(data)
            out.addfile(ti, io.BytesIO(data))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--layers", type=int, default=8)
    ap.add_argument("--mb", type=int, default=200)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dockling-pullbench-")
    port = 5000 + os.getpid() % 1000
    host = f"127.0.0.1:{port}"
    with open(f"{work}/reg.yml", "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/data\nhttp:\n  addr: {host}\n")
    reg = subprocess.Popen(["docker-registry", "serve", f"{work}/reg.yml"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results: dict[str, float] = {}
    try:
        time.sleep(1)
        archive = f"{work}/big.tar"
        docker_archive(archive, a.layers, a.mb)
        ref = f"{host}/bench/big:latest"
        with private_daemon("dockling-pullbench") as (cli, env, _tar, _pid, _work):
            run = lambda *args: subprocess.run([*cli, *args], env=env, check=True,  # noqa: E731
                                               stdout=subprocess.DEVNULL)
            run("load", "-i", archive)
            run("tag", "bench/big:latest", ref)
            run("push", ref)
            run("rmi", ref, "bench/big:latest")
            t0 = time.perf_counter()
            run("pull", ref)
            results["dockling pull (ready to run)"] = a.mb / (time.perf_counter() - t0)
        t0 = time.perf_counter()
        subprocess.run(["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}",
                        f"dir:{work}/skopeo"], check=True, capture_output=True)
        results["skopeo copy to dir (no unpack)"] = a.mb / (time.perf_counter() - t0)
        docker = docker_answers()
        if docker:
            t0 = time.perf_counter()
            subprocess.run([docker, "pull", ref], check=True, capture_output=True)
            results["docker pull"] = a.mb / (time.perf_counter() - t0)
            subprocess.run([docker, "rmi", ref], check=False, capture_output=True)
    finally:
        reg.terminate()
        reg.wait()
        shutil.rmtree(work, ignore_errors=True)
    base = results["dockling pull (ready to run)"]
    for k, v in results.items():
        print(f"{k:34s} {v:8.1f} MB/s   dockling/this {base / v:.2f}x")
    if not docker_answers():
        print("docker: no daemon answers here (only the client is installed): no docker ratio")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
