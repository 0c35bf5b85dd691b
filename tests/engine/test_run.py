"""`dockling run` and the container lifecycle through the CLI."""

from __future__ import annotations

import json
import os
import time

from tests.engine.conftest import name


def test_run_rm_echo(daemon):
    res = daemon.cli("run", "--rm", "busybox", "echo", "hello")
    assert res.returncode == 0, res.stderr
    assert res.stdout == b"hello\n"
    assert daemon.cli("ps", "-aq").stdout == b""


def test_exit_code_and_streams(daemon):
    n = name()
    res = daemon.cli("run", "--name", n, "busybox", "sh", "-c", "echo out; echo err >&2; exit 3")
    assert res.returncode == 3
    assert res.stdout == b"out\n"
    assert res.stderr == b"err\n"
    info = json.loads(daemon.cli("inspect", n).stdout)[0]
    assert info["State"]["Status"] == "exited"
    assert info["State"]["ExitCode"] == 3
    assert info["Name"] == "/" + n
    daemon.cli("rm", n, check=True)


def test_stdin_pipe(daemon):
    res = daemon.cli("run", "-i", "--rm", "busybox", "cat", input=b"hi\n")
    assert res.stdout == b"hi\n"
    assert res.returncode == 0


def test_not_found_and_not_executable(daemon):
    res = daemon.cli("run", "--rm", "busybox", "no-such-program")
    assert res.returncode == 127
    assert b"executable file not found in $PATH" in res.stderr
    res = daemon.cli("run", "--rm", "busybox", "/etc/passwd")
    assert res.returncode == 126
    assert b"permission denied" in res.stderr


def test_missing_image(daemon):
    res = daemon.cli("run", "--rm", "nothere")
    assert res.returncode == 125
    assert b"Unable to find image 'nothere:latest' locally" in res.stderr


def test_env_workdir_user_hostname_entrypoint(daemon, tmp_path):
    envf = tmp_path / "env"
    envf.write_text("FROM_FILE=yes\n# comment\n")
    res = daemon.cli("run", "--rm", "-e", "A=1", "--env-file", str(envf), "-w", "/tmp",
                     "-u", "nobody", "-h", "box", "--entrypoint", "sh", "busybox", "-c",
                     "echo $A $FROM_FILE; pwd; id -un; hostname; cat /etc/hostname")
    assert res.returncode == 0, res.stderr
    assert res.stdout.decode().split("\n")[:5] == ["1 yes", "/tmp", "nobody", "box", "box"]


def test_unknown_user(daemon):
    res = daemon.cli("run", "--rm", "-u", "ghost", "busybox", "true")
    assert res.returncode != 0
    assert b"unable to find user ghost" in res.stderr


def test_detached_ps_logs_stop_start_rm(daemon):
    n = name()
    res = daemon.cli("run", "-d", "--name", n, "busybox", "sh", "-c",
                     "echo started; trap 'echo bye; exit 0' TERM; while :; do sleep 0.1; done")
    assert res.returncode == 0, res.stderr
    cid = res.stdout.decode().strip()
    assert len(cid) == 64
    ps = daemon.cli("ps").stdout.decode().splitlines()
    assert ps[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS",
                             "PORTS", "NAMES"]
    line = next(x for x in ps if n in x)
    assert line.startswith(cid[:12]) and "Up " in line and "busybox" in line
    for _ in range(100):
        if b"started" in daemon.cli("logs", n).stdout:
            break
        time.sleep(0.05)
    info = json.loads(daemon.cli("inspect", n).stdout)[0]
    pid = info["State"]["Pid"]
    assert pid > 0 and os.path.exists(f"/proc/{pid}")
    assert info["GraphDriver"]["Name"] == "overlay2"
    assert os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    assert daemon.cli("stop", n).stdout.decode().strip() == n
    info = json.loads(daemon.cli("inspect", n).stdout)[0]
    assert info["State"]["Status"] == "exited" and info["State"]["ExitCode"] == 0
    assert not os.path.ismount(info["GraphDriver"]["Data"]["MergedDir"])
    assert daemon.cli("logs", n).stdout == b"started\nbye\n"
    assert n not in daemon.cli("ps").stdout.decode()
    assert n in daemon.cli("ps", "-a").stdout.decode()
    daemon.cli("start", n, check=True)
    assert json.loads(daemon.cli("inspect", n).stdout)[0]["State"]["Running"]
    res = daemon.cli("rm", n)
    assert res.returncode == 1
    assert b"stop the container before removing or force remove" in res.stderr
    daemon.cli("rm", "-f", n, check=True)
    assert daemon.cli("inspect", n).returncode == 1


