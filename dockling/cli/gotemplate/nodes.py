"""The parse tree of Go's text/template (src/text/template/parse/node.go, Go 1.24):
node types with Go's String() forms (error contexts print them) and NumberNode's ideal
constant rules."""

from __future__ import annotations

from dockling.cli.gotemplate import lex
from dockling.cli.gotemplate.strconv import parse_float, parse_int, quote, unquote_char

# node types
(TEXT, ACTION, BOOL, CHAIN, COMMAND, DOT, ELSE, END, FIELD, IDENTIFIER, IF, LIST, NIL,
 NUMBER, PIPE, RANGE, STRING, TEMPLATE, VARIABLE, WITH, COMMENT, BREAK, CONTINUE) = range(23)


class Node:
    type = -1

    def __init__(self, tree: Tree | None, pos: int) -> None:
        self.tree = tree
        self.pos = pos


class ListNode(Node):
    type = LIST

    def __init__(self, tree, pos) -> None:
        super().__init__(tree, pos)
        self.nodes: list[Node] = []

    def __str__(self) -> str:
        return "".join(str(n) for n in self.nodes)


class TextNode(Node):
    type = TEXT

    def __init__(self, tree, pos, text: str) -> None:
        super().__init__(tree, pos)
        self.text = text

    def __str__(self) -> str:
        return self.text


class CommentNode(Node):
    type = COMMENT

    def __init__(self, tree, pos, text: str) -> None:
        super().__init__(tree, pos)
        self.text = text

    def __str__(self) -> str:
        return "{{" + self.text + "}}"


class PipeNode(Node):
    type = PIPE

    def __init__(self, tree, pos, line: int) -> None:
        super().__init__(tree, pos)
        self.line = line
        self.is_assign = False
        self.decl: list[VariableNode] = []
        self.cmds: list[CommandNode] = []

    def __str__(self) -> str:
        out = ""
        if self.decl:
            out = ", ".join(str(v) for v in self.decl) + (" = " if self.is_assign else " := ")
        return out + " | ".join(str(c) for c in self.cmds)


class ActionNode(Node):
    type = ACTION

    def __init__(self, tree, pos, line: int, pipe: PipeNode) -> None:
        super().__init__(tree, pos)
        self.line = line
        self.pipe = pipe

    def __str__(self) -> str:
        return "{{" + str(self.pipe) + "}}"


class CommandNode(Node):
    type = COMMAND

    def __init__(self, tree, pos) -> None:
        super().__init__(tree, pos)
        self.args: list[Node] = []

    def __str__(self) -> str:
        return " ".join(f"({a})" if isinstance(a, PipeNode) else str(a) for a in self.args)


class IdentifierNode(Node):
    type = IDENTIFIER

    def __init__(self, tree, pos, ident: str) -> None:
        super().__init__(tree, pos)
        self.ident = ident

    def __str__(self) -> str:
        return self.ident


class VariableNode(Node):
    type = VARIABLE

    def __init__(self, tree, pos, ident: str) -> None:
        super().__init__(tree, pos)
        self.ident = ident.split(".")

    def __str__(self) -> str:
        return ".".join(self.ident)


class DotNode(Node):
    type = DOT

    def __str__(self) -> str:
        return "."


class NilNode(Node):
    type = NIL

    def __str__(self) -> str:
        return "nil"


class FieldNode(Node):
    type = FIELD

    def __init__(self, tree, pos, ident: str) -> None:
        super().__init__(tree, pos)
        self.ident = ident[1:].split(".")

    def __str__(self) -> str:
        return "".join("." + i for i in self.ident)


class ChainNode(Node):
    type = CHAIN

    def __init__(self, tree, pos, node: Node) -> None:
        super().__init__(tree, pos)
        self.node = node
        self.fields: list[str] = []

    def add(self, field: str) -> None:
        self.fields.append(field[1:])

    def __str__(self) -> str:
        head = f"({self.node})" if isinstance(self.node, PipeNode) else str(self.node)
        return head + "".join("." + f for f in self.fields)


class BoolNode(Node):
    type = BOOL

    def __init__(self, tree, pos, value: bool) -> None:
        super().__init__(tree, pos)
        self.value = value

    def __str__(self) -> str:
        return "true" if self.value else "false"


class NumberNode(Node):
    """A number under every type that can hold it (Go's ideal constants)."""
    type = NUMBER

    def __init__(self, tree, pos, text: str) -> None:
        super().__init__(tree, pos)
        self.text = text
        self.is_int = self.is_uint = self.is_float = self.is_complex = False
        self.int64 = self.uint64 = 0
        self.float64 = 0.0
        self.complex128 = 0j
        self.is_rune = False

    def __str__(self) -> str:
        return self.text


class StringNode(Node):
    type = STRING

    def __init__(self, tree, pos, quoted: str, text: str) -> None:
        super().__init__(tree, pos)
        self.quoted = quoted
        self.text = text

    def __str__(self) -> str:
        return self.quoted


