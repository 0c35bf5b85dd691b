"""`dockling-runc run` of `true` against `runc run` on the same bundle.

    sudo .venv/bin/python bench/runtime_run.py [-n 30]

Prints the median wall time of each and the ratio. Timing lives here, never
in a test assertion.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from dockling.testing.busybox import make_bundle


def bench(cmd: list[str], bundle: str, n: int, cgroup: str) -> list[float]:
    times = []
    for i in range(n):
        cid = f"bench-{os.getpid()}-{i}"
        t0 = time.perf_counter()
        subprocess.run([*cmd, "run", "--bundle", bundle, cid], check=True,
                       stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        times.append(time.perf_counter() - t0)
    return times


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=30)
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="dockling-bench-")
    try:
        bundle = make_bundle(os.path.join(work, "bundle"), ["true"])
        ours = [os.path.join(os.path.dirname(sys.executable), "dockling-runc"),
                "--root", os.path.join(work, "state-dockling")]
        results = {"dockling-runc": bench(ours, bundle, a.n, "")}
        if shutil.which("runc"):
            results["runc"] = bench(["runc", "--root", os.path.join(work, "state-runc")],
                                    bundle, a.n, "")
        for name, t in results.items():
            print(f"{name:14s} run true: median {statistics.median(t) * 1000:7.1f} ms "
                  f"(min {min(t) * 1000:.1f}, n={len(t)})")
        if "runc" in results:
            ratio = statistics.median(results["dockling-runc"]) / statistics.median(results["runc"])
            print(f"ratio dockling-runc/runc: {ratio:.2f}x")
        else:
            print("runc not installed: no ratio")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
