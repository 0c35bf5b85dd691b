"""Volumes and mounts: -v, --mount, --volumes-from, VOLUME, copy-up, volume commands."""

from __future__ import annotations

import json
import os

from tests.engine.conftest import name


def _vol(prefix: str = "v") -> str:
    return f"{prefix}-{name()}"


def test_named_volume_outlives_container_and_is_shared(daemon):
    vol = _vol()
    daemon.cli("run", "--rm", "-v", f"{vol}:/data", "busybox", "sh", "-c",
               "echo kept > /data/f", check=True)
    out = daemon.cli("run", "--rm", "-v", f"{vol}:/data", "busybox", "cat", "/data/f",
                     check=True)
    assert out.stdout == b"kept\n"
    res = daemon.cli("run", "--rm", "-v", f"{vol}:/data:ro", "busybox", "sh", "-c",
                     "echo x > /data/g")
    assert res.returncode == 1 and b"Read-only file system" in res.stderr
    # --volumes-from shares the same volume (and its mode, or the one asked for)
    src = name()
    daemon.cli("create", "--name", src, "-v", f"{vol}:/data", "busybox", check=True)
    out = daemon.cli("run", "--rm", "--volumes-from", src, "busybox", "cat", "/data/f",
                     check=True)
    assert out.stdout == b"kept\n"
    res = daemon.cli("run", "--rm", "--volumes-from", f"{src}:ro", "busybox", "touch",
                     "/data/h")
    assert res.returncode == 1
    # in use (even by a stopped container): docker's message, nothing removed
    res = daemon.cli("volume", "rm", vol)
    assert res.returncode == 1
    assert f"remove {vol}: volume is in use - [".encode() in res.stderr
    daemon.cli("rm", src, check=True)
    daemon.cli("volume", "rm", vol, check=True)
    res = daemon.cli("volume", "inspect", vol)
    assert res.returncode == 1 and b"no such volume" in res.stderr


