"""The Engine API with a plain HTTP client: shapes, status codes, versions, hijack."""

from __future__ import annotations

import json
import os
import socket
import struct
import time

from tests.engine.conftest import name


def test_ping_version_info(daemon):
    for path in ("/_ping", "/v1.41/_ping", "/v1.47/_ping"):
        status, headers, body = daemon.api("GET", path)
        assert status == 200 and body == b"OK"
        assert headers["Api-Version"] == "1.47"
    status, _, body = daemon.api("HEAD", "/_ping")
    assert status == 200
    status, _, v = daemon.api("GET", "/v1.43/version")
    assert status == 200 and v["ApiVersion"] == "1.47" and v["Os"] == "linux"
    status, _, info = daemon.api("GET", "/info")
    assert info["Driver"] == "overlay2" and info["Images"] >= 1
    status, _, body = daemon.api("GET", "/v1.99/version")
    assert status == 400 and "too new" in body["message"]


def test_errors_are_docker_shaped(daemon):
    status, _, body = daemon.api("GET", "/containers/nope/json")
    assert status == 404 and body == {"message": "No such container: nope"}
    status, _, body = daemon.api("GET", "/images/nothere/json")
    assert status == 404 and body["message"] == "No such image: nothere:latest"
    status, _, body = daemon.api("POST", "/containers/create", {"Image": "nothere"})
    assert status == 404
    status, _, body = daemon.api("GET", "/no/such/route")
    assert status == 404
    status, _, body = daemon.api("POST", "/containers/create", b"{bad json",
                                 {"Content-Type": "application/json"})
    assert status == 400


def test_create_start_wait_logs_delete(daemon):
    n = name()
    status, _, body = daemon.api("POST", f"/v1.41/containers/create?name={n}", {
        "Image": "busybox", "Cmd": ["sh", "-c", "echo to-out; echo to-err >&2; exit 2"]})
    assert status == 201 and len(body["Id"]) == 64 and body["Warnings"] == []
    cid = body["Id"]
    status, _, doc = daemon.api("GET", f"/containers/{n}/json")
    assert doc["Id"] == cid and doc["State"]["Status"] == "created"
    assert doc["Config"]["Cmd"] == ["sh", "-c", "echo to-out; echo to-err >&2; exit 2"]
    assert doc["HostConfig"]["NetworkMode"] == "default"
    status, _, _ = daemon.api("POST", f"/containers/{cid}/start")
    assert status == 204
    status, _, body = daemon.api("POST", f"/containers/{cid}/wait")
    assert status == 200 and body == {"StatusCode": 2, "Error": None}
    status, _, body = daemon.api("POST", f"/containers/{cid}/start")
    assert status == 204  # restarting an exited container
    daemon.api("POST", f"/containers/{cid}/wait")
    status, headers, raw = daemon.api("GET", f"/containers/{cid}/logs?stdout=1&stderr=1")
    assert headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
    frames = []
    i = 0
    while i < len(raw):
        stream, size = struct.unpack(">BxxxI", raw[i:i + 8])
        frames.append((stream, raw[i + 8:i + 8 + size]))
        i += 8 + size
    assert (1, b"to-out\n") in frames and (2, b"to-err\n") in frames
    status, _, _ = daemon.api("GET", f"/containers/{cid}/logs?stdout=1&tail=1")
    status, _, lst = daemon.api("GET", "/containers/json?all=1")
    assert any(c["Id"] == cid and c["Names"] == ["/" + n] for c in lst)
    status, _, _ = daemon.api("DELETE", f"/containers/{cid}")
    assert status == 204
    status, _, _ = daemon.api("DELETE", f"/containers/{cid}")
    assert status == 404


def test_start_running_is_304_and_stop_stopped_is_304(daemon):
    status, _, body = daemon.api("POST", "/containers/create", {"Image": "busybox",
                                                                "Cmd": ["sleep", "300"]})
    cid = body["Id"]
    assert daemon.api("POST", f"/containers/{cid}/start")[0] == 204
    assert daemon.api("POST", f"/containers/{cid}/start")[0] == 304
    assert daemon.api("POST", f"/containers/{cid}/stop?t=1")[0] == 204
    assert daemon.api("POST", f"/containers/{cid}/stop")[0] == 304
    status, _, body = daemon.api("POST", f"/containers/{cid}/kill")
    assert status == 409 and "is not running" in body["message"]
    daemon.api("DELETE", f"/containers/{cid}?force=1")


