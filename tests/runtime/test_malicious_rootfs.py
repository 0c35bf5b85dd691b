"""A rootfs whose symlinks point out of it (absolute, or ../../..) must never
make the runtime mount over, create or write a host path."""

from __future__ import annotations

import os

from tests.conftest import new_id


def _is_mountpoint_anywhere(path: str) -> bool:
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def _run(runtime, bundle, cid=None):
    cid = cid or new_id("evil")
    return runtime("run", "--bundle", bundle.write(cid), cid, check=False)


def test_absolute_symlink_proc_stays_inside(runtime, bundle, tmp_path):
    host = tmp_path / "host-target"
    host.mkdir()
    os.rmdir(os.path.join(bundle.rootfs, "proc"))
    os.symlink(str(host), os.path.join(bundle.rootfs, "proc"))
    bundle.args("sh", "-c", "cat /proc/self/status | grep -c ^Pid")
    res = _run(runtime, bundle)
    assert list(host.iterdir()) == []
    assert not _is_mountpoint_anywhere(str(host))
    if runtime.name == "runc":
        # runc refuses a symlinked /proc outright; refused is as safe as contained
        assert res.returncode != 0
        return
    # contained: the mount landed at rootfs/<host path> and the container works
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == b"1"
    assert os.path.isdir(os.path.join(bundle.rootfs, str(host).lstrip("/")))


def test_relative_escape_dev_is_clamped(dockling, bundle, tmp_path):
    # Not run against runc: Debian's runc 1.1.5 creates the /dev/fd, stdin,
    # stdout... symlinks through this very link, in the host directory.
    runtime = dockling
    host = tmp_path / "victim"
    host.mkdir()
    (host / "keep").write_text("precious\n")
    depth = "../" * (bundle.rootfs.count("/") + 3)
    # rootfs/dev -> ../../../..<tmp_path>/victim: outside when followed on the host
    os.rmdir(os.path.join(bundle.rootfs, "dev"))
    os.symlink(depth + str(host).lstrip("/"), os.path.join(bundle.rootfs, "dev"))
    bundle.args("sh", "-c", "echo hi > /dev/null && echo ok")
    res = _run(runtime, bundle)
    assert sorted(p.name for p in host.iterdir()) == ["keep"]
    assert (host / "keep").read_text() == "precious\n"
    assert not _is_mountpoint_anywhere(str(host))
    assert res.returncode == 0 and res.stdout.strip() == b"ok", res.stderr


def test_bind_destination_through_symlink(runtime, bundle, tmp_path):
    host = tmp_path / "host-etc"
    host.mkdir()
    src = tmp_path / "src"
    src.mkdir()
    (src / "payload").write_text("data\n")
    os.symlink(str(host), os.path.join(bundle.rootfs, "data"))
    bundle.config["mounts"].append({"destination": "/data/mnt", "type": "bind",
                                    "source": str(src), "options": ["rbind", "ro"]})
    bundle.args("cat", "/data/mnt/payload")
    res = _run(runtime, bundle)
    assert list(host.iterdir()) == []
    assert res.stdout == b"data\n", res.stderr


def test_symlink_to_root_for_sys(runtime, bundle, tmp_path):
    # rootfs/sys -> / : sysfs must be mounted at rootfs/, not on the host's /
    os.rmdir(os.path.join(bundle.rootfs, "sys"))
    os.symlink("/", os.path.join(bundle.rootfs, "sys"))
    bundle.config["mounts"] = [m for m in bundle.config["mounts"]
                               if not m["destination"].startswith("/sys/fs/cgroup")]
    before = set(os.listdir("/"))
    _run(runtime, bundle)
    assert set(os.listdir("/")) == before
    assert not os.path.exists("/kernel/mm") or os.path.islink("/kernel")
