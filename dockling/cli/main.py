"""`dockling`: docker's command line, speaking only the Engine API.

Commands live in containers.py, images.py, build.py and their siblings
(``_MODULES``); this module parses, finds
(or starts) the daemon, and turns errors into docker's messages and exit
codes: ``Error response from daemon: ...`` and 1, or 125 for `run`
failures before the container starts, 126/127 when the program cannot be
run, otherwise the container's own status. Every error ends in one line:
a check made here (a reference, a port: DocklingError), a file that cannot
be opened, a daemon that cannot be reached or that hangs up mid-answer,
and, as the last resort, any other exception (``DOCKLING_DEBUG=1`` shows
its traceback instead).
"""

from __future__ import annotations

import os
import sys
import time

from dockling.cli import flags
from dockling.client.http import APIError, Client, default_socket
from dockling.errors import DocklingError


class UsageError(Exception):
    """A command line docker refuses; ``code``: its exit status when the parser
    found it (125 for a flag, 1 for the arguments, as docker's)."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class ExitCode(Exception):
    def __init__(self, code: int) -> None:
        super().__init__(code)
        self.code = code


def exec_error_code(message: str) -> int:
    """docker's mapping of runtime start errors to 127 / 126 / 125."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message:
        return 126
    return 125


class ArgParser(flags.ArgumentParser):
    def error(self, message: str):
        raise UsageError(f"{message}\nSee '{self.prog} --help'.", 125)

    def args_error(self, message: str):
        raise UsageError(f"{message}\nSee '{self.prog} --help'.", 1)


# command -> the module that defines it: a run builds only its own parser
# (the parsers of every command cost ~25 ms of a ~60 ms start)
_MODULES = {
    **dict.fromkeys(("run", "create", "start", "stop", "restart", "kill", "rm", "ps", "logs",
                     "inspect", "exec", "wait", "attach", "top", "update", "diff", "commit",
                     "rename"), "containers"),
    **dict.fromkeys(("images", "image", "rmi", "tag", "import", "history", "save", "load",
                     "pull", "push", "login", "logout", "search"), "images"),
    "volume": "volumes", "network": "networks",
    **dict.fromkeys(("events", "system-df", "system-prune", "container-prune"), "system"),
    **dict.fromkeys(("stats", "pause", "unpause", "port"), "stats"),
    **dict.fromkeys(("cp", "export"), "copy"),
    **dict.fromkeys(("build", "builder"), "build"),
}


class _Unused:
    """Stands in for the parser of a command not being run: takes every call."""

    def __getattr__(self, name: str):
        return self._take

    def _take(self, *args, **kwargs):
        return self


class _OnlyCommand:
    """The subparsers, building only ``command``'s parser (a module registers all of
    its commands; building them all was most of a command's start: run and create
    alone are ~200 arguments)."""

    def __init__(self, sub, command: str) -> None:
        self.sub, self.command = sub, command

    def add_parser(self, name: str, **kwargs):
        if name == self.command or self.command in kwargs.get("aliases", ()):
            return self.sub.add_parser(name, **kwargs)
        return _Unused()


def build_parser(command: str | None = None) -> ArgParser:
    """The parser; with ``command``, only that command's module is registered."""
    p = ArgParser(prog="dockling", description="A self-sufficient runtime for containers")
    p.add_argument("-H", "--host", default=None, help="daemon socket to connect to")
    p.add_argument("-v", "--version", action="store_true")
    # docker's other global flags: --config is the client config's directory; only the
    # default context exists; TLS means nothing on a unix socket (docker ignores it too)
    # (their dests are the root's own: build's positional is called context)
    p.add_argument("--config", dest="root_config", help="location of client config files")
    p.add_argument("-c", "--context", dest="root_context", help="name of the context to use")
    p.add_argument("-D", "--debug", dest="root_debug", action="store_true",
                   help="enable debug mode")
    p.add_argument("-l", "--log-level", dest="root_log_level",
                   choices=["debug", "info", "warn", "error", "fatal"],
                   help="set the logging level")
    for flag in ("--tls", "--tlsverify"):
        p.add_argument(flag, action="store_true", help=flags.SUPPRESS)
    for flag in ("--tlscacert", "--tlscert", "--tlskey"):
        p.add_argument(flag, help=flags.SUPPRESS)
    sub = p.add_subparsers(dest="cmd", parser_class=ArgParser)
    if command in _MODULES:
        names = [_MODULES[command]]
    elif command in ("version", "info", "daemon"):
        names = []
    else:  # help, or an unknown command: docker lists them all
        names = sorted(set(_MODULES.values()))
    target = _OnlyCommand(sub, command) if command in _MODULES else sub
    for name in names:
        # __import__, not importlib.import_module: importlib's package loads warnings
        __import__(f"dockling.cli.{name}")
        sys.modules[f"dockling.cli.{name}"].register(target)
    sp = sub.add_parser("version")
    sp.add_argument("-f", "--format", default=None)
    sp.set_defaults(func=cmd_version)
    sp = sub.add_parser("info")
    sp.add_argument("-f", "--format", default=None)
    sp.set_defaults(func=cmd_info)
    sp = sub.add_parser("daemon", add_help=False)
    sp.add_argument("args", nargs=flags.REMAINDER)
    sp.set_defaults(func=None)
    return p


