"""text/template's builtin functions (src/text/template/funcs.go, Go 1.24): and, or, not,
len, index, slice, call, print, printf, println, html, js, urlquery and the comparisons;
same argument rules and error texts."""

from __future__ import annotations

import urllib.parse

from dockling.cli.gotemplate.errors import GoError
from dockling.cli.gotemplate.fmt import sprint, sprintf, sprintln
from dockling.cli.gotemplate.strconv import is_print
from dockling.cli.gotemplate.values import (
    COMPLEX_KINDS, FLOAT_KINDS, INT_KINDS, INVALID, UINT_KINDS, Func, Int, Nil, Ptr, Slice,
    Struct, gotype, is_true, kind, length as value_length, register_struct, type_name,
    type_of, zero)

register_struct("reflect.Value", [])
REFLECT_VALUE = gotype("reflect.Value")


def indirect(v):
    """exec.go's indirect: through pointers and interfaces; (value, is_nil)."""
    while True:
        if v is None:
            return v, True
        if isinstance(v, Nil) and v.t.kind in ("ptr", "interface"):
            return v, True
        if isinstance(v, Struct) and v.ptr:
            return Struct(v.t, v.values, methods=v.methods, stringer=v.stringer), False
        if isinstance(v, Ptr):
            v = v.elem
            continue
        return v, False


def indirect_interface(v):
    return INVALID if v is None else v


def truth(v) -> bool:
    return is_true(indirect_interface(v))[0]


def can_be_nil(t) -> bool:
    return t is REFLECT_VALUE or t.kind in ("chan", "func", "interface", "map", "ptr",
                                            "slice")


def assignable(v, t) -> bool:
    """reflect's AssignableTo for a (non-invalid) value."""
    if t.kind == "interface" and t.name == "interface {}":
        return True
    vt = type_of(v)
    if vt is None:
        return t.kind == "interface"
    if vt is t or vt.name == t.name:
        return True
    return False


def _int_like(k: str) -> bool:
    return k in INT_KINDS or k in UINT_KINDS


def prepare_arg(value, t):
    if value is INVALID:
        if not can_be_nil(t):
            raise GoError(f"value is nil; should be of type {t}")
        return zero(t)
    if assignable(value, t):
        return value
    vk = kind(value)
    if _int_like(vk) and _int_like(t.kind):
        return int(value) if t.name == "int" else Int(int(value), t)
    raise GoError(f"value has type {type_name(value)}; should be {t}")


def index_arg(index, cap: int) -> int:
    k = kind(index)
    if k in INT_KINDS or k in UINT_KINDS:
        x = int(index)
    elif index is INVALID:
        raise GoError("cannot index slice/array with nil")
    else:
        raise GoError(f"cannot index slice/array with type {type_name(index)}")
    if x < 0 or x > cap:
        raise GoError(f"index out of range: {x}")
    return x


def _index_one(item, x: int):
    k = kind(item)
    n = value_length(item)
    if x >= n:
        raise GoError(f"reflect: {'string' if k == 'string' else k} index out of range")
    if k == "string":
        return Int(str(item).encode("utf-8", "surrogateescape")[x], "uint8")
    return item[x]


def index(item, *indexes):
    item = indirect_interface(item)
    if item is INVALID:
        raise GoError("index of untyped nil")
    for ix in indexes:
        ix = indirect_interface(ix)
        item, is_nil = indirect(item)
        if is_nil:
            raise GoError("index of nil pointer")
        k = kind(item)
        if k in ("array", "slice", "string"):
            item = _index_one(item, index_arg(ix, value_length(item)))
        elif k == "map":
            t = type_of(item)
            key = prepare_arg(ix, t.key)
            if not isinstance(item, Nil) and key in item:
                item = item[key]
            else:
                item = zero(t.elem)
        else:
            raise GoError(f"can't index item of type {type_name(item)}")
    return item


