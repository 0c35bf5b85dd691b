"""Variable substitution in Dockerfile words: BuildKit's shell lexer.

A port of moby/buildkit ``frontend/dockerfile/shell/lex.go``, the code that
expands ``$VAR`` in ENV, ARG, COPY, WORKDIR... values (never in RUN: the shell
does that). It is not a shell: quotes are removed, ``\\`` (or the ``escape``
directive's backtick) escapes one character, single quotes are literal,
double quotes allow ``$``; the modifiers are ``${v:-x} ${v-x} ${v:+x} ${v+x}
${v:?msg} ${v?msg} ${v#pat} ${v##pat} ${v%pat} ${v%%pat} ${v/pat/repl}
${v//pat/repl}``, nothing else (``${v:=x}`` and ``${#v}`` are errors, as
there). Unset variables expand to nothing; positional and special
parameters (``$1``, ``$@``, ``$$``...) are never set.

- ``expand_word``  -- ProcessWord: one word, spaces kept.
- ``expand_words`` -- ProcessWords: split into words after expansion, as
  EXPOSE does; quotes group.
- ``used_names``   -- ProcessWordWithMatches: the set variables a word read,
  so a step's cache key holds only the build args it uses.
- ``Lexer``        -- the options the Dockerfile parser needs for heredocs
  (raw quotes and escapes, unset variables kept as written).

Errors are ``InvalidArgument`` with BuildKit's words, e.g.
``failed to process "${a:-b": syntax error: missing '}'``. Windows-only
behaviour (case-insensitive names) is left out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from dockling.errors import InvalidArgument

__all__ = ["Lexer", "expand_word", "expand_words", "go_quote", "used_names"]

_EOF = ""  # text/scanner's EOF: every real character is a 1-char string


class _LexError(Exception):
    """An error inside one word; ``Lexer`` wraps it with the word."""


def go_quote(s: str) -> str:
    """Go's ``%q`` of a string (strconv.Quote), used in docker's messages."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) < 0x10000:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r",
               "\t": "\\t", "\v": "\\v"}


class _Words:
    """Word splitting as the lexer goes (lex.go's wordsStruct)."""

    def __init__(self) -> None:
        self.buf: list[str] = []
        self.words: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, s: str) -> None:
        for ch in s:
            self.add_char(ch)

    def add_raw_string(self, s: str) -> None:
        self.buf.append(s)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            self.words.append("".join(self.buf))
            self.buf = []
            self.in_word = False
        return self.words


class Lexer:
    """BuildKit's ``shell.Lex`` with its options.

    ``raw_quotes`` keeps quote characters, ``raw_escapes`` keeps escape
    characters, ``skip_unset_env`` leaves ``$x``/``${x...}`` of an unset
    variable as written (the parser uses all three to find heredoc words).
    """

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_unset_env: bool = False) -> None:
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Mapping[str, str]) -> tuple[str, set[str]]:
        """The expanded word and the names of the set variables it read."""
        sw = _ShellWord(self, word, env)
        result, _ = sw.process(word)
        return result, sw.matches

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        sw = _ShellWord(self, word, env)
        _, words = sw.process(word)
        return words


