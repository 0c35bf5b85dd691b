"""docker 28's Go types of the documents `--format` templates run over (inspect,
info, version, events): field order, Go types and json tags, as the docker CLI
decodes the Engine API's JSON into them (moby api/types, go-connections/nat,
image-spec v1 as vendored by docker/cli v28.2.2). Fields: (name, Go type[, json
name, embedded, omitempty]) when they differ from (name, type, name, False, False).
Used to type inspect documents as docker does before running a template on them:
struct fields vs map keys (an error vs <no value>), nil slices, maps and pointers ([],
map[], <nil>), named key types (nat.Port), struct printing in field order."""

# ruff: noqa: E501 - a data table; a few field tuples are longer than a line

from __future__ import annotations

NAMED = {
    'container.CgroupSpec': 'string',
    'container.CgroupnsMode': 'string',
    'container.ContainerState': 'string',
    'container.HealthConfig': 'v1.HealthcheckConfig',
    'container.HealthStatus': 'string',
    'container.IpcMode': 'string',
    'container.Isolation': 'string',
    'container.NetworkMode': 'string',
    'container.PidMode': 'string',
    'container.RestartPolicyMode': 'string',
    'container.UTSMode': 'string',
    'container.Ulimit': 'units.Ulimit',
    'container.UsernsMode': 'string',
    'digest.Digest': 'string',
    'events.Action': 'string',
    'events.Type': 'string',
    'image.ManifestKind': 'string',
    'mount.Consistency': 'string',
    'mount.Propagation': 'string',
    'mount.Type': 'string',
    'nat.Port': 'string',
    'nat.PortMap': 'map[nat.Port][]nat.PortBinding',
    'nat.PortSet': 'map[nat.Port]struct {}',
    'os.FileMode': 'uint32',
    'registry.NetIPNet': 'string',
    'strslice.StrSlice': '[]string',
    'swarm.ExternalCAProtocol': 'string',
    'swarm.LocalNodeState': 'string',
    'time.Duration': 'int64',
    'volume.Availability': 'string',
    'volume.PublishState': 'string',
    'volume.Scope': 'string',
    'volume.SharingMode': 'string',
}

