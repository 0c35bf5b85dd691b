"""The image types against docker's and OCI's, and the config bytes they read and write."""

from __future__ import annotations

import hashlib
import io
import json
import os

import msgspec
import pytest

from dockling.api import complete
from dockling.builder import cache
from dockling.cli.dockertypes import STRUCTS
from dockling.containers.model import Empty, HealthConfig
from dockling.errors import InvalidArgument
from dockling.images import model
from dockling.images.archive import import_rootfs
from dockling.images.content import ContentStore
from dockling.images.layers import LayerStore
from dockling.images.store import ImageStore
from dockling.store.db import DB
from tests.formats.test_unpack import make_tar

# OCI image-spec v1.1 specs-go/v1/config.go (dockertypes has only what --format
# templates see): json names in Go's field order; Image embeds Platform's fields
OCI = {
    "v1.Image": ("created", "author", "architecture", "os", "os.version", "os.features",
                 "variant", "config", "rootfs", "history"),
    "v1.RootFS": ("type", "diff_ids"),
    "v1.History": ("created", "created_by", "author", "comment", "empty_layer"),
}
# moby image.V1Image's keys that ImageConfig keeps beyond OCI's (inspect shows them)
DOCKER_EXTRA = ("container", "container_config")


def _go_fields(type_name: str) -> list[str]:
    """Json names of docker's Go type, in field order (dockertypes or complete.EXTRA)."""
    fields = STRUCTS.get(type_name) or complete.EXTRA[type_name]
    return [f[2] if len(f) > 2 else f[0] for f in fields]


def _json_fields(struct) -> list[str]:
    return [f.encode_name for f in msgspec.inspect.type_info(struct).fields]


@pytest.mark.parametrize("struct, go, left_out", [
    (model.ContainerConfig, "container.Config", ()),
    (model.InspectResponse, "image.InspectResponse", model.INSPECT_NOT_SET),
    (model.DriverData, "storage.DriverData", ()),
    (model.InspectRootFS, "image.RootFS", ()),
    (model.Metadata, "image.Metadata", ()),
    (model.Summary, "image.Summary", model.SUMMARY_NOT_SET),
])
def test_fields_are_dockers_in_go_order(struct, go, left_out):
    assert _json_fields(struct) == [f for f in _go_fields(go) if f not in left_out]


@pytest.mark.parametrize("struct, oci, extra", [
    (model.ImageConfig, "v1.Image", DOCKER_EXTRA),
    (model.RootFS, "v1.RootFS", ()),
    (model.History, "v1.History", ()),
])
def test_config_fields_are_ocis_in_go_order(struct, oci, extra):
    assert _json_fields(struct) == [*OCI[oci], *extra]


def test_history_item_is_dockers():
    # moby api/types/image/image_history.go (HistoryResponseItem)
    assert _json_fields(model.HistoryItem) == ["Id", "Created", "CreatedBy", "Tags", "Size",
                                               "Comment"]
    assert _json_fields(model.DeleteItem) == ["Deleted", "Untagged"]


def test_the_config_fields_of_oci_and_docker_all_decode():
    """ContainerConfig holds OCI's ImageConfig and docker's extension by name."""
    ours = set(_json_fields(model.ContainerConfig))
    assert set(_go_fields("v1.ImageConfig")) <= ours
    assert set(_go_fields("v1.DockerOCIImageConfigExt")) <= ours


# a config as docker's classic builder wrote them: every container.Config field,
# nulls included, docker's own keys, and a key no type of ours knows
DOCKER_MADE = {
    "architecture": "amd64",
    "config": {"Hostname": "", "Domainname": "", "User": "", "AttachStdin": False,
               "AttachStdout": False, "AttachStderr": False, "Tty": False, "OpenStdin": False,
               "StdinOnce": False, "Env": ["PATH=/bin"], "Cmd": ["sh"],
               "Image": "sha256:" + "1" * 64, "Volumes": None, "WorkingDir": "",
               "Entrypoint": None, "OnBuild": None, "Labels": {"a": "b"}},
    "container": "c" * 64,
    "container_config": {"Cmd": ["/bin/sh", "-c", "#(nop) CMD [\"sh\"]"],
                         "Volumes": {"/data": {}}},
    "created": "2021-01-01T00:00:00.1Z", "docker_version": "20.10.7",
    "history": [{"created": "2021-01-01T00:00:00Z", "created_by": "ADD x /",
                 "empty_layer": False}],
    "os": "linux", "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "2" * 64]},
    "x-unknown": {"kept": "in the blob"},
}


def test_a_docker_made_config_decodes_into_the_view():
    cfg = model.decode_config(json.dumps(DOCKER_MADE).encode())
    assert cfg.config.Cmd == ["sh"] and cfg.config.Labels == {"a": "b"}
    assert cfg.container_config.Volumes == {"/data": Empty()}
    assert cfg.rootfs.diff_ids == ["sha256:" + "2" * 64]
    assert cfg.history[0].created_by == "ADD x /"


def test_invalid_configs_are_invalid_argument():
    with pytest.raises(InvalidArgument, match="invalid image config"):
        model.decode_config(b"{not json")
    with pytest.raises(InvalidArgument, match="invalid image config"):
        model.decode_config(b'{"config": {"Cmd": "sh"}}')


