"""The events bus: every action becomes a docker event, kept for --since."""

from __future__ import annotations

import asyncio
import time


class Events:
    def __init__(self, keep: int = 1024) -> None:
        self.keep = keep
        self.history: list[dict] = []
        self.subscribers: list[asyncio.Queue] = []

    def emit(self, type_: str, action: str, actor_id: str, attrs: dict | None = None) -> None:
        now = time.time_ns()
        ev = {"Type": type_, "Action": action, "Actor": {"ID": actor_id,
                                                         "Attributes": attrs or {}},
              "scope": "local", "time": now // 10**9, "timeNano": now}
        if type_ == "container":
            ev.update(status=action, id=actor_id, **({"from": attrs.get("image")}
                                                     if attrs and attrs.get("image") else {}))
        self.history.append(ev)
        del self.history[:-self.keep]
        for q in self.subscribers:
            q.put_nowait(ev)

    def subscribe(self) -> asyncio.Queue:
        q: asyncio.Queue = asyncio.Queue()
        self.subscribers.append(q)
        return q

    def unsubscribe(self, q: asyncio.Queue) -> None:
        if q in self.subscribers:
            self.subscribers.remove(q)
