"""The events bus fed from worker threads (commit, load and import run there)."""

from __future__ import annotations

import asyncio
import threading
import time

from dockling.events import Events


def test_an_event_emitted_in_a_thread_wakes_a_waiting_subscriber():
    async def main() -> tuple[dict, float]:
        bus = Events()
        q = bus.subscribe()
        t0 = time.monotonic()
        # a plain thread: nothing but the event itself may wake the loop
        threading.Timer(0.05, bus.emit, ("image", "import", "sha256:abc")).start()
        ev = await asyncio.wait_for(q.get(), 3)
        return ev, time.monotonic() - t0

    ev, took = asyncio.run(main())
    assert ev["Type"] == "image" and ev["Action"] == "import"
    assert took < 1.0


def test_events_from_many_threads_are_all_delivered_and_kept():
    async def main() -> tuple[int, int]:
        bus = Events(keep=10_000)
        q = bus.subscribe()

        def burst(tag: str) -> None:
            for i in range(200):
                bus.emit("container", "exec_start", f"{tag}{i}")

        await asyncio.gather(*(asyncio.to_thread(burst, t) for t in "abcd"))
        got = 0
        while got < 800:
            await asyncio.wait_for(q.get(), 2)
            got += 1
        return got, len(bus.history)

    assert asyncio.run(main()) == (800, 800)