def cmd_version(cli: Client, a) -> int:
    import dockling

    if a.format:
        from dockling.cli.formatter import print_version

        return print_version(cli.get("/version"), a.format)

    print(f"Client:\n Version:           {dockling.__version__}\n API version:       1.47\n")
    v = cli.get("/version")
    print(f"Server: dockling\n Engine:\n  Version:          {v['Version']}\n"
          f"  API version:      {v['ApiVersion']} (minimum version {v['MinAPIVersion']})\n"
          f"  Go version:       {v['GoVersion']}\n  OS/Arch:          {v['Os']}/{v['Arch']}\n"
          f"  Kernel Version:   {v['KernelVersion']}")
    return 0


def cmd_info(cli: Client, a) -> int:
    import json

    info = cli.get("/info")
    if a.format:
        from dockling.cli.formatter import print_info

        return print_info(info, a.format)
    print(f"Server:\n Containers: {info['Containers']}\n  Running: {info['ContainersRunning']}"
          f"\n  Paused: {info['ContainersPaused']}\n  Stopped: {info['ContainersStopped']}\n"
          f" Images: {info['Images']}\n Server Version: {info['ServerVersion']}\n"
          f" Storage Driver: {info['Driver']}\n Logging Driver: {info['LoggingDriver']}\n"
          f" Cgroup Driver: {info['CgroupDriver']}\n Cgroup Version: {info['CgroupVersion']}\n"
          f" Kernel Version: {info['KernelVersion']}\n Operating System: "
          f"{info['OperatingSystem']}\n CPUs: {info['NCPU']}\n Total Memory: "
          f"{info['MemTotal']}\n Docker Root Dir: {info['DockerRootDir']}")
    del json
    return 0


def _answers(sock: str) -> bool:
    import _socket as socket  # as the client does: socket.py's import is ~2.5 ms

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(sock)
        return True
    except OSError:
        return False
    finally:
        s.close()


