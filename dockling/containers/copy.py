"""docker cp and export: a container's files as tar streams, both ways.

Paths are resolved the way the container sees them: a path under a volume
or bind mount goes to the mount's source, anything else to the container's
root filesystem; every symlink on the way is resolved inside that root
(``secure_join``), and the last component is never followed. Archives put
into a container are unpacked with the layer unpacker, which refuses
``..`` entries and writing through symlinks, so a hostile archive or a
hostile container cannot reach host files.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import posixpath
import stat
import tarfile

from dockling import clock
from dockling.errors import Forbidden, InvalidArgument, NotFound
from dockling.images import pack
from dockling.images.unpack import apply_layer
from dockling.runtime.paths import secure_join


def host_path(rootfs: str, points: list[dict], path: str) -> tuple[str, str]:
    """(host path, root it lies in) of a container path; the last part unfollowed."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    root, rel = rootfs, path
    for p in sorted(points, key=lambda p: len(p["Destination"]), reverse=True):
        dest = p["Destination"]
        if p["Type"] != "tmpfs" and (path == dest or path.startswith(dest.rstrip("/") + "/")):
            root, rel = p["Source"], path[len(dest):] or "/"
            break
    parent, base = posixpath.split(rel)
    resolved_parent = secure_join(root, parent)
    if base in ("", "."):
        return resolved_parent, root
    return os.path.join(resolved_parent, base), root


def _not_found(container_path: str, c: dict) -> NotFound:
    return NotFound(f"Could not find the file {container_path} in container {c['Name'][1:]}")


def path_stat(path: str, container_path: str, c: dict) -> dict:
    """docker's PathStat (X-Docker-Container-Path-Stat)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise _not_found(container_path, c) from None
    mode = stat.S_IMODE(st.st_mode)
    # Go's os.FileMode bits
    if stat.S_ISDIR(st.st_mode):
        mode |= 1 << 31
    elif stat.S_ISLNK(st.st_mode):
        mode |= 1 << 27
    return {"name": posixpath.basename(container_path.rstrip("/")) or "/",
            "size": st.st_size, "mode": mode,
            "mtime": clock.from_unix(st.st_mtime),
            "linkTarget": os.readlink(path) if stat.S_ISLNK(st.st_mode) else ""}


def stat_header(st: dict) -> str:
    return base64.b64encode(json.dumps(st).encode()).decode()


def write_archive(path: str, name: str, out) -> None:
    """One path as a tar whose top entry is ``name`` (a directory with its tree)."""
    st = os.lstat(path)
    if stat.S_ISDIR(st.st_mode):
        pack.write_layer(path, out, prefix=name)
        return
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
        ti = tf.gettarinfo(path, arcname=name)
        ti.uname = ti.gname = ""
        if ti.isreg():
            with open(os.open(path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as f:
                tf.addfile(ti, f)
        else:
            tf.addfile(ti)


def extract(fileobj, dest: str, container_path: str, c: dict) -> None:
    """Unpack a tar into the (resolved) directory ``dest`` of a container."""
    try:
        st = os.stat(dest)
    except FileNotFoundError:
        raise _not_found(container_path, c) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument("extraction point is not a directory")
    apply_layer(fileobj, dest, whiteouts=False)


def check_writable(c: dict, root: str, rootfs: str) -> None:
    if root == rootfs and c["HostConfig"].get("ReadonlyRootfs"):
        raise Forbidden("container rootfs is marked read-only")
    for p in c.get("MountPoints") or []:
        if p.get("Source") == root and not p["RW"]:
            raise Forbidden("mounted volume is marked read-only")


@contextlib.contextmanager
def mounted_rootfs(manager, c: dict):
    """The container's merged root, mounted for the call if the container is stopped."""
    merged = os.path.join(manager.paths.container(c["Id"]), "merged")
    if os.path.ismount(merged):
        yield merged
        return
    d = manager.paths.container(c["Id"])
    img = manager.images.load(c["Image"])
    manager.images.layers.mount(manager.images.layers.chain(img.diff_ids),
                                os.path.join(d, "upper"), os.path.join(d, "work"), merged)
    try:
        yield merged
    finally:
        from dockling.images.layers import unmount

        if not manager.get(c["Id"])["State"]["Running"]:
            unmount(merged)


# -- what the API calls ---------------------------------------------------------------

def stat_path(manager, ref: str, path: str) -> dict:
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs:
        host, _ = host_path(rootfs, c.get("MountPoints") or [], path)
        return path_stat(host, path, c)


def get_archive(manager, ref: str, path: str, out) -> dict:
    """Write the tar of ``path`` to ``out``; its PathStat."""
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs:
        host, _ = host_path(rootfs, c.get("MountPoints") or [], path)
        st = path_stat(host, path, c)
        name = st["name"] if not path.rstrip("/").endswith("/.") else "."
        write_archive(host, name, out)
        return st


def put_archive(manager, ref: str, path: str, fileobj) -> None:
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs:
        points = c.get("MountPoints") or []
        host, root = host_path(rootfs, points, path)
        # the extraction point itself may be a symlink to a directory: resolve it inside
        host = secure_join(root, os.path.relpath(host, root))
        check_writable(c, root, rootfs)
        extract(fileobj, host, path, c)


def export(manager, ref: str, out) -> None:
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs:
        pack.write_layer(rootfs, out)
