"""The template engine on its own: Go's exec_test/parse_test cases (tests/cli/
go_exec_cases.py) over T/tVal modelled in dockling's values, missingkey, fmt's verbs and
float forms, encoding/json, the tabwriter and docker's functions."""

from __future__ import annotations

import pytest

from dockling.cli.gotemplate import ExecError, Func, GoError, ParseError, Struct, Template
from dockling.cli.gotemplate.values import (
    Int, Map, Nil, Ptr, Slice, register_named, register_struct)
from tests.cli.go_exec_cases import CMP, EXEC, EXEC_ERRORS, PARSE_ERRORS


# -- Go's test types ------------------------------------------------------------------------

def _types() -> None:
    register_struct("template.U", [("V", "string")])
    register_struct("template.V", [("j", "int")])
    register_struct("template.ab", [("a", "int"), ("b", "string")])
    register_struct("template.T", [
        ("True", "bool"), ("I", "int"), ("U16", "uint16"), ("X", "string"), ("S", "string"),
        ("FloatZero", "float64"), ("ComplexZero", "complex128"), ("U", "*template.U"),
        ("V0", "template.V"), ("V1", "*template.V"), ("V2", "*template.V"),
        ("SI", "[]int"), ("SIEmpty", "[]int"), ("SB", "[]bool"), ("AI", "[3]int"),
        ("MSI", "map[string]int"), ("MSIone", "map[string]int"),
        ("MSIEmpty", "map[string]int"), ("MXI", "map[interface {}]int"),
        ("MII", "map[int]int"), ("MI64S", "map[int64]string"), ("MUI8S", "map[uint8]string"),
        ("SMSI", "[]map[string]int"), ("Empty0", "interface {}"), ("Empty1", "interface {}"),
        ("Empty2", "interface {}"), ("Empty3", "interface {}"), ("Empty4", "interface {}"),
        ("PI", "*int"), ("PS", "*string"), ("PSI", "*[]int"), ("NIL", "*int"),
        ("BinaryFunc", "func(string, string) string"),
        ("VariadicFunc", "func(...string) string"),
        ("VariadicFuncInt", "func(int, ...string) string"), ("NilOKFunc", "func(*int) bool"),
        ("ErrFunc", "func() (string, error)"), ("PanicFunc", "func() string"),
        ("unexported", "int")])
    register_struct("template.cmp", [
        ("Uthree", "uint"), ("Ufour", "uint"), ("NegOne", "int"), ("Three", "int"),
        ("Ptr", "*int"), ("NilPtr", "*int"), ("NonNilMap", "map[int]int"),
        ("Map", "map[int]int")])
    register_named("template.Uptr", "*template.U")


def _u(v: str) -> Struct:
    u = Struct("template.U", {"V": v}, ptr=True)
    u.methods["TrueFalse"] = Func("TrueFalse", ["bool"], lambda b: "true" if b else "",
                                  results=("string",))
    return u


def _v(j: int | None, ptr: bool):
    if j is None:
        return Nil("*template.V")
    return Struct("template.V", {"j": j}, ptr=ptr, stringer=lambda: f"<{j}>")