class EndNode(Node):
    type = END

    def __str__(self) -> str:
        return "{{end}}"


class ElseNode(Node):
    type = ELSE

    def __init__(self, tree, pos, line: int) -> None:
        super().__init__(tree, pos)
        self.line = line

    def __str__(self) -> str:
        return "{{else}}"


class BreakNode(Node):
    type = BREAK

    def __str__(self) -> str:
        return "{{break}}"


class ContinueNode(Node):
    type = CONTINUE

    def __str__(self) -> str:
        return "{{continue}}"


class BranchNode(Node):
    name = ""

    def __init__(self, tree, pos, line, pipe: PipeNode, lst: ListNode,
                 else_list: ListNode | None) -> None:
        super().__init__(tree, pos)
        self.line = line
        self.pipe = pipe
        self.list = lst
        self.else_list = else_list

    def __str__(self) -> str:
        out = "{{" + self.name + " " + str(self.pipe) + "}}" + str(self.list)
        if self.else_list is not None:
            out += "{{else}}" + str(self.else_list)
        return out + "{{end}}"


class IfNode(BranchNode):
    type, name = IF, "if"


class RangeNode(BranchNode):
    type, name = RANGE, "range"


class WithNode(BranchNode):
    type, name = WITH, "with"


class TemplateNode(Node):
    type = TEMPLATE

    def __init__(self, tree, pos, line, name: str, pipe: PipeNode | None) -> None:
        super().__init__(tree, pos)
        self.line = line
        self.name = name
        self.pipe = pipe

    def __str__(self) -> str:
        out = "{{template " + quote(self.name)
        if self.pipe is not None:
            out += " " + str(self.pipe)
        return out + "}}"


def is_empty_tree(n: Node | None) -> bool:
    if n is None or isinstance(n, CommentNode):
        return True
    if isinstance(n, ListNode):
        return all(is_empty_tree(x) for x in n.nodes)
    if isinstance(n, TextNode):
        return not n.text.strip(" \t\r\n\v\f\x85\xa0")
    return False


def new_number(tree, pos: int, text: str, typ: int) -> NumberNode:
    n = NumberNode(tree, pos, text)
    if typ == lex.CHAR_CONSTANT:
        try:
            c, i = unquote_char(text, 1, "'")
        except (ValueError, IndexError):
            raise ValueError("invalid syntax") from None
        if text[i:] != "'":
            raise ValueError(f"malformed character constant: {text}")
        n.int64 = n.uint64 = ord(c)
        n.float64 = float(ord(c))
        n.is_int = n.is_uint = n.is_float = n.is_rune = True
        return n
    if typ == lex.COMPLEX:
        cut = max(text.rfind("+"), text.rfind("-"))
        while cut > 0 and text[cut - 1] in "eEpP":
            cut = max(text.rfind("+", 0, cut), text.rfind("-", 0, cut))
        try:
            n.complex128 = complex(parse_float(text[:cut]), parse_float(text[cut:-1]))
        except (ValueError, IndexError):
            raise ValueError(f"illegal number syntax: {quote(text)}") from None
        n.is_complex = True
        _simplify_complex(n)
        return n
    if text.endswith("i"):
        try:
            n.complex128 = complex(0, parse_float(text[:-1]))
            n.is_complex = True
            _simplify_complex(n)
            return n
        except ValueError:
            pass
    try:
        n.uint64 = parse_int(text, True)
        n.is_uint = True
    except ValueError:
        pass
    try:
        n.int64 = parse_int(text, False)
        n.is_int = True
        if n.int64 == 0:
            n.is_uint = True
    except ValueError:
        pass
    if n.is_int:
        n.is_float, n.float64 = True, float(n.int64)
    elif n.is_uint:
        n.is_float, n.float64 = True, float(n.uint64)
    else:
        try:
            f = parse_float(text)
        except ValueError:
            f = None
        if f is not None:
            if not any(c in text for c in ".eEpP"):
                raise ValueError(f"integer overflow: {quote(text)}")
            n.is_float, n.float64 = True, f
            if f == int(f) and -(1 << 63) <= f < 1 << 63:
                n.is_int, n.int64 = True, int(f)
            if f == int(f) and 0 <= f < 1 << 64:
                n.is_uint, n.uint64 = True, int(f)
    if not (n.is_int or n.is_uint or n.is_float):
        raise ValueError(f"illegal number syntax: {quote(text)}")
    return n


def _simplify_complex(n: NumberNode) -> None:
    n.is_float = n.complex128.imag == 0
    if n.is_float:
        n.float64 = n.complex128.real
        f = n.float64
        if f == int(f) and -(1 << 63) <= f < 1 << 63:
            n.is_int, n.int64 = True, int(f)
        if f == int(f) and 0 <= f < 1 << 64:
            n.is_uint, n.uint64 = True, int(f)
