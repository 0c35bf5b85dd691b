"""The container record: the shape of `docker inspect`, and its lifecycle.

The record is a typed ``Container``: docker's ContainerJSON (moby's
container.InspectResponse) as msgspec Structs whose fields are Go's json names in Go's
order, each defaulting to the zero value Go marshals (None for nil slices, maps and
pointers). It is stored as that JSON; the API turns it into docker's answer
(``api/complete.py``: Go's omitempty, no private fields). Fields that start with
``_`` are dockling's own state, never shown. The lifecycle's states are in
``state.py``, the exec instance in ``execs.py``.

The request types (``CreateRequest``, ``UpdateConfig``) are what the API decodes
bodies into, so a wrong type is a 400 at the door.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec

from dockling import clock

ZERO_TIME = clock.ZERO


def new_id() -> str:
    return secrets.token_hex(32)


class Empty(msgspec.Struct):
    """Go's struct{}: the values of Config.Volumes and Config.ExposedPorts."""


class HealthConfig(msgspec.Struct, omit_defaults=True):
    """v1.HealthcheckConfig: durations in nanoseconds, zero meaning "the default"
    (every field is omitempty in Go)."""
    Test: list[str] | None = None
    Interval: int = 0
    Timeout: int = 0
    StartPeriod: int = 0
    StartInterval: int = 0
    Retries: int = 0


class Config(msgspec.Struct):
    """container.Config: what runs, as the image and the request made it."""
    Hostname: str = ""
    Domainname: str = ""
    User: str = ""
    AttachStdin: bool = False
    AttachStdout: bool = False
    AttachStderr: bool = False
    ExposedPorts: dict[str, Empty] | None = None
    Tty: bool = False
    OpenStdin: bool = False
    StdinOnce: bool = False
    Env: list[str] | None = None
    Cmd: list[str] | None = None
    Healthcheck: HealthConfig | None = None
    ArgsEscaped: bool = False
    Image: str = ""
    Volumes: dict[str, Empty] | None = None
    WorkingDir: str = ""
    Entrypoint: list[str] | None = None
    NetworkDisabled: bool = False
    MacAddress: str = ""
    OnBuild: list[str] | None = None
    Labels: dict[str, str] | None = None
    StopSignal: str = ""
    StopTimeout: int | None = None
    Shell: list[str] | None = None


class LogConfig(msgspec.Struct):
    Type: str = ""
    Config: dict[str, str] | None = None


class RestartPolicy(msgspec.Struct):
    Name: str = ""
    MaximumRetryCount: int = 0


class PortBinding(msgspec.Struct):
    HostIp: str = ""
    HostPort: str = ""


PortMap = dict[str, list[PortBinding] | None]


class WeightDevice(msgspec.Struct):
    Path: str = ""
    Weight: int = 0


class ThrottleDevice(msgspec.Struct):
    Path: str = ""
    Rate: int = 0


class DeviceMapping(msgspec.Struct):
    PathOnHost: str = ""
    PathInContainer: str = ""
    CgroupPermissions: str = ""


class DeviceRequest(msgspec.Struct):
    Driver: str = ""
    Count: int = 0
    DeviceIDs: list[str] | None = None
    Capabilities: list[list[str]] | None = None
    Options: dict[str, str] | None = None


class Ulimit(msgspec.Struct):
    Name: str = ""
    Hard: int = 0
    Soft: int = 0


class BindOptions(msgspec.Struct):
    Propagation: str = ""
    NonRecursive: bool = False
    CreateMountpoint: bool = False
    ReadOnlyNonRecursive: bool = False
    ReadOnlyForceRecursive: bool = False


class Driver(msgspec.Struct):
    Name: str = ""
    Options: dict[str, str] | None = None


class VolumeOptions(msgspec.Struct):
    NoCopy: bool = False
    Labels: dict[str, str] | None = None
    Subpath: str = ""
    DriverConfig: Driver | None = None


