"""Go's text/template in Python: lexer, parser and evaluator ported from Go 1.24's
src/text/template, with the fmt and encoding/json behaviour templates print through.

    t = Template("").funcs({"upper": Func("upper", ["string"], str.upper,
                                          results=("string",))})
    t.parse("{{range .Names}}{{upper .}} {{end}}")
    t.execute({"Names": ["a", "b"]})  # "A B "

Data is JSON-shaped Python (see values.py for how Go types are modelled). Errors carry
Go's texts: ParseError ("template: NAME:1: function \"x\" not defined"), ExecError
("template: NAME:1:2: executing \"NAME\" at <.Foo>: ..."). Modules, after Go's packages:
lex, nodes and parse (text/template/parse), exec and funcs (the evaluator and builtins),
values (a small reflect), fmt (Sprint/Sprintf), strconv (Quote, FormatFloat, literals),
gojson (encoding/json), gotime (time.Time, time.Duration). Import cost stays out of
commands that take no --format: import this lazily."""

from __future__ import annotations

from dockling.cli.gotemplate.errors import ExecError, GoError, ParseError, TemplateError
from dockling.cli.gotemplate.values import Func, Struct

__all__ = ["ExecError", "Func", "GoError", "ParseError", "Struct", "Template",
           "TemplateError"]


class _Common:
    def __init__(self) -> None:
        self.tmpl: dict[str, Template] = {}
        self.parse_funcs: dict[str, Func] = {}
        self.missingkey = "default"


class Template:
    def __init__(self, name: str, common: _Common | None = None) -> None:
        self.name = name
        self.common = common or _Common()
        self.tree = None
        self.left = self.right = ""

    @property
    def missingkey(self) -> str:
        return self.common.missingkey

    def new(self, name: str) -> Template:
        t = Template(name, self.common)
        t.left, t.right = self.left, self.right
        return t

    def funcs(self, funcs: dict[str, Func]) -> Template:
        self.common.parse_funcs.update(funcs)
        return self

    def delims(self, left: str, right: str) -> Template:
        self.left, self.right = left, right
        return self

    def option(self, *opts: str) -> Template:
        """Option("missingkey=default|invalid|zero|error"), changing this template set."""
        for opt in opts:
            key, _, value = opt.partition("=")
            if key != "missingkey" or value not in ("default", "invalid", "zero", "error"):
                raise ValueError(f"unrecognized option: {opt}")
            self.common.missingkey = "default" if value == "invalid" else value
        return self

    def lookup(self, name: str) -> Template | None:
        return self.common.tmpl.get(name)

    def find_function(self, name: str) -> tuple[Func | None, bool]:
        fn = self.common.parse_funcs.get(name)
        if fn is not None:
            return fn, False
        from dockling.cli.gotemplate.funcs import builtins

        fn = _builtins(builtins).get(name)
        return fn, fn is not None

    def parse(self, text: str) -> Template:
        from dockling.cli.gotemplate.funcs import builtins
        from dockling.cli.gotemplate.parse import Tree, is_empty_tree

        trees: dict = {}
        Tree(self.name).parse(text, self.left, self.right, trees,
                              (self.common.parse_funcs, _builtins(builtins)))
        for name, tree in trees.items():
            old = self.common.tmpl.get(name)
            if old is not None and is_empty_tree(tree.root) and old.tree is not None:
                continue  # an empty body does not replace a definition
            t = self if name == self.name else (old or self.new(name))
            t.tree = tree
            self.common.tmpl[name] = t
        return self

    def execute(self, data) -> str:
        from dockling.cli.gotemplate.exec import execute

        return execute(self, data)


_BUILTINS: dict[str, Func] = {}


def _builtins(make) -> dict[str, Func]:
    if not _BUILTINS:
        _BUILTINS.update(make())
    return _BUILTINS
