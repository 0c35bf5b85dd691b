"""The events bus: every action becomes a docker event, kept for --since.

It sits below the engine packages and the API: the managers emit, the API's
/events and the daemon's /info read (``stream``, ``subscribers``).

With a database the events are kept there too (the newest ``keep`` of
them), so `events --since` still sees what happened before a daemon
restart; without one, in memory only.

``emit`` may be called from worker threads (commit, load and import run
there): subscribers' queues belong to the event loop, so the event is
handed to them through ``call_soon_threadsafe``, which also wakes the loop.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator

from dockling.filters import labels_match


class Events:
    def __init__(self, keep: int = 1024, db=None) -> None:
        self.keep = keep
        self.db = db
        self.history: list[dict] = []
        self.subscribers: list[asyncio.Queue] = []
        self.stored = 0
        self.loop: asyncio.AbstractEventLoop | None = None  # the subscribers' loop
        self._lock = threading.Lock()
        if db is not None:
            self.history = [json.loads(r["doc"]) for r in db.query(
                "SELECT doc FROM events ORDER BY time_nano DESC LIMIT ?", keep)][::-1]

    def emit(self, type_: str, action: str, actor_id: str, attrs: dict | None = None) -> None:
        now = time.time_ns()
        ev = {"Type": type_, "Action": action, "Actor": {"ID": actor_id,
                                                         "Attributes": attrs or {}},
              "scope": "local", "time": now // 10**9, "timeNano": now}
        if type_ == "container":
            ev.update(status=action, id=actor_id, **({"from": attrs.get("image")}
                                                     if attrs and attrs.get("image") else {}))
        with self._lock:
            self.history.append(ev)
            del self.history[:-self.keep]
        if self.db is not None:
            with self.db.tx() as conn:
                conn.execute("INSERT INTO events(time_nano, doc) VALUES (?, ?)",
                             (now, json.dumps(ev)))
                self.stored += 1
                if self.stored % 256 == 0:  # trim now and then, not on every event
                    conn.execute("DELETE FROM events WHERE time_nano < (SELECT time_nano "
                                 "FROM events ORDER BY time_nano DESC LIMIT 1 OFFSET ?)",
                                 (self.keep,))
        loop = self.loop
        if loop is None:
            return
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is loop:
            self._deliver(ev)
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self._deliver, ev)

    def _deliver(self, ev: dict) -> None:
        for q in list(self.subscribers):
            q.put_nowait(ev)

    def subscribe(self) -> asyncio.Queue:
        self.loop = asyncio.get_running_loop()
        q: asyncio.Queue = asyncio.Queue()
        self.subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        if q in self.subscribers:
            self.subscribers.remove(q)

    async def stream(self, filters: dict[str, list[str]], since: float | None = None,
                     until: float | None = None) -> AsyncIterator[dict]:
        """docker events: the kept events from ``since`` (unix seconds), then the new
        ones as they come, until ``until`` (or for ever); only those ``filters`` pass."""
        q = self.subscribe()
        try:
            if since is not None:
                for ev in list(self.history):
                    if ev["timeNano"] / 1e9 >= since and (until is None or
                                                          ev["timeNano"] / 1e9 <= until):
                        if matches(ev, filters):
                            yield ev
            while True:
                timeout = None if until is None else max(0.0, until - time.time())
                try:
                    ev = await asyncio.wait_for(q.get(), timeout)
                except TimeoutError:
                    return
                if matches(ev, filters):
                    yield ev
        finally:
            self.unsubscribe(q)


def matches(ev: dict, filters: dict[str, list[str]]) -> bool:
    """docker's event filters: values of one key are OR-ed, keys are AND-ed."""
    actor = ev["Actor"]
    attrs = actor.get("Attributes") or {}
    for key, vals in filters.items():
        if not vals:
            continue
        if key == "type":
            ok = ev["Type"] in vals
        elif key == "event":  # "health_status" matches "health_status: healthy"
            ok = any(ev["Action"] == v or ev["Action"].startswith(v + ":") for v in vals)
        elif key in ("container", "volume", "network"):
            ok = ev["Type"] == key and any(
                actor["ID"].startswith(v) or attrs.get("name") == v for v in vals)
        elif key == "image":
            ok = any(attrs.get("image") == v or attrs.get("name") == v or (
                ev["Type"] == "image" and actor["ID"] in (v, "sha256:" + v)) for v in vals)
        elif key == "label":  # moby's MatchKVList over the attributes: every value (AND)
            ok = labels_match(attrs, {"label": vals})
        elif key == "scope":
            ok = ev.get("scope", "local") in vals
        else:
            ok = True
        if not ok:
            return False
    return True
