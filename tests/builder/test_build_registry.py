"""Builds whose FROM image lives in a registry: pulled during the build with the
credentials of X-Registry-Config, and pulled again with pull=1."""

from __future__ import annotations

import base64
import json
import shutil

import pytest

from tests.builder.test_build import build, error, image_id, leftovers, run_out, text
from tests.engine.conftest import running_daemon
from tests.registry.conftest import Registry

pytestmark = pytest.mark.skipif(shutil.which("docker-registry") is None,
                                reason="docker-registry is not installed")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory, busybox_tar):
    with running_daemon(tmp_path_factory, busybox_tar) as d:
        yield d


@pytest.fixture
def auth_registry(tmp_path):
    import bcrypt

    pw = tmp_path / "htpasswd"
    pw.write_text("alice:" + bcrypt.hashpw(b"s3cret", bcrypt.gensalt(rounds=4)).decode() +
                  "\n")
    r = Registry(str(tmp_path), f"auth:\n  htpasswd:\n    realm: test\n    path: {pw}\n")
    yield r
    r.stop()


def b64(doc: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


def push(daemon, ref: str, auth: dict) -> None:
    daemon.cli("tag", "busybox", ref, check=True)
    name, _, tag = ref.rpartition(":")
    status, _, body = daemon.api("POST", f"/images/{name}/push?tag={tag}",
                                 headers={"X-Registry-Auth": b64(auth)})
    assert status == 200 and b"errorDetail" not in (body if isinstance(body, bytes)
                                                      else json.dumps(body).encode()), body
    daemon.cli("rmi", ref, check=True)


def test_from_a_private_registry_with_x_registry_config(daemon, auth_registry):
    ref = f"{auth_registry.host}/team/base:1"
    creds = {"username": "alice", "password": "s3cret"}
    push(daemon, ref, creds)
    files = {"Dockerfile": f"FROM {ref}\nRUN echo pulled > /p\n"}
    s, msgs = build(daemon, files, "t=bt-reg-nocreds")
    assert s != 200 or error(msgs), msgs  # no credentials: the pull is refused
    config = {auth_registry.host: {**creds, "serveraddress": auth_registry.host}}
    s, msgs = build(daemon, files, "t=bt-reg",
                    headers={"X-Registry-Config": b64(config)})
    assert s == 200 and error(msgs) is None, msgs
    assert any(m.get("status", "").startswith("Pulling from team/base") for m in msgs), msgs
    assert run_out(daemon, "bt-reg", "cat", "/p") == "pulled\n"
    # --pull pulls again although the image is here ("up to date" then)
    s, again = build(daemon, files, "t=bt-reg&pull=1",
                     headers={"X-Registry-Config": b64(config)})
    assert error(again) is None, again
    assert any("Image is up to date" in m.get("status", "") for m in again), again
    assert image_id(again) == image_id(msgs)
    assert " ---> Using cache" in text(again)
    assert leftovers(daemon) == []
