"""Defaults the runtime adds, as runc does: the `spec` template, the device
cgroup rules every container needs, and the process built for `exec ARGS`.
"""

from __future__ import annotations

import copy

from dockling.errors import InvalidArgument
from dockling.runtime import spec

DEFAULT_CAPS = ["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]

# Devices always allowed in the device cgroup (runc's AllowedDevices):
# the standard nodes, /dev/console, /dev/ptmx and the pty slaves.
ALLOWED_DEVICES = [
    ("c", 1, 3), ("c", 1, 5), ("c", 1, 7), ("c", 1, 8), ("c", 1, 9),
    ("c", 5, 0), ("c", 5, 1), ("c", 5, 2), ("c", 136, None),
]


def runc_spec() -> dict:
    """The config.json `runc spec` writes, so bundles made by either agree."""
    return {
        "ociVersion": "1.0.2",
        "process": {
            "terminal": True,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                    "TERM=xterm"],
            "cwd": "/",
            "capabilities": {k: list(DEFAULT_CAPS) for k in
                             ("bounding", "effective", "permitted", "ambient")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs", "readonly": True},
        "hostname": "runc",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620",
                         "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]},
        ],
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}]},
            "namespaces": [{"type": t} for t in ("pid", "network", "ipc", "uts", "mount",
                                                  "cgroup")],
            "maskedPaths": ["/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                            "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                            "/proc/sched_debug", "/sys/firmware", "/proc/scsi"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                              "/proc/sysrq-trigger"],
        },
    }


def effective_resources(cfg: spec.Spec):
    """linux.resources plus allow rules for the devices the container always has.

    A "deny all" rule would otherwise take /dev/null away from the container.
    """
    res = cfg.linux.resources
    if res is None or not res.devices:
        return res
    res = copy.deepcopy(res)
    wanted = list(ALLOWED_DEVICES)
    for d in cfg.linux.devices:
        # The device cgroup knows "c" and "b" only: an unbuffered "u" node is
        # a "c" to it, and a FIFO ("p") is no device at all (v1's
        # devices.allow refuses "p 8:666 rwm"; runtime-tools' linux_devices).
        typ = DEVICE_CGROUP_TYPES.get(d.type)
        if typ:
            wanted.append((typ, d.major, d.minor))
    # docker's spec lists most of these already: each rule is one write per start
    have = {(r.type, r.major, r.minor) for r in res.devices if r.allow and r.access == "rwm"}
    for typ, major, minor in wanted:
        if (typ, major, minor) not in have:
            have.add((typ, major, minor))
            res.devices.append(spec.DeviceRule(allow=True, type=typ, major=major,
                                               minor=minor, access="rwm"))
    return res


# linux.devices[].type -> its type in device cgroup rules (None: no rule).
DEVICE_CGROUP_TYPES = {"c": "c", "u": "c", "b": "b", "p": None}


def exec_process(base: spec.Process, args: list[str], *, env=(), cwd=None, user=None,
                 additional_gids=(), caps=(), tty=False, no_new_privs=False) -> spec.Process:
    """`exec ID ARGS...`: the container's process with these fields replaced (runc)."""
    proc = copy.deepcopy(base)
    proc.args = list(args)
    proc.terminal = tty
    proc.console_size = None
    merged = {kv.split("=", 1)[0]: kv for kv in proc.env}
    for kv in env:
        merged[kv.split("=", 1)[0]] = kv
    proc.env = list(merged.values())
    if cwd:
        proc.cwd = cwd
    if user:
        uid, _, gid = user.partition(":")
        try:
            proc.user.uid = int(uid)
            proc.user.gid = int(gid) if gid else proc.user.gid
        except ValueError as err:
            raise InvalidArgument(f"--user: expected UID[:GID] numbers, got {user!r}") from err
    if additional_gids:
        proc.user.additional_gids = list(additional_gids)
    if caps and proc.capabilities is not None:
        for field in ("bounding", "effective", "permitted", "inheritable", "ambient"):
            cur = getattr(proc.capabilities, field)
            setattr(proc.capabilities, field, cur + [c for c in caps if c not in cur])
    if no_new_privs:
        proc.no_new_privileges = True
    spec.validate_process(proc, "exec", "process")
    return proc
