"""docker's JSON progress messages (POST /images/create, /push) and how the
CLI shows them: one line per layer redrawn in a terminal, plain lines
without the moving bars otherwise."""

from __future__ import annotations

import json
import sys

from dockling.units import human_size

BAR_WIDTH = 50


def bar(current: int, total: int) -> str:
    """jsonmessage's progress: [=====>      ]  1.23MB/4.56MB"""
    if total <= 0:
        return f"{human_size(current):>8}"
    n = min(int(BAR_WIDTH * current / total), BAR_WIDTH)
    box = "[" + "=" * n + (">" if n < BAR_WIDTH else "") + " " * (BAR_WIDTH - n - 1) + "] "
    return box + f"{human_size(current):>8}/{human_size(total)}"


def message(status: str, ident: str | None = None, current: int | None = None,
            total: int | None = None) -> dict:
    m: dict = {"status": status}
    if current is not None:
        m["progressDetail"] = {"current": current, **({"total": total} if total else {})}
        m["progress"] = bar(current, total or 0)
    elif ident is not None:
        m["progressDetail"] = {}
    if ident is not None:
        m["id"] = ident
    return m


def error(text: str) -> dict:
    return {"errorDetail": {"message": text}, "error": text}


async def batches(work):
    """Run ``work(queue)`` and yield, as lists, the messages it puts on the queue:
    each list holds all that came while the reader was away (a cached build's
    thirty lines go out in one write, not thirty). The work's error is raised
    after the last one. Closing the generator early (the client went away:
    Ctrl-C) cancels the work, which removes its temp files."""
    import asyncio  # here: the CLI imports this module for Printer and must start fast

    q: asyncio.Queue = asyncio.Queue()
    task = asyncio.ensure_future(work(q))
    try:
        while True:
            if q.empty():
                getter = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait({getter, task},
                                             return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    rest = [q.get_nowait() for _ in range(q.qsize())]
                    if rest:
                        yield rest
                    task.result()
                    return
                batch = [getter.result()]
            else:
                batch = []
            batch.extend(q.get_nowait() for _ in range(q.qsize()))
            yield batch
    finally:
        if not task.done():
            task.cancel()


async def stream(work):
    """``batches``, a message at a time."""
    gen = batches(work)
    try:
        async for batch in gen:
            for m in batch:
                yield m
    finally:
        await gen.aclose()


def encode(m: dict) -> bytes:
    return json.dumps(m).encode() + b"\n"


class Printer:
    """Render a stream of messages like the docker CLI; returns the error text, if any."""

    def __init__(self, out=None, tty: bool | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty() if tty is None else tty
        self.quiet = quiet
        self.lines: list[str] = []  # ids in screen order (tty)

    def show(self, m: dict) -> str | None:
        if "error" in m or "errorDetail" in m:
            return (m.get("errorDetail") or {}).get("message") or m.get("error")
        if self.quiet or "aux" in m:
            return None
        ident = m.get("id")
        text = m.get("status", "")
        if m.get("progress") and self.tty:
            text += " " + m["progress"]
        if ident is None:
            self.out.write(text + "\n")
            self.lines.clear()
        elif self.tty:
            line = f"{ident}: {text}"
            if ident in self.lines:
                up = len(self.lines) - self.lines.index(ident)
                self.out.write(f"\x1b[{up}A\r\x1b[2K{line}\n\x1b[{up - 1}B" if up > 1 else
                               f"\x1b[1A\r\x1b[2K{line}\n")
            else:
                self.lines.append(ident)
                self.out.write(line + "\n")
        elif not m.get("progressDetail", {}).get("current") or m.get("status") in (
                "Already exists",):
            self.out.write(f"{ident}: {text}\n")
        self.out.flush()
        return None
