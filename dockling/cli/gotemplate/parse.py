"""The parser of Go's text/template (src/text/template/parse/parse.go, Go 1.24): the same
grammar and error texts ("template: NAME:LINE: message"); nodes are in nodes.py."""

from __future__ import annotations

from dockling.cli.gotemplate import lex
from dockling.cli.gotemplate.errors import ParseError
from dockling.cli.gotemplate.lex import Item, Lexer
from dockling.cli.gotemplate.nodes import (  # noqa: F401 - node types re-exported for exec
    ACTION, BOOL, BREAK, CHAIN, COMMAND, COMMENT, CONTINUE, DOT, ELSE, END, FIELD,
    IDENTIFIER, IF, LIST, NIL, NUMBER, PIPE, RANGE, STRING, TEMPLATE, TEXT, VARIABLE, WITH,
    ActionNode, BoolNode, BreakNode, ChainNode, CommandNode, CommentNode, ContinueNode,
    DotNode, ElseNode, EndNode, FieldNode, IdentifierNode, IfNode, ListNode, NilNode, Node,
    NumberNode, PipeNode, RangeNode, StringNode, TemplateNode, TextNode, VariableNode,
    WithNode, is_empty_tree, new_number)
from dockling.cli.gotemplate.strconv import quote, unquote as _unquote


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
                    self.errorf(f"unexpected . after term {quote(str(node))}")
            else:
                node = chain
        return node

    def term(self) -> Node | None:
        token = self.next_non_space()
        t = token.typ
        if t == lex.IDENTIFIER:
            if not self.has_function(token.val):
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
        self.errorf(f"undefined variable {quote(v.ident[0])}")

    def unquote(self, quoted: str) -> str:
        try:
            return _unquote(quoted)
        except ValueError:
            self.errorf("invalid syntax")
