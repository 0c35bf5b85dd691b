"""The parser of Go's text/template (src/text/template/parse/parse.go and node.go, Go 1.24):
the same grammar, nodes, their String() forms (used in error contexts) and error texts."""

from __future__ import annotations

from dockling.cli.gotemplate import lex
from dockling.cli.gotemplate.errors import ParseError
from dockling.cli.gotemplate.lex import Item, Lexer

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
        from dockling.cli.gotemplate.fmt import quote

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




class Tree:
    """One parsed template; parse() fills tree_set with it and its {{define}}s."""

    def __init__(self, name: str, funcs: tuple = ()) -> None:
        self.name = name
        self.parse_name = name
        self.root: ListNode | None = None
        self.text = ""
        self.funcs = funcs
        self.lex: Lexer | None = None
        self.token: list[Item | None] = [None, None, None]
        self.peek_count = 0
        self.vars: list[str] = []
        self.tree_set: dict[str, Tree] = {}
        self.action_line = 0
        self.range_depth = 0

    # -- errors ------------------------------------------------------------------------
    def error_context(self, n: Node) -> tuple[str, str]:
        """Go's ErrorContext: "name:line:col" (col in bytes) and the node's text."""
        tree = n.tree or self
        text = tree.text[:n.pos]
        nl = text.rfind("\n")
        col = len(text[nl + 1:].encode()) if nl >= 0 else len(text.encode())
        return f"{tree.parse_name}:{1 + text.count(chr(10))}:{col}", str(n)

    def errorf(self, message: str):
        self.root = None
        raise ParseError(f"template: {self.parse_name}:{self.token[0].line}: {message}")

    def unexpected(self, token: Item, context: str):
        if token.typ == lex.ERROR:
            extra = ""
            if self.action_line and self.action_line != token.line:
                extra = f" in action started at {self.parse_name}:{self.action_line}"
                if token.val.endswith(" action"):
                    extra = extra[len(" in action"):]
            self.errorf(f"{token}{extra}")
        self.errorf(f"unexpected {token} in {context}")

    # -- tokens ------------------------------------------------------------------------
    def next(self) -> Item:
        if self.peek_count > 0:
            self.peek_count -= 1
        else:
            self.token[0] = self.lex.next_item()
        return self.token[self.peek_count]

    def backup(self) -> None:
        self.peek_count += 1

    def backup2(self, t1: Item) -> None:
        self.token[1] = t1
        self.peek_count = 2

    def backup3(self, t2: Item, t1: Item) -> None:
        self.token[1] = t1
        self.token[2] = t2
        self.peek_count = 3

    def peek(self) -> Item:
        if self.peek_count > 0:
            return self.token[self.peek_count - 1]
        self.peek_count = 1
        self.token[0] = self.lex.next_item()
        return self.token[0]

    def next_non_space(self) -> Item:
        while True:
            token = self.next()
            if token.typ != lex.SPACE:
                return token

    def peek_non_space(self) -> Item:
        token = self.next_non_space()
        self.backup()
        return token

    def expect(self, expected: int, context: str) -> Item:
        token = self.next_non_space()
        if token.typ != expected:
            self.unexpected(token, context)
        return token

    def expect_one_of(self, e1: int, e2: int, context: str) -> Item:
        token = self.next_non_space()
        if token.typ not in (e1, e2):
            self.unexpected(token, context)
        return token

    def has_function(self, name: str) -> bool:
        return any(name in m for m in self.funcs if m)

    # -- parsing -----------------------------------------------------------------------
    def start_parse(self, funcs, lexer: Lexer, tree_set: dict) -> None:
        self.root = None
        self.lex = lexer
        self.vars = ["$"]
        self.funcs = funcs
        self.tree_set = tree_set
        lexer.break_ok = not self.has_function("break")
        lexer.continue_ok = not self.has_function("continue")

    def parse(self, text: str, left: str, right: str, tree_set: dict, funcs) -> Tree:
        self.parse_name = self.name
        self.start_parse(funcs, Lexer(text, left, right), tree_set)
        self.text = text
        self._parse()
        self._add()
        return self

    def _add(self) -> None:
        tree = self.tree_set.get(self.name)
        if tree is None or is_empty_tree(tree.root):
            self.tree_set[self.name] = self
            return
        if not is_empty_tree(self.root):
            from dockling.cli.gotemplate.fmt import quote

            self.errorf(f"template: multiple definition of template {quote(self.name)}")

    def _parse(self) -> None:
        self.root = ListNode(self, self.peek().pos)
        while self.peek().typ != lex.EOF:
            if self.peek().typ == lex.LEFT_DELIM:
                delim = self.next()
                if self.next_non_space().typ == lex.DEFINE:
                    new = Tree("definition")
                    new.text = self.text
                    new.parse_name = self.parse_name
                    new.start_parse(self.funcs, self.lex, self.tree_set)
                    new.parse_definition()
                    continue
                self.backup2(delim)
            n = self.text_or_action()
            if n.type in (END, ELSE):
                self.errorf(f"unexpected {n}")
            self.root.nodes.append(n)

    def parse_definition(self) -> None:
        context = "define clause"
        name = self.expect_one_of(lex.STRING, lex.RAW_STRING, context)
        self.name = self.unquote(name.val)
        self.expect(lex.RIGHT_DELIM, context)
        self.root, end = self.item_list()
        if end.type != END:
            self.errorf(f"unexpected {end} in {context}")
        self._add()

    def item_list(self) -> tuple[ListNode, Node]:
        lst = ListNode(self, self.peek_non_space().pos)
        while self.peek_non_space().typ != lex.EOF:
            n = self.text_or_action()
            if n.type in (END, ELSE):
                return lst, n
            lst.nodes.append(n)
        self.errorf("unexpected EOF")

    def text_or_action(self) -> Node:
        token = self.next_non_space()
        if token.typ == lex.TEXT:
            return TextNode(self, token.pos, token.val)
        if token.typ == lex.LEFT_DELIM:
            self.action_line = token.line
            try:
                return self.action()
            finally:
                self.action_line = 0
        if token.typ == lex.COMMENT:
            return CommentNode(self, token.pos, token.val)
        self.unexpected(token, "input")

    def action(self) -> Node:
        token = self.next_non_space()
        t = token.typ
        if t == lex.BLOCK:
            return self.block_control()
        if t == lex.BREAK:
            return self.break_control(token.pos, token.line)
        if t == lex.CONTINUE:
            return self.continue_control(token.pos, token.line)
        if t == lex.ELSE:
            return self.else_control()
        if t == lex.END:
            return self.end_control()
        if t == lex.IF:
            return IfNode(self, *self.parse_control("if"))
        if t == lex.RANGE:
            return RangeNode(self, *self.parse_control("range"))
        if t == lex.TEMPLATE:
            return self.template_control()
        if t == lex.WITH:
            return WithNode(self, *self.parse_control("with"))
        self.backup()
        token = self.peek()
        return ActionNode(self, token.pos, token.line, self.pipeline("command", lex.RIGHT_DELIM))

    def break_control(self, pos: int, line: int) -> Node:
        token = self.next_non_space()
        if token.typ != lex.RIGHT_DELIM:
            self.unexpected(token, "{{break}}")
        if self.range_depth == 0:
            self.errorf("{{break}} outside {{range}}")
        return BreakNode(self, pos)

    def continue_control(self, pos: int, line: int) -> Node:
        token = self.next_non_space()
        if token.typ != lex.RIGHT_DELIM:
            self.unexpected(token, "{{continue}}")
        if self.range_depth == 0:
            self.errorf("{{continue}} outside {{range}}")
        return ContinueNode(self, pos)

    def pipeline(self, context: str, end: int) -> PipeNode:
        token = self.peek_non_space()
        pipe = PipeNode(self, token.pos, token.line)
        while True:  # declarations (Go's "goto decls")
            v = self.peek_non_space()
            if v.typ != lex.VARIABLE:
                break
            self.next()
            token_after = self.peek()
            nxt = self.peek_non_space()
            if nxt.typ in (lex.ASSIGN, lex.DECLARE):
                pipe.is_assign = nxt.typ == lex.ASSIGN
                self.next_non_space()
                pipe.decl.append(VariableNode(self, v.pos, v.val))
                self.vars.append(v.val)
            elif nxt.typ == lex.CHAR and nxt.val == ",":
                self.next_non_space()
                pipe.decl.append(VariableNode(self, v.pos, v.val))
                self.vars.append(v.val)
                if context == "range" and len(pipe.decl) < 2:
                    if self.peek_non_space().typ in (lex.VARIABLE, lex.RIGHT_DELIM,
                                                     lex.RIGHT_PAREN):
                        continue
                    self.errorf("range can only initialize variables")
                self.errorf(f"too many declarations in {context}")
            elif token_after.typ == lex.SPACE:
                self.backup3(v, token_after)
            else:
                self.backup2(v)
            break
        while True:
            token = self.next_non_space()
            if token.typ == end:
                self.check_pipeline(pipe, context)
                return pipe
            if token.typ in (lex.BOOL, lex.CHAR_CONSTANT, lex.COMPLEX, lex.DOT, lex.FIELD,
                             lex.IDENTIFIER, lex.NUMBER, lex.NIL, lex.RAW_STRING, lex.STRING,
                             lex.VARIABLE, lex.LEFT_PAREN):
                self.backup()
                pipe.cmds.append(self.command())
            else:
                self.unexpected(token, context)

    def check_pipeline(self, pipe: PipeNode, context: str) -> None:
        if not pipe.cmds:
            self.errorf(f"missing value for {context}")
        for i, c in enumerate(pipe.cmds[1:]):
            if c.args[0].type in (BOOL, DOT, NIL, NUMBER, STRING):
                self.errorf(f"non executable command in pipeline stage {i + 2}")

    def parse_control(self, context: str):
        mark = len(self.vars)
        try:
            pipe = self.pipeline(context, lex.RIGHT_DELIM)
            if context == "range":
                self.range_depth += 1
            lst, nxt = self.item_list()
            if context == "range":
                self.range_depth -= 1
            else_list = None
            if nxt.type == ELSE:
                # "{{else if x}}" / "{{else with x}}" nest: the inner one ends at our {{end}}
                if context == "if" and self.peek().typ == lex.IF:
                    self.next()
                    else_list = ListNode(self, nxt.pos)
                    else_list.nodes.append(IfNode(self, *self.parse_control("if")))
                elif context == "with" and self.peek().typ == lex.WITH:
                    self.next()
                    else_list = ListNode(self, nxt.pos)
                    else_list.nodes.append(WithNode(self, *self.parse_control("with")))
                else:
                    else_list, nxt = self.item_list()
                    if nxt.type != END:
                        self.errorf(f"expected end; found {nxt}")
            return pipe.pos, pipe.line, pipe, lst, else_list
        finally:
            del self.vars[mark:]

    def end_control(self) -> Node:
        return EndNode(self, self.expect(lex.RIGHT_DELIM, "end").pos)

    def else_control(self) -> Node:
        peek = self.peek_non_space()
        if peek.typ in (lex.IF, lex.WITH):
            return ElseNode(self, peek.pos, peek.line)
        token = self.expect(lex.RIGHT_DELIM, "else")
        return ElseNode(self, token.pos, token.line)

    def block_control(self) -> Node:
        context = "block clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = self.pipeline(context, lex.RIGHT_DELIM)
        block = Tree(name)
        block.text = self.text
        block.parse_name = self.parse_name
        block.start_parse(self.funcs, self.lex, self.tree_set)
        block.root, end = block.item_list()
        if end.type != END:
            self.errorf(f"unexpected {end} in {context}")
        block._add()
        return TemplateNode(self, token.pos, token.line, name, pipe)

    def template_control(self) -> Node:
        context = "template clause"
        token = self.next_non_space()
        name = self.parse_template_name(token, context)
        pipe = None
        if self.next_non_space().typ != lex.RIGHT_DELIM:
            self.backup()
            pipe = self.pipeline(context, lex.RIGHT_DELIM)
        return TemplateNode(self, token.pos, token.line, name, pipe)

    def parse_template_name(self, token: Item, context: str) -> str:
        if token.typ in (lex.STRING, lex.RAW_STRING):
            return self.unquote(token.val)
        self.unexpected(token, context)

    def command(self) -> CommandNode:
        cmd = CommandNode(self, self.peek_non_space().pos)
        while True:
            self.peek_non_space()
            operand = self.operand()
            if operand is not None:
                cmd.args.append(operand)
            token = self.next()
            if token.typ == lex.SPACE:
                continue
            if token.typ in (lex.RIGHT_DELIM, lex.RIGHT_PAREN):
                self.backup()
            elif token.typ != lex.PIPE:
                self.unexpected(token, "operand")
            break
        if not cmd.args:
            self.errorf("empty command")
        return cmd

    def operand(self) -> Node | None:
        node = self.term()
        if node is None:
            return None
        if self.peek().typ == lex.FIELD:
            chain = ChainNode(self, self.peek().pos, node)
            while self.peek().typ == lex.FIELD:
                chain.add(self.next().val)
            if node.type == FIELD:
                node = FieldNode(self, chain.pos, str(chain))
            elif node.type == VARIABLE:
                node = VariableNode(self, chain.pos, str(chain))
            elif node.type in (BOOL, STRING, NUMBER, NIL, DOT):
                from dockling.cli.gotemplate.fmt import quote

                self.errorf(f"unexpected . after term {quote(str(node))}")
            else:
                node = chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        t = token.typ
        if t == lex.IDENTIFIER:
            if not self.has_function(token.val):
                from dockling.cli.gotemplate.fmt import quote

                self.errorf(f"function {quote(token.val)} not defined")
            return IdentifierNode(self, token.pos, token.val)
        if t == lex.DOT:
            return DotNode(self, token.pos)
        if t == lex.NIL:
            return NilNode(self, token.pos)
        if t == lex.VARIABLE:
            return self.use_var(token.pos, token.val)
        if t == lex.FIELD:
            return FieldNode(self, token.pos, token.val)
        if t == lex.BOOL:
            return BoolNode(self, token.pos, token.val == "true")
        if t in (lex.CHAR_CONSTANT, lex.COMPLEX, lex.NUMBER):
            try:
                return new_number(self, token.pos, token.val, t)
            except ValueError as err:
                self.errorf(str(err))
        if t == lex.LEFT_PAREN:
            return self.pipeline("parenthesized pipeline", lex.RIGHT_PAREN)
        if t in (lex.STRING, lex.RAW_STRING):
            return StringNode(self, token.pos, token.val, self.unquote(token.val))
        self.backup()
        return None

    def use_var(self, pos: int, name: str) -> Node:
        v = VariableNode(self, pos, name)
        if v.ident[0] in self.vars:
            return v
        from dockling.cli.gotemplate.fmt import quote

        self.errorf(f"undefined variable {quote(v.ident[0])}")

    def unquote(self, quoted: str) -> str:
        try:
            return unquote(quoted)
        except ValueError:
            self.errorf("invalid syntax")


# -- strconv ------------------------------------------------------------------------------

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


def new_number(tree: Tree, pos: int, text: str, typ: int) -> NumberNode:
    from dockling.cli.gotemplate.fmt import quote

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
