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


def _attach_then_detach(daemon, before: bytes, seen: bytes, keys: bytes,
                        flags: tuple[str, ...] = (), env_extra: dict | None = None) -> None:
    """`dockling attach` on a pty to a `run -dit` sh: type ``before``, see ``seen``, type
    ``keys``: attach ends 0 with docker's words and the container keeps running."""
    from tests.engine.conftest import name

    n = name()
    daemon.cli("run", "-dit", "--name", n, "busybox", "sh", check=True)
    master, slave = os.openpty()
    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
           "DOCKLING_NO_AUTOSTART": "1", **(env_extra or {})}
    proc = subprocess.Popen([os.path.join(BIN, "dockling"), "attach", *flags, n],
                            stdin=slave, stdout=slave, stderr=slave, env=env,
                            start_new_session=True)
    os.close(slave)
    t = Term(master)
    try:
        t.wait_raw()  # attach turns the terminal raw once its stream is connected
        t.type(before)
        t.expect(seen)
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


def test_attach_and_detach_keys(daemon):
    # ctrl-p ctrl-q: detach, the container keeps running
    _attach_then_detach(daemon, b"echo attached-$((2+3))\r", b"attached-5", b"\x10\x11")


def test_detach_keys_from_the_flag_and_config_json(daemon, tmp_path):
    """--detach-keys, else config.json's detachKeys (docker/cli): the sequence that
    detaches; docker's default (ctrl-p ctrl-q) then travels to the container."""
    import json

    cfg = tmp_path / "cfg"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"detachKeys": "ctrl-x,x"}))
    # the default keys do not detach now: they travel to sh
    before, seen = b"\x10\x11echo still-$((1+1))\r", b"still-2"
    _attach_then_detach(daemon, before, seen, b"\x01b", flags=("--detach-keys", "ctrl-a,b"))
    _attach_then_detach(daemon, before, seen, b"\x18x", env_extra={"DOCKER_CONFIG": str(cfg)})
