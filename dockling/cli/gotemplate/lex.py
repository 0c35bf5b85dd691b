"""The lexer of Go's text/template (src/text/template/parse/lex.go, Go 1.24), state for
state: the parser pulls one item at a time; positions are character offsets into the
template (errors turn them into Go's byte columns)."""

from __future__ import annotations

from dataclasses import dataclass

# item types; the keywords sort after KEYWORD, as in Go
ERROR, BOOL, CHAR, CHAR_CONSTANT, COMMENT, COMPLEX, ASSIGN, DECLARE, EOF, FIELD, \
    IDENTIFIER, LEFT_DELIM, LEFT_PAREN, NUMBER, PIPE, RAW_STRING, RIGHT_DELIM, \
    RIGHT_PAREN, SPACE, STRING, TEXT, VARIABLE, KEYWORD, BLOCK, BREAK, CONTINUE, DOT, \
    DEFINE, ELSE, END, IF, NIL, RANGE, TEMPLATE, WITH = range(35)

KEYWORDS = {".": DOT, "block": BLOCK, "break": BREAK, "continue": CONTINUE,
            "define": DEFINE, "else": ELSE, "end": END, "if": IF, "range": RANGE,
            "nil": NIL, "template": TEMPLATE, "with": WITH}

LEFT_DELIM_TEXT, RIGHT_DELIM_TEXT = "{{", "}}"
LEFT_COMMENT, RIGHT_COMMENT = "/*", "*/"
SPACE_CHARS = " \t\r\n"
TRIM_MARKER_LEN = 2  # "- " or " -"


@dataclass
class Item:
    typ: int
    pos: int
    val: str
    line: int

    def __str__(self) -> str:
        from dockling.cli.gotemplate.strconv import quote

        if self.typ == EOF:
            return "EOF"
        if self.typ == ERROR:
            return self.val
        if self.typ > KEYWORD:
            return f"<{self.val}>"
        if len(self.val) > 10:
            return quote(self.val[:10]) + "..."
        return quote(self.val)


def is_space(c: str) -> bool:
    return c in (" ", "\t", "\r", "\n")


def is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


def _is_print_ascii(c: str) -> bool:
    return " " <= c <= "~"


def has_left_trim_marker(s: str, i: int) -> bool:
    return len(s) - i >= 2 and s[i] == "-" and is_space(s[i + 1])


def has_right_trim_marker(s: str, i: int) -> bool:
    return len(s) - i >= 2 and is_space(s[i]) and s[i + 1] == "-"


class Lexer:
    """Go's lexer: next_item() runs the state functions until one emits an item."""

    def __init__(self, text: str, left: str = "", right: str = "", *,
                 break_ok: bool = True, continue_ok: bool = True) -> None:
        self.input = text
        self.left = left or LEFT_DELIM_TEXT
        self.right = right or RIGHT_DELIM_TEXT
        self.pos = 0
        self.start = 0
        self.at_eof = False
        self.paren_depth = 0
        self.line = 1
        self.start_line = 1
        self.item: Item | None = None
        self.inside_action = False
        self.break_ok = break_ok
        self.continue_ok = continue_ok

    # -- primitives --------------------------------------------------------------------
    def next(self) -> str:
        if self.pos >= len(self.input):
            self.at_eof = True
            return ""
        c = self.input[self.pos]
        self.pos += 1
        if c == "\n":
            self.line += 1
        return c

    def peek(self) -> str:
        c = self.next()
        self.backup()
        return c

    def backup(self) -> None:
        if not self.at_eof and self.pos > 0:
            self.pos -= 1
            if self.input[self.pos] == "\n":
                self.line -= 1

    def this_item(self, typ: int) -> Item:
        i = Item(typ, self.start, self.input[self.start:self.pos], self.start_line)
        self.start = self.pos
        self.start_line = self.line
        return i

    def emit(self, typ: int):
        return self.emit_item(self.this_item(typ))

    def emit_item(self, item: Item):
        self.item = item
        return None

    def ignore(self) -> None:
        self.line += self.input.count("\n", self.start, self.pos)
        self.start = self.pos
        self.start_line = self.line

    def accept(self, valid: str) -> bool:
        c = self.next()
        if c and c in valid:
            return True
        self.backup()
        return False

    def accept_run(self, valid: str) -> None:
        while True:
            c = self.next()
            if not c or c not in valid:
                break
        self.backup()

    def errorf(self, message: str):
        self.item = Item(ERROR, self.start, message, self.start_line)
        self.start = 0
        self.pos = 0
        self.input = ""
        return None

    def next_item(self) -> Item:
        self.item = Item(EOF, self.pos, "EOF", self.start_line)
        state = lex_inside_action if self.inside_action else lex_text
        while True:
            state = state(self)
            if state is None:
                return self.item

    def at_right_delim(self) -> tuple[bool, bool]:
        if has_right_trim_marker(self.input, self.pos) and self.input.startswith(
                self.right, self.pos + TRIM_MARKER_LEN):
            return True, True
        if self.input.startswith(self.right, self.pos):
            return True, False
        return False, False

    def at_terminator(self) -> bool:
        c = self.peek()
        if c and is_space(c):
            return True
        if c in ("", ".", ",", "|", ":", ")", "("):
            return True
        return self.input.startswith(self.right, self.pos)

    def scan_number(self) -> bool:
        self.accept("+-")
        digits = "0123456789_"
        if self.accept("0"):
            if self.accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self.accept("oO"):
                digits = "01234567_"
            elif self.accept("bB"):
                digits = "01_"
        self.accept_run(digits)
        if self.accept("."):
            self.accept_run(digits)
        if len(digits) == 11 and self.accept("eE"):
            self.accept("+-")
            self.accept_run("0123456789_")
        if len(digits) == 23 and self.accept("pP"):
            self.accept("+-")
            self.accept_run("0123456789_")
        self.accept("i")
        c = self.peek()
        if c and is_alnum(c):
            self.next()
            return False
        return True


