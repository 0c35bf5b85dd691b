"""`dockling build` and `builder prune` on the client side, without root or a daemon:
flags -> POST /build's query, the context tar (.dockerignore, -f outside the context,
stdin), the chunked upload, and the views of recorded message streams. A fake daemon
on a unix socket records what the CLI sends and answers a recorded stream."""

from __future__ import annotations

import base64
import gzip
import io
import json
import os
import re
import socket
import tarfile
import threading
import urllib.parse

import pytest

from dockling.cli import build, buildcontext, buildprogress
from dockling.cli.main import UsageError, build_parser, main
from dockling.client.http import Client


def parse(*argv: str):
    return build_parser("build").parse_args(["build", *argv])


def members(body) -> dict[str, tuple[tarfile.TarInfo, bytes | None]]:
    """name -> (entry, content) of a streamed tar."""
    with tarfile.open(fileobj=io.BytesIO(b"".join(body))) as tf:
        return {m.name: (m, tf.extractfile(m).read() if m.isreg() else None)
                for m in tf.getmembers()}


# -- flags -> query -------------------------------------------------------------------------

def test_defaults_send_only_the_builder_version():
    assert build.query(parse("."), env={}) == {"version": "1"}


def test_every_flag_has_its_query_parameter():
    a = parse("-t", "a", "-t", "b:1", "--build-arg", "X=1", "--build-arg", "FROMENV",
              "--build-arg", "UNSET", "--label", "l=v", "--label", "bare", "--no-cache",
              "--pull", "--rm=false", "--force-rm", "--network", "host",
              "--add-host", "h:1.2.3.4", "--add-host", "h6=[::1]", "--shm-size", "64m",
              "-m", "1g", "--memory-swap", "-1", "-c", "512", "--cpu-period", "100000",
              "--cpu-quota", "50000", "--cpuset-cpus", "0-1", "--cpuset-mems", "0",
              "--platform", "linux/amd64", "--cache-from", "a,b", "--cache-from", "c",
              "--ulimit", "nproc=10", "--ulimit", "nofile=1024:2048", "--target", "t",
              "--cgroup-parent", "cg", "-q", ".")
    q = build.query(a, env={"FROMENV": "e"})
    assert q == {
        "t": ["a", "b:1"], "q": "1", "nocache": "1", "pull": "1", "rm": "0", "forcerm": "1",
        "networkmode": "host", "extrahosts": ["h:1.2.3.4", "h6:::1"],
        "shmsize": str(64 << 20), "memory": str(1 << 30), "memswap": "-1",
        "cpushares": "512", "cpuperiod": "100000", "cpuquota": "50000",
        "cpusetcpus": "0-1", "cpusetmems": "0", "cgroupparent": "cg", "target": "t",
        "platform": "linux/amd64",
        "ulimits": '[{"Name":"nofile","Hard":2048,"Soft":1024},'
                   '{"Name":"nproc","Hard":10,"Soft":10}]',
        # a bare --build-arg takes the environment's value, or goes as null
        "buildargs": '{"X":"1","FROMENV":"e","UNSET":null}',
        "labels": '{"l":"v","bare":""}', "cachefrom": '["a","b","c"]', "version": "1"}


def test_bool_flags_take_pflag_values():
    assert parse("--rm=0", ".").rm is False
    assert parse("--rm", ".").rm is True
    assert parse("--no-cache=true", ".").no_cache is True
    assert parse("--pull=f", ".").pull is False
    assert parse("--rm", ".").context == "."  # --rm does not eat the context


def test_config_proxies_become_build_args_unless_given():
    cfg = {"proxies": {"default": {"httpProxy": "http://p:3128", "noProxy": "x"},
                       "unix:///other.sock": {"httpProxy": "http://other"}}}
    q = build.query(parse("--build-arg", "NO_PROXY=mine", "."), env={}, cfg=cfg,
                    host="unix:///run/d.sock")
    assert json.loads(q["buildargs"]) == {"NO_PROXY": "mine", "no_proxy": "x",
                                          "HTTP_PROXY": "http://p:3128",
                                          "http_proxy": "http://p:3128"}
    q = build.query(parse("."), env={}, cfg=cfg, host="unix:///other.sock")
    assert json.loads(q["buildargs"]) == {"HTTP_PROXY": "http://other",
                                          "http_proxy": "http://other"}


