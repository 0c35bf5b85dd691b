"""Go's strconv as templates need it: Quote (and unicode.IsPrint), FormatFloat's e/f/g
forms with shortest digits, hex floats, Unquote/UnquoteChar of literals, ParseInt and
ParseFloat with Go's literal syntax (0x, 0o, 0b, _ separators, hex floats)."""

from __future__ import annotations

import math
import struct
import unicodedata


def is_print(c: str) -> bool:
    """unicode.IsPrint: letters, marks, numbers, punctuation, symbols and ASCII space."""
    if c == " ":
        return True
    return unicodedata.category(c)[0] in "LMNPS"


_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
        "\v": "\\v"}


def quote(s: str, ascii_only: bool = False, q: str = '"') -> str:
    """strconv.Quote (QuoteToASCII with ascii_only; QuoteRune's body with q="'")."""
    out = [q]
    for c in s:
        if c == q or c == "\\":
            out.append("\\" + c)
        elif (ord(c) < 0x80 or not ascii_only) and is_print(c):
            out.append(c)
        elif c in _ESC:
            out.append(_ESC[c])
        elif ord(c) < 0x20 or c == "\x7f":
            out.append(f"\\x{ord(c):02x}")
        elif 0xDC80 <= ord(c) <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
            out.append(f"\\x{ord(c) - 0xDC00:02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    out.append(q)
    return "".join(out)


def _shortest_digits(v: float, bits: int) -> tuple[str, int]:
    """The shortest decimal digits d and point position dp with 0.d x 10^dp == v."""
    if v == 0:
        return "0", 1
    if bits == 32:
        f32 = struct.unpack("f", struct.pack("f", v))[0]
        for p in range(1, 10):
            s = f"{f32:.{p}e}"
            if struct.unpack("f", struct.pack("f", float(s)))[0] == f32:
                break
    else:
        s = repr(v)
        if "e" not in s:
            s = _repr_to_e(s)
    mant, _, exp = s.partition("e")
    digits = mant.replace(".", "").replace("-", "").rstrip("0") or "0"
    return digits, int(exp) + 1


def _repr_to_e(s: str) -> str:
    s = s.lstrip("-")
    intpart, _, frac = s.partition(".")
    digits = (intpart + frac).lstrip("0")
    if intpart.strip("0"):
        exp = len(intpart.lstrip("0")) - 1
    else:
        exp = -(len(frac) - len(frac.lstrip("0")) + 1)
    return (digits[:1] + "." + digits[1:] if digits else "0") + f"e{exp}"


def _round_digits(v: float, prec: int) -> tuple[str, int]:
    """v rounded to prec significant digits: (digits without trailing zeros, dp)."""
    s = f"{abs(v):.{max(prec - 1, 0)}e}"
    mant, _, exp = s.partition("e")
    digits = mant.replace(".", "").rstrip("0") or "0"
    return digits, int(exp) + 1


def format_float(v: float, fmt: str, prec: int, bits: int = 64) -> str:
    """strconv.FormatFloat(v, fmt, prec, bits) for fmt in e E f g G (prec -1: shortest)."""
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    neg = v < 0 or (v == 0 and math.copysign(1, v) < 0)
    sign = "-" if neg else ""
    av = abs(v)
    if prec < 0:
        digits, dp = _shortest_digits(av, bits)
        if fmt in "eE":
            return sign + _fmt_e(digits, dp, len(digits) - 1, fmt)
        if fmt == "f":
            return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
        exp = dp - 1
        if exp < -4 or exp >= 6:  # strconv: the shortest form decides with precision 6
            return sign + _fmt_e(digits, dp, len(digits) - 1, "e" if fmt == "g" else "E")
        return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))
    if fmt in "eE":
        s = f"{av:.{prec}e}"
        return sign + (s if fmt == "e" else s.upper())
    if fmt == "f":
        return sign + f"{av:.{prec}f}"
    # g / G with a precision
    if prec == 0:
        prec = 1
    digits, dp = _round_digits(av, prec)
    if av == 0:
        digits, dp = "0", 1
    eprec = prec
    if eprec > len(digits) and len(digits) >= dp:
        eprec = len(digits)
    exp = dp - 1
    if exp < -4 or exp >= eprec:
        return sign + _fmt_e(digits, dp, len(digits) - 1, "e" if fmt == "g" else "E")
    return sign + _fmt_f(digits, dp, max(len(digits) - dp, 0))