STRUCTS = {
    'blkiodev.ThrottleDevice': (
        ('Path', 'string'), ('Rate', 'uint64'),
    ),
    'blkiodev.WeightDevice': (
        ('Path', 'string'), ('Weight', 'uint16'),
    ),
    'container.Config': (
        ('Hostname', 'string'), ('Domainname', 'string'), ('User', 'string'),
        ('AttachStdin', 'bool'), ('AttachStdout', 'bool'), ('AttachStderr', 'bool'),
        ('ExposedPorts', 'nat.PortSet', 'ExposedPorts', False, True), ('Tty', 'bool'),
        ('OpenStdin', 'bool'), ('StdinOnce', 'bool'), ('Env', '[]string'),
        ('Cmd', 'strslice.StrSlice'),
        ('Healthcheck', '*container.HealthConfig', 'Healthcheck', False, True),
        ('ArgsEscaped', 'bool', 'ArgsEscaped', False, True), ('Image', 'string'),
        ('Volumes', 'map[string]struct {}'), ('WorkingDir', 'string'),
        ('Entrypoint', 'strslice.StrSlice'),
        ('NetworkDisabled', 'bool', 'NetworkDisabled', False, True),
        ('MacAddress', 'string', 'MacAddress', False, True), ('OnBuild', '[]string'),
        ('Labels', 'map[string]string'), ('StopSignal', 'string', 'StopSignal', False, True),
        ('StopTimeout', '*int', 'StopTimeout', False, True),
        ('Shell', 'strslice.StrSlice', 'Shell', False, True),
    ),
    'container.ContainerJSONBase': (
        ('ID', 'string', 'Id', False, False), ('Created', 'string'), ('Path', 'string'),
        ('Args', '[]string'), ('State', '*container.State'), ('Image', 'string'),
        ('ResolvConfPath', 'string'), ('HostnamePath', 'string'), ('HostsPath', 'string'),
        ('LogPath', 'string'), ('Name', 'string'), ('RestartCount', 'int'), ('Driver', 'string'),
        ('Platform', 'string'), ('MountLabel', 'string'), ('ProcessLabel', 'string'),
        ('AppArmorProfile', 'string'), ('ExecIDs', '[]string'),
        ('HostConfig', '*container.HostConfig'), ('GraphDriver', 'storage.DriverData'),
        ('SizeRw', '*int64', 'SizeRw', False, True),
        ('SizeRootFs', '*int64', 'SizeRootFs', False, True),
    ),
    'container.DefaultNetworkSettings': (
        ('EndpointID', 'string'), ('Gateway', 'string'), ('GlobalIPv6Address', 'string'),
        ('GlobalIPv6PrefixLen', 'int'), ('IPAddress', 'string'), ('IPPrefixLen', 'int'),
        ('IPv6Gateway', 'string'), ('MacAddress', 'string'),
    ),
    'container.DeviceMapping': (
        ('PathOnHost', 'string'), ('PathInContainer', 'string'), ('CgroupPermissions', 'string'),
    ),
    'container.DeviceRequest': (
        ('Driver', 'string'), ('Count', 'int'), ('DeviceIDs', '[]string'),
        ('Capabilities', '[][]string'), ('Options', 'map[string]string'),
    ),
    'container.Health': (
        ('Status', 'container.HealthStatus'), ('FailingStreak', 'int'),
        ('Log', '[]*container.HealthcheckResult'),
    ),
    'container.HealthcheckResult': (
        ('Start', 'time.Time'), ('End', 'time.Time'), ('ExitCode', 'int'), ('Output', 'string'),
    ),
    'container.HostConfig': (
        ('Binds', '[]string'), ('ContainerIDFile', 'string'), ('LogConfig', 'container.LogConfig'),
        ('NetworkMode', 'container.NetworkMode'), ('PortBindings', 'nat.PortMap'),
        ('RestartPolicy', 'container.RestartPolicy'), ('AutoRemove', 'bool'),
        ('VolumeDriver', 'string'), ('VolumesFrom', '[]string'), ('ConsoleSize', '[2]uint'),
        ('Annotations', 'map[string]string', 'Annotations', False, True),
        ('CapAdd', 'strslice.StrSlice'), ('CapDrop', 'strslice.StrSlice'),
        ('CgroupnsMode', 'container.CgroupnsMode'), ('DNS', '[]string', 'Dns', False, False),
        ('DNSOptions', '[]string', 'DnsOptions', False, False),
        ('DNSSearch', '[]string', 'DnsSearch', False, False), ('ExtraHosts', '[]string'),
        ('GroupAdd', '[]string'), ('IpcMode', 'container.IpcMode'),
        ('Cgroup', 'container.CgroupSpec'), ('Links', '[]string'), ('OomScoreAdj', 'int'),
        ('PidMode', 'container.PidMode'), ('Privileged', 'bool'), ('PublishAllPorts', 'bool'),
        ('ReadonlyRootfs', 'bool'), ('SecurityOpt', '[]string'),
        ('StorageOpt', 'map[string]string', 'StorageOpt', False, True),
        ('Tmpfs', 'map[string]string', 'Tmpfs', False, True), ('UTSMode', 'container.UTSMode'),
        ('UsernsMode', 'container.UsernsMode'), ('ShmSize', 'int64'),
        ('Sysctls', 'map[string]string', 'Sysctls', False, True),
        ('Runtime', 'string', 'Runtime', False, True), ('Isolation', 'container.Isolation'),
        ('Resources', 'container.Resources', 'Resources', True, False),
        ('Mounts', '[]mount.Mount', 'Mounts', False, True), ('MaskedPaths', '[]string'),
        ('ReadonlyPaths', '[]string'), ('Init', '*bool', 'Init', False, True),
    ),
    'container.InspectResponse': (
        ('ContainerJSONBase', '*container.ContainerJSONBase', 'ContainerJSONBase', True, False),
        ('Mounts', '[]container.MountPoint'), ('Config', '*container.Config'),
        ('NetworkSettings', '*container.NetworkSettings'),
        ('ImageManifestDescriptor', '*v1.Descriptor', 'ImageManifestDescriptor', False, True),
    ),
    'container.LogConfig': (
        ('Type', 'string'), ('Config', 'map[string]string'),
    ),
    'container.MountPoint': (
        ('Type', 'mount.Type', 'Type', False, True), ('Name', 'string', 'Name', False, True),
        ('Source', 'string'), ('Destination', 'string'),
        ('Driver', 'string', 'Driver', False, True), ('Mode', 'string'), ('RW', 'bool'),
        ('Propagation', 'mount.Propagation'),
    ),
    'container.NetworkSettings': (

        ('NetworkSettingsBase', 'container.NetworkSettingsBase', 'NetworkSettingsBase', True, False),
        ('DefaultNetworkSettings', 'container.DefaultNetworkSettings', 'DefaultNetworkSettings', True, False),
        ('Networks', 'map[string]*network.EndpointSettings'),
    ),
    'container.NetworkSettingsBase': (
        ('Bridge', 'string'), ('SandboxID', 'string'), ('SandboxKey', 'string'),
        ('Ports', 'nat.PortMap'), ('HairpinMode', 'bool'), ('LinkLocalIPv6Address', 'string'),
        ('LinkLocalIPv6PrefixLen', 'int'), ('SecondaryIPAddresses', '[]network.Address'),
        ('SecondaryIPv6Addresses', '[]network.Address'),
    ),
    'container.Resources': (
        ('CPUShares', 'int64', 'CpuShares', False, False), ('Memory', 'int64'),
        ('NanoCPUs', 'int64', 'NanoCpus', False, False), ('CgroupParent', 'string'),
        ('BlkioWeight', 'uint16'), ('BlkioWeightDevice', '[]*blkiodev.WeightDevice'),
        ('BlkioDeviceReadBps', '[]*blkiodev.ThrottleDevice'),
        ('BlkioDeviceWriteBps', '[]*blkiodev.ThrottleDevice'),
        ('BlkioDeviceReadIOps', '[]*blkiodev.ThrottleDevice'),
        ('BlkioDeviceWriteIOps', '[]*blkiodev.ThrottleDevice'),
        ('CPUPeriod', 'int64', 'CpuPeriod', False, False),
        ('CPUQuota', 'int64', 'CpuQuota', False, False),
        ('CPURealtimePeriod', 'int64', 'CpuRealtimePeriod', False, False),
        ('CPURealtimeRuntime', 'int64', 'CpuRealtimeRuntime', False, False),
        ('CpusetCpus', 'string'), ('CpusetMems', 'string'),
        ('Devices', '[]container.DeviceMapping'), ('DeviceCgroupRules', '[]string'),
        ('DeviceRequests', '[]container.DeviceRequest'),
        ('KernelMemory', 'int64', 'KernelMemory', False, True),
        ('KernelMemoryTCP', 'int64', 'KernelMemoryTCP', False, True),
        ('MemoryReservation', 'int64'), ('MemorySwap', 'int64'), ('MemorySwappiness', '*int64'),
        ('OomKillDisable', '*bool'), ('PidsLimit', '*int64'), ('Ulimits', '[]*container.Ulimit'),
        ('CPUCount', 'int64', 'CpuCount', False, False),
        ('CPUPercent', 'int64', 'CpuPercent', False, False), ('IOMaximumIOps', 'uint64'),
        ('IOMaximumBandwidth', 'uint64'),
    ),
    'container.RestartPolicy': (
        ('Name', 'container.RestartPolicyMode'), ('MaximumRetryCount', 'int'),
    ),
    'container.State': (
        ('Status', 'container.ContainerState'), ('Running', 'bool'), ('Paused', 'bool'),
        ('Restarting', 'bool'), ('OOMKilled', 'bool'), ('Dead', 'bool'), ('Pid', 'int'),
        ('ExitCode', 'int'), ('Error', 'string'), ('StartedAt', 'string'), ('FinishedAt', 'string'),
        ('Health', '*container.Health', 'Health', False, True),
    ),
    'events.Actor': (
        ('ID', 'string'), ('Attributes', 'map[string]string'),
    ),
    'events.Message': (
        ('Status', 'string', 'status', False, True), ('ID', 'string', 'id', False, True),
        ('From', 'string', 'from', False, True), ('Type', 'events.Type'),
        ('Action', 'events.Action'), ('Actor', 'events.Actor'),
        ('Scope', 'string', 'scope', False, True), ('Time', 'int64', 'time', False, True),
        ('TimeNano', 'int64', 'timeNano', False, True),
    ),
    'image.AttestationProperties': (
        ('For', 'digest.Digest'),
    ),
    'image.ImageProperties': (
        ('Platform', 'v1.Platform'), ('Size', 'image.ImageProperties.Size'),
        ('Containers', '[]string'),
    ),
    'image.ImageProperties.Size': (
        ('Unpacked', 'int64'),
    ),
    'image.InspectResponse': (
        ('ID', 'string', 'Id', False, False), ('RepoTags', '[]string'), ('RepoDigests', '[]string'),
        ('Parent', 'string'), ('Comment', 'string'), ('Created', 'string', 'Created', False, True),
        ('Container', 'string', 'Container', False, True),
        ('ContainerConfig', '*container.Config', 'ContainerConfig', False, True),
        ('DockerVersion', 'string'), ('Author', 'string'), ('Config', '*v1.DockerOCIImageConfig'),
        ('Architecture', 'string'), ('Variant', 'string', 'Variant', False, True), ('Os', 'string'),
        ('OsVersion', 'string', 'OsVersion', False, True), ('Size', 'int64'),
        ('VirtualSize', 'int64', 'VirtualSize', False, True), ('GraphDriver', 'storage.DriverData'),
        ('RootFS', 'image.RootFS'), ('Metadata', 'image.Metadata'),
        ('Descriptor', '*v1.Descriptor', 'Descriptor', False, True),
        ('Manifests', '[]image.ManifestSummary', 'Manifests', False, True),
    ),
    'image.ManifestSummary': (
        ('ID', 'string'), ('Descriptor', 'v1.Descriptor'), ('Available', 'bool'),
        ('Size', 'image.ManifestSummary.Size'), ('Kind', 'image.ManifestKind'),
        ('ImageData', '*image.ImageProperties', 'ImageData', False, True),
        ('AttestationData', '*image.AttestationProperties', 'AttestationData', False, True),
    ),
    'image.ManifestSummary.Size': (
        ('Content', 'int64'), ('Total', 'int64'),
    ),
    'image.Metadata': (
        ('LastTagTime', 'time.Time', 'LastTagTime', False, True),
    ),
    'image.RootFS': (
        ('Type', 'string', 'Type', False, True), ('Layers', '[]string', 'Layers', False, True),
    ),
    'mount.BindOptions': (
        ('Propagation', 'mount.Propagation', 'Propagation', False, True),
        ('NonRecursive', 'bool', 'NonRecursive', False, True),
        ('CreateMountpoint', 'bool', 'CreateMountpoint', False, True),
        ('ReadOnlyNonRecursive', 'bool', 'ReadOnlyNonRecursive', False, True),
        ('ReadOnlyForceRecursive', 'bool', 'ReadOnlyForceRecursive', False, True),
    ),
    'mount.ClusterOptions': (

    ),
    'mount.Driver': (
        ('Name', 'string', 'Name', False, True),
        ('Options', 'map[string]string', 'Options', False, True),
    ),
    'mount.ImageOptions': (
        ('Subpath', 'string', 'Subpath', False, True),
    ),
    'mount.Mount': (
        ('Type', 'mount.Type', 'Type', False, True), ('Source', 'string', 'Source', False, True),
        ('Target', 'string', 'Target', False, True), ('ReadOnly', 'bool', 'ReadOnly', False, True),
        ('Consistency', 'mount.Consistency', 'Consistency', False, True),
        ('BindOptions', '*mount.BindOptions', 'BindOptions', False, True),
        ('VolumeOptions', '*mount.VolumeOptions', 'VolumeOptions', False, True),
        ('ImageOptions', '*mount.ImageOptions', 'ImageOptions', False, True),
        ('TmpfsOptions', '*mount.TmpfsOptions', 'TmpfsOptions', False, True),
        ('ClusterOptions', '*mount.ClusterOptions', 'ClusterOptions', False, True),
    ),
    'mount.TmpfsOptions': (
        ('SizeBytes', 'int64', 'SizeBytes', False, True),
        ('Mode', 'os.FileMode', 'Mode', False, True),
        ('Options', '[][]string', 'Options', False, True),
    ),
    'mount.VolumeOptions': (
        ('NoCopy', 'bool', 'NoCopy', False, True),
        ('Labels', 'map[string]string', 'Labels', False, True),
        ('Subpath', 'string', 'Subpath', False, True),
        ('DriverConfig', '*mount.Driver', 'DriverConfig', False, True),
    ),
    'nat.PortBinding': (
        ('HostIP', 'string', 'HostIp', False, False), ('HostPort', 'string'),
    ),
    'network.Address': (
        ('Addr', 'string'), ('PrefixLen', 'int'),
    ),
    'network.ConfigReference': (
        ('Network', 'string'),
    ),
    'network.EndpointIPAMConfig': (
        ('IPv4Address', 'string', 'IPv4Address', False, True),
        ('IPv6Address', 'string', 'IPv6Address', False, True),
        ('LinkLocalIPs', '[]string', 'LinkLocalIPs', False, True),
    ),
    'network.EndpointResource': (
        ('Name', 'string'), ('EndpointID', 'string'), ('MacAddress', 'string'),
        ('IPv4Address', 'string'), ('IPv6Address', 'string'),
    ),
    'network.EndpointSettings': (
        ('IPAMConfig', '*network.EndpointIPAMConfig'), ('Links', '[]string'),
        ('Aliases', '[]string'), ('MacAddress', 'string'), ('DriverOpts', 'map[string]string'),
        ('GwPriority', 'int'), ('NetworkID', 'string'), ('EndpointID', 'string'),
        ('Gateway', 'string'), ('IPAddress', 'string'), ('IPPrefixLen', 'int'),
        ('IPv6Gateway', 'string'), ('GlobalIPv6Address', 'string'), ('GlobalIPv6PrefixLen', 'int'),
        ('DNSNames', '[]string'),
    ),
    'network.IPAM': (
        ('Driver', 'string'), ('Options', 'map[string]string'), ('Config', '[]network.IPAMConfig'),
    ),
    'network.IPAMConfig': (
        ('Subnet', 'string', 'Subnet', False, True), ('IPRange', 'string', 'IPRange', False, True),
        ('Gateway', 'string', 'Gateway', False, True),
        ('AuxAddress', 'map[string]string', 'AuxiliaryAddresses', False, True),
    ),
    'network.Inspect': (
        ('Name', 'string'), ('ID', 'string', 'Id', False, False), ('Created', 'time.Time'),
        ('Scope', 'string'), ('Driver', 'string'), ('EnableIPv4', 'bool'), ('EnableIPv6', 'bool'),
        ('IPAM', 'network.IPAM'), ('Internal', 'bool'), ('Attachable', 'bool'), ('Ingress', 'bool'),
        ('ConfigFrom', 'network.ConfigReference'), ('ConfigOnly', 'bool'),
        ('Containers', 'map[string]network.EndpointResource'), ('Options', 'map[string]string'),
        ('Labels', 'map[string]string'), ('Peers', '[]network.PeerInfo', 'Peers', False, True),
        ('Services', 'map[string]network.ServiceInfo', 'Services', False, True),
    ),
    'network.PeerInfo': (
        ('Name', 'string'), ('IP', 'string'),
    ),
    'network.ServiceInfo': (
        ('VIP', 'string'), ('Ports', '[]string'), ('LocalLBIndex', 'int'),
        ('Tasks', '[]network.Task'),
    ),
    'network.Task': (
        ('Name', 'string'), ('EndpointID', 'string'), ('EndpointIP', 'string'),
        ('Info', 'map[string]string'),
    ),
    'registry.IndexInfo': (
        ('Name', 'string'), ('Mirrors', '[]string'), ('Secure', 'bool'), ('Official', 'bool'),
    ),
    'registry.ServiceConfig': (

        ('AllowNondistributableArtifactsCIDRs', '[]*registry.NetIPNet', 'AllowNondistributableArtifactsCIDRs', False, True),
        ('AllowNondistributableArtifactsHostnames', '[]string', 'AllowNondistributableArtifactsHostnames', False, True),
        ('InsecureRegistryCIDRs', '[]*registry.NetIPNet'),
        ('IndexConfigs', 'map[string]*registry.IndexInfo'), ('Mirrors', '[]string'),
        ('ExtraFields', 'map[string]interface {}', '-', False, False),
    ),
    'storage.DriverData': (
        ('Data', 'map[string]string'), ('Name', 'string'),
    ),
    'struct { Name string }': (
        ('Name', 'string'),
    ),
    'swarm.Annotations': (
        ('Name', 'string', 'Name', False, True), ('Labels', 'map[string]string'),
    ),
    'swarm.CAConfig': (
        ('NodeCertExpiry', 'time.Duration', 'NodeCertExpiry', False, True),
        ('ExternalCAs', '[]*swarm.ExternalCA', 'ExternalCAs', False, True),
        ('SigningCACert', 'string', 'SigningCACert', False, True),
        ('SigningCAKey', 'string', 'SigningCAKey', False, True),
        ('ForceRotate', 'uint64', 'ForceRotate', False, True),
    ),
    'swarm.ClusterInfo': (
        ('ID', 'string'), ('Meta', 'swarm.Meta', 'Meta', True, False), ('Spec', 'swarm.Spec'),
        ('TLSInfo', 'swarm.TLSInfo'), ('RootRotationInProgress', 'bool'),
        ('DefaultAddrPool', '[]string'), ('SubnetSize', 'uint32'), ('DataPathPort', 'uint32'),
    ),
    'swarm.DiscreteGenericResource': (
        ('Kind', 'string', 'Kind', False, True), ('Value', 'int64', 'Value', False, True),
    ),
    'swarm.DispatcherConfig': (
        ('HeartbeatPeriod', 'time.Duration', 'HeartbeatPeriod', False, True),
    ),
    'swarm.Driver': (
        ('Name', 'string', 'Name', False, True),
        ('Options', 'map[string]string', 'Options', False, True),
    ),
    'swarm.EncryptionConfig': (
        ('AutoLockManagers', 'bool'),
    ),
    'swarm.ExternalCA': (
        ('Protocol', 'swarm.ExternalCAProtocol'), ('URL', 'string'),
        ('Options', 'map[string]string', 'Options', False, True), ('CACert', 'string'),
    ),
    'swarm.GenericResource': (
        ('NamedResourceSpec', '*swarm.NamedGenericResource', 'NamedResourceSpec', False, True),
        ('DiscreteResourceSpec', '*swarm.DiscreteGenericResource', 'DiscreteResourceSpec', False, True),
    ),
    'swarm.Info': (
        ('NodeID', 'string'), ('NodeAddr', 'string'), ('LocalNodeState', 'swarm.LocalNodeState'),
        ('ControlAvailable', 'bool'), ('Error', 'string'), ('RemoteManagers', '[]swarm.Peer'),
        ('Nodes', 'int', 'Nodes', False, True), ('Managers', 'int', 'Managers', False, True),
        ('Cluster', '*swarm.ClusterInfo', 'Cluster', False, True),
        ('Warnings', '[]string', 'Warnings', False, True),
    ),
    'swarm.Meta': (
        ('Version', 'swarm.Version', 'Version', False, True),
        ('CreatedAt', 'time.Time', 'CreatedAt', False, True),
        ('UpdatedAt', 'time.Time', 'UpdatedAt', False, True),
    ),
    'swarm.NamedGenericResource': (
        ('Kind', 'string', 'Kind', False, True), ('Value', 'string', 'Value', False, True),
    ),
    'swarm.OrchestrationConfig': (
        ('TaskHistoryRetentionLimit', '*int64', 'TaskHistoryRetentionLimit', False, True),
    ),
    'swarm.Peer': (
        ('NodeID', 'string'), ('Addr', 'string'),
    ),
    'swarm.RaftConfig': (
        ('SnapshotInterval', 'uint64', 'SnapshotInterval', False, True),
        ('KeepOldSnapshots', '*uint64', 'KeepOldSnapshots', False, True),
        ('LogEntriesForSlowFollowers', 'uint64', 'LogEntriesForSlowFollowers', False, True),
        ('ElectionTick', 'int'), ('HeartbeatTick', 'int'),
    ),
    'swarm.Spec': (
        ('Annotations', 'swarm.Annotations', 'Annotations', True, False),
        ('Orchestration', 'swarm.OrchestrationConfig', 'Orchestration', False, True),
        ('Raft', 'swarm.RaftConfig', 'Raft', False, True),
        ('Dispatcher', 'swarm.DispatcherConfig', 'Dispatcher', False, True),
        ('CAConfig', 'swarm.CAConfig', 'CAConfig', False, True),
        ('TaskDefaults', 'swarm.TaskDefaults', 'TaskDefaults', False, True),
        ('EncryptionConfig', 'swarm.EncryptionConfig', 'EncryptionConfig', False, True),
    ),
    'swarm.TLSInfo': (
        ('TrustRoot', 'string', 'TrustRoot', False, True),
        ('CertIssuerSubject', '[]uint8', 'CertIssuerSubject', False, True),
        ('CertIssuerPublicKey', '[]uint8', 'CertIssuerPublicKey', False, True),
    ),
    'swarm.TaskDefaults': (
        ('LogDriver', '*swarm.Driver', 'LogDriver', False, True),
    ),
    'swarm.Version': (
        ('Index', 'uint64', 'Index', False, True),
    ),
    'system.Commit': (
        ('ID', 'string'), ('Expected', 'string', 'Expected', False, True),
    ),
    'system.ContainerdInfo': (
        ('Address', 'string', 'Address', False, True),
        ('Namespaces', 'system.ContainerdNamespaces'),
    ),
    'system.ContainerdNamespaces': (
        ('Containers', 'string'), ('Plugins', 'string'),
    ),
    'system.DeviceInfo': (
        ('Source', 'string'), ('ID', 'string'),
    ),
    'system.FirewallInfo': (
        ('Driver', 'string'), ('Info', '[][2]string', 'Info', False, True),
    ),
    'system.Info': (
        ('ID', 'string'), ('Containers', 'int'), ('ContainersRunning', 'int'),
        ('ContainersPaused', 'int'), ('ContainersStopped', 'int'), ('Images', 'int'),
        ('Driver', 'string'), ('DriverStatus', '[][2]string'),
        ('SystemStatus', '[][2]string', 'SystemStatus', False, True),
        ('Plugins', 'system.PluginsInfo'), ('MemoryLimit', 'bool'), ('SwapLimit', 'bool'),
        ('KernelMemory', 'bool', 'KernelMemory', False, True),
        ('KernelMemoryTCP', 'bool', 'KernelMemoryTCP', False, True),
        ('CPUCfsPeriod', 'bool', 'CpuCfsPeriod', False, False),
        ('CPUCfsQuota', 'bool', 'CpuCfsQuota', False, False), ('CPUShares', 'bool'),
        ('CPUSet', 'bool'), ('PidsLimit', 'bool'), ('IPv4Forwarding', 'bool'), ('Debug', 'bool'),
        ('NFd', 'int'), ('OomKillDisable', 'bool'), ('NGoroutines', 'int'),
        ('SystemTime', 'string'), ('LoggingDriver', 'string'), ('CgroupDriver', 'string'),
        ('CgroupVersion', 'string', 'CgroupVersion', False, True), ('NEventsListener', 'int'),
        ('KernelVersion', 'string'), ('OperatingSystem', 'string'), ('OSVersion', 'string'),
        ('OSType', 'string'), ('Architecture', 'string'), ('IndexServerAddress', 'string'),
        ('RegistryConfig', '*registry.ServiceConfig'), ('NCPU', 'int'), ('MemTotal', 'int64'),
        ('GenericResources', '[]swarm.GenericResource'), ('DockerRootDir', 'string'),
        ('HTTPProxy', 'string', 'HttpProxy', False, False),
        ('HTTPSProxy', 'string', 'HttpsProxy', False, False), ('NoProxy', 'string'),
        ('Name', 'string'), ('Labels', '[]string'), ('ExperimentalBuild', 'bool'),
        ('ServerVersion', 'string'), ('Runtimes', 'map[string]system.RuntimeWithStatus'),
        ('DefaultRuntime', 'string'), ('Swarm', 'swarm.Info'), ('LiveRestoreEnabled', 'bool'),
        ('Isolation', 'container.Isolation'), ('InitBinary', 'string'),
        ('ContainerdCommit', 'system.Commit'), ('RuncCommit', 'system.Commit'),
        ('InitCommit', 'system.Commit'), ('SecurityOptions', '[]string'),
        ('ProductLicense', 'string', 'ProductLicense', False, True),
        ('DefaultAddressPools', '[]system.NetworkAddressPool', 'DefaultAddressPools', False, True),
        ('FirewallBackend', '*system.FirewallInfo', 'FirewallBackend', False, True),
        ('CDISpecDirs', '[]string'),
        ('DiscoveredDevices', '[]system.DeviceInfo', 'DiscoveredDevices', False, True),
        ('Containerd', '*system.ContainerdInfo', 'Containerd', False, True),
        ('Warnings', '[]string'),
    ),
    'system.NetworkAddressPool': (
        ('Base', 'string'), ('Size', 'int'),
    ),
    'system.PluginsInfo': (
        ('Volume', '[]string'), ('Network', '[]string'), ('Authorization', '[]string'),
        ('Log', '[]string'),
    ),
    'system.Runtime': (
        ('Path', 'string', 'path', False, True), ('Args', '[]string', 'runtimeArgs', False, True),
        ('Type', 'string', 'runtimeType', False, True),
        ('Options', 'map[string]interface {}', 'options', False, True),
    ),
    'system.RuntimeWithStatus': (
        ('Runtime', 'system.Runtime', 'Runtime', True, False),
        ('Status', 'map[string]string', 'status', False, True),
    ),
    'types.ComponentVersion': (
        ('Name', 'string'), ('Version', 'string'),
        ('Details', 'map[string]string', 'Details', False, True),
    ),
    'types.Version': (
        ('Platform', 'struct { Name string }', 'Platform', False, True),
        ('Components', '[]types.ComponentVersion', 'Components', False, True),
        ('Version', 'string'), ('APIVersion', 'string', 'ApiVersion', False, False),
        ('MinAPIVersion', 'string', 'MinAPIVersion', False, True), ('GitCommit', 'string'),
        ('GoVersion', 'string'), ('Os', 'string'), ('Arch', 'string'),
        ('KernelVersion', 'string', 'KernelVersion', False, True),
        ('Experimental', 'bool', 'Experimental', False, True),
        ('BuildTime', 'string', 'BuildTime', False, True),
    ),
    'units.Ulimit': (
        ('Name', 'string'), ('Hard', 'int64'), ('Soft', 'int64'),
    ),
    'v1.Descriptor': (
        ('MediaType', 'string', 'mediaType', False, False),
        ('Digest', 'digest.Digest', 'digest', False, False),
        ('Size', 'int64', 'size', False, False), ('URLs', '[]string', 'urls', False, True),
        ('Annotations', 'map[string]string', 'annotations', False, True),
        ('Data', '[]uint8', 'data', False, True),
        ('Platform', '*v1.Platform', 'platform', False, True),
        ('ArtifactType', 'string', 'artifactType', False, True),
    ),
    'v1.DockerOCIImageConfig': (
        ('ImageConfig', 'v1.ImageConfig', 'ImageConfig', True, False),
        ('DockerOCIImageConfigExt', 'v1.DockerOCIImageConfigExt', 'DockerOCIImageConfigExt', True, False),
    ),
    'v1.DockerOCIImageConfigExt': (
        ('Healthcheck', '*v1.HealthcheckConfig', 'Healthcheck', False, True),
        ('OnBuild', '[]string', 'OnBuild', False, True),
        ('Shell', '[]string', 'Shell', False, True),
    ),
    'v1.HealthcheckConfig': (
        ('Test', '[]string', 'Test', False, True),
        ('Interval', 'time.Duration', 'Interval', False, True),
        ('Timeout', 'time.Duration', 'Timeout', False, True),
        ('StartPeriod', 'time.Duration', 'StartPeriod', False, True),
        ('StartInterval', 'time.Duration', 'StartInterval', False, True),
        ('Retries', 'int', 'Retries', False, True),
    ),
    'v1.ImageConfig': (
        ('User', 'string', 'User', False, True),
        ('ExposedPorts', 'map[string]struct {}', 'ExposedPorts', False, True),
        ('Env', '[]string', 'Env', False, True),
        ('Entrypoint', '[]string', 'Entrypoint', False, True),
        ('Cmd', '[]string', 'Cmd', False, True),
        ('Volumes', 'map[string]struct {}', 'Volumes', False, True),
        ('WorkingDir', 'string', 'WorkingDir', False, True),
        ('Labels', 'map[string]string', 'Labels', False, True),
        ('StopSignal', 'string', 'StopSignal', False, True),
        ('ArgsEscaped', 'bool', 'ArgsEscaped', False, True),
    ),
    'v1.Platform': (
        ('Architecture', 'string', 'architecture', False, False),
        ('OS', 'string', 'os', False, False), ('OSVersion', 'string', 'os.version', False, True),
        ('OSFeatures', '[]string', 'os.features', False, True),
        ('Variant', 'string', 'variant', False, True),
    ),
    'volume.AccessMode': (
        ('Scope', 'volume.Scope', 'Scope', False, True),
        ('Sharing', 'volume.SharingMode', 'Sharing', False, True),
        ('MountVolume', '*volume.TypeMount', 'MountVolume', False, True),
        ('BlockVolume', '*volume.TypeBlock', 'BlockVolume', False, True),
    ),
    'volume.CapacityRange': (
        ('RequiredBytes', 'int64'), ('LimitBytes', 'int64'),
    ),
    'volume.ClusterVolume': (
        ('ID', 'string'), ('Meta', 'swarm.Meta', 'Meta', True, False),
        ('Spec', 'volume.ClusterVolumeSpec'),
        ('PublishStatus', '[]*volume.PublishStatus', 'PublishStatus', False, True),
        ('Info', '*volume.Info', 'Info', False, True),
    ),
    'volume.ClusterVolumeSpec': (
        ('Group', 'string', 'Group', False, True),
        ('AccessMode', '*volume.AccessMode', 'AccessMode', False, True),
        ('AccessibilityRequirements', '*volume.TopologyRequirement', 'AccessibilityRequirements', False, True),
        ('CapacityRange', '*volume.CapacityRange', 'CapacityRange', False, True),
        ('Secrets', '[]volume.Secret', 'Secrets', False, True),
        ('Availability', 'volume.Availability', 'Availability', False, True),
    ),
    'volume.Info': (
        ('CapacityBytes', 'int64', 'CapacityBytes', False, True),
        ('VolumeContext', 'map[string]string', 'VolumeContext', False, True),
        ('VolumeID', 'string', 'VolumeID', False, True),
        ('AccessibleTopology', '[]volume.Topology', 'AccessibleTopology', False, True),
    ),
    'volume.PublishStatus': (
        ('NodeID', 'string', 'NodeID', False, True),
        ('State', 'volume.PublishState', 'State', False, True),
        ('PublishContext', 'map[string]string', 'PublishContext', False, True),
    ),
    'volume.Secret': (
        ('Key', 'string'), ('Secret', 'string'),
    ),
    'volume.Topology': (
        ('Segments', 'map[string]string', 'Segments', False, True),
    ),
    'volume.TopologyRequirement': (
        ('Requisite', '[]volume.Topology', 'Requisite', False, True),
        ('Preferred', '[]volume.Topology', 'Preferred', False, True),
    ),
    'volume.TypeBlock': (

    ),
    'volume.TypeMount': (
        ('FsType', 'string', 'FsType', False, True),
        ('MountFlags', '[]string', 'MountFlags', False, True),
    ),
    'volume.UsageData': (
        ('RefCount', 'int64'), ('Size', 'int64'),
    ),
    'volume.Volume': (
        ('ClusterVolume', '*volume.ClusterVolume', 'ClusterVolume', False, True),
        ('CreatedAt', 'string', 'CreatedAt', False, True), ('Driver', 'string'),
        ('Labels', 'map[string]string'), ('Mountpoint', 'string'), ('Name', 'string'),
        ('Options', 'map[string]string'), ('Scope', 'string'),
        ('Status', 'map[string]interface {}', 'Status', False, True),
        ('UsageData', '*volume.UsageData', 'UsageData', False, True),
    ),
}

