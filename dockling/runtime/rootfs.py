"""The container's filesystem view: mounts, /dev, pivot_root, masked paths.

``parse_options`` is pure (OCI mount options -> flags, propagation, data).
The rest runs inside the container's new mount namespace, in the init
process, in this order (runc's): private propagation, bind the rootfs onto
itself, the configured mounts, device nodes and /dev symlinks, (hooks),
pivot_root, sysctls, masked and read-only paths, read-only root.
A config without a mount namespace shares the runtime's: no propagation
change, the same mounts below the rootfs, chroot instead of pivot_root, and
``unmount_below`` for delete to take those mounts away again.

Every destination is resolved inside the rootfs by ``paths.secure_join`` and
mounted through /proc/self/fd, so an image whose /etc or /proc is a symlink
to a host path cannot make us mount over the host.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat

import msgspec

from dockling.errors import InvalidArgument
from dockling.kernel import paths
from dockling.kernel import syscalls as sc

_FLAGS = {
    # option: (set?, flag)
    "ro": (True, sc.MS_RDONLY), "rw": (False, sc.MS_RDONLY),
    "nosuid": (True, sc.MS_NOSUID), "suid": (False, sc.MS_NOSUID),
    "nodev": (True, sc.MS_NODEV), "dev": (False, sc.MS_NODEV),
    "noexec": (True, sc.MS_NOEXEC), "exec": (False, sc.MS_NOEXEC),
    "sync": (True, sc.MS_SYNCHRONOUS), "async": (False, sc.MS_SYNCHRONOUS),
    "dirsync": (True, sc.MS_DIRSYNC),
    "remount": (True, sc.MS_REMOUNT),
    "mand": (True, sc.MS_MANDLOCK), "nomand": (False, sc.MS_MANDLOCK),
    "atime": (False, sc.MS_NOATIME), "noatime": (True, sc.MS_NOATIME),
    "diratime": (False, sc.MS_NODIRATIME), "nodiratime": (True, sc.MS_NODIRATIME),
    "bind": (True, sc.MS_BIND), "rbind": (True, sc.MS_BIND | sc.MS_REC),
    "relatime": (True, sc.MS_RELATIME), "norelatime": (False, sc.MS_RELATIME),
    "strictatime": (True, sc.MS_STRICTATIME), "nostrictatime": (False, sc.MS_STRICTATIME),
    "nosymfollow": (True, sc.MS_NOSYMFOLLOW),
}
_PROPAGATION = {
    "private": sc.MS_PRIVATE, "rprivate": sc.MS_PRIVATE | sc.MS_REC,
    "shared": sc.MS_SHARED, "rshared": sc.MS_SHARED | sc.MS_REC,
    "slave": sc.MS_SLAVE, "rslave": sc.MS_SLAVE | sc.MS_REC,
    "unbindable": sc.MS_UNBINDABLE, "runbindable": sc.MS_UNBINDABLE | sc.MS_REC,
}
# Options that only matter to other tools (docker's copy-up, SELinux relabel).
_IGNORED = {"tmpcopyup", "z", "Z", "idmap", "ridmap"}


class MountOptions(msgspec.Struct):
    flags: int = 0
    propagation: list[int] = []
    data: str = ""

    @property
    def is_bind(self) -> bool:
        return bool(self.flags & sc.MS_BIND)


def parse_options(options: list[str]) -> MountOptions:
    out = MountOptions()
    data = []
    for opt in options:
        if opt in _FLAGS:
            on, flag = _FLAGS[opt]
            out.flags = out.flags | flag if on else out.flags & ~flag
        elif opt in _PROPAGATION:
            out.propagation.append(_PROPAGATION[opt])
        elif opt in _IGNORED:
            continue
        else:
            data.append(opt)
    out.data = ",".join(data)
    return out


def propagation_flag(name: str) -> int:
    return _PROPAGATION[name]


# --- inside the new mount namespace ------------------------------------------

def prepare_root(rootfs: str, propagation: str) -> None:
    """Stop our mounts leaking to the host, then make rootfs a mount point."""
    sc.mount(None, "/", None, _PROPAGATION.get(propagation or "rslave", sc.MS_SLAVE | sc.MS_REC))
    _make_parent_private(rootfs)
    sc.mount(rootfs, rootfs, None, sc.MS_BIND | sc.MS_REC)


def _make_parent_private(rootfs: str) -> None:
    """pivot_root refuses a new root whose parent mount is shared."""
    best = "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            mp = line.split()[4]
            if paths.is_within(mp, rootfs) and len(mp) > len(best):
                best = mp
    sc.mount(None, best, None, sc.MS_PRIVATE)


def mount_all(rootfs: str, mounts, cgroup_sources) -> None:
    for i, m in enumerate(mounts):
        try:
            mount_one(rootfs, m, cgroup_sources)
        except OSError as err:
            raise InvalidArgument(
                f"mounts[{i}]: cannot mount {m.source or m.type} on {m.destination}: "
                f"{err.strerror or err}"
            ) from err


def mount_one(rootfs: str, m, cgroup_sources) -> None:
    opts = parse_options(m.options)
    if m.type == "bind" or opts.is_bind:
        _bind(rootfs, m, opts)
    elif m.type == "cgroup" or m.type == "cgroup2":
        _cgroup(rootfs, m, opts, cgroup_sources)
    else:
        _fs(rootfs, m, opts)


@contextlib.contextmanager
def _at(rootfs: str, path: str):
    """Yield /proc/self/fd/N for ``path`` after proving it lies in rootfs.

    Reopen after each mount: an fd opened before a mount points below it,
    and a remount through it would change the wrong mount.
    """
    fd = paths.open_inside(rootfs, path)
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def _bind(rootfs: str, m, opts: MountOptions) -> None:
    src = m.source
    st = os.stat(src)  # follows symlinks on the host side, as docker's -v does
    path = paths.make_mountpoint(rootfs, m.destination, stat.S_ISDIR(st.st_mode))
    with _at(rootfs, path) as target:
        sc.mount(src, target, None, sc.MS_BIND | (opts.flags & sc.MS_REC))
    _finish(rootfs, path, opts.flags & ~(sc.MS_BIND | sc.MS_REC | sc.MS_REMOUNT),
            opts.propagation)


def _finish(rootfs: str, path: str, remount_flags: int, propagation) -> None:
    """Per-mount flags (ro, nosuid...) and propagation on the new mount at path."""
    if not remount_flags and not propagation:
        return
    with _at(rootfs, path) as target:
        if remount_flags:
            _remount_bind(target, remount_flags)
        for p in propagation or []:
            sc.mount(None, target, None, p)


def _remount_bind(target: str, flags: int) -> None:
    """Remount a bind with new flags, keeping the ones the kernel locked on us."""
    try:
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | flags)
    except OSError as err:
        if err.errno != errno.EPERM:
            raise
        # In a user namespace nosuid/nodev/noexec of the source are locked.
        st = os.statvfs(target)
        locked = 0
        for bit, flag in ((os.ST_NOSUID, sc.MS_NOSUID), (os.ST_NODEV, sc.MS_NODEV),
                          (os.ST_NOEXEC, sc.MS_NOEXEC), (os.ST_RDONLY, sc.MS_RDONLY)):
            if st.f_flag & bit:
                locked |= flag
        sc.mount(None, target, None, sc.MS_BIND | sc.MS_REMOUNT | flags | locked)


def _fs(rootfs: str, m, opts: MountOptions) -> None:
    path = paths.make_mountpoint(rootfs, m.destination, True)
    with _at(rootfs, path) as target:
        try:
            sc.mount(m.source or m.type, target, m.type, opts.flags, opts.data)
            remount = 0
        except OSError as err:
            # sysfs needs our own net namespace and mqueue our own ipc one;
            # with --network host / --ipc host, docker gets the host's by bind.
            if err.errno != errno.EPERM or m.type not in ("sysfs", "mqueue"):
                raise
            host = "/sys" if m.type == "sysfs" else "/dev/mqueue"
            sc.mount(host, target, None, sc.MS_BIND | sc.MS_REC)
            remount = opts.flags & ~(sc.MS_BIND | sc.MS_REC)
    _finish(rootfs, path, remount, opts.propagation)


def _cgroup(rootfs: str, m, opts: MountOptions, sources) -> None:
    """/sys/fs/cgroup: the container's own cgroup dirs, bound from the host.

    v1: a tmpfs with one bind per hierarchy; v2: one bind of the group dir.
    Binding (rather than mounting cgroupfs) gives the same view with or
    without a cgroup namespace.
    """
    flags = opts.flags & (sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC | sc.MS_RDONLY)
    # The tmpfs holding the v1 hierarchies stays writable, as under runc;
    # the hierarchies themselves get the mount's flags (ro).
    if len(sources) == 1 and sources[0][0] == "":
        _bind(rootfs, _Bind(sources[0][1], m.destination),
              MountOptions(flags=sc.MS_BIND | sc.MS_REC | flags, propagation=[]))
        return
    path = paths.make_mountpoint(rootfs, m.destination, True)
    with _at(rootfs, path) as target:
        sc.mount("tmpfs", target, "tmpfs", sc.MS_NOSUID | sc.MS_NODEV | sc.MS_NOEXEC, "mode=755")
    for name, host in sources:
        if os.path.isdir(host):
            _bind(rootfs, _Bind(host, os.path.join(m.destination, name)),
                  MountOptions(flags=sc.MS_BIND | sc.MS_REC | flags, propagation=[]))


class _Bind(msgspec.Struct):
    source: str
    destination: str


# --- /dev -----------------------------------------------------------------------

DEFAULT_DEVICES = [
    # (path, type, major, minor, mode)
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
]
DEV_SYMLINKS = [
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
    ("pts/ptmx", "/dev/ptmx"),
]


def dev_is_bind(mounts) -> bool:
    return any(m.destination.rstrip("/") == "/dev" and
               (m.type == "bind" or "bind" in m.options or "rbind" in m.options)
               for m in mounts)


def create_devices(rootfs: str, devices, in_userns: bool) -> None:
    wanted = {d[0]: d for d in DEFAULT_DEVICES}
    for d in devices:
        mode = d.file_mode if d.file_mode is not None else 0o666
        wanted[d.path] = (d.path, d.type, d.major, d.minor, mode, d.uid, d.gid)
    old = os.umask(0)
    try:
        for spec in wanted.values():
            _create_device(rootfs, spec, in_userns)
    finally:
        os.umask(old)
    for target, link in DEV_SYMLINKS:
        path = paths.secure_join(rootfs, link)
        if os.path.lexists(path):
            if link == "/dev/ptmx":
                os.unlink(path)
            else:
                continue
        os.symlink(target, path)
    if os.path.exists("/proc/kcore"):
        core = paths.secure_join(rootfs, "/dev/core")
        if not os.path.lexists(core):
            os.symlink("/proc/kcore", core)


def _create_device(rootfs: str, spec, in_userns: bool) -> None:
    path, typ, major, minor, mode = spec[:5]
    uid, gid = (spec[5], spec[6]) if len(spec) > 5 else (None, None)
    dest = paths.secure_join(rootfs, path)
    os.makedirs(os.path.dirname(dest), 0o755, exist_ok=True)
    if in_userns:
        # mknod is not allowed in a user namespace: bind the host's node.
        if not os.path.lexists(dest):
            os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW, 0o644))
        fd = paths.open_inside(rootfs, dest)
        try:
            sc.mount(path, f"/proc/self/fd/{fd}", None, sc.MS_BIND)
        finally:
            os.close(fd)
        return
    kind = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}[typ]
    if os.path.lexists(dest):
        os.unlink(dest)
    os.mknod(dest, kind | (mode & 0o7777), os.makedev(major, minor))
    if uid is not None or gid is not None:
        os.chown(dest, uid if uid is not None else 0, gid if gid is not None else 0)


# --- after mounts ---------------------------------------------------------------

def pivot_root(rootfs: str) -> None:
    """Make rootfs "/" and drop every host mount from our view (runc's way).

    pivot_root(".", ".") stacks the old root on top of the new one; we then
    detach it. No temporary directory is created inside the image.
    """
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        sc.pivot_root(".", ".")
        os.fchdir(old)
        sc.mount(None, ".", None, sc.MS_SLAVE | sc.MS_REC)
        sc.umount(".", sc.MNT_DETACH)
        os.chdir("/")
    finally:
        os.close(old)
        os.close(new)


def chroot(rootfs: str) -> None:
    """Without a mount namespace there is no pivot_root: chroot, as runc does."""
    os.chdir(rootfs)
    os.chroot(".")
    os.chdir("/")


# --- a container without a mount namespace ----------------------------------------
# Its mounts are made in the runtime's own namespace, below the rootfs; runc
# leaves them there after delete, we take them away.

def mounts_below(rootfs: str) -> list[tuple[int, str]]:
    """(mount ID, mount point) of our namespace's mounts strictly below rootfs."""
    root = os.path.abspath(rootfs)
    out = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            mp = _unescape(fields[4])
            if mp != root and paths.is_within(root, mp):
                out.append((int(fields[0]), mp))
    return out


def _unescape(field: str) -> str:
    r"""mountinfo writes space, tab, newline and backslash as \ooo."""
    if "\\" not in field:
        return field
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def unmount_below(rootfs: str, keep=()) -> None:
    """Detach the mounts below rootfs but those in ``keep`` (IDs), deepest first.

    The container shared our namespace and could have swapped a directory
    on a mount point's path for a symlink: each is opened inside the root
    (``paths.open_inside``) and detached through /proc/self/fd, so nothing
    outside the rootfs is ever unmounted.
    """
    deepest_first = sorted(mounts_below(rootfs), key=lambda m: m[1].count("/"), reverse=True)
    for mid, mp in deepest_first:
        if mid in keep:
            continue
        try:
            fd = paths.open_inside(rootfs, mp)
        except (OSError, InvalidArgument):
            continue  # gone with its parent, or no longer inside the root
        try:
            sc.umount(f"/proc/self/fd/{fd}", sc.MNT_DETACH)
        except OSError as err:
            if err.errno not in (errno.EINVAL, errno.ENOENT):
                raise
        finally:
            os.close(fd)


def write_sysctls(sysctl: dict[str, str]) -> None:
    for key, value in sysctl.items():
        path = "/proc/sys/" + key.replace(".", "/")
        try:
            with open(path, "w") as f:
                f.write(value)
        except OSError as err:
            raise InvalidArgument(f"linux.sysctl: cannot set {key}={value}: {err.strerror}") from err


def mask_paths(masked: list[str]) -> None:
    for p in masked:
        try:
            st = os.stat(p)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            sc.mount("tmpfs", p, "tmpfs", sc.MS_RDONLY, None)
        else:
            sc.mount("/dev/null", p, None, sc.MS_BIND)


def readonly_paths(ro: list[str]) -> None:
    for p in ro:
        if not os.path.exists(p):
            continue
        sc.mount(p, p, None, sc.MS_BIND | sc.MS_REC)
        _remount_bind(p, sc.MS_RDONLY)


def readonly_root() -> None:
    _remount_bind("/", sc.MS_RDONLY)


def set_root_propagation(name: str) -> None:
    if name:
        sc.mount(None, "/", None, _PROPAGATION[name])
