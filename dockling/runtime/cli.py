"""dockling-runc: runc's command line over the runtime library.

Commands and flags carry runc's names (create, start, state, kill, delete,
run, exec, list, ps, pause, resume, spec; --root, --bundle, --pid-file,
--console-socket, ...), so a caller can swap one for the other. Errors are
one line on stderr and exit status 1; `run` and foreground `exec` exit
with the container process's status (128+N when killed by signal N).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import sys

from dockling.errors import DocklingError, InvalidArgument
from dockling.kernel import syscalls
from dockling.runtime import defaults, spec
from dockling.runtime.container import Runtime
from dockling.runtime.process import ExecError, parse_signal
from dockling.runtime.state import process_start_time


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="dockling-runc", description="OCI runtime (runc-compatible)")
    p.add_argument("--root", default=os.environ.get("DOCKLING_RUNC_ROOT", "/run/dockling-runc"),
                   help="root directory for storage of container state")
    p.add_argument("--debug", action="store_true")
    p.add_argument("--log", default="")
    p.add_argument("--log-format", default="text")
    p.add_argument("--systemd-cgroup", action="store_true")
    # dockling's own: print the kernel calls the command made (stderr), as a tree or JSON
    p.add_argument("--trace", action="store_const", const="tree")
    p.add_argument("--trace=json", dest="trace", action="store_const", const="json")
    sub = p.add_subparsers(dest="cmd", required=True)

    def with_id(name, **kw):
        sp = sub.add_parser(name, **kw)
        sp.add_argument("id")
        return sp

    for name in ("create", "run"):
        sp = with_id(name)
        sp.add_argument("--bundle", "-b", default=".")
        sp.add_argument("--console-socket", default=None)
        sp.add_argument("--pid-file", default=None)
        sp.add_argument("--no-pivot", action="store_true")
        sp.add_argument("--no-new-keyring", action="store_true")
        sp.add_argument("--preserve-fds", type=int, default=0)
        if name == "run":
            sp.add_argument("--detach", "-d", action="store_true")
            sp.add_argument("--keep", action="store_true")
    with_id("start")
    with_id("state")
    sp = with_id("kill")
    sp.add_argument("signal", nargs="?", default="SIGTERM")
    sp.add_argument("--all", "-a", action="store_true")
    sp = with_id("delete")
    sp.add_argument("--force", "-f", action="store_true")
    with_id("pause")
    with_id("resume")
    sp = with_id("ps")
    sp.add_argument("--format", "-f", default="table", choices=["table", "json"])
    sp.add_argument("ps_args", nargs=argparse.REMAINDER)
    sp = sub.add_parser("list")
    sp.add_argument("--format", "-f", default="table", choices=["table", "json"])
    sp.add_argument("--quiet", "-q", action="store_true")
    sp = with_id("exec")
    sp.add_argument("--console-socket", default=None)
    sp.add_argument("--cwd", default=None)
    sp.add_argument("--env", "-e", action="append", default=[])
    sp.add_argument("--tty", "-t", action="store_true")
    sp.add_argument("--user", "-u", default=None)
    sp.add_argument("--additional-gids", "-g", action="append", type=int, default=[])
    sp.add_argument("--process", "-p", default=None)
    sp.add_argument("--detach", "-d", action="store_true")
    sp.add_argument("--pid-file", default=None)
    sp.add_argument("--cap", "-c", action="append", default=[])
    sp.add_argument("--no-new-privs", action="store_true")
    sp.add_argument("--preserve-fds", type=int, default=0)
    sp.add_argument("command", nargs=argparse.REMAINDER)
    sp = sub.add_parser("spec")
    sp.add_argument("--bundle", "-b", default=".")
    sp.add_argument("--rootless", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    rt = Runtime(args.root)
    if args.trace:
        return _traced(rt, args)
    return _run(rt, args)


def _run(rt: Runtime, args) -> int:
    try:
        return COMMANDS[args.cmd](rt, args) or 0
    except DocklingError as err:
        print(f"dockling-runc: {err}", file=sys.stderr)
        return getattr(err, "code", None) or 1 if isinstance(err, ExecError) else 1
    except KeyboardInterrupt:
        return 130


def _traced(rt: Runtime, args) -> int:
    """The command with every kernel call recorded (this process and the container's,
    which share the file), then printed."""
    import tempfile

    from dockling.cli import trace
    from dockling.kernel import record

    with tempfile.TemporaryDirectory(prefix="dockling-runc-trace-") as d:
        path = os.path.join(d, record.TRACE_FILE)
        with record.tracing(path, "runtime"):
            code = _run(rt, args)
        print(trace.render(record.read(path), as_json=args.trace == "json"), file=sys.stderr)
    return code


def cmd_create(rt: Runtime, a) -> int:
    # As subreaper we reap an init that fails during create; one that
    # succeeds passes on to our parent's reaper when we exit.
    syscalls.set_child_subreaper()
    rt.create(a.id, a.bundle, console_socket=a.console_socket, pid_file=a.pid_file)
    return 0


def cmd_start(rt: Runtime, a) -> int:
    rt.start(a.id)
    return 0


def cmd_state(rt: Runtime, a) -> int:
    print(json.dumps(rt.state(a.id), indent=2))
    return 0


def cmd_kill(rt: Runtime, a) -> int:
    rt.kill(a.id, parse_signal(a.signal), all_processes=a.all)
    return 0


def cmd_delete(rt: Runtime, a) -> int:
    rt.delete(a.id, force=a.force)
    return 0


def cmd_pause(rt: Runtime, a) -> int:
    rt.pause(a.id)
    return 0


def cmd_resume(rt: Runtime, a) -> int:
    rt.resume(a.id)
    return 0


def cmd_list(rt: Runtime, a) -> int:
    rows = [c.oci_state() for c in rt.list()]
    if a.quiet:
        for r in rows:
            print(r["id"])
    elif a.format == "json":
        print(json.dumps(rows))
    else:
        table = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
        table += [(r["id"], str(r["pid"]), r["status"], r["bundle"], r["created"],
                   r["owner"] or "root") for r in rows]
        widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
        for row in table:
            print("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip())
    return 0


def cmd_ps(rt: Runtime, a) -> int:
    pids = rt.pids(a.id)
    if a.format == "json":
        print(json.dumps(pids))
        return 0
    import subprocess

    ps_args = a.ps_args or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    if not lines:
        return 0
    header = lines[0].split()
    col = header.index("PID") if "PID" in header else 1
    print(lines[0])
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in wanted:
            print(line)
    return 0


def cmd_spec(rt: Runtime, a) -> int:
    path = os.path.join(a.bundle, "config.json")
    if os.path.exists(path):
        raise InvalidArgument(f"File {path} exists. Remove it first")
    with open(path, "w") as f:
        json.dump(defaults.runc_spec(), f, indent=2)
    return 0


def cmd_run(rt: Runtime, a) -> int:
    syscalls.set_child_subreaper()
    cfg = spec.load(os.path.abspath(a.bundle))
    ours = theirs = None
    if cfg.process.terminal and a.console_socket is None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    c = rt.create(a.id, a.bundle, console_socket=a.console_socket, pid_file=a.pid_file,
                  console_sock=theirs)
    master = None
    if ours is not None:
        from dockling.runtime import console

        master = console.recv_master(ours)
        ours.close()
    try:
        rt.start(a.id)
    except BaseException:
        rt.delete(a.id, force=True)
        raise
    if a.detach:
        return 0
    status = _wait_foreground(c.pid, master)
    if not a.keep:
        rt.delete(a.id, force=True)
    return status


def cmd_exec(rt: Runtime, a) -> int:
    syscalls.set_child_subreaper()
    c = rt.load(a.id)
    if a.process:
        with open(a.process, "rb") as f:
            proc = spec.decode_process(f.read(), a.process)
    else:
        if not a.command:
            raise InvalidArgument("exec: no command given (args or --process)")
        proc = defaults.exec_process(c.spec.process, a.command, env=a.env, cwd=a.cwd,
                                     user=a.user, additional_gids=a.additional_gids,
                                     caps=a.cap, tty=a.tty, no_new_privs=a.no_new_privs)
    ours = theirs = None
    if proc.terminal and a.console_socket is None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = rt.exec(a.id, proc, console_socket=a.console_socket, console_sock=theirs,
                  pid_file=a.pid_file)
    master = None
    if ours is not None:
        from dockling.runtime import console

        master = console.recv_master(ours)
        ours.close()
    if a.detach:
        return 0
    return _wait_foreground(pid, master)


def _wait_foreground(pid: int, master: int | None) -> int:
    """Forward signals to pid, proxy the pty if any, return docker-style status."""
    forwarded = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT,
                 signal.SIGUSR1, signal.SIGUSR2]
    for s in forwarded:
        signal.signal(s, lambda sig, _f: _safe_kill(pid, sig))
    if master is not None:
        from dockling.runtime import console

        console.proxy(master, lambda: process_start_time(pid) is None)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _safe_kill(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


COMMANDS = {
    "create": cmd_create, "start": cmd_start, "state": cmd_state, "kill": cmd_kill,
    "delete": cmd_delete, "pause": cmd_pause, "resume": cmd_resume, "list": cmd_list,
    "ps": cmd_ps, "spec": cmd_spec, "run": cmd_run, "exec": cmd_exec,
}

if __name__ == "__main__":
    sys.exit(main())