def _fmt_e(digits: str, dp: int, prec: int, e: str) -> str:
    digits = digits.ljust(prec + 1, "0")
    out = digits[0]
    if prec > 0:
        out += "." + digits[1:prec + 1]
    exp = dp - 1 if digits != "0" * len(digits) else 0
    return out + e + ("-" if exp < 0 else "+") + f"{abs(exp):02d}"


def _fmt_f(digits: str, dp: int, prec: int) -> str:
    if dp > 0:
        ip = digits[:dp].ljust(dp, "0")
    else:
        ip = "0"
    frac = ""
    if prec > 0:
        frac = ("0" * -dp + digits if dp < 0 else digits[dp:] if dp > 0 else digits)
        frac = "." + frac[:prec].ljust(prec, "0")
    return ip + frac


def _sharp_float(num: str, verb: str, prec: int) -> str:
    """%#e, %#f, %#g: keep the decimal point (and %#g's trailing zeros)."""
    digits = 0
    if verb in "vgG":
        digits = prec if prec != -1 else 6
    tail = ""
    body = num
    for j, c in enumerate(num[1:], 1):
        if c in "eE":
            body, tail = num[:j], num[j:]
            break
    saw_point = "." in body
    saw_nonzero = False
    count = 0
    for c in body[1:]:
        if c == ".":
            continue
        if c != "0":
            saw_nonzero = True
        if saw_nonzero:
            count += 1
    if not saw_point:
        if len(body) == 2 and body[1] == "0":
            count += 1
        body += "."
    while digits > count:
        body += "0"
        count += 1
    return body + tail


def _hex_float(v: float, prec: int, verb: str) -> str:
    if math.isnan(v) or math.isinf(v):
        return format_float(v, "g", -1)
    h = float(v).hex()  # [-]0x1.8000000000000p+1
    sign = "-" if h.startswith("-") else "+"
    mant, _, exp = h.lstrip("-")[2:].partition("p")
    ip, _, frac = mant.partition(".")
    frac = frac.rstrip("0")
    if prec >= 0:
        if len(frac) > prec:
            val = int(ip + frac, 16)
            shift = 4 * (len(frac) - prec)
            half = 1 << (shift - 1)
            rem = val & ((1 << shift) - 1)
            val >>= shift
            if rem > half or (rem == half and val & 1):
                val += 1
            s = f"{val:x}".rjust(prec + 1, "0")
            ip, frac = s[:-prec] if prec else s, s[-prec:] if prec else ""
            if len(ip) > 1:  # carried into a new digit: renormalize
                e = int(exp) + 4 * (len(ip) - 1)
                frac = (ip[1:] + frac)[:prec]
                ip, exp = ip[0], str(e)
        else:
            frac = frac.ljust(prec, "0")
    e = int(exp)
    out = "0x" + ip + ("." + frac if frac else "") + "p" + ("-" if e < 0 else "+") + \
        f"{abs(e):02d}"
    if verb == "X":
        out = out.upper()
    return sign + out


def _bin_float(v: float) -> str:
    m, e = math.frexp(abs(v))
    mant = int(m * (1 << 53))
    exp = e - 53
    return ("-" if v < 0 else "") + f"{mant}p{'-' if exp < 0 else '+'}{abs(exp)}"


_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t",
                   "v": "\v", "\\": "\\"}


