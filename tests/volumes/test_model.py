"""The volume record's types against docker's, and the rows they read and write."""

from __future__ import annotations

import json

import msgspec
import pytest

from dockling.cli.dockertypes import STRUCTS
from dockling.errors import InvalidArgument
from dockling.store.db import DB
from dockling.volumes import model
from dockling.volumes.store import ANONYMOUS_LABEL, VolumeStore


def _go_fields(type_name: str) -> list[tuple[str, bool]]:
    """(json name, omitempty) of docker's Go type, in field order."""
    return [(f[2], f[4]) if len(f) > 2 else (f[0], False) for f in STRUCTS[type_name]]


@pytest.mark.parametrize("struct, go", [(model.Volume, "volume.Volume"),
                                        (model.UsageData, "volume.UsageData")])
def test_fields_are_dockers_in_go_order(struct, go):
    assert list(struct.__struct_fields__) == [name for name, _ in _go_fields(go)]


@pytest.mark.parametrize("struct, go", [(model.Volume, "volume.Volume"),
                                        (model.UsageData, "volume.UsageData")])
def test_defaults_are_exactly_the_omitempty_fields(struct, go):
    """omit_defaults stands for Go's omitempty: only those fields may have a default."""
    info = msgspec.inspect.type_info(struct)
    with_default = {f.name for f in info.fields if not f.required}
    assert with_default == {name for name, omitempty in _go_fields(go) if omitempty}


def test_a_record_encodes_as_dockers_json():
    vol = model.Volume(CreatedAt="2026-01-02T03:04:05Z", Driver="local", Labels={},
                       Mountpoint="/v/x/_data", Name="x", Options=None, Scope="local")
    assert list(json.loads(model.encode(vol))) == [
        "CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"]
    df = msgspec.structs.replace(vol, UsageData=model.UsageData(RefCount=1, Size=5))
    assert msgspec.to_builtins(df)["UsageData"] == {"RefCount": 1, "Size": 5}


def test_rows_written_as_dicts_still_decode(tmp_path):
    """A database from before the typed records: the same JSON, written by json.dumps."""
    db = DB(str(tmp_path / "v.db"))
    old = {"CreatedAt": "2026-01-02T03:04:05Z", "Driver": "local",
           "Labels": {ANONYMOUS_LABEL: ""}, "Mountpoint": "/v/old/_data", "Name": "old",
           "Options": {"type": "tmpfs", "device": "tmpfs"}, "Scope": "local"}
    with db.tx() as conn:
        conn.execute("INSERT INTO volumes(name, doc) VALUES (?, ?)", ("old", json.dumps(old)))
    vol = VolumeStore(db, str(tmp_path)).get("old")
    assert msgspec.to_builtins(vol) == old


def test_store_creates_reads_and_filters(tmp_path):
    store = VolumeStore(DB(str(tmp_path / "v.db")), str(tmp_path))
    vol = store.create("named", labels={"a": None, "b": "1"})  # Go decodes null as ""
    assert vol.Labels == {"a": "", "b": "1"} and vol.Options is None
    assert store.create("named") == vol  # docker: creating an existing volume returns it
    anon = store.create()
    assert ANONYMOUS_LABEL in anon.Labels and store.get(anon.Name) == anon
    assert [v.Name for v in store.list({"label": ["b=1"]}, {})] == ["named"]
    assert [v.Name for v in store.list({"dangling": ["false"]}, {"named": ["c1"]})] == \
        ["named"]
    with pytest.raises(InvalidArgument):
        store.create("x", opts={"bogus": "1"})
