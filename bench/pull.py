"""Pull from a local registry, two shapes of image, several runs each:

- big: N layers of incompressible data (9 layers, 211 MB by default), in MB/s;
- small: 2 layers holding 20,000 small files (~7.5 MB, a few hundred files a
  directory, like node_modules or a Debian /usr), in seconds.

Each image is loaded into a private dockling daemon, pushed to a
docker-registry started here, removed, then pulled (download, verify,
unpack: ready to run) and removed again, ``-n`` times. docker and podman
pull the same references when a docker daemon answers / podman is installed.
`skopeo copy` to a directory (download and verify only) is the floor.
Medians, and dockling/docker when docker ran.

    sudo .venv/bin/python bench/pull.py [-n 3] [--layers 9] [--mb 211] [--files 20000]
        [--only big|small] [--py-spy DIR]

``--py-spy DIR`` records the daemon during the first dockling pull of each
shape (raw collapsed stacks, DIR/<shape>.txt; py-spy is not a dependency:
give its path with PY_SPY, else it is looked up on PATH).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import tarfile
import tempfile
import time

from dockling.background import REMOVING
from dockling.testing.private import docker_answers, private_daemon


def _add(tf: tarfile.TarFile, name: str, data: bytes | None, mode: int = 0o644) -> None:
    ti = tarfile.TarInfo(name)
    ti.mtime = 1_700_000_000
    if data is None:
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
        tf.addfile(ti)
        return
    ti.size = len(data)
    ti.mode = mode
    tf.addfile(ti, io.BytesIO(data))


def big_layer(i: int, size: int) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        _add(tf, "data/", None)
        _add(tf, f"data/layer{i}.bin", os.urandom(size))
    return raw.getvalue()


def small_layer(i: int, files: int, per_dir: int, avg: int) -> bytes:
    """``files`` files of 0..2*avg bytes of text-like content, ``per_dir`` a directory."""
    rnd = random.Random(i)
    words = [bytes(rnd.choices(b"abcdefghijklmnopqrstuvwxyz_(){};=.", k=rnd.randint(2, 9)))
             for _ in range(2000)]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        _add(tf, f"usr{i}/", None)
        for d in range(-(-files // per_dir)):
            top = f"usr{i}/pkg{d:04d}"
            _add(tf, top + "/", None)
            _add(tf, top + "/lib/", None)
            for f in range(min(per_dir, files - d * per_dir)):
                size = rnd.randint(0, 2 * avg)
                body = b" ".join(rnd.choices(words, k=size // 5 + 1))[:size]
                sub = "lib/" if f % 2 else ""
                _add(tf, f"{top}/{sub}file{f:04d}.js", body, 0o755 if f % 17 == 0 else 0o644)
    return raw.getvalue()


def docker_archive(path: str, tag: str, blobs: list[bytes]) -> None:
    """A docker-archive (docker save format) of these layer tars."""
    diff_ids, names = [], []
    with tarfile.open(path, "w") as out:
        for blob in blobs:
            digest = hashlib.sha256(blob).hexdigest()
            diff_ids.append("sha256:" + digest)
            names.append(f"{digest}/layer.tar")
            _add(out, names[-1], blob)
        config = json.dumps({"architecture": "amd64", "os": "linux",
                             "config": {"Cmd": ["sh"]}, "created": "2026-01-01T00:00:00Z",
                             "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
        cname = hashlib.sha256(config).hexdigest() + ".json"
        manifest = json.dumps([{"Config": cname, "RepoTags": [tag],
                                "Layers": names}]).encode()
        _add(out, cname, config)
        _add(out, "manifest.json", manifest)


def wait_removed(layers_dir: str) -> None:
    """rmi moves layers aside and deletes them in a thread: not during the next pull."""
    for _ in range(6000):
        if not any(n.endswith(REMOVING) for n in os.listdir(layers_dir)):
            return
        time.sleep(0.05)


def timed(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=env, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE)
    return time.perf_counter() - t0


def py_spy(pid: int, out: str) -> subprocess.Popen | None:
    spy = os.environ.get("PY_SPY") or shutil.which("py-spy")
    if not spy:
        print("py-spy not found (PY_SPY=...): no profile")
        return None
    p = subprocess.Popen([spy, "record", "-p", str(pid), "-f", "raw", "-r", "200",
                          "-o", out, "--nonblocking"], stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    time.sleep(1)  # attached before the pull starts
    return p


def bench_shape(shape: str, blobs: list[bytes], host: str, work: str, runs: int,
                spy_dir: str | None) -> dict[str, list[float]]:
    archive = f"{work}/{shape}.tar"
    docker_archive(archive, f"bench/{shape}:latest", blobs)
    ref = f"{host}/bench/{shape}:latest"
    out: dict[str, list[float]] = {}
    with private_daemon("dockling-pullbench") as (cli, env, _tar, pid, dwork):
        def run(*args: str) -> None:
            subprocess.run([*cli, *args], env=env, check=True, stdout=subprocess.DEVNULL)

        run("load", "-i", archive)
        run("tag", f"bench/{shape}:latest", ref)
        run("push", ref)
        run("rmi", ref, f"bench/{shape}:latest")
        layers_dir = os.path.join(dwork, "root", "layers")
        for n in range(runs):
            wait_removed(layers_dir)
            spy = py_spy(pid, f"{spy_dir}/{shape}.txt") if spy_dir and n == 0 else None
            out.setdefault("dockling", []).append(timed([*cli, "pull", ref], env))
            if spy:
                spy.send_signal(signal.SIGINT)
                spy.wait()
            run("rmi", ref)
    os.makedirs(f"{work}/skopeo", exist_ok=True)
    for n in range(runs):
        shutil.rmtree(f"{work}/skopeo", ignore_errors=True)
        out.setdefault("skopeo (no unpack)", []).append(timed(
            ["skopeo", "copy", "--src-tls-verify=false", f"docker://{ref}",
             f"dir:{work}/skopeo"]))
    docker = docker_answers()
    podman = shutil.which("podman")
    for name, binary, flags in (("docker", docker, []),
                                ("podman", podman, ["--tls-verify=false"])):
        if not binary:
            continue
        for n in range(runs):
            out.setdefault(name, []).append(timed([binary, "pull", *flags, ref]))
            subprocess.run([binary, "rmi", ref], check=False, capture_output=True)
    return out


def report(shape: str, res: dict[str, list[float]], mb: float, what: str) -> None:
    med = {k: statistics.median(v) for k, v in res.items()}
    print(f"{shape}: {what}, {mb:.1f} MB of layer tars, {len(res['dockling'])} runs each "
          f"(median; MB/s of the tars)")
    for k, t in med.items():
        runs = " ".join(f"{x:.2f}" for x in res[k])
        print(f"  {k:20s} {t:7.2f} s  {mb / t:7.1f} MB/s   runs: {runs}")
    if "docker" in med:
        print(f"  dockling/docker: time {med['dockling'] / med['docker']:.2f}x, "
              f"MB/s {med['docker'] / med['dockling']:.2f}x docker's")
    else:
        print("  docker: no daemon answers here: no docker ratio")


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=3, help="pulls per engine and shape")
    ap.add_argument("--layers", type=int, default=9)
    ap.add_argument("--mb", type=int, default=211)
    ap.add_argument("--files", type=int, default=20000)
    ap.add_argument("--only", choices=("big", "small"))
    ap.add_argument("--py-spy", dest="spy")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dockling-pullbench-")
    port = 5000 + os.getpid() % 1000
    host = f"127.0.0.1:{port}"
    with open(f"{work}/reg.yml", "w") as f:
        f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                f"    rootdirectory: {work}/data\nhttp:\n  addr: {host}\n")
    reg = subprocess.Popen(["docker-registry", "serve", f"{work}/reg.yml"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if a.spy:
        os.makedirs(a.spy, exist_ok=True)
    try:
        time.sleep(1)
        if a.only in (None, "big"):
            per = a.mb * 1024 * 1024 // a.layers
            blobs = [big_layer(i, per) for i in range(a.layers)]
            report("big", bench_shape("big", blobs, host, work, a.n, a.spy),
                   sum(map(len, blobs)) / 1e6, f"{a.layers} layers of random data")
        if a.only in (None, "small"):
            blobs = [small_layer(i, a.files // 2, 300, 375) for i in range(2)]
            report("small", bench_shape("small", blobs, host, work, a.n, a.spy),
                   sum(map(len, blobs)) / 1e6,
                   f"2 layers, {a.files} files of {a.files * 375 / 1e6:.1f} MB in all")
    finally:
        reg.terminate()
        reg.wait()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
