"""The front doors to POST /build other than the raw API, against a real daemon:
`dockling build` with docker's flags (contexts from a directory, stdin, a lone
Dockerfile; the RUN container's HostConfig; output, exit codes), the real docker
CLI's classic builder (DOCKER_BUILDKIT=0), and independent stages run at once."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile

import pytest

from tests.conftest import tar_of
from tests.engine.conftest import running_daemon

BIN = os.path.dirname(sys.executable)
HEX12 = re.compile(r"^[0-9a-f]{12}$")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def dl(daemon, *args: str, cwd=None, env: dict | None = None, input: bytes | None = None,
       timeout: float = 120) -> subprocess.CompletedProcess:
    """`dockling ARGS` as daemon.cli runs it, with a working directory and extra env."""
    full = {**os.environ, "DOCKLING_HOST": f"unix://{daemon.sock}",
            "DOCKLING_NO_AUTOSTART": "1", **(env or {})}
    return subprocess.run([os.path.join(BIN, "dockling"), *args], capture_output=True,
                          input=input, timeout=timeout, env=full, cwd=cwd,
                          stdin=None if input is not None else subprocess.DEVNULL, check=False)


def ok(res: subprocess.CompletedProcess) -> str:
    assert res.returncode == 0, (res.args, res.stdout.decode(), res.stderr.decode())
    return res.stdout.decode()


def write(base, files: dict[str, str | bytes]) -> str:
    for name, content in files.items():
        path = os.path.join(str(base), name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content.encode() if isinstance(content, str) else content)
    return str(base)


def inspect(daemon, ref: str) -> dict:
    status, _, doc = daemon.api("GET", f"/images/{ref}/json")
    assert status == 200, doc
    return doc


def run_out(daemon, image: str, *cmd: str) -> str:
    return daemon.cli("run", "--rm", image, *cmd, check=True).stdout.decode()


def run_in(out: str) -> list[str]:
    """The intermediate container IDs of a classic build stream."""
    return re.findall(r" ---> Running in ([0-9a-f]{12})", out)


def step_output(out: str, marker: str) -> str:
    """The lines a RUN printed: the text between its ' ---> Running in' and its end."""
    start = out.index(marker)
    start = out.index(" ---> Running in ", start)
    end = out.index("Removing intermediate container", start)
    return out[out.index("\n", start) + 1:end]


# -- dockling build: contexts ----------------------------------------------------------------

def test_tags_and_dockerfile_inside_and_outside_the_context(daemon, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nCOPY f.txt /f\n",
                                   "sub/Other.df": "FROM busybox\nCOPY f.txt /inside\n",
                                   "f.txt": "hello\n"})
    write(tmp_path, {"outside.df": "FROM busybox\nCOPY f.txt /outside\n"})
    out = ok(dl(daemon, "build", "-t", "cl-tags", "-t", "cl-tags2:v1", ".", cwd=ctx))
    assert out.startswith("Sending build context to Docker daemon")
    assert "Step 1/2 : FROM busybox\n" in out and "Step 2/2 : COPY f.txt /f\n" in out
    m = re.search(r"Successfully built ([0-9a-f]{12})\n", out)
    assert m, out
    assert "Successfully tagged cl-tags:latest\nSuccessfully tagged cl-tags2:v1\n" in out
    assert inspect(daemon, "cl-tags")["Id"] == inspect(daemon, "cl-tags2:v1")["Id"]
    assert inspect(daemon, "cl-tags")["Id"][7:19] == m.group(1)
    # -f names a file inside the context, relative to the working directory
    ok(dl(daemon, "build", "-t", "cl-inside", "-f", "sub/Other.df", ".", cwd=ctx))
    assert run_out(daemon, "cl-inside", "cat", "/inside") == "hello\n"
    # ... or outside it: the CLI adds it to the context
    ok(dl(daemon, "build", "-t", "cl-outside", "-f", str(tmp_path / "outside.df"), ctx))
    assert run_out(daemon, "cl-outside", "cat", "/outside") == "hello\n"


def test_dockerfile_on_stdin_with_a_directory_context(daemon, tmp_path):
    ctx = write(tmp_path, {"f.txt": "from ctx\n", "Dockerfile": "FROM busybox\nRUN exit 5\n"})
    out = ok(dl(daemon, "build", "-t", "cl-stdin-df", "-f", "-", ctx,
                input=b"FROM busybox\nCOPY f.txt /g\n"))
    assert "Step 2/2 : COPY f.txt /g" in out and "exit 5" not in out
    assert run_out(daemon, "cl-stdin-df", "cat", "/g") == "from ctx\n"


def test_context_tar_gz_and_lone_dockerfile_on_stdin(daemon, tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tf:
        for name, data in {"Dockerfile": b"FROM busybox\nCOPY data /data\n",
                           "data": b"in the tarball\n"}.items():
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1700000000
            tf.addfile(ti, io.BytesIO(data))
    assert buf.getvalue()[:2] == b"\x1f\x8b"
    ok(dl(daemon, "build", "-t", "cl-tgz", "-", input=buf.getvalue()))
    assert run_out(daemon, "cl-tgz", "cat", "/data") == "in the tarball\n"
    out = ok(dl(daemon, "build", "-t", "cl-lone", "-",
                input=b"FROM busybox\nRUN echo lone-run > /lone\n"))
    assert "Step 2/2 : RUN echo lone-run > /lone" in out
    assert run_out(daemon, "cl-lone", "cat", "/lone") == "lone-run\n"
    # a gzipped lone Dockerfile is taken for an archive (docker's isArchive) and refused
    res = dl(daemon, "build", "-", input=gzip.compress(b"FROM busybox\n"))
    assert res.returncode == 1 and res.stderr.startswith(b"Error response from daemon: ")


def test_dockerignore_is_applied_by_the_client(daemon, tmp_path):
    ctx = write(tmp_path, {".dockerignore": "big.bin\n*.log\n", "small.txt": "small\n",
                           "big.bin": os.urandom(3 << 20), "x.log": "log",
                           "Dockerfile": "FROM busybox\nCOPY . /all/\n"})
    out = ok(dl(daemon, "build", "-t", "cl-ignore", ctx))
    m = re.search(r"Sending build context to Docker daemon\s+([0-9.]+)(B|kB|MB)", out)
    assert m and m.group(2) in ("B", "kB"), out  # 3 MiB would say MB
    listing = run_out(daemon, "cl-ignore", "ls", "-a", "/all").split()
    assert "small.txt" in listing and "big.bin" not in listing and "x.log" not in listing
    write(tmp_path, {"Dockerfile": "FROM busybox\nCOPY big.bin /\n"})
    res = dl(daemon, "build", ctx)
    assert res.returncode == 1
    assert "file not found in build context or excluded by .dockerignore" in \
        res.stderr.decode()


# -- dockling build: options -------------------------------------------------------------------

def test_build_args_target_and_labels(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox AS base\nARG GIVEN\nARG FROM_ENV=dflt\n"
                                         "ARG KEPT=default\n"
                                         'RUN echo "$GIVEN $FROM_ENV $KEPT" > /args\n'
                                         "FROM base AS later\nRUN echo later-stage-ran\n"})
    res = dl(daemon, "build", "-t", "cl-args", "--build-arg", "GIVEN=given",
             "--build-arg", "FROM_ENV", "--build-arg", "KEPT", "--target", "base",
             "--label", "com.example.a=1", "--label", "b=two words", ctx,
             env={"FROM_ENV": "env-value"})
    out = ok(res)
    assert "later-stage-ran" not in out and "FROM base AS later" not in out
    # KEPT is unset in the environment: sent as null, the Dockerfile's default holds
    assert run_out(daemon, "cl-args", "cat", "/args") == "given env-value default\n"
    doc = inspect(daemon, "cl-args")
    assert doc["Config"]["Labels"] == {"com.example.a": "1", "b": "two words"}
    assert not any(e.startswith(("GIVEN=", "FROM_ENV=")) for e in doc["Config"].get("Env") or [])


def test_no_cache_quiet_and_iidfile(daemon, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo cached > /c\n"})
    ok(dl(daemon, "build", ctx))
    assert " ---> Using cache" in ok(dl(daemon, "build", ctx))
    nocache = ok(dl(daemon, "build", "--no-cache", ctx))
    assert " ---> Using cache" not in nocache and " ---> Running in " in nocache
    res = dl(daemon, "build", "-q", "-t", "cl-quiet", ctx)
    out = ok(res)
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out), out
    assert inspect(daemon, "cl-quiet")["Id"] == out.strip()
    iid = str(tmp_path / "iid")
    with open(iid, "w") as f:
        f.write("stale")
    ok(dl(daemon, "build", "--iidfile", iid, "-t", "cl-iid", ctx))
    with open(iid) as f:
        assert f.read() == inspect(daemon, "cl-iid")["Id"]  # no newline
    # a failed build leaves no stale file
    write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN exit 1\n"})
    assert dl(daemon, "build", "--iidfile", iid, ctx).returncode == 1
    assert not os.path.exists(iid)


def test_rm_false_keeps_the_container_and_force_rm_overrides(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo kept > /k\n"})
    out = ok(dl(daemon, "build", "--rm=false", "--no-cache", ctx))
    (cid,) = run_in(out)
    assert "Removing intermediate container" not in out
    ps = ok(dl(daemon, "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Status}}"))
    assert any(line.startswith(cid) and "Exited (0)" in line for line in ps.splitlines()), ps
    # docker's ps shows the build container's image (an ID) truncated
    base = inspect(daemon, "busybox")["Id"][7:19]
    ps = ok(dl(daemon, "ps", "-a", "--filter", f"id={cid}", "--format", "{{.Image}}"))
    assert ps.split() == [base], ps
    ok(dl(daemon, "rm", cid))
    # --force-rm wins over --rm=false: nothing is kept, on success or failure
    out = ok(dl(daemon, "build", "--rm=false", "--force-rm", "--no-cache", ctx))
    assert "Removing intermediate container" in out
    write(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 4\n"})
    res = dl(daemon, "build", "--rm=false", "--force-rm", ctx)
    assert res.returncode == 4
    assert ok(dl(daemon, "ps", "-aq")).split() == []


def test_network_none_and_add_host(daemon, tmp_path):
    gateway = daemon.net["bip"].split("/")[0]  # the test daemon's own bridge, on this host
    ctx = write(tmp_path, {"Dockerfile":
                           "FROM busybox\nRUN echo links: $(ip -o link | cut -d: -f2); "
                           f"cat /etc/hosts; ping -c1 -W1 {gateway} 2>&1 | tail -1; "
                           "echo net-done\n"})
    out = ok(dl(daemon, "build", "--no-cache", "--network", "none",
                "--add-host", "db.example:10.1.2.3", "--add-host", "v6=[fd00::5]", ctx))
    text = step_output(out, "Step 2/2")
    assert text.splitlines()[0] == "links: lo", text
    assert re.search(r"^10\.1\.2\.3\s+db\.example$", text, re.M), text
    assert re.search(r"^fd00::5\s+v6$", text, re.M), text
    assert "Network is unreachable" in text and "net-done" in text
    # a RUN that needs the network fails the build with its code; on the default
    # network the same RUN works
    write(tmp_path, {"Dockerfile": f"FROM busybox\nRUN ping -c1 -W2 {gateway}\n"})
    res = dl(daemon, "build", "--network", "none", ctx)
    assert res.returncode == 1 and "returned a non-zero code: 1" in res.stderr.decode()
    ok(dl(daemon, "build", ctx))


def test_network_of_a_user_network_resolves_its_names_at_once(daemon, tmp_path):
    """--network NET: the RUN is on NET and the embedded DNS knows the RUN's own
    endpoint from its first query (the process asks before start has saved it)."""
    from tests.engine.conftest import name

    net, target = name(), name()
    ok(dl(daemon, "network", "create", net))
    try:
        ok(dl(daemon, "run", "-d", "--name", target, "--network", net, "--network-alias",
              "pingtarget.docker", "busybox", "sleep", "300"))
        ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN ping -c1 -W2 pingtarget.docker\n"})
        for _ in range(3):
            ok(dl(daemon, "build", "--no-cache", "--network", net, ctx))
    finally:
        dl(daemon, "rm", "-f", target)
        dl(daemon, "network", "rm", net)


def test_shm_size_memory_and_ulimit(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile":
                           "FROM busybox\nRUN df -k /dev/shm | tail -1; "
                           "cat /sys/fs/cgroup/memory/memory.limit_in_bytes; "
                           "ulimit -n; ulimit -Hn\n"})
    out = ok(dl(daemon, "build", "--no-cache", "--shm-size", "32m", "-m", "96m",
                "--ulimit", "nofile=1024:2048", ctx))
    lines = step_output(out, "Step 2/2").split("\n")
    assert lines[0].split()[1] == str(32 * 1024), lines  # 1K-blocks of /dev/shm
    assert lines[1:4] == [str(96 << 20), "1024", "2048"], lines


def test_progress_plain_prints_the_classic_steps(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo plain-out\nENV A=1\n"})
    out = ok(dl(daemon, "build", "--progress", "plain", "--no-cache", ctx))
    lines = [line for line in out.replace("\r", "").split("\n") if line]
    assert lines[0].startswith("Sending build context to Docker daemon")
    steps = [line for line in lines if line.startswith("Step ")]
    assert steps == ["Step 1/3 : FROM busybox", "Step 2/3 : RUN echo plain-out",
                     "Step 3/3 : ENV A=1"]
    assert "plain-out" in lines and lines[-1].startswith("Successfully built ")
    assert all(HEX12.match(line[6:]) for line in lines if line.startswith(" ---> ") and
               not line.startswith((" ---> Running in", " ---> Using cache")))


def test_failing_run_and_unknown_instruction(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo to-stderr >&2; exit 42\n"})
    res = dl(daemon, "build", "-t", "cl-fail", ctx)
    assert res.returncode == 42
    assert res.stderr.decode() == "The command '/bin/sh -c echo to-stderr >&2; exit 42' " \
                                  "returned a non-zero code: 42\n"
    assert "to-stderr" in res.stdout.decode()
    assert daemon.api("GET", "/images/cl-fail/json")[0] == 404
    write(tmp_path, {"Dockerfile": "FROM busybox\nFROBNICATE now\n"})
    res = dl(daemon, "build", ctx)
    assert res.returncode == 1
    assert "unknown instruction: FROBNICATE" in res.stderr.decode(), res.stderr


# -- parallel stages ---------------------------------------------------------------------------

def test_independent_stages_run_at_once_and_unneeded_ones_are_skipped(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile":
                           "FROM busybox AS a\nRUN sleep 2; echo a-done; echo a > /a\n"
                           "FROM busybox AS unused\nRUN echo unused-ran\n"
                           "FROM busybox AS b\nRUN echo b-ran; echo b > /b\n"
                           "FROM busybox\nCOPY --from=a /a /a\nCOPY --from=b /b /b\n"
                           "RUN cat /a /b\n"})
    out = ok(dl(daemon, "build", "--no-cache", "-t", "cl-par", ctx))
    assert "unused-ran" not in out and "AS unused" not in out
    # b's RUN started, and finished, while a's was still sleeping
    assert out.index("Step 4/8 : RUN echo b-ran") < out.index("\na-done\n"), out
    assert out.index("\nb-ran\n") < out.index("\na-done\n"), out
    assert run_out(daemon, "cl-par", "cat", "/a", "/b") == "a\nb\n"


# -- the real docker CLI -----------------------------------------------------------------------

needs_docker = pytest.mark.skipif(shutil.which("docker") is None, reason="no docker client")


def docker(daemon, tmp_path, *args: str, input: bytes | None = None,
           cwd=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "DOCKER_HOST": f"unix://{daemon.sock}", "DOCKER_BUILDKIT": "0",
           "DOCKER_CONFIG": str(tmp_path / ".docker")}
    env.pop("DOCKER_CONTEXT", None)
    return subprocess.run(["docker", *args], capture_output=True, env=env, input=input,
                          cwd=cwd, timeout=120, check=False,
                          stdin=None if input is not None else subprocess.DEVNULL)


@needs_docker
def test_docker_build_classic_output(daemon, tmp_path):
    ctx = write(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nRUN echo from-docker > /d\n"
                                                 "CMD [\"cat\", \"/d\"]\n"})
    res = docker(daemon, tmp_path, "build", "--no-cache", "-t", "dk-built", ".", cwd=ctx)
    out = ok(res)
    lines = out.splitlines()
    assert "Step 1/3 : FROM busybox" in lines and "Step 3/3 : CMD [\"cat\", \"/d\"]" in lines
    assert any(HEX12.match(line[6:]) for line in lines if line.startswith(" ---> "))
    assert "\nfrom-docker\n" not in out  # the RUN printed nothing
    m = re.search(r"^Successfully built ([0-9a-f]{12})$", out, re.M)
    assert m, out
    assert "Successfully tagged dk-built:latest" in lines
    assert inspect(daemon, "dk-built")["Id"][7:19] == m.group(1)
    assert ok(docker(daemon, tmp_path, "run", "--rm", "dk-built")) == "from-docker\n"
    # -q: the ID alone
    out = ok(docker(daemon, tmp_path, "build", "-q", ".", cwd=ctx))
    assert re.fullmatch(r"sha256:[0-9a-f]{64}\n", out), out
    assert out.strip() == inspect(daemon, "dk-built")["Id"]


@needs_docker
def test_docker_build_failure(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo bad >&2; exit 13\n"})
    res = docker(daemon, tmp_path, "build", ctx)
    assert res.returncode == 13, res
    assert "The command '/bin/sh -c echo bad >&2; exit 13' returned a non-zero code: 13" in \
        res.stderr.decode()


@needs_docker
def test_docker_images_system_df_and_builder_prune(daemon, tmp_path):
    ctx = write(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo layer1 > /1\n"
                                         "RUN echo layer2 > /2\n"})
    out = ok(docker(daemon, tmp_path, "build", "--no-cache", "-t", "dk-layers", ctx))
    ids = re.findall(r"^ ---> ([0-9a-f]{12})$", out, re.M)
    middle = ids[1]  # after the first RUN: an intermediate image
    assert middle != ids[-1]
    short = ok(docker(daemon, tmp_path, "image", "ls", "-q")).split()
    every = ok(docker(daemon, tmp_path, "image", "ls", "-aq")).split()
    assert ids[-1] in short and middle not in short
    assert middle in every
    df = ok(docker(daemon, tmp_path, "system", "df"))
    row = [line for line in df.splitlines() if line.startswith("Build Cache")]
    assert row and int(row[0].split()[2]) > 0, df
    out = ok(docker(daemon, tmp_path, "builder", "prune", "-af"))
    assert "Total reclaimed space:" in out
    df = ok(docker(daemon, tmp_path, "system", "df"))
    row = [line for line in df.splitlines() if line.startswith("Build Cache")]
    assert row and row[0].split()[2] == "0", df
    # the tagged result survives
    assert ok(docker(daemon, tmp_path, "run", "--rm", "dk-layers", "cat", "/1", "/2")) == \
        "layer1\nlayer2\n"


# -- what docker-py does -----------------------------------------------------------------------

def test_a_kept_alive_connection_serves_the_request_after_a_build(daemon):
    """requests' pool reuses the connection of a build stream for the next call."""
    import http.client
    import socket

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    conn = http.client.HTTPConnection("localhost", timeout=60)
    conn.sock = s
    try:
        conn.request("POST", "/build?t=cl-keepalive", body=tar_of(
            {"Dockerfile": b"FROM busybox\nENV KEEP=alive\n"}),
            headers={"Content-Type": "application/x-tar"})
        resp = conn.getresponse()
        assert resp.status == 200 and b"Successfully tagged" in resp.read()
        for path in ("/_ping", "/images/cl-keepalive/json"):
            conn.request("GET", path)
            resp = conn.getresponse()
            assert resp.status == 200, path
            resp.read()
    finally:
        conn.close()


