"""Image commands through the CLI: import, images, tag, rmi, history, inspect, prune."""

from __future__ import annotations

import json
import time

from tests.engine.conftest import name


def test_import_with_changes_and_images_columns(daemon, busybox_tar):
    n = name()
    res = daemon.cli("import", "-c", "ENV GREETING=hello", "-c", "WORKDIR /srv",
                     "-c", 'ENTRYPOINT ["sh", "-c"]', "-m", "imported for a test",
                     busybox_tar, f"imp-{n}:1.0", check=True)
    image_id = res.stdout.decode().strip()
    out = daemon.cli("run", "--rm", f"imp-{n}:1.0", "echo $GREETING from $(pwd)")
    assert out.stdout == b"hello from /srv\n", out.stderr
    lines = daemon.cli("images").stdout.decode().splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    row = next(x for x in lines if f"imp-{n}" in x).split()
    assert row[1] == "1.0" and row[2] == image_id[7:19] and row[-1].endswith("MB")
    assert image_id[7:19] in daemon.cli("images", "-q").stdout.decode().split()
    fmt = daemon.cli("images", "--format", "{{.Repository}}:{{.Tag}}",
                     "--filter", f"reference=imp-{n}").stdout.decode().split()
    assert fmt == [f"imp-{n}:1.0"]
    hist = daemon.cli("history", f"imp-{n}:1.0").stdout.decode()
    assert "imported for a test" in hist
    doc = json.loads(daemon.cli("image", "inspect", f"imp-{n}:1.0").stdout)[0]
    assert doc["Config"]["Env"] == ["GREETING=hello"] and doc["Id"] == image_id
    daemon.cli("rmi", f"imp-{n}:1.0", check=True)


def test_tag_and_rmi_rules(daemon):
    n = name()
    daemon.cli("tag", "busybox", f"localhost:5000/{n}:v1", check=True)
    daemon.cli("tag", "busybox", f"{n}-second", check=True)
    assert f"localhost:5000/{n}" in daemon.cli("images").stdout.decode()
    out = daemon.cli("rmi", f"localhost:5000/{n}:v1", check=True).stdout.decode()
    assert out.strip() == f"Untagged: localhost:5000/{n}:v1"
    image_id = json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]["Id"]
    res = daemon.cli("rmi", image_id[7:19])
    assert res.returncode == 1
    assert b"image is referenced in multiple repositories" in res.stderr
    daemon.cli("rmi", f"{n}-second", check=True)
    c = name()
    daemon.cli("create", "--name", c, "busybox", check=True)
    res = daemon.cli("rmi", "busybox")
    assert res.returncode == 1 and b"image is being used by stopped container" in res.stderr
    daemon.cli("rm", c, check=True)
    res = daemon.cli("rmi", "nothere:latest")
    assert res.stderr.decode().strip() == \
        "Error response from daemon: No such image: nothere:latest"


def test_rmi_sends_dockers_untag_event(daemon):
    """moby's LogImageEvent: "untag" of the image's ID, the tag as its name."""
    n = name()
    t0 = time.time() - 1
    daemon.cli("tag", "busybox", f"{n}:v1", check=True)
    daemon.cli("rmi", f"{n}:v1", check=True)
    image_id = json.loads(daemon.cli("image", "inspect", "busybox").stdout)[0]["Id"]
    _, _, raw = daemon.api("GET", f"/events?since={t0}&until={time.time() + 0.5}")
    events = [json.loads(x) for x in raw.splitlines() if x.strip()]
    untag = [e for e in events if e["Action"] == "untag"  # the module's daemon is shared
             and e["Actor"]["Attributes"].get("name", "").startswith(n)]
    assert [(e["Actor"]["ID"], e["Actor"]["Attributes"]["name"]) for e in untag] == [
        (image_id, f"{n}:v1")]


def test_system_df_counts_containers_and_shared_layers(daemon):
    """docker's df: each image's containers, the size it shares with other images (a
    commit shares busybox's layer), every layer counted once in LayersSize."""
    c = name()
    daemon.cli("create", "--name", c, "busybox", "true", check=True)
    daemon.cli("commit", c, f"{c}-img", check=True)
    try:
        _, _, df = daemon.api("GET", "/system/df")
        by_tag = {t: i for i in df["Images"] for t in i["RepoTags"] or []}
        bb, mine = by_tag["busybox:latest"], by_tag[f"{c}-img:latest"]
        assert bb["Containers"] >= 1 and mine["Containers"] == 0
        assert bb["SharedSize"] == bb["Size"] > 0 and mine["SharedSize"] == bb["Size"]
        assert df["LayersSize"] < sum(i["Size"] for i in df["Images"])
        ps = daemon.cli("system", "df").stdout.decode()
        assert "N/A" not in ps.splitlines()[1]
    finally:
        daemon.cli("rm", c)
        daemon.cli("rmi", f"{c}-img")


