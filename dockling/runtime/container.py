"""The runtime's library API: one ``Runtime`` per state root, runc's verbs.

    rt = Runtime("/run/dockling/runtime")
    rt.create("c1", "/path/to/bundle")   # init ready, waiting on exec.fifo
    rt.start("c1")                       # user program runs as PID 1
    rt.state("c1")                       # runtime-spec state JSON
    rt.kill("c1", signal.SIGTERM)
    rt.delete("c1")                      # cgroups and state removed

The engine's shim calls these in-process (no extra interpreter start on the
hot path); ``dockling-runc`` is a thin CLI over the same calls. Processes
are made by two forks: the first child enters the namespaces (a new PID
namespace applies to children only), the second is the container's PID 1.
A caller that wants to reap the container (the shim, ``run``) sets itself
as child subreaper first, so PID 1 is re-parented to it.
"""

from __future__ import annotations

import os
import select
import signal
import time

from dockling import clock, kernel
from dockling.errors import Conflict, InternalError, InvalidArgument, NotFound
from dockling.kernel import syscalls
from dockling.runtime import (
    cgroups,
    console,
    defaults,
    hooks,
    namespaces,
    process,
    rootfs,
    seccomp,
    spec,
    sync,
)
from dockling.runtime.init import InitArgs, run_init
from dockling.runtime.state import State, Status, Store, derive_status, process_start_time


class Container:
    """A loaded container: its saved state plus helpers to reach the kernel."""

    def __init__(self, store: Store, st: State) -> None:
        self.store = store
        self.st = st
        self.cgroup = cgroups.from_dict(st.cgroup)
        self._spec = None

    @property
    def spec(self):
        """The saved config as a Spec, converted at first use: start, kill and state
        need none of it but the hooks (a shim's start: its memory stays smaller)."""
        if self._spec is None:
            self._spec = spec.from_dict(self.st.config)
        return self._spec

    def has_hooks(self, name: str) -> bool:
        return bool((self.st.config.get("hooks") or {}).get(name))

    @property
    def id(self) -> str:
        return self.st.id

    @property
    def pid(self) -> int:
        return self.st.pid

    def status(self) -> Status:
        return derive_status(self.st, self.store.fifo(self.id), self.cgroup.frozen)

    def oci_state(self) -> dict:
        return self.st.oci(self.status())


