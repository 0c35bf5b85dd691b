"""volumes/mounts.py: -v, --mount, --volumes-from and VOLUME into mount points,
their inspect view and OCI mounts; copy-up. No root: a fake volume store."""

from __future__ import annotations

import os

import msgspec
import pytest

from dockling.containers.model import Config, Container, HostConfig, Mount, MountSpec
from dockling.errors import InvalidArgument, NotFound
from dockling import gojson
from dockling.volumes import mounts
from dockling.volumes.model import Volume


class FakeVolumes:
    """create() as the local driver answers it; names for anonymous volumes."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.made: list[tuple] = []

    def create(self, name, driver, opts, labels) -> Volume:
        name = name or f"anon{len(self.made)}"
        self.made.append((name, driver, opts, labels))
        return Volume(Driver=driver, Labels=labels, Mountpoint=f"{self.base}/{name}/_data",
                      Name=name, Options=opts, Scope="local")


def parse_mount(m: dict):
    """--mount's entry as the API's door makes it from a request's JSON."""
    return mounts.parse_mount(gojson.convert(m, Mount))


def resolve(hc: dict, config: dict | None = None, image_volumes=None, others=None,
            base: str = "/vols"):
    vols = FakeVolumes(base)

    def get(ref):
        if ref not in (others or {}):
            raise NotFound(f"No such container: {ref}")
        return others[ref]

    return mounts.resolve(gojson.convert(config or {}, Config), gojson.convert(hc, HostConfig),
                          image_volumes, vols, get), vols


@pytest.mark.parametrize("spec, want", [
    ("/data", {"Type": "volume", "Name": "", "Destination": "/data", "RW": True,
               "Mode": "z", "CopyData": True}),
    ("named:/data", {"Type": "volume", "Name": "named", "Destination": "/data"}),
    ("named:/data:ro,nocopy", {"Type": "volume", "RW": False, "CopyData": False,
                               "Mode": "ro,nocopy"}),
    ("/data:ro", {"Type": "volume", "Name": "", "Destination": "/data", "RW": False}),
    ("/host/dir/:/in//dir", {"Type": "bind", "Source": "/host/dir", "Destination": "/in/dir",
                             "Propagation": "rprivate", "RW": True}),
    ("/h:/c:ro,rshared", {"Type": "bind", "RW": False, "Propagation": "rshared"}),
])
def test_parse_bind(spec, want):
    point = mounts.parse_bind(spec)
    assert {k: getattr(point, k) for k in want} == want


@pytest.mark.parametrize("spec, message", [
    ("", "invalid volume specification: ''"),
    ("a:b:c:d", "invalid volume specification"),
    ("/h:relative", "mount path must be absolute"),
    ("/h:/", "destination can't be '/'"),
    ("/h:/c:rx", "invalid mode: rx"),
    ("/h:/c:ro,rw", "invalid mode: ro,rw"),
    ("/h:/c:shared,slave", "invalid mode"),
    ("vol:/c:rshared", "field BindOptions must not be specified"),
])
def test_parse_bind_refused(spec, message):
    with pytest.raises(InvalidArgument, match=message):
        mounts.parse_bind(spec)


def test_parse_mount(tmp_path):
    b = parse_mount({"Type": "bind", "Source": str(tmp_path), "Target": "/x/",
                     "ReadOnly": True, "BindOptions": {"Propagation": "rslave"}})
    assert (b.Source, b.Destination, b.RW, b.Propagation) == (
        str(tmp_path), "/x", False, "rslave")
    v = parse_mount({"Source": "v1", "Target": "/v", "VolumeOptions": {
        "NoCopy": True, "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs"}}}})
    assert (v.Type, v.Name, v.CopyData, v.Driver) == ("volume", "v1", False, "local")
    t = parse_mount({"Type": "tmpfs", "Target": "/t",
                     "TmpfsOptions": {"SizeBytes": 1024, "Mode": 0o700}})
    assert t.Tmpfs == "size=1024,mode=700"


@pytest.mark.parametrize("m, message", [
    ({"Type": "bind", "Source": "/h"}, "field Target must not be empty"),
    ({"Type": "bind", "Target": "/c"}, "field Source must not be empty"),
    ({"Type": "bind", "Source": "/no/such/dir/here", "Target": "/c"},
     "bind source path does not exist: /no/such/dir/here"),
    ({"Type": "bind", "Source": "/", "Target": "/c", "BindOptions": {"Propagation": "x"}},
     "invalid propagation mode: x"),
    ({"Type": "tmpfs", "Source": "x", "Target": "/t"}, "field Source must not be specified"),
    ({"Type": "npipe", "Target": "/t"}, "mount type unknown: npipe"),
    ({"Type": "volume", "Target": "rel"}, "mount path must be absolute"),
    ({"Type": "volume", "Target": "/"}, "destination can't be '/'"),
])
def test_parse_mount_refused(m, message):
    with pytest.raises(InvalidArgument, match=message):
        parse_mount(m)


