"""The etcd client: failover between members and errors, on httpx's mock
transport (root-free); a real etcd, when installed, for CAS, leases and watch."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import threading
import time

import httpx
import pytest

from dockling.cluster.etcd import Etcd, StoreError, StoreUnavailable, prefix_end
from dockling.errors import Unavailable
from dockling.testing.net import free_port

A, B = "http://10.9.9.1:2379", "http://10.9.9.2:2379"


def _client(handler) -> Etcd:
    return Etcd([A, B], transport=httpx.MockTransport(handler))


def _kv(key: str, value: str) -> dict:
    return {"key": base64.b64encode(key.encode()).decode(),
            "value": base64.b64encode(value.encode()).decode(), "mod_revision": "7"}


def test_a_refusing_member_passes_the_call_on():
    seen = []

    def handler(req: httpx.Request) -> httpx.Response:
        seen.append(str(req.url))
        if req.url.host == "10.9.9.1":
            raise httpx.ConnectError("refused", request=req)
        return httpx.Response(200, json={"header": {"revision": "3"},
                                         "kvs": [_kv("/d/x", "1")]})
    e = _client(handler)
    assert e.get("/d/x").value == b"1"
    assert e.get("/d/x").mod_revision == 7
    # the member that answered is asked first next time
    assert seen == [f"{A}/v3/kv/range", f"{B}/v3/kv/range", f"{B}/v3/kv/range"]


def test_a_member_without_quorum_passes_the_call_on_then_unavailable_names_all():
    def handler(req: httpx.Request) -> httpx.Response:
        if req.url.host == "10.9.9.1":
            return httpx.Response(503, json={"error": "etcdserver: request timed out",
                                             "code": 14})
        raise httpx.ConnectError("refused", request=req)
    with pytest.raises(StoreUnavailable) as err:
        _client(handler).put("/d/x", "1")
    assert isinstance(err.value, Unavailable) and err.value.status == 503
    assert A in str(err.value) and B in str(err.value)


def test_other_errors_are_not_retried():
    calls = []

    def handler(req: httpx.Request) -> httpx.Response:
        calls.append(req.url.host)
        return httpx.Response(400, json={"error": "etcdserver: key is not provided",
                                         "code": 3})
    with pytest.raises(StoreError, match="key is not provided") as err:
        _client(handler).put("", "1")
    assert not isinstance(err.value, StoreUnavailable) and calls == ["10.9.9.1"]


def test_txn_without_succeeded_is_a_lost_compare():
    def handler(req: httpx.Request) -> httpx.Response:
        body = json.loads(req.content)
        assert body["compare"][0]["target"] == "CREATE"
        return httpx.Response(200, json={"header": {"revision": "9"}})  # gateway drops false
    assert _client(handler).create("/d/x", "1") is False


def test_prefix_end():
    assert prefix_end("/d/") == "/d0"


# -- a real etcd ---------------------------------------------------------------------------
@pytest.fixture
def etcd(tmp_path):
    if shutil.which("etcd") is None:
        pytest.skip("needs etcd (apt-get install etcd-server)")
    client, peer = free_port("127.0.0.1"), free_port("127.0.0.1")
    url = f"http://127.0.0.1:{client}"
    proc = subprocess.Popen(
        ["etcd", "--name", "t", "--data-dir", str(tmp_path / "data"), "--listen-client-urls",
         url, "--advertise-client-urls", url, "--listen-peer-urls",
         f"http://127.0.0.1:{peer}", "--initial-advertise-peer-urls",
         f"http://127.0.0.1:{peer}", "--initial-cluster", f"t=http://127.0.0.1:{peer}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    e = Etcd([url])
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                e.range("/")
                break
            except StoreUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield e
    finally:
        e.close()
        proc.kill()
        proc.wait()


def test_create_is_compare_and_swap(etcd):
    assert etcd.create("/t/ip/10.0.0.2", "a")
    assert not etcd.create("/t/ip/10.0.0.2", "b")
    assert etcd.get("/t/ip/10.0.0.2").value == b"a"


def test_watch_sees_changes_and_a_lease_expiry_then_resumes_after_the_last(etcd):
    _, rev = etcd.range("/t/")
    got: list[tuple[str, str]] = []
    stop = threading.Event()

    def on_events(events):
        got.extend((ev.type, ev.kv.key) for ev in events)

    t = threading.Thread(target=etcd.watch, args=("/t/", rev + 1, on_events, stop))
    t.start()
    try:
        lease = etcd.grant(2)
        etcd.put("/t/ep/1", "x", lease)
        etcd.put("/t/other", "y")
        deadline = time.monotonic() + 15
        while ("DELETE", "/t/ep/1") not in got and time.monotonic() < deadline:
            time.sleep(0.1)  # the lease, never kept alive, expires
        assert got[:2] == [("PUT", "/t/ep/1"), ("PUT", "/t/other")]
        assert ("DELETE", "/t/ep/1") in got
        assert etcd.keepalive(lease) == 0
    finally:
        stop.set()
        etcd.interrupt_watch()
        t.join(5)
    # a watch from a later revision sees only what came after
    _, now = etcd.range("/t/")
    etcd.delete("/t/other")
    later: list = []
    stop2 = threading.Event()
    t2 = threading.Thread(target=etcd.watch, args=("/t/", now + 1, later.extend, stop2))
    t2.start()
    deadline = time.monotonic() + 10
    while not later and time.monotonic() < deadline:
        time.sleep(0.05)
    stop2.set()
    etcd.interrupt_watch()
    t2.join(5)
    assert [(ev.type, ev.kv.key) for ev in later] == [("DELETE", "/t/other")]


def test_a_broken_watch_resumes_after_the_last_change_delivered(etcd):
    """A member that dies mid-stream breaks the watch with an error, not an end: the
    reconnect must start after what was delivered, or a daemon applies its whole
    history again before any new change (a name on another host unknown meanwhile)."""
    _, rev = etcd.range("/r/")
    got: list[tuple[str, str]] = []
    stop = threading.Event()

    def wait_for(key: str) -> None:
        deadline = time.monotonic() + 10
        while ("PUT", key) not in got and time.monotonic() < deadline:
            time.sleep(0.02)

    t = threading.Thread(target=etcd.watch, args=(
        "/r/", rev + 1, lambda evs: got.extend((e.type, e.kv.key) for e in evs), stop))
    t.start()
    try:
        etcd.put("/r/1", "a")
        etcd.put("/r/2", "b")
        wait_for("/r/2")
        etcd.interrupt_watch()  # its connection cut, as the kernel does when etcd dies
        etcd.put("/r/3", "c")
        wait_for("/r/3")
    finally:
        stop.set()
        etcd.interrupt_watch()
        t.join(5)
    assert got == [("PUT", "/r/1"), ("PUT", "/r/2"), ("PUT", "/r/3")]
