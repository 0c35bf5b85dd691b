"""The OCI runtime-spec config.json as typed structs, and its validation.

Field names follow runtime-spec 1.0.2 exactly (camelCase in JSON). Decoding
is done by msgspec, so a wrong type is reported with the JSON path of the
field ("Expected `int` >= 0, got `-1` - at `$.process.user.uid`"). Checks
that a type cannot express (known namespace types, capability names, mount
destinations) live in ``validate``. Unknown fields are accepted, as the spec
allows extensions.
"""

from __future__ import annotations

import os
from typing import Annotated

import msgspec

from dockling.errors import InvalidArgument
from dockling.runtime import capabilities

Uint32 = Annotated[int, msgspec.Meta(ge=0, le=2**32 - 1)]
Int64 = int


class Struct(msgspec.Struct, rename="camel", omit_defaults=True):
    pass


class User(Struct):
    uid: Uint32 = 0
    gid: Uint32 = 0
    umask: Uint32 | None = None
    additional_gids: list[Uint32] = []
    username: str = ""


class Capabilities(Struct):
    bounding: list[str] = []
    effective: list[str] = []
    inheritable: list[str] = []
    permitted: list[str] = []
    ambient: list[str] = []


class Rlimit(Struct):
    type: str
    hard: int
    soft: int


class ConsoleSize(Struct):
    height: Uint32 = 0
    width: Uint32 = 0


class Process(Struct):
    args: list[str] = []
    cwd: str = "/"
    env: list[str] = []
    terminal: bool = False
    console_size: ConsoleSize | None = None
    user: User = msgspec.field(default_factory=User)
    capabilities: Capabilities | None = None
    rlimits: list[Rlimit] = []
    no_new_privileges: bool = False
    apparmor_profile: str = ""
    oom_score_adj: int | None = None
    selinux_label: str = ""


class Root(Struct):
    path: str
    readonly: bool = False


class Mount(Struct):
    destination: str
    type: str = ""
    source: str = ""
    options: list[str] = []


class Hook(Struct):
    path: str
    args: list[str] = []
    env: list[str] = []
    timeout: int | None = None


class Hooks(Struct):
    prestart: list[Hook] = []
    create_runtime: list[Hook] = []
    create_container: list[Hook] = []
    start_container: list[Hook] = []
    poststart: list[Hook] = []
    poststop: list[Hook] = []


class IDMapping(Struct, rename={"container_id": "containerID", "host_id": "hostID"}):
    container_id: Uint32
    host_id: Uint32
    size: Uint32


class Namespace(Struct):
    type: str
    path: str = ""


class Device(Struct):
    type: str
    path: str
    major: int = 0
    minor: int = 0
    file_mode: int | None = None
    uid: Uint32 | None = None
    gid: Uint32 | None = None


class DeviceRule(Struct):
    allow: bool
    type: str = "a"
    major: int | None = None
    minor: int | None = None
    access: str = "rwm"


class MemoryResources(Struct):
    limit: int | None = None
    reservation: int | None = None
    swap: int | None = None
    kernel: int | None = None
    kernel_tcp: int | None = msgspec.field(default=None, name="kernelTCP")
    swappiness: int | None = None
    disable_oom_killer: bool | None = msgspec.field(default=None, name="disableOOMKiller")
    use_hierarchy: bool | None = None


class CPUResources(Struct):
    shares: int | None = None
    quota: int | None = None
    period: int | None = None
    realtime_runtime: int | None = None
    realtime_period: int | None = None
    cpus: str = ""
    mems: str = ""
    idle: int | None = None


class PidsResources(Struct):
    limit: int


class WeightDevice(Struct):
    major: int
    minor: int
    weight: int | None = None
    leaf_weight: int | None = None


class ThrottleDevice(Struct):
    major: int
    minor: int
    rate: int


class BlockIOResources(Struct, rename={"weight": "weight"}):
    weight: int | None = None
    leaf_weight: int | None = None
    weight_device: list[WeightDevice] = []
    throttle_read_bps_device: list[ThrottleDevice] = []
    throttle_write_bps_device: list[ThrottleDevice] = []
    throttle_read_iops_device: list[ThrottleDevice] = msgspec.field(
        default_factory=list, name="throttleReadIOPSDevice"
    )
    throttle_write_iops_device: list[ThrottleDevice] = msgspec.field(
        default_factory=list, name="throttleWriteIOPSDevice"
    )