class TmpfsOptions(msgspec.Struct):
    SizeBytes: int = 0
    Mode: int = 0
    Options: list[list[str]] | None = None


class ImageOptions(msgspec.Struct):
    Subpath: str = ""


class Mount(msgspec.Struct):
    """An entry of HostConfig.Mounts (--mount) as the request gave it."""
    Type: str = ""
    Source: str = ""
    Target: str = ""
    ReadOnly: bool = False
    Consistency: str = ""
    BindOptions: BindOptions | None = None
    VolumeOptions: VolumeOptions | None = None
    ImageOptions: ImageOptions | None = None
    TmpfsOptions: TmpfsOptions | None = None
    ClusterOptions: dict[str, Any] | None = None  # swarm's: refused, never read


class Resources(msgspec.Struct):
    """container.Resources: the fields HostConfig embeds, and the body of update."""
    CpuShares: int = 0
    Memory: int = 0
    NanoCpus: int = 0
    CgroupParent: str = ""
    BlkioWeight: int = 0
    BlkioWeightDevice: list[WeightDevice] | None = None
    BlkioDeviceReadBps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteBps: list[ThrottleDevice] | None = None
    BlkioDeviceReadIOps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteIOps: list[ThrottleDevice] | None = None
    CpuPeriod: int = 0
    CpuQuota: int = 0
    CpuRealtimePeriod: int = 0
    CpuRealtimeRuntime: int = 0
    CpusetCpus: str = ""
    CpusetMems: str = ""
    Devices: list[DeviceMapping] | None = None
    DeviceCgroupRules: list[str] | None = None
    DeviceRequests: list[DeviceRequest] | None = None
    KernelMemory: int = 0
    KernelMemoryTCP: int = 0
    MemoryReservation: int = 0
    MemorySwap: int = 0
    MemorySwappiness: int | None = None
    OomKillDisable: bool | None = None
    PidsLimit: int | None = None
    Ulimits: list[Ulimit] | None = None
    CpuCount: int = 0
    CpuPercent: int = 0
    IOMaximumIOps: int = 0
    IOMaximumBandwidth: int = 0


class UpdateConfig(Resources):
    """POST /containers/{id}/update: resources and the restart policy."""
    RestartPolicy: RestartPolicy | None = None


def _console_size() -> list[int]:
    return [0, 0]


