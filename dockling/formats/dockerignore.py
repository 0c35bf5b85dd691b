""".dockerignore: which files of a build context are sent.

The rules of moby/patternmatcher (``MatchesOrParentMatches``), its
``ignorefile.ReadAll`` and the walk of moby's ``TarWithOptions`` that
docker/cli uses to send a context:

- ``read_patterns`` reads the file: a line starting with ``#`` is a comment
  (only in the first column: "  # x" is a pattern), lines are trimmed,
  ``filepath.Clean``-ed, a leading ``/`` dropped, ``!`` marks an exception.
- ``Matcher.matches(rel)`` is True when ``rel`` or one of its parent
  directories matches a pattern and no later ``!`` pattern matches it again.
  ``*`` and ``?`` do not cross ``/``; ``**`` matches any number of
  directories; ``[a-z]``, ``[^x]`` and ``\\`` escapes as Go's filepath.Match.
- ``Matcher.walk(root)`` lists what is sent. An excluded directory is entered
  only when an exception's text starts with the directory's path (so
  ``!dir/keep`` reaches into ``dir``, ``!*/keep`` does not, as in docker);
  the directory itself is then not listed, only what is re-included inside.

Not done here, because docker does it in the caller: the Dockerfile and
``.dockerignore`` are always sent even when ignored (docker/cli's
TrimBuildFilesFromExcludes appends ``!Dockerfile`` and ``!.dockerignore``),
and the daemon does not give them to COPY when they were ignored.

A malformed pattern raises ``InvalidArgument`` with Go's words, "syntax error
in pattern"; the CLI prefixes "error checking context: " as docker does.
"""

from __future__ import annotations

import os
import posixpath
import re
import warnings
from collections.abc import Iterator

from dockling.errors import InvalidArgument

__all__ = ["Matcher", "read_patterns"]

_BAD_PATTERN = "syntax error in pattern"  # Go's filepath.ErrBadPattern


def _clean(path: str) -> str:
    """Go's path.Clean: unlike normpath, "//a" is "/a" and "" is "."."""
    if not path:
        return "."
    cleaned = posixpath.normpath(path)
    if cleaned.startswith("//"):
        cleaned = "/" + cleaned.lstrip("/")
    return cleaned


def _dir(path: str) -> str:
    """Go's filepath.Dir."""
    head = path[: path.rfind("/") + 1]
    return _clean(head) if head else "."


def read_patterns(text: str) -> list[str]:
    """The patterns of a .dockerignore file (ignorefile.ReadAll)."""
    patterns = []
    for line in text.removeprefix("\ufeff").split("\n"):
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern[0] == "!"
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = _clean(pattern)
            if len(pattern) > 1 and pattern[0] == "/":
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """Go's filepath scanChunk: leading stars, then up to the next star."""
    star = False
    while pattern[:1] == "*":
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif c == "[":
            in_range = True
        elif c == "]":
            in_range = False
        elif c == "*" and not in_range:
            break
        i += 1
    return star, pattern[:i], pattern[i:]


def _get_esc(chunk: str, i: int) -> int:
    """Go's getEsc: one (maybe escaped) class character; -1 when malformed."""
    if i >= len(chunk) or chunk[i] in "-]":
        return -1
    if chunk[i] == "\\":
        i += 1
        if i >= len(chunk):
            return -1
    i += 1
    return i if i < len(chunk) else -1


def _chunk_ok(chunk: str) -> bool:
    i = 0
    while i < len(chunk):
        if chunk[i] == "[":
            i += 1
            if chunk[i:i + 1] == "^":
                i += 1
            ranges = 0
            while not (chunk[i:i + 1] == "]" and ranges > 0):
                i = _get_esc(chunk, i)
                if i >= 0 and chunk[i] == "-":
                    i = _get_esc(chunk, i + 1)
                if i < 0:
                    return False
                ranges += 1
        elif chunk[i] == "\\" and i + 1 >= len(chunk):
            return False
        elif chunk[i] == "\\":
            i += 1
        i += 1
    return True


