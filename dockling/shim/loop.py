"""The event loop of a shim process, and the buffered writes it makes.

One shim process serves several containers (group.py), so nothing in it may
wait on one of them: every fd is non-blocking, every write that does not fit
is kept in an ``Outbox`` until the fd takes it, and what a container's handler
raises is that container's failure alone (``owner.failed``). asyncio would do
the same; a shim forks (set-up, exec and delete children) from inside its loop
and is kept small (an idle container's memory), so it has this instead.
"""

from __future__ import annotations

import contextlib
import os
import selectors

READ, WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE


class Loop:
    """fd -> what to call when it can be read, or written."""

    def __init__(self) -> None:
        self.sel = selectors.DefaultSelector()
        self._cbs: dict[int, list] = {}  # fd -> [on_read, on_write, owner]

    def add_reader(self, fd: int, cb, owner=None) -> None:
        self._set(fd, 0, cb, owner)

    def remove_reader(self, fd: int) -> None:
        self._set(fd, 0, None, None)

    def add_writer(self, fd: int, cb, owner=None) -> None:
        self._set(fd, 1, cb, owner)

    def remove_writer(self, fd: int) -> None:
        self._set(fd, 1, None, None)

    def forget(self, fd: int) -> None:
        """Before ``fd`` is closed: nothing is called for it any more."""
        if self._cbs.pop(fd, None) is not None:
            self.sel.unregister(fd)

    def watched(self) -> int:
        return len(self._cbs)

    def _set(self, fd: int, i: int, cb, owner) -> None:
        cbs = self._cbs.get(fd)
        if cbs is None:
            if cb is None:
                return
            cbs = [None, None, owner]
            cbs[i] = cb
            self.sel.register(fd, READ if i == 0 else WRITE, cbs)  # may raise: then nothing
            self._cbs[fd] = cbs
            return
        cbs[i] = cb
        if owner is not None:
            cbs[2] = owner
        mask = (READ if cbs[0] else 0) | (WRITE if cbs[1] else 0)
        if mask:
            self.sel.modify(fd, mask, cbs)
        else:
            del self._cbs[fd]
            self.sel.unregister(fd)

    def run_once(self, timeout: float) -> None:
        for key, mask in self.sel.select(timeout):
            for i, bit in ((0, READ), (1, WRITE)):
                # an earlier call may have forgotten this fd (and its number reused)
                cbs = self._cbs.get(key.fd)
                if cbs is not key.data or not mask & bit or cbs[i] is None:
                    continue
                try:
                    cbs[i]()
                except Exception as err:  # its container's, not the loop's
                    if cbs[2] is None:
                        raise
                    with contextlib.suppress(Exception):  # the loop goes on, whatever
                        cbs[2].failed(err)


class Outbox:
    """Bytes for a non-blocking fd (a client's socket, a container's stdin) that may
    not take them all now: the rest waits here. ``full`` tells the producer to stop
    reading its source until ``on_room`` is called (a slow client slows its own
    container only, as a slow attach does in docker); ``on_broken`` when the fd
    fails (the reader went away)."""

    HIGH = 1 << 20

    def __init__(self, loop: Loop, fd: int, owner, on_room=None, on_broken=None) -> None:
        self.loop = loop
        self.fd = fd
        self.owner = owner
        self.on_room = on_room
        self.on_broken = on_broken
        self.buf = bytearray()
        self.broken = False
        self._then = None  # called once all is written (close_when_written)

    @property
    def full(self) -> bool:
        return len(self.buf) >= self.HIGH

    def write(self, data: bytes) -> None:
        if self.broken or not data:
            return
        if not self.buf:
            try:
                n = os.write(self.fd, data)
            except BlockingIOError:
                n = 0
            except OSError:
                self._break()
                return
            if n == len(data):
                return
            data = data[n:]
            self.loop.add_writer(self.fd, self._drain, self.owner)
        self.buf += data

    def when_written(self, then) -> None:
        """``then()`` once every byte is out (now, if none waits), or the fd broke."""
        if not self.buf or self.broken:
            then()
        else:
            self._then = then

    def _drain(self) -> None:
        was_full = self.full
        try:
            n = os.write(self.fd, self.buf)
        except BlockingIOError:
            return
        except OSError:
            self._break()
            return
        del self.buf[:n]
        if not self.buf:
            self.loop.remove_writer(self.fd)
            then, self._then = self._then, None
            if then is not None:
                then()
        if was_full and not self.full and self.on_room is not None:
            self.on_room()

    def _break(self) -> None:
        self.broken = True
        self.buf.clear()
        self.loop.remove_writer(self.fd)
        then, self._then = self._then, None
        if then is not None:
            then()
        if self.on_broken is not None:
            self.on_broken()