def t_val(ptr: bool = True) -> Struct:
    _types()

    def panic():
        raise RuntimeError("test panic")

    t = Struct("template.T", {
        "True": True, "I": 17, "U16": Int(16, "uint16"), "X": "x", "S": "xyz",
        "FloatZero": 0.0, "ComplexZero": 0j, "U": _u("v"), "V0": _v(6666, False),
        "V1": _v(7777, True), "V2": _v(None, True),
        "SI": Slice([3, 4, 5], "[]int"), "SIEmpty": Slice([], "[]int"),
        "SB": Slice([True, False], "[]bool"), "AI": Slice([3, 4, 5], "[3]int"),
        "MSI": Map({"one": 1, "two": 2, "three": 3}, "map[string]int"),
        "MSIone": Map({"one": 1}, "map[string]int"), "MSIEmpty": Map({}, "map[string]int"),
        "MXI": Map({"one": 1}, "map[interface {}]int"), "MII": Map({1: 1}, "map[int]int"),
        "MI64S": Map({Int(2, "int64"): "i642", Int(3, "int64"): "i643"}, "map[int64]string"),
        "MUI8S": Map({Int(2, "uint8"): "u82", Int(3, "uint8"): "u83"}, "map[uint8]string"),
        "SMSI": Slice([Map({"one": 1, "two": 2}, "map[string]int"),
                       Map({"eleven": 11, "twelve": 12}, "map[string]int")],
                      "[]map[string]int"),
        "Empty0": None, "Empty1": 3, "Empty2": "empty2", "Empty3": Slice([7, 8], "[]int"),
        "Empty4": _u("UinEmpty"), "PI": Ptr(23, "*int"), "PS": Ptr("a string", "*string"),
        "PSI": Ptr(Slice([21, 22, 23], "[]int"), "*[]int"), "NIL": Nil("*int"),
        "BinaryFunc": Func("BinaryFunc", ["string", "string"], lambda a, b: f"[{a}={b}]",
                           results=("string",)),
        "VariadicFunc": Func("VariadicFunc", ["[]string"],
                             lambda *s: "<" + "+".join(s) + ">", variadic=True,
                             results=("string",)),
        "VariadicFuncInt": Func("VariadicFuncInt", ["int", "[]string"],
                                lambda a, *s: f"{a}=<" + "+".join(s) + ">", variadic=True,
                                results=("string",)),
        "NilOKFunc": Func("NilOKFunc", ["*int"], lambda p: isinstance(p, Nil),
                          results=("bool",)),
        "ErrFunc": Func("ErrFunc", [], lambda: "bla", results=("string", "error")),
        "PanicFunc": Func("PanicFunc", [], panic, results=("string",)),
    }, ptr=ptr)

    def my_error(error: bool):
        if error:
            raise GoError("my error")
        return False

    def madd(a: int, b):
        return Slice([x + a for x in b], "[]int")

    def copy():
        return Struct("template.T", dict(t.values), ptr=True, methods=t.methods)

    t.methods.update({
        "Method0": Func("Method0", [], lambda: "M0", results=("string",)),
        "Method1": Func("Method1", ["int"], lambda a: a, results=("int",)),
        "Method2": Func("Method2", ["uint16", "string"],
                        lambda a, b: f"Method2: {a} {b}", results=("string",)),
        "Method3": Func("Method3", ["interface {}"],
                        lambda v: "Method3: " + _sprint(v), results=("string",)),
        "Copy": Func("Copy", [], copy, results=("*template.T",)),
        "MAdd": Func("MAdd", ["int", "[]int"], madd, results=("[]int",)),
        "MyError": Func("MyError", ["bool"], my_error, results=("bool", "error")),
        "GetU": Func("GetU", [], lambda: t.values["U"], results=("*template.U",)),
    })
    return t


def _sprint(v) -> str:
    from dockling.cli.gotemplate.fmt import sprint

    return sprint(v)


def _test_funcs() -> dict[str, Func]:
    from dockling.cli.gotemplate.fmt import sprintln

    def die():
        raise RuntimeError("die")

    def makemap(*args):
        return Map(dict(zip(args[::2], args[1::2])), "map[string]string")

    return {
        "add": Func("add", ["[]int"], lambda *a: sum(a), variadic=True, results=("int",)),
        "dddArg": Func("dddArg", ["int", "[]string"],
                       lambda a, *b: sprintln(a, Slice(list(b), "[]string")), variadic=True,
                       results=("string",)),
        "die": Func("die", [], die, results=("bool",)),
        "echo": Func("echo", ["interface {}"], lambda a: a),
        "makemap": Func("makemap", ["[]string"], makemap, variadic=True,
                        results=("map[string]string",)),
        "mapOfThree": Func("mapOfThree", [], lambda: Map({"three": 3}, "map[string]int")),
        "oneArg": Func("oneArg", ["string"], lambda a: "oneArg=" + a, results=("string",)),
        "returnInt": Func("returnInt", [], lambda: 7, results=("int",)),
        "twoArgs": Func("twoArgs", ["string", "string"], lambda a, b: "twoArgs=" + a + b,
                        results=("string",)),
        "typeOf": Func("typeOf", ["interface {}"], lambda a: _sprintf_t(a),
                       results=("string",)),
        "valueString": Func("valueString", ["string"], lambda v: "value is ignored",
                            results=("string",)),
        "zeroArgs": Func("zeroArgs", [], lambda: "zeroArgs", results=("string",)),
    }


