"""A container's mount points: -v binds, --mount, --volumes-from, VOLUME.

``resolve`` runs at create: it turns HostConfig.Binds, HostConfig.Mounts,
HostConfig.VolumesFrom and the Volumes of the config and the image into
one list of mount points (``model.MountSpec``: docker's MountPoint and how to
make it), creating named and anonymous volumes and -v bind sources on the
way. ``oci`` gives the runtime's mounts.

A Subpath (--mount volume-subpath=: only that part of the volume is mounted)
is resolved by ``bind_subpath`` at start inside the volume, and what it found is
pinned with a bind mount, as moby's safepath.Join does.
"""

from __future__ import annotations

import os
import shutil
import stat

import msgspec

from dockling.containers.model import Config, HostConfig, Mount, MountSpec
from dockling.errors import InvalidArgument, NotFound
from dockling.kernel import openat2, syscalls
from dockling.kernel.paths import secure_join

_PROPAGATIONS = ("private", "rprivate", "shared", "rshared", "slave", "rslave")
_MODES = {"ro", "rw", "z", "Z", "nocopy", *_PROPAGATIONS}


def _check_target(spec: str, typ: str, dest: str) -> None:
    if not dest.startswith("/"):
        raise InvalidArgument(f"invalid volume specification: '{spec}': invalid mount config "
                              f"for type \"{typ}\": invalid mount path: '{dest}' mount path "
                              "must be absolute")
    if os.path.normpath(dest) == "/":
        raise InvalidArgument(f"invalid volume specification: '{spec}': invalid mount config "
                              f"for type \"{typ}\": invalid specification: destination can't "
                              "be '/'")


def parse_bind(spec: str) -> MountSpec:
    """-v [src:]dst[:mode] -> a mount point (volume Name or bind Source still unresolved)."""
    parts = spec.split(":")
    if len(parts) > 3 or not all(parts[:2]) or not spec:
        raise InvalidArgument(f"invalid volume specification: '{spec}'")
    mode = ""
    if len(parts) == 3:
        src, dest, mode = parts
    elif len(parts) == 2 and all(o in _MODES for o in parts[1].split(",")):  # dst:mode
        src, (dest, mode) = "", parts
    elif len(parts) == 2:
        src, dest = parts
    else:
        src, dest = "", parts[0]
    opts = [o for o in mode.split(",") if o]
    if any(o not in _MODES for o in opts) or sum(o in ("ro", "rw") for o in opts) > 1 or sum(
            o in _PROPAGATIONS for o in opts) > 1:
        raise InvalidArgument(f"invalid mode: {mode}")
    typ = "bind" if src.startswith("/") else "volume"
    _check_target(spec, typ, dest)
    prop = next((o for o in opts if o in _PROPAGATIONS), "")
    if typ == "volume" and prop:
        raise InvalidArgument(f"invalid volume specification: '{spec}': invalid mount config "
                              "for type \"volume\": field BindOptions must not be specified")
    point = MountSpec(Type=typ, Source=os.path.normpath(src) if typ == "bind" else "",
                      Destination=os.path.normpath(dest), Mode=mode, RW="ro" not in opts,
                      Propagation=(prop or "rprivate") if typ == "bind" else "",
                      CopyData="nocopy" not in opts)
    if typ == "volume":
        point.Name, point.Driver, point.Mode = src, "local", mode or "z"
    return point