def slice_(item, *indexes):
    item = indirect_interface(item)
    if item is INVALID:
        raise GoError("slice of untyped nil")
    item, is_nil = indirect(item)
    if is_nil:
        raise GoError("slice of nil pointer")
    if len(indexes) > 3:
        raise GoError(f"too many slice indexes: {len(indexes)}")
    k = kind(item)
    if k == "string":
        if len(indexes) == 3:
            raise GoError("cannot 3-index slice a string")
    elif k not in ("array", "slice"):
        raise GoError(f"can't slice item of type {type_name(item)}")
    n = value_length(item)
    idx = [0, n, 0]
    for i, ix in enumerate(indexes):
        idx[i] = index_arg(ix, n)
    if idx[0] > idx[1]:
        raise GoError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and idx[1] > idx[2]:
        raise GoError(f"invalid slice index: {idx[1]} > {idx[2]}")
    if k == "string":
        b = str(item).encode("utf-8", "surrogateescape")[idx[0]:idx[1]]
        return b.decode("utf-8", "surrogateescape")
    if isinstance(item, Nil):
        return item
    part = list(item)[idx[0]:idx[1]]
    t = type_of(item)
    if t.kind == "array":
        return Slice(part, gotype("[]" + t.elem.name))
    return Slice(part, t) if isinstance(item, Slice) else part


def length(item):
    item, is_nil = indirect(item)
    if is_nil:
        raise GoError("len of nil pointer")
    if item is INVALID:
        raise GoError("reflect: call of reflect.Value.Type on zero Value")
    n = value_length(item)
    if n is None:
        raise GoError(f"len of type {type_name(item)}")
    return n


def call(name: str, fn, *args):
    fn = indirect_interface(fn)
    if fn is INVALID:
        raise GoError("call of nil")
    if not isinstance(fn, Func):
        raise GoError(f"non-function {name} of type {type_name(fn)}")
    n = len(fn.params)
    if fn.variadic:
        if len(args) < n - 1:
            raise GoError(f"wrong number of args for {name}: got {len(args)} want at least "
                          f"{n - 1}")
    elif len(args) != n:
        raise GoError(f"wrong number of args for {name}: got {len(args)} want {n}")
    argv = []
    for i, a in enumerate(args):
        t = fn.params[i] if not fn.variadic or i < n - 1 else fn.params[-1].elem
        try:
            argv.append(prepare_arg(indirect_interface(a), t))
        except GoError as err:
            raise GoError(f"arg {i}: {err}") from None
    return fn.fn(*argv)


def and_(arg0, *args):
    raise AssertionError("and is evaluated by the executor (short circuit)")


def not_(arg) -> bool:
    return not truth(arg)


# -- comparisons -------------------------------------------------------------------------------

def basic_kind(v) -> str:
    k = kind(v)
    if k == "bool":
        return "bool"
    if k in INT_KINDS:
        return "int"
    if k in UINT_KINDS:
        return "uint"
    if k in FLOAT_KINDS:
        return "float"
    if k in COMPLEX_KINDS:
        return "complex"
    if k == "string":
        return "string"
    return "invalid"


def _is_nil(v) -> bool:
    return v is INVALID or v is None or isinstance(v, Nil)


def eq(arg1, *arg2) -> bool:
    arg1 = indirect_interface(arg1)
    if not arg2:
        raise GoError("missing argument for comparison")
    k1 = basic_kind(arg1)
    for arg in arg2:
        arg = indirect_interface(arg)
        k2 = basic_kind(arg)
        if k1 != k2:
            if {k1, k2} == {"int", "uint"}:
                truth_ = int(arg1) == int(arg)
            elif arg1 is not INVALID and arg is not INVALID:
                raise GoError("incompatible types for comparison")
            else:
                truth_ = False
        elif k1 != "invalid":
            truth_ = arg1 == arg if k1 != "string" else str(arg1) == str(arg)
        else:
            k1v, k2v = kind(arg1), kind(arg)
            if not (k1v == k2v or arg1 is INVALID or arg is INVALID):
                raise GoError(f"non-comparable types {_str_value(arg1)}: {type_name(arg1)}, "
                              f"{type_name(arg)}: {_str_value(arg)}")
            if _is_nil(arg1) or _is_nil(arg):
                truth_ = _is_nil(arg) == _is_nil(arg1)
            else:
                if kind(arg) in ("map", "slice", "func"):
                    raise GoError(f"non-comparable type {_str_value(arg)}: {type_name(arg)}")
                truth_ = arg1 is arg or (isinstance(arg1, Struct) and isinstance(arg, Struct)
                                         and arg1.values == arg.values and arg1.t is arg.t)
        if truth_:
            return True
    return False