@pytest.mark.parametrize("argv, message", [
    (["--ulimit", "nofile=2:1"], "soft limit must be less than or equal to hard limit: 2 > 1"),
    (["--ulimit", "bogus=1"], "invalid ulimit type: bogus"),
    (["--add-host", "h"], 'bad format for add-host: "h"'),
    (["--add-host", "h:nope"], 'invalid IP address in add-host: "nope"'),
    (["-m", "lots"], 'invalid argument "lots" for "-m, --memory" flag: invalid size'),
    (["--label", "=v"], "invalid label '=v': empty name"),
    (["--build-arg", "=v"], "invalid environment variable: =v"),
])
def test_bad_values_get_pflags_words(argv, message):
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        build.query(parse(*argv, "."), env={})


@pytest.mark.parametrize("argv, message", [
    (["--squash"], "squash is only supported with experimental mode"),
    (["--isolation", "hyperv"], 'unsupported isolation: "hyperv"'),
    (["--secret", "id=x"], "unknown flag: --secret"),
    (["--ssh", "default"], "unknown flag: --ssh"),
    (["--no-cache-filter", "x"], "unknown flag: --no-cache-filter"),
    (["--progress", "fancy"], 'invalid progress mode "fancy"'),
])
def test_refused_flags(argv, message):
    with pytest.raises(UsageError, match=message):
        build.check(parse(*argv, "."))


def test_isolation_default_is_accepted():
    build.check(parse("--isolation", "default", "."))


