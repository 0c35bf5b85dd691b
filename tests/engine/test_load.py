"""docker load of hostile archives: a corrupt one never breaks images already here."""

from __future__ import annotations

import hashlib
import json
import tarfile

from tests.conftest import tar_of
from tests.engine.conftest import name


def test_load_with_a_wrong_diff_id_leaves_the_image_sharing_its_layer_runnable(daemon,
                                                                               tmp_path):
    saved = tmp_path / "bb.tar"
    daemon.cli("save", "-o", str(saved), "busybox", check=True)
    with tarfile.open(saved) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        layer = tf.extractfile(manifest[0]["Layers"][0]).read()
        config = json.load(tf.extractfile(manifest[0]["Config"]))
    # busybox's own layer, under a config that names another diff id for it
    config["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    raw = json.dumps(config).encode()
    cfg = hashlib.sha256(raw).hexdigest() + ".json"
    tag = f"evil-{name()}:latest"
    files = {cfg: raw, "l/layer.tar": layer, "manifest.json": json.dumps(
        [{"Config": cfg, "RepoTags": [tag], "Layers": ["l/layer.tar"]}]).encode()}
    res = daemon.cli("load", input=tar_of(files))
    assert res.returncode == 1 and b"invalid diffID for layer 0" in res.stderr, res
    out = daemon.cli("run", "--rm", "busybox", "echo", "still here", check=True)
    assert out.stdout == b"still here\n"
    assert daemon.cli("image", "inspect", tag).returncode == 1
