"""What a daemon or a runtime may leave behind, looked up the same way on every
host: cgroups in every hierarchy that is mounted (each cgroup v1 controller and
named hierarchy, and the cgroup v2 tree, whether it is /sys/fs/cgroup on a
unified host or /sys/fs/cgroup/unified on a hybrid one), mounts, processes.

Tests use these for their leak checks, and tools/soak.py for its end report. A
check written against one hierarchy (``/sys/fs/cgroup/pids/...``) proves
nothing on a host that has not mounted it: it passes because the path never
existed. So callers should first see the thing exist (``existing_cgroups``
while the container runs), then see it gone.
"""

from __future__ import annotations

import os


def cgroup_mounts(mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Mount points of every cgroup hierarchy (fstype cgroup or cgroup2), sorted."""
    found = set()
    with open(mountinfo) as f:
        for line in f:
            fields = line.split()
            sep = fields.index("-")
            if fields[sep + 1] in ("cgroup", "cgroup2"):
                found.add(fields[4])
    return sorted(found)


def cgroup_dirs(rel: str, mountinfo: str = "/proc/self/mountinfo") -> list[str]:
    """Where a cgroup at ``rel`` (e.g. "/parent/<id>") would be, in every hierarchy."""
    rel = "/" + rel.strip("/")
    return [mp.rstrip("/") + rel for mp in cgroup_mounts(mountinfo)]


def existing_cgroups(rel: str) -> list[str]:
    """The directories of the cgroup ``rel`` that exist now, in any hierarchy."""
    return [d for d in cgroup_dirs(rel) if os.path.isdir(d)]


def cgroup_children(rel: str) -> list[str]:
    """Sub-cgroups left under a cgroup parent, in any hierarchy."""
    out = []
    for d in existing_cgroups(rel):
        for entry in os.scandir(d):
            if entry.is_dir(follow_symlinks=False):
                out.append(entry.path)
    return sorted(out)


def mounts_under(path: str) -> list[str]:
    """Mount points at or below ``path`` (this process's mount namespace)."""
    path = path.rstrip("/")
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4].replace("\\040", " ")
            if mp == path or mp.startswith(path + "/"):
                out.append(mp)
    return out


def processes_under(path: str, exclude: set[int] | frozenset[int] = frozenset()
                    ) -> list[tuple[int, str]]:
    """(pid, command line) of processes rooted under ``path`` (containers) or whose
    command line names it (daemons, fork servers, shims)."""
    me = os.getpid()
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in exclude or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            root = os.readlink(f"/proc/{name}/root")
            with open(f"/proc/{name}/stat") as f:
                zombie = f.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if zombie:
            continue  # a zombie holds nothing; its parent reaps it
        if root.startswith(path.rstrip("/") + "/") or path in cmd:
            out.append((int(name), cmd or f"[{root}]"))
    return sorted(out)
