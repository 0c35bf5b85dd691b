"""Another OCI runtime's command line (runc, crun, dockling-runc) behind the
same calls as the in-process ``Runtime``, for `dockling daemon --runtime runc`.

The shim calls the same verbs either way. Differences are absorbed here:
the console socket is a path for a CLI runtime (we accept its connection
and pass the pty master on over the caller's socketpair), stdio is handed
to `create`/`exec` as the child's fds, and errors come from the runtime's
json log.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

from dockling.errors import Conflict, InternalError, InvalidArgument, NotFound
from dockling.runtime import console
from dockling.runtime.process import ExecError


class _Handle:
    """What create() returns: enough for the shim (pid) and OOM checks (cgroup)."""

    def __init__(self, cid: str, pid: int) -> None:
        self.id = cid
        self.pid = pid
        self.cgroup = None


class CLIRuntime:
    def __init__(self, binary: str, root: str) -> None:
        path = shutil.which(binary)
        if path is None:
            raise InvalidArgument(f"runtime {binary!r} not found in PATH")
        self.binary = path
        self.root = root
        os.makedirs(root, exist_ok=True)

    # -- plumbing ----------------------------------------------------------------------
    def _run(self, *args: str, stdio=None, timeout: float = 60) -> str:
        with tempfile.NamedTemporaryFile(dir=self.root, prefix=".log-") as log:
            cmd = [self.binary, "--root", self.root, "--log", log.name, "--log-format", "json",
                   *args]
            kw = {}
            if stdio is not None:
                kw = {"stdin": stdio[0], "stdout": stdio[1], "stderr": stdio[2]}
            else:
                kw = {"stdin": subprocess.DEVNULL, "stdout": subprocess.PIPE,
                      "stderr": subprocess.PIPE}
            res = subprocess.run(cmd, timeout=timeout, check=False, **kw)
            if res.returncode != 0:
                raise _error(_last_error(log.name) or (res.stderr or b"").decode().strip()
                             or f"{args[0]} failed with status {res.returncode}")
            return (res.stdout or b"").decode()

    def _with_console(self, console_sock, fn):
        """Run fn(console_path) while relaying runc's pty master to console_sock."""
        if console_sock is None:
            return fn(None)
        d = tempfile.mkdtemp(dir=self.root, prefix=".console-")
        path = os.path.join(d, "c.sock")
        srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        srv.bind(path)
        srv.listen(1)
        got: dict = {}

        def relay() -> None:
            try:
                conn, _ = srv.accept()
                got["master"] = console.recv_master(conn)
                conn.close()
            except OSError as err:
                got["error"] = err

        t = threading.Thread(target=relay, daemon=True)
        t.start()
        try:
            result = fn(path)
            t.join(10)
            if "master" not in got:
                raise InternalError("the runtime sent no terminal on the console socket")
            console.send_master(console_sock, got["master"], "/dev/pts/ptmx")
            os.close(got["master"])
            return result
        finally:
            srv.close()
            shutil.rmtree(d, ignore_errors=True)

    # -- the verbs -------------------------------------------------------------------------
    def create(self, cid: str, bundle: str, *, stdio=None, console_sock=None, **_) -> _Handle:
        pid_file = os.path.join(self.root, f".{cid}.pid")

        def go(console_path):
            args = ["create", "--bundle", bundle, "--pid-file", pid_file]
            if console_path:
                args += ["--console-socket", console_path]
            self._run(*args, cid, stdio=stdio or (subprocess.DEVNULL,) * 3)

        self._with_console(console_sock, go)
        with open(pid_file) as f:
            pid = int(f.read())
        os.unlink(pid_file)
        return _Handle(cid, pid)

    def start(self, cid: str) -> None:
        self._run("start", cid)

    def kill(self, cid: str, sig: int = signal.SIGTERM, all_processes: bool = False) -> None:
        self._run("kill", *(["--all"] if all_processes else []), cid, str(int(sig)))

    def delete(self, cid: str, force: bool = False) -> None:
        try:
            self._run("delete", *(["--force"] if force else []), cid)
        except NotFound:
            if not force:
                raise

    def pause(self, cid: str) -> None:
        self._run("pause", cid)

    def resume(self, cid: str) -> None:
        self._run("resume", cid)

    def update(self, cid: str, resources) -> None:
        import msgspec

        with tempfile.NamedTemporaryFile("w", dir=self.root, suffix=".json") as f:
            f.write(json.dumps(msgspec.to_builtins(resources)))
            f.flush()
            self._run("update", "--resources", f.name, cid)

    def pids(self, cid: str) -> list[int]:
        return json.loads(self._run("ps", "--format", "json", cid) or "[]")

    def state(self, cid: str) -> dict:
        return json.loads(self._run("state", cid))

    def load(self, cid: str) -> _Handle:
        return _Handle(cid, self.state(cid)["pid"])

    def exec(self, cid: str, proc, *, stdio=None, console_sock=None, **_) -> int:
        import msgspec

        with tempfile.NamedTemporaryFile("w", dir=self.root, prefix=".process-",
                                         suffix=".json", delete=False) as f:
            f.write(json.dumps(msgspec.to_builtins(proc)))
            proc_file = f.name
        pid_file = proc_file + ".pid"
        try:
            def go(console_path):
                args = ["exec", "--detach", "--process", proc_file, "--pid-file", pid_file]
                if console_path:
                    args += ["--console-socket", console_path]
                self._run(*args, cid, stdio=stdio or (subprocess.DEVNULL,) * 3)

            self._with_console(console_sock, go)
            with open(pid_file) as f:
                return int(f.read())
        finally:
            for p in (proc_file, pid_file):
                try:
                    os.unlink(p)
                except FileNotFoundError:
                    pass


def _last_error(log_path: str) -> str:
    msg = ""
    try:
        with open(log_path) as f:
            for line in f:
                try:
                    doc = json.loads(line)
                except ValueError:
                    continue
                if doc.get("level") in ("error", "fatal"):
                    msg = doc.get("msg", msg)
    except OSError:
        pass
    return msg


def _error(msg: str) -> Exception:
    """Map the runtime's words onto dockling's error types (callers test types)."""
    low = msg.lower()
    if "executable file not found" in low or "no such file or directory" in low:
        return ExecError(msg, 127)
    if "permission denied" in low:
        return ExecError(msg, 126)
    if "does not exist" in low:
        return NotFound(msg)
    if "not running" in low or "not stopped" in low or "already" in low:
        return Conflict(msg)
    return InternalError(msg)
