"""Dockerfile semantics through POST /build: FROM scratch, CMD/ENTRYPOINT reset
rules, USER/WORKDIR/VOLUME seen by RUN, ARG scope and proxy args, COPY --from
by index, and hostile contexts (hard links out, bad substitutions)."""

from __future__ import annotations

import io
import json
import tarfile
from urllib.parse import quote

import pytest

from tests.builder.test_build import (
    build,
    ctx_tar,
    error,
    inspect,
    leftovers,
    run_out,
    text,
)
from tests.engine.conftest import running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


def ok(daemon, df: str, tag: str, files=None, query: str = ""):
    s, msgs = build(daemon, {"Dockerfile": df, **(files or {})},
                    f"t={tag}" + (f"&{query}" if query else ""))
    assert s == 200 and error(msgs) is None, msgs
    return msgs


def test_from_scratch_with_copy_from_an_image(daemon):
    ok(daemon, "FROM scratch\nCOPY --from=busybox /bin/busybox /busybox\n"
               'ENTRYPOINT ["/busybox"]\nCMD ["echo", "from scratch"]\n', "bi-scratch")
    doc = inspect(daemon, "bi-scratch")
    assert len(doc["RootFS"]["Layers"]) == 1
    assert run_out(daemon, "bi-scratch") == "from scratch\n"


def test_entrypoint_resets_an_inherited_cmd_but_not_one_set_here(daemon):
    ok(daemon, 'FROM busybox\nCMD ["sh"]\n', "bi-base")
    ok(daemon, 'FROM bi-base\nENTRYPOINT ["echo"]\n', "bi-ep1")
    cfg = inspect(daemon, "bi-ep1")["Config"]
    assert cfg["Entrypoint"] == ["echo"] and not cfg["Cmd"]
    ok(daemon, 'FROM bi-base\nCMD ["hi"]\nENTRYPOINT ["echo"]\n', "bi-ep2")
    assert inspect(daemon, "bi-ep2")["Config"]["Cmd"] == ["hi"]
    assert run_out(daemon, "bi-ep2") == "hi\n"
    ok(daemon, "FROM busybox\nENTRYPOINT echo shell form\n", "bi-ep3")
    assert inspect(daemon, "bi-ep3")["Config"]["Entrypoint"] == ["/bin/sh", "-c",
                                                                 "echo shell form"]


def test_run_sees_user_workdir_and_writes_under_volume_are_kept(daemon):
    msgs = ok(daemon, "FROM busybox\nVOLUME /data\nWORKDIR /srv/app\nRUN mkdir -p /data && pwd > /data/pwd\n"
                      "USER nobody\nRUN id -u\n", "bi-user")
    assert "65534\n" in text(msgs)
    # BuildKit keeps what a RUN writes under a VOLUME (the classic builder lost it)
    assert run_out(daemon, "bi-user", "cat", "/data/pwd") == "/srv/app\n"


def test_arg_scope_proxy_args_and_substitutions(daemon):
    df = ("ARG V=global\nFROM busybox\nRUN echo \"unset:[$V]\"\nARG V\n"
          "RUN echo \"redeclared:[$V] ${V:+set} ${MISSING:-dflt}\"\n"
          "RUN echo \"proxy:[$HTTP_PROXY]\"\n")
    msgs = ok(daemon, df, "bi-args",
              query="buildargs=" + quote(json.dumps({"HTTP_PROXY": "http://proxy:3128"})))
    out = text(msgs)
    assert "unset:[]" in out and "redeclared:[global] set dflt" in out, out
    assert "proxy:[http://proxy:3128]" in out
    hist = json.dumps(daemon.api("GET", "/images/bi-args/history")[2])
    assert "proxy:3128" not in hist  # docker keeps proxy args out of history
    assert not any("PROXY" in e for e in inspect(daemon, "bi-args")["Config"]["Env"])


def test_copy_from_a_stage_by_index(daemon):
    ok(daemon, "FROM busybox\nRUN echo zero > /z\nFROM busybox\nCOPY --from=0 /z /z\n",
       "bi-index")
    assert run_out(daemon, "bi-index", "cat", "/z") == "zero\n"


@pytest.mark.parametrize("df,message", [
    ("FROM busybox\nENV A=${B\n", "failed to process"),
    ("FROM busybox\nCOPY --from=1 /x /x\n", "refers to current or a later build stage"),
    ("FROM busybox\nCOPY a b c\n", "destination must be a directory and end with a /"),
    ("FROM busybox\nEXPOSE 99999\n", "invalid range"),
    ("FROM busybox\nCOPY nothing* /x/\n", "no source files were specified"),
    ("FROM busybox\nRUN nosuchprogram\n", "returned a non-zero code: 127"),
])
def test_bad_steps_give_dockers_errors(daemon, df, message):
    s, msgs = build(daemon, {"Dockerfile": df, "a": "a", "b": "b"}, "t=bi-bad")
    got = msgs["message"] if isinstance(msgs, dict) else (error(msgs) or "")
    assert message in got, msgs
    assert leftovers(daemon) == []


def test_context_hardlink_out_is_refused(daemon):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"FROM busybox\n"
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("shadow")
        ti.type, ti.linkname = tarfile.LNKTYPE, "/etc/shadow"
        tf.addfile(ti)
    status, body = build(daemon, {}, body=buf.getvalue())
    assert status == 400 and "hardlink" in body["message"], body
    # an absolute entry name lands inside the context, as tar does
    status, msgs = build(daemon, {}, "t=bi-abs", body=ctx_tar({
        "/Dockerfile": "FROM busybox\nCOPY /x /x\n", "/x": "inside\n"}))
    assert error(msgs) is None, msgs
    assert run_out(daemon, "bi-abs", "cat", "/x") == "inside\n"
    assert leftovers(daemon) == []


def test_copy_onto_paths_a_run_container_mounts_over_is_kept(daemon):
    ok(daemon, "FROM busybox\nCOPY myhosts /etc/hosts\nRUN echo ran\n", "bi-hosts",
       files={"myhosts": "10.9.8.7 fixed\n"})
    cid = daemon.cli("create", "bi-hosts", check=True).stdout.decode().strip()
    try:
        out = daemon.cli("cp", f"{cid}:/etc/hosts", "-", check=True).stdout
        assert b"10.9.8.7 fixed" in out
    finally:
        daemon.cli("rm", cid)
