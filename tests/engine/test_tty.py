"""`dockling run -it busybox sh` is a working terminal: typing, ctrl-c, exit code."""

from __future__ import annotations

import os
import select
import subprocess
import time

from tests.engine.conftest import BIN

CURSOR_QUERY = b"\x1b[6n"


class Term:
    """Drives a program on a pty like a person at a terminal."""

    def __init__(self, master: int) -> None:
        self.fd = master
        self.seen = b""

    def expect(self, needle: bytes, timeout: float = 10) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"did not see {needle!r} in {self.seen!r}")
            r, _, _ = select.select([self.fd], [], [], left)
            if not r:
                continue
            try:
                chunk = os.read(self.fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            # busybox's line editor asks where the cursor is (and gives up
            # when nobody answers); not part of what we check
            self.seen += chunk.replace(CURSOR_QUERY, b"")
        self.seen = self.seen[self.seen.index(needle) + len(needle):]

    def wait_raw(self, timeout: float = 10) -> None:
        """Until the program on the terminal has made it raw (no line editing)."""
        import termios

        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self.fd)[3] & termios.ICANON:
            assert time.monotonic() < deadline, "the terminal never went raw"
            time.sleep(0.01)

    def type(self, text: bytes) -> None:
        for ch in text:  # keystrokes, not a paste
            os.write(self.fd, bytes([ch]))
            time.sleep(0.002)


def test_interactive_terminal(daemon):
    from tests.engine.conftest import name

    n = name()
    master, slave = os.openpty()
    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
           "DOCKLING_NO_AUTOSTART": "1"}
    proc = subprocess.Popen([os.path.join(BIN, "dockling"), "run", "-it", "--rm", "--name", n,
                             "busybox", "sh"], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True)
    os.close(slave)
    t = Term(master)
    try:
        t.expect(b"# ")
        time.sleep(0.2)
        t.type(b"echo $((6*7))\r")
        t.expect(b"42")
        t.expect(b"# ")
        t.type(b"tty\r")
        t.expect(b"/dev/pts/0")
        t.expect(b"# ")
        t.type(b"sleep 30\r")
        # the foreground job runs: ctrl-c now is for it, not for the prompt
        deadline = time.monotonic() + 10
        while "sleep 30" not in daemon.cli("top", n).stdout.decode():
            assert time.monotonic() < deadline, "sleep 30 did not start"
            time.sleep(0.05)
        t.type(b"\x03")  # ctrl-c reaches the container's foreground job
        t.expect(b"# ", timeout=5)
        t.type(b"echo after-$((1+1))\r")
        t.expect(b"after-2", timeout=5)
        t.type(b"exit 3\r")
        assert proc.wait(10) == 3
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)


def test_attach_and_detach_keys(daemon):
    from tests.engine.conftest import name

    n = name()
    daemon.cli("run", "-dit", "--name", n, "busybox", "sh", check=True)
    master, slave = os.openpty()
    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
           "DOCKLING_NO_AUTOSTART": "1"}
    proc = subprocess.Popen([os.path.join(BIN, "dockling"), "attach", n], stdin=slave,
                            stdout=slave, stderr=slave, env=env, start_new_session=True)
    os.close(slave)
    t = Term(master)
    try:
        t.wait_raw()  # attach turns the terminal raw once its stream is connected
        t.type(b"echo attached-$((2+3))\r")
        t.expect(b"attached-5")
        t.type(b"\x10\x11")  # ctrl-p ctrl-q: detach, the container keeps running
        assert proc.wait(10) == 0
        t.expect(b"read escape sequence")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    out = daemon.cli("inspect", "-f", "{{.State.Status}}", n).stdout.decode().strip()
    assert out == "running"
    daemon.cli("rm", "-f", n, check=True)


def test_detach_keys_from_the_flag_and_config_json(daemon, tmp_path):
    """--detach-keys, else config.json's detachKeys (docker/cli): the sequence that
    detaches; docker's default (ctrl-p ctrl-q) then travels to the container."""
    import json

    from tests.engine.conftest import name

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"detachKeys": "ctrl-x,x"}))
    for extra, env_cfg, keys in ((["--detach-keys", "ctrl-a,b"], {}, b"\x01b"),
                                 ([], {"DOCKER_CONFIG": str(cfg)}, b"\x18x")):
        n = name()
        daemon.cli("run", "-dit", "--name", n, "busybox", "sh", check=True)
        master, slave = os.openpty()
        env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
               "DOCKLING_NO_AUTOSTART": "1", **env_cfg}
        proc = subprocess.Popen([os.path.join(BIN, "dockling"), "attach", *extra, n],
                                stdin=slave, stdout=slave, stderr=slave, env=env,
                                start_new_session=True)
        os.close(slave)
        t = Term(master)
        try:
            t.wait_raw()
            t.type(b"\x10\x11echo still-$((1+1))\r")  # the default keys do not detach now
            t.expect(b"still-2")
            t.type(keys)
            assert proc.wait(10) == 0
            t.expect(b"read escape sequence")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(master)
        out = daemon.cli("inspect", "-f", "{{.State.Status}}", n).stdout.decode().strip()
        assert out == "running"
        daemon.cli("rm", "-f", n, check=True)