def test_registry_config_holds_every_credential(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    assert base64.urlsafe_b64decode(build.registry_config()) == b"{}"
    auth = base64.b64encode(b"u:p").decode()
    (tmp_path / "config.json").write_text(json.dumps({"auths": {
        "reg.example:5000": {"auth": auth},
        "https://index.docker.io/v1/": {"identitytoken": "tok"}}}))
    got = json.loads(base64.urlsafe_b64decode(build.registry_config()))
    assert got == {"reg.example:5000": {"username": "u", "password": "p",
                                        "serveraddress": "reg.example:5000"},
                   "https://index.docker.io/v1/": {
                       "identitytoken": "tok", "serveraddress": "https://index.docker.io/v1/"}}
    # a helper that is not installed: docker drops the error and sends no credentials
    (tmp_path / "config.json").write_text(json.dumps({"credsStore": "nonexistent-x"}))
    assert base64.urlsafe_b64decode(build.registry_config()) == b"{}"


# -- the context ----------------------------------------------------------------------------

@pytest.fixture
def ctxdir(tmp_path):
    d = tmp_path / "ctx"
    (d / "sub").mkdir(parents=True)
    (d / "skip").mkdir()
    (d / "Dockerfile").write_text("FROM busybox\nCOPY . /x\n")
    (d / ".dockerignore").write_text("skip\n*.log\nDockerfile\n.dockerignore\n")
    (d / "a.txt").write_text("hi\n")
    (d / "b.log").write_text("no\n")
    (d / "skip" / "x").write_text("s")
    (d / "big.bin").write_bytes(os.urandom(3 << 20))
    os.symlink("a.txt", d / "link")
    os.link(d / "a.txt", d / "sub" / "hard")
    return d


def test_directory_context_as_docker_sends_it(ctxdir):
    ctx = buildcontext.prepare(str(ctxdir), "", io.BytesIO())
    assert ctx.dockerfile == "Dockerfile" and ctx.remote == ""
    got = members(ctx.body)
    # ignored, but the Dockerfile and .dockerignore always go (TrimBuildFilesFromExcludes)
    assert sorted(got) == [".dockerignore", "Dockerfile", "a.txt", "big.bin", "link", "sub",
                           "sub/hard"]
    for info, _ in got.values():
        assert (info.uid, info.gid, info.uname, info.gname) == (0, 0, "", "")
    assert got["link"][0].issym() and got["link"][0].linkname == "a.txt"
    assert got["sub"][0].isdir()
    assert got["sub/hard"][0].islnk() and got["sub/hard"][0].linkname == "a.txt"
    assert got["big.bin"][1] == (ctxdir / "big.bin").read_bytes()
    assert got["a.txt"][1] == b"hi\n"


def test_lowercase_dockerfile_and_missing_one(tmp_path):
    (tmp_path / "dockerfile").write_text("FROM x\n")
    assert buildcontext.prepare(str(tmp_path), "", io.BytesIO()).dockerfile == "dockerfile"
    os.remove(tmp_path / "dockerfile")
    with pytest.raises(buildcontext.ContextError,
                       match="unable to prepare context: unable to evaluate symlinks in "
                             "Dockerfile path: lstat .*/Dockerfile: no such file or directory"):
        buildcontext.prepare(str(tmp_path), "", io.BytesIO())


def test_dockerfile_in_a_subdirectory_is_relative_to_the_cwd(ctxdir, monkeypatch):
    (ctxdir / "sub" / "Dockerfile.dev").write_text("FROM x\n")
    monkeypatch.chdir(ctxdir / "sub")
    ctx = buildcontext.prepare(str(ctxdir), "Dockerfile.dev", io.BytesIO())
    assert ctx.dockerfile == "sub/Dockerfile.dev"


@pytest.mark.parametrize("outside", [True, False])
def test_dockerfile_outside_the_context_or_from_stdin_is_injected(ctxdir, tmp_path, outside):
    text = b"FROM elsewhere\n"
    if outside:
        (tmp_path / "other.Dockerfile").write_bytes(text)
        ctx = buildcontext.prepare(str(ctxdir), str(tmp_path / "other.Dockerfile"),
                                   io.BytesIO())
    else:
        ctx = buildcontext.prepare(str(ctxdir), "-", io.BytesIO(text))
    assert ctx.dockerfile.startswith(".dockerfile.") and len(ctx.dockerfile) == 32
    got = members(ctx.body)
    assert got[ctx.dockerfile][1] == text and got[ctx.dockerfile][0].mode == 0o600
    assert got[".dockerignore"][1] == (ctxdir / ".dockerignore").read_bytes() + (
        b"\n" + ctx.dockerfile.encode() + b"\n")
    assert "Dockerfile" not in got  # ignored, and not the one used


def test_injected_dockerfile_without_a_dockerignore(tmp_path):
    (tmp_path / "f").write_text("x")
    ctx = buildcontext.prepare(str(tmp_path), "-", io.BytesIO(b"FROM x\n"))
    got = members(ctx.body)
    assert got[".dockerignore"][1] == b".dockerignore\n" + ctx.dockerfile.encode() + b"\n"
    assert set(got) == {"f", ".dockerignore", ctx.dockerfile}


def test_unreadable_file_fails_before_sending(ctxdir, monkeypatch):
    real_open = os.open

    def fake_open(path, flags, *rest):
        if str(path).endswith("a.txt"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *rest)

    monkeypatch.setattr(os, "open", fake_open)
    with pytest.raises(buildcontext.ContextError,
                       match=r"checking context: no permission to read from '.*/a\.txt'"):
        buildcontext.prepare(str(ctxdir), "", io.BytesIO())


def test_bad_dockerignore_pattern(tmp_path):
    (tmp_path / "Dockerfile").write_text("FROM x\n")
    (tmp_path / ".dockerignore").write_text("[\n")
    with pytest.raises(buildcontext.ContextError,
                       match="checking context: syntax error in pattern"):
        buildcontext.prepare(str(tmp_path), "", io.BytesIO())


def test_context_kinds():
    t = buildcontext.context_type
    assert t("-") == "stdin" and t(".") == "local"
    assert t("https://example.com/r.git#main:dir") == "git"
    assert t("git@github.com:x/y") == "git" and t("github.com/x/y") == "git"
    assert t("https://example.com/ctx.tar.gz") == "remote"
    with pytest.raises(buildcontext.ContextError,
                       match='unable to prepare context: path "/nope" not found'):
        t("/nope")


def test_url_context_goes_as_remote():
    ctx = buildcontext.prepare("https://example.com/r.git", "sub/Dockerfile", io.BytesIO())
    assert (ctx.body, ctx.remote, ctx.dockerfile) == (None, "https://example.com/r.git",
                                                      "sub/Dockerfile")


def test_a_file_is_not_a_context(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(buildcontext.ContextError, match="context must be a directory"):
        buildcontext.prepare(str(tmp_path / "f"), "", io.BytesIO())


def test_stdin_tar_passes_through_untouched():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"FROM x\n"
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    for raw in (buf.getvalue(), gzip.compress(buf.getvalue())):
        ctx = buildcontext.prepare("-", "", io.BytesIO(raw))
        assert b"".join(ctx.body) == raw and ctx.dockerfile == ""
    ctx = buildcontext.prepare("-", "sub/Dockerfile", io.BytesIO(buf.getvalue()))
    assert ctx.dockerfile == "sub/Dockerfile"


def test_stdin_dockerfile_is_wrapped():
    ctx = buildcontext.prepare("-", "", io.BytesIO(b"FROM busybox\nRUN true\n"))
    assert ctx.dockerfile == "Dockerfile"
    got = members(ctx.body)
    assert list(got) == ["Dockerfile"] and got["Dockerfile"][1] == b"FROM busybox\nRUN true\n"
    with pytest.raises(buildcontext.ContextError, match="ambiguous Dockerfile source"):
        buildcontext.prepare("-", "x", io.BytesIO(b"FROM busybox\n"))
    with pytest.raises(buildcontext.ContextError,
                       match="can't use stdin for both build context and dockerfile"):
        buildcontext.prepare("-", "-", io.BytesIO(b"FROM busybox\n"))


def test_compress_gzips_the_stream(ctxdir):
    ctx = buildcontext.prepare(str(ctxdir), "", io.BytesIO(), compress=True)
    assert "a.txt" in members([gzip.decompress(b"".join(ctx.body))])


# -- views of recorded streams --------------------------------------------------------------

STREAM = [
    {"stream": "Step 1/3 : FROM busybox"}, {"stream": "\n"},
    {"status": "Pulling from library/busybox", "id": "latest"},
    {"status": "Downloading", "id": "aaa", "progressDetail": {"current": 5, "total": 10},
     "progress": "[=>  ]"},
    {"status": "Pull complete", "id": "aaa", "progressDetail": {}},
    {"stream": " ---> 3f57d9401f8d\n"},
    {"stream": "Step 2/3 : RUN echo hi && echo oops >&2\n"},
    {"stream": " ---> Running in 0a1b2c3d4e5f\n"},
    {"stream": "hi\n"}, {"stream": "\u001b[91moops\n\u001b[0m"},
    {"stream": "Removing intermediate container 0a1b2c3d4e5f\n"},
    {"stream": " ---> 5e6f7a8b9c0d\n"},
    {"aux": {"ID": "sha256:" + "5e" * 32}},
    {"stream": "Step 3/3 : COPY . /app\n"}, {"stream": " ---> Using cache\n"},
    {"stream": " ---> 7a8b9c0d1e2f\n"},
    {"aux": {"ID": "sha256:" + "7a" * 32}},
    {"stream": "Successfully built 7a8b9c0d1e2f\n"},
    {"stream": "Successfully tagged demo:latest\n"},
]


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        self.t += 0.25
        return self.t


def test_plain_view_prints_the_classic_output():
    out = io.StringIO()
    view = buildprogress.PlainView(out, tty=False)
    view.sending(2048, True)
    res = buildprogress.run(STREAM, view)
    assert res == buildprogress.Result("sha256:" + "7a" * 32)
    assert out.getvalue() == (
        "Sending build context to Docker daemon  2.048kB\r\r\n"
        "Step 1/3 : FROM busybox\n"
        "latest: Pulling from library/busybox\naaa: Pull complete\n"
        " ---> 3f57d9401f8d\n"
        "Step 2/3 : RUN echo hi && echo oops >&2\n ---> Running in 0a1b2c3d4e5f\n"
        "hi\n\u001b[91moops\n\u001b[0mRemoving intermediate container 0a1b2c3d4e5f\n"
        " ---> 5e6f7a8b9c0d\nStep 3/3 : COPY . /app\n ---> Using cache\n ---> 7a8b9c0d1e2f\n"
        "Successfully built 7a8b9c0d1e2f\nSuccessfully tagged demo:latest\n")


def test_error_in_the_stream_carries_its_code():
    msgs = STREAM[:8] + [{"stream": "boom\n"},
                         {"errorDetail": {"message": "The command '/bin/sh -c false' returned "
                                          "a non-zero code: 3", "code": 3},
                          "error": "The command '/bin/sh -c false' returned a non-zero code: 3"}]
    res = buildprogress.run(msgs, buildprogress.QuietView())
    assert res.code == 3 and res.error.endswith("non-zero code: 3")
    res = buildprogress.run([{"error": "no detail"}], buildprogress.QuietView())
    assert (res.error, res.code) == ("no detail", 1)


def test_tty_view_final_frame():
    out = io.StringIO()
    view = buildprogress.TtyView(out, clock=Clock(), width=60, height=20)
    view.sending(2048, True)
    live = []
    for m in STREAM:
        view.feed(m) if "aux" not in m else None
        if m.get("stream") == "hi\n":
            live = view.frame(final=False)
    assert any("RUN echo hi" in r and "\x1b[34m" in r for r in live)
    assert any(r.startswith("\x1b[2m => => # hi") for r in live)
    view.finish(buildprogress.Result("sha256:" + "7a" * 32))
    final = out.getvalue().rsplit("\x1b[J", 1)[0].split("\r", 1)[1]
    rows = [r.removeprefix("\x1b[2K") for r in final.split("\n") if r]
    assert rows[0].startswith("[+] Building ") and rows[0].endswith("(4/4) FINISHED")
    assert [r[:40].rstrip() for r in rows[1:]] == [
        " => [internal] load build context",
        " => => transferring context: 2.048kB",
        " => [1/3] FROM busybox",
        " => [2/3] RUN echo hi && echo oops >&2",
        " => CACHED [3/3] COPY . /app",
        " => exporting to image",
        " => => writing image sha256:7a7a7a7a7a7a",
        " => => naming to demo:latest"]
    assert all(len(r) <= 59 for r in rows) and all(r.endswith("s") for r in rows[1:])
    assert "\x1b[2m" not in final  # no live output left in the final state


def test_tty_view_shows_the_failing_steps_output():
    out = io.StringIO()
    view = buildprogress.TtyView(out, clock=Clock(), width=80, height=20)
    msgs = [{"stream": "Step 1/2 : FROM busybox\n"}, {"stream": " ---> 3f57d9401f8d\n"},
            {"stream": "Step 2/2 : RUN false\n"}, {"stream": " ---> Running in 0a1b\n"},
            {"stream": "some output\n"}, {"stream": "partial"},
            {"errorDetail": {"message": "bad", "code": 1}, "error": "bad"}]
    res = buildprogress.run(msgs, view)
    view.finish(res)
    text = out.getvalue()
    assert " => ERROR [2/2] RUN false" in text and "FINISHED" not in text
    assert text.endswith("------\n > [2/2] RUN false:\nsome output\npartial\n------\n")


def screen(text: str) -> list[str]:
    """What a terminal shows after ``text``: enough of VT100 for the live view (cursor up,
    erase line, erase below, carriage return, newline; colours ignored)."""
    lines, row, col = [""], 0, 0
    for m in re.finditer(r"\x1b\[(\d*)([AJK])|\x1b\[[0-9;]*m|\r|\n|[^\x1b\r\n]+", text):
        s = m.group(0)
        if m.group(2) == "A":
            row = max(0, row - int(m.group(1) or 1))
        elif m.group(2) == "K":
            lines[row] = ""
        elif m.group(2) == "J":
            del lines[row + 1:]
            lines[row] = lines[row][:col]
        elif s == "\r":
            col = 0
        elif s == "\n":
            row, col = row + 1, 0
            lines += [""] * (row + 1 - len(lines))
        elif not s.startswith("\x1b"):
            lines[row] = lines[row][:col] + s + lines[row][col + len(s):]
            col += len(s)
    return [line for line in lines if line]


def test_tty_view_redraws_in_place_and_leaves_only_the_final_state():
    out = io.StringIO()
    view = buildprogress.TtyView(out, clock=Clock(), width=70, height=12)
    view.sending(5000, True)
    msgs = [{"stream": "Step 1/2 : FROM busybox\n ---> 3f57d9401f8d\n"},
            {"stream": "Step 2/2 : RUN work\n ---> Running in 0a1b\n"}]
    msgs += [{"stream": f"\u001b[91mline {i}\n\u001b[0m"} for i in range(12)]
    msgs += [{"stream": "Removing intermediate container 0a1b\n ---> 5e6f7a8b9c0d\n"},
             {"stream": "Successfully built 5e6f7a8b9c0d\n"}]
    for m in msgs:
        view.feed(m)
        view._draw(view.frame(final=False))  # what the ticker does
        shown = screen(out.getvalue())
        assert len(shown) <= 11  # never taller than the terminal: no scrolled-off lines
        if m["stream"].startswith("\u001b[91mline 11"):
            assert [r.rstrip() for r in shown[-6:]] == [
                f" => => # line {i}" for i in range(6, 12)]  # the last lines, colourless
    view.finish(buildprogress.Result())
    shown = screen(out.getvalue())
    assert shown[0].endswith("(3/3) FINISHED")
    assert [r.split("  ")[0] for r in shown[1:]] == [
        " => [internal] load build context", " => => transferring context: 5kB",
        " => [1/2] FROM busybox", " => [2/2] RUN work", " => exporting to image",
        " => => writing image 5e6f7a8b9c0d"]


def test_upload_reports_progress_and_the_end():
    seen = []
    pieces = [b"x" * (300 << 10)] * 4
    up = buildprogress.Upload(pieces, lambda n, done: seen.append((n, done)), clock=Clock())
    assert b"".join(up) == b"".join(pieces)
    assert seen[-1] == (1200 << 10, True) and (600 << 10, False) in seen


# -- the CLI against a fake daemon ----------------------------------------------------------

class FakeDaemon:
    """Answers each request on a unix socket with ``answer(request) -> (status, body)``;
    keeps the requests (method, target, headers, decoded body)."""

    def __init__(self, path: str, answer) -> None:
        self.path = path
        self.answer = answer
        self.requests: list[dict] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                f = conn.makefile("rb")
                line = f.readline().decode().rstrip("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {}
                while (h := f.readline().decode().rstrip("\r\n")):
                    k, _, v = h.partition(":")
                    headers[k.strip().lower()] = v.strip()
                body = b""
                if headers.get("transfer-encoding") == "chunked":
                    while (size := int(f.readline().split(b";")[0], 16)):
                        body += f.read(size)
                        f.readline()
                    f.readline()
                else:
                    body = f.read(int(headers.get("content-length", 0)))
                req = {"method": method, "target": target, "headers": headers, "body": body}
                self.requests.append(req)
                status, payload = self.answer(req)
                conn.sendall(f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
                             f"Content-Length: {len(payload)}\r\n\r\n".encode() + payload)

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def daemon(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCKLING_NO_AUTOSTART", "1")
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "cfg"))
    made = []

    def start(answer):
        d = FakeDaemon(str(tmp_path / "d.sock"), answer)
        made.append(d)
        return d

    yield start
    for d in made:
        d.close()


def stream_body(msgs: list[dict]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\r\n" for m in msgs)


def query_of(req: dict) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlsplit(req["target"]).query)


def test_client_streams_an_iterator_body_chunked(daemon):
    d = daemon(lambda req: (200, b"{}"))
    pieces = [os.urandom(70000) for _ in range(5)]
    Client(d.path).open("POST", "/x", None, iter(pieces)).read()
    req = d.requests[0]
    assert req["headers"]["transfer-encoding"] == "chunked"
    assert "content-length" not in req["headers"] and req["body"] == b"".join(pieces)


def test_build_end_to_end(daemon, ctxdir, tmp_path, capsys):
    d = daemon(lambda req: (200, stream_body(STREAM)))
    iid = tmp_path / "iid"
    iid.write_text("stale")
    rc = main(["-H", "unix://" + str(tmp_path / "d.sock"), "build", "-t", "demo",
               "--progress", "plain", "--iidfile", str(iid), str(ctxdir)])
    assert rc == 0
    req = d.requests[0]
    assert req["method"] == "POST" and req["target"].startswith("/v1.47/build?")
    assert query_of(req) == {"t": ["demo"], "dockerfile": ["Dockerfile"], "version": ["1"]}
    assert req["headers"]["content-type"] == "application/x-tar"
    assert base64.urlsafe_b64decode(req["headers"]["x-registry-config"]) == b"{}"
    assert "a.txt" in members([req["body"]])
    out = capsys.readouterr().out
    assert out.startswith("Sending build context to Docker daemon ")
    assert out.endswith("Successfully built 7a8b9c0d1e2f\nSuccessfully tagged demo:latest\n")
    assert iid.read_text() == "sha256:" + "7a" * 32


def test_build_quiet_prints_only_the_id(daemon, ctxdir, tmp_path, capsys):
    image = "sha256:" + "ab" * 32
    d = daemon(lambda req: (200, stream_body([{"aux": {"ID": image}},
                                              {"stream": image + "\n"}])))
    iid = tmp_path / "iid"
    rc = main(["-H", "unix://" + d.path, "build", "-q", "--iidfile", str(iid), str(ctxdir)])
    assert rc == 0 and query_of(d.requests[0])["q"] == ["1"]
    assert capsys.readouterr().out == image + "\n"
    assert iid.read_text() == image


def test_build_failure_exits_with_the_steps_code(daemon, ctxdir, tmp_path, capsys):
    msg = "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
    daemon(lambda req: (200, stream_body([
        {"stream": "Step 1/1 : RUN exit 7\n"},
        {"errorDetail": {"message": msg, "code": 7}, "error": msg}])))
    iid = tmp_path / "iid"
    iid.write_text("stale")
    rc = main(["-H", "unix://" + str(tmp_path / "d.sock"), "build", "--iidfile", str(iid),
               str(ctxdir)])
    captured = capsys.readouterr()
    assert rc == 7 and captured.err == msg + "\n" and not iid.exists()
    assert "Step 1/1 : RUN exit 7" in captured.out


def test_build_http_error_and_context_error(daemon, ctxdir, tmp_path, capsys):
    sock = str(tmp_path / "d.sock")
    daemon(lambda req: (400, b'{"message": "dockerfile parse error line 1: unknown"}'))
    assert main(["-H", "unix://" + sock, "build", str(ctxdir)]) == 1
    assert capsys.readouterr().err == ("Error response from daemon: dockerfile parse error "
                                       "line 1: unknown\n")
    assert main(["-H", "unix://" + sock, "build", str(tmp_path / "nope")]) == 1
    assert capsys.readouterr().err == (f'unable to prepare context: path '
                                       f'"{tmp_path / "nope"}" not found\n')


def test_image_build_and_builder_build_are_build(daemon, tmp_path, monkeypatch):
    d = daemon(lambda req: (200, stream_body([{"stream": "Successfully built 0123456789ab\n"}])))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"FROM scratch\n")))
    for argv in (["image", "build"], ["builder", "build"]):
        assert main(["-H", "unix://" + d.path, *argv, "-"]) == 0
    assert [query_of(r)["dockerfile"] for r in d.requests] == [["Dockerfile"]] * 2


