"""top and stats: what runs in a container and what it uses.

top is the host's ps (with the user's options) cut to the container's pids;
stats reads the container's cgroup, whatever runtime made it.
"""

from __future__ import annotations

import subprocess

from dockling.containers import stats
from dockling.containers.model import Container
from dockling.errors import Conflict, InternalError


def top(m, ref: str, ps_args: str = "") -> dict:
    """docker top: the host's ps (with the user's options), rows of this container."""
    c = m.records.get(ref)
    if not c.State.Running or c.State.Restarting:
        raise Conflict(f"Container {c.Id} is not running")
    pids = set(m.runtime.pids(c.Id))
    try:
        out = subprocess.run(["ps", *(ps_args.split() or ["-ef"])], capture_output=True,
                             text=True, check=True, timeout=10).stdout
    except subprocess.CalledProcessError as err:
        raise InternalError(f"ps: {err.stderr.strip() or err}") from err
    lines = out.splitlines()
    titles = lines[0].split() if lines else []
    if "PID" not in titles:
        raise InternalError("Couldn't find PID field in ps output")
    col = titles.index("PID")
    procs = []
    for line in lines[1:]:
        fields = line.split(None, len(titles) - 1)
        try:
            pid = int(fields[col])
        except (IndexError, ValueError):
            continue
        if pid in pids:
            procs.append(fields)
    return {"Titles": titles, "Processes": procs}


def stats_sample(m, c: Container) -> tuple[dict, int]:
    """The container's cgroup counters and the host's CPU time, read together."""
    from dockling.runtime.cgroups import manager_for

    cg = manager_for(f"{m.cgroup_parent}/{c.Id}", c.Id)
    return cg.stats(), stats.system_cpu_ns()


def stats_reading(m, cid: str, previous, mem_total: int) -> tuple[dict, tuple | None]:
    """One stats document and the sample the next one compares with (None once
    the container no longer runs: a zero document, and the stream ends)."""
    cur = m.records.get(cid)
    if cur.State.Status not in ("running", "paused"):
        return stats.zero(cur), None
    sample, system = stats_sample(m, cur)
    doc = stats.document(cur, sample, system, previous, mem_total)
    return doc, (sample, system, doc["read"])
