"""The container record's types against docker's, and the requests that make them."""

from __future__ import annotations

import json

import msgspec
import pytest

from dockling import gojson
from dockling.api import complete
from dockling.cli.dockertypes import NAMED, STRUCTS
from dockling.containers import model
from dockling.errors import InvalidArgument
from dockling.store.db import DB


def _go_fields(type_name: str) -> list[str]:
    """json names of docker's Go type, in field order, embedded structs inlined."""
    out = []
    for f in STRUCTS[type_name]:
        name, typ = f[0], f[1]
        json_name, embedded = (f[2], f[3]) if len(f) > 2 else (name, False)
        if embedded:
            inner = typ.lstrip("*")
            out += _go_fields(NAMED.get(inner, inner))
        elif json_name != "-":
            out.append(json_name)
    return out


def _public(struct) -> list[str]:
    return [f for f in struct.__struct_fields__ if not f.startswith("_")]


@pytest.mark.parametrize("struct, go", [
    (model.Config, "container.Config"), (model.HostConfig, "container.HostConfig"),
    (model.Resources, "container.Resources"), (model.State, "container.State"),
    (model.Health, "container.Health"), (model.HealthcheckResult, "container.HealthcheckResult"),
    (model.HealthConfig, "v1.HealthcheckConfig"), (model.LogConfig, "container.LogConfig"),
    (model.RestartPolicy, "container.RestartPolicy"), (model.MountPoint, "container.MountPoint"),
    (model.Mount, "mount.Mount"), (model.NetworkSettings, "container.NetworkSettings"),
    (model.EndpointSettings, "network.EndpointSettings"),
    (model.EndpointIPAMConfig, "network.EndpointIPAMConfig"), (model.Ulimit, "units.Ulimit"),
    (model.DeviceMapping, "container.DeviceMapping"), (model.DriverData, "storage.DriverData"),
])
def test_fields_are_dockers_in_go_order(struct, go):
    assert _public(struct) == _go_fields(go)


def test_the_record_is_docker_inspect_response_and_its_private_fields():
    want = [f for f in _go_fields("container.InspectResponse")
            if f not in ("ImageManifestDescriptor",)]  # registry-backed image store only
    assert _public(model.Container) == want
    assert [f for f in model.Container.__struct_fields__ if f.startswith("_")] == [
        "_MountPoints", "_ManuallyStopped"]


def test_inspect_has_no_private_field_and_go_omitempty():
    c = model.Container(Id="a" * 64, Name="/x", _ManuallyStopped=True, _MountPoints=[
        model.MountSpec(Type="bind", Source="/s", Destination="/d", CopyData=False)])
    c.NetworkSettings.Networks["bridge"] = model.EndpointSettings(_mac="", _host_if="veth0")
    doc = complete.container_inspect(msgspec.to_builtins(c), "runc")
    text = json.dumps(doc)
    assert "_" + "MountPoints" not in text and "_host_if" not in text and "_mac" not in text
    assert "StopSignal" not in doc["Config"]  # omitempty in Go, empty here
    assert doc["HostConfig"]["Memory"] == 0 and doc["State"]["Status"] == "created"


def test_a_create_body_is_read_as_gos_decoder_reads_it():
    body = {"image": "busybox", "Cmd": ["true"], "Tty": None, "Labels": {"a": "b"},
            "HostConfig": {"memory": 8 << 20, "Init": None, "PidsLimit": None,
                           "CapAdd": ["NET_ADMIN"]},
            "NetworkingConfig": {"EndpointsConfig": {"n1": None, "n2": {
                "Aliases": ["x"], "_host_if": "eth0"}}}}
    req = gojson.convert(body, model.CreateRequest)
    assert req.Image == "busybox" and req.Tty is False and req.HostConfig.Memory == 8 << 20
    assert req.HostConfig.Init is None and req.HostConfig.CapAdd == ["NET_ADMIN"]
    eps = req.NetworkingConfig.EndpointsConfig
    assert eps["n1"] is None  # a network named with no settings stays named
    assert eps["n2"].Aliases == ["x"] and eps["n2"]._host_if is None  # never from a client


def test_a_wrong_type_is_dockers_400():
    with pytest.raises(InvalidArgument, match="json: cannot unmarshal.*HostConfig.Memory"):
        gojson.convert({"HostConfig": {"Memory": "lots"}}, model.CreateRequest)


def test_records_of_older_dockling_decode(tmp_path):
    """Rows from before the typed records: private keys named as then (migrated at open)
    and a null where a number is typed now (what a client once sent)."""
    db = DB(str(tmp_path / "c.db"))
    old = {"Id": "b" * 64, "Name": "/old", "Image": "sha256:x",
           "State": {"Status": "exited", "Running": False, "ExitCode": 3},
           "HostConfig": {"Memory": None, "NetworkMode": "default"},
           "MountPoints": [{"Type": "volume", "Name": "v", "Destination": "/d",
                            "CopyData": False}],
           "HasBeenManuallyStopped": True}
    with db.tx() as conn:
        conn.execute("INSERT INTO containers(id, name, image_id, doc) VALUES (?,?,?,?)",
                     (old["Id"], "old", "sha256:x", json.dumps(old)))
    db.close()
    db = DB(str(tmp_path / "c.db"))
    c = model.decode(db.one("SELECT doc FROM containers")["doc"])
    assert c._ManuallyStopped is True and c._MountPoints[0].Name == "v"
    assert c._MountPoints[0].CopyData is False and c.HostConfig.Memory == 0
    assert c.State.ExitCode == 3
    db.close()
