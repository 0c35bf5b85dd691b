"""Go values as the template sees them (a small reflect).

Plain JSON data needs no wrapping: ``str`` is a Go string, ``bool`` bool, ``int`` int,
``float`` float64, ``list`` []interface {}, ``dict`` map[string]interface {} and ``None``
a nil interface. Typed data (docker's Go structs, the formatters' contexts) uses the
classes below, each carrying its GoType: Int/Float/Str for sized or named basic types,
Slice/Map for typed containers, Nil for a typed nil (slice, map, pointer, func), Struct
(optionally behind a pointer), Ptr for a pointer to a non-struct, Func for functions and
methods, Number for encoding/json's json.Number. INVALID is the zero reflect.Value
(printed "<no value>")."""

from __future__ import annotations

from collections.abc import Callable

INT_KINDS = frozenset({"int", "int8", "int16", "int32", "int64"})
UINT_KINDS = frozenset({"uint", "uint8", "uint16", "uint32", "uint64", "uintptr"})
FLOAT_KINDS = frozenset({"float32", "float64"})
COMPLEX_KINDS = frozenset({"complex64", "complex128"})
BASIC_KINDS = INT_KINDS | UINT_KINDS | FLOAT_KINDS | COMPLEX_KINDS | {"bool", "string"}
NILABLE_KINDS = frozenset({"slice", "map", "ptr", "func", "interface", "chan"})
_INT_BITS = {"int": 64, "int8": 8, "int16": 16, "int32": 32, "int64": 64, "uint": 64,
             "uint8": 8, "uint16": 16, "uint32": 32, "uint64": 64, "uintptr": 64}


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"

    def __bool__(self) -> bool:
        return False


INVALID = _Invalid()  # the zero reflect.Value
MISSING = object()  # exec's missingVal: no final (piped) argument


class GoType:
    """A Go type: its name as reflect prints it, kind and parts."""

    def __init__(self, name: str, kind: str, *, elem: GoType | None = None,
                 key: GoType | None = None, length: int = 0) -> None:
        self.name = name
        self.kind = kind
        self.elem = elem
        self.key = key
        self.length = length
        self.fields: list[Field] = []  # structs
        self.methods: dict[str, Callable] = {}  # name -> fn(receiver) -> Func
        self.stringer: Callable | None = None  # String() for fmt (time.Duration)
        self._index: dict[str, tuple[Field, ...]] | None = None

    def __str__(self) -> str:
        return self.name

    __repr__ = __str__

    def field_path(self, name: str) -> tuple[Field, ...] | None:
        """FieldByName: the path through embedded structs to a (promoted) field."""
        if self._index is None:
            index: dict[str, tuple[Field, ...]] = {}
            depth: dict[str, int] = {}
            level = [((), self)]
            d = 0
            while level:
                nxt = []
                for path, t in level:
                    for f in t.fields:
                        p = (*path, f)
                        if f.name not in depth:
                            index[f.name], depth[f.name] = p, d
                        elif depth[f.name] == d:
                            index.pop(f.name, None)  # ambiguous at one depth: none
                        if f.embedded:
                            et = f.type.elem if f.type.kind == "ptr" else f.type
                            if et.kind == "struct":
                                nxt.append((p, et))
                level, d = nxt, d + 1
            self._index = index
        return self._index.get(name)


class Field:
    def __init__(self, name: str, type_: GoType, json: str | None = None,
                 embedded: bool = False, omitempty: bool = False) -> None:
        self.name = name
        self.type = type_
        self.json = name if json is None else json
        self.embedded = embedded
        self.omitempty = omitempty


_TYPES: dict[str, GoType] = {}
_NAMED: dict[str, tuple] = {}


def register_named(name: str, underlying: str) -> None:
    """A named non-struct type (nat.Port is a string); resolved when first used."""
    _NAMED[name] = ("alias", underlying)
    _TYPES.pop(name, None)


