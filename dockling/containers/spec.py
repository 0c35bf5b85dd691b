"""A container record + its image -> the OCI runtime config (config.json).

Pure: data in, data out. These are docker's defaults: capability set,
masked and read-only paths, /dev and /proc mounts, device rules, the
default seccomp profile, the hosts/hostname/resolv.conf binds.
"""

from __future__ import annotations

from dockling.containers import resources, security
from dockling.containers.model import Config, Container, HostConfig
from dockling.runtime import seccomp_profiles
from dockling.runtime.defaults import ALLOWED_DEVICES

INIT_DEST = "/sbin/docker-init"
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# docker's default capability set (moby oci/caps/defaults.go).
DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]


def needs_own_shim(hc: HostConfig) -> bool:
    """Whether the container's processes could ptrace an exec's process before it
    execs (CAP_SYS_PTRACE beats its dumpable flag), or share a pid namespace with
    another container's: its shim process then keeps it alone, so that the copy
    of the shim process's memory such an exec carries holds no neighbour's."""
    return (bool(hc.Privileged) or "CAP_SYS_PTRACE" in security.capability_set(
        DEFAULT_CAPS, hc) or (hc.PidMode or "").startswith("container:"))
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
    "/sys/firmware", "/sys/devices/virtual/powercap",
]
# What the runtime mounts over in every container: the mount points it creates
# in the upper dir are not the container's changes. docker keeps them in a
# separate "-init" layer (moby daemon/initlayer), so `diff`, `commit` and a
# build's RUN layers never show them; we leave them out when reading the upper.
MOUNT_STUBS = frozenset({"dev", "proc", "sys", "etc/hosts", "etc/hostname",
                         "etc/resolv.conf", ".dockerenv"})
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def command(config: Config, image_config: Config) -> list[str]:
    entry = config.Entrypoint if config.Entrypoint is not None else \
        image_config.Entrypoint
    cmd = config.Cmd
    if cmd is None and config.Entrypoint is None:
        cmd = image_config.Cmd
    return list(entry or []) + list(cmd or [])


def environment(config: Config, image_config: Config) -> list[str]:
    env: dict[str, str] = {}
    for kv in (image_config.Env or []) + (config.Env or []):
        k, _, _ = kv.partition("=")
        env[k] = kv
    if "PATH" not in env:
        env = {"PATH": DEFAULT_PATH, **env}
    env.setdefault("HOSTNAME", f"HOSTNAME={config.Hostname}")
    if config.Tty:
        env.setdefault("TERM", "TERM=xterm")
    return list(env.values())


_NS_MODES = {"pid": "PidMode", "ipc": "IpcMode", "uts": "UTSMode", "network": "NetworkMode"}


def namespaces(hc: HostConfig, joins: dict[str, str], cgroup_v2: bool) -> list[dict]:
    """docker's --pid/--ipc/--uts/--network modes -> OCI namespaces.

    host: none of our own; container:X: join X's (``joins`` holds the paths);
    anything else: a new one. The mount namespace is always our own.
    """
    ns = [{"type": "mount"}]
    for typ, key in _NS_MODES.items():
        mode = getattr(hc, key)
        if mode == "host":
            continue
        if typ in joins:
            ns.append({"type": typ, "path": joins[typ]})
        else:
            ns.append({"type": typ})
    if cgroup_v2 and (hc.CgroupnsMode or "private") == "private":
        ns.append({"type": "cgroup"})  # docker: private cgroupns on v2, host on v1
    elif hc.CgroupnsMode == "private":
        ns.append({"type": "cgroup"})
    return ns


def build(c: Container, image_config: Config, *, rootfs: str, user: tuple[int, int, list[int]],
          cgroups_path: str, cgroup_v2: bool, joins: dict[str, str] | None = None,
          user_mounts: list[dict] | None = None, init_path: str | None = None) -> dict:
    """``user_mounts``: the OCI mounts of -v/--mount; they replace a default at
    the same destination (a volume on /dev/shm, a bind on /etc/hosts)."""
    cfg = c.Config
    hc = c.HostConfig
    caps = security.capability_set(DEFAULT_CAPS, hc)
    sec = security.parse_security_opts(hc.SecurityOpt or [])
    privileged = bool(hc.Privileged)
    ns = namespaces(hc, joins or {}, cgroup_v2)
    own_uts = any(n["type"] == "uts" and not n.get("path") for n in ns)
    uid, gid, groups = user
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777",
                     f"size={hc.ShmSize or 67108864}"]},
    ]
    for dest, opts in (hc.Tmpfs or {}).items():
        mounts.append({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                       "options": ["nosuid", "nodev", "noexec"] + [o for o in opts.split(",")
                                                                  if o]})
    for dest, key in (("/etc/resolv.conf", "ResolvConfPath"), ("/etc/hostname", "HostnamePath"),
                      ("/etc/hosts", "HostsPath")):
        if getattr(c, key):
            mounts.append({"destination": dest, "type": "bind", "source": getattr(c, key),
                           "options": ["rbind", "rprivate"]})
    user_mounts = list(user_mounts or [])
    args = command(cfg, image_config)
    if init_path:  # --init: docker's init as PID 1, the command under it
        user_mounts.append({"destination": INIT_DEST, "type": "bind", "source": init_path,
                            "options": ["rbind", "ro"]})
        args = [INIT_DEST, "--", *args]
    taken = {m["destination"] for m in user_mounts}
    mounts = [m for m in mounts if m["destination"] not in taken] + user_mounts
    devices = [{"allow": False, "access": "rwm"}]
    devices += [{"allow": True, "type": t, "major": ma, "minor": mi, "access": "rwm"}
                for t, ma, mi in ALLOWED_DEVICES]
    wanted = list(hc.Devices or [])
    if privileged:
        wanted = security.host_devices() + wanted
        devices = [{"allow": True, "access": "rwm"}]
    linux_devices, device_rules = security.oci_devices(wanted)
    devices += [] if privileged else device_rules
    if sec.unconfined or privileged:
        seccomp = None
    elif sec.seccomp is not None:
        seccomp = security.docker_profile_to_oci(sec.seccomp)
    else:
        seccomp = seccomp_profiles.docker_default(caps)
    process = {
        "terminal": bool(cfg.Tty),
        "user": {"uid": uid, "gid": gid, "additionalGids": groups},
        "args": args,
        "env": environment(cfg, image_config),
        "cwd": cfg.WorkingDir or image_config.WorkingDir or "/",
        "capabilities": {k: list(caps) for k in ("bounding", "effective", "permitted")},
        "noNewPrivileges": sec.no_new_privs,
        "oomScoreAdj": hc.OomScoreAdj,
        "rlimits": resources.rlimits(hc),
    }
    return {
        "ociVersion": "1.0.2",
        "process": process,
        "root": {"path": rootfs, "readonly": bool(hc.ReadonlyRootfs)},
        "hostname": cfg.Hostname if own_uts else "",
        "domainname": cfg.Domainname if own_uts else "",
        "mounts": mounts,
        "linux": {
            "namespaces": ns,
            "cgroupsPath": cgroups_path,
            "resources": {"devices": devices, **resources.oci_resources(hc)},
            "sysctl": dict(hc.Sysctls or {}),
            "maskedPaths": [] if privileged else MASKED_PATHS,
            "readonlyPaths": [] if privileged else READONLY_PATHS,
            "devices": linux_devices,
            **({"seccomp": seccomp} if seccomp is not None else {}),
        },
    }