def _sprintf_t(a) -> str:
    from dockling.cli.gotemplate.fmt import sprintf

    return sprintf("%T", a)


def _data(spec):
    if spec == "tVal":
        return t_val()
    if spec == "nil":
        return None
    if spec == "ab":
        _types()
        return Struct("template.ab", {"a": 7, "b": "seven"})
    kind, value = spec
    if kind == "lit":
        return value
    return Int(value, kind)


def run(text: str, data, name: str = "", funcs: bool = True) -> str:
    t = Template(name)
    if funcs:
        t.funcs(_test_funcs())
    return t.parse(text).execute(data)


# -- exec_test.go -----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "want", "data", "ok"), EXEC,
                         ids=[f"{i}-{c[0]}" for i, c in enumerate(EXEC)])
def test_go_exec(name, text, want, data, ok):
    if ok:
        assert run(text, _data(data), name) == want
    else:
        with pytest.raises(ExecError) as err:
            run(text, _data(data), name)
        assert err.value.partial == want


@pytest.mark.parametrize(("expr", "truth", "ok"), CMP, ids=[c[0] for c in CMP])
def test_go_comparison(expr, truth, ok):
    _types()
    data = Struct("template.cmp", {"Uthree": Int(3, "uint"), "Ufour": Int(4, "uint"),
                                   "NegOne": -1, "Three": 3, "Ptr": Ptr(0, "*int"),
                                   "NonNilMap": Map({}, "map[int]int")}, ptr=True)
    text = "{{if " + expr + "}}true{{else}}false{{end}}"
    if ok:
        assert run(text, data, "empty", funcs=False) == truth
    else:
        with pytest.raises(ExecError):
            run(text, data, "empty", funcs=False)


@pytest.mark.parametrize(("name", "text", "want"), PARSE_ERRORS,
                         ids=[c[0] for c in PARSE_ERRORS])
def test_go_parse_errors(name, text, want):
    with pytest.raises(ParseError) as err:
        Template(name).parse(text)
    assert want in str(err.value)


@pytest.mark.parametrize(("name", "text", "data", "want"), EXEC_ERRORS,
                         ids=[f"{i}-{c[1][:20]}" for i, c in enumerate(EXEC_ERRORS)])
def test_go_exec_errors(name, text, data, want):
    if data == "tValPtr":
        _types()
        data = Struct("template.T", {}, ptr=True)
    elif data == "nilT":
        _types()
        data = Nil("*template.T")
    elif data == "emptyTemplate":
        with pytest.raises(ExecError) as err:
            Template(name).execute(0)
        assert str(err.value) == want
        return
    else:
        data = _data(data)
    with pytest.raises(ExecError) as err:
        run(text, data, name, funcs=False)
    assert want in str(err.value)


def test_missing_map_key():
    """TestMissingMapKey: <no value>, zero, error."""
    data = Map({"x": 99}, "map[string]int")
    t = Template("t1").parse("{{.x}} {{.y}}")
    assert t.execute(data) == "99 <no value>"
    t.option("missingkey=zero")
    assert t.execute(data) == "99 0"
    t.option("missingkey=error")
    with pytest.raises(ExecError, match='map has no entry for key "y"'):
        t.execute(data)
    with pytest.raises(ExecError, match='nil data; no entry for key "x"'):
        t.execute(None)