def register_struct(name: str, fields: list[tuple]) -> None:
    """fields: (name, type name[, json name[, embedded[, omitempty]]])."""
    _NAMED[name] = ("struct", fields)
    _TYPES.pop(name, None)


def _split_map(rest: str) -> tuple[str, str]:
    depth = 0
    for i, c in enumerate(rest):
        if c == "[":
            depth += 1
        elif c == "]":
            if depth == 0:
                return rest[:i], rest[i + 1:]
            depth -= 1
    raise ValueError(f"bad map type {rest!r}")


def gotype(name: str) -> GoType:
    t = _TYPES.get(name)
    if t is not None:
        return t
    if name in ("interface {}", "any"):
        t = GoType("interface {}", "interface")
    elif name == "error":
        t = GoType("error", "interface")
    elif name in BASIC_KINDS:
        t = GoType(name, name)
    elif name.startswith("[]"):
        t = GoType(name, "slice", elem=gotype(name[2:]))
    elif name.startswith("map["):
        k, v = _split_map(name[4:])
        t = GoType(name, "map", key=gotype(k), elem=gotype(v))
    elif name.startswith("["):
        n, _, rest = name[1:].partition("]")
        t = GoType(name, "array", elem=gotype(rest), length=int(n))
    elif name.startswith("*"):
        t = GoType(name, "ptr")
        _TYPES[name] = t  # recursive structs point at themselves
        t.elem = gotype(name[1:])
        return t
    elif name.startswith("func("):
        t = GoType(name, "func")
    elif name.startswith("struct {") and name not in _NAMED:
        t = GoType(name, "struct")
    elif name in _NAMED:
        how, spec = _NAMED[name]
        if how == "alias":
            u = gotype(spec)
            t = GoType(name, u.kind, elem=u.elem, key=u.key, length=u.length)
            t.fields = u.fields
        else:
            t = GoType(name, "struct")
            _TYPES[name] = t
            for f in spec:
                fname, ftype = f[0], f[1]
                t.fields.append(Field(fname, gotype(ftype), *f[2:]))
            return t
    else:
        raise KeyError(f"unknown Go type {name!r}")
    _TYPES[name] = t
    return t


# -- typed values --------------------------------------------------------------------------

class Int(int):
    """An integer of a sized or named type (int64, uint16, int32 for runes...)."""

    def __new__(cls, value: int, t: GoType | str):
        obj = super().__new__(cls, value)
        obj.t = gotype(t) if isinstance(t, str) else t
        return obj


class Float(float):
    def __new__(cls, value: float, t: GoType | str):
        obj = super().__new__(cls, value)
        obj.t = gotype(t) if isinstance(t, str) else t
        return obj


class Str(str):
    """A string of a named string type (nat.Port, container.ContainerState...)."""

    def __new__(cls, value: str, t: GoType | str):
        obj = super().__new__(cls, value)
        obj.t = gotype(t) if isinstance(t, str) else t
        return obj


class Number(str):
    """encoding/json's json.Number (a string kind): docker's raw inspect fallback."""

    t = None  # set below


class Slice(list):
    def __init__(self, items, t: GoType | str) -> None:
        super().__init__(items)
        self.t = gotype(t) if isinstance(t, str) else t


class Map(dict):
    def __init__(self, items, t: GoType | str) -> None:
        super().__init__(items)
        self.t = gotype(t) if isinstance(t, str) else t


class Nil:
    """A typed nil: nil slice ([]), nil map (map[]), nil pointer or func (<nil>)."""

    __slots__ = ("t",)

    def __init__(self, t: GoType | str) -> None:
        self.t = gotype(t) if isinstance(t, str) else t

    def __bool__(self) -> bool:
        return False

    def __len__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return f"Nil({self.t})"


class Ptr:
    """A non-nil pointer to a non-struct value."""

    __slots__ = ("elem", "t")

    def __init__(self, elem, t: GoType | str) -> None:
        self.elem = elem
        self.t = gotype(t) if isinstance(t, str) else t


