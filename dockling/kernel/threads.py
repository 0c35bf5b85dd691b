"""Kernel state that is per thread (network namespace, cwd after unshare(CLONE_FS)):
work that changes it runs on a thread made for it and thrown away after, so
the daemon's own threads never move."""

from __future__ import annotations

import contextvars
import threading


def run_on_thread(fn):
    """fn() on a new thread; its result (or its error, raised here)."""
    result: dict = {}

    def body():
        try:
            result["value"] = fn()
        except BaseException as err:  # noqa: BLE001 - re-raised in the caller
            result["error"] = err

    # the caller's context goes along: the kernel in use (a trace) is the caller's
    t = threading.Thread(target=contextvars.copy_context().run, args=(body,),
                         name="kernel-state")
    t.start()
    t.join()
    if "error" in result:
        raise result["error"]
    return result.get("value")
