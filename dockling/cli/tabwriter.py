"""Go's text/tabwriter as docker/cli forks it (cli/command/formatter/tabwriter: cell
widths by go-runewidth): tab-terminated cells, a column block ends at the first line
without that cell, a line of one cell flushes; every cell but a line's last is padded to
max(minwidth, width + padding)."""

from __future__ import annotations

import unicodedata


def string_width(s: str) -> int:
    """go-runewidth's StringWidth: East Asian wide and full-width runes count 2,
    combining marks and control characters 0."""
    w = 0
    for c in s:
        o = ord(c)
        if o < 0x20 or 0x7F <= o < 0xA0:
            continue
        cat = unicodedata.category(c)
        if cat in ("Mn", "Me") or (cat == "Cf" and o != 0xAD) or o == 0x200B:
            continue
        w += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return w


class TabWriter:
    def __init__(self, minwidth: int, tabwidth: int, padding: int, padchar: str = " ",
                 align_right: bool = False) -> None:
        self.minwidth = minwidth
        self.tabwidth = tabwidth
        self.padding = padding
        self.padchar = padchar
        self.align_right = align_right
        self.out: list[str] = []
        self._reset()

    def _reset(self) -> None:
        self.text = ""  # the current cell's text
        self.lines: list[list[tuple[str, int, bool]]] = [[]]  # (text, width, htab)
        self.widths: list[int] = []

    def _terminate_cell(self, htab: bool) -> int:
        self.lines[-1].append((self.text, string_width(self.text), htab))
        self.text = ""
        return len(self.lines[-1])

    def write(self, s: str) -> None:
        start = 0
        for i, ch in enumerate(s):
            if ch in "\t\v\n\f":
                self.text += s[start:i]
                start = i + 1
                ncells = self._terminate_cell(ch == "\t")
                if ch in "\n\f":
                    self.lines.append([])
                    if ch == "\f" or ncells == 1:
                        self._flush_lines()
        self.text += s[start:]

    def flush(self) -> str:
        if self.text:
            self._terminate_cell(False)
        self._flush_lines()
        out = "".join(self.out)
        self.out = []
        return out

    def _flush_lines(self) -> None:
        self._format(0, len(self.lines))
        self._reset()

    def _padding(self, textw: int, cellw: int) -> str:
        if self.padchar == "\t":
            if self.tabwidth == 0:
                return ""
            cellw = (cellw + self.tabwidth - 1) // self.tabwidth * self.tabwidth
            n = cellw - textw
            return "\t" * ((n + self.tabwidth - 1) // self.tabwidth)
        return self.padchar * (cellw - textw)

    def _write_lines(self, line0: int, line1: int) -> None:
        for i in range(line0, line1):
            line = self.lines[i]
            for j, (text, width, _) in enumerate(line):
                if not text:
                    if j < len(self.widths):
                        self.out.append(self._padding(width, self.widths[j]))
                elif not self.align_right:
                    self.out.append(text)
                    if j < len(self.widths):
                        self.out.append(self._padding(width, self.widths[j]))
                else:
                    if j < len(self.widths):
                        self.out.append(self._padding(width, self.widths[j]))
                    self.out.append(text)
            if i + 1 == len(self.lines):
                self.out.append(self.text)  # the unterminated cell
            else:
                self.out.append("\n")

    def _format(self, line0: int, line1: int) -> None:
        column = len(self.widths)
        this = line0
        while this < line1:
            line = self.lines[this]
            if column >= len(line) - 1:
                this += 1
                continue
            self._write_lines(line0, this)
            line0 = this
            width = self.minwidth
            discardable = True
            while this < line1:
                line = self.lines[this]
                if column >= len(line) - 1:
                    break
                _, w, htab = line[column]
                width = max(width, w + self.padding)
                if w > 0 or htab:
                    discardable = False
                this += 1
            self.widths.append(width)
            self._format(line0, this)
            self.widths.pop()
            line0 = this
        self._write_lines(line0, line1)
