"""docker cp and export: a container's files as tar streams, both ways.

A running container's processes are hostile and quick: any directory on a
path may become a symlink to the host's / between two of our calls (the
CVE-2018-15664 class). So, as docker does, cp pauses a running container
(commit too, in the manager), and every path is resolved and opened with
descriptors confined to the root it lies in (``kernel.openat2``:
openat2 RESOLVE_IN_ROOT, or a component-by-component O_NOFOLLOW walk);
trees are packed and unpacked through descriptors (images/pack.py,
images/unpack.py), never by joined path strings. Export is not paused
(docker does not pause it): the descriptor walk alone keeps it inside.

Paths are taken the way the container sees them: a path under a volume or
bind mount goes to the mount's source (a file bound on its own, such as the
daemon's /etc/hosts, is the one entry of its directory), anything else to the
container's root filesystem; symlinks on the way resolve inside that root, the last
component is never followed (but the extraction point of an upload is, as
docker follows it). Archives put into a container are unpacked with the
layer unpacker, which refuses ``..`` entries and writing through symlinks.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import json
import os
import posixpath
import stat
from dataclasses import dataclass

from dockling import clock
from dockling.containers.model import Container, MountSpec
from dockling.errors import Forbidden, InvalidArgument, NotFound
from dockling.formats import pack
from dockling.formats.unpack import apply_layer
from dockling.kernel.openat2 import open_in_root


def mount_for(rootfs: str, points: list[MountSpec], path: str) -> tuple[str, str]:
    """(root, path inside it) of a container path: a volume's or bind's source,
    else the root filesystem (the longest mount destination wins). A file bound on
    its own is its directory's entry: the directory is the root (the daemon's own
    record or the user's -v, never the container's)."""
    path = posixpath.normpath("/" + path.lstrip("/"))
    for p in sorted(points, key=lambda p: len(p.Destination), reverse=True):
        dest = p.Destination
        if p.Type == "tmpfs":
            continue
        if path == dest and not os.path.isdir(p.Source):
            return posixpath.dirname(p.Source), "/" + posixpath.basename(p.Source)
        if path == dest or path.startswith(dest.rstrip("/") + "/"):
            return p.Source, path[len(dest):] or "/"
    return rootfs, path


def points_of(c: Container) -> list[MountSpec]:
    """The mounts cp sees through: the container's volumes and binds, then the
    daemon's /etc/resolv.conf, /etc/hostname and /etc/hosts (docker's network
    mounts) where no mount of the user's is, once the daemon has written them (a
    container never started has the image's own)."""
    points = list(c._MountPoints)
    taken = {p.Destination for p in points}
    for dest, source in (("/etc/resolv.conf", c.ResolvConfPath),
                         ("/etc/hostname", c.HostnamePath), ("/etc/hosts", c.HostsPath)):
        if source and dest not in taken and os.path.isfile(source):
            points.append(MountSpec(Type="bind", Source=source, Destination=dest, RW=True))
    return points


@dataclass
class Target:
    """A container path, opened: its root (O_PATH), its parent directory opened
    inside that root (O_PATH) and its last component (``.`` for the root)."""

    root: str
    root_fd: int
    rel: str
    parent_fd: int
    name: str


def _not_found(container_path: str, c: Container) -> NotFound:
    return NotFound(f"Could not find the file {container_path} in container {c.Name[1:]}")


@contextlib.contextmanager
def resolve(rootfs: str, points: list[MountSpec], path: str, c: Container):
    """The Target of ``path`` (NotFound when its parent does not resolve)."""
    root, rel = mount_for(rootfs, points, path)
    parent, name = posixpath.split(rel)
    try:
        root_fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as err:  # a path under a file bound on its own (/etc/hosts/x)
        raise _not_found(path, c) from err
    try:
        try:
            parent_fd = open_in_root(root_fd, parent, os.O_PATH | os.O_DIRECTORY)
        except OSError as err:
            raise _not_found(path, c) from err
        try:
            yield Target(root, root_fd, rel, parent_fd, name or ".")
        finally:
            os.close(parent_fd)
    finally:
        os.close(root_fd)