def unquote_char(s: str, i: int, quote: str) -> tuple[str, int]:
    """strconv.UnquoteChar at s[i]: (character, next index); ValueError for bad syntax."""
    c = s[i]
    if c == quote and quote in "'\"":
        raise ValueError("invalid syntax")
    if c != "\\":
        return c, i + 1
    if i + 1 >= len(s):
        raise ValueError("invalid syntax")
    c = s[i + 1]
    if c in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[c], i + 2
    if c in "xuU":
        n = {"x": 2, "u": 4, "U": 8}[c]
        digits = s[i + 2:i + 2 + n]
        if len(digits) != n or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise ValueError("invalid syntax")
        v = int(digits, 16)
        if c == "x":
            if quote == "'":
                return chr(v), i + 2 + n
            return chr(v) if v < 0x80 else bytes([v]).decode("latin-1"), i + 2 + n
        if v > 0x10FFFF or 0xD800 <= v <= 0xDFFF:
            raise ValueError("invalid syntax")
        return chr(v), i + 2 + n
    if "0" <= c <= "7":
        digits = s[i + 1:i + 4]
        if len(digits) != 3 or any(d not in "01234567" for d in digits):
            raise ValueError("invalid syntax")
        v = int(digits, 8)
        if v > 255:
            raise ValueError("invalid syntax")
        return chr(v), i + 4
    if c in "'\"":
        if c != quote:
            raise ValueError("invalid syntax")
        return c, i + 2
    raise ValueError("invalid syntax")


def unquote(s: str) -> str:
    """strconv.Unquote for "..." and `...` literals."""
    if len(s) < 2 or s[0] != s[-1]:
        raise ValueError("invalid syntax")
    q = s[0]
    body = s[1:-1]
    if q == "`":
        if "`" in body:
            raise ValueError("invalid syntax")
        return body.replace("\r", "")
    if q != '"' or "\n" in body:
        raise ValueError("invalid syntax")
    out, i = [], 0
    while i < len(body):
        c, i = unquote_char(body, i, q)
        out.append(c)
    return "".join(out)


def _underscore_ok(s: str) -> bool:
    """strconv's underscoreOK: '_' only between digits or after a base prefix."""
    saw = "^"
    i = 0
    if s[:1] in "+-":
        s = s[1:]
    hexa = False
    if len(s) >= 2 and s[0] == "0" and s[1] in "bBoOxX":
        i = 2
        saw = "0"
        hexa = s[1] in "xX"
    while i < len(s):
        c = s[i]
        if c.isdigit() or (hexa and c in "abcdefABCDEF"):
            saw = "0"
        elif c == "_":
            if saw != "0":
                return False
            saw = "_"
        else:
            if saw == "_":
                return False
            saw = "!"
        i += 1
    return saw != "_"


def parse_int(text: str, unsigned: bool) -> int:
    """strconv.ParseInt/ParseUint with base 0; ValueError when it does not fit or parse."""
    s = text
    neg = False
    if not unsigned and s[:1] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if not s:
        raise ValueError(text)
    base = 10
    digits = s
    if s[0] == "0" and len(s) > 1:
        p = s[1].lower()
        if p in "box":
            base = {"b": 2, "o": 8, "x": 16}[p]
            digits = s[2:]
        else:
            base = 8
            digits = s[1:]
    if "_" in s:
        if not _underscore_ok(s):
            raise ValueError(text)
        digits = digits.replace("_", "")
    if not digits or not all(d in "0123456789abcdef"[:base] for d in digits.lower()):
        raise ValueError(text)
    v = int(digits, base)
    if unsigned:
        if v >= 1 << 64:
            raise ValueError(text)
        return v
    v = -v if neg else v
    if not -(1 << 63) <= v < 1 << 63:
        raise ValueError(text)
    return v


def parse_float(text: str) -> float:
    """strconv.ParseFloat(text, 64) for Go's literal forms (no inf/nan words here)."""
    s = text
    if "_" in s:
        if not _underscore_ok(s):
            raise ValueError(text)
        s = s.replace("_", "")
    body = s.lstrip("+-")
    if body[:2].lower() == "0x":
        if "p" not in body.lower():
            raise ValueError(text)
        v = float.fromhex(body)
        return -v if s.startswith("-") else v
    if not body or body.lower() in ("inf", "infinity", "nan") or not any(
            c.isdigit() for c in body):
        raise ValueError(text)
    v = float(s)
    if v in (float("inf"), float("-inf")):
        raise ValueError(text)
    return v
