"""Layer store, image records, import and docker's rmi rules (no daemon)."""

from __future__ import annotations

import io
import os

import pytest

from dockling.containers.model import Empty
from dockling.errors import Conflict, InvalidArgument, NotFound
from dockling.images.archive import apply_changes, import_rootfs
from dockling.images.content import ContentStore
from dockling.images.layers import LayerStore, chain_id
from dockling.images.model import ContainerConfig, DeleteItem
from dockling.images.store import ImageStore
from dockling.store.db import DB
from tests.conftest import tar_of
from tests.formats.test_unpack import make_tar


@pytest.fixture
def images(tmp_path):
    root = str(tmp_path)
    db = DB(os.path.join(root, "dockling.db"))
    yield ImageStore(db, ContentStore(root), LayerStore(root))
    db.close()


def _import(images, files, changes=(), tag=None):
    data = make_tar([(n, "file", {"data": d}) for n, d in files])
    image_id = import_rootfs(images, io.BytesIO(data), list(changes))
    if tag:
        images.tag(image_id, tag)
    return image_id


def test_content_store_verifies_digest(tmp_path):
    cs = ContentStore(str(tmp_path))
    d = cs.put(b"hello")
    assert cs.read(d) == b"hello"
    with pytest.raises(InvalidArgument, match="digest mismatch"):
        cs.put(b"other", expected="sha256:" + "0" * 64)
    assert not cs.exists("sha256:" + "0" * 64)
    assert os.listdir(cs.tmp) == []
    w = cs.writer()
    w.write(b"partial")  # a killed pull: never committed
    cs.clean_tmp()
    assert os.listdir(cs.tmp) == []


def test_import_tag_resolve_inspect(images):
    image_id = _import(images, [("bin/hello", b"hi")], ['CMD ["sh"]', "ENV A=1 B=2",
                                                        "WORKDIR /srv", "EXPOSE 80"],
                       tag="busybox")
    assert image_id.startswith("sha256:")
    assert images.resolve("busybox") == image_id
    assert images.resolve("busybox:latest") == image_id
    assert images.resolve("docker.io/library/busybox:latest") == image_id
    assert images.resolve(image_id[7:19]) == image_id
    assert images.resolve(image_id) == image_id
    img = images.get("busybox")
    assert img.tags == ["busybox:latest"]
    assert img.container_config.Cmd == ["sh"]
    assert img.container_config.Env == ["A=1", "B=2"]
    assert img.container_config.WorkingDir == "/srv"
    assert img.container_config.ExposedPorts == {"80/tcp": Empty()}
    doc = images.inspect(img)
    assert doc.RootFS.Layers == img.diff_ids
    assert doc.GraphDriver.Name == "overlay2"
    with pytest.raises(NotFound, match="No such image: nothere:latest"):
        images.resolve("nothere")


def test_same_layer_stored_once(images):
    a = _import(images, [("f", b"same")], tag="a")
    b = _import(images, [("f", b"same")], ['CMD ["x"]'], tag="b")
    assert a != b
    assert images.get("a").diff_ids == images.get("b").diff_ids
    layer_dirs = [n for n in os.listdir(images.layers.root) if len(n) == 64]
    assert len(layer_dirs) == 1


def test_rmi_untag_then_delete(images):
    image_id = _import(images, [("f", b"x")], tag="one")
    images.tag(image_id, "two:v1")
    out = images.remove("two:v1", False, lambda i: [])
    assert out == [DeleteItem(Untagged="two:v1")]
    assert images.exists("one")
    out = images.remove("one", False, lambda i: [])
    assert out[0] == DeleteItem(Untagged="one:latest")
    assert DeleteItem(Deleted=image_id) in out
    assert not images.exists(image_id)
    assert [n for n in os.listdir(images.layers.root) if len(n) == 64] == []


def test_rmi_conflicts(images):
    image_id = _import(images, [("f", b"x")], tag="one")
    images.tag(image_id, "two")
    with pytest.raises(Conflict, match="referenced in multiple repositories"):
        images.remove(image_id[7:19], False, lambda i: [])
    images.remove("two", False, lambda i: [])
    with pytest.raises(Conflict, match="being used by running container abc"):
        images.remove("one", True, lambda i: [("abc" * 20, True)])
    with pytest.raises(Conflict, match="must be forced.*stopped container"):
        images.remove("one", False, lambda i: [("abc" * 20, False)])


def test_change_parsing():
    cfg = ContainerConfig()
    apply_changes(cfg, ["CMD echo hi", "ENTRYPOINT [\"/bin/sh\"]", "LABEL a=b c=\"d e\"",
                        "USER 1000", "STOPSIGNAL SIGINT", "ENV legacy value with spaces"])
    assert cfg.Cmd == ["/bin/sh", "-c", "echo hi"]
    assert cfg.Entrypoint == ["/bin/sh"]
    assert cfg.Labels == {"a": "b", "c": "d e"}
    assert cfg.User == "1000"
    assert cfg.Env == ["legacy=value with spaces"]
    with pytest.raises(InvalidArgument, match="not a valid change command"):
        apply_changes(cfg, ["RUN rm -rf /"])