def test_resolve_creates_volumes_and_bind_sources(tmp_path):
    src = tmp_path / "made-by-v"
    points, vols = resolve({"Binds": [f"{src}:/b", "named:/n"],
                            "Mounts": [{"Type": "tmpfs", "Target": "/t"}]},
                           config={"Volumes": {"/anon": {}}},
                           image_volumes={"/n": {}, "/img": {}})
    assert src.is_dir()  # -v creates a missing bind source, like docker
    by = {p.Destination: p for p in points}
    assert set(by) == {"/b", "/n", "/t", "/anon", "/img"}
    assert by["/n"].Source == "/vols/named/_data"
    # the image's VOLUME at /n is covered by the named volume; the others are anonymous
    assert [m[0] for m in vols.made] == ["named", "anon1", "anon2"]
    assert (by["/anon"].Name, by["/img"].Name) == ("anon1", "anon2")


def test_resolve_orders_parents_first_and_refuses_duplicates():
    points, _ = resolve({"Binds": ["/a/b/c:/x/y/z", "/h:/x"]})
    assert [p.Destination for p in points] == ["/x", "/x/y/z"]
    with pytest.raises(InvalidArgument, match="Duplicate mount point: /x"):
        resolve({"Binds": ["/h:/x", "v:/x"]})


def test_volumes_from():
    other = Container(Id="o", _MountPoints=[MountSpec(
        Type="volume", Name="shared", Source="/vols/shared", Destination="/s", Driver="local",
        RW=True, CopyData=True)])
    points, vols = resolve({"VolumesFrom": ["other:ro"]}, others={"other": other})
    (p,) = points
    assert (p.Name, p.RW, p.CopyData) == ("shared", False, False)
    assert other._MountPoints[0].RW is True  # the other container's record untouched
    with pytest.raises(NotFound):
        resolve({"VolumesFrom": ["ghost"]})
    with pytest.raises(InvalidArgument, match="invalid mode: rx"):
        resolve({"VolumesFrom": ["other:rx"]}, others={"other": other})


def test_public_and_oci():
    points = [
        MountSpec(Type="volume", Name="v", Source="/vols/v/_data", Destination="/v",
                  Driver="local", Mode="z", RW=False),
        MountSpec(Type="bind", Source="/h", Destination="/b", RW=True, Propagation="rshared"),
        MountSpec(Type="tmpfs", Destination="/t", RW=False, Tmpfs="size=1024"),
    ]
    pub = [msgspec.to_builtins(p.public()) for p in points]
    assert pub[0] == {"Type": "volume", "Name": "v", "Source": "/vols/v/_data",
                      "Destination": "/v", "Driver": "local", "Mode": "z", "RW": False,
                      "Propagation": ""}
    assert "CopyData" not in pub[1]
    asked = []
    oci = mounts.oci(points, lambda p: asked.append(p.Name) or f"/mnt/{p.Name}")
    assert asked == ["v"]
    assert oci == [
        {"destination": "/v", "type": "bind", "source": "/mnt/v", "options": ["rbind", "ro"]},
        {"destination": "/b", "type": "bind", "source": "/h",
         "options": ["rbind", "rw", "rshared"]},
        {"destination": "/t", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "nodev", "noexec", "size=1024", "ro"]},
    ]


def test_copy_up(tmp_path):
    root = tmp_path / "rootfs"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "f").write_text("image content")
    os.chmod(root / "data" / "f", 0o640)
    os.symlink("/etc/shadow", root / "data" / "link")  # copied as a link, never followed
    (root / "data" / "sub" / "g").write_text("deep")
    vol = tmp_path / "vol"
    vol.mkdir()
    mounts.copy_up(str(root), "/data", str(vol))
    assert (vol / "f").read_text() == "image content"
    assert (vol / "f").stat().st_mode & 0o777 == 0o640
    assert os.readlink(vol / "link") == "/etc/shadow"
    assert (vol / "sub" / "g").read_text() == "deep"
    # a volume that already has content is left alone
    (root / "data" / "f").write_text("changed")
    mounts.copy_up(str(root), "/data", str(vol))
    assert (vol / "f").read_text() == "image content"


def test_copy_up_resolves_inside_the_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret").write_text("host file")
    root = tmp_path / "rootfs"
    root.mkdir()
    os.symlink(str(outside), root / "data")  # absolute: means rootfs/<that path>
    vol = tmp_path / "vol"
    vol.mkdir()
    mounts.copy_up(str(root), "/data", str(vol))
    assert os.listdir(vol) == []


def test_volume_subpath_checked_as_moby():
    ok = parse_mount({"Type": "volume", "Source": "v", "Target": "/d",
                      "VolumeOptions": {"Subpath": "a/./b/"}})
    assert ok.Subpath == "a/b"
    err = 'invalid mount config for type "volume": '
    for source, sub, why in (("", "a", "must not set Subpath when using anonymous volumes"),
                             ("v", "/abs", "subpath must be a relative path within the volume"),
                             ("v", "a/../../x", "subpath must be a relative path within the "
                                                "volume")):
        with pytest.raises(InvalidArgument) as exc:
            parse_mount({"Type": "volume", "Source": source, "Target": "/d",
                         "VolumeOptions": {"Subpath": sub}})
        assert str(exc.value) == err + why