def test_tree_with_delims_and_trim():
    """TestTree: (- define -) with other delimiters and trimming."""
    _types()
    register_struct("template.Tree", [("Val", "int"), ("Left", "*template.Tree"),
                                      ("Right", "*template.Tree")])

    def tree(v, left=None, right=None):
        return Struct("template.Tree", {"Val": v, "Left": left or Nil("*template.Tree"),
                                        "Right": right or Nil("*template.Tree")}, ptr=True)
    root = tree(1, tree(2, tree(3, tree(4)), tree(5, tree(6))),
                tree(7, tree(8, tree(9)), tree(10, tree(11))))
    text = ('\n\t(- define "tree" -)\n\t[\n\t\t(- .Val -)\n\t\t(- with .Left -)\n'
            '\t\t\t(template "tree" . -)\n\t\t(- end -)\n\t\t(- with .Right -)\n'
            '\t\t\t(- template "tree" . -)\n\t\t(- end -)\n\t]\n\t(- end -)\n')
    t = Template("root").delims("(", ")").parse(text)
    assert t.lookup("tree").execute(root) == "[1[2[3[4]][5[6]]][7[8[9]][10[11]]]]"


def test_block():
    t = Template("outer").parse('a({{block "inner" .}}bar({{.}})baz{{end}})b')
    assert t.execute("hello") == "a(bar(hello)baz)b"


def test_js_escaping():
    """TestJSEscaping."""
    from dockling.cli.gotemplate.funcs import js_escape

    for s, want in [("a", "a"), ("'foo", "\\'foo"), ('Go "jump" \\', 'Go \\"jump\\" \\\\'),
                    ('Yukihiro says "今日は世界"', 'Yukihiro says \\"今日は世界\\"'),
                    ("unprintable \ufffe", "unprintable \\uFFFE"),
                    ("<html>", "\\u003Chtml\\u003E"),
                    ("no = in attributes", "no \\u003D in attributes"),
                    ("&#x27; does not become HTML entity",
                     "\\u0026#x27; does not become HTML entity")]:
        assert js_escape(s) == want


def test_unterminated_string_line():
    with pytest.raises(ParseError, match="X:3: unterminated raw quoted string"):
        Template("X").parse("hello\n\n{{`unterminated\n\n\n\n}}\n some more\n\n")


def test_break_is_a_function_when_defined():
    """TestKeywordsAndFuncs: a function named break is called, not a keyword."""
    t = Template("").funcs({"break": Func("break", ["interface {}"], lambda v: v)})
    assert t.parse("{{range .}}{{break 20}}{{end}}").execute([1]) == "20"
    with pytest.raises(ParseError):
        Template("").parse("{{range .}}{{break 20}}{{end}}")


def test_partial_output_kept_on_error():
    with pytest.raises(ExecError) as err:
        Template("").parse("ab{{.x}}cd{{.x.y}}ef").execute({"x": 1})
    assert err.value.partial == "ab1cd"


# -- fmt -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("fmt", "args", "want"), [
    ("%v", [1e6], "1e+06"), ("%v", [123456.0], "123456"), ("%v", [1234567.0], "1.234567e+06"),
    ("%v", [0.0001], "0.0001"), ("%v", [0.00001], "1e-05"), ("%v", [-0.0], "-0"),
    ("%.3g", [1234.5678], "1.23e+03"), ("%g", [100000.0], "100000"), ("%e", [0.0], "0.000000e+00"),
    ("%6.2f|%-8.3f|%+.1e", [3.14159, 2.5, 12345.678], "  3.14|2.500   |+1.2e+04"),
    ("%05d|%-5d|%x|%X|%o|%b|%#x|%#o", [-42, 7, 255, 255, 8, 5, 255, 8],
     "-0042|7    |ff|FF|10|101|0xff|010"),
    ("%q|%#q|%+q|%x|% x", ["a\"b", "ab", "é", "hi", "hi"], '"a\\"b"|`ab`|"\\u00e9"|6869|68 69'),
    ("%5.2s|%-4s|%c|%U", ["abcdef", "x", 0x263A, 0x263A], "   ab|x   |☺|U+263A"),
    ("%d %d", [1], "1 %!d(MISSING)"), ("%d", [1, 2], "1%!(EXTRA int=2)"),
    ("%z", [1], "%!z(int=1)"), ("%s", [None], "%!s(<nil>)"), ("%!", [], "%!!(MISSING)"), ("a%", [], "a%!(NOVERB)"),
    ("%[2]d %[1]d", [1, 2], "2 1"), ("%*d", [4, 7], "   7"), ("%t", [True], "true"),
    ("%v", [[1, "a", None]], "[1 a <nil>]"), ("%v", [{"b": 1, "a": [2]}], "map[a:[2] b:1]"),
    ("%T %T %T", [1, "s", [1]], "int string []interface {}"),
])
def test_sprintf(fmt, args, want):
    from dockling.cli.gotemplate.fmt import sprintf

    assert sprintf(fmt, *args) == want