# -- state functions: each returns the next state, or None once an item is ready --------

def lex_text(lx: Lexer):
    x = lx.input.find(lx.left, lx.pos)
    if x >= 0:
        if x > lx.pos:
            lx.pos = x
            trim = 0
            delim_end = lx.pos + len(lx.left)
            if has_left_trim_marker(lx.input, delim_end):
                text = lx.input[lx.start:lx.pos]
                trim = len(text) - len(text.rstrip(SPACE_CHARS))
            lx.pos -= trim
            lx.line += lx.input.count("\n", lx.start, lx.pos)
            item = lx.this_item(TEXT)
            lx.pos += trim
            lx.ignore()
            if item.val:
                return lx.emit_item(item)
        return lex_left_delim
    lx.pos = len(lx.input)
    if lx.pos > lx.start:
        lx.line += lx.input.count("\n", lx.start, lx.pos)
        return lx.emit(TEXT)
    return lx.emit(EOF)


def lex_left_delim(lx: Lexer):
    lx.pos += len(lx.left)
    trim = has_left_trim_marker(lx.input, lx.pos)
    after = TRIM_MARKER_LEN if trim else 0
    if lx.input.startswith(LEFT_COMMENT, lx.pos + after):
        lx.pos += after
        lx.ignore()
        return lex_comment
    item = lx.this_item(LEFT_DELIM)
    lx.inside_action = True
    lx.pos += after
    lx.ignore()
    lx.paren_depth = 0
    return lx.emit_item(item)


def lex_comment(lx: Lexer):
    lx.pos += len(LEFT_COMMENT)
    x = lx.input.find(RIGHT_COMMENT, lx.pos)
    if x < 0:
        return lx.errorf("unclosed comment")
    lx.pos = x + len(RIGHT_COMMENT)
    delim, trim = lx.at_right_delim()
    if not delim:
        return lx.errorf("comment ends before closing delimiter")
    lx.line += lx.input.count("\n", lx.start, lx.pos)
    lx.this_item(COMMENT)
    if trim:
        lx.pos += TRIM_MARKER_LEN
    lx.pos += len(lx.right)
    if trim:
        rest = lx.input[lx.pos:]
        lx.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
    lx.ignore()
    return lex_text


def lex_right_delim(lx: Lexer):
    _, trim = lx.at_right_delim()
    if trim:
        lx.pos += TRIM_MARKER_LEN
        lx.ignore()
    lx.pos += len(lx.right)
    item = lx.this_item(RIGHT_DELIM)
    if trim:
        rest = lx.input[lx.pos:]
        lx.pos += len(rest) - len(rest.lstrip(SPACE_CHARS))
        lx.ignore()
    lx.inside_action = False
    return lx.emit_item(item)