class _ShellWord:
    """One pass over one word (lex.go's shellWord); ``pos`` is the scanner."""

    def __init__(self, lex: Lexer, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matches: set[str] = set()

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else _EOF

    def next(self) -> str:
        ch = self.peek()
        if ch:
            self.pos += 1
        return ch

    def process(self, source: str) -> tuple[str, list[str]]:
        try:
            return self.process_stop_on(_EOF, self.raw_escapes)
        except _LexError as e:
            raise InvalidArgument(f"failed to process {go_quote(source)}: {e}") from None

    def process_stop_on(self, stop: str, raw_escapes: bool) -> tuple[str, list[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _stop_on(self, stop: str) -> tuple[str, list[str]]:
        # Each nesting level has its own words; buildkit since 2024 shares one
        # buffer between levels, so its ProcessWords drops "a" from "a${x:-b}".
        # That is a bug we do not copy (it only affects EXPOSE and heredocs).
        result: list[str] = []
        words = _Words()
        esc = self.lex.escape
        while (ch := self.peek()) != _EOF:
            if stop and ch == stop:
                self.next()
                return "".join(result), words.get_words()
            if ch in "$<'\"":
                tmp = self._special(ch)
                result.append(tmp)
                if ch == "$":
                    words.add_string(tmp)
                else:
                    words.add_raw_string(tmp)
                continue
            ch = self.next()
            if ch == esc:
                if self.raw_escapes:
                    words.add_raw_char(ch)
                    result.append(ch)
                ch = self.next()  # the escape escapes the next char, except at the end
                if ch == _EOF:
                    break
                words.add_raw_char(ch)
            else:
                words.add_char(ch)
            result.append(ch)
        if stop:
            raise _LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def _special(self, ch: str) -> str:
        if ch == "$":
            return self.process_dollar()
        if ch == "<":
            return self.process_possible_heredoc()
        if ch == "'":
            return self.process_single_quote()
        return self.process_double_quote()

    def process_single_quote(self) -> str:
        # sh(1): single quotes keep every character, so ' cannot be escaped inside.
        raw = self.lex.raw_quotes
        opening = self.next()
        out = [opening] if raw else []
        while True:
            ch = self.next()
            if ch == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if raw:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def process_double_quote(self) -> str:
        # sh(1): inside double quotes the escape only escapes $, " and itself.
        raw = self.lex.raw_quotes
        esc = self.lex.escape
        opening = self.next()
        out = [opening] if raw else []
        while True:
            nxt = self.peek()
            if nxt == _EOF:
                raise _LexError(
                    "unexpected end of statement while looking for matching double-quote")
            if nxt == '"':
                ch = self.next()
                if raw:
                    out.append(ch)
                return "".join(out)
            if nxt == "$":
                out.append(self.process_dollar())
                continue
            ch = self.next()
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                after = self.peek()
                if after == _EOF:
                    continue  # a trailing escape is dropped (then: unterminated)
                if after in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def process_possible_heredoc(self) -> str:
        self.next()
        if self.peek() != "<":
            return "<"
        self.next()
        # "<<  EOF" stays one word: the spaces after << belong to it
        spaces = []
        while self.peek() in ("\t", "\r", " "):
            spaces.append(self.next())
        return "<<" + "".join(spaces)

    def get_env(self, name: str) -> tuple[str, bool]:
        if name in self.env:
            self.matches.add(name)
            return self.env[name], True
        return "", False

    def process_name(self) -> str:
        # A name is letters, digits and _; $1 takes all the digits, $@ one char.
        name: list[str] = []
        while (ch := self.peek()) != _EOF:
            if not name and ch.isdecimal():
                while self.peek() != _EOF and self.peek().isdecimal():
                    name.append(self.next())
                return "".join(name)
            if not name and ch in "@*#?-$!0":
                return self.next()
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(self.next())
        return "".join(name)

    def process_dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value
        self.next()
        if self.peek() == _EOF:
            raise _LexError("syntax error: missing '}'")
        if self.peek() in "{}:":
            raise _LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        # Go's string(EOF) is U+FFFD: "${a" says "unsupported modifier (\ufffd)"
        chs = ch or "\ufffd"
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == "/":
            return self._substitute(name)
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            chs += ch or "\ufffd"
        elif ch not in ("+", "-", "?", "#", "%") or ch == _EOF:
            raise _LexError(f"unsupported modifier ({chs}) in substitution")
        raw = ch in ("#", "%") and ch != _EOF
        if null_is_unset and raw:
            raise _LexError(f"unsupported modifier ({chs}) in substitution")
        word = self._until("}", raw, "syntax error: missing '}'")
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + chs + word + "}"
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise _LexError(f"{name}: {word or 'is not allowed to be unset'}")
            if null_is_unset and value == "":
                raise _LexError(f"{name}: {word or 'is not allowed to be empty'}")
            return value
        if ch in ("#", "%"):
            greedy = word[:1] == ch
            if greedy:
                word = word[1:]
            return _trim_suffix(word, value, greedy) if ch == "%" else _trim_prefix(
                word, value, greedy)
        raise _LexError(f"unsupported modifier ({chs}) in substitution")

    def _until(self, stop: str, raw: bool, missing: str) -> str:
        try:
            word, _ = self.process_stop_on(stop, raw)
        except _LexError:
            if self.peek() == _EOF:
                raise _LexError(missing) from None
            raise
        return word

    def _substitute(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        pattern = self._until("/", True, "syntax error: missing '/' in ${}")
        replacement = self._until("}", True, "syntax error: missing '}'")
        value, found = self.get_env(name)
        if self.lex.skip_unset_env and not found:
            return "${" + name + "/" + pattern + "/" + replacement + "}"
        regex = _pattern_regex(pattern, greedy=True, anchored=False)
        # Go's ReplaceAllString would also expand $1 in the replacement; the
        # replacement is taken literally here.
        if replace_all:
            return regex.sub(lambda _m: replacement, value)
        return regex.sub(lambda _m: replacement, value, count=1)


def _pattern_regex(pattern: str, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """A shell pattern (``*``, ``?``, ``\\`` escapes; no ``[...]``) as a regex
    (lex.go's convertShellPatternToRegex)."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        tok = pattern[i]
        i += 1
        if tok == "*":
            out.append(star)
        elif tok == "?":
            out.append(".")
        elif tok == "\\":
            nxt = pattern[i] if i < len(pattern) else _EOF
            if nxt in ("}", "/") and nxt != _EOF:
                continue  # the escape of } and / inside ${} is not part of the pattern
            i += 1
            if nxt not in ("*", "?", "\\") or nxt == _EOF:
                raise _LexError(f"invalid pattern ({pattern}) in substitution: "
                                f"invalid escape '\\{nxt or chr(0xFFFD)}'")
            out.append("\\" + nxt)
        elif tok in "[]{}.+()|^$":
            out.append("\\" + tok)
        else:
            out.append(tok)
    return re.compile("".join(out))


def _trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    m = _pattern_regex(pattern, greedy, anchored=True).search(value)
    return value[m.end():] if m else value


def _reverse_pattern(pattern: str) -> str:
    # reverse, keeping each escape before the character it escapes (a\*c -> c\*a)
    out = [""] * len(pattern)
    last = len(pattern) - 1
    i = 0
    while i <= last:
        tok = pattern[i]
        j = last - i
        if tok == "\\" and i != last:
            out[j - 1] = tok
            out[j] = pattern[i + 1]
            i += 2
        else:
            out[j] = tok
            i += 1
    return "".join(out)


def _trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # A regex finds the leftmost match only, so search the reversed value
    # with the reversed pattern (as buildkit does).
    return _trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)[::-1]


def expand_word(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """``word`` with variables expanded and quotes removed (ProcessWord)."""
    return Lexer(escape).process_word(word, env)[0]


def expand_words(text: str, env: Mapping[str, str], escape: str = "\\") -> list[str]:
    """``text`` expanded, then split into words as the shell would (ProcessWords):
    spaces inside quotes or from a quoted expansion do not split."""
    return Lexer(escape).process_words(text, env)


def used_names(word: str, env: Mapping[str, str], escape: str = "\\") -> set[str]:
    """The names in ``env`` that expanding ``word`` read (ProcessWordWithMatches).

    Unset names are not included: they add nothing to the result, so a
    cache key built from these values does not change when they stay unset.
    """
    return Lexer(escape).process_word(word, env)[1]