def test_written_configs_leave_zero_fields_out():
    """omit_defaults as OCI's omitempty: what BuildKit writes for the same image."""
    cfg = model.ImageConfig(
        created="2026-01-01T00:00:00Z", architecture="amd64", os="linux",
        config=model.ContainerConfig(Cmd=["sh"], Healthcheck=HealthConfig(Test=["NONE"])),
        rootfs=model.RootFS(type="layers", diff_ids=[]), history=[])
    assert json.loads(model.encode_config(cfg)) == {
        "created": "2026-01-01T00:00:00Z", "architecture": "amd64", "os": "linux",
        "config": {"Cmd": ["sh"], "Healthcheck": {"Test": ["NONE"]}},
        "rootfs": {"type": "layers", "diff_ids": []}, "history": []}


@pytest.fixture
def images(tmp_path):
    root = str(tmp_path)
    db = DB(os.path.join(root, "dockling.db"))
    yield ImageStore(db, ContentStore(root), LayerStore(root))
    db.close()


def test_a_stored_config_keeps_its_bytes_and_id(images):
    """The ID is the digest of the bytes as they came; the blob keeps what the view
    drops (docker_version, unknown keys), so save and push send the same bytes."""
    layer = images.layers.register(io.BytesIO(make_tar([("f", "file", {"data": b"x"})])), None)
    doc = {**DOCKER_MADE, "rootfs": {"type": "layers", "diff_ids": [layer.diff_id]}}
    raw = json.dumps(doc, indent=2).encode()
    image_id = images.add_raw(raw)
    assert image_id == "sha256:" + hashlib.sha256(raw).hexdigest()
    assert images.content.read(image_id) == raw
    img = images.load(image_id)
    assert img.created == DOCKER_MADE["created"]
    assert img.container_config.Cmd == ["sh"]
    inspect = complete.image_inspect(msgspec.to_builtins(images.inspect(img)))
    assert inspect["Container"] == "c" * 64
    assert inspect["ContainerConfig"]["Volumes"] == {"/data": {}}
    assert inspect["Config"]["Labels"] == {"a": "b"}


def test_configs_dockling_makes_are_encoded_once(images):
    image_id = import_rootfs(images, io.BytesIO(make_tar([("f", "file", {"data": b"x"})])),
                             ['CMD ["sh"]', "EXPOSE 80"])
    raw = images.content.read(image_id)
    assert raw == model.encode_config(model.decode_config(raw))
    assert json.loads(raw)["config"] == {"ExposedPorts": {"80/tcp": {}}, "Cmd": ["sh"]}


def test_each_read_of_a_config_is_the_callers_own(images):
    image_id = import_rootfs(images, io.BytesIO(make_tar([("f", "file", {"data": b"x"})])),
                             ["ENV A=1"])
    mine = images.config(image_id)
    mine.config.Env.append("B=2")
    assert images.config(image_id).config.Env == ["A=1"]


def test_inspect_answers_as_before(images):
    """The answer of an imported image, key for key as the dict records gave it."""
    image_id = import_rootfs(images, io.BytesIO(make_tar([("f", "file", {"data": b"x"})])),
                             ['CMD ["sh"]', "LABEL a=b"], "msg")
    images.tag(image_id, "one")
    doc = complete.image_inspect(msgspec.to_builtins(images.inspect(images.load(image_id))))
    assert list(doc) == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created",
                         "Container", "ContainerConfig", "DockerVersion", "Author", "Config",
                         "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"]
    assert doc["Comment"] == "msg" and doc["RepoTags"] == ["one:latest"]
    assert doc["Container"] == ""
    assert doc["ContainerConfig"] == complete.fill({}, "container.Config")
    assert doc["Config"]["Cmd"] == ["sh"] and doc["Config"]["Labels"] == {"a": "b"}
    assert set(doc["Config"]) == set(complete.fill({}, "container.Config"))
    summary = complete.image_summary(msgspec.to_builtins(images.summary(images.load(image_id))))
    assert sorted(summary) == sorted(["Containers", "Created", "Id", "Labels", "ParentId",
                                      "RepoDigests", "RepoTags", "SharedSize", "Size",
                                      "VirtualSize"])
    assert summary["Labels"] == {"a": "b"}


def test_meta_keys_are_the_keys_of_dict_configs():
    """A config step's cache key hashes the config as sorted JSON: the same text
    as the dict configs gave (json.dumps(sort_keys=True)) when no field is zero,
    so a cache recorded before the typed configs still hits after a restart."""
    as_dict = {"Env": ["PATH=/bin", "A=1"], "Cmd": ["sh"], "ExposedPorts": {"80/tcp": {}},
               "Healthcheck": {"Test": ["CMD", "true"], "Interval": 1000000000},
               "Labels": {"b": "2", "a": "1"}, "WorkingDir": "/srv"}
    typed = msgspec.convert(as_dict, model.ContainerConfig)
    old = cache.key("sha256:p", "LABEL a=1", [json.dumps(as_dict, sort_keys=True)])
    assert cache.meta_key("sha256:p", "LABEL a=1", typed) == old
    # read back from a stored config: the same key
    again = model.decode_config(model.encode_config(model.ImageConfig(config=typed))).config
    assert cache.meta_key("sha256:p", "LABEL a=1", again) == old