def test_bad_import_is_refused_cleanly(daemon, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(b"not a tar at all" * 64)
    res = daemon.cli("import", str(bad), "broken:1")
    assert res.returncode == 1 and b"invalid layer" in res.stderr
    assert b"broken" not in daemon.cli("images").stdout
    res = daemon.cli("import", "-c", "RUN rm -rf /", str(bad))
    assert res.returncode == 1 and b"not a valid change command" in res.stderr


def test_save_rmi_load_roundtrip_keeps_ids(daemon, tmp_path):
    n = name()
    daemon.cli("run", "--name", n, "busybox", "sh", "-c", "echo layer2 > /tmp/f", check=True)
    image_id = daemon.cli("commit", n, f"saved-{n}:v1", check=True).stdout.decode().strip()
    daemon.cli("rm", n, check=True)
    out = tmp_path / "img.tar"
    daemon.cli("save", "-o", str(out), f"saved-{n}:v1", check=True)
    import tarfile

    with tarfile.open(out) as tf:
        names = tf.getnames()
        manifest = json.load(tf.extractfile("manifest.json"))
    assert {"manifest.json", "index.json", "oci-layout"} <= set(names)
    assert manifest[0]["RepoTags"] == [f"saved-{n}:v1"] and len(manifest[0]["Layers"]) == 2
    daemon.cli("rmi", f"saved-{n}:v1", check=True)
    res = daemon.cli("load", "-i", str(out), check=True)
    assert res.stdout.decode().strip() == f"Loaded image: saved-{n}:v1"
    doc = json.loads(daemon.cli("image", "inspect", f"saved-{n}:v1").stdout)[0]
    assert doc["Id"] == image_id
    assert daemon.cli("run", "--rm", f"saved-{n}:v1", "cat", "/tmp/f").stdout == b"layer2\n"
    daemon.cli("rmi", f"saved-{n}:v1", check=True)


def test_load_refuses_tampered_layer(daemon, tmp_path):
    import io
    import tarfile

    src = tmp_path / "img.tar"
    daemon.cli("save", "-o", str(src), "busybox", check=True)
    bad = tmp_path / "bad.tar"
    with tarfile.open(src) as tin, tarfile.open(bad, "w") as tout:
        manifest = json.load(tin.extractfile("manifest.json"))
        layer = manifest[0]["Layers"][0]
        for m in tin.getmembers():
            data = tin.extractfile(m).read() if m.isfile() else None
            if m.name == layer:
                evil = io.BytesIO()
                with tarfile.open(fileobj=evil, mode="w") as lt:
                    ti = tarfile.TarInfo("etc/evil")
                    ti.size = 4
                    lt.addfile(ti, io.BytesIO(b"evil"))
                data = evil.getvalue()
                m.size = len(data)
            tout.addfile(m, io.BytesIO(data) if data is not None else None)
    res = daemon.cli("load", "-i", str(bad))
    assert res.returncode == 1 and b"invalid diffID for layer 0" in res.stderr


def test_import_from_stdin_and_image_filters(daemon, busybox_tar):
    n = name()
    with open(busybox_tar, "rb") as f:
        data = f.read()
    first = daemon.cli("import", "-", f"stdin-{n}:a", input=data, check=True).stdout.decode()
    second = daemon.cli("import", "-c", "CMD [\"true\"]", "-", input=data,
                        check=True).stdout.decode().strip()
    # the untagged one is dangling
    dangling = daemon.cli("images", "-q", "--filter", "dangling=true").stdout.decode().split()
    assert second[7:19] in dangling and first.strip()[7:19] not in dangling
    since = daemon.cli("images", "-q", "--filter", f"since=stdin-{n}:a").stdout.decode().split()
    assert second[7:19] in since
    before = daemon.cli("images", "--format", "{{.Repository}}", "--filter",
                        f"before=stdin-{n}:a").stdout.decode().split()
    assert "busybox" in before and f"stdin-{n}" not in before
    out = daemon.cli("image", "prune", "-f").stdout.decode()
    assert f"Deleted: {second}" in out and "Total reclaimed space" in out
    daemon.cli("rmi", f"stdin-{n}:a", check=True)