def test_json_like_go():
    from dockling.cli.gotemplate.gojson import marshal

    assert marshal({"b": 1.0, "a": [1e21, 1e-7, 0.5, None, "<&>\u2028"]}) == \
        '{"a":[1e+21,1e-7,0.5,null,"<&>\\u2028"],"b":1}'
    assert marshal("\x01\b\f\n") == '"\\u0001\\b\\f\\n"'
    with pytest.raises(GoError, match="json: unsupported value: NaN"):
        marshal(float("nan"))


# -- docker's functions, tabwriter, contexts ---------------------------------------------------

def test_docker_functions():
    from dockling.cli import templates

    def render(text, data=None):
        return templates.parse(text).execute(data)
    assert render('{{split "a,b" ","}} {{join (split "a,b" ",") "+"}}') == "[a b] a+b"
    assert render('{{title "hello wor_ld a.b"}} {{upper "ß"}} {{lower "ÀB"}}') == \
        "Hello Wor_ld A.B ß àb"
    assert render('[{{pad "x" 1 2}}][{{pad "" 1 2}}] {{truncate "abcdef" 3}}') == \
        "[ x  ][] abc"
    with pytest.raises(ExecError, match="wrong type for value; expected \\[\\]string; "
                                        "got \\[\\]interface \\{\\}"):
        render('{{join . ","}}', ["a"])


def test_tabwriter_like_docker():
    from dockling.cli.tabwriter import TabWriter

    tw = TabWriter(10, 1, 3)
    tw.write("A\tBB\tC\nlonger value\tx\ty\nno tabs here\nq\tr\n")
    assert tw.flush() == ("A              BB        C\n"
                          "longer value   x         y\n"
                          "no tabs here\n"
                          "q         r\n")


def test_table_directive_headers():
    from dockling.cli.formatter import context, format_contexts

    rows = [context("formatter.ContainerContext", {"ID": "abc", "Names": "web"},
                    {"com.x.role": "db"})]
    headers = {"ID": "CONTAINER ID", "Names": "NAMES"}
    out = format_contexts('table {{.ID}}\\t{{.Label "com.x.role"}}\\t{{upper .Names}}', rows,
                          headers)
    assert out == "CONTAINER ID   role      NAMES\nabc            db        WEB\n"
    assert format_contexts("json", rows, headers) == '{"ID":"abc","Names":"web"}\n'


def test_typed_and_raw_inspect():
    """docker inspect: the Go type first ({{.Config.Labels.x}} is <no value>), the raw
    map with missingkey=error when the typed run fails ({{.Id}} is not a Go field)."""
    from dockling.cli.formatter import format_documents

    doc = {"Id": "abc", "Config": {"Labels": {"a": "1"}, "Env": ["A=1"]},
           "State": {"Pid": 7, "Status": "running"}}
    out, errs = format_documents([(doc, "container.InspectResponse")],
                                 "{{.Id}} {{.State.Pid}}")
    assert (out, errs) == ("abc 7\n", [])
    out, errs = format_documents([(doc, "container.InspectResponse")], "{{.ID}}")
    assert (out, errs) == ("abc\n", [])  # the Go field, from the JSON's "Id"
    out, errs = format_documents([(doc, "container.InspectResponse")],
                                 "{{.Config.Labels.x}} {{join .Config.Env \",\"}}")
    assert (out, errs) == ("<no value> A=1\n", [])
    out, errs = format_documents([(doc, "container.InspectResponse")], "{{.Nope}}")
    assert out == "\n"
    assert errs == ['template parsing error: template: :1:2: executing "" at <.Nope>: '
                    'map has no entry for key "Nope"']
