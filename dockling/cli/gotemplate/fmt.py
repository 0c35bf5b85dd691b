"""Go's fmt over template values: Sprint, Sprintln, Sprintf (flags, width, precision,
argument indexes, Go's %!verb(type=value) complaints), %v of maps (sorted keys), slices,
structs, pointers and nil, Stringer methods (time.Time, time.Duration)."""

from __future__ import annotations

from dockling.cli.gotemplate.strconv import (  # noqa: F401 - quote, is_print re-exported
    _bin_float, _hex_float, _sharp_float, format_float, is_print, quote)
from dockling.cli.gotemplate.values import (
    COMPLEX_KINDS, FLOAT_KINDS, INT_KINDS, INVALID, UINT_KINDS, Nil, Struct, kind, type_name,
    type_of)


# -- the printer (fmt's pp) -----------------------------------------------------------------

class _Printer:
    def __init__(self) -> None:
        self.buf: list[str] = []
        self.clear()
        self.erroring = False
        self.arg = None

    def clear(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False
        self.wid = self.prec = 0
        self.wid_present = self.prec_present = False

    def out(self) -> str:
        return "".join(self.buf)

    # padding
    def _padding(self, n: int) -> str:
        if n <= 0:
            return ""
        return ("0" if self.zero else " ") * n

    def pad(self, s: str) -> None:
        if not self.wid_present or self.wid == 0:
            self.buf.append(s)
            return
        width = self.wid - len(s)
        if not self.minus:
            self.buf.append(self._padding(width) + s)
        else:
            self.buf.append(s + self._padding(width))

    def pad_string(self, s: str) -> None:
        self.pad(s)

    # basic formatters
    def fmt_bool(self, v: bool, verb: str) -> None:
        if verb in "tv":
            self.pad("true" if v else "false")
        else:
            self.bad_verb(verb)

    def fmt_integer(self, v: int, signed: bool, bits: int, verb: str) -> None:
        if verb == "v":
            if self.sharp_v and not signed:
                self._fmt0x64(v, True)
            else:
                self._integer(v, 10, verb, "0123456789abcdef")
        elif verb == "d":
            self._integer(v, 10, verb, "0123456789abcdef")
        elif verb == "b":
            self._integer(v, 2, verb, "0123456789abcdef")
        elif verb in "oO":
            self._integer(v, 8, verb, "0123456789abcdef")
        elif verb == "x":
            self._integer(v, 16, verb, "0123456789abcdef")
        elif verb == "X":
            self._integer(v, 16, verb, "0123456789ABCDEF")
        elif verb == "c":
            self.pad(_rune(v))
        elif verb == "q":
            r = _rune(v)
            if self.sharp and r != "`" and (is_print(r) and r != "\ufffd" or False) and \
                    v <= 0x10FFFF:
                self.pad("'" + r + "'")
            else:
                self.pad(quote(r, self.plus, "'"))
        elif verb == "U":
            self._unicode(v)
        else:
            self.bad_verb(verb)

    def _fmt0x64(self, v: int, leading: bool) -> None:
        sharp = self.sharp
        self.sharp = leading
        self._integer(v, 16, "v", "0123456789abcdef")
        self.sharp = sharp

    def _integer(self, v: int, base: int, verb: str, digits: str) -> None:
        negative = v < 0
        u = -v if negative else v
        prec = 0
        zero = self.zero
        if self.prec_present:
            prec = self.prec
            if prec == 0 and u == 0:
                self.zero = False
                self.buf.append(self._padding(self.wid) if self.wid_present else "")
                self.zero = zero
                return
        elif self.zero and not self.minus and self.wid_present:
            prec = self.wid
            if negative or self.plus or self.space:
                prec -= 1
        s = ""
        while True:
            s = digits[u % base] + s
            u //= base
            if u == 0:
                break
        s = s.rjust(prec, "0")
        if self.sharp:
            if base == 2:
                s = "0b" + s
            elif base == 8 and s[0] != "0":
                s = "0" + s
            elif base == 16:
                s = ("0X" if digits[10] == "A" else "0x") + s
        if verb == "O":
            s = "0o" + s
        if negative:
            s = "-" + s
        elif self.plus:
            s = "+" + s
        elif self.space:
            s = " " + s
        self.zero = False
        self.pad(s)
        self.zero = zero

    def _unicode(self, v: int) -> None:
        s = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
        if self.prec_present and self.prec > 4:
            s = "U+" + s[2:].rjust(self.prec, "0")
        if self.sharp and 0 <= v <= 0x10FFFF and is_print(chr(v)):
            s += " '" + chr(v) + "'"
        zero = self.zero
        self.zero = False
        self.pad(s)
        self.zero = zero

    def fmt_float(self, v: float, bits: int, verb: str) -> None:
        if verb == "v":
            self._float(v, bits, "g", -1)
        elif verb in "bgGxX":
            self._float(v, bits, verb, -1)
        elif verb in "feEF":
            self._float(v, bits, verb, 6)
        else:
            self.bad_verb(verb)

    def _float(self, v: float, bits: int, verb: str, prec: int) -> None:
        if self.prec_present:
            prec = self.prec
        if verb == "F":
            verb = "f"
        if verb in "xXb":
            num = _hex_float(v, prec, verb) if verb != "b" else _bin_float(v)
        else:
            num = format_float(v, verb, prec, bits)
        if num[0] not in "+-":
            num = "+" + num
        if self.space and num[0] == "+" and not self.plus:
            num = " " + num[1:]
        if num[1] in "IN":
            zero = self.zero
            self.zero = False
            if num[1] == "N" and not self.space and not self.plus:
                num = num[1:]
            self.pad(num)
            self.zero = zero
            return
        if self.sharp and verb != "b":
            num = _sharp_float(num, verb, prec)
        if self.plus or num[0] != "+":
            if self.zero and not self.minus and self.wid_present and self.wid > len(num):
                self.buf.append(num[0] + "0" * (self.wid - len(num)) + num[1:])
                return
            self.pad(num)
            return
        self.pad(num[1:])

    def fmt_complex(self, v: complex, bits: int, verb: str) -> None:
        if verb not in "vbgGxXfFeE":
            self.bad_verb(verb)
            return
        plus = self.plus
        self.buf.append("(")
        self.fmt_float(v.real, bits // 2, verb)
        self.plus = True
        self.fmt_float(v.imag, bits // 2, verb)
        self.buf.append("i)")
        self.plus = plus

    def fmt_string(self, v: str, verb: str) -> None:
        if verb == "v":
            if self.sharp_v:
                self._q(v)
            else:
                self._s(v)
        elif verb == "s":
            self._s(v)
        elif verb in "xX":
            self._sx(v.encode("utf-8", "surrogateescape"), verb)
        elif verb == "q":
            self._q(v)
        else:
            self.bad_verb(verb)

    def _truncate(self, s: str) -> str:
        if self.prec_present:
            return s[:self.prec]
        return s

    def _s(self, s: str) -> None:
        self.pad(self._truncate(s))

    def _q(self, s: str) -> None:
        s = self._truncate(s)
        if self.sharp and "`" not in s and all(c == "\t" or (is_print(c) and c != "\ufeff")
                                               for c in s):
            self.pad("`" + s + "`")
        else:
            self.pad(quote(s, self.plus))

    def _sx(self, b: bytes, verb: str) -> None:
        digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
        n = len(b)
        if self.prec_present and self.prec < n:
            n = self.prec
        if n <= 0:
            self.buf.append(self._padding(self.wid) if self.wid_present else "")
            return
        out = []
        for i in range(n):
            if self.space and i > 0:
                out.append(" ")
            if self.sharp and (self.space or i == 0):
                out.append("0" + verb)
            out.append(digits[b[i] >> 4] + digits[b[i] & 15])
        self.pad("".join(out))

    def fmt_pointer(self, v, verb: str) -> None:
        is_nil = isinstance(v, Nil)
        addr = 0 if is_nil else 0xc000010000
        if verb == "v":
            if self.sharp_v:
                self.buf.append("(" + type_name(v) + ")(")
                self.buf.append("nil" if is_nil else f"0x{addr:x}")
                self.buf.append(")")
            elif is_nil:
                self.pad("<nil>")
            else:
                self._fmt0x64(addr, not self.sharp)
        elif verb == "p":
            self._fmt0x64(addr, not self.sharp)
        elif verb in "bodxX":
            self.fmt_integer(addr, False, 64, verb)
        else:
            self.bad_verb(verb)

    def bad_verb(self, verb: str) -> None:
        self.erroring = True
        self.buf.append("%!" + verb + "(")
        a = self.arg
        if a is not None and a is not INVALID:
            self.buf.append(type_name(a) + "=")
            self.print_arg(a, "v")
        else:
            self.buf.append("<nil>")
        self.buf.append(")")
        self.erroring = False

    # the generic printers
    def print_arg(self, arg, verb: str) -> None:
        self.arg = arg
        if arg is None or arg is INVALID:
            if verb in "Tv":
                self.pad("<nil>")
            else:
                self.bad_verb(verb)
            return
        if verb == "T":
            self._s(type_name(arg))
            return
        if verb == "p":
            if kind(arg) in ("ptr", "func", "map", "slice", "chan"):
                self.fmt_pointer(arg, "p")
            else:
                self.bad_verb(verb)
            return
        if not self.handle_methods(arg, verb):
            self.print_value(arg, verb, 0)

    def handle_methods(self, arg, verb: str) -> bool:
        if self.erroring:
            return False
        if verb not in "vsxXq" or self.sharp_v or arg is None or arg is INVALID:
            return False
        if isinstance(arg, Struct) and arg.stringer is not None:
            self.fmt_string(arg.stringer(), verb)
            return True
        t = type_of(arg)
        if t is not None and t.stringer is not None:
            self.fmt_string(t.stringer(arg), verb)
            return True
        return False

    def print_value(self, v, verb: str, depth: int) -> None:
        if depth > 0 and v is not INVALID and v is not None:
            self.arg = v  # what a complaint (%!d(T=v)) names
            if self.handle_methods(v, verb):
                return
        if v is INVALID:
            if depth == 0:
                self.buf.append("<invalid reflect.Value>")
            elif verb == "v":
                self.buf.append("<nil>")
            else:
                self.bad_verb(verb)
            return
        if v is None:  # a nil interface inside a container
            if self.sharp_v:
                self.buf.append("interface {}(nil)")
            else:
                self.buf.append("<nil>")
            return
        k = kind(v)
        if k == "bool":
            self.fmt_bool(v, verb)
        elif k in INT_KINDS:
            self.fmt_integer(int(v), True, 64, verb)
        elif k in UINT_KINDS:
            self.fmt_integer(int(v), False, 64, verb)
        elif k in FLOAT_KINDS:
            self.fmt_float(float(v), 32 if k == "float32" else 64, verb)
        elif k in COMPLEX_KINDS:
            self.fmt_complex(complex(v), 128, verb)
        elif k == "string":
            self.fmt_string(str(v), verb)
        elif k == "map":
            if self.sharp_v:
                self.buf.append(type_name(v))
                if isinstance(v, Nil):
                    self.buf.append("(nil)")
                    return
                self.buf.append("{")
            else:
                self.buf.append("map[")
            for i, (key, val) in enumerate(sorted_items(v)):
                if i > 0:
                    self.buf.append(", " if self.sharp_v else " ")
                self.print_value(key, verb, depth + 1)
                self.buf.append(":")
                self.print_value(val, verb, depth + 1)
            self.buf.append("}" if self.sharp_v else "]")
        elif k == "struct":
            if self.sharp_v:
                self.buf.append(type_name(v))
            self.buf.append("{")
            self._struct_fields(v, v.t, verb, depth, [0])
            self.buf.append("}")
        elif k in ("slice", "array"):
            if verb in "sqxX" and type_of(v).elem.kind == "uint8":
                self.fmt_string(bytes(int(b) for b in v).decode("utf-8", "surrogateescape"),
                                verb)
                return
            if self.sharp_v:
                self.buf.append(type_name(v))
                if isinstance(v, Nil):
                    self.buf.append("(nil)")
                    return
                self.buf.append("{")
                for i, x in enumerate([] if isinstance(v, Nil) else v):
                    if i > 0:
                        self.buf.append(", ")
                    self.print_value(x, verb, depth + 1)
                self.buf.append("}")
                return
            self.buf.append("[")
            for i, x in enumerate([] if isinstance(v, Nil) else v):
                if i > 0:
                    self.buf.append(" ")
                self.print_value(x, verb, depth + 1)
            self.buf.append("]")
        elif k == "ptr":
            if depth == 0 and not isinstance(v, Nil):
                if isinstance(v, Struct):
                    self.buf.append("&")
                    self.print_value(Struct(v.t, v.values, methods=v.methods,
                                            stringer=v.stringer), verb, depth + 1)
                    return
                if kind(v.elem) in ("array", "slice", "map"):
                    self.buf.append("&")
                    self.print_value(v.elem, verb, depth + 1)
                    return
            self.fmt_pointer(v, verb)
        elif k in ("func", "chan"):
            self.fmt_pointer(v, verb)
        elif k == "interface":
            self.buf.append("<nil>")
        else:
            self.buf.append("?")

    def _struct_fields(self, v: Struct, t, verb: str, depth: int, count: list) -> None:
        for f in t.fields:
            if count[0] > 0:
                self.buf.append(", " if self.sharp_v else " ")
            count[0] += 1
            if self.plus_v or self.sharp_v:
                self.buf.append(f.name + ":")
            if f.embedded and f.type.kind == "struct":
                self.buf.append("{")
                self._struct_fields(v, f.type, verb, depth + 1, [0])
                self.buf.append("}")
                continue
            if f.embedded and f.type.kind == "ptr" and f.type.elem.kind == "struct":
                self.fmt_pointer(Struct(f.type.elem, v.values, ptr=True), verb)
                continue
            val = v.values[f.name] if f.name in v.values else _zero(f.type)
            self.print_value(val, verb, depth + 1)

    # Printf
    def do_printf(self, fmt: str, args: list) -> None:
        end = len(fmt)
        argn = 0
        after_index = False
        reordered = False
        i = 0
        while i < end:
            good_argnum = True
            last = i
            while i < end and fmt[i] != "%":
                i += 1
            if i > last:
                self.buf.append(fmt[last:i])
            if i >= end:
                break
            i += 1
            self.clear()
            simple = False
            while i < end:
                c = fmt[i]
                if c == "#":
                    self.sharp = True
                elif c == "0":
                    self.zero = not self.minus
                elif c == "+":
                    self.plus = True
                elif c == "-":
                    self.minus = True
                    self.zero = False
                elif c == " ":
                    self.space = True
                else:
                    if "a" <= c <= "z" and argn < len(args):
                        if c == "v":
                            self.sharp_v, self.sharp = self.sharp, False
                            self.plus_v, self.plus = self.plus, False
                        self.print_arg(args[argn], c)
                        argn += 1
                        i += 1
                        simple = True
                    break
                i += 1
            if simple:
                continue
            argn, i, after_index, ok, r = _arg_number(argn, fmt, i, len(args))
            reordered |= r
            good_argnum &= ok
            if i < end and fmt[i] == "*":
                i += 1
                self.wid, self.wid_present, argn = _int_from_arg(args, argn)
                if not self.wid_present:
                    self.buf.append("%!(BADWIDTH)")
                if self.wid < 0:
                    self.wid = -self.wid
                    self.minus = True
                    self.zero = False
                after_index = False
            else:
                self.wid, self.wid_present, i = _parse_num(fmt, i, end)
                if after_index and self.wid_present:
                    good_argnum = False
            if i + 1 < end and fmt[i] == ".":
                i += 1
                if after_index:
                    good_argnum = False
                argn, i, after_index, ok, r = _arg_number(argn, fmt, i, len(args))
                reordered |= r
                good_argnum &= ok
                if i < end and fmt[i] == "*":
                    i += 1
                    self.prec, self.prec_present, argn = _int_from_arg(args, argn)
                    if self.prec < 0:
                        self.prec, self.prec_present = 0, False
                    if not self.prec_present:
                        self.buf.append("%!(BADPREC)")
                    after_index = False
                else:
                    self.prec, self.prec_present, i = _parse_num(fmt, i, end)
                    if not self.prec_present:
                        self.prec, self.prec_present = 0, True
            if not after_index:
                argn, i, after_index, ok, r = _arg_number(argn, fmt, i, len(args))
                reordered |= r
                good_argnum &= ok
            if i >= end:
                self.buf.append("%!(NOVERB)")
                break
            verb = fmt[i]
            i += 1
            if verb == "%":
                self.buf.append("%")
            elif not good_argnum:
                self.buf.append(f"%!{verb}(BADINDEX)")
            elif argn >= len(args):
                self.buf.append(f"%!{verb}(MISSING)")
            else:
                if verb == "v":
                    self.sharp_v, self.sharp = self.sharp, False
                    self.plus_v, self.plus = self.plus, False
                self.print_arg(args[argn], verb)
                argn += 1
        if not reordered and argn < len(args):
            self.clear()
            self.buf.append("%!(EXTRA ")
            for j, a in enumerate(args[argn:]):
                if j > 0:
                    self.buf.append(", ")
                if a is None or a is INVALID:
                    self.buf.append("<nil>")
                else:
                    self.buf.append(type_name(a) + "=")
                    self.print_arg(a, "v")
            self.buf.append(")")


def _zero(t):
    from dockling.cli.gotemplate.values import zero

    return zero(t)


def _parse_num(s: str, start: int, end: int) -> tuple[int, bool, int]:
    if start >= end:
        return 0, False, end
    n, i = 0, start
    while i < end and "0" <= s[i] <= "9":
        if n > 1_000_000:
            return 0, False, end
        n = n * 10 + int(s[i])
        i += 1
    return n, i > start, i


def _arg_number(argn: int, fmt: str, i: int, nargs: int):
    """(argNum, i, afterIndex, ok, reordered) for an explicit [n] index at fmt[i]."""
    if i >= len(fmt) or fmt[i] != "[":
        return argn, i, False, True, False
    for j in range(i + 1, len(fmt)):
        if fmt[j] == "]":
            width, ok, newi = _parse_num(fmt, i + 1, j)
            if not ok or newi != j:
                return argn, j + 1, False, False, True
            idx = width - 1
            if 0 <= idx < nargs:
                return idx, j + 1, True, True, True
            return argn, j + 1, True, False, True
    return argn, i + 1, False, False, True


def _int_from_arg(args: list, argn: int) -> tuple[int, bool, int]:
    if argn < len(args):
        a = args[argn]
        if isinstance(a, int) and not isinstance(a, bool):
            n = int(a)
            if -1_000_000 <= n <= 1_000_000:
                return n, True, argn + 1
            return 0, False, argn + 1
        return 0, False, argn + 1
    return 0, False, argn


def _rune(v: int) -> str:
    if v < 0 or v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
        return "\ufffd"
    return chr(v)


def sorted_items(m) -> list:
    """fmtsort: map entries ordered by key (numbers numerically, strings bytewise)."""
    if isinstance(m, Nil):
        return []

    def key(k):
        if isinstance(k, bool):
            return (0, k)
        if isinstance(k, (int, float)):
            return (1, k)
        if isinstance(k, str):
            return (2, k.encode("utf-8", "surrogateescape"))
        return (3, str(k))
    return sorted(m.items(), key=lambda kv: key(kv[0]))


# -- entry points -----------------------------------------------------------------------------

def _is_string(a) -> bool:
    return a is not None and a is not INVALID and kind(a) == "string"


def sprint(*args) -> str:
    """fmt.Sprint: spaces between operands when neither is a string."""
    p = _Printer()
    prev_string = False
    for i, a in enumerate(args):
        is_string = _is_string(a)
        if i > 0 and not is_string and not prev_string:
            p.buf.append(" ")
        p.clear()
        p.print_arg(a, "v")
        prev_string = is_string
    return p.out()


def sprintln(*args) -> str:
    p = _Printer()
    for i, a in enumerate(args):
        if i > 0:
            p.buf.append(" ")
        p.clear()
        p.print_arg(a, "v")
    return p.out() + "\n"


def sprintf(fmt: str, *args) -> str:
    p = _Printer()
    p.do_printf(fmt, list(args))
    return p.out()


__all__ = ["format_float", "is_print", "quote", "sorted_items", "sprint", "sprintf",
           "sprintln"]