def parse_mount(m: Mount) -> MountSpec:
    """One HostConfig.Mounts entry (the API's Mount object) -> a mount point."""
    typ = m.Type or "volume"
    src = m.Source
    dest = m.Target
    err = f'invalid mount config for type "{typ}": '
    if not dest:
        raise InvalidArgument(err + "field Target must not be empty")
    if not dest.startswith("/"):
        raise InvalidArgument(err + f"invalid mount path: '{dest}' mount path must be absolute")
    if os.path.normpath(dest) == "/":
        raise InvalidArgument(err + "invalid specification: destination can't be '/'")
    point = MountSpec(Type=typ, Destination=os.path.normpath(dest), RW=not m.ReadOnly)
    if typ == "bind":
        if not src:
            raise InvalidArgument(err + "field Source must not be empty")
        if not os.path.exists(src):
            raise InvalidArgument(err + f"bind source path does not exist: {src}")
        prop = (m.BindOptions.Propagation if m.BindOptions else "") or "rprivate"
        if prop not in _PROPAGATIONS:
            raise InvalidArgument(err + f"invalid propagation mode: {prop}")
        point.Source, point.Propagation = os.path.normpath(src), prop
    elif typ == "volume":
        vo = m.VolumeOptions
        point.Name = src
        point.Driver = (vo.DriverConfig.Name if vo and vo.DriverConfig else "") or "local"
        point.CopyData = not (vo and vo.NoCopy)
        point.VolumeOptions = vo
        if vo and vo.Subpath:
            point.Subpath = _subpath(err, src, vo.Subpath)
    elif typ == "tmpfs":
        if src:
            raise InvalidArgument(err + "field Source must not be specified")
        to = m.TmpfsOptions
        opts = []
        if to and to.SizeBytes:
            opts.append(f"size={int(to.SizeBytes)}")
        if to and to.Mode:
            opts.append(f"mode={int(to.Mode):o}")
        point.Tmpfs = ",".join(opts)
    else:
        raise InvalidArgument(f"mount type unknown: {typ}")
    return point


def resolve(config: Config, hc: HostConfig, image_volumes, volumes, get_container) -> \
        list[MountSpec]:
    """All mount points of a new container; creates volumes and -v bind sources.
    ``image_volumes``: the image's VOLUMEs (their paths), or None."""
    points: dict[str, MountSpec] = {}

    def add(p: MountSpec, explicit: bool = True) -> None:
        if p.Destination in points:
            if explicit:
                raise InvalidArgument(f"Duplicate mount point: {p.Destination}")
            return
        points[p.Destination] = p

    for spec in hc.Binds or []:
        add(parse_bind(spec))
    for m in hc.Mounts or []:
        add(parse_mount(m))
    for ref in hc.VolumesFrom or []:
        name, _, mode = ref.partition(":")
        if mode not in ("", "ro", "rw"):
            raise InvalidArgument(f"invalid mode: {mode}")
        other = get_container(name)
        for p in other._MountPoints:
            if p.Destination in points:
                continue
            q = msgspec.structs.replace(p, CopyData=False)
            if mode:
                q.RW = mode == "rw"
            points[q.Destination] = q
    for dest in [*(config.Volumes or {}), *(image_volumes or {})]:
        add(MountSpec(Type="volume", Destination=os.path.normpath(dest), Driver="local",
                      RW=True), explicit=False)
    for p in points.values():
        if p.Type == "volume":
            vo, p.VolumeOptions = p.VolumeOptions, None
            vol = volumes.create(p.Name or None, p.Driver or "local",
                                 vo.DriverConfig.Options if vo and vo.DriverConfig else None,
                                 vo.Labels if vo else None)
            p.Name, p.Source, p.Driver = vol.Name, vol.Mountpoint, vol.Driver
        elif p.Type == "bind" and not os.path.exists(p.Source):
            _make_source(p.Source)
    # parents before children: docker mounts in order of path depth
    return sorted(points.values(), key=lambda p: p.Destination.count("/"))


def _subpath(err: str, name: str, sub: str) -> str:
    """VolumeOptions.Subpath, checked as moby's linux_parser does: a named volume,
    and a path that stays inside it lexically (Go's filepath.IsLocal)."""
    if not name:
        raise InvalidArgument(err + "must not set Subpath when using anonymous volumes")
    clean = os.path.normpath(sub)
    if sub.startswith("/") or clean == ".." or clean.startswith("../") or "\0" in sub:
        raise InvalidArgument(err + "subpath must be a relative path within the volume")
    return clean


