"""Turning the current (forked) process into the configured container process.

Shared by the container's init and by exec. Order follows runc's
finalizeNamespace: rlimits while still privileged (oom_score_adj is stage 1's,
written in the host: container.py), the
seccomp filter early unless no_new_privs lets us load it last, bounding set,
uid/gid switch with KEEPCAPS, then the capability sets, then
no_new_privs, umask and cwd. ``lookup`` finds the program in the
container's PATH before we report ready, so "not found" is an error of
create (or exec), with runc's wording, not a silent exit.
"""

from __future__ import annotations

import os
import signal
import stat

from dockling.errors import InvalidArgument
from dockling.kernel import syscalls as sc
from dockling.runtime import capabilities, seccomp

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class ExecError(InvalidArgument):
    """The program cannot be run; ``code`` is docker's exit code (126 or 127)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def parse_signal(s: str | int) -> int:
    """KILL, SIGKILL, kill or 9 -> 9; docker's "Invalid signal" otherwise."""
    if isinstance(s, int) or str(s).isdigit():
        return int(s)
    name = str(s).upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    try:
        return int(signal.Signals[name])
    except KeyError as err:
        raise InvalidArgument(f"Invalid signal: {s}") from err


def env_dict(env: list[str]) -> dict[str, str]:
    out = {}
    for kv in env:
        k, _, v = kv.partition("=")
        out[k] = v
    return out


def lookup(arg0: str, env: dict[str, str], cwd: str) -> str:
    """Resolve argv[0] like execvp, in the current root; raise ExecError."""
    if "/" in arg0:
        path = arg0 if arg0.startswith("/") else os.path.join(cwd, arg0)
        try:
            st = os.stat(path)
        except FileNotFoundError as err:
            raise ExecError(f'exec: "{arg0}": stat {arg0}: no such file or directory',
                            127) from err
        except OSError as err:
            raise ExecError(f'exec: "{arg0}": {err.strerror.lower()}', 126) from err
        if stat.S_ISDIR(st.st_mode) or not os.access(path, os.X_OK):
            raise ExecError(f'exec: "{arg0}": permission denied', 126)
        return path
    for d in env.get("PATH", DEFAULT_PATH).split(":"):
        path = os.path.join(d or ".", arg0)
        try:
            st = os.stat(path)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(path, os.X_OK):
            return path
    raise ExecError(f'exec: "{arg0}": executable file not found in $PATH', 127)


def setup(proc, seccomp_filter: seccomp.Filter | None) -> str:
    """Apply everything but the final execve; return the resolved program path."""
    capabilities.set_rlimits(proc.rlimits)
    if seccomp_filter is not None and not proc.no_new_privileges:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: do it
        # before the capabilities go.
        seccomp.load(seccomp_filter)
    caps = proc.capabilities
    if caps is not None:
        capabilities.drop_bounding(caps, sc)
    u = proc.user
    sc.set_keepcaps(True)
    os.setgroups(list(u.additional_gids))
    os.setresgid(u.gid, u.gid, u.gid)
    os.setresuid(u.uid, u.uid, u.uid)
    sc.set_keepcaps(False)
    if caps is not None:
        capabilities.set_sets(caps, sc)
    if proc.no_new_privileges:
        sc.set_no_new_privs()
    if u.umask is not None:
        os.umask(u.umask)
    else:
        os.umask(0o022)
    env = env_dict(proc.env)
    try:
        os.chdir(proc.cwd)
    except OSError as err:
        raise ExecError(f"chdir to cwd ({proc.cwd!r}) set in config.json failed: "
                        f"{err.strerror.lower()}", 126) from err
    return lookup(proc.args[0], env, proc.cwd)


def close_fds_except(keep) -> None:
    """Close every fd but ``keep`` (and 0-2): a child forked by a process that holds
    other containers' fds (a shim process) must not hold them while it waits or
    joins a container (a client's EOF would wait for it; a ptrace could take them).
    os.closerange is close_range(2) here: a call per gap, not per fd."""
    low = 3
    for fd in sorted({fd for fd in keep if fd is not None and fd >= 3}):
        if fd > low:
            os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, 1 << 20)


def close_fds_on_exec(keep: int = 3) -> None:
    """Mark every fd >= keep close-on-exec: the container must not inherit ours."""
    try:
        fds = [int(n) for n in os.listdir("/proc/self/fd")]
    except OSError:
        os.closerange(keep, 65536)
        return
    for fd in fds:
        if fd >= keep:
            try:
                os.set_inheritable(fd, False)
            except OSError:
                pass


def reset_signals() -> None:
    """Default dispositions and an empty mask for the container program.

    Ignored signals survive execve: Python ignores SIGPIPE, and a shim or
    CLI may ignore SIGINT, which would make ctrl-c useless in the container.
    """
    import _signal  # signal.py's wrappers convert each call to and from its enums:
    #                 ~1 ms over the 62 signals, paid by every start and exec
    for sig in range(1, _signal.NSIG):
        if sig in (signal.SIGKILL, signal.SIGSTOP):
            continue
        try:
            _signal.signal(sig, _signal.SIG_DFL)
        except (OSError, ValueError):
            pass
    _signal.pthread_sigmask(_signal.SIG_SETMASK, [])


def execute(path: str, proc, seccomp_filter: seccomp.Filter | None, keep_fds: int = 3):
    """The last steps: a late seccomp load (with no_new_privs), then execve."""
    close_fds_on_exec(keep_fds)
    reset_signals()
    if seccomp_filter is not None and proc.no_new_privileges:
        seccomp.load(seccomp_filter)
    sc.execve(path, proc.args, env_dict(proc.env))