def _hijack(daemon, path: str, body: bytes = b"") -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(daemon.sock)
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
              f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    head = b""
    while b"\r\n\r\n" not in head:
        head += s.recv(1)
    assert head.startswith(b"HTTP/1.1 101"), head
    assert b"Upgrade: tcp" in head
    return s


def _read_all(s: socket.socket, timeout: float = 10) -> bytes:
    s.settimeout(timeout)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def test_attach_hijack_framing_and_stdin(daemon):
    status, _, body = daemon.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["sh", "-c", "read line; echo got:$line; echo e >&2"],
        "OpenStdin": True, "StdinOnce": True, "AttachStdin": True})
    cid = body["Id"]
    s = _hijack(daemon, f"/v1.41/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1")
    assert daemon.api("POST", f"/containers/{cid}/start")[0] == 204
    s.sendall(b"hello\n")
    s.shutdown(socket.SHUT_WR)
    raw = _read_all(s)
    assert raw.startswith(struct.pack(">BxxxI", 1, len(b"got:hello\n")) + b"got:hello\n")
    assert struct.pack(">BxxxI", 2, 2) + b"e\n" in raw
    assert daemon.api("POST", f"/containers/{cid}/wait")[2]["StatusCode"] == 0
    daemon.api("DELETE", f"/containers/{cid}")


def test_exec_api(daemon):
    status, _, body = daemon.api("POST", "/containers/create", {"Image": "busybox",
                                                                "Cmd": ["sleep", "300"]})
    cid = body["Id"]
    daemon.api("POST", f"/containers/{cid}/start")
    status, _, body = daemon.api("POST", f"/containers/{cid}/exec", {
        "Cmd": ["sh", "-c", "echo in-exec; exit 5"], "AttachStdout": True,
        "AttachStderr": True})
    assert status == 201
    eid = body["Id"]
    s = _hijack(daemon, f"/exec/{eid}/start", json.dumps({"Detach": False}).encode())
    raw = _read_all(s)
    assert raw == struct.pack(">BxxxI", 1, 8) + b"in-exec\n"
    for _ in range(100):
        status, _, ex = daemon.api("GET", f"/exec/{eid}/json")
        if ex["ExitCode"] is not None and not ex["Running"]:
            break
        time.sleep(0.02)
    assert ex["ExitCode"] == 5 and ex["ContainerID"] == cid
    status, _, body = daemon.api("POST", f"/exec/{eid}/start", {"Detach": True})
    assert status == 409
    daemon.api("DELETE", f"/containers/{cid}?force=1")


def test_images_api(daemon):
    status, _, imgs = daemon.api("GET", "/images/json")
    bb = next(i for i in imgs if "busybox:latest" in i["RepoTags"])
    assert bb["Id"].startswith("sha256:") and bb["Size"] > 0
    status, _, doc = daemon.api("GET", "/images/busybox/json")
    assert doc["Config"]["Cmd"] == ["sh"] and doc["RootFS"]["Type"] == "layers"
    status, _, hist = daemon.api("GET", "/images/busybox/history")
    assert hist[0]["Id"] == bb["Id"]
    assert daemon.api("POST", "/images/busybox/tag?repo=localhost:5000/bb&tag=v1")[0] == 201
    status, _, doc = daemon.api("GET", "/images/localhost:5000/bb:v1/json")
    assert status == 200 and "localhost:5000/bb:v1" in doc["RepoTags"]
    status, _, out = daemon.api("DELETE", "/images/localhost:5000/bb:v1")
    assert out == [{"Untagged": "localhost:5000/bb:v1"}]


def test_events_since(daemon):
    t0 = time.time() - 1
    n = name()
    daemon.cli("run", "--rm", "--name", n, "busybox", "true", check=True)
    status, _, raw = daemon.api("GET", f"/events?since={t0}&until={time.time() + 0.5}")
    events = [json.loads(x) for x in raw.splitlines() if x.strip()]
    actions = [e["Action"] for e in events if e["Actor"]["Attributes"].get("name") == n]
    assert actions[:3] == ["create", "start", "die"] and "destroy" in actions


