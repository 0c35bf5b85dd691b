"""network/iptables.py: rule changes run on their own thread, in order, never on
the event loop (each iptables run is a process, more under the xtables lock)."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

from dockling.network.iptables import IPTables


class SlowRecorder:
    """Stands in for IPTables._run: 20 ms a command; records the thread of each."""

    def __init__(self, fail: bool = False) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.fail = fail

    def __call__(self, table: str, *args: str, check: bool = True) -> bool:
        time.sleep(0.02)
        self.calls.append((threading.current_thread().name, (table, *args)))
        if self.fail and args[0] == "-A":
            raise RuntimeError("iptables: no chain by that name")
        return args[0] == "-A"  # a check finds nothing, a delete nothing more: no loop


def _ipt(rec: SlowRecorder) -> IPTables:
    t = IPTables("DLTHREAD")
    t.enabled = True
    t._run = rec  # type: ignore[method-assign]
    return t


def test_rules_are_made_off_the_loop_in_order():
    rec = SlowRecorder()
    t = _ipt(rec)

    async def main() -> float:
        t0 = time.monotonic()
        added = t.add_port("br0", "tcp", "", 8080, "10.1.0.2", 80)
        removed = t.remove_port("br0", "tcp", "", 8080, "10.1.0.2", 80)
        asked = time.monotonic() - t0
        await asyncio.wrap_future(added)
        await t.idle()
        assert removed.done()
        return asked

    try:
        asked = asyncio.run(main())
    finally:
        t.close()
    assert asked < 0.02  # 12 commands of 20 ms: none ran on the caller's thread
    assert {name for name, _ in rec.calls} and all(
        name.startswith("iptables") for name, _ in rec.calls)
    ops = [call[1] for _, call in rec.calls]
    first_delete = ops.index("-D")
    assert all(op in ("-C", "-A") for op in ops[:first_delete])  # adds, then deletes


def test_a_rule_nobody_waits_for_logs_its_failure(caplog):
    rec = SlowRecorder(fail=True)
    t = _ipt(rec)
    with caplog.at_level(logging.WARNING, logger="dockling.network"):
        t.forget(t.add_port("br0", "tcp", "", 8080, "10.1.0.2", 80), "publish 8080/tcp")
        t.close()  # waits for the thread
    assert any("publish 8080/tcp" in r.getMessage() and "no chain" in r.getMessage()
               for r in caplog.records)


def test_idle_with_nothing_pending_does_not_wait_for_the_thread():
    """stop and rm answer after idle(): with no rule change pending it returns at
    once (no hop to the rules' thread); with one pending it waits for it, and for
    every change asked before it."""
    rec = SlowRecorder()
    t = _ipt(rec)

    async def main() -> None:
        await t.idle()
        assert t._worker is None  # never started for nothing
        t.forget(t.add_port("br0", "tcp", "", 8080, "10.1.0.2", 80), "add")
        await t.idle()
        assert len(rec.calls) >= 2 and t._last.done()
        hops = []
        real = t._worker.submit
        t._worker.submit = lambda *a, **k: hops.append(1) or real(*a, **k)  # type: ignore
        await t.idle()
        assert hops == []

    try:
        asyncio.run(main())
    finally:
        t.close()