class Struct:
    """A struct value (or a pointer to one, ``ptr``); values held by field name.

    ``methods`` holds bound methods of this value: name -> Func (the formatters'
    contexts are method-only types, like docker/cli's)."""

    __slots__ = ("t", "values", "ptr", "methods", "stringer")

    def __init__(self, t: GoType | str, values: dict | None = None, *, ptr: bool = False,
                 methods: dict | None = None, stringer: Callable | None = None) -> None:
        self.t = gotype(t) if isinstance(t, str) else t
        self.values = values if values is not None else {}
        self.ptr = ptr
        self.methods = methods or {}
        self.stringer = stringer  # String() for fmt (time.Time, formatter.Platform)

    @property
    def type_name(self) -> str:
        return ("*" if self.ptr else "") + self.t.name

    def field(self, name: str):
        """The field's value (zero when absent), or INVALID for no such field."""
        path = self.t.field_path(name)
        if path is None:
            return INVALID
        f = path[-1]
        if f.name in self.values:
            return self.values[f.name]
        return zero(f.type)

    def field_values(self) -> list:
        return [self.values[f.name] if f.name in self.values else zero(f.type)
                for f in self.t.fields]


class Func:
    """A Go function value: params (GoTypes, the last a slice type when variadic),
    results (1, or 2 with error). fn gets Python values and returns the first result;
    it raises GoError for the error result."""

    __slots__ = ("name", "params", "variadic", "results", "fn", "t")

    def __init__(self, name: str, params: list[str], fn: Callable, *, variadic: bool = False,
                 results: tuple[str, ...] = ("interface {}",)) -> None:
        self.name = name
        self.params = [gotype(p) for p in params]
        self.variadic = variadic
        self.results = [gotype(r) for r in results]
        self.fn = fn
        ps = list(params)
        if variadic:
            ps[-1] = "..." + ps[-1][2:]
        res = ", ".join(results)
        self.t = GoType(f"func({', '.join(ps)}) "
                        + (f"({res})" if len(results) > 1 else res), "func")


register_named("json.Number", "string")
Number.t = gotype("json.Number")


def type_of(v) -> GoType | None:
    """reflect.TypeOf: None for a nil interface or INVALID."""
    if v is None or v is INVALID:
        return None
    if isinstance(v, bool):
        return gotype("bool")
    if isinstance(v, (Int, Float, Str, Number, Slice, Map, Nil, Ptr, Func)):
        return v.t
    if isinstance(v, Struct):
        return gotype(v.type_name) if v.ptr else v.t
    if isinstance(v, int):
        return gotype("int")
    if isinstance(v, float):
        return gotype("float64")
    if isinstance(v, complex):
        return gotype("complex128")
    if isinstance(v, str):
        return gotype("string")
    if isinstance(v, list):
        return gotype("[]interface {}")
    if isinstance(v, dict):
        return gotype("map[string]interface {}")
    if callable(v):
        return gotype("func()")
    raise TypeError(f"not a template value: {v!r}")


def kind(v) -> str:
    """reflect.Kind's name; "invalid" for INVALID, "interface" for a nil interface."""
    if v is INVALID:
        return "invalid"
    if v is None:
        return "interface"
    if isinstance(v, Struct):
        return "ptr" if v.ptr else "struct"
    if isinstance(v, Ptr):
        return "ptr"
    return type_of(v).kind


def type_name(v) -> str:
    t = type_of(v)
    return "<nil>" if t is None else t.name


def zero(t: GoType):
    k = t.kind
    if k == "string":
        return "" if t.name == "string" else Str("", t)
    if k == "bool":
        return False
    if k in INT_KINDS or k in UINT_KINDS:
        return 0 if t.name == "int" else Int(0, t)
    if k in FLOAT_KINDS:
        return 0.0 if t.name == "float64" else Float(0.0, t)
    if k in COMPLEX_KINDS:
        return 0j
    if k == "interface":
        return None if t.name == "interface {}" else Nil(t)
    if k in NILABLE_KINDS:
        return Nil(t)
    if k == "struct":
        if t.name == "time.Time":
            return go_time("0001-01-01T00:00:00Z")
        return Struct(t)
    if k == "array":
        return Slice([zero(t.elem) for _ in range(t.length)], t)
    raise TypeError(f"no zero value for {t}")