def ensure_daemon(sock: str) -> None:
    """Start the daemon in the background if nothing answers on its socket (root only).

    A socket file left by a killed daemon counts as missing.
    """
    if os.environ.get("DOCKLING_NO_AUTOSTART") == "1" or os.geteuid() != 0:
        return
    if os.path.exists(sock):
        if _answers(sock):
            return
        try:
            os.unlink(sock)
        except OSError:
            return
    print("dockling: the daemon is not running; starting it in the background",
          file=sys.stderr)
    # 0600 (an older one too): the daemon's log can name what containers run
    fd = os.open("/var/log/dockling.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.fchmod(fd, 0o600)
    log = os.fdopen(fd, "ab")
    import subprocess  # here: only the first command of a boot needs it

    subprocess.Popen([sys.executable, "-m", "dockling.cli.main", "daemon", "-H",
                      "unix://" + sock], stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                     start_new_session=True, close_fds=True)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if os.path.exists(sock) and _answers(sock):
            return
        time.sleep(0.02)


# docker's management commands that map onto a top-level one: container ls -> ps
_ALIASES = {
    "container": {"ls": "ps", "list": "ps", "ps": "ps", "remove": "rm", "prune":
                  "container-prune", **{c: c for c in (
                      "run", "create", "start", "stop", "restart", "kill", "rm", "logs",
                      "inspect", "exec", "wait", "attach", "top", "update", "diff", "commit",
                      "rename", "pause", "unpause", "stats", "port", "export", "cp")}},
    "system": {"df": "system-df", "prune": "system-prune", "events": "events",
               "info": "info"},
    # docker's build has three names: build, image build, builder build
    "image": {"build": "build"},
    "builder": {"build": "build"},
}


# the global flags that take a value (as a separate argument)
_GLOBAL_VALUED = ("-H", "--host", "--config", "-c", "--context", "-l", "--log-level",
                  "--tlscacert", "--tlscert", "--tlskey")


def _command_at(argv: list[str]) -> int:
    """Where the command is: global flags (-H x) may come first."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in _GLOBAL_VALUED else 1
    return i


def _command(argv: list[str]) -> str | None:
    i = _command_at(argv)
    return argv[i] if i < len(argv) else None


def _management_alias(argv: list[str]) -> list[str]:
    """container ls -> ps; help CMD -> CMD --help."""
    i = _command_at(argv)
    if i < len(argv) and argv[i] == "help":
        return argv[:i] + argv[i + 1:] + ["--help"]
    if i + 1 < len(argv) and argv[i] in _ALIASES and argv[i + 1] in _ALIASES[argv[i]]:
        return argv[:i] + [_ALIASES[argv[i]][argv[i + 1]]] + argv[i + 2:]
    return argv


def _management_help(argv: list[str]) -> int | None:
    """`container` or `system` alone, with --help, or with a command they do not
    have (docker's groups that map onto top-level commands here): their usage."""
    i = _command_at(argv)
    group = argv[i] if i < len(argv) else None
    if group not in ("container", "system"):
        return None
    rest = argv[i + 1:]
    usage = (f"Usage:  dockling {group} COMMAND\n\nCommands:\n"
             + "".join(f"  {c}\n" for c in sorted(_ALIASES[group]))
             + f"\nRun 'dockling {group} COMMAND --help' for more information on a command.")
    if not rest or rest[0] in ("-h", "--help"):
        print(usage)
        return 0
    print(f"dockling: unknown command: dockling {group} {rest[0]}\n\n{usage}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["daemon"]:
        if sys.flags.no_site:
            # the CLI's launcher (install.sh) leaves out site: the daemon's
            # libraries are found through it
            import site

            site.main()
        from dockling.daemon.main import main as daemon_main

        return daemon_main(argv[1:])
    argv = _management_alias(argv)
    shown = _management_help(argv)
    if shown is not None:
        return shown
    try:
        a = build_parser(_command(argv)).parse_args(argv)
    except UsageError as err:
        print(f"dockling: {err}", file=sys.stderr)
        return err.code or 1
    if a.root_config:
        os.environ["DOCKER_CONFIG"] = a.root_config
    if a.root_debug:
        os.environ["DOCKLING_DEBUG"] = "1"
    if a.root_context not in (None, "default"):
        print(f"dockling: context \"{a.root_context}\" does not exist (dockling has the default "
              "context only: use -H)", file=sys.stderr)
        return 1
    if a.version:
        import dockling

        print(f"dockling version {dockling.__version__}")
        return 0
    if not getattr(a, "func", None):  # a management command alone: its own help
        a._parser.print_help()
        return 0
    host = a.host or ""
    if "://" in host and not host.startswith("unix://"):
        print(f"dockling: unsupported host {host}: only unix:// sockets are implemented",
              file=sys.stderr)
        return 1
    sock = host[len("unix://"):] if host.startswith("unix://") else (host or default_socket())
    run_like = a.cmd in ("run", "create")
    prefix = "dockling: " if run_like else ""
    failed = 125 if run_like else 1
    try:
        ensure_daemon(sock)
        return a.func(Client(sock), a) or 0
    except ExitCode as e:
        return e.code
    except APIError as err:
        print(f"{prefix}Error response from daemon: {err.message}", file=sys.stderr)
        return failed
    except UsageError as err:
        print(f"dockling: {err}", file=sys.stderr)
        return failed
    except DocklingError as err:  # checked here before asking: a reference, a port...
        print(f"{prefix}{err}", file=sys.stderr)
        return failed
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except OSError as err:
        print(_os_error(err, sock, prefix), file=sys.stderr)
        return 1
    except Exception as err:
        if os.environ.get("DOCKLING_DEBUG") == "1":
            raise
        print(f"{prefix}{type(err).__name__}: {err}", file=sys.stderr)
        return failed


def entry() -> None:
    """The `dockling` command: main(), then out without the interpreter's teardown.

    Freeing every module and object at exit took ~15 ms of a 60 ms `dockling rm`
    on the reference machine (a quarter of a short command). Nothing the CLI
    leaves needs it: files are closed by their with-blocks and its threads are
    daemon threads; only the standard streams hold buffered output."""
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`) or a closed stream
            pass
    os._exit(code if isinstance(code, int) else 1)


def _os_error(err: OSError, sock: str, prefix: str) -> str:
    """One line for an OSError: the daemon's socket (unreachable, refused, not
    ours to use) as docker says it, else the file and what went wrong."""
    import errno

    if (err.filename is None and err.errno in (errno.ENOENT, errno.ECONNREFUSED)
            and not _answers(sock)):
        return (f"Cannot connect to the dockling daemon at unix://{sock}. "
                "Is the dockling daemon running?")
    if err.filename is None and err.errno == errno.EACCES:
        return ("permission denied while trying to connect to the dockling daemon socket "
                f"at unix://{sock}: connect: permission denied")
    if isinstance(err, ConnectionError) and err.errno is None:
        return f"{prefix}error during connect: {err}"  # a stream cut short
    if err.filename is not None and err.strerror:
        return f"{prefix}open {err.filename}: {err.strerror.lower()}"
    return f"{prefix}{err.strerror.lower() if err.strerror else err}"


if __name__ == "__main__":
    # `python -m dockling.cli.main`: run the copy imported under the module's own name,
    # whose ExitCode and UsageError are the ones the commands raise
    from dockling.cli.main import main as _main

    sys.exit(_main())