class HugepageLimit(Struct):
    page_size: str
    limit: int


class InterfacePriority(Struct):
    name: str
    priority: Uint32


class NetworkResources(Struct):
    class_id: Uint32 | None = msgspec.field(default=None, name="classID")
    priorities: list[InterfacePriority] = []


class Resources(Struct):
    devices: list[DeviceRule] = []
    memory: MemoryResources | None = None
    cpu: CPUResources | None = None
    pids: PidsResources | None = None
    block_io: BlockIOResources | None = msgspec.field(default=None, name="blockIO")
    unified: dict[str, str] = {}
    hugepage_limits: list[HugepageLimit] = []
    network: NetworkResources | None = None


class SeccompArg(Struct):
    index: Uint32
    value: int
    op: str
    value_two: int = 0


class SeccompSyscall(Struct):
    names: list[str]
    action: str
    errno_ret: Uint32 | None = None
    args: list[SeccompArg] = []


class Seccomp(Struct):
    default_action: str
    default_errno_ret: Uint32 | None = None
    architectures: list[str] = []
    flags: list[str] = []
    listener_path: str = ""
    syscalls: list[SeccompSyscall] = []


class Linux(Struct):
    namespaces: list[Namespace] = []
    uid_mappings: list[IDMapping] = []
    gid_mappings: list[IDMapping] = []
    devices: list[Device] = []
    cgroups_path: str = ""
    resources: Resources | None = None
    rootfs_propagation: str = ""
    seccomp: Seccomp | None = None
    sysctl: dict[str, str] = {}
    masked_paths: list[str] = []
    readonly_paths: list[str] = []
    mount_label: str = ""


class Spec(Struct):
    oci_version: str = msgspec.field(default="1.0.2", name="ociVersion")
    process: Process | None = None
    root: Root | None = None
    hostname: str = ""
    domainname: str = ""
    mounts: list[Mount] = []
    hooks: Hooks | None = None
    annotations: dict[str, str] = {}
    linux: Linux = msgspec.field(default_factory=Linux)


NAMESPACE_TYPES = ("pid", "network", "mount", "ipc", "uts", "user", "cgroup")


def decode(data: bytes, where: str = "config.json") -> Spec:
    """Parse and validate a config.json body; raise InvalidArgument naming the field."""
    try:
        spec = msgspec.json.decode(data, type=Spec)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"{where}: {err}") from err
    except msgspec.DecodeError as err:
        raise InvalidArgument(f"{where}: invalid JSON: {err}") from err
    validate(spec, where)
    return spec


def decode_process(data: bytes, where: str = "process.json") -> Process:
    try:
        proc = msgspec.json.decode(data, type=Process)
    except (msgspec.ValidationError, msgspec.DecodeError) as err:
        raise InvalidArgument(f"{where}: {err}") from err
    validate_process(proc, where, "$")
    return proc


def load(bundle: str) -> Spec:
    """Read ``<bundle>/config.json``; errors name the file and the field."""
    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError as err:
        raise InvalidArgument(f"{path}: no such file (is --bundle right?)") from err
    except OSError as err:
        raise InvalidArgument(f"{path}: {err.strerror}") from err
    return decode(data, path)


def to_dict(spec: Spec) -> dict:
    return msgspec.to_builtins(spec)


def from_dict(d: dict, where: str = "state.json") -> Spec:
    try:
        return msgspec.convert(d, type=Spec)
    except msgspec.ValidationError as err:
        raise InvalidArgument(f"{where}: {err}") from err


def validate_process(proc: Process, where: str, at: str) -> None:
    if not proc.args:
        raise InvalidArgument(f"{where}: {at}.args: must name the program to run")
    if not proc.cwd.startswith("/"):
        raise InvalidArgument(f"{where}: {at}.cwd: must be an absolute path, got {proc.cwd!r}")
    for i, kv in enumerate(proc.env):
        if "=" not in kv:
            raise InvalidArgument(f"{where}: {at}.env[{i}]: expected KEY=VALUE, got {kv!r}")
    if proc.capabilities is not None:
        for field in ("bounding", "effective", "inheritable", "permitted", "ambient"):
            for i, name in enumerate(getattr(proc.capabilities, field)):
                if capabilities.number(name) is None:
                    raise InvalidArgument(
                        f"{where}: {at}.capabilities.{field}[{i}]: unknown capability {name!r}"
                    )
    for i, rl in enumerate(proc.rlimits):
        if capabilities.rlimit_number(rl.type) is None:
            raise InvalidArgument(f"{where}: {at}.rlimits[{i}].type: unknown rlimit {rl.type!r}")
        if rl.soft > rl.hard:
            raise InvalidArgument(f"{where}: {at}.rlimits[{i}]: soft limit above hard limit")