def test_name_conflict_and_no_such_container(daemon):
    n = name()
    daemon.cli("create", "--name", n, "busybox", check=True)
    res = daemon.cli("create", "--name", n, "busybox")
    assert res.returncode == 125  # docker create: 125 for daemon errors
    assert f'The container name "/{n}" is already in use by container'.encode() in res.stderr
    daemon.cli("rm", n, check=True)
    res = daemon.cli("rm", "nope-" + n)
    assert res.returncode == 1
    assert res.stderr.decode().strip() == f"Error response from daemon: No such container: nope-{n}"


def test_exec(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    res = daemon.cli("exec", n, "sh", "-c", "echo $$; hostname; exit 4")
    assert res.returncode == 4
    pid, host = res.stdout.decode().split()
    assert pid != "1"
    assert host == json.loads(daemon.cli("inspect", n).stdout)[0]["Config"]["Hostname"]
    res = daemon.cli("exec", "-e", "X=7", "-w", "/tmp", "-u", "nobody", n, "sh", "-c",
                     "echo $X; pwd; id -un")
    assert res.stdout.decode().split() == ["7", "/tmp", "nobody"]
    res = daemon.cli("exec", "-i", n, "cat", input=b"piped\n")
    assert res.stdout == b"piped\n"
    res = daemon.cli("exec", n, "nope")
    assert res.returncode == 127
    daemon.cli("rm", "-f", n, check=True)


def test_ps_filters_and_format(daemon):
    a, b = name(), name()
    daemon.cli("run", "-d", "--name", a, "-l", "role=web", "busybox", "sleep", "300",
               check=True)
    daemon.cli("create", "--name", b, "busybox", check=True)
    out = daemon.cli("ps", "-a", "--filter", "status=created", "--format", "{{.Names}}")
    assert out.stdout.decode().split() == [b]
    out = daemon.cli("ps", "--filter", "label=role=web", "--format", "{{.Names}} {{.Image}}")
    assert out.stdout.decode().strip() == f"{a} busybox"
    out = daemon.cli("ps", "-a", "--filter", f"name={a}", "--format", "{{json .}}")
    assert json.loads(out.stdout)["Names"] == a
    out = daemon.cli("ps", "-a", "--format", "table {{.ID}}\t{{.Status}}",
                     "--filter", f"name={b}")
    lines = out.stdout.decode().splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "STATUS"] and "Created" in lines[1]
    out = daemon.cli("ps", "-l", "-q")
    assert len(out.stdout.decode().split()) == 1
    daemon.cli("rm", "-f", a, b, check=True)


def test_wait_kill_restart_rename_top(daemon):
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    top = daemon.cli("top", n).stdout.decode()
    assert "sleep 300" in top and top.splitlines()[0].split()[:3] == ["UID", "PID", "PPID"]
    daemon.cli("restart", "-t", "1", n, check=True)
    daemon.cli("rename", n, n + "x", check=True)
    daemon.cli("kill", n + "x", check=True)
    assert daemon.cli("wait", n + "x").stdout.strip() == b"137"
    daemon.cli("rm", n + "x", check=True)