def lex_inside_action(lx: Lexer):
    delim, _ = lx.at_right_delim()
    if delim:
        if lx.paren_depth == 0:
            return lex_right_delim
        return lx.errorf("unclosed left paren")
    c = lx.next()
    if c == "":
        return lx.errorf("unclosed action")
    if is_space(c):
        lx.backup()  # the space may start " -}}"
        return lex_space
    if c == "=":
        return lx.emit(ASSIGN)
    if c == ":":
        if lx.next() != "=":
            return lx.errorf("expected :=")
        return lx.emit(DECLARE)
    if c == "|":
        return lx.emit(PIPE)
    if c == '"':
        return lex_quote
    if c == "`":
        return lex_raw_quote
    if c == "$":
        return lex_variable
    if c == "'":
        return lex_char
    if c == ".":
        if lx.pos < len(lx.input) and not ("0" <= lx.input[lx.pos] <= "9"):
            return lex_field
        lx.backup()
        return lex_number
    if c in "+-" or "0" <= c <= "9":
        lx.backup()
        return lex_number
    if is_alnum(c):
        lx.backup()
        return lex_identifier
    if c == "(":
        lx.paren_depth += 1
        return lx.emit(LEFT_PAREN)
    if c == ")":
        lx.paren_depth -= 1
        if lx.paren_depth < 0:
            return lx.errorf("unexpected right paren")
        return lx.emit(RIGHT_PAREN)
    if _is_print_ascii(c):
        return lx.emit(CHAR)
    return lx.errorf(f"unrecognized character in action: {_rune_u(c)}")


def lex_space(lx: Lexer):
    n = 0
    while True:
        c = lx.peek()
        if not c or not is_space(c):
            break
        lx.next()
        n += 1
    # a trim-marked right delimiter starts with a space
    if has_right_trim_marker(lx.input, lx.pos - 1) and lx.input.startswith(
            lx.right, lx.pos - 1 + TRIM_MARKER_LEN):
        lx.backup()
        if n == 1:
            return lex_right_delim
    return lx.emit(SPACE)


def lex_identifier(lx: Lexer):
    while True:
        c = lx.next()
        if c and is_alnum(c):
            continue
        lx.backup()
        word = lx.input[lx.start:lx.pos]
        if not lx.at_terminator():
            return lx.errorf(f"bad character {_rune_u(c)}")
        kw = KEYWORDS.get(word)
        if kw is not None and kw > KEYWORD:
            if (kw == BREAK and not lx.break_ok) or (kw == CONTINUE and not lx.continue_ok):
                return lx.emit(IDENTIFIER)
            return lx.emit(kw)
        if word[0] == ".":
            return lx.emit(FIELD)
        if word in ("true", "false"):
            return lx.emit(BOOL)
        return lx.emit(IDENTIFIER)


def lex_field(lx: Lexer):
    return _lex_field_or_variable(lx, FIELD)


def lex_variable(lx: Lexer):
    if lx.at_terminator():
        return lx.emit(VARIABLE)
    return _lex_field_or_variable(lx, VARIABLE)


def _lex_field_or_variable(lx: Lexer, typ: int):
    if lx.at_terminator():
        return lx.emit(VARIABLE if typ == VARIABLE else DOT)
    c = ""
    while True:
        c = lx.next()
        if not c or not is_alnum(c):
            lx.backup()
            break
    if not lx.at_terminator():
        return lx.errorf(f"bad character {_rune_u(c)}")
    return lx.emit(typ)


def lex_char(lx: Lexer):
    while True:
        c = lx.next()
        if c == "\\":
            c = lx.next()
            if c and c != "\n":
                continue
            return lx.errorf("unterminated character constant")
        if c in ("", "\n"):
            return lx.errorf("unterminated character constant")
        if c == "'":
            break
    return lx.emit(CHAR_CONSTANT)


def lex_number(lx: Lexer):
    from dockling.cli.gotemplate.strconv import quote

    if not lx.scan_number():
        return lx.errorf(f"bad number syntax: {quote(lx.input[lx.start:lx.pos])}")
    sign = lx.peek()
    if sign in ("+", "-"):
        if not lx.scan_number() or lx.input[lx.pos - 1] != "i":
            return lx.errorf(f"bad number syntax: {quote(lx.input[lx.start:lx.pos])}")
        return lx.emit(COMPLEX)
    return lx.emit(NUMBER)


def lex_quote(lx: Lexer):
    while True:
        c = lx.next()
        if c == "\\":
            c = lx.next()
            if c and c != "\n":
                continue
            return lx.errorf("unterminated quoted string")
        if c in ("", "\n"):
            return lx.errorf("unterminated quoted string")
        if c == '"':
            break
    return lx.emit(STRING)


def lex_raw_quote(lx: Lexer):
    while True:
        c = lx.next()
        if c == "":
            return lx.errorf("unterminated raw quoted string")
        if c == "`":
            break
    return lx.emit(RAW_STRING)


def _rune_u(c: str) -> str:
    """Go's %#U: U+0023 '#'."""
    if not c:
        return "U+FFFFFFFFFFFFFFFF"  # Go's eof rune (-1) printed as %#U
    from dockling.cli.gotemplate.strconv import is_print

    code = f"U+{ord(c):04X}"
    return f"{code} '{c}'" if is_print(c) else code