def test_chain_ids():
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert chain_id(None, a) == a
    assert chain_id(a, b) != b and chain_id(a, b).startswith("sha256:")


def test_overlay_mount_of_layers(images, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    image_id = _import(images, [("etc/motd", b"hello\n")])
    img = images.load(image_id)
    c = tmp_path / "c"
    for d in ("upper", "work", "merged"):
        (c / d).mkdir(parents=True)
    images.layers.mount(images.layers.chain(img.diff_ids), str(c / "upper"), str(c / "work"),
                        str(c / "merged"))
    try:
        assert (c / "merged/etc/motd").read_text() == "hello\n"
        (c / "merged/etc/motd").write_text("changed\n")
        assert (c / "upper/etc/motd").read_text() == "changed\n"
        layer = images.layers.get(images.layers.chain(img.diff_ids)[0])
        assert open(os.path.join(layer.diff, "etc/motd")).read() == "hello\n"
    finally:
        from dockling.images.layers import unmount

        unmount(str(c / "merged"))


def test_many_layers_still_mount(images, tmp_path):
    """overlay's one-page option limit: short links keep 120 layers mountable."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    from dockling.images.layers import unmount

    parent = None
    chains = []
    for i in range(120):
        layer = images.layers.register(io.BytesIO(make_tar([(f"f{i}", "file",
                                                            {"data": str(i).encode()})])),
                                       parent)
        parent = layer.chain_id
        chains.append(parent)
    c = tmp_path / "c"
    for d in ("upper", "work", "merged"):
        (c / d).mkdir(parents=True)
    images.layers.mount(chains, str(c / "upper"), str(c / "work"), str(c / "merged"))
    try:
        assert (c / "merged/f0").read_bytes() == b"0"
        assert (c / "merged/f119").read_bytes() == b"119"
    finally:
        unmount(str(c / "merged"))


def _archive(config: dict, layer_tars: list[bytes]) -> bytes:
    """A docker-archive (manifest.json, config, layers) around a config as given."""
    import hashlib
    import json

    raw = json.dumps(config).encode()
    cfg = hashlib.sha256(raw).hexdigest() + ".json"
    files = {cfg: raw}
    names = []
    for i, t in enumerate(layer_tars):
        files[f"l{i}/layer.tar"] = t
        names.append(f"l{i}/layer.tar")
    files["manifest.json"] = json.dumps(
        [{"Config": cfg, "RepoTags": ["evil:latest"], "Layers": names}]).encode()
    return tar_of(files)


def test_load_with_a_wrong_diff_id_keeps_layers_other_images_use(images):
    """An archive whose layer is another image's layer, under a config naming a
    different diff id: the load fails and the other image keeps its layer."""
    from dockling.images.archive import load

    layer_tar = make_tar([("f", "file", {"data": b"shared"})])
    image_id = import_rootfs(images, io.BytesIO(layer_tar), [])
    images.tag(image_id, "victim")
    chain = images.layers.chain(images.load(image_id).diff_ids)[0]
    bogus = "sha256:" + "0" * 64
    data = _archive({"architecture": "amd64", "os": "linux", "config": {},
                     "rootfs": {"type": "layers", "diff_ids": [bogus]}}, [layer_tar])
    with pytest.raises(InvalidArgument, match="invalid diffID for layer 0"):
        load(images, io.BytesIO(data))
    assert images.layers.exists(chain)
    assert os.path.exists(os.path.join(images.layers.get(chain).diff, "f"))
    assert os.path.islink(os.path.join(images.layers.links, images.layers.get(chain).link))
    assert not images.layers.exists(bogus)
    assert [n for n in os.listdir(images.layers.root) if n.startswith("tmp-")] == []


def test_adopt_drops_excluded_entries_without_following_links(images, tmp_path):
    """A RUN step may leave etc -> / in its upper dir: dropping the mount stub
    etc/hosts must not unlink the host's file through it."""
    upper = tmp_path / "upper"
    outside = tmp_path / "outside"
    (upper / "d").mkdir(parents=True)
    outside.mkdir()
    (outside / "hosts").write_text("host's\n")
    (outside / "hostname").mkdir()
    (outside / "hostname" / "keep").write_text("k")
    os.symlink(str(outside), upper / "etc")
    (upper / "d" / "f").write_text("x")
    (upper / "dev").mkdir()
    (upper / "dev" / "null").write_text("")
    layer = images.layers.adopt(str(upper), None,
                                frozenset({"etc/hosts", "etc/hostname", "dev"}))
    assert (outside / "hosts").read_text() == "host's\n"
    assert (outside / "hostname" / "keep").exists()
    assert os.path.islink(os.path.join(layer.diff, "etc"))
    assert not os.path.exists(os.path.join(layer.diff, "dev"))