class Runtime:
    def __init__(self, root: str = "/run/dockling-runc") -> None:
        self.store = Store(root)

    # -- queries ---------------------------------------------------------------
    def load(self, cid: str) -> Container:
        return Container(self.store, self.store.load(cid))

    def brief(self, cid: str):
        """The container's brief state (not its spec), cgroup and status: what start,
        kill and delete need; decoding the spec was most of what they cost."""
        b = self.store.load_brief(cid)
        cg = cgroups.from_dict(b.cgroup)
        return b, cg, derive_status(b, self.store.fifo(cid), cg.frozen)

    def cgroup(self, cid: str):
        """The container's cgroup manager (from the brief state)."""
        return cgroups.from_dict(self.store.load_brief(cid).cgroup)

    def state(self, cid: str) -> dict:
        return self.load(cid).oci_state()

    def list(self) -> list[Container]:
        out = []
        for cid in self.store.ids():
            try:
                out.append(self.load(cid))
            except NotFound:
                continue
        return out

    def _seccomp(self, profile):
        if profile is None:
            return None
        return seccomp.with_program(seccomp.compile_rules(profile),
                                    os.path.join(self.store.root, ".seccomp"))

    # -- create ----------------------------------------------------------------
    def create(self, cid: str, bundle: str, *, console_socket: str | None = None,
               pid_file: str | None = None, stdio: tuple | None = None,
               console_sock=None) -> Container:
        """Make the container's init process and leave it waiting for start."""
        bundle = os.path.abspath(bundle)
        cfg = spec.load(bundle)
        root = spec.rootfs_path(cfg, bundle)
        if not os.path.isdir(root):
            raise InvalidArgument(f"root.path: rootfs {root} does not exist or is not a directory")
        if cfg.process.terminal and console_socket is None and console_sock is None:
            raise InvalidArgument("process.terminal is true: --console-socket is required")
        filt = self._seccomp(cfg.linux.seccomp)
        for i, m in enumerate(cfg.mounts):
            if (m.type == "bind" or {"bind", "rbind"} & set(m.options)) and not os.path.exists(
                    os.path.join(bundle, m.source)):
                raise InvalidArgument(f"mounts[{i}].source: {m.source} does not exist")
        state_dir = self.store.reserve(cid)
        cg = cgroups.manager_for(cfg.linux.cgroups_path, cid)
        host_mounts = None
        if not spec.has_mount_namespace(cfg):
            host_mounts = [mid for mid, _ in rootfs.mounts_below(root)]
        init_pid = None
        try:
            if console_socket is not None:
                console_sock = console.connect(console_socket)
            os.mkfifo(self.store.fifo(cid), 0o622)
            # world-writable (not umask'd): the init opens it as the container user
            os.chmod(self.store.fifo(cid), 0o622)
            cg.create(defaults.effective_resources(cfg))
            st = State(
                id=cid, pid=0, bundle=bundle, rootfs=root,
                created=clock.now(),
                init_start_time=0, cgroup=cg.to_dict(),
                config=spec.to_dict(cfg), annotations=dict(cfg.annotations),
                host_mounts=host_mounts,
            )
            init_pid = self._spawn_init(cfg, st, state_dir, cg, filt, console_sock, stdio)
            st.pid = init_pid
            st.init_start_time = process_start_time(init_pid) or 0
            self.store.save(st)
            if pid_file:
                _write_pid_file(pid_file, init_pid)
            return Container(self.store, st)
        except BaseException:
            if init_pid:
                _kill_and_wait(init_pid)
            try:
                cg.destroy()
                if host_mounts is not None:
                    rootfs.unmount_below(root, keep=host_mounts)
            finally:
                self.store.remove(cid)
            raise
        finally:
            if console_sock is not None:
                console_sock.close()

    def _spawn_init(self, cfg, st: State, state_dir: str, cg, filt, console_sock, stdio) -> int:
        parent, child = sync.pair()
        dir_fd = os.open(state_dir, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        ns = spec.namespace_map(cfg)
        args = InitArgs(spec=cfg, bundle=st.bundle, rootfs=st.rootfs, state_dir_fd=dir_fd,
                        sock=child, console_sock=console_sock, seccomp=filt,
                        cgroup_sources=cg.bind_sources(), stdio=stdio,
                        state=st.oci(Status.CREATING))
        first = os.fork()
        if first == 0:
            parent.close()
            _stage1(child, cg, ns, lambda: run_init(args), cfg.process.oom_score_adj)
        child.close()
        os.close(dir_fd)
        try:
            return self._drive_init(parent, first, cfg, st)
        finally:
            parent.close()

    def _drive_init(self, sock, first: int, cfg, st: State) -> int:
        """Answer the child's requests until it says ready (or fails)."""
        init_pid = 0
        try:
            while True:
                msg = sync.recv(sock)
                if msg is None:
                    raise InternalError("container init exited before it was ready")
                kind = msg["type"]
                if kind == "error":
                    if not init_pid:
                        # The init's error can come before stage 1's "pid" (as its
                        # ready can, below): learn the pid, or the failed init is
                        # left unreaped (a zombie for whoever adopts it)
                        init_pid = _late_pid(sock)
                    sync.raise_error(msg)
                elif kind == "userns":
                    namespaces.write_id_maps(first, cfg.linux.uid_mappings,
                                             cfg.linux.gid_mappings)
                    sync.send(sock, "userns-done")
                elif kind == "pid":
                    init_pid = msg["pid"]
                    os.waitpid(first, 0)
                    first = 0
                    continue
                if kind in ("hooks", "ready") and not init_pid:
                    # Stage 1 and the init both write this socket: a stage 1 descheduled
                    # right after its fork sends "pid" after the init's message (seen
                    # under load: a container recorded with pid 0 could never start).
                    init_pid = sync.expect(sock, "pid", "container init")["pid"]
                    os.waitpid(first, 0)
                    first = 0
                if kind == "hooks":
                    state = {**st.oci(Status.CREATED), "pid": init_pid}
                    hooks.run(cfg.hooks.prestart, "prestart", state)
                    hooks.run(cfg.hooks.create_runtime, "createRuntime", state)
                    sync.send(sock, "hooks-done")
                elif kind == "ready":
                    return init_pid
        except BaseException:
            if init_pid:
                _kill_and_wait(init_pid)
            raise
        finally:
            if first:
                _kill_and_wait(first)

    # -- start / kill / pause ----------------------------------------------------
    def start(self, cid: str) -> None:
        b, _, status = self.brief(cid)  # the spec is needed only for poststart hooks
        status.check_start()
        fifo = self.store.fifo(cid)
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            # The init opens the fifo for writing as soon as we are a reader;
            # if it died meanwhile, nothing ever arrives: check while waiting.
            deadline = time.monotonic() + 10
            while True:
                r, _, _ = select.select([fd], [], [], 0.05)
                if r and os.read(fd, 1):
                    break
                if process_start_time(b.pid) != b.init_start_time:
                    raise Conflict("cannot start a container that has stopped")
                if time.monotonic() > deadline:
                    raise InternalError(f"container {cid}: init did not take the start signal")
        finally:
            os.close(fd)
            try:
                os.unlink(fifo)
            except FileNotFoundError:
                pass
        if b.hooks("poststart"):
            c = self.load(cid)
            # The state as start left it: a program that exits at once (true)
            # is often gone by now, and the hook got "stopped" with pid 0
            # (runtime-tools' hooks_stdin failed now and then).
            hooks.run_warn(c.spec.hooks.poststart, "poststart", c.st.oci(Status.RUNNING), _warn)

    def kill(self, cid: str, sig: int = signal.SIGTERM, all_processes: bool = False) -> None:
        b, cg, status = self.brief(cid)
        status.check_kill()
        if all_processes:
            for pid in cg.pids():
                _signal(pid, sig)
        else:
            _signal(b.pid, sig)

    def pause(self, cid: str) -> None:
        c = self.load(cid)
        c.status().check_pause()
        c.cgroup.freeze()

    def resume(self, cid: str) -> None:
        c = self.load(cid)
        c.status().check_resume()
        c.cgroup.thaw()

    def update(self, cid: str, resources) -> None:
        c = self.load(cid)
        c.cgroup.update(resources)

    def pids(self, cid: str) -> list[int]:
        return self.load(cid).cgroup.pids()

    # -- delete ------------------------------------------------------------------
    def delete(self, cid: str, force: bool = False) -> None:
        try:
            b, cg, status = self.brief(cid)  # the spec only for poststop hooks
        except NotFound:
            if force:
                return
            raise
        status.check_delete(cid, force)
        if status is not Status.STOPPED:
            if status is Status.PAUSED:
                cg.thaw()
            for pid in cg.pids():
                _signal(pid, signal.SIGKILL)
            _kill_and_wait(b.pid, reap=False)
        _wait_cgroup_empty(cg)
        poststop = self.load(cid) if b.hooks("poststop") else None
        cg.destroy()
        if b.host_mounts is not None:
            rootfs.unmount_below(b.rootfs, keep=b.host_mounts)
        self.store.remove(cid)
        if poststop is not None:
            hooks.run_warn(poststop.spec.hooks.poststop, "poststop",
                           poststop.st.oci(Status.STOPPED), _warn)

    # -- exec --------------------------------------------------------------------
    def exec_target(self, cid: str) -> ExecTarget:
        """What every exec into this running container needs, worked out once: the
        loaded state and spec, the seccomp filter with its BPF, the namespaces to
        join. A caller that execs often (the shim: health checks, `docker exec`)
        keeps it; the container's init never changes while it runs."""
        c = self.load(cid)
        c.status().check_exec()
        types = [n.type for n in c.spec.linux.namespaces]
        return ExecTarget(
            container=c, seccomp=self._seccomp(c.spec.linux.seccomp),
            # No mount namespace to join: the init's root is reached by chroot.
            root_of=0 if "mount" in types else c.pid,
            ns=namespaces.proc_paths(c.pid, [t for t in types if not (
                t == "user" and namespaces.same_as_host(t, c.pid))]))

    def exec(self, cid: str, proc, *, console_socket: str | None = None, console_sock=None,
             pid_file: str | None = None, stdio: tuple | None = None,
             target: ExecTarget | None = None) -> int:
        """Start ``proc`` inside the running container; return its pid.

        ``target``: a kept ``exec_target(cid)`` (else it is worked out now). The
        caller reaps the process (set child subreaper first, as for create).
        """
        if console_socket is not None:
            console_sock = console.connect(console_socket)
        first, parent = self.exec_begin(cid, proc, console_sock=console_sock, stdio=stdio,
                                        target=target)
        pid = 0
        try:
            pid = sync.expect(parent, "pid", "exec")["pid"]
            os.waitpid(first, 0)
            first = 0
            # EOF means the child's end closed on execve: the program runs.
            msg = sync.recv(parent)
            if msg is not None and msg["type"] == "error":
                sync.raise_error(msg)
        except BaseException:
            if first:
                _kill_and_wait(first)
            if pid:
                _kill_and_wait(pid)
            raise
        finally:
            parent.close()
        if pid_file:
            _write_pid_file(pid_file, pid)
        return pid

    def exec_begin(self, cid: str, proc, *, console_sock=None, stdio: tuple | None = None,
                   target: ExecTarget | None = None):
        """The half of exec that does not wait: fork stage 1 and return its pid and
        the channel it reports on. Stage 1 sends {"type": "pid"} once it forked the
        process and exits; the channel then closes when the process execs the
        program, or carries its error. ``exec`` waits for both; the shim reads them
        in its loop (stage 1 is its child to reap, the process its to claim).
        ``console_sock`` (the child's end) is closed here."""
        try:
            if target is None:
                t = self.exec_target(cid)
            else:
                t = target
                t.container.status().check_exec()  # it may have stopped since
            if proc.terminal and console_sock is None:
                raise InvalidArgument("process.terminal is true: --console-socket is required")
        except BaseException:
            if console_sock is not None:
                console_sock.close()
            raise
        c = t.container
        filt, root_of = t.seccomp, t.root_of
        parent, child = sync.pair()
        first = os.fork()
        if first == 0:
            parent.detach()  # closed below with the rest, never again by its object
            process.close_fds_except([child.fileno(), *(stdio or ()),
                                      console_sock.fileno() if console_sock else None])
            _stage1(child, c.cgroup, t.ns,
                    lambda: _exec_child(child, proc, filt, console_sock, stdio, root_of),
                    proc.oom_score_adj)
        child.close()
        if console_sock is not None:
            console_sock.close()
        return first, parent


class ExecTarget:
    """A running container as exec needs it (see Runtime.exec_target)."""

    __slots__ = ("container", "ns", "root_of", "seccomp")

    def __init__(self, *, container: Container, seccomp, root_of: int,
                 ns: dict[str, str]) -> None:
        self.container = container
        self.seccomp = seccomp
        self.root_of = root_of
        self.ns = ns


def _late_pid(sock) -> int:
    """Stage 1's "pid" message after an error came first; 0 if stage 1 failed before
    it forked (it then exits: EOF) or says nothing in time."""
    sock.settimeout(2)
    try:
        while True:
            msg = sync.recv(sock)
            if msg is None:
                return 0
            if msg["type"] == "pid":
                return msg["pid"]
    except (OSError, ValueError):
        return 0
    finally:
        sock.settimeout(None)


def _stage1(sock, cg, ns: dict[str, str], then, oom_score_adj: int | None = None) -> None:
    """First child: join the cgroup and namespaces, fork PID 1, report its pid.
    ``oom_score_adj`` is written here, in the host, as runc's nsexec does: from inside
    a new user namespace the process's own /proc files are host root's."""
    try:
        kernel.current().process("stage1")
        # Until it execs the program (which makes it dumpable again), what joins a
        # container is no process of the container's to ptrace or to read through
        # /proc/PID (its memory, its fds: the shim process's, which are other
        # containers' too), as runc's nsexec does.
        syscalls.set_dumpable(False)
        if oom_score_adj is not None:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(oom_score_adj))
        cg.join()  # a fresh fork: one thread
        namespaces.enter(ns, sock)
        pid = os.fork()
        if pid == 0:
            then()
            os._exit(1)
        sync.send(sock, "pid", pid=pid)
    except BaseException as err:  # noqa: BLE001
        sync.send_error(sock, err)
        os._exit(1)
    os._exit(0)