# docker/cli's own types for `info` and `version` (cli/command/system/{info,version}.go)
STRUCTS.update({
    "system.platformInfo": (("Name", "string", "Name", False, True),),
    "system.clientVersion": (
        ("Platform", "*system.platformInfo", "Platform", False, True),
        ("Version", "string", "Version", False, True),
        ("APIVersion", "string", "ApiVersion", False, True),
        ("DefaultAPIVersion", "string", "DefaultAPIVersion", False, True),
        ("GitCommit", "string", "GitCommit", False, True),
        ("GoVersion", "string", "GoVersion", False, True),
        ("Os", "string", "Os", False, True), ("Arch", "string", "Arch", False, True),
        ("BuildTime", "string", "BuildTime", False, True), ("Context", "string")),
    "system.versionInfo": (("Client", "system.clientVersion"), ("Server", "*types.Version")),
    "system.clientInfo": (("Debug", "bool"),
                          ("clientVersion", "system.clientVersion", "clientVersion", True, False),
                          ("Plugins", "[]manager.Plugin"), ("Warnings", "[]string")),
    "manager.Plugin": (("Name", "string", "Name", False, True),
                       ("Path", "string", "Path", False, True)),
    "system.dockerInfo": (("Info", "*system.Info", "Info", True, True),
                          ("ServerErrors", "[]string", "ServerErrors", False, True),
                          ("UserName", "string", "-", False, False),
                          ("ClientInfo", "*system.clientInfo", "ClientInfo", False, True),
                          ("ClientErrors", "[]string", "ClientErrors", False, True)),
})

_loaded = False


def load() -> None:
    """Register the types with the template engine (once)."""
    global _loaded
    if _loaded:
        return
    from dockling.cli.gotemplate.gotime import go_duration_string
    from dockling.cli.gotemplate.values import gotype, register_named, register_struct

    for name, underlying in NAMED.items():
        register_named(name, underlying)
    for name, fields in STRUCTS.items():
        register_struct(name, list(fields))
    gotype("time.Duration").stringer = lambda v: go_duration_string(int(v))
    _loaded = True


def typed(doc, type_name: str):
    """A decoded API document as the docker CLI holds it: a value of that Go type."""
    load()
    from dockling.cli.gotemplate.values import convert, gotype

    return convert(doc, gotype(type_name))