def path_stat(t: Target, container_path: str, c: Container) -> dict:
    """docker's PathStat (X-Docker-Container-Path-Stat)."""
    try:
        st = os.stat(t.name, dir_fd=t.parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise _not_found(container_path, c) from None
    mode = stat.S_IMODE(st.st_mode)
    # Go's os.FileMode bits
    if stat.S_ISDIR(st.st_mode):
        mode |= 1 << 31
    elif stat.S_ISLNK(st.st_mode):
        mode |= 1 << 27
    link = os.readlink(t.name, dir_fd=t.parent_fd) if stat.S_ISLNK(st.st_mode) else ""
    return {"name": posixpath.basename(container_path.rstrip("/")) or "/",
            "size": st.st_size, "mode": mode,
            "mtime": clock.from_unix(st.st_mtime), "linkTarget": link}


def stat_header(st: dict) -> str:
    return base64.b64encode(json.dumps(st).encode()).decode()


def extract(fileobj, t: Target, container_path: str, c: Container) -> None:
    """Unpack a tar into the directory ``t`` names (a symlink to one is followed,
    inside the root, as docker follows it)."""
    try:
        fd = open_in_root(t.root_fd, t.rel, os.O_PATH | os.O_DIRECTORY)
    except FileNotFoundError:
        raise _not_found(container_path, c) from None
    except OSError as err:
        if err.errno == errno.ENOTDIR:
            raise InvalidArgument("extraction point is not a directory") from err
        raise InvalidArgument(f"cannot open {container_path}: {err.strerror}") from err
    try:
        apply_layer(fileobj, fd, whiteouts=False)
    finally:
        os.close(fd)


def check_writable(c: Container, root: str, rootfs: str) -> None:
    if root == rootfs and c.HostConfig.ReadonlyRootfs:
        raise Forbidden("container rootfs is marked read-only")
    for p in c._MountPoints:
        if p.Source == root and not p.RW:
            raise Forbidden("mounted volume is marked read-only")


@contextlib.contextmanager
def mounted_rootfs(manager, c: Container):
    """The container's merged root, mounted for the call if the container is stopped."""
    merged = os.path.join(manager.paths.container(c.Id), "merged")
    if os.path.ismount(merged):
        yield merged
        return
    d = manager.paths.container(c.Id)
    img = manager.images.load(c.Image)
    manager.images.layers.mount(manager.images.layers.chain(img.diff_ids),
                                os.path.join(d, "upper"), os.path.join(d, "work"), merged)
    try:
        yield merged
    finally:
        from dockling.images.layers import unmount

        if not manager.get(c.Id).State.Running:
            unmount(merged)


# -- what the API calls ---------------------------------------------------------------

def stat_path(manager, ref: str, path: str) -> dict:
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs, \
            resolve(rootfs, points_of(c), path, c) as t:
        return path_stat(t, path, c)


def get_archive(manager, ref: str, path: str, out) -> dict:
    """Write the tar of ``path`` to ``out``; its PathStat."""
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs, manager.paused_for(c), \
            resolve(rootfs, points_of(c), path, c) as t:
        st = path_stat(t, path, c)
        name = st["name"] if not path.rstrip("/").endswith("/.") else "."
        pack.write_named(t.parent_fd, t.name, name, out)
        return st


def put_archive(manager, ref: str, path: str, fileobj) -> None:
    c = manager.get(ref)
    points = points_of(c)
    with mounted_rootfs(manager, c) as rootfs:
        check_writable(c, mount_for(rootfs, points, path)[0], rootfs)
        with manager.paused_for(c), resolve(rootfs, points, path, c) as t:
            extract(fileobj, t, path, c)


def export(manager, ref: str, out) -> None:
    """docker export: the root filesystem's tar to ``out``, then the export event."""
    c = manager.get(ref)
    with mounted_rootfs(manager, c) as rootfs:
        pack.write_layer(rootfs, out)
    manager.emit(c, "export")
