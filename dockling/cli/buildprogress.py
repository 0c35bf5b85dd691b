"""How `dockling build` shows the daemon's classic build stream.

The daemon answers POST /build with JSON messages (moby's jsonmessage): ``stream``
text ("Step 2/5 : RUN make", " ---> Running in 0a1b…", the RUN's output, " ---> 3f57…"),
pull progress (``status``/``id``/``progress``), ``aux`` {"ID": "sha256:…"} (the image)
and, on failure, ``errorDetail`` {"message", "code"}. Three views of it:

- ``PlainView``: the text as it comes, exactly as the classic docker CLI prints it;
- ``TtyView``: a live view in BuildKit's manner, one line per step with its time and the
  running step's last lines of output, redrawn in place at most ten times a second;
- ``QuietView``: nothing until the end (-q), then the daemon's text (the image ID).

``run`` feeds a view and returns the ``Result``: the image ID and the error, if any.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import TextIO

from dockling.formats.progress import Printer
from dockling.units import human_size4

SENDING = "Sending build context to Docker daemon"
_STEP = re.compile(r"Step (\d+)/(\d+) : (.*)")
_LAYER = re.compile(r" ---> ([0-9a-f]{12,64})")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Result:
    def __init__(self, image_id: str = "", error: str | None = None, code: int = 0) -> None:
        self.image_id = image_id
        self.error = error
        self.code = code  # the error's exit status: errorDetail.code, or 1 (docker/cli runBuild)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Result) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return f"Result({self.image_id!r}, {self.error!r}, {self.code!r})"


def run(messages: Iterable[dict], view) -> Result:
    """Show each message; stop at the first error (jsonmessage.DisplayJSONMessagesStream)."""
    res = Result()
    for m in messages:
        detail = m.get("errorDetail")
        if detail or m.get("error"):
            detail = detail if isinstance(detail, dict) else {}
            res.error = detail.get("message") or m.get("error") or ""
            res.code = detail.get("code") or 1
            return res
        if "aux" in m:
            aux = m["aux"]
            if isinstance(aux, dict) and aux.get("ID"):
                res.image_id = aux["ID"]  # the last one is the build's result
            continue
        view.feed(m)
    return res


class Upload:
    """Counts the context bytes on their way to the daemon and reports them to a view
    (docker's progress.Reader: every 512 kB, at most ten times a second, and at the end)."""

    def __init__(self, body: Iterable[bytes], report: Callable[[int, bool], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.body = body
        self.report = report
        self.clock = clock
        self.sent = 0

    def __iter__(self):
        last_n, last_t = 0, 0.0
        for piece in self.body:
            self.sent += len(piece)
            now = self.clock()
            if self.sent - last_n > 512 * 1024 and now - last_t >= 0.1:
                self.report(self.sent, False)
                last_n, last_t = self.sent, now
            yield piece
        self.report(self.sent, True)


# -- plain and quiet ------------------------------------------------------------------------

class PlainView:
    """The classic CLI's output: stream text verbatim, pulls through the progress printer."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.printer = Printer(out, tty=tty)

    def sending(self, n: int, done: bool) -> None:
        # docker/cli: a terminal sees every update ("…\r"), a pipe only the last; the last
        # ends "\r\r\n" (rawProgressFormatter then the LastUpdate newline)
        if self.tty or done:
            self.out.write(f"{SENDING} {human_size4(n):>8}\r" + ("\r\n" if done else ""))
            self.out.flush()

    def feed(self, m: dict) -> None:
        if "stream" in m:
            self.printer.lines.clear()  # jsonmessage forgets progress lines on other output
            self.out.write(m["stream"])
            self.out.flush()
        elif "status" in m or "id" in m:
            self.printer.show(m)

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def finish(self, res: Result) -> None:
        pass


class QuietView:
    """-q: keep everything; print the daemon's text (the image ID) on success, and all of
    it to stderr on failure (docker/cli runBuild's progBuff and buildBuff)."""

    def __init__(self) -> None:
        self.progress = ""
        self.text: list[str] = []

    def sending(self, n: int, done: bool) -> None:
        if done:
            self.progress = f"{SENDING} {human_size4(n):>8}\r\r\n"

    def feed(self, m: dict) -> None:
        if "stream" in m:
            self.text.append(m["stream"])

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def finish(self, res: Result) -> None:
        pass

    @property
    def output(self) -> str:
        return "".join(self.text)


# -- the live view --------------------------------------------------------------------------

class Step:
    def __init__(self, name: str, start: float) -> None:
        self.name = name  # "[2/7] RUN make"
        self.start = start
        self.end: float | None = None
        self.cached = False
        self.failed = False
        self.detail = ""  # a sub-line: "transferring context: 2.05kB"
        self.logs: deque = deque(maxlen=200)
        self.partial = ""  # output not yet ended by a newline
        self.pulls: dict[str, str] = {}  # layer id -> its progress


class TtyView:
    """BuildKit-style live view made from the classic stream, timed client-side.

    A step starts at "Step N/M : X" and ends at its " ---> <id>" line (or the next step);
    " ---> Using cache" makes it CACHED. Drawing happens on a ticker thread, so timers move
    while a RUN is silent; the final state is printed once, plainly, with no live lines.
    """

    LOG_LINES = 6
    ERROR_LINES = 20

    def __init__(self, out: TextIO, clock: Callable[[], float] = time.monotonic,
                 width: int | None = None, height: int | None = None) -> None:
        self.out = out
        self.clock = clock
        self.started = clock()
        self.width = width
        self.height = height
        self.internal = Step("[internal] load build context", self.started)
        self.steps: list[Step] = []
        self.total = 0
        self.notes: list[str] = []  # text outside any step: warnings
        self.tags: list[str] = []
        self.built = ""
        self.image_id = ""
        self._pending = ""
        self._drawn = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    # feeding

    def start(self) -> None:
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.1):
            with self._lock:
                self._draw(self.frame(final=False))

    def sending(self, n: int, done: bool) -> None:
        with self._lock:
            self.internal.detail = f"transferring context: {human_size4(n)}"
            if done:
                self.internal.end = self.clock()

    @property
    def current(self) -> Step | None:
        return self.steps[-1] if self.steps else None

    def feed(self, m: dict) -> None:
        with self._lock:
            if "stream" in m:
                self._text(m["stream"])
            elif m.get("id"):
                self._pull(m)
            elif m.get("status"):
                self._line(m["status"])

    def _text(self, text: str) -> None:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._line(line)
        step = self.current
        if step is not None and step.end is None:
            step.partial = _ANSI.sub("", self._pending.rsplit("\r", 1)[-1])

    def _pull(self, m: dict) -> None:
        step = self.current
        if step is None:
            return
        d = m.get("progressDetail") or {}
        text = f"{m['id']}: {m.get('status', '')}"
        if d.get("current"):
            text += f" {human_size4(d['current'])}"
            if d.get("total"):
                text += f" / {human_size4(d['total'])}"
        step.pulls[m["id"]] = text

    def _line(self, line: str) -> None:
        now = self.clock()
        plain = _ANSI.sub("", line.rstrip("\r"))
        if not plain and line:
            return  # only colour codes: the end of the daemon's red stderr wrapping
        line = plain
        if self.internal.end is None:
            self.internal.end = now  # the daemon speaks: it has the whole context
        step = self.current
        if m := _STEP.fullmatch(line):
            if step is not None and step.end is None:
                step.end = now
            self.total = int(m.group(2))
            self.steps.append(Step(f"[{m.group(1)}/{m.group(2)}] {m.group(3)}", now))
            return
        if line.startswith("Successfully built "):
            self.built = line.split()[-1]
            if step is not None and step.end is None:
                step.end = now
            return
        if line.startswith("Successfully tagged "):
            self.tags.append(line[len("Successfully tagged "):])
            return
        if line == " ---> Using cache":
            if step is not None:
                step.cached = True
            return
        if _LAYER.fullmatch(line):
            if step is not None and step.end is None:
                step.end = now
            return
        if line.startswith((" ---> ", "Removing intermediate container ")):
            return
        if step is None or step.end is not None or line.startswith("[Warning]"):
            if line.strip():
                self.notes.append(line)
            return
        step.partial = ""
        step.logs.append(line.rsplit("\r", 1)[-1])

    # drawing

    def _size(self) -> tuple[int, int]:
        if self.width and self.height:
            return self.width, self.height
        import os

        try:
            size = os.get_terminal_size(self.out.fileno())
            # a pty nobody sized (script, CI) says 0x0: take 80x24 as docker does
            return self.width or size.columns or 80, self.height or size.lines or 24
        except (OSError, ValueError, AttributeError):
            return self.width or 80, self.height or 24

    def _row(self, text: str, secs: float | None, width: int) -> str:
        """Text with its time at the right edge, cut to the terminal's width."""
        right = f"{secs:.1f}s" if secs is not None else ""
        room = max(width - 1 - len(right) - 1, 10)
        if len(text) > room:
            text = text[:room - 1] + "…"
        return text.ljust(room) + " " + right if right else text

    def frame(self, final: bool) -> list[str]:
        """The lines of the view; ``final`` has no live output and says FINISHED."""
        now = self.clock()
        width, height = self._size()
        vertices = [self.internal] + self.steps
        done = sum(1 for s in vertices if s.end is not None)
        total = max(self.total, len(self.steps)) + 1
        head = f"[+] Building {now - self.started:.1f}s ({done}/{total})"
        if final and not any(s.failed for s in vertices):
            head += " FINISHED"
        rows = [head]
        for s in vertices:
            secs = (s.end or now) - s.start
            label = ("CACHED " if s.cached else "") + ("ERROR " if s.failed else "") + s.name
            line = self._row(f" => {label}", 0.0 if s.cached else secs, width)
            if not final and s.end is None:
                line = f"\x1b[34m{line}\x1b[0m"  # running: blue, as BuildKit
            rows.append(line)
            if s.detail and (final or s.end is None or s is self.internal):
                rows.append(self._row(f" => => {s.detail}", secs, width))
            if not final and s.end is None:
                rows += [self._row(f" => => {p}", None, width) for p in s.pulls.values()]
                tail = list(s.logs)[-self.LOG_LINES:]
                if s.partial:
                    tail = (tail + [s.partial])[-self.LOG_LINES:]
                rows += [f"\x1b[2m{self._row(' => => # ' + t, None, width)}\x1b[0m"
                         for t in tail]
        if final and self.image_id:
            rows.append(self._row(" => exporting to image", 0.0, width))
            rows.append(self._row(f" => => writing image {self.image_id}", 0.0, width))
            rows += [self._row(f" => => naming to {t}", 0.0, width) for t in self.tags]
        if not final and len(rows) > height - 1:
            rows = [rows[0]] + rows[len(rows) - (height - 2):]  # the newest lines fit
        return rows

    def _draw(self, rows: list[str]) -> None:
        up = f"\x1b[{self._drawn}A\r" if self._drawn else "\r"
        self.out.write(up + "".join(f"\x1b[2K{r}\n" for r in rows) + "\x1b[J")
        self.out.flush()
        self._drawn = len(rows)

    def stop(self) -> None:
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None

    def finish(self, res: Result) -> None:
        """Stop the ticker and print the final state; on failure the step's last output."""
        self.stop()
        with self._lock:
            if self._pending:
                self._line(self._pending)
                self._pending = ""
            now = self.clock()
            self.image_id = res.image_id or self.built
            failing = None
            for s in [self.internal] + self.steps:
                if s.end is None:
                    s.end = now
                    if res.error is not None:
                        s.failed, failing = True, s
            self._draw(self.frame(final=True))
            self._drawn = 0
            if failing is not None and (failing.logs or failing.partial):
                tail = list(failing.logs)[-self.ERROR_LINES:]
                if failing.partial:
                    tail.append(failing.partial)
                self.out.write(f"------\n > {failing.name}:\n" + "".join(
                    f"{t}\n" for t in tail) + "------\n")
            for note in self.notes:
                self.out.write(note + "\n")
            self.out.flush()


def choose(progress: str, quiet: bool, out: TextIO | None = None):
    """The view for --progress and -q: auto is the live view on a terminal, else plain."""
    if quiet:
        return QuietView()
    out = out or sys.stdout
    tty = out.isatty()
    if progress == "tty" or (progress == "auto" and tty):
        return TtyView(out)
    return PlainView(out, tty)
