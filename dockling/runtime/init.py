"""The container's init: what runs between fork and execve of the user program.

``run_init`` runs in the forked child that is PID 1 of the new PID
namespace. It builds the root filesystem, reports "ready" to the runtime,
then blocks opening exec.fifo for writing until ``start`` opens it for
reading. Only then does it exec the user program, which keeps PID 1.

The child never returns into the caller's Python code: it execs or it
``_exit``s, after sending any error over the sync socket.
"""

from __future__ import annotations

import os

import msgspec

from dockling import kernel
from dockling.kernel import syscalls as sc
from dockling.runtime import console, hooks, process, rootfs, sync


class InitArgs(msgspec.Struct):
    spec: object            # spec.Spec
    bundle: str
    rootfs: str
    state_dir_fd: int       # opened before pivot_root: exec.fifo is reached through it
    sock: object            # sync socket (child end)
    console_sock: object    # connected console socket, or None
    seccomp: object         # compiled seccomp.Filter or None
    cgroup_sources: list    # (name, host dir) for the cgroup mount
    stdio: tuple            # fds to become 0, 1, 2 (None: keep ours)
    state: dict             # OCI state for the hooks run here


def run_init(a: InitArgs) -> None:
    try:
        _init(a)
    except BaseException as err:  # noqa: BLE001 - everything goes to the parent
        if a.sock.fileno() >= 0:
            sync.send_error(a.sock, err)
        else:
            # After "ready" nobody listens on the socket: the container's
            # stderr is the only place left to say why it did not run.
            os.write(2, f"dockling-runc: {err}\n".encode())
        os._exit(127 if isinstance(err, process.ExecError) else 1)
    os._exit(1)  # _init execs; reaching here is a bug


def _init(a: InitArgs) -> None:
    kernel.current().process("init")
    spec = a.spec
    proc = spec.process
    ns = {n.type: n.path for n in spec.linux.namespaces}
    os.setsid()
    if a.stdio is not None:
        for i, fd in enumerate(a.stdio):
            if fd is not None and fd != i:
                os.dup2(fd, i)
    if "uts" in ns and not ns["uts"]:
        if spec.hostname:
            sc.sethostname(spec.hostname)
        if spec.domainname:
            sc.setdomainname(spec.domainname)
    os.chdir(a.bundle)  # relative bind-mount sources are relative to the bundle
    # Without a mount namespace we are in the runtime's: the host's mounts
    # keep their propagation and the root is entered by chroot (the mounts
    # made below it are delete's to remove). spec.validate refused what
    # would remount host paths (masked/read-only paths, read-only root).
    own_mounts = "mount" in ns
    if own_mounts:
        rootfs.prepare_root(a.rootfs, spec.linux.rootfs_propagation)
    rootfs.mount_all(a.rootfs, spec.mounts, a.cgroup_sources)
    if not rootfs.dev_is_bind(spec.mounts):
        rootfs.create_devices(a.rootfs, spec.linux.devices, in_userns="user" in ns)
    if spec.hooks and (spec.hooks.prestart or spec.hooks.create_runtime):
        sync.send(a.sock, "hooks")
        sync.expect(a.sock, "hooks-done", "prestart hooks")
    if spec.hooks and spec.hooks.create_container:
        hooks.run(spec.hooks.create_container, "createContainer", a.state)
    if own_mounts:
        rootfs.pivot_root(a.rootfs)
    else:
        rootfs.chroot(a.rootfs)
    rootfs.write_sysctls(spec.linux.sysctl)
    if proc.terminal:
        _setup_terminal(a)
    rootfs.readonly_paths(spec.linux.readonly_paths)
    rootfs.mask_paths(spec.linux.masked_paths)
    if spec.root.readonly:
        rootfs.readonly_root()
    if spec.linux.rootfs_propagation:
        rootfs.set_root_propagation(spec.linux.rootfs_propagation)
    sc.set_pdeathsig(0)
    path = process.setup(proc, a.seccomp)
    sync.send(a.sock, "ready")
    a.sock.close()
    # Blocks until `start` opens the fifo for reading.
    fd = os.open("exec.fifo", os.O_WRONLY | os.O_CLOEXEC, dir_fd=a.state_dir_fd)
    os.write(fd, b"0")
    os.close(fd)
    os.close(a.state_dir_fd)
    if spec.hooks and spec.hooks.start_container:
        hooks.run(spec.hooks.start_container, "startContainer", {**a.state, "status": "running"})
    process.execute(path, proc, a.seccomp)


def _setup_terminal(a: InitArgs) -> None:
    size = a.spec.process.console_size
    master, slave, name = console.open_pty(size.height if size else 0,
                                           size.width if size else 0)
    # /dev/console is the pty, as runc binds it.
    target = "/dev/console"
    if not os.path.lexists(target):
        os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    sc.mount(name, target, None, sc.MS_BIND)
    console.send_master(a.console_sock, master, name)
    os.close(master)
    a.console_sock.close()
    console.become_controlling(slave)