def test_diff_and_commit(daemon):
    n = name()
    daemon.cli("run", "--name", n, "busybox", "sh", "-c",
               "echo new > /tmp/added; echo x >> /etc/passwd; rm /bin/vi; mkdir /data", check=True)
    diff = daemon.cli("diff", n).stdout.decode().splitlines()
    assert "A /tmp/added" in diff and "C /etc/passwd" in diff and "D /bin/vi" in diff
    assert "C /etc" in diff and "A /data" in diff
    res = daemon.cli("commit", "-m", "snap", "-c", 'CMD ["cat", "/tmp/added"]', n,
                     f"committed-{n}:v1", check=True)
    image_id = res.stdout.decode().strip()
    assert image_id.startswith("sha256:")
    out = daemon.cli("run", "--rm", f"committed-{n}:v1")
    assert out.stdout == b"new\n"
    out = daemon.cli("run", "--rm", f"committed-{n}:v1", "sh", "-c",
                     "ls /bin/vi 2>&1; tail -1 /etc/passwd")
    assert b"No such file" in out.stdout and out.stdout.endswith(b"x\n")
    hist = daemon.cli("history", f"committed-{n}:v1").stdout.decode()
    assert "snap" in hist
    out = daemon.cli("rmi", f"committed-{n}:v1", check=True).stdout.decode()
    assert f"Untagged: committed-{n}:v1" in out and f"Deleted: {image_id}" in out
    # the base image's layer is shared, not deleted with the committed one
    assert daemon.cli("run", "--rm", "busybox", "true").returncode == 0
    daemon.cli("rm", n, check=True)


def test_network_none_and_host(daemon):
    out = daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout
    links = [line.split(":")[1].strip() for line in out.decode().splitlines()]
    assert links == ["lo"]
    assert b"UP" in daemon.cli("run", "--rm", "--network", "none", "busybox", "ip", "link",
                               "show", "lo").stdout
    # other tests' veths and bridges come and go meanwhile: compare the rest
    def stable(names):
        return sorted(n for n in names if not n.startswith(("veth", "dlt", "br-", "dli")))

    host = stable(os.listdir("/sys/class/net"))
    out = daemon.cli("run", "--rm", "--network", "host", "busybox", "ls",
                     "/sys/class/net").stdout.decode().split()
    assert stable(out) == host
    res = daemon.cli("run", "--rm", "--network", "nosuchnet", "busybox", "true")
    assert res.returncode == 125 and b"network nosuchnet not found" in res.stderr


def test_logs_follow_tail_timestamps(daemon):
    import subprocess

    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sh", "-c",
               "for i in 1 2 3; do echo line$i; done; sleep 0.5; echo late; sleep 0.3",
               check=True)
    env = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}"}
    from tests.engine.conftest import BIN

    follow = subprocess.run([os.path.join(BIN, "dockling"), "logs", "-f", n],
                            capture_output=True, env=env, timeout=20, check=False)
    assert follow.stdout == b"line1\nline2\nline3\nlate\n"  # -f ends when the container does
    assert daemon.cli("logs", "--tail", "2", n).stdout == b"line3\nlate\n"
    stamped = daemon.cli("logs", "-t", "--tail", "1", n).stdout.decode()
    assert stamped.endswith(" late\n") and stamped[:4].isdigit() and "T" in stamped[:20]
    daemon.cli("rm", n, check=True)


def test_ps_ancestor_filter(daemon):
    n = name()
    daemon.cli("create", "--name", n, "busybox", check=True)
    out = daemon.cli("ps", "-a", "--filter", "ancestor=busybox", "--format", "{{.Names}}")
    assert n in out.stdout.decode().split()
    out = daemon.cli("ps", "-a", "--filter", "ancestor=nothere", "--format", "{{.Names}}")
    assert n not in out.stdout.decode().split()
    daemon.cli("rm", n, check=True)


def test_start_attach_and_logs_since(daemon):
    n = name()
    daemon.cli("create", "--name", n, "busybox", "sh", "-c", "echo first; sleep 1; echo second",
               check=True)
    res = daemon.cli("start", "-a", n)
    assert res.returncode == 0 and res.stdout == b"first\nsecond\n"
    info = json.loads(daemon.cli("inspect", n).stdout)[0]
    from dockling import clock

    mid = clock.unix(info["State"]["StartedAt"]) + 0.5
    assert daemon.cli("logs", "--since", f"{mid:.3f}", n).stdout == b"second\n"
    assert daemon.cli("logs", "--until", f"{mid:.3f}", n).stdout == b"first\n"
    daemon.cli("rm", n, check=True)