class HostConfig(msgspec.Struct):
    """container.HostConfig, with Resources' fields inline where Go embeds them."""
    Binds: list[str] | None = None
    ContainerIDFile: str = ""
    LogConfig: LogConfig = msgspec.field(default_factory=LogConfig)
    NetworkMode: str = ""
    PortBindings: PortMap | None = None
    RestartPolicy: RestartPolicy = msgspec.field(default_factory=RestartPolicy)
    AutoRemove: bool = False
    VolumeDriver: str = ""
    VolumesFrom: list[str] | None = None
    ConsoleSize: list[int] = msgspec.field(default_factory=_console_size)
    Annotations: dict[str, str] | None = None
    CapAdd: list[str] | None = None
    CapDrop: list[str] | None = None
    CgroupnsMode: str = ""
    Dns: list[str] | None = None
    DnsOptions: list[str] | None = None
    DnsSearch: list[str] | None = None
    ExtraHosts: list[str] | None = None
    GroupAdd: list[str] | None = None
    IpcMode: str = ""
    Cgroup: str = ""
    Links: list[str] | None = None
    OomScoreAdj: int = 0
    PidMode: str = ""
    Privileged: bool = False
    PublishAllPorts: bool = False
    ReadonlyRootfs: bool = False
    SecurityOpt: list[str] | None = None
    StorageOpt: dict[str, str] | None = None
    Tmpfs: dict[str, str] | None = None
    UTSMode: str = ""
    UsernsMode: str = ""
    ShmSize: int = 0
    Sysctls: dict[str, str] | None = None
    Runtime: str = ""
    Isolation: str = ""
    # container.Resources, embedded: its fields again (Resources above), since Go
    # places them here and a Struct's inherited fields would come first
    CpuShares: int = 0
    Memory: int = 0
    NanoCpus: int = 0
    CgroupParent: str = ""
    BlkioWeight: int = 0
    BlkioWeightDevice: list[WeightDevice] | None = None
    BlkioDeviceReadBps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteBps: list[ThrottleDevice] | None = None
    BlkioDeviceReadIOps: list[ThrottleDevice] | None = None
    BlkioDeviceWriteIOps: list[ThrottleDevice] | None = None
    CpuPeriod: int = 0
    CpuQuota: int = 0
    CpuRealtimePeriod: int = 0
    CpuRealtimeRuntime: int = 0
    CpusetCpus: str = ""
    CpusetMems: str = ""
    Devices: list[DeviceMapping] | None = None
    DeviceCgroupRules: list[str] | None = None
    DeviceRequests: list[DeviceRequest] | None = None
    KernelMemory: int = 0
    KernelMemoryTCP: int = 0
    MemoryReservation: int = 0
    MemorySwap: int = 0
    MemorySwappiness: int | None = None
    OomKillDisable: bool | None = None
    PidsLimit: int | None = None
    Ulimits: list[Ulimit] | None = None
    CpuCount: int = 0
    CpuPercent: int = 0
    IOMaximumIOps: int = 0
    IOMaximumBandwidth: int = 0
    # end of container.Resources
    Mounts: list[Mount] | None = None
    MaskedPaths: list[str] | None = None
    ReadonlyPaths: list[str] | None = None
    Init: bool | None = None


RESOURCE_FIELDS = Resources.__struct_fields__


class EndpointIPAMConfig(msgspec.Struct):
    IPv4Address: str = ""
    IPv6Address: str = ""
    LinkLocalIPs: list[str] | None = None


class EndpointSettings(msgspec.Struct):
    """A container's endpoint on one network (network.EndpointSettings). Private: the
    MAC the user asked for (kept across restarts), the interface names in the
    container and on the host."""
    IPAMConfig: EndpointIPAMConfig | None = None
    Links: list[str] | None = None
    Aliases: list[str] | None = None
    MacAddress: str = ""
    DriverOpts: dict[str, str] | None = None
    GwPriority: int = 0
    NetworkID: str = ""
    EndpointID: str = ""
    Gateway: str = ""
    IPAddress: str = ""
    IPPrefixLen: int = 0
    IPv6Gateway: str = ""
    GlobalIPv6Address: str = ""
    GlobalIPv6PrefixLen: int = 0
    DNSNames: list[str] | None = None
    _mac: str | None = None
    _ifname: str | None = None
    _host_if: str | None = None


class NetworkingConfig(msgspec.Struct):
    EndpointsConfig: dict[str, EndpointSettings | None] | None = None


class Address(msgspec.Struct):
    Addr: str = ""
    PrefixLen: int = 0


class NetworkSettings(msgspec.Struct):
    """container.NetworkSettings: the base and default-network fields Go embeds."""
    Bridge: str = ""
    SandboxID: str = ""
    SandboxKey: str = ""
    Ports: PortMap | None = msgspec.field(default_factory=dict)
    HairpinMode: bool = False
    LinkLocalIPv6Address: str = ""
    LinkLocalIPv6PrefixLen: int = 0
    SecondaryIPAddresses: list[Address] | None = None
    SecondaryIPv6Addresses: list[Address] | None = None
    EndpointID: str = ""
    Gateway: str = ""
    GlobalIPv6Address: str = ""
    GlobalIPv6PrefixLen: int = 0
    IPAddress: str = ""
    IPPrefixLen: int = 0
    IPv6Gateway: str = ""
    MacAddress: str = ""
    Networks: dict[str, EndpointSettings] = msgspec.field(default_factory=dict)