def length(v) -> int | None:
    """len() of an array, slice, map or string; None when it has none."""
    if isinstance(v, Nil):
        return 0 if v.t.kind in ("slice", "map", "chan") else None
    if isinstance(v, (bool, int, float, complex, Struct, Ptr, Func)) or v is None \
            or v is INVALID:
        return None
    if isinstance(v, str):
        return len(v.encode())  # Go's len counts bytes
    return len(v)


def is_true(v) -> tuple[bool, bool]:
    """template.IsTrue: (truth, ok)."""
    if v is INVALID or v is None:
        return False, True
    if isinstance(v, Nil):
        return False, True
    if isinstance(v, bool):
        return v, True
    if isinstance(v, (int, float, complex)):
        return v != 0, True
    if isinstance(v, (str, list, dict)):
        return len(v) > 0, True
    if isinstance(v, (Struct, Ptr, Func)):
        return True, True
    return False, False


def convert(value, t: GoType):
    """JSON data as a value of Go type t (what encoding/json would decode into t)."""
    k = t.kind
    if value is None:
        if k in NILABLE_KINDS:
            return zero(t)
        return zero(t)
    if k == "interface":
        return _decoded_interface(value) if t.name == "interface {}" else value
    if k == "string":
        if not isinstance(value, str):
            return value
        return value if t.name == "string" else Str(value, t)
    if k == "bool":
        return value
    if k in INT_KINDS or k in UINT_KINDS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        return int(value) if t.name == "int" else Int(int(value), t)
    if k in FLOAT_KINDS:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return value
        return float(value) if t.name == "float64" else Float(float(value), t)
    if k in ("slice", "array"):
        if not isinstance(value, list):
            return value
        return Slice([convert(x, t.elem) for x in value], t)
    if k == "map":
        if not isinstance(value, dict):
            return value
        kt = t.key
        return Map({(k2 if kt.name == "string" or kt.kind != "string" else Str(k2, kt)):
                    convert(v2, t.elem) for k2, v2 in value.items()}, t)
    if k == "ptr":
        inner = convert(value, t.elem)
        if isinstance(inner, Struct):
            inner.ptr = True
            return inner
        return Ptr(inner, t)
    if k == "struct":
        if t.name == "time.Time" and isinstance(value, str):
            return go_time(value)
        if not isinstance(value, dict):
            return value
        return Struct(t, _struct_values(t, value))
    return value


def _decoded_interface(value):
    """What encoding/json puts in an interface{}: numbers as float64."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, list):
        return [_decoded_interface(x) for x in value]
    if isinstance(value, dict):
        return {k: _decoded_interface(v) for k, v in value.items()}
    return value


def _struct_values(t: GoType, doc: dict) -> dict:
    out: dict = {}
    for f in t.fields:
        if f.embedded:
            et = f.type.elem if f.type.kind == "ptr" else f.type
            out.update(_struct_values(et, doc))  # promoted fields sit flat in the JSON
            continue
        if f.json in doc:
            out[f.name] = convert(doc[f.json], f.type)
    return out


def go_time(text: str) -> Struct:
    """A time.Time from RFC 3339 text: String() prints Go's default layout; the methods
    templates use (Year, Month, Day, Hour, Minute, Second, Nanosecond, Unix, UnixNano,
    Weekday, YearDay, IsZero, UTC, Format "layout") are there."""
    from dockling.cli.gotemplate import gotime

    t = gotype("time.Time")
    gotime.install_stringers()
    parts = gotime.parse_rfc3339(text)
    st = Struct(t, {"_text": text}, stringer=lambda: gotime.string(text))
    if parts is not None:
        st.methods = gotime.methods(text, parts)
    return st


register_struct("time.Time", [])
register_named("time.Month", "int")
register_named("time.Weekday", "int")
