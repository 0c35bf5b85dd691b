"""exec into a running container, and terminals (console socket and the
foreground pty of `run`)."""

from __future__ import annotations

import json
import os
import socket
import threading

from tests.conftest import new_id, reap


def _running(runtime, bundle, prefix="ex"):
    bundle.args("sleep", "300")
    cid = new_id(prefix)
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    return cid, st


def test_exec_joins_namespaces_and_cgroup(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    res = runtime("exec", cid, "sh", "-c",
                  "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; "
                  "(readlink /proc/self/ns/pid; readlink /proc/1/ns/pid) | sort -u | wc -l; "
                  "grep -qx $$ /sys/fs/cgroup/pids/cgroup.procs && echo in-cgroup")
    assert res.returncode == 0, res.stderr
    out = res.stdout.decode().splitlines()
    assert out[0] == "dockling-test"
    assert out[1].strip() == "sleep 300"
    assert out[2] == "1"
    assert out[3] == "in-cgroup"


def test_exec_exit_code_env_cwd_user(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    res = runtime("exec", "--env", "FOO=bar", "--cwd", "/tmp", "--user", "1000:1000", cid,
                  "sh", "-c", "echo $FOO; pwd; id -u; exit 7", check=False)
    assert res.returncode == 7
    assert res.stdout.decode().split() == ["bar", "/tmp", "1000"]


def test_exec_process_file(runtime, bundle, tmp_path):
    cid, _ = _running(runtime, bundle)
    proc = {"args": ["sh", "-c", "echo from-process-json $X"], "cwd": "/",
            "env": ["PATH=/bin:/usr/bin", "X=42"], "user": {"uid": 0, "gid": 0}}
    pf = tmp_path / "process.json"
    pf.write_text(json.dumps(proc))
    res = runtime("exec", "--process", str(pf), cid)
    assert res.stdout.decode().strip() == "from-process-json 42"


def test_exec_not_found(dockling, bundle):
    cid, _ = _running(dockling, bundle)
    res = dockling("exec", cid, "no-such-program", check=False)
    assert res.returncode == 127
    assert b'executable file not found in $PATH' in res.stderr


def test_exec_in_stopped_container_refused(runtime, bundle):
    bundle.args("true")
    cid = new_id("exstop")
    st = runtime.create(cid, bundle.write(cid))
    runtime("start", cid)
    reap(st["pid"])
    res = runtime("exec", cid, "true", check=False)
    assert res.returncode != 0


def test_execs_from_a_kept_target(dockling, bundle, tmp_path):
    """The shim's way: the exec target (spec, seccomp BPF, namespaces) worked out once,
    then used for each exec; once the container stops, the target refuses."""
    import signal

    import pytest

    from dockling.errors import Conflict
    from dockling.runtime import Runtime, spec

    cid, st = _running(dockling, bundle, "extgt")
    rt = Runtime(dockling.root)
    target = rt.exec_target(cid)
    for word in ("one", "two"):
        out = tmp_path / f"out-{word}"
        with open(out, "wb") as f, open(os.devnull, "rb") as null:
            proc = spec.decode_process(json.dumps({
                "args": ["sh", "-c", f"echo {word} $(hostname)"], "cwd": "/",
                "env": ["PATH=/bin:/usr/bin"], "user": {"uid": 0, "gid": 0}}).encode())
            pid = rt.exec(cid, proc, stdio=(null.fileno(), f.fileno(), f.fileno()),
                          target=target)
        assert reap(pid) == 0
        assert out.read_text() == f"{word} dockling-test\n"
    os.kill(st["pid"], signal.SIGKILL)
    reap(st["pid"])
    with pytest.raises(Conflict):
        rt.exec(cid, proc, target=target)


class ConsoleReceiver:
    """The listening end of runc's console-socket protocol (like runc's recvtty)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.output = b""
        self.name = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.srv.accept()
        msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
        self.name = msg
        master = fds[0]
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            self.output += data
        os.close(master)
        conn.close()

    def wait(self) -> bytes:
        self.thread.join(20)
        self.srv.close()
        return self.output


def test_exec_tty_via_console_socket(runtime, bundle, tmp_path):
    cid, _ = _running(runtime, bundle)
    recv = ConsoleReceiver(str(tmp_path / "console.sock"))
    # runc accepts a console socket only with --detach
    runtime("exec", "-t", "-d", "--console-socket", recv.path, cid, "sh", "-c",
            "tty; [ -t 0 ] && echo stdin-is-tty")
    out = recv.wait().decode()
    assert "/dev/pts/" in out
    assert "stdin-is-tty" in out


def test_create_with_terminal_console_socket(runtime, bundle, tmp_path):
    bundle.config["process"]["terminal"] = True
    bundle.args("sh", "-c", "tty; ls -l /dev/console | cut -c1")
    cid = new_id("tty")
    recv = ConsoleReceiver(str(tmp_path / "console.sock"))
    st = runtime.create(cid, bundle.write(cid), "--console-socket", recv.path)
    runtime("start", cid)
    out = recv.wait().decode()
    reap(st["pid"])
    assert "/dev/pts/0" in out
    assert "\nc" in out.replace("\r", "")


def test_run_foreground_terminal(dockling, bundle):
    # runc insists on a controlling terminal of its own here (/dev/tty);
    # dockling-runc proxies the container's pty to whatever stdio it has.
    bundle.config["process"]["terminal"] = True
    bundle.args("sh", "-c", "tty; exit 5")
    cid = new_id("fgtty")
    res = dockling("run", "--bundle", bundle.write(cid), cid, check=False)
    assert res.returncode == 5
    assert b"/dev/pts/0" in res.stdout


def test_exec_cap_adds_capability(runtime, bundle):
    cid, _ = _running(runtime, bundle)
    res = runtime("exec", cid, "grep", "CapEff", "/proc/self/status")
    before = int(res.stdout.split()[1], 16)
    res = runtime("exec", "--cap", "CAP_SYS_ADMIN", cid, "grep", "CapEff", "/proc/self/status")
    after = int(res.stdout.split()[1], 16)
    assert not before >> 21 & 1
    assert after >> 21 & 1
