"""A client of etcd's v3 API through its JSON gateway (grpc-gateway, /v3/...).

Why the gateway and not gRPC (``aetcd``): dockling already depends on httpx,
and the handful of calls the overlay driver needs (range, put, txn, lease
grant/keepalive, watch) are plain POSTs of JSON; a watch is a streamed POST
whose body is one JSON object per change. Keys and values are base64 on the
wire and ``str``/``bytes`` here.

Synchronous on purpose: callers run it on worker threads (the network code
already does its netlink work on threads), and the watch is a long-lived
thread of its own. Every call tries the members in turn, starting with the
last one that answered; a member that refuses, times out or has lost its
quorum ("etcdserver: request timed out", gRPC code 14 or 4) passes the call
on to the next. When none answers the call raises ``StoreUnavailable``
naming the endpoints, so a user reads which store is down.

Lifecycle of a watch: ``watch(prefix, start_revision, on_events)`` runs until
``stop`` is set, reconnecting (to any member) from the revision after the
last one delivered, so no change is lost and none is read twice; if etcd
compacted that revision away, ``on_reset`` is called to read everything
again (the one full re-read).
"""

from __future__ import annotations

import base64
import json
import logging
import socket
import threading
from typing import NamedTuple

import httpx

from dockling.errors import InternalError, Unavailable

log = logging.getLogger("dockling.cluster")

# gRPC codes that mean "this member cannot answer now": try another
_RETRY_CODES = {4, 14}  # DeadlineExceeded, Unavailable


class StoreError(InternalError):
    """etcd answered with an error that is not about its availability."""


class StoreUnavailable(StoreError, Unavailable):
    """No etcd member answered (down, unreachable, or without a quorum): 503, as
    moby's errdefs.Unavailable."""

    status = Unavailable.status


class KV(NamedTuple):
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    lease: int

    def json(self):
        return json.loads(self.value)


class Event(NamedTuple):
    type: str  # PUT or DELETE
    kv: KV


def _b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def prefix_end(prefix: str) -> str:
    """etcd's range_end for "every key starting with prefix"."""
    b = bytearray(prefix.encode())
    b[-1] += 1
    return b.decode()


def _kv(d: dict) -> KV:
    return KV(base64.b64decode(d["key"]).decode(), base64.b64decode(d.get("value") or ""),
              int(d.get("create_revision") or 0), int(d.get("mod_revision") or 0),
              int(d.get("lease") or 0))


# -- request bodies (txn operations and compares) ------------------------------------------
def put_op(key: str, value: str | bytes, lease: int = 0) -> dict:
    body = {"key": _b64(key), "value": _b64(value)}
    if lease:
        body["lease"] = str(lease)
    return {"request_put": body}


def delete_op(key: str, prefix: bool = False) -> dict:
    body = {"key": _b64(key)}
    if prefix:
        body["range_end"] = _b64(prefix_end(key))
    return {"request_delete_range": body}


def absent(key: str) -> dict:
    """Compare: the key does not exist (its create revision is 0)."""
    return {"key": _b64(key), "target": "CREATE", "result": "EQUAL", "create_revision": "0"}


def unchanged(key: str, mod_revision: int) -> dict:
    """Compare: the key is as it was read (same mod revision)."""
    return {"key": _b64(key), "target": "MOD", "result": "EQUAL",
            "mod_revision": str(mod_revision)}