def test_a_finished_exec_leaves_the_record_and_the_run_dir(daemon):
    """docker's ExecIDs list running execs only; the shim's result file is read once."""
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "300", check=True)
    try:
        for _ in range(3):
            daemon.cli("exec", n, "true", check=True)
        status, _, doc = daemon.api("GET", f"/containers/{n}/json")
        assert doc["ExecIDs"] is None
        run_dir = os.path.join(daemon.exec_root, "containers", doc["Id"])
        assert [f for f in os.listdir(run_dir) if f.startswith("exec-")] == []
    finally:
        daemon.cli("rm", "-f", n)


def test_stop_sends_dockers_kill_event_first(daemon):
    """moby: stop signals through kill, so its events are kill (signal=15), then kill
    (signal=9) at the timeout (sleep as PID 1 ignores SIGTERM), die, stop."""
    t0 = time.time() - 1
    n = name()
    daemon.cli("run", "-d", "--name", n, "busybox", "sleep", "30", check=True)
    daemon.cli("stop", "-t", "1", n, check=True)
    _, _, raw = daemon.api("GET", f"/events?since={t0}&until={time.time() + 0.5}")
    mine = [json.loads(x) for x in raw.splitlines() if x.strip()]
    mine = [e for e in mine if e["Actor"]["Attributes"].get("name") == n]
    acts = [e["Action"] for e in mine]
    assert acts[acts.index("kill"):] == ["kill", "kill", "die", "stop"]
    assert [e["Actor"]["Attributes"]["signal"] for e in mine if e["Action"] == "kill"] == \
        ["15", "9"]
    daemon.cli("rm", n, check=True)


def test_a_200kb_request_header_gets_431_and_the_daemon_serves_on(daemon):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(daemon.sock)
    try:
        s.sendall(b"GET /_ping HTTP/1.1\r\nHost: d\r\nX-Big: " + b"a" * 200_000 + b"\r\n\r\n")
    except (BrokenPipeError, ConnectionResetError):
        pass  # it may stop reading once it has answered: the answer is still there
    data = b""
    while chunk := s.recv(65536):
        data += chunk
    s.close()
    status = int(data.split(b" ", 2)[1])
    assert status in (431, 400), data[:200]
    body = json.loads(data.partition(b"\r\n\r\n")[2])
    assert "header" in body["message"].lower()
    # the next client is served (and a header of a few KB is fine)
    status, _, body = daemon.api("GET", "/_ping", headers={"X-Registry-Auth": "e" * 30_000})
    assert status == 200 and body == b"OK"


def test_a_body_of_wrong_types_is_a_400_not_a_500(daemon):
    """docker decodes into Go structs: a wrong type is 'json: cannot unmarshal' (400)."""
    bad = [("/containers/create", {"Image": 5}),
           ("/containers/create", {"Image": "busybox", "Cmd": 5}),
           ("/containers/create", {"Image": "busybox", "Env": [1]}),
           ("/containers/create", {"Image": "busybox", "HostConfig": "x"}),
           ("/containers/create", {"Image": "busybox", "HostConfig": {"Memory": "x"}}),
           ("/containers/create", {"Image": "busybox", "HostConfig": {"Binds": [5]}}),
           ("/containers/create", {"Image": "busybox", "Labels": [1]}),
           ("/containers/create", {"Image": "busybox", "NetworkingConfig": {
               "EndpointsConfig": 5}}),
           ("/networks/create", {"Name": 5}),
           ("/networks/create", {"Name": "x", "IPAM": "y"}),
           ("/volumes/create", {"Name": 5}),
           ("/volumes/create", {"Name": "v", "DriverOpts": "x"})]
    for path, body in bad:
        status, _, doc = daemon.api("POST", path, body)
        assert status == 400 and "cannot unmarshal" in doc["message"], (path, body, doc)
    status, _, doc = daemon.api("GET", '/containers/json?filters={"status":5}')
    assert status == 400, doc
    # what clients send is still taken: strslice as a string, nulls, unknown fields
    n = name()
    status, _, doc = daemon.api("POST", f"/containers/create?name={n}", {
        "Image": "busybox", "Cmd": "true", "Entrypoint": None, "Env": None, "Labels": {"a": "b"},
        "HostConfig": {"CapAdd": "NET_ADMIN", "PortBindings": {"80/tcp": None},
                       "SomethingNew": {"x": 1}}, "FutureField": 1})
    assert status == 201, doc
    daemon.api("DELETE", f"/containers/{n}")