def validate(spec: Spec, where: str = "config.json") -> None:
    if spec.root is None or not spec.root.path:
        raise InvalidArgument(f"{where}: $.root.path: required")
    if spec.process is None:
        raise InvalidArgument(f"{where}: $.process: required")
    validate_process(spec.process, where, "$.process")
    seen: set[str] = set()
    for i, ns in enumerate(spec.linux.namespaces):
        if ns.type not in NAMESPACE_TYPES:
            raise InvalidArgument(
                f"{where}: $.linux.namespaces[{i}].type: unknown namespace type {ns.type!r}"
            )
        if ns.type in seen:
            raise InvalidArgument(
                f"{where}: $.linux.namespaces[{i}].type: namespace {ns.type!r} listed twice"
            )
        seen.add(ns.type)
    if "mount" not in seen:
        _check_without_mount_namespace(spec, where)
    if (spec.linux.uid_mappings or spec.linux.gid_mappings) and "user" not in seen:
        raise InvalidArgument(
            f"{where}: $.linux.uidMappings: id mappings need a user namespace"
        )
    if spec.hostname and "uts" not in seen:
        raise InvalidArgument(f"{where}: $.hostname: setting a hostname needs a uts namespace")
    for i, m in enumerate(spec.mounts):
        if not m.destination.startswith("/"):
            raise InvalidArgument(
                f"{where}: $.mounts[{i}].destination: must be absolute, got {m.destination!r}"
            )
    for i, d in enumerate(spec.linux.devices):
        if d.type not in ("c", "b", "u", "p"):
            raise InvalidArgument(f"{where}: $.linux.devices[{i}].type: unknown type {d.type!r}")
    rules = spec.linux.resources.devices if spec.linux.resources else []
    for i, r in enumerate(rules):
        if r.type not in ("a", "c", "b"):
            # runc's words; the kernel would refuse the rule later with EINVAL.
            raise InvalidArgument(
                f"{where}: $.linux.resources.devices[{i}].type: invalid cgroup device type "
                f"{r.type!r}"
            )
    if spec.linux.rootfs_propagation and spec.linux.rootfs_propagation not in PROPAGATIONS:
        raise InvalidArgument(
            f"{where}: $.linux.rootfsPropagation: unknown propagation "
            f"{spec.linux.rootfs_propagation!r}"
        )


def _check_without_mount_namespace(spec: Spec, where: str) -> None:
    """Without a mount namespace the container shares the runtime's: its
    mounts are made below the rootfs (and removed by delete) and it is
    chrooted, as runc does. What would change mounts the host uses is
    refused: masked and read-only paths (runc's rule and words), a
    read-only root and a root propagation (runc applies those to the host's
    own mounts)."""
    lx = spec.linux
    if lx.masked_paths or lx.readonly_paths:
        field = "maskedPaths" if lx.masked_paths else "readonlyPaths"
        raise InvalidArgument(f"{where}: $.linux.{field}: unable to restrict sys entries "
                              "without a private MNT namespace")
    assert spec.root is not None
    if spec.root.readonly:
        raise InvalidArgument(f"{where}: $.root.readonly: a read-only root needs a mount namespace")
    if lx.rootfs_propagation:
        raise InvalidArgument(f"{where}: $.linux.rootfsPropagation: needs a mount namespace")


def has_mount_namespace(spec: Spec) -> bool:
    return any(ns.type == "mount" for ns in spec.linux.namespaces)


PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave",
                "unbindable", "runbindable")


def rootfs_path(spec: Spec, bundle: str) -> str:
    assert spec.root is not None
    return os.path.normpath(os.path.join(bundle, spec.root.path))


def namespace_map(spec: Spec) -> dict[str, str]:
    """{type: path} for the configured namespaces ('' means a new one)."""
    return {ns.type: ns.path for ns in spec.linux.namespaces}