def bind_subpath(volume_dir: str, sub: str, target: str) -> None:
    """Bind ``sub`` of the volume on ``target`` (made here: a file or a directory
    like the source). The path is resolved inside the volume with the volume as
    its root (a symlink in it cannot lead out), and the bind is made from the
    descriptor found, so a later swap of the path cannot redirect the mount."""
    root = os.open(volume_dir, os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        try:
            fd = openat2.open_in_root(root, sub, os.O_PATH | os.O_CLOEXEC)
        except OSError as e:
            # moby's safepath.ErrNotAccessible (a NotFound): docker's words
            raise NotFound(f"cannot access path {os.path.join(volume_dir, sub)}: "
                           f"{(e.strerror or str(e)).lower()}") from e
    finally:
        os.close(root)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.makedirs(target, exist_ok=True)
        else:
            with open(target, "a"):
                pass
        syscalls.mount(f"/proc/self/fd/{fd}", target, None, syscalls.MS_BIND)
    finally:
        os.close(fd)


def unbind_subpath(target: str) -> None:
    """Undo ``bind_subpath`` (nothing if it is not mounted)."""
    try:
        syscalls.umount(target, syscalls.MNT_DETACH)
    except OSError:
        pass


def _make_source(path: str) -> None:
    """-v creates a missing source, parents too, 0755 like docker (whatever the
    daemon's umask: a container's users read it)."""
    parent = os.path.dirname(path.rstrip("/"))
    if parent and parent != path and not os.path.exists(parent):
        _make_source(parent)
    try:
        os.mkdir(path)
    except FileExistsError:
        return
    os.chmod(path, 0o755)


def oci(points: list[MountSpec], volume_path) -> list[dict]:
    """OCI mounts (config.json's); ``volume_path(point)`` mounts a volume and gives the
    host path to bind (its subpath's, for a point with one)."""
    out = []
    for p in points:
        if p.Type == "tmpfs":
            opts = ["nosuid", "nodev", "noexec"] + [o for o in (p.Tmpfs or "").split(",") if o]
            if not p.RW:
                opts.append("ro")
            out.append({"destination": p.Destination, "type": "tmpfs", "source": "tmpfs",
                        "options": opts})
            continue
        src = volume_path(p) if p.Type == "volume" else p.Source
        opts = ["rbind", "ro" if not p.RW else "rw"]
        if p.Propagation:
            opts.append(p.Propagation)
        out.append({"destination": p.Destination, "type": "bind", "source": src,
                    "options": opts})
    return out


def copy_up(rootfs: str, dest: str, volume_dir: str) -> None:
    """Fill an empty volume with what the image has at dest (docker's copy-up).

    The path is resolved inside the container root; symlinks in the tree are
    copied as links, never followed.
    """
    if os.listdir(volume_dir):
        return
    src = secure_join(rootfs, dest)
    try:
        st = os.lstat(src)
    except FileNotFoundError:
        return
    if not stat.S_ISDIR(st.st_mode):
        return
    _copy_meta(src, volume_dir, st)
    for dirpath, dirs, files in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = os.path.normpath(os.path.join(volume_dir, rel))
        for name in dirs + files:
            s = os.path.join(dirpath, name)
            t = os.path.join(target_dir, name)
            lst = os.lstat(s)
            if stat.S_ISDIR(lst.st_mode):
                os.mkdir(t)
            elif stat.S_ISLNK(lst.st_mode):
                os.symlink(os.readlink(s), t)
            elif stat.S_ISREG(lst.st_mode):
                with open(os.open(s, os.O_RDONLY | os.O_NOFOLLOW), "rb") as fi, \
                        open(t, "xb") as fo:
                    shutil.copyfileobj(fi, fo, 1 << 20)
            else:
                os.mknod(t, lst.st_mode, lst.st_rdev)
            _copy_meta(s, t, lst)


def _copy_meta(src: str, dst: str, st: os.stat_result) -> None:
    os.lchown(dst, st.st_uid, st.st_gid)
    if not stat.S_ISLNK(st.st_mode):
        os.chmod(dst, stat.S_IMODE(st.st_mode))
    os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)