def test_bind_mounts(daemon, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_text("from host")
    out = daemon.cli("run", "--rm", "-v", f"{src}:/b:ro", "busybox", "sh", "-c",
                     "cat /b/f; touch /b/x 2>/dev/null || echo refused", check=True)
    assert out.stdout == b"from host" + b"refused\n"
    # -v creates a missing source; --mount refuses it (docker's message)
    missing = tmp_path / "made"
    daemon.cli("run", "--rm", "-v", f"{missing}:/m", "busybox", "touch", "/m/new", check=True)
    assert (missing / "new").exists()
    res = daemon.cli("run", "--rm", "--mount", f"type=bind,src={tmp_path}/nope,dst=/m",
                     "busybox", "true")
    assert res.returncode == 125
    assert b'invalid mount config for type "bind": bind source path does not exist' \
        in res.stderr
    out = daemon.cli("run", "--rm", "--mount", f"type=bind,source={src},target=/b,readonly",
                     "busybox", "cat", "/b/f", check=True)
    assert out.stdout == b"from host"


def test_mount_tmpfs_and_inspect_shapes(daemon, tmp_path):
    c = name()
    vol = _vol()
    daemon.cli("create", "--name", c, "-v", f"{vol}:/data", "-v", f"{tmp_path}:/host:ro",
               "-v", "/anon", "--mount", "type=tmpfs,dst=/t,tmpfs-size=1m", "busybox",
               "sleep", "100", check=True)
    mounts = {m["Destination"]: m for m in json.loads(
        daemon.cli("inspect", "-f", "{{json .Mounts}}", c, check=True).stdout)}
    root = os.path.join(daemon.root, "volumes")
    assert mounts["/data"] == {"Type": "volume", "Name": vol,
                               "Source": f"{root}/{vol}/_data", "Destination": "/data",
                               "Driver": "local", "Mode": "z", "RW": True, "Propagation": ""}
    assert mounts["/host"] == {"Type": "bind", "Source": str(tmp_path), "Destination": "/host",
                               "Mode": "ro", "RW": False, "Propagation": "rprivate"}
    assert mounts["/t"] == {"Type": "tmpfs", "Source": "", "Destination": "/t", "Mode": "",
                            "RW": True, "Propagation": ""}
    anon = mounts["/anon"]["Name"]
    assert len(anon) == 64
    daemon.cli("start", c, check=True)
    out = daemon.cli("exec", c, "df", "-k", "/t", check=True).stdout.decode()
    assert out.splitlines()[1].split()[1] == "1024"
    daemon.cli("stop", "-t", "0", c, check=True)
    # rm -v removes the anonymous volume, not the named one
    daemon.cli("rm", "-v", c, check=True)
    names = daemon.cli("volume", "ls", "-q", check=True).stdout.decode().split()
    assert anon not in names and vol in names
    daemon.cli("volume", "rm", vol, check=True)


def test_copy_up_and_nocopy(daemon):
    vol, vol2 = _vol(), _vol()
    out = daemon.cli("run", "--rm", "-v", f"{vol}:/etc", "busybox", "cat", "/etc/passwd",
                     check=True)
    assert b"root:x:0:0" in out.stdout
    with open(os.path.join(daemon.root, "volumes", vol, "_data", "passwd")) as f:
        assert "root:x:0:0" in f.read()
    out = daemon.cli("run", "--rm", "-v", f"{vol2}:/etc:nocopy", "busybox", "ls", "/etc",
                     check=True)
    assert b"passwd" not in out.stdout
    daemon.cli("volume", "rm", vol, vol2, check=True)


def test_image_volume_is_anonymous_and_rm_flag_removes_it(daemon):
    img = f"{name()}:vol"
    c = name()
    daemon.cli("create", "--name", c, "busybox", check=True)
    daemon.cli("commit", "-c", "VOLUME /etc", c, img, check=True)
    daemon.cli("rm", c, check=True)
    before = set(daemon.cli("volume", "ls", "-q").stdout.decode().split())
    c2 = name()
    daemon.cli("run", "--name", c2, img, "ls", "/etc", check=True)
    after = set(daemon.cli("volume", "ls", "-q").stdout.decode().split())
    (new,) = after - before
    assert json.loads(daemon.cli("volume", "inspect", new).stdout)[0]["Labels"] == {
        "com.docker.volume.anonymous": ""}
    with open(os.path.join(daemon.root, "volumes", new, "_data", "passwd")) as f:
        assert "root" in f.read()  # copied up from the image
    daemon.cli("rm", c2, check=True)
    assert new in daemon.cli("volume", "ls", "-q").stdout.decode().split()
    # dangling now: prune (anonymous only by default) takes it
    out = daemon.cli("volume", "prune", "-f", check=True).stdout.decode()
    assert out.startswith("Deleted Volumes:\n") and new in out
    # --rm takes the anonymous volumes with the container
    daemon.cli("run", "--rm", img, "true", check=True)
    assert set(daemon.cli("volume", "ls", "-q").stdout.decode().split()) == before
    daemon.cli("rmi", img, check=True)


def test_volume_commands(daemon):
    vol = _vol()
    assert daemon.cli("volume", "create", "--label", "a=b", vol, check=True).stdout == \
        vol.encode() + b"\n"
    # creating it again returns the same volume
    daemon.cli("volume", "create", vol, check=True)
    ls = daemon.cli("volume", "ls", "-f", f"name={vol}", check=True).stdout.decode()
    assert ls.splitlines()[0].split() == ["DRIVER", "VOLUME", "NAME"]
    assert ls.splitlines()[1].split() == ["local", vol]
    assert daemon.cli("volume", "ls", "-q", "-f", "label=a=b").stdout.decode().split() == [vol]
    assert daemon.cli("volume", "ls", "-q", "-f", "label=a=c").stdout.decode().split() == []
    info = json.loads(daemon.cli("volume", "inspect", vol, check=True).stdout)[0]
    assert info["Driver"] == "local" and info["Scope"] == "local"
    assert info["Labels"] == {"a": "b"}
    res = daemon.cli("volume", "create", "bad/name")
    assert res.returncode == 1 and b"includes invalid characters" in res.stderr
    res = daemon.cli("volume", "create", "-o", "bogus=1", _vol())
    assert res.returncode == 1 and b'invalid option: "bogus"' in res.stderr
    # -a prune takes unused named volumes too
    out = daemon.cli("volume", "prune", "-a", "-f", "--filter", "label=a=b", check=True)
    assert vol in out.stdout.decode()
    res = daemon.cli("volume", "rm", vol)
    assert res.returncode == 1 and f"get {vol}: no such volume".encode() in res.stderr


def test_tmpfs_volume_driver_options(daemon):
    vol = _vol()
    daemon.cli("volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o",
               "o=size=2m", vol, check=True)
    out = daemon.cli("run", "--rm", "-v", f"{vol}:/t", "busybox", "df", "-k", "/t",
                     check=True).stdout.decode()
    assert out.splitlines()[1].split()[:2] == ["tmpfs", "2048"]
    data = os.path.join(daemon.root, "volumes", vol, "_data")
    assert not os.path.ismount(data)  # unmounted when its last user stopped
    daemon.cli("volume", "rm", vol, check=True)


def test_bad_volume_specs(daemon):
    cases = [
        (["-v", "vol:rel"], b"mount path must be absolute"),
        (["-v", "/a:/b:bogus"], b"invalid mode: bogus"),
        (["-v", "/a:/"], b"destination can't be '/'"),
        (["-v", "x:/d", "-v", "y:/d"], b"Duplicate mount point: /d"),
        (["--mount", "type=tmpfs,src=x,dst=/t"], b"field Source must not be specified"),
        (["--volumes-from", "nosuchcontainer"], b"No such container: nosuchcontainer"),
    ]
    for flags, msg in cases:
        res = daemon.cli("create", *flags, "busybox")
        assert res.returncode == 125 and msg in res.stderr, (flags, res.stderr)
    res = daemon.cli("create", "--mount", "type=bind,foo=bar,dst=/x", "busybox")
    assert res.returncode == 125 and b"unexpected key 'foo'" in res.stderr


def test_system_df_prune_and_events(daemon):
    c = name()
    daemon.cli("run", "--name", c, "-l", f"t={c}", "busybox", "sh", "-c",
               "head -c 1000 /dev/zero > /f", check=True)
    df = daemon.cli("system", "df", check=True).stdout.decode().splitlines()
    assert df[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert [line.split()[0] for line in df[1:]] == ["Images", "Containers", "Local",
                                                    "Build"]
    events = daemon.cli("events", "--since", "1m", "--until", "0s", "-f", "event=die",
                        "-f", f"label=t={c}", check=True).stdout.decode().splitlines()
    assert len(events) == 1 and " container die " in events[0]
    assert f"name={c}" in events[0] and "exitCode=0" in events[0]
    out = daemon.cli("container", "prune", "-f", "--filter", f"label=t={c}",
                     check=True).stdout.decode()
    assert out.startswith("Deleted Containers:\n") and "Total reclaimed space: 1kB" in out
    assert daemon.cli("inspect", c).returncode == 1


def test_volume_events_for_every_volume(daemon):
    """docker's volume create/destroy events come from the volume store: for a named
    volume, an anonymous one made by -v and removed by --rm, and prune's."""
    import time

    # to the nanosecond: the module's daemon is shared, and the test before may have
    # made and removed volumes within the same second
    since = f"{time.time():.9f}"
    named = name()
    daemon.cli("volume", "create", named, check=True)
    daemon.cli("run", "--rm", "-v", "/anon", "busybox", "true", check=True)
    daemon.cli("volume", "rm", named, check=True)
    out = daemon.cli("events", "--since", since, "--until", "0s", "-f", "type=volume",
                     "--format", "{{.Action}} {{.Actor.ID}} {{.Actor.Attributes.driver}}",
                     check=True).stdout.decode().splitlines()
    assert f"create {named} local" in out and f"destroy {named} local" in out, out
    anon = [line.split()[1] for line in out if line.startswith("create ") and named not in line]
    assert len(anon) == 1 and f"destroy {anon[0]} local" in out, out
    assert len([x for x in out if x.split()[0] in ("create", "destroy")]) == 4, out  # once