class Etcd:
    def __init__(self, endpoints: list[str], ca: str | None = None,
                 cert: tuple[str, str] | None = None, timeout: float = 2.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.endpoints = list(endpoints)
        self.timeout = timeout
        verify: bool | str = ca or True
        self._tls = {"verify": verify, "cert": cert}
        # transport: httpx.MockTransport in tests of the failover logic
        self.client = httpx.Client(timeout=timeout, transport=transport, **self._tls)
        self._good = 0  # index of the member that answered last
        self._lock = threading.Lock()

    def close(self) -> None:
        self.client.close()

    def describe(self) -> str:
        return ", ".join(self.endpoints)

    # -- plumbing -----------------------------------------------------------------------
    def _order(self) -> list[int]:
        n = len(self.endpoints)
        return [(self._good + i) % n for i in range(n)]

    def call(self, path: str, body: dict) -> dict:
        """POST /v3/<path> to the first member that can answer."""
        last = "no member tried"
        for i in self._order():
            url = f"{self.endpoints[i]}/v3/{path}"
            try:
                resp = self.client.post(url, json=body)
            except httpx.TransportError as err:
                last = f"{self.endpoints[i]}: {type(err).__name__} {err}".strip()
                continue
            data = _json(resp)
            if resp.status_code == 200:
                self._good = i
                return data
            code, msg = data.get("code"), data.get("error") or data.get("message") or resp.text
            if code in _RETRY_CODES or resp.status_code >= 500 and code is None:
                last = f"{self.endpoints[i]}: {msg}"
                continue
            raise StoreError(f"etcd {path}: {msg}")
        raise StoreUnavailable(f"cluster store unavailable: no etcd member of {self.describe()} "
                               f"answered ({last})")

    # -- keys ----------------------------------------------------------------------------
    def get(self, key: str) -> KV | None:
        kvs = self.call("kv/range", {"key": _b64(key)}).get("kvs") or []
        return _kv(kvs[0]) if kvs else None

    def range(self, prefix: str) -> tuple[list[KV], int]:
        """Every key under prefix, and the store's revision they were read at."""
        data = self.call("kv/range", {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix))})
        return [_kv(d) for d in data.get("kvs") or []], int(data["header"]["revision"])

    def put(self, key: str, value: str | bytes, lease: int = 0) -> int:
        body = put_op(key, value, lease)["request_put"]
        return int(self.call("kv/put", body)["header"]["revision"])

    def delete(self, key: str, prefix: bool = False) -> None:
        self.call("kv/deleterange", delete_op(key, prefix)["request_delete_range"])

    def txn(self, compare: list[dict], success: list[dict],
            failure: list[dict] | None = None) -> bool:
        """All of success if every compare holds (else failure): etcd's compare-and-swap."""
        data = self.call("kv/txn", {"compare": compare, "success": success,
                                    "failure": failure or []})
        return bool(data.get("succeeded"))  # the gateway leaves out false

    def create(self, key: str, value: str | bytes, lease: int = 0) -> bool:
        """Put only if the key does not exist; whether it was put."""
        return self.txn([absent(key)], [put_op(key, value, lease)])

    # -- leases -------------------------------------------------------------------------------
    def grant(self, ttl: int) -> int:
        return int(self.call("lease/grant", {"TTL": ttl})["ID"])

    def keepalive(self, lease: int) -> int:
        """The lease's TTL after renewal; 0 once it has expired."""
        data = self.call("lease/keepalive", {"ID": str(lease)})
        return int((data.get("result") or {}).get("TTL") or 0)

    def revoke(self, lease: int) -> None:
        try:
            self.call("lease/revoke", {"ID": str(lease)})
        except StoreError:
            pass  # an expired lease is as good as revoked

    # -- watch ---------------------------------------------------------------------------------
    def watch(self, prefix: str, start_revision: int, on_events, stop: threading.Event,
              on_reset=None) -> None:
        """Deliver every change under prefix from start_revision on, until stop is set."""
        next_rev = start_revision
        failures = 0
        while not stop.is_set():
            i = self._order()[failures % len(self.endpoints)]
            try:
                # Advanced per batch, not when the stream ends: a member that dies
                # breaks its stream with an error, and a reconnect from the revision
                # this stream began at would deliver everything since again (a
                # daemon's whole history, applied before any new change).
                for events in self._stream(self.endpoints[i], prefix, next_rev, stop):
                    on_events(events)
                    next_rev = max(e.kv.mod_revision for e in events) + 1
                failures = 0
            except (httpx.TransportError, ValueError, _Compacted) as err:
                if isinstance(err, _Compacted) and on_reset is not None:
                    next_rev = on_reset()
                    continue
                failures += 1
                if failures % len(self.endpoints) == 0:
                    log.debug("watch of %s: %s", prefix, err)
                    stop.wait(0.5)

    def _stream(self, endpoint: str, prefix: str, start: int, stop: threading.Event):
        """The batches of events one member streams from revision start on."""
        body = {"create_request": {"key": _b64(prefix), "range_end": _b64(prefix_end(prefix)),
                                   "start_revision": str(start)}}
        timeout = httpx.Timeout(self.timeout, read=None)
        with httpx.Client(timeout=timeout, **self._tls) as client, client.stream(
                "POST", f"{endpoint}/v3/watch", json=body) as resp:
            if resp.status_code != 200:
                raise ValueError(f"watch answered {resp.status_code}")
            self._watching = resp
            for line in resp.iter_lines():
                if stop.is_set():
                    break
                if not line.strip():
                    continue
                result = json.loads(line).get("result") or {}
                if int(result.get("compact_revision") or 0) > 0:
                    raise _Compacted()
                if result.get("canceled"):
                    raise ValueError(f"watch canceled: {result.get('cancel_reason')}")
                events = [Event(e.get("type") or "PUT", _kv(e["kv"]))
                          for e in result.get("events") or []]
                if events:
                    yield events

    def interrupt_watch(self) -> None:
        """Break the watch's stream now (the daemon is stopping)."""
        resp = getattr(self, "_watching", None)
        if resp is None:
            return
        # close() from another thread does not wake a blocked read; shutdown does
        stream = resp.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        try:
            if sock is not None:
                sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already closed


class _Compacted(Exception):
    pass


def _json(resp: httpx.Response) -> dict:
    try:
        return resp.json()
    except ValueError:
        return {}
