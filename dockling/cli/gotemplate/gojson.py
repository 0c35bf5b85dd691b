"""encoding/json's Marshal over template values (docker's `json` function: an Encoder
with SetEscapeHTML(false), its trailing newline trimmed)."""

from __future__ import annotations

import math

from dockling.cli.gotemplate.errors import GoError
from dockling.cli.gotemplate.strconv import format_float
from dockling.cli.gotemplate.values import (
    FLOAT_KINDS, INVALID, Func, Nil, Number, Ptr, Struct, kind, type_name)


def marshal(v, escape_html: bool = False) -> str:
    out: list[str] = []
    _encode(v, out, escape_html)
    return "".join(out)


def _string(s: str, out: list, escape_html: bool) -> None:
    out.append('"')
    for c in s:
        o = ord(c)
        if c == '"' or c == "\\":
            out.append("\\" + c)
        elif o < 0x20:
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
                        "\f": "\\f"}.get(c, f"\\u{o:04x}"))
        elif escape_html and c in "<>&":
            out.append(f"\\u{o:04x}")
        elif c in "\u2028\u2029":
            out.append(f"\\u{o:04x}")
        elif 0xD800 <= o <= 0xDFFF:  # not valid UTF-8
            out.append("\ufffd")
        else:
            out.append(c)
    out.append('"')


def _float(f: float, bits: int) -> str:
    if math.isnan(f) or math.isinf(f):
        raise GoError(f"json: unsupported value: {format_float(f, 'g', -1)}")
    a = abs(f)
    fmt = "f"
    if a != 0 and (a < 1e-6 or a >= 1e21):
        fmt = "e"
    s = format_float(f, fmt, -1, bits)
    if fmt == "e" and len(s) >= 4 and s[-4] == "e" and s[-3] == "-" and s[-2] == "0":
        s = s[:-2] + s[-1]
    return s


def _is_empty(v) -> bool:
    if v is None or v is INVALID or isinstance(v, Nil):
        return True
    if isinstance(v, (bool, int, float)):
        return not v
    if isinstance(v, (str, list, dict)):
        return len(v) == 0
    return False


def _encode(v, out: list, esc: bool) -> None:
    if v is None or v is INVALID or isinstance(v, Nil):
        out.append("null")
        return
    if isinstance(v, bool):
        out.append("true" if v else "false")
        return
    if isinstance(v, Number):
        out.append(str(v) or "0")
        return
    if isinstance(v, Ptr):
        _encode(v.elem, out, esc)
        return
    if isinstance(v, Func):
        raise GoError(f"json: unsupported type: {v.t}")
    if isinstance(v, Struct):
        if v.t.name == "time.Time":
            _string(v.values.get("_text", ""), out, esc)
            return
        if not v.t.fields and v.methods:
            _encode_methods(v, out, esc)
            return
        out.append("{")
        first = [True]
        _struct_fields(v, v.t, out, esc, first)
        out.append("}")
        return
    k = kind(v)
    if k in FLOAT_KINDS:
        out.append(_float(float(v), 32 if k == "float32" else 64))
    elif k == "string":
        _string(str(v), out, esc)
    elif isinstance(v, int):
        out.append(str(int(v)))
    elif isinstance(v, complex):
        raise GoError(f"json: unsupported type: {type_name(v)}")
    elif isinstance(v, dict):
        from dockling.cli.gotemplate.fmt import sorted_items

        out.append("{")
        for i, (key, val) in enumerate(sorted_items(v)):
            if i:
                out.append(",")
            _string(str(key) if not isinstance(key, bool) else str(key).lower(), out, esc)
            out.append(":")
            _encode(val, out, esc)
        out.append("}")
    elif isinstance(v, list):
        out.append("[")
        for i, x in enumerate(v):
            if i:
                out.append(",")
            _encode(x, out, esc)
        out.append("]")
    else:
        raise GoError(f"json: unsupported type: {type_name(v)}")


def _struct_fields(v: Struct, t, out: list, esc: bool, first: list) -> None:
    from dockling.cli.gotemplate.values import zero

    for f in t.fields:
        if f.json == "-" or (not f.name[:1].isupper() and not f.embedded):
            continue
        if f.embedded:
            et = f.type.elem if f.type.kind == "ptr" else f.type
            if et.kind == "struct":
                _struct_fields(v, et, out, esc, first)
                continue
        val = v.values[f.name] if f.name in v.values else zero(f.type)
        if f.omitempty and _is_empty(val):
            continue
        if not first[0]:
            out.append(",")
        first[0] = False
        _string(f.json, out, esc)
        out.append(":")
        _encode(val, out, esc)


def _encode_methods(v: Struct, out: list, esc: bool) -> None:
    """docker/cli formatter.MarshalJSON: the context's no-argument methods, as a map;
    through json.Marshal, so with HTML escaped whatever the encoder says."""
    esc = True
    out.append("{")
    names = sorted(n for n, m in v.methods.items()
                   if not m.params and n not in ("FullHeader", "MarshalJSON"))
    for i, n in enumerate(names):
        if i:
            out.append(",")
        _string(n, out, esc)
        out.append(":")
        _encode(v.methods[n].fn(), out, esc)
    out.append("}")
