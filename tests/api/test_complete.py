"""Every key docker's answers carry (api/complete.py).

The key sets come from the API reference (moby's api/docs/v1.47.yaml, recorded into
fixtures/api_schemas.json by tools/record_api_schemas.py): a real container,
image, network and volume on a test daemon, and /info and /version, must have each
key of their schema, recursively for the nested objects docker always sends.
Where docker itself leaves a key out (omitempty in its Go struct), the exception is
listed below with its reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from dockling.api import complete
from tests.engine.conftest import daemon, name  # noqa: F401 - the module's test daemon

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "api_schemas.json")

_OMITEMPTY = "omitempty in docker's Go struct: absent when empty"
# (answer, key path) -> why docker itself does not send it for these objects
EXCEPTIONS = {
    ("ContainerInspectResponse", "SizeRw"): "only with ?size=1 (omitempty)",
    ("ContainerInspectResponse", "SizeRootFs"): "only with ?size=1 (omitempty)",
    ("ContainerInspectResponse", "State.Health"): "only with a health check (omitempty)",
    **{("ContainerInspectResponse", f"Config.{k}"): _OMITEMPTY for k in (
        "ArgsEscaped", "ExposedPorts", "Healthcheck", "MacAddress", "NetworkDisabled",
        "Shell", "StopSignal", "StopTimeout")},
    **{("ContainerInspectResponse", f"HostConfig.{k}"): _OMITEMPTY for k in (
        "Annotations", "Init", "Mounts", "StorageOpt", "Sysctls", "Tmpfs")},
    ("ContainerInspectResponse", "HostConfig.KernelMemoryTCP"):
        "omitempty, deprecated (no kmem accounting since kernel 5.4)",
    ("ContainerSummary", "SizeRw"): "only with ?size=1 (omitempty)",
    ("ContainerSummary", "SizeRootFs"): "only with ?size=1 (omitempty)",
    ("ContainerSummary", "HostConfig.Annotations"): _OMITEMPTY,
    **{("ImageInspect", f"Config.{k}"): _OMITEMPTY for k in (
        "ArgsEscaped", "ExposedPorts", "Healthcheck", "MacAddress", "NetworkDisabled",
        "Shell", "StopSignal", "StopTimeout")},
    ("ImageInspect", "Variant"): "omitempty: only for a platform with a variant (arm/v7)",
    ("ImageInspect", "OsVersion"): "omitempty: Windows images only",
    ("ImageSummary", "Manifests"): "only with ?manifests=1, API 1.47+ (omitempty)",
    ("Network", "Peers"): "overlay networks only (omitempty)",
    ("Network", "IPAM.Config[].IPRange"): _OMITEMPTY,
    ("Network", "IPAM.Config[].AuxiliaryAddresses"): _OMITEMPTY,
    ("Volume", "ClusterVolume"): "swarm cluster volumes only (omitempty)",
    ("Volume", "Status"): "drivers that report a status only (omitempty)",
    ("Volume", "UsageData"): "GET /system/df only (omitempty)",
    ("SystemInfo", "KernelMemoryTCP"): "omitempty, false on cgroup v2 and recent kernels",
    ("SystemInfo", "ProductLicense"): "omitempty: Docker EE only",
    ("SystemInfo", "DefaultAddressPools"): "omitempty: only when configured",
    ("SystemInfo", "Containerd"): "omitempty: daemons that run containerd only",
    ("SystemInfo", "Swarm.Nodes"): "omitempty: swarm managers only",
    ("SystemInfo", "Swarm.Managers"): "omitempty: swarm managers only",
    ("SystemInfo", "Swarm.Cluster"): "omitempty: swarm managers only",
    ("SystemInfo", "ContainerdCommit.Expected"): "omitempty, deprecated",
    ("SystemInfo", "RuncCommit.Expected"): "omitempty, deprecated",
    ("SystemInfo", "InitCommit.Expected"): "omitempty, deprecated",
    ("SystemInfo", "Runtimes{}.runtimeArgs"): "omitempty: runtimes configured with args",
    ("SystemInfo", "Runtimes{}.status"): "omitempty: runtimes that report a status",
    ("SystemVersion", "Experimental"): "omitempty: an experimental daemon only",
}
EXCEPTIONS.update({("VolumeListResponse", f"Volumes[].{path}"): why
                   for (answer, path), why in list(EXCEPTIONS.items()) if answer == "Volume"})


def missing(answer: str, doc, tree, path: str = "") -> set[str]:
    """Key paths of the schema tree that the document lacks (exceptions left out)."""
    out: set[str] = set()
    if not isinstance(tree, dict) or doc is None:
        return out
    if "[]" in tree:
        for item in doc:
            out |= missing(answer, item, tree["[]"], path + "[]")
        return out
    if "{}" in tree:
        for value in doc.values():
            out |= missing(answer, value, tree["{}"], path + "{}")
        return out
    assert isinstance(doc, dict), f"{answer} {path}: not an object"
    for key, sub in tree.items():
        at = f"{path}.{key}" if path else key
        if key not in doc:
            if (answer, at) not in EXCEPTIONS:
                out.add(at)
        else:
            out |= missing(answer, doc[key], sub, at)
    return out


@pytest.fixture(scope="module")
def schemas() -> dict:
    with open(FIXTURE) as f:
        return json.load(f)["answers"]


@pytest.fixture(scope="module")
def objects(daemon):  # noqa: F811
    """A running container (with a port and a bind), a user network it is on, a volume."""
    n = name()
    vol = daemon.cli("volume", "create", f"{n}-v", check=True).stdout.decode().strip()
    daemon.cli("network", "create", f"{n}-net", check=True)
    daemon.cli("run", "-d", "--name", n, "--network", f"{n}-net", "-p", "80",
               "-v", f"{vol}:/data", "busybox", "sleep", "300", check=True)
    try:
        yield {"container": n, "network": f"{n}-net", "volume": vol}
    finally:
        daemon.cli("rm", "-f", n)
        daemon.cli("network", "rm", f"{n}-net")
        daemon.cli("volume", "rm", vol)


def _get(daemon, path):  # noqa: F811
    status, _, body = daemon.api("GET", "/v1.47" + path)
    assert status == 200, (path, body)
    return body


def test_the_fixture_is_what_the_spec_says(schemas):
    # recorded from the spec (tools/record_api_schemas.py): a few keys by hand
    assert "Dns" in schemas["ContainerInspectResponse"]["HostConfig"]
    assert "Runtime" in schemas["ContainerInspectResponse"]["HostConfig"]
    assert "LocalNodeState" in schemas["SystemInfo"]["Swarm"]
    assert "[]" in schemas["ContainerInspectResponse"]["Mounts"]
    assert "{}" in schemas["ContainerInspectResponse"]["NetworkSettings"]["Networks"]


def test_every_answer_has_every_key_of_its_schema(daemon, schemas, objects):  # noqa: F811
    c, net, vol = objects["container"], objects["network"], objects["volume"]
    answers = {
        "ContainerInspectResponse": [_get(daemon, f"/containers/{c}/json")],
        "ContainerSummary": _get(daemon, "/containers/json?all=1"),
        "ImageInspect": [_get(daemon, "/images/busybox/json")],
        "ImageSummary": _get(daemon, "/images/json"),
        "Network": [_get(daemon, f"/networks/{net}"), _get(daemon, "/networks/bridge"),
                    *_get(daemon, "/networks")],
        "Volume": [_get(daemon, f"/volumes/{vol}")],
        "VolumeListResponse": [_get(daemon, "/volumes")],
        "SystemInfo": [_get(daemon, "/info")],
        "SystemVersion": [_get(daemon, "/version")],
    }
    gaps = {}
    for answer, docs in answers.items():
        assert docs, answer
        for doc in docs:
            lacking = missing(answer, doc, schemas[answer])
            if lacking:
                gaps.setdefault(answer, set()).update(lacking)
    assert not gaps, gaps


def test_docker_defaults_of_a_plain_container(daemon, objects):  # noqa: F811
    doc = _get(daemon, f"/containers/{objects['container']}/json")
    hc = doc["HostConfig"]
    # moby fills these at create; the docker CLI sends [] for the DNS lists
    assert (hc["Dns"], hc["DnsOptions"], hc["DnsSearch"]) == ([], [], [])
    assert hc["ShmSize"] == 64 << 20 and hc["IpcMode"] == "private"
    assert hc["Runtime"] == _get(daemon, "/info")["DefaultRuntime"]
    assert hc["ConsoleSize"] == [0, 0] and hc["MaskedPaths"] and hc["ReadonlyPaths"]
    assert hc["BlkioWeightDevice"] is None and hc["PidsLimit"] is None
    assert doc["Config"]["OnBuild"] is None and doc["Config"]["Volumes"] is None
    # what the record holds is not replaced
    assert doc["Mounts"][0]["Name"] == objects["volume"]
    img = _get(daemon, "/images/busybox/json")
    assert img["Config"]["Hostname"] == "" and img["Config"]["Cmd"] == ["sh"]


@pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")
def test_docker_cli_templates_on_the_answers(daemon, objects):  # noqa: F811
    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.sock}"}

    def docker(*args: str) -> str:
        res = subprocess.run(["docker", *args], capture_output=True, env=env, timeout=60,
                             stdin=subprocess.DEVNULL, check=False)
        assert res.returncode == 0, res.stderr.decode()
        return res.stdout.decode()

    c = objects["container"]
    assert docker("inspect", "-f", "{{.HostConfig.Dns}}", c) == "[]\n"
    assert docker("inspect", "-f", "{{.HostConfig.CapAdd}} {{.Config.OnBuild}}", c) == \
        "[] []\n"
    assert docker("info", "-f", "{{.Swarm.LocalNodeState}}") == "inactive\n"
    assert docker("image", "inspect", "-f", "{{.Config.Hostname}}|{{.Created}}",
                  "busybox").startswith("|")
    assert docker("volume", "inspect", "-f", "{{.Scope}}", objects["volume"]) == "local\n"
    assert docker("network", "inspect", "-f", "{{.EnableIPv4}}", objects["network"]) == \
        "true\n"


# -- complete.py without a daemon ---------------------------------------------------------

def test_fill_gives_go_zero_values_and_keeps_what_is_there():
    record = {"Id": "x", "HostConfig": {"Dns": ["1.1.1.1"], "LogConfig": {"Type": "none"}},
              "NetworkSettings": {"Networks": {"bridge": {"IPAddress": "10.0.0.2"}}}}
    doc = complete.container_inspect(record, "runc")  # a record's JSON, the route's own
    hc = doc["HostConfig"]
    assert hc["Dns"] == ["1.1.1.1"] and hc["DnsSearch"] == [] and hc["Runtime"] == "runc"
    assert hc["LogConfig"] == {"Type": "none", "Config": None}
    assert hc["ConsoleSize"] == [0, 0] and hc["Binds"] is None and hc["Privileged"] is False
    assert hc["RestartPolicy"] == {"Name": "", "MaximumRetryCount": 0}
    assert "Init" not in hc and "Mounts" not in hc  # omitempty
    ep = doc["NetworkSettings"]["Networks"]["bridge"]
    assert ep["IPAddress"] == "10.0.0.2" and ep["Aliases"] is None and ep["IPPrefixLen"] == 0
    assert doc["State"] is None  # a nil pointer stays null; docker always has one
    assert doc["GraphDriver"] == {"Data": None, "Name": ""}


def test_privileged_containers_have_no_default_masked_paths():
    doc = complete.container_inspect({"HostConfig": {"Privileged": True}}, "runc")
    assert doc["HostConfig"]["MaskedPaths"] is None
    assert doc["HostConfig"]["ReadonlyPaths"] is None


def test_image_inspect_is_the_legacy_shape_below_api_1_50():
    doc = complete.image_inspect({"Id": "sha256:x", "Created": "", "Config": None})
    assert doc["Created"] == "0001-01-01T00:00:00Z"
    assert doc["RepoTags"] == [] and doc["RepoDigests"] == []
    assert doc["Config"]["Hostname"] == "" and doc["Config"]["Env"] is None
    assert doc["RootFS"] == {} and doc["Metadata"] == {"LastTagTime": "0001-01-01T00:00:00Z"}


def test_create_body_keys_match_as_go_matches_them():
    """Go's encoding/json takes a key that differs from a field's name in case only
    (docker-py sends CPURealtimePeriod; the docker CLI never does): the create body is
    folded onto docker's names, maps' own keys (labels, endpoints) untouched."""
    from dockling.api.schema import create_body

    body = create_body({
        "image": "busybox", "Labels": {"lower": "x"},
        "HostConfig": {"CPURealtimePeriod": 1000, "cpurealtimeruntime": 500, "Memory": 1,
                       "memory": 2, "logconfig": {"type": "none"}},
        "networkingconfig": {"endpointsconfig": {"my net": {"aliases": ["a"]}}}})
    assert body == {
        "Image": "busybox", "Labels": {"lower": "x"},
        "HostConfig": {"CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 500, "Memory": 1,
                       "LogConfig": {"Type": "none"}},
        "NetworkingConfig": {"EndpointsConfig": {"my net": {"Aliases": ["a"]}}}}


def test_a_typed_record_loses_its_empty_omitempty_fields_and_private_keys():
    """A typed record holds every field: Go's omitempty ones go when empty, a pointer
    to a zero value stays, ``_`` keys (dockling's private state) never leave."""
    doc = {"Type": "", "Name": "", "Source": "/s", "Destination": "/d", "Driver": "",
           "Mode": "", "RW": False, "Propagation": "", "_private": 1}
    assert complete.fill(dict(doc), "container.MountPoint", typed=True) == {
        "Source": "/s", "Destination": "/d", "Mode": "", "RW": False, "Propagation": ""}
    hc = complete.fill({"Init": False, "Sysctls": {}, "Memory": 0}, "container.HostConfig",
                       typed=True)
    assert hc["Init"] is False and "Sysctls" not in hc and hc["Memory"] == 0
    assert "_private" in complete.fill(dict(doc), "container.MountPoint")  # untyped: as is