def test_builder_prune(daemon, tmp_path, capsys):
    d = daemon(lambda req: (200, json.dumps({"CachesDeleted": ["abc", "def"],
                                             "SpaceReclaimed": 1234567}).encode()))
    rc = main(["-H", "unix://" + d.path, "builder", "prune", "-a", "-f", "--filter",
               "until=24h", "--keep-storage", "1g"])
    assert rc == 0
    assert query_of(d.requests[0]) == {"all": ["1"], "keep-storage": [str(1 << 30)],
                                       "filters": ['{"until":["24h"]}']}
    assert capsys.readouterr().out == ("Deleted build cache objects:\nabc\ndef\n\n"
                                       "Total reclaimed space: 1.235MB\n")


def test_system_df_counts_the_build_cache(daemon, capsys):
    cache = [{"ID": "a", "Size": 1000, "InUse": True, "Shared": False},
             {"ID": "b", "Size": 3000, "InUse": False, "Shared": False},
             {"ID": "c", "Size": 5000, "InUse": False, "Shared": True}]
    d = daemon(lambda req: (200, json.dumps({"Images": [], "Containers": [], "Volumes": [],
                                             "LayersSize": 0, "BuildCache": cache}).encode()))
    assert main(["-H", "unix://" + d.path, "system", "df"]) == 0
    row = capsys.readouterr().out.splitlines()[-1].split()
    assert row == ["Build", "Cache", "3", "1", "4kB", "3kB"]
