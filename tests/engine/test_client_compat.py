"""What docker-py and the docker CLI expect of containers on the API socket: exec's
hijacked stream (framing, errors, detach keys), kill that returns with the container
dead, attach to a stopped container's log, link removal, create's empty values."""

from __future__ import annotations

import json
import socket
import struct

from tests.engine.conftest import name

CTRL_P, CTRL_Q = b"\x10", b"\x11"


def _request(d, method: str, path: str, body: dict | None = None) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(d.sock)
    data = json.dumps(body).encode() if body is not None else b""
    s.sendall(f"{method} {path} HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\n"
              f"Upgrade: tcp\r\nContent-Type: application/json\r\n"
              f"Content-Length: {len(data)}\r\n\r\n".encode() + data)
    return s


def hijack(d, method: str, path: str, body: dict | None = None):
    """(socket, status line, the stream bytes read with the head)."""
    s = _request(d, method, path, body)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        assert chunk, buf
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    return s, head.split(b"\r\n")[0].decode(), rest


def read_to_eof(s: socket.socket, got: bytes = b"") -> bytes:
    while chunk := s.recv(65536):
        got += chunk
    s.close()
    return got


def frames(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    while data:
        stream, size = struct.unpack(">BxxxI", data[:8])
        out.append((stream, data[8:8 + size]))
        data = data[8 + size:]
    return out


def exec_create(d, cid: str, cmd: list[str], **kw) -> str:
    status, _, doc = d.api("POST", f"/containers/{cid}/exec",
                           {"Cmd": cmd, "AttachStdout": True, "AttachStderr": True, **kw})
    assert status == 201, doc
    return doc["Id"]


def running(d, *args: str) -> str:
    n = name()
    d.cli("run", "-d", "--name", n, *args, "busybox", *(["sleep", "300"] if "-t" not in args
                                                           else ["sh"]), check=True)
    return n


def test_exec_stream_starts_after_the_head(daemon):
    """The output of a quick exec is not in the read that takes the 101's head: a
    client reading the head through a buffer (docker-py) sees all of it."""
    n = running(daemon)
    try:
        for _ in range(5):
            eid = exec_create(daemon, n, ["echo", "hello"])
            s, status, rest = hijack(daemon, "POST", f"/exec/{eid}/start", {"Tty": False})
            assert status.startswith("HTTP/1.1 101"), status
            assert rest == b""
            assert frames(read_to_eof(s)) == [(1, b"hello\n")]
            _, _, ins = daemon.api("GET", f"/exec/{eid}/json")
            assert ins["Running"] is False and ins["ExitCode"] == 0 and ins["Pid"] > 0
    finally:
        daemon.cli("rm", "-f", n)


def test_exec_missing_binary_answers_in_the_stream(daemon):
    n = running(daemon)
    try:
        eid = exec_create(daemon, n, ["no-such-binary"])
        s, status, rest = hijack(daemon, "POST", f"/exec/{eid}/start", {})
        assert status.startswith("HTTP/1.1 101"), status
        assert frames(read_to_eof(s, rest)) == [(1, (
            b'OCI runtime exec failed: exec failed: unable to start container process: '
            b'exec: "no-such-binary": executable file not found in $PATH: unknown\r\n'))]
        _, _, ins = daemon.api("GET", f"/exec/{eid}/json")
        assert ins["ExitCode"] == 127 and ins["Running"] is False
        # it has run: a second start is docker's 409
        status, _, _ = daemon.api("POST", f"/exec/{eid}/start", {"Detach": True})
        assert status == 409
    finally:
        daemon.cli("rm", "-f", n)


def test_exec_tty_output_framing_follows_start(daemon):
    """A TTY exec writes through the pty (\\r\\n); a start without Tty frames it as stdout."""
    n = running(daemon)
    try:
        cmd = ["sh", "-c", "echo out; echo err >&2"]
        eid = exec_create(daemon, n, cmd, Tty=True)
        s, _, rest = hijack(daemon, "POST", f"/exec/{eid}/start", {"Tty": False})
        got = frames(read_to_eof(s, rest))
        assert {stream for stream, _ in got} == {1}
        assert b"".join(data for _, data in got) == b"out\r\nerr\r\n"
        eid = exec_create(daemon, n, cmd, Tty=True)
        s, _, rest = hijack(daemon, "POST", f"/exec/{eid}/start", {"Tty": True})
        assert read_to_eof(s, rest) == b"out\r\nerr\r\n"
    finally:
        daemon.cli("rm", "-f", n)


def test_exec_detach_keys_leave_it_running(daemon):
    n = running(daemon)
    try:
        for keys, typed in ((None, CTRL_P + CTRL_Q), ("ctrl-x,a", b"\x18a")):
            extra = {"DetachKeys": keys} if keys else {}
            eid = exec_create(daemon, n, ["cat"], Tty=True, AttachStdin=True, **extra)
            s, status, rest = hijack(daemon, "POST", f"/exec/{eid}/start", {"Tty": True})
            assert status.startswith("HTTP/1.1 101")
            s.sendall(b"echoed\n")
            got = rest
            while got.count(b"echoed\r\n") < 2:  # the pty's echo, then cat's copy
                chunk = s.recv(4096)
                assert chunk, got
                got += chunk
            s.sendall(typed)
            read_to_eof(s)  # the daemon ends the stream: no client-side close needed
            _, _, ins = daemon.api("GET", f"/exec/{eid}/json")
            assert ins["Running"] is True and ins["ExitCode"] is None
        status, _, doc = daemon.api("POST", f"/containers/{n}/exec",
                                    {"Cmd": ["cat"], "DetachKeys": "ctrl-long"})
        assert status == 400 and doc["message"] == "Invalid escape keys (ctrl-long) provided"
    finally:
        daemon.cli("rm", "-f", n)


def test_exec_detached_start_records_its_state(daemon):
    n = running(daemon)
    try:
        eid = exec_create(daemon, n, ["sleep", "300"])
        status, _, _ = daemon.api("POST", f"/exec/{eid}/start", {"Detach": True})
        assert status == 200
        _, _, ins = daemon.api("GET", f"/exec/{eid}/json")
        assert ins["Running"] is True and ins["Pid"] > 0 and ins["ExitCode"] is None
    finally:
        daemon.cli("rm", "-f", n)


def test_attach_detach_keys(daemon):
    n = running(daemon, "-i", "-t")
    try:
        s, status, _ = hijack(daemon, "POST", f"/containers/{n}/attach?stream=1&stdin=1"
                              "&stdout=1&detachKeys=ctrl-a")
        assert status.startswith("HTTP/1.1 101")
        s.sendall(b"\x01")
        read_to_eof(s)
        assert daemon.cli("inspect", "-f", "{{.State.Running}}", n).stdout == b"true\n"
        status, _, doc = daemon.api("POST", f"/containers/{n}/attach?stream=1&stdin=1"
                                    "&detachKeys=ctrl-nope")
        assert status == 400 and doc["message"] == \
            "Invalid detach keys (ctrl-nope) provided"
    finally:
        daemon.cli("rm", "-f", n)


def test_kill_answers_once_dead(daemon):
    for policy in ("no", "always"):
        n = running(daemon, "--restart", policy)
        try:
            status, _, _ = daemon.api("POST", f"/containers/{n}/kill")
            assert status == 204
            _, _, ins = daemon.api("GET", f"/containers/{n}/json")
            assert ins["State"]["Running"] is False and ins["State"]["ExitCode"] == 137
            assert ins["State"]["Status"] == "exited"
            status, _, _ = daemon.api("POST", f"/containers/{n}/kill")
            assert status == 409
        finally:
            daemon.cli("rm", "-f", n)


def test_attach_logs_of_a_stopped_container(daemon):
    n = name()
    daemon.cli("run", "--name", n, "busybox", "sh", "-c", "echo out; echo err >&2",
               check=True)
    try:
        s, status, rest = hijack(daemon, "POST", f"/containers/{n}/attach?logs=1&stream=0"
                                 "&stdout=1&stderr=1")
        assert status.startswith("HTTP/1.1 101"), status
        assert sorted(frames(read_to_eof(s, rest))) == [(1, b"out\n"), (2, b"err\n")]
        # stream=1: the log, then the next run's output (docker's start -a attaches first)
        s, status, rest = hijack(daemon, "POST", f"/containers/{n}/attach?logs=1&stream=1"
                                 "&stdout=1")
        daemon.cli("start", n, check=True)
        assert frames(read_to_eof(s, rest)) == [(1, b"out\n")] * 2
        res = daemon.cli("attach", n)
        assert res.returncode == 1 and b"You cannot attach to a stopped container" in \
            res.stderr
    finally:
        daemon.cli("rm", "-f", n)


def test_remove_link(daemon):
    target = running(daemon)
    n = name()
    try:
        daemon.cli("run", "-d", "--name", n, "--link", f"{target}:db", "busybox", "sleep",
                   "300", check=True)
        status, _, doc = daemon.api("DELETE", f"/containers//{n}/db?link=1")
        assert status == 204, doc
        _, _, ins = daemon.api("GET", f"/containers/{n}/json")
        assert not ins["HostConfig"]["Links"]
        assert ins["State"]["Running"] is True  # both stay
        status, _, _ = daemon.api("DELETE", f"/containers/{n}/db?link=1")
        assert status == 404
        status, _, _ = daemon.api("DELETE", f"/containers/{n}?link=1")
        assert status == 500  # docker: "Conflict, cannot remove the default link name"
        assert daemon.cli("inspect", "-f", "{{.State.Running}}", target).stdout == b"true\n"
    finally:
        daemon.cli("rm", "-f", n, target)


def test_create_empty_values_mean_defaults(daemon):
    """What the docker CLI (a Go client) sends for flags it was not given."""
    body = {"Image": "busybox", "Cmd": ["cat", "/etc/hosts"], "Hostname": "",
            "Domainname": "", "User": "", "WorkingDir": "", "Entrypoint": None,
            "StopSignal": "", "HostConfig": {
                "NetworkMode": "", "RestartPolicy": {"Name": ""}, "Runtime": "",
                "LogConfig": {"Type": "", "Config": {}}, "Memory": 0}}
    n = name()
    status, _, doc = daemon.api("POST", f"/containers/create?name={n}", body)
    assert status == 201, doc
    cid = doc["Id"]
    try:
        _, _, ins = daemon.api("GET", f"/containers/{cid}/json")
        assert ins["Config"]["Hostname"] == cid[:12]
        hc = ins["HostConfig"]
        assert hc["NetworkMode"] == "default" and hc["RestartPolicy"]["Name"] == "no"
        assert hc["LogConfig"]["Type"] == "json-file" and hc["Runtime"] == "runc"
        out = daemon.cli("start", "-a", n, check=True).stdout.decode()
        assert any(line.split()[1:] == [cid[:12]] for line in out.splitlines()
                   if line and not line.startswith("#")), out
        status, _, doc = daemon.api("POST", "/containers/create",
                                    {**body, "HostConfig": {"Runtime": "runc"}})
        assert status == 201
        _, _, ins = daemon.api("GET", f"/containers/{doc['Id']}/json")
        assert ins["HostConfig"]["Runtime"] == "runc"
        daemon.cli("rm", doc["Id"], check=True)
        for other in ("nosuch", "crun"):  # every container runs on the daemon's runtime
            status, _, doc = daemon.api("POST", "/containers/create",
                                        {**body, "HostConfig": {"Runtime": other}})
            assert status == 400, doc
            assert doc["message"] == f"unknown or invalid runtime name: {other}"
        _, _, info = daemon.api("GET", "/info")
        assert info["DefaultRuntime"] == "runc" and list(info["Runtimes"]) == ["runc"]
    finally:
        daemon.cli("rm", "-f", cid)



def test_wait_returns_at_an_exit_the_policy_restarts(daemon):
    """moby's SetRestarting wakes not-running waiters: docker-py's wait on a
    --restart always container returns (its restart_policy test hung here)."""
    n = name()
    daemon.cli("run", "-d", "--name", n, "--restart", "always", "busybox", "sh", "-c",
               "sleep 1; exit 3", check=True)
    try:
        status, _, doc = daemon.api("POST", f"/containers/{n}/wait")
        assert status == 200 and doc["StatusCode"] == 3
        status, _, doc = daemon.api("DELETE", f"/containers/{n}")
        assert status == 409 and "stop the container before" in doc["message"].lower()
    finally:
        daemon.cli("rm", "-f", n)


def test_volume_subpath(daemon):
    """--mount volume-subpath=: only that part of the volume, resolved inside it."""
    vol, n = name(), name()
    daemon.cli("volume", "create", vol, check=True)
    try:
        daemon.cli("run", "--rm", "-v", f"{vol}:/v", "busybox", "sh", "-c",
                   "mkdir -p /v/sub/deep && echo inside > /v/sub/deep/f && echo top > /v/top"
                   " && ln -s / /v/escape && ln -s ../.. /v/sub/up", check=True)
        out = daemon.cli("run", "--rm", "--mount",
                         f"type=volume,src={vol},dst=/d,volume-subpath=sub", "busybox", "sh",
                         "-c", "cat /d/deep/f; ls /d", check=True).stdout
        assert out == b"inside\ndeep\nup\n"
        # a symlink in the volume resolves with the volume as its root: never the host's /
        out = daemon.cli("run", "--rm", "--mount",
                         f"type=volume,src={vol},dst=/d,volume-subpath=escape", "busybox",
                         "ls", "/d", check=True).stdout.split()
        assert sorted(out) == [b"escape", b"sub", b"top"]
        out = daemon.cli("run", "--rm", "--mount",
                         f"type=volume,src={vol},dst=/d,volume-subpath=sub/up", "busybox",
                         "cat", "/d/top", check=True).stdout
        assert out == b"top\n"
        res = daemon.cli("run", "--name", n, "--mount",
                         f"type=volume,src={vol},dst=/d,volume-subpath=nope", "busybox", "true")
        assert res.returncode != 0 and b"cannot access path" in res.stderr
        assert b"nope: no such file or directory" in res.stderr
        res = daemon.cli("run", "--rm", "--mount",
                         f"type=volume,src={vol},dst=/d,volume-subpath=../x", "busybox", "true")
        assert b"subpath must be a relative path within the volume" in res.stderr
    finally:
        daemon.cli("rm", "-f", n)
        daemon.cli("volume", "rm", vol)
    with open("/proc/self/mountinfo") as f:  # no subpath bind left behind
        assert not [line for line in f if daemon.root in line and "/subpaths/" in line]


def test_diff_leaves_out_the_mount_stubs_parent(daemon):
    """docker's diff of a container that only added /test is just that (its hosts,
    hostname and resolv.conf live in the init layer, not under a changed /etc)."""
    n = name()
    daemon.cli("run", "--name", n, "busybox", "touch", "/test", check=True)
    try:
        status, _, doc = daemon.api("GET", f"/containers/{n}/changes")
        assert status == 200 and doc == [{"Path": "/test", "Kind": 1}]
        daemon.cli("start", "-a", n, check=True)
        n2 = name()
        daemon.cli("run", "--name", n2, "busybox", "touch", "/etc/mine", check=True)
        try:
            _, _, doc = daemon.api("GET", f"/containers/{n2}/changes")
            assert sorted(doc, key=lambda x: x["Path"]) == [
                {"Path": "/etc", "Kind": 0}, {"Path": "/etc/mine", "Kind": 1}]
        finally:
            daemon.cli("rm", n2)
    finally:
        daemon.cli("rm", n)


def test_names_with_slashes_and_spaces_reach_their_handlers(daemon):
    """moby's {name:.*} routes: the docker CLI's inspect of an image reference asks the
    containers first, and must hear "No such container" (404) to go on; a network
    name with a space is found by `inspect` through the image route's refusal."""
    status, _, doc = daemon.api("GET", "/containers/docker.io/library/busybox:latest/json")
    assert status == 404 and doc["message"].startswith("No such container"), doc
    out = daemon.cli("inspect", "-f", "{{.RepoTags}}", "docker.io/library/busybox:latest",
                     check=True).stdout.decode()
    assert out == "[busybox:latest]\n"
    net = name() + " x"
    daemon.cli("network", "create", net, check=True)
    try:
        out = daemon.cli("inspect", "-f", "{{.Name}}", net, check=True).stdout.decode()
        assert out == net + "\n"
    finally:
        daemon.cli("network", "rm", net, check=True)


def test_endpoint_links_resolve_on_their_network(daemon):
    """docker-py's links= in an endpoint config (at create and at connect): the alias
    resolves, for that container only, on that network (moby: an endpoint's links
    are names in the embedded DNS)."""
    net, up, other = name(), name(), name()
    daemon.cli("network", "create", net, check=True)
    made = []
    try:
        for n in (up, other):
            daemon.cli("run", "-d", "--name", n, "--network", net, "busybox", "sleep", "300",
                       check=True)
            made.append(n)
        status, _, doc = daemon.api("POST", f"/containers/create?name={name()}", {
            "Image": "busybox", "Cmd": ["sleep", "300"], "HostConfig": {"NetworkMode": net},
            "NetworkingConfig": {"EndpointsConfig": {net: {"Links": [f"{up}:bar"]}}}})
        assert status == 201, doc
        made.append(doc["Id"])
        daemon.cli("start", doc["Id"], check=True)
        res = daemon.cli("exec", doc["Id"], "nslookup", "bar")
        assert res.returncode == 0, res.stdout + res.stderr
        ip = json.loads(daemon.cli("inspect", up, check=True).stdout)[0][
            "NetworkSettings"]["Networks"][net]["IPAddress"]
        assert ip in res.stdout.decode()
        # another container on the network has no such name
        assert daemon.cli("exec", other, "nslookup", "bar").returncode != 0
        # links= at connect
        daemon.cli("network", "disconnect", net, other, check=True)
        status, _, doc2 = daemon.api("POST", f"/networks/{net}/connect", {
            "Container": other, "EndpointConfig": {"Links": [f"{up}:baz"]}})
        assert status == 200, doc2
        res = daemon.cli("exec", other, "nslookup", "baz")
        assert res.returncode == 0 and ip in res.stdout.decode(), res.stdout + res.stderr
    finally:
        daemon.cli("rm", "-f", *made)
        daemon.cli("network", "rm", net)


def _exec_events(daemon, since: int, cid: str) -> list[dict]:
    import time
    import urllib.parse

    filters = urllib.parse.quote(json.dumps({"container": [cid]}))
    _, _, data = daemon.api("GET", f"/events?since={since}&until={int(time.time()) + 1}"
                                   f"&filters={filters}")
    text = data.decode() if isinstance(data, bytes) else json.dumps(data)
    return [e for e in map(json.loads, filter(str.strip, text.split("\n")))
            if e["Action"].startswith("exec_")]


def test_exec_events(daemon):
    """moby's exec_create: CMD, exec_start: CMD and exec_die (execID, exitCode), for an
    attached exec and for a detached one, whose end nobody reads."""
    import time

    n = running(daemon)
    cid = json.loads(daemon.cli("inspect", n, check=True).stdout)[0]["Id"]
    since = int(time.time())
    try:
        assert daemon.cli("exec", n, "sh", "-c", "exit 3").returncode == 3
        eid = exec_create(daemon, cid, ["sleep", "0.2"])
        status, _, _ = daemon.api("POST", f"/exec/{eid}/start", {"Detach": True})
        assert status == 200
        for _ in range(100):
            events = _exec_events(daemon, since, cid)
            if sum(e["Action"] == "exec_die" for e in events) == 2:
                break
            time.sleep(0.1)
        actions = [e["Action"] for e in events]
        assert actions == ["exec_create: sh -c exit 3", "exec_start: sh -c exit 3",
                           "exec_die", "exec_create: sleep 0.2", "exec_start: sleep 0.2",
                           "exec_die"], actions
        dies = [e["Actor"]["Attributes"] for e in events if e["Action"] == "exec_die"]
        assert [d["exitCode"] for d in dies] == ["3", "0"]
        assert dies[1]["execID"] == eid and events[3]["Actor"]["Attributes"]["execID"] == eid
    finally:
        daemon.cli("rm", "-f", n)


def test_link_names_are_listed(daemon):
    """docker's ps: a linked container is also named /linker/alias (docker-py's
    test_create_with_links_and_ports looks it up by that name)."""
    target, linker = running(daemon), name()
    daemon.cli("run", "-d", "--name", linker, "--link", f"{target}:db", "busybox", "sleep",
               "300", check=True)
    try:
        _, _, listed = daemon.api("GET", "/containers/json")
        names = next(c["Names"] for c in listed if f"/{target}" in c["Names"])
        assert names == [f"/{target}", f"/{linker}/db"]
        out = daemon.cli("ps", "--format", "{{.Names}}", check=True).stdout.decode().split()
        assert target in out and f"{linker}/db" not in ",".join(out)
        out = daemon.cli("ps", "--no-trunc", "--format", "{{.Names}}", check=True).stdout
        assert f"{target},{linker}/db" in out.decode().split()
    finally:
        daemon.cli("rm", "-f", linker, target)


def _ws_attach(daemon, cid: str, query: str):
    """A websocket client (wsproto) on GET /containers/{cid}/attach/ws: (socket, conn)."""
    from wsproto import WSConnection
    from wsproto.connection import ConnectionType
    from wsproto.events import AcceptConnection, Request

    ws = WSConnection(ConnectionType.CLIENT)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(daemon.sock)
    s.sendall(ws.send(Request(host="docker", target=f"/v1.47/containers/{cid}/attach/ws?"
                                                   + query)))
    while True:
        data = s.recv(65536)
        assert data, "closed during the handshake"
        ws.receive_data(data)
        events = list(ws.events())
        if any(isinstance(e, AcceptConnection) for e in events):
            return s, ws, events


def _ws_read_until(s, ws, pending, needle: bytes) -> bytes:
    from wsproto.events import BytesMessage, CloseConnection

    got = b""
    closed = False
    events = list(pending)
    while True:
        for e in events:
            if isinstance(e, BytesMessage):
                got += e.data
            elif isinstance(e, CloseConnection):
                closed = True
        if needle in got or closed:
            return got
        data = s.recv(65536)
        ws.receive_data(data or None)
        events = list(ws.events())


def test_attach_over_websocket(daemon):
    """attach/ws: the container's output raw (no stream headers) in binary frames, the
    client's frames as its input; logs=1 gives the log first (moby's wsContainersAttach)."""
    from wsproto.events import BytesMessage, CloseConnection

    n = name()
    daemon.cli("run", "-di", "--name", n, "busybox", "sh", "-c",
               "echo started; while read l; do echo got-$l; echo err-$l >&2; done",
               check=True)
    try:
        # -d attaches nothing: stdin stays open when an attach ends (docker/cli)
        assert json.loads(daemon.cli("inspect", n, check=True).stdout)[0]["Config"][
            "StdinOnce"] is False
        for _ in range(100):
            if b"started" in daemon.cli("logs", n).stdout:
                break
        s, ws, events = _ws_attach(daemon, n, "logs=1&stream=1&stdin=1&stdout=1&stderr=1")
        got = _ws_read_until(s, ws, [e for e in events if isinstance(e, BytesMessage)],
                             b"started\n")
        assert got == b"started\n"  # the log, raw
        s.sendall(ws.send(BytesMessage(data=b"one\n")))
        got = _ws_read_until(s, ws, [], b"err-one\n")
        assert b"got-one\n" in got and b"err-one\n" in got and b"\x01\x00" not in got
        s.sendall(ws.send(CloseConnection(code=1000)))
        s.close()
        out = daemon.cli("inspect", "-f", "{{.State.Status}}", n).stdout.decode().strip()
        assert out == "running"
        status, _, doc = daemon.api("GET", f"/containers/{n}/attach/ws?stream=1")
        assert status == 400 and "websocket" in doc["message"]  # not a handshake
    finally:
        daemon.cli("rm", "-f", n)


def test_create_keys_in_docker_py_spelling(daemon):
    """docker-py's CPURealtimePeriod/CPURealtimeRuntime: Go's decoder folds case, so
    docker records them as CpuRealtime* (docker-py's test_create_with_cpu_rt_options)."""
    import os

    if not os.path.exists("/sys/fs/cgroup/cpu/cpu.rt_period_us"):
        import pytest

        pytest.skip("no real-time group scheduling here (docker refuses these too)")
    status, _, doc = daemon.api("POST", "/containers/create", {
        "Image": "busybox", "Cmd": ["true"],
        "HostConfig": {"CPURealtimePeriod": 1000, "CPURealtimeRuntime": 500}})
    assert status == 201, doc
    try:
        _, _, ins = daemon.api("GET", f"/containers/{doc['Id']}/json")
        hc = ins["HostConfig"]
        assert (hc["CpuRealtimePeriod"], hc["CpuRealtimeRuntime"]) == (1000, 500)
        assert "CPURealtimePeriod" not in hc
    finally:
        daemon.cli("rm", "-f", doc["Id"])