class HealthcheckResult(msgspec.Struct):
    Start: str = ZERO_TIME
    End: str = ZERO_TIME
    ExitCode: int = 0
    Output: str = ""


class Health(msgspec.Struct):
    Status: str = "starting"
    FailingStreak: int = 0
    Log: list[HealthcheckResult] | None = None


class State(msgspec.Struct):
    Status: str = "created"
    Running: bool = False
    Paused: bool = False
    Restarting: bool = False
    OOMKilled: bool = False
    Dead: bool = False
    Pid: int = 0
    ExitCode: int = 0
    Error: str = ""
    StartedAt: str = ZERO_TIME
    FinishedAt: str = ZERO_TIME
    Health: Health | None = None


class MountPoint(msgspec.Struct):
    """container.MountPoint: an entry of inspect's Mounts."""
    Type: str = ""
    Name: str = ""
    Source: str = ""
    Destination: str = ""
    Driver: str = ""
    Mode: str = ""
    RW: bool = False
    Propagation: str = ""


class MountSpec(MountPoint):
    """A mount point as the engine keeps it (``Container._MountPoints``): the public
    fields and how to make it. CopyData: fill an empty volume from the image at start;
    Tmpfs: the tmpfs's mount options; Subpath: --mount volume-subpath (only that part of
    the volume is mounted); VolumeOptions: --mount's, as given."""
    CopyData: bool = True
    Tmpfs: str | None = None
    Subpath: str | None = None
    VolumeOptions: VolumeOptions | None = None

    def public(self) -> MountPoint:
        return MountPoint(**{f: getattr(self, f) for f in MountPoint.__struct_fields__})


class DriverData(msgspec.Struct):
    Data: dict[str, str] | None = None
    Name: str = ""


class Container(msgspec.Struct):
    """The container record (container.InspectResponse). Private: the mount points
    with what makes them, and whether a user stopped it (restart policies ask)."""
    Id: str
    Created: str = ZERO_TIME
    Path: str = ""
    Args: list[str] = msgspec.field(default_factory=list)
    State: State = msgspec.field(default_factory=State)
    Image: str = ""
    ResolvConfPath: str = ""
    HostnamePath: str = ""
    HostsPath: str = ""
    LogPath: str = ""
    Name: str = ""
    RestartCount: int = 0
    Driver: str = "overlay2"
    Platform: str = "linux"
    MountLabel: str = ""
    ProcessLabel: str = ""
    AppArmorProfile: str = ""
    ExecIDs: list[str] | None = None
    HostConfig: HostConfig = msgspec.field(default_factory=HostConfig)
    GraphDriver: DriverData = msgspec.field(default_factory=DriverData)
    SizeRw: int | None = None
    SizeRootFs: int | None = None
    Mounts: list[MountPoint] = msgspec.field(default_factory=list)
    Config: Config = msgspec.field(default_factory=Config)
    NetworkSettings: NetworkSettings = msgspec.field(default_factory=NetworkSettings)
    _MountPoints: list[MountSpec] = msgspec.field(default_factory=list)
    _ManuallyStopped: bool = False

    @property
    def short_name(self) -> str:
        return self.Name.lstrip("/")


class CreateRequest(Config):
    """POST /containers/create: container.Config with HostConfig and NetworkingConfig."""
    HostConfig: HostConfig | None = None
    NetworkingConfig: NetworkingConfig | None = None


# -- storage -------------------------------------------------------------------------
_decoder = msgspec.json.Decoder(Container)
_encoder = msgspec.json.Encoder()


def decode(doc: bytes | str) -> Container:
    try:
        return _decoder.decode(doc)
    except msgspec.ValidationError:
        # a record an older dockling stored as the client sent it (a null where a
        # number is typed now...): read as Go would have read that request
        from dockling import gojson

        return gojson.convert(msgspec.json.decode(doc), Container, private=True)


def encode(c: Container) -> bytes:
    return _encoder.encode(c)
