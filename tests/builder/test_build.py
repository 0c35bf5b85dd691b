"""POST /build against a real daemon: steps, cache, layers, multi-stage, bad
input, and clean-up (no container, mount or step dir left behind)."""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import tarfile
import threading
import time
from urllib.parse import quote

import pytest

from dockling.testing.leaks import cgroup_children
from tests.engine.conftest import running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def ctx_tar(files: dict[str, str | bytes | tuple]) -> bytes:
    """{name: content | ("link", target) | ("dir",)} -> a tar as the docker CLI sends it."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, content in files.items():
            ti = tarfile.TarInfo(name)
            ti.mtime = 1700000000
            if isinstance(content, tuple) and content[0] == "link":
                ti.type, ti.linkname = tarfile.SYMTYPE, content[1]
                tf.addfile(ti)
            elif isinstance(content, tuple) and content[0] == "dir":
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
            else:
                data = content.encode() if isinstance(content, str) else content
                ti.size, ti.mode = len(data), 0o644
                tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def build(daemon, files, query: str = "", body: bytes | None = None, headers=None):
    """POST /build; (HTTP status, [messages] or the error body)."""
    status, _, data = daemon.api("POST", "/v1.41/build" + (f"?{query}" if query else ""),
                                 body=ctx_tar(files) if body is None else body,
                                 headers={"Content-Type": "application/x-tar", **(headers or {})})
    if status != 200:
        return status, data
    raw = data if isinstance(data, bytes) else json.dumps(data).encode()
    return status, [json.loads(line) for line in raw.split(b"\r\n") if line.strip()]


def text(msgs) -> str:
    return "".join(m.get("stream", "") for m in msgs)


def error(msgs) -> str | None:
    errs = [m["error"] for m in msgs if "error" in m]
    return errs[-1] if errs else None


def image_id(msgs) -> str:
    ids = [m["aux"]["ID"] for m in msgs if "aux" in m]
    assert ids, msgs
    return ids[-1]


def inspect(daemon, ref: str) -> dict:
    status, _, doc = daemon.api("GET", f"/images/{ref}/json")
    assert status == 200, doc
    return doc


def run_out(daemon, image: str, *cmd: str) -> str:
    res = daemon.cli("run", "--rm", image, *cmd, check=True)
    return res.stdout.decode()


def leftovers(daemon) -> list[str]:
    """Containers, build dirs and mounts a build may have left."""
    out = daemon.cli("ps", "-aq").stdout.decode().split()
    bdir = os.path.join(daemon.root, "builder")
    out += os.listdir(bdir) if os.path.isdir(bdir) else []
    with open("/proc/self/mountinfo") as f:
        out += [line.split()[4] for line in f if os.path.join(daemon.root, "builder") in line]
    out += cgroup_children(daemon.cgroup_parent)  # RUN containers' cgroups, any hierarchy
    return out


def test_notes_dockerfile_steps_and_result(daemon):
    files = {"Dockerfile": "FROM busybox\nMAINTAINER Ann <ann@example.com>\n"
                           "RUN echo built > /built.txt\nADD site /srv/site\n"
                           "COPY hello.txt /srv/\nENV GREETING=hi\nEXPOSE 80\n"
                           'ENTRYPOINT ["cat"]\nCMD ["/srv/hello.txt"]\n',
             "hello.txt": "hello world\n", "site/index.html": "<h1>x</h1>\n"}
    status, msgs = build(daemon, files, "t=bt-notes:1")
    assert status == 200, msgs
    out = text(msgs)
    assert error(msgs) is None, out
    assert "Step 1/9 : FROM busybox" in out and "Step 9/9 : CMD [\"/srv/hello.txt\"]" in out
    assert " ---> Running in " in out and "Removing intermediate container" in out
    iid = image_id(msgs)
    assert f"Successfully built {iid[7:19]}" in out and "Successfully tagged bt-notes:1" in out
    doc = inspect(daemon, "bt-notes:1")
    assert doc["Author"] == "Ann <ann@example.com>"
    assert doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
    assert "GREETING=hi" in doc["Config"]["Env"]
    assert doc["Config"]["Entrypoint"] == ["cat"] and doc["Config"]["Cmd"] == ["/srv/hello.txt"]
    base = inspect(daemon, "busybox")
    assert len(doc["RootFS"]["Layers"]) == len(base["RootFS"]["Layers"]) + 3  # RUN, ADD, COPY
    assert run_out(daemon, "bt-notes:1") == "hello world\n"
    assert run_out(daemon, "bt-notes:1", "/srv/site/index.html", "/built.txt") == \
        "<h1>x</h1>\nbuilt\n"
    assert leftovers(daemon) == []


def test_history_and_config_of_every_metadata_instruction(daemon):
    df = ("FROM busybox\nLABEL a=1 \"b c\"=\"d e\"\nWORKDIR /app\nWORKDIR sub\nUSER 1000:1000\n"
          "VOLUME /data\nSTOPSIGNAL SIGINT\nSHELL [\"/bin/sh\", \"-ec\"]\n"
          "HEALTHCHECK --interval=5s --retries=2 CMD true\nONBUILD RUN echo child\n"
          "ENV A=1 B=\"two words\"\nCMD echo $A\n")
    status, msgs = build(daemon, {"Dockerfile": df}, "t=bt-meta")
    assert status == 200 and error(msgs) is None, msgs
    cfg = inspect(daemon, "bt-meta")["Config"]
    assert cfg["Labels"] == {"a": "1", "b c": "d e"}
    assert cfg["WorkingDir"] == "/app/sub" and cfg["User"] == "1000:1000"
    assert cfg["Volumes"] == {"/data": {}} and cfg["StopSignal"] == "SIGINT"
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000 and cfg["Healthcheck"]["Retries"] == 2
    assert cfg["OnBuild"] == ["RUN echo child"]
    assert "B=two words" in cfg["Env"]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "echo $A"]
    status, _, hist = daemon.api("GET", "/images/bt-meta/history")
    created_by = [h["CreatedBy"] for h in hist]
    assert created_by[0] == 'CMD ["/bin/sh" "-ec" "echo $A"]'
    assert "WORKDIR /app/sub" in created_by and "USER 1000:1000" in created_by
    assert all(h["Size"] == 0 for h in hist[:10])
    # the child runs the trigger and does not keep it
    status, msgs = build(daemon, {"Dockerfile": "FROM bt-meta\nRUN true\n"}, "t=bt-child")
    assert "child" in text(msgs) and "# Executing 1 build trigger" in text(msgs), text(msgs)
    assert not inspect(daemon, "bt-child")["Config"].get("OnBuild")


def test_cache_hits_and_invalidation(daemon):
    files = {"Dockerfile": "FROM busybox\nRUN echo one > /one\nCOPY a.txt /a.txt\n"
                           "RUN cat /a.txt > /copy\n", "a.txt": "v1\n", "b.txt": "unused"}
    s, first = build(daemon, files, "t=bt-cache")
    assert error(first) is None, first
    s, again = build(daemon, files, "t=bt-cache")
    assert text(again).count(" ---> Using cache") == 3
    assert image_id(again) == image_id(first)
    # a file no step copies changes nothing; touching a.txt's mtime changes nothing
    s, other = build(daemon, {**files, "b.txt": "changed"}, "t=bt-cache")
    assert image_id(other) == image_id(first)
    s, changed = build(daemon, {**files, "a.txt": "v2\n"}, "t=bt-cache")
    out = text(changed)
    assert out.count(" ---> Using cache") == 1, out  # only the RUN before the COPY
    assert run_out(daemon, "bt-cache", "cat", "/copy") == "v2\n"
    s, nocache = build(daemon, files, "t=bt-cache&nocache=1")
    assert " ---> Using cache" not in text(nocache)


def test_run_failure_reports_code_and_leaves_nothing(daemon):
    files = {"Dockerfile": "FROM busybox\nRUN echo before\nRUN echo oops >&2; exit 3\n"}
    status, msgs = build(daemon, files, "t=bt-fail")
    assert status == 200
    err = [m for m in msgs if "error" in m][-1]
    assert err["error"] == "The command '/bin/sh -c echo oops >&2; exit 3' returned a " \
                           "non-zero code: 3"
    assert err["errorDetail"]["code"] == 3
    assert "\x1b[91moops\n\x1b[0m" in text(msgs)
    assert daemon.api("GET", "/images/bt-fail/json")[0] == 404
    assert leftovers(daemon) == []


@pytest.mark.parametrize("df,message", [
    ("FROM busybox\nFOO bar\n", "unknown instruction: FOO"),
    ("", "cannot be empty"),
    ("RUN true\n", "no build stage in current context"),
    ("FROM busybox\nCOPY missing.txt /\n",
     "COPY failed: file not found in build context or excluded by .dockerignore: "
     "stat missing.txt: file does not exist"),
    ("FROM busybox AS a\nFROM a\n", None),
])
def test_bad_dockerfiles(daemon, df, message):
    status, msgs = build(daemon, {"Dockerfile": df}, "t=bt-bad")
    if message is None:
        assert status == 200 and error(msgs) is None
        return
    got = msgs.decode() if isinstance(msgs, bytes) else json.dumps(msgs)
    assert message in got, got
    assert leftovers(daemon) == []


def test_missing_dockerfile_and_custom_name(daemon):
    status, body = build(daemon, {"x": "y"})
    assert status == 400 and body["message"] == "Cannot locate specified Dockerfile: Dockerfile"
    status, msgs = build(daemon, {"sub/My.df": "FROM busybox\nRUN true\n"},
                         "dockerfile=sub/My.df&t=bt-named")
    assert status == 200 and error(msgs) is None, msgs
    status, msgs = build(daemon, {"dockerfile": "FROM busybox\n"}, "t=bt-lower")
    assert status == 200 and error(msgs) is None  # moby's lower-case fallback


def test_whiteouts_from_rm_and_overwrites(daemon):
    df = "FROM busybox\nRUN mkdir /d && echo x > /d/f && echo y > /keep\nRUN rm -r /d\n"
    s, msgs = build(daemon, {"Dockerfile": df}, "t=bt-rm")
    assert error(msgs) is None, msgs
    assert run_out(daemon, "bt-rm", "sh", "-c", "ls /d 2>&1; cat /keep") == \
        "ls: /d: No such file or directory\ny\n"


def test_multi_stage_copy_from_target_and_skipped_stages(daemon):
    df = ("FROM busybox AS unused\nRUN exit 9\n"
          "FROM busybox AS builder\nRUN echo artefact > /out.txt\n"
          "FROM busybox AS final\nCOPY --from=builder /out.txt /from-stage.txt\n"
          "COPY --from=busybox /bin/busybox /bb\n"
          "FROM final AS extra\nRUN exit 7\n")
    s, msgs = build(daemon, {"Dockerfile": df}, "t=bt-multi&target=final")
    out = text(msgs)
    assert error(msgs) is None, out
    assert "exit 9" not in out and "exit 7" not in out  # stages the target does not need
    assert run_out(daemon, "bt-multi", "cat", "/from-stage.txt") == "artefact\n"
    s, msgs = build(daemon, {"Dockerfile": df}, "t=bt-multi&target=nope")
    got = msgs.decode() if isinstance(msgs, bytes) else json.dumps(msgs)
    assert "failed to reach build target nope in Dockerfile" in got


def test_args_build_args_and_unused_warning(daemon):
    df = ("ARG BASE=busybox\nFROM ${BASE}\nARG WHO=world\nARG EMPTY\nENV FROM_ENV=$WHO\n"
          "RUN echo \"hello $WHO\" > /greeting\n")
    s, msgs = build(daemon, {"Dockerfile": df},
                    "t=bt-args&buildargs=" + quote(json.dumps({"WHO": "you", "NOPE": "x"}))
                    + "&labels=" + quote(json.dumps({"b": "2", "a": "1"})))
    out = text(msgs)
    assert error(msgs) is None, out
    # the classic count: the ARG before FROM is step 1, --label adds the last step
    assert out.startswith("Step 1/7 : ARG BASE=busybox\nStep 2/7 : FROM ${BASE}\n"), out
    assert "Step 7/7 : LABEL a=1 b=2\n" in out
    assert inspect(daemon, "bt-args")["Config"]["Labels"] == {"a": "1", "b": "2"}
    assert "[Warning] One or more build-args [NOPE] were not consumed" in out
    assert run_out(daemon, "bt-args", "cat", "/greeting") == "hello you\n"
    assert "FROM_ENV=you" in inspect(daemon, "bt-args")["Config"]["Env"]
    # the arg is not kept in the image's environment
    assert not any(e.startswith("WHO=") for e in inspect(daemon, "bt-args")["Config"]["Env"])


def test_dockerignore_and_wildcards(daemon):
    files = {"Dockerfile": "FROM busybox\nCOPY *.txt /t/\nCOPY . /all/\n",
             ".dockerignore": "secret.txt\n**/*.log\n!keep.log\n",
             "a.txt": "a", "b.txt": "b", "secret.txt": "s", "x/y.log": "l", "keep.log": "k"}
    s, msgs = build(daemon, files, "t=bt-ignore")
    assert error(msgs) is None, msgs
    listing = run_out(daemon, "bt-ignore", "sh", "-c", "ls /t; echo --; ls -a /all /all/x")
    assert listing.split("--")[0].split() == ["a.txt", "b.txt"]
    assert "secret.txt" not in listing and "y.log" not in listing and "keep.log" in listing
    s, msgs = build(daemon, {**files, "Dockerfile": "FROM busybox\nCOPY secret.txt /\n"})
    assert "excluded by .dockerignore" in (error(msgs) or ""), msgs


def test_copy_chown_chmod_dest_rules_and_symlinks(daemon):
    files = {"Dockerfile": "FROM busybox\nCOPY --chown=nobody:nogroup --chmod=600 f /x/\n"
                           "COPY f /renamed\nCOPY d /dd\nCOPY link /link\n",
             "f": "data\n", "d/inner/g": "g\n", "link": ("link", "/etc/passwd")}
    s, msgs = build(daemon, files, "t=bt-chown")
    assert error(msgs) is None, msgs
    out = run_out(daemon, "bt-chown", "sh", "-c",
                  "stat -c '%U:%G %a' /x/f; cat /renamed; cat /dd/inner/g; readlink /link")
    assert out == "nobody:nogroup 600\ndata\ng\n/etc/passwd\n", out


def test_hostile_context_is_refused_and_links_stay_inside(daemon):
    bad = io.BytesIO()
    with tarfile.open(fileobj=bad, mode="w") as tf:
        data = b"FROM busybox\n"
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("../../escape")
        ti.size = 1
        tf.addfile(ti, io.BytesIO(b"x"))
    status, body = build(daemon, {}, body=bad.getvalue())
    assert status == 400 and "points outside" in body["message"], body
    # a symlink in the context naming a host path is resolved inside the context
    files = {"Dockerfile": "FROM busybox\nCOPY evil/shadow /stolen\n",
             "evil": ("link", "/etc")}
    s, msgs = build(daemon, files, "t=bt-evil")
    assert "file not found in build context" in (error(msgs) or ""), msgs
    assert leftovers(daemon) == []


def test_add_archive_is_unpacked_and_heredocs(daemon):
    inner = io.BytesIO()
    with tarfile.open(fileobj=inner, mode="w:gz") as tf:
        ti = tarfile.TarInfo("pkg/readme")
        ti.size = 3
        tf.addfile(ti, io.BytesIO(b"hi\n"))
    df = ("FROM busybox\nADD pkg.tar.gz /opt/\nARG NAME=there\n"
          "COPY <<EOF /greet.txt\nhello $NAME\nEOF\n"
          "RUN <<EOF\necho from heredoc > /h.txt\nEOF\n")
    s, msgs = build(daemon, {"Dockerfile": df, "pkg.tar.gz": inner.getvalue()}, "t=bt-add")
    assert error(msgs) is None, text(msgs)
    assert run_out(daemon, "bt-add", "cat", "/opt/pkg/readme", "/greet.txt", "/h.txt") == \
        "hi\nhello there\nfrom heredoc\n"


def test_lone_dockerfile_body_and_quiet(daemon):
    status, msgs = build(daemon, {}, "q=1&t=bt-lone", body=b"FROM busybox\nRUN true\n")
    assert status == 200, msgs
    assert len(msgs) == 1 and msgs[0]["stream"].startswith("sha256:"), msgs
    assert inspect(daemon, "bt-lone")["Id"] == msgs[0]["stream"].strip()


def test_client_hangup_stops_the_build_and_cleans_up(daemon):
    body = ctx_tar({"Dockerfile": "FROM busybox\nRUN echo started; sleep 60\n"})
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    conn = http.client.HTTPConnection("localhost", timeout=30)
    conn.sock = s
    conn.request("POST", "/build?t=bt-hangup", body=body,
                 headers={"Content-Type": "application/x-tar"})
    resp = conn.getresponse()
    seen = b""
    while b"started" not in seen:
        seen += resp.read1(4096)
    conn.close()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and leftovers(daemon):
        time.sleep(0.1)
    assert leftovers(daemon) == []
    assert daemon.api("GET", "/images/bt-hangup/json")[0] == 404


def test_add_url_downloads_without_unpacking(daemon):
    import http.server

    payload = b"\x1f\x8b not really gzip"

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", str(len(payload)))
            self.send_header("Last-Modified", "Wed, 21 Oct 2015 07:28:00 GMT")
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_port}/files/blob.tgz"
        s, msgs = build(daemon, {"Dockerfile": f"FROM busybox\nADD {url} /dl/\n"}, "t=bt-url")
        assert error(msgs) is None, msgs
        out = run_out(daemon, "bt-url", "stat", "-c", "%a %Y %s", "/dl/blob.tgz")
        assert out.split() == ["600", "1445412480", str(len(payload))]
    finally:
        srv.shutdown()


def test_build_cache_in_system_df_and_prune(daemon):
    s, msgs = build(daemon, {"Dockerfile": "FROM busybox\nRUN echo p > /p\n"}, "t=bt-prune")
    assert error(msgs) is None
    status, _, df = daemon.api("GET", "/system/df")
    assert any("RUN /bin/sh -c echo p > /p" in c["Description"] for c in df["BuildCache"])
    daemon.cli("rmi", "bt-prune", check=True)
    status, _, res = daemon.api("POST", "/build/prune?all=1")
    assert status == 200 and res["CachesDeleted"], res
    status, _, df = daemon.api("GET", "/system/df")
    assert df["BuildCache"] == []
    # still intact: the images built by the other tests
    assert inspect(daemon, "bt-notes:1")["Id"]
    assert run_out(daemon, "bt-notes:1") == "hello world\n"


def test_cache_from_an_image_after_the_cache_is_gone(daemon):
    files = {"Dockerfile": "FROM busybox\nRUN echo cf > /cf\nENV X=1\nCOPY f /f\n"
                           "RUN echo two > /two\n", "f": "same\n"}
    s, first = build(daemon, files, "t=bt-cf")
    assert error(first) is None, first
    assert daemon.api("POST", "/build/prune?all=1")[0] == 200
    s, again = build(daemon, files, "t=bt-cf2&cachefrom=" + quote(json.dumps(["bt-cf"])))
    out = text(again)
    assert error(again) is None, out
    # RUN, ENV and the RUN after the re-made COPY come from bt-cf
    assert out.count(" ---> Using cache") == 3, out
    # the COPY was made again (a new history time, so a new ID) to the same layer
    assert inspect(daemon, "bt-cf2")["RootFS"] == inspect(daemon, "bt-cf")["RootFS"]


def test_remote_contexts_tar_and_lone_dockerfile(daemon):
    import http.server

    served = {"/ctx.tar": ("application/x-tar", ctx_tar({
        "Dockerfile": "FROM busybox\nCOPY f /f\n", "f": "remote\n"})),
              "/Dockerfile": ("text/plain", b"FROM busybox\nRUN echo lone > /lone\n")}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            ctype, data = served.get(self.path, ("text/plain", b""))
            self.send_response(200 if self.path in served else 404)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *a):
            pass

    srv = http.server.HTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}"
    try:
        s, msgs = build(daemon, {}, f"t=bt-remote&remote={quote(base + '/ctx.tar')}", body=b"")
        assert error(msgs) is None, msgs
        assert run_out(daemon, "bt-remote", "cat", "/f") == "remote\n"
        s, msgs = build(daemon, {}, f"t=bt-remote2&remote={quote(base + '/Dockerfile')}",
                        body=b"")
        assert error(msgs) is None, msgs
        assert run_out(daemon, "bt-remote2", "cat", "/lone") == "lone\n"
        status, body = build(daemon, {}, f"remote={quote(base + '/missing.tar')}", body=b"")
        assert status == 400 and "404" in body["message"], body
        # ADD of a URL that answers 404: docker's error, and no download dir left
        s, msgs = build(daemon, {"Dockerfile": f"FROM busybox\nADD {base}/nope /x\n"})
        assert f"failed to GET {base}/nope with status 404" in (error(msgs) or ""), msgs
    finally:
        srv.shutdown()
    assert leftovers(daemon) == []


def test_cache_survives_a_daemon_restart(daemon):
    files = {"Dockerfile": "FROM busybox\nRUN echo r > /r\nCOPY f /f\n", "f": "x"}
    s, first = build(daemon, files, "t=bt-restart")
    assert error(first) is None, first
    daemon.stop()
    daemon.start()
    s, again = build(daemon, files, "t=bt-restart")
    assert text(again).count(" ---> Using cache") == 2, text(again)
    assert image_id(again) == image_id(first)


def test_rmi_of_a_build_result_takes_its_intermediate_images(daemon):
    files = {"Dockerfile": "FROM busybox\nRUN echo a > /a\nENV K=v\nRUN echo b > /b\n"}
    s, msgs = build(daemon, files, "t=bt-rmi")
    steps = [m["stream"].split()[-1] for m in msgs
             if m.get("stream", "").startswith(" ---> ") and "Using" not in m["stream"]
             and "Running" not in m["stream"]]
    middle = steps[2]
    status, _, body = daemon.api("DELETE", f"/images/{middle}")
    assert status == 409 and "image has dependent child images" in body["message"], body
    ids = daemon.cli("images", "-aq").stdout.decode().split()
    assert middle in ids and middle not in daemon.cli("images", "-q").stdout.decode().split()
    status, _, out = daemon.api("DELETE", "/images/bt-rmi")
    deleted = [d["Deleted"][7:19] for d in out if "Deleted" in d and d["Deleted"].startswith(
        "sha256:") and len(d["Deleted"]) == 71]
    assert middle in deleted and steps[1] in deleted, out
    assert steps[0] not in deleted  # busybox itself is tagged
    s, again = build(daemon, files, "t=bt-rmi")
    assert " ---> Using cache" not in text(again)  # its steps went with it
    status, _, out = daemon.api("DELETE", "/images/bt-rmi?noprune=1")
    assert status == 200 and daemon.cli("images", "-aq").stdout.decode().count("\n") >= 3