def _valid(pattern: str) -> bool:
    """Whether Go's filepath.Match accepts the pattern's syntax (patternmatcher
    checks with Match(p, ".") which, since Go 1.16, checks the whole pattern)."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            return True
        if not _chunk_ok(chunk):
            return False
    return True


class _Pattern:
    """One pattern, compiled on first use as patternmatcher does."""

    def __init__(self, text: str, exclusion: bool) -> None:
        self.text = text
        self.exclusion = exclusion
        self.kind = ""  # exact, prefix, suffix or regexp
        self.regexp: re.Pattern[str] | None = None

    def _compile(self) -> None:
        # patternmatcher's compile: the pattern becomes a regexp unless it is
        # a plain path, "dir/**" (prefix) or "**/name" (suffix).
        reg = ["^"]
        kind = "exact"
        text = self.text
        i = 0
        first = True
        while i < len(text):
            ch = text[i]
            i += 1
            if ch == "*" and text[i:i + 1] == "*":
                i += 1
                if text[i:i + 1] == "/":
                    i += 1  # "**/" is "**"
                if i >= len(text):
                    if kind == "exact":
                        kind = "prefix"
                    else:
                        reg.append(".*")
                        kind = "regexp"
                else:
                    reg.append("(.*/)?")  # any number of directories, even none
                    kind = "regexp"
                if first:
                    kind = "suffix"
            elif ch == "*":
                reg.append("[^/]*")
                kind = "regexp"
            elif ch == "?":
                reg.append("[^/]")
                kind = "regexp"
            elif ch in ".+()|{}$":
                reg.append("\\" + ch)
            elif ch == "\\":
                if i < len(text):
                    reg.append("\\" + text[i])
                    i += 1
                    kind = "regexp"
                else:
                    reg.append("\\\\")
            elif ch in "[]":
                reg.append(ch)
                kind = "regexp"
            else:
                reg.append(ch)
            first = False
        if kind == "regexp":
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "possible nested set" and the like
                    self.regexp = re.compile("".join(reg))
            except re.error:
                raise InvalidArgument(_BAD_PATTERN) from None
        self.kind = kind

    def match(self, path: str) -> bool:
        if not self.kind:
            self._compile()
        if self.kind == "exact":
            return path == self.text
        if self.kind == "prefix":
            return path.startswith(self.text[:-2])
        if self.kind == "suffix":
            suffix = self.text[2:]
            # "**/foo" also matches "foo" itself
            return path.endswith(suffix) or (suffix[0] == "/" and path == suffix[1:])
        assert self.regexp is not None
        return self.regexp.fullmatch(path) is not None


class Matcher:
    """A .dockerignore pattern list (patternmatcher.New)."""

    def __init__(self, patterns: list[str]) -> None:
        self._patterns: list[_Pattern] = []
        for pattern in patterns:
            if not pattern.strip():
                continue
            text = _clean(pattern.strip())
            exclusion = text[0] == "!"
            if exclusion:
                if len(text) == 1:
                    raise InvalidArgument('illegal exclusion pattern: "!"')
                text = text[1:]
            if not _valid(text):
                raise InvalidArgument(_BAD_PATTERN)
            self._patterns.append(_Pattern(text, exclusion))

    @property
    def exclusions(self) -> bool:
        """Whether any pattern is a ``!`` exception."""
        return any(p.exclusion for p in self._patterns)

    def matches(self, rel: str) -> bool:
        """Whether ``rel`` (slash-separated, relative to the context) is ignored."""
        rel = _clean(rel)
        if rel == ".":
            return False  # docker/cli: "don't let them exclude everything"
        parent = _dir(rel)
        parents = parent.split("/")
        matched = False
        for p in self._patterns:
            # an inclusion cannot change a match, nor an exception a non-match
            if p.exclusion != matched:
                continue
            hit = p.match(rel)
            if not hit and parent != ".":
                hit = any(p.match("/".join(parents[:i + 1])) for i in range(len(parents)))
            if hit:
                matched = not p.exclusion
        return matched

    def _may_reinclude(self, rel_dir: str) -> bool:
        prefix = rel_dir + "/"
        return any(p.exclusion and (p.text + "/").startswith(prefix) for p in self._patterns)

    def walk(self, root: str) -> Iterator[str]:
        """The relative paths under ``root`` that are sent, directories before
        their contents, names sorted as Go's filepath.Walk does. Symlinks are
        entries, never followed. OSError (unreadable directory) propagates."""
        yield from self._walk(root, "")

    def _walk(self, path: str, rel_dir: str) -> Iterator[str]:
        with os.scandir(path) as it:
            entries = sorted(it, key=lambda e: e.name)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if self.matches(rel):
                if is_dir and self.exclusions and self._may_reinclude(rel):
                    yield from self._walk(entry.path, rel)
                continue
            yield rel
            if is_dir:
                yield from self._walk(entry.path, rel)