def _exec_child(sock, proc, filt, console_sock, stdio, root_of: int = 0) -> None:
    try:
        if root_of:
            rootfs.chroot(f"/proc/{root_of}/root")
        os.setsid()
        if stdio is not None:
            for i, fd in enumerate(stdio):
                if fd is not None and fd != i:
                    os.dup2(fd, i)
        if proc.terminal:
            size = proc.console_size
            master, slave, name = console.open_pty(size.height if size else 0,
                                                   size.width if size else 0)
            console.send_master(console_sock, master, name)
            os.close(master)
            console_sock.close()
            console.become_controlling(slave)
        path = process.setup(proc, filt)
        process.execute(path, proc, filt)
    except BaseException as err:  # noqa: BLE001
        sync.send_error(sock, err)
        os._exit(127 if isinstance(err, process.ExecError) else 1)


def _signal(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _kill_and_wait(pid: int, reap: bool = True, timeout: float = 10.0) -> None:
    """SIGKILL pid and wait until it is gone (reaping it if it is our child)."""
    _signal(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if reap:
            try:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    return
            except ChildProcessError:
                pass
        if process_start_time(pid) is None:
            return
        time.sleep(0.005)


def _wait_cgroup_empty(cg, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        live = [p for p in cg.pids() if process_start_time(p) is not None]
        if not live:
            return
        for p in live:
            _signal(p, signal.SIGKILL)
        time.sleep(0.01)


def _write_pid_file(path: str, pid: int) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(str(pid))
    os.rename(tmp, path)


def _warn(msg: str) -> None:
    import sys

    print(f"dockling-runc: warning: {msg}", file=sys.stderr)