def test_dockerfile_named_twice_takes_the_first(daemon):
    """docker-py sends a Dockerfile from outside the context as
    dockerfile=<its name in the tar>&dockerfile=<its text>: Go's FormValue is the first."""
    body = tar_of({".dockerfile.abc": b"FROM busybox\nENV WHICH=first\n"})
    status, _, data = daemon.api(
        "POST", "/build?t=cl-twice&dockerfile=.dockerfile.abc&dockerfile=" +
        "FROM%20busybox%0AENV%20WHICH%3Dsecond", body=body,
        headers={"Content-Type": "application/x-tar"})
    assert status == 200, data
    assert "WHICH=first" in inspect(daemon, "cl-twice")["Config"]["Env"]


def test_cache_from_limits_the_cache_to_those_images(daemon):
    """docker's classic builder with cachefrom: a step is cached only from those
    images (and their ancestors); an unknown one means no cache."""
    from urllib.parse import quote

    body = tar_of({"Dockerfile": b"FROM busybox\nENV CF=1\nRUN touch /cf\n"})

    def build(query: str) -> str:
        status, _, data = daemon.api("POST", "/build?" + query, body=body,
                                     headers={"Content-Type": "application/x-tar"})
        assert status == 200, data
        return "".join(json.loads(line).get("stream", "")
                       for line in data.split(b"\r\n") if line.strip())

    build("t=cl-cf1")
    assert build("t=cl-cf2").count(" ---> Using cache") == 2
    assert build("t=cl-cf3&cachefrom=" + quote('["cl-cf1"]')).count(" ---> Using cache") == 2
    assert " ---> Using cache" not in build("t=cl-cf4&cachefrom=" + quote('["nosuchtag"]'))


def test_info_says_experimental_build_is_off(daemon):
    """docker-py's requires_experimental reads it."""
    status, _, info = daemon.api("GET", "/info")
    assert info["ExperimentalBuild"] is False
