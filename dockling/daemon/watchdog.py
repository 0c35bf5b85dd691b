"""A watchdog for the event loop: it says when, and where, the loop is stuck.

Everything slow must run in worker threads (issue 11): a loop that does not
get back to its heartbeat within ``threshold`` seconds is reported in the
daemon's log with the loop thread's stack at that moment, which names the
call that blocks it. The heartbeat is a 50 ms timer on the loop; a plain
thread reads it. ``DOCKLING_STALL_WARNING`` sets the threshold (seconds;
0 turns the watchdog off).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
import time
import traceback

log = logging.getLogger("dockling.daemon")

INTERVAL = 0.05


class Watchdog:
    def __init__(self, threshold: float) -> None:
        self.threshold = threshold
        self.last = time.monotonic()
        self.loop_thread = threading.get_ident()
        self._stop = threading.Event()
        self._beat: asyncio.Task | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """On the loop: start the heartbeat and the watching thread."""
        self.loop_thread = threading.get_ident()
        self._beat = asyncio.get_running_loop().create_task(self._heartbeat())
        self._thread = threading.Thread(target=self._watch, name="loop-watchdog", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._beat is not None:
            self._beat.cancel()

    async def _heartbeat(self) -> None:
        while True:
            self.last = time.monotonic()
            await asyncio.sleep(INTERVAL)

    def _watch(self) -> None:
        reported = 0.0  # the heartbeat of the stall already reported
        while not self._stop.wait(INTERVAL):
            last = self.last
            lag = time.monotonic() - last - INTERVAL  # the heartbeat's own sleep aside
            if lag < self.threshold or last == reported:
                continue
            reported = last
            frame = sys._current_frames().get(self.loop_thread)
            where = "".join(traceback.format_stack(frame)) if frame is not None else "?"
            log.warning("event loop blocked for %.2f s (threshold %.2f s), at:\n%s",
                        lag, self.threshold, where)