def _str_value(v) -> str:
    """A reflect.Value printed with %s (fmt prints the value it holds)."""
    if v is INVALID:
        return "<invalid reflect.Value>"
    return sprintf("%s", v)


def ne(a, b) -> bool:
    return not eq(a, b)


def lt(arg1, arg2) -> bool:
    arg1 = indirect_interface(arg1)
    k1 = basic_kind(arg1)
    if k1 == "invalid":
        raise GoError("invalid type for comparison")
    arg2 = indirect_interface(arg2)
    k2 = basic_kind(arg2)
    if k2 == "invalid":
        raise GoError("invalid type for comparison")
    if k1 != k2:
        if {k1, k2} == {"int", "uint"}:
            return int(arg1) < int(arg2)
        raise GoError("incompatible types for comparison")
    if k1 in ("bool", "complex"):
        raise GoError("invalid type for comparison")
    if k1 == "string":
        return str(arg1).encode("utf-8", "surrogateescape") < \
            str(arg2).encode("utf-8", "surrogateescape")
    return arg1 < arg2


def le(a, b) -> bool:
    return lt(a, b) or eq(a, b)


def gt(a, b) -> bool:
    return not le(a, b)


def ge(a, b) -> bool:
    return not lt(a, b)


# -- escapers -----------------------------------------------------------------------------------

def eval_args(args) -> str:
    """Sprint of the arguments, each printed as the template would print it."""
    if len(args) == 1 and kind(args[0]) == "string" and args[0] is not None:
        return str(args[0])
    from dockling.cli.gotemplate.exec import printable_value

    vals = []
    for a in args:
        p, ok = printable_value(INVALID if a is None else a)
        vals.append(p if ok else a)
    return sprint(*vals)


def html_escape(s: str) -> str:
    return (s.replace("&", "&amp;").replace("\0", "\ufffd").replace("'", "&#39;")
            .replace('"', "&#34;").replace("<", "&lt;").replace(">", "&gt;"))


def js_escape(s: str) -> str:
    out = []
    for c in s:
        if c == "\\":
            out.append("\\\\")
        elif c == "'":
            out.append("\\'")
        elif c == '"':
            out.append('\\"')
        elif c in "<>&=":
            out.append(f"\\u{ord(c):04X}")
        elif c < " ":
            out.append(f"\\u{ord(c):04X}")
        elif ord(c) >= 0x80 and not is_print(c):
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return "".join(out)


def url_query_escape(s: str) -> str:
    return urllib.parse.quote_plus(s, safe="-_.~")


def builtins() -> dict[str, Func]:
    rv, rvs, anys = "reflect.Value", "[]reflect.Value", "[]interface {}"
    return {
        "and": Func("and", [rv, rvs], and_, variadic=True, results=(rv,)),
        "or": Func("or", [rv, rvs], and_, variadic=True, results=(rv,)),
        "not": Func("not", [rv], not_, results=("bool",)),
        "call": Func("call", [rv, rvs], call, variadic=True, results=(rv, "error")),
        "html": Func("html", [anys], lambda *a: html_escape(eval_args(a)), variadic=True,
                     results=("string",)),
        "js": Func("js", [anys], lambda *a: js_escape(eval_args(a)), variadic=True,
                   results=("string",)),
        "urlquery": Func("urlquery", [anys], lambda *a: url_query_escape(eval_args(a)),
                         variadic=True, results=("string",)),
        "index": Func("index", [rv, rvs], index, variadic=True, results=(rv, "error")),
        "slice": Func("slice", [rv, rvs], slice_, variadic=True, results=(rv, "error")),
        "len": Func("len", [rv], length, results=("int", "error")),
        "print": Func("print", [anys], sprint, variadic=True, results=("string",)),
        "printf": Func("printf", ["string", anys], sprintf, variadic=True,
                       results=("string",)),
        "println": Func("println", [anys], sprintln, variadic=True, results=("string",)),
        "eq": Func("eq", [rv, rvs], eq, variadic=True, results=("bool", "error")),
        "ne": Func("ne", [rv, rv], ne, results=("bool", "error")),
        "lt": Func("lt", [rv, rv], lt, results=("bool", "error")),
        "le": Func("le", [rv, rv], le, results=("bool", "error")),
        "gt": Func("gt", [rv, rv], gt, results=("bool", "error")),
        "ge": Func("ge", [rv, rv], ge, results=("bool", "error")),
    }
