"""Build timings: the same builds through dockling and, when a docker daemon
answers on /var/run/docker.sock, through docker's classic builder; medians and
the ratio.

    sudo .venv/bin/python bench/build.py [-n 5] [--context-mb 200] [--context-files 20000]

Cases, each run -n times:
  a. a cold build (--no-cache) of an 8-step Dockerfile: FROM busybox, ENV, two
     RUNs writing files, COPY of a small dir, WORKDIR, a RUN after it, CMD;
  b. a fully cached rebuild of it; and, when a docker CLI is installed, the same
     through the docker CLI on dockling's socket too ("docker CLI on both": the
     engines alone, the same Go client on both; dockling's Python CLI costs ~30 ms
     of start of its own);
  c. a rebuild after one file of the COPY'd dir changed (COPY and what follows run);
  d. `FROM busybox` + `COPY . /ctx` (--no-cache) on a context of --context-mb MB in
     --context-files random files: the time until the first "Step 1/" line (the CLI
     tars and sends the context, the daemon receives and unpacks all of it before
     it starts the steps, in dockling as in moby's classic builder), the build after
     it, the total, and the transfer rate.

dockling is driven by `dockling build` when it answers `--help`, else by the docker
CLI with DOCKER_BUILDKIT=0 on the private daemon's socket. docker is always driven
with DOCKER_BUILDKIT=0 (the same classic /build API). A private dockling daemon is
started and removed; on docker the images the bench made are removed, and the
busybox it imports (as dockling-bench/busybox) too.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

from dockling.testing.private import print_results, private_daemon

BASE = "dockling-bench/busybox:latest"
TAG = "dockling-bench/build:latest"
DOCKER_SOCK = "/var/run/docker.sock"
CACHED = "b. fully cached rebuild"
VIA_DOCKER = "b. cached, docker CLI on both"

DOCKERFILE = f"""\
FROM {BASE}
ENV APP=/app GREETING=hello
RUN mkdir -p /data && echo one > /data/one.txt && date > /data/built-at
RUN dd if=/dev/urandom of=/data/blob bs=1024 count=512 2>/dev/null
COPY app /app
WORKDIR /app
RUN ls -l /app > /data/listing.txt && cat /app/*.txt | wc -c > /data/size.txt
CMD ["sh"]
"""


class Engine:
    """A build client for one engine: argv, environment, and the image IDs it made."""

    def __init__(self, name: str, cli: list[str], env: dict, work: str) -> None:
        self.name, self.cli, self.env = name, cli, env
        self.iidfile = os.path.join(work, f"{name}.iid")
        self.images: set[str] = set()

    def run(self, *args: str) -> None:
        subprocess.run([*self.cli, *args], env=self.env, check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)

    def build_argv(self, ctx: str, *flags: str) -> list[str]:
        return [*self.cli, "build", "--iidfile", self.iidfile, "-t", TAG, *flags, ctx]

    def build(self, ctx: str, *flags: str) -> float:
        """One build; its wall time in seconds."""
        t0 = time.perf_counter()
        res = subprocess.run(self.build_argv(ctx, *flags), env=self.env, capture_output=True,
                             stdin=subprocess.DEVNULL, check=False)
        took = time.perf_counter() - t0
        self._check(res.returncode, res.stdout + res.stderr)
        return took

    def build_split(self, ctx: str, *flags: str) -> tuple[float, float]:
        """One build: (seconds until the first "Step 1/" line, seconds after it)."""
        t0 = time.perf_counter()
        proc = subprocess.Popen(self.build_argv(ctx, *flags), env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
        first, out = None, []
        for line in proc.stdout:
            out.append(line)
            if first is None and b"Step 1/" in line:
                first = time.perf_counter()
        rc = proc.wait()
        end = time.perf_counter()
        self._check(rc, b"".join(out))
        if first is None:
            raise RuntimeError(f"{self.name}: no 'Step 1/' line in the build output")
        return first - t0, end - first

    def _check(self, rc: int, output: bytes) -> None:
        if os.path.exists(self.iidfile):
            with open(self.iidfile) as f:
                self.images.add(f.read().strip())
            os.unlink(self.iidfile)
        if rc != 0:
            raise RuntimeError(f"{self.name} build failed ({rc}):\n"
                               f"{output.decode(errors='replace')[-4000:]}")

    def cleanup(self) -> None:
        """Remove what the bench made (IDs and tag); untagged parents go with them."""
        for ref in [TAG, *self.images]:
            subprocess.run([*self.cli, "rmi", "-f", ref], env=self.env, check=False,
                           capture_output=True, stdin=subprocess.DEVNULL)


def small_context(work: str) -> str:
    ctx = os.path.join(work, "small")
    os.makedirs(os.path.join(ctx, "app", "lib"))  # work/small must not exist yet
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE)
    for i in range(20):
        sub = "lib" if i % 2 else ""
        with open(os.path.join(ctx, "app", sub, f"file{i}.txt"), "w") as f:
            f.write(f"file {i}\n" * (50 + i))
    return ctx


def big_context(work: str, mb: int, files: int) -> str:
    """mb MB of random bytes in `files` files, 500 to a directory."""
    ctx = os.path.join(work, "big")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(f"FROM {BASE}\nCOPY . /ctx\n")
    total = mb * 1024 * 1024
    for i in range(files):
        d = os.path.join(ctx, f"d{i // 500:03d}")
        if i % 500 == 0:
            os.makedirs(d)
        size = total // files + (1 if i < total % files else 0)
        with open(os.path.join(d, f"f{i:05d}.bin"), "wb") as f:
            f.write(os.urandom(size))
    return ctx


def run_cases(eng: Engine, work: str, n: int, mb: int, files: int) -> tuple[dict, dict]:
    """(seconds per case, MB/s of the context transfer)."""
    ctx = small_context(work)
    times: dict[str, list[float]] = {}
    eng.build(ctx, "--no-cache")  # warm-up: page cache, the CLI's imports
    times["a. cold, 8 steps, --no-cache"] = [eng.build(ctx, "--no-cache") for _ in range(n)]
    eng.build(ctx)
    times[CACHED] = [eng.build(ctx) for _ in range(n)]
    changed = os.path.join(ctx, "app", "file0.txt")
    rebuild = []
    for i in range(n):
        with open(changed, "w") as f:
            f.write(f"changed {i} {time.time()}\n")
        rebuild.append(eng.build(ctx))
    times["c. rebuild, 1 file changed"] = rebuild
    shutil.rmtree(ctx)

    big = big_context(work, mb, files)
    try:
        splits = [eng.build_split(big, "--no-cache") for _ in range(n)]
    finally:
        shutil.rmtree(big)
    times["d. big context: to Step 1"] = [s[0] for s in splits]
    times["d. big context: build after it"] = [s[1] for s in splits]
    times["d. big context: total"] = [s[0] + s[1] for s in splits]
    rate = {"d. big context: transfer": [mb / s[0] for s in splits]}
    return times, rate


def cached_rebuilds(eng: Engine, work: str, n: int) -> list[float]:
    """Case b alone."""
    ctx = small_context(os.path.join(work, eng.name))
    try:
        eng.build(ctx)
        return [eng.build(ctx) for _ in range(n)]
    finally:
        shutil.rmtree(ctx)


def dockerd_answers() -> str | None:
    """The docker binary if a docker daemon answers /_ping on /var/run/docker.sock."""
    docker = shutil.which("docker")
    if not docker or not os.path.exists(DOCKER_SOCK):
        return None
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(DOCKER_SOCK)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            answer = s.recv(64)
    except OSError:
        return None
    return docker if answer.startswith(b"HTTP/1.") and b" 200 " in answer else None


def dockling_cli(cli: list[str], env: dict, sock_env: dict) -> tuple[list[str], dict, str]:
    """`dockling build` if it is usable, else the docker CLI on dockling's socket."""
    if subprocess.run([*cli, "build", "--help"], env=env, capture_output=True,
                      check=False).returncode == 0:
        # the CLI as installed: its bytecode cached (compileall), not compiled at each start
        subprocess.run([sys.executable, "-m", "compileall", "-q", os.path.dirname(
            os.path.dirname(os.path.abspath(__file__))) + "/dockling"], check=False,
            stdout=subprocess.DEVNULL)
        return cli, {**env, "PYTHONUNBUFFERED": "1"}, "dockling CLI"
    docker = shutil.which("docker")
    if not docker:
        raise SystemExit("bench/build.py: neither `dockling build` nor a docker CLI")
    return [docker], sock_env, "docker CLI (DOCKER_BUILDKIT=0) on dockling's socket"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=5)
    ap.add_argument("--context-mb", type=int, default=200)
    ap.add_argument("--context-files", type=int, default=20000)
    a = ap.parse_args()
    times: dict[str, dict] = {}
    rates: dict[str, dict] = {}
    work = tempfile.mkdtemp(prefix="dockling-buildbench-")
    try:
        with private_daemon("dockling-buildbench") as (cli, env, tar, _pid, _dwork):
            sock_env = {**env, "DOCKER_HOST": env["DOCKLING_HOST"], "DOCKER_BUILDKIT": "0"}
            bcli, benv, how = dockling_cli(cli, env, sock_env)
            print(f"dockling driven by the {how}")
            subprocess.run([*cli, "tag", "busybox", BASE], env=env, check=True)
            eng = Engine("dockling", bcli, benv, work)
            try:
                times["dockling"], rates["dockling"] = run_cases(
                    eng, work, a.n, a.context_mb, a.context_files)
                if shutil.which("docker") and bcli == cli:
                    # the engines alone: the same (Go) client on both daemons
                    via = Engine("dockling-via-docker", [shutil.which("docker")], sock_env, work)
                    times["dockling"][VIA_DOCKER] = cached_rebuilds(via, work, a.n)
                    eng.images |= via.images
            finally:
                eng.cleanup()
            docker = dockerd_answers()
            if docker:
                denv = {**os.environ, "DOCKER_HOST": f"unix://{DOCKER_SOCK}",
                        "DOCKER_BUILDKIT": "0"}
                deng = Engine("docker", [docker], denv, work)
                try:
                    deng.run("import", "--change", 'CMD ["sh"]', tar, BASE)
                    times["docker"], rates["docker"] = run_cases(
                        deng, work, a.n, a.context_mb, a.context_files)
                    if VIA_DOCKER in times["dockling"]:
                        times["docker"][VIA_DOCKER] = times["docker"][CACHED]
                finally:
                    deng.cleanup()
                    subprocess.run([docker, "rmi", "-f", BASE], env=denv, check=False,
                                   capture_output=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"d. big context: {a.context_mb} MB in {a.context_files} files; 'to Step 1' is the "
          "transfer (tar, send, the daemon's unpack)")
    for case in rates["dockling"]:  # a rate: above 1x dockling is the faster
        vals = {eng: statistics.median(r[case]) for eng, r in rates.items()}
        line = f"{case:34s}" + "".join(f"  {eng}: {v:8.1f} MB/s (median)"
                                       for eng, v in vals.items())
        if "docker" in vals:
            line += f"  ratio {vals['dockling'] / vals['docker']:.2f}x (MB/s: higher is faster)"
        print(line)
    print_results(times, " s (median)", "8.2f")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
