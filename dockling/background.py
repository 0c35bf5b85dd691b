"""Work the daemon starts and does not wait for.

asyncio keeps only weak references to tasks: a task nobody holds can be
collected mid-flight, and an exception in one nobody awaits is reported,
if ever, as "Task exception was never retrieved" at collection time. So
fire-and-forget work goes through ``spawn``, which holds the task until it
ends and logs its exception with the task's name.

``remove_tree`` takes a directory tree away without making the caller wait
for it: the tree is renamed aside at once (its path is free again, a new
container or volume of the same name can be made), then deleted in a worker
thread. A crash in between leaves ``.*.removing`` siblings, which
``clean_removing`` deletes after the next start.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import shutil
import threading

log = logging.getLogger("dockling.background")

_held: set = set()  # tasks and executor futures until they end
_lock = threading.Lock()

REMOVING = ".removing"


def spawn(coro, name: str) -> asyncio.Task:
    """Run ``coro`` on the running loop without awaiting it; kept and logged."""
    task = asyncio.get_running_loop().create_task(coro, name=name)
    _hold(task)
    return task


def _hold(fut) -> None:
    with _lock:
        _held.add(fut)
    fut.add_done_callback(_done)


def _done(fut) -> None:
    with _lock:
        _held.discard(fut)
    if fut.cancelled():
        return
    err = fut.exception()
    if err is not None:
        name = fut.get_name() if isinstance(fut, asyncio.Task) else "background work"
        log.error("%s failed", name, exc_info=err)


def in_thread(fn, *args, name: str = "background work") -> None:
    """Run ``fn(*args)`` in the loop's default executor, not waiting; logged on error.

    Off the loop (a worker thread, or no loop at all) it simply runs now.
    """
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        fn(*args)
        return
    fut = loop.run_in_executor(None, fn, *args)
    _hold(fut)


async def blocking(fn, *args):
    """``fn(*args)`` in a worker thread, awaited.

    A thread cannot be stopped: if the caller is cancelled meanwhile, the
    thread is waited for before the cancellation goes on, so that what the
    caller then cleans up (a temp file, a mount) is no longer in use.
    """
    fut = asyncio.ensure_future(asyncio.to_thread(fn, *args))
    try:
        return await asyncio.shield(fut)
    except asyncio.CancelledError:
        await asyncio.gather(fut, return_exceptions=True)
        raise


def remove_tree(path: str) -> None:
    """Remove the tree at ``path``: renamed aside now, deleted in a worker thread."""
    parent, base = os.path.split(path.rstrip("/"))
    aside = os.path.join(parent, f".{base}.{secrets.token_hex(4)}{REMOVING}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:
        return
    except OSError as err:  # a mount point, another filesystem...: where it is
        log.debug("cannot move %s aside (%s): removing it in place", path, err)
        aside = path
    in_thread(_rmtree, aside, name=f"remove {path}")


def _rmtree(path: str) -> None:
    def failed(_fn, p, exc) -> None:
        err = exc[1] if isinstance(exc, tuple) else exc
        if not isinstance(err, FileNotFoundError):
            log.warning("cannot remove %s: %s", p, err)

    shutil.rmtree(path, onerror=failed)


def clean_removing(*dirs: str) -> None:
    """Daemon start: trees a crash left half removed (in worker threads when a
    loop runs, else now)."""
    for d in dirs:
        try:
            names = os.listdir(d)
        except FileNotFoundError:
            continue
        for n in names:
            if n.startswith(".") and n.endswith(REMOVING):
                in_thread(_rmtree, os.path.join(d, n), name=f"remove {n}")


async def wait_all() -> None:
    """Let what is running end (daemon shutdown, tests)."""
    with _lock:
        pending = list(_held)
    if pending:
        await asyncio.gather(*pending, return_exceptions=True)


__all__ = ["blocking", "clean_removing", "in_thread", "remove_tree", "spawn", "wait_all"]
