"""The evaluator of Go's text/template (src/text/template/exec.go, Go 1.24): walks the
parse tree over a value, with Go's variable scoping, range/break/continue, the
missingkey option, method and function calls checked against their signatures, and
Go's error texts ("template: NAME:LINE:COL: executing "NAME" at <node>: ...")."""

from __future__ import annotations

from dockling.cli.gotemplate import parse as p
from dockling.cli.gotemplate.errors import ExecError, GoError
from dockling.cli.gotemplate.fmt import sorted_items, sprint
from dockling.cli.gotemplate.funcs import (
    REFLECT_VALUE, assignable, call, can_be_nil, indirect, indirect_interface, truth)
from dockling.cli.gotemplate.strconv import quote
from dockling.cli.gotemplate.values import (
    INT_KINDS, INVALID, MISSING, UINT_KINDS, Func, Int, Nil, Str, Struct, is_true, kind,
    type_of, zero)

MAX_EXEC_DEPTH = 100  # Python's stack, not Go's 100000; the message keeps Go's number


class Boxed:
    """A value read from an interface{} slot (a JSON map or list element, an interface{}
    field): Go keeps it an interface until the pipeline ends, which shows in errors
    ("can't evaluate field x in type interface {}")."""

    __slots__ = ("value",)

    def __init__(self, value) -> None:
        self.value = value


def unbox(v):
    return v.value if isinstance(v, Boxed) else v


def _box(v, elem_type):
    if v is None or elem_type is None or elem_type.kind != "interface" or \
            elem_type.name != "interface {}":
        return v
    return Boxed(v)


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def printable_value(v) -> tuple[object, bool]:
    """What Execute prints for a value: pointers followed, INVALID as "<no value>"."""
    if kind(v) == "ptr":
        v, _ = indirect(v)
    if v is INVALID:
        return "<no value>", True
    if isinstance(v, Func):
        return None, False
    return v, True


class State:
    def __init__(self, tmpl, out: list[str]) -> None:
        self.tmpl = tmpl
        self.out = out
        self.node: p.Node | None = None
        self.vars: list[list] = []
        self.depth = 0

    # -- errors and variables ------------------------------------------------------------
    def errorf(self, message: str):
        name = self.tmpl.name
        if self.node is None:
            raise ExecError(f"template: {name}: {message}")
        location, context = self.tmpl.tree.error_context(self.node)
        raise ExecError(f"template: {location}: executing {quote(name)} at <{context}>: "
                        f"{message}")

    def at(self, node: p.Node) -> None:
        self.node = node

    def push(self, name: str, value) -> None:
        self.vars.append([name, value])

    def mark(self) -> int:
        return len(self.vars)

    def pop(self, mark: int) -> None:
        del self.vars[mark:]

    def set_var(self, name: str, value) -> None:
        for v in reversed(self.vars):
            if v[0] == name:
                v[1] = value
                return
        self.errorf(f"undefined variable: {name}")

    def set_top_var(self, n: int, value) -> None:
        self.vars[len(self.vars) - n][1] = value

    def var_value(self, name: str):
        for v in reversed(self.vars):
            if v[0] == name:
                return v[1]
        self.errorf(f"undefined variable: {name}")

    # -- walking -------------------------------------------------------------------------
    def walk(self, dot, node: p.Node) -> None:
        self.at(node)
        t = node.type
        if t == p.ACTION:
            val = self.eval_pipeline(dot, node.pipe)
            if not node.pipe.decl:
                self.print_value(node, val)
        elif t == p.TEXT:
            self.out.append(node.text)
        elif t == p.LIST:
            for n in node.nodes:
                self.walk(dot, n)
        elif t == p.IF or t == p.WITH:
            self.walk_if_or_with(t, dot, node.pipe, node.list, node.else_list)
        elif t == p.RANGE:
            self.walk_range(dot, node)
        elif t == p.BREAK:
            raise _Break
        elif t == p.CONTINUE:
            raise _Continue
        elif t == p.COMMENT:
            pass
        elif t == p.TEMPLATE:
            self.walk_template(dot, node)
        else:
            self.errorf(f"unknown node: {node}")

    def walk_if_or_with(self, typ: int, dot, pipe, lst, else_list) -> None:
        mark = self.mark()
        try:
            val = self.eval_pipeline(dot, pipe)
            truth_, ok = is_true(indirect_interface(val))
            if not ok:
                self.errorf(f"if/with can't use {sprint(val)}")
            if truth_:
                self.walk(val if typ == p.WITH else dot, lst)
            elif else_list is not None:
                self.walk(dot, else_list)
        finally:
            self.pop(mark)

    def walk_range(self, dot, r: p.RangeNode) -> None:
        self.at(r)
        mark0 = self.mark()
        try:
            val, _ = indirect(self.eval_pipeline(dot, r.pipe))
            mark = self.mark()
            decl = r.pipe.decl

            def one_iteration(index, elem) -> None:
                if decl:
                    if r.pipe.is_assign:
                        self.set_var(decl[0].ident[0], index if len(decl) > 1 else elem)
                    else:
                        self.set_top_var(1, elem)
                if len(decl) > 1:
                    if r.pipe.is_assign:
                        self.set_var(decl[1].ident[0], elem)
                    else:
                        self.set_top_var(2, index)
                try:
                    self.walk(elem, r.list)
                except _Continue:
                    pass
                finally:
                    self.pop(mark)

            k = kind(val)
            ran = False
            if k in INT_KINDS or k in UINT_KINDS:
                if len(decl) > 1:
                    self.errorf(f"can't use {sprint(val)} to iterate over more than one "
                                f"variable")
                t = type_of(val)
                for i in range(int(val)):
                    ran = True
                    one_iteration(INVALID, i if t.name == "int" else Int(i, t))
            elif k in ("array", "slice"):
                et = type_of(val).elem
                for i, x in enumerate(list(val)):
                    ran = True
                    one_iteration(i, _box(x, et))
            elif k == "map":
                et = type_of(val).elem
                for key, x in sorted_items(val):
                    ran = True
                    one_iteration(key, _box(x, et))
            elif k == "invalid":
                pass
            else:
                self.errorf(f"range can't iterate over {sprint(val)}")
            if not ran and r.else_list is not None:
                self.walk(dot, r.else_list)
        except _Break:
            pass
        finally:
            self.pop(mark0)

    def walk_template(self, dot, t: p.TemplateNode) -> None:
        self.at(t)
        tmpl = self.tmpl.lookup(t.name)
        if tmpl is None:
            self.errorf(f"template {quote(t.name)} not defined")
        if self.depth >= MAX_EXEC_DEPTH:
            self.errorf("exceeded maximum template depth (100000)")
        dot = self.eval_pipeline(dot, t.pipe)
        new = State(tmpl, self.out)
        new.depth = self.depth + 1
        new.vars = [["$", dot]]
        new.walk(dot, tmpl.tree.root)

    # -- evaluation ----------------------------------------------------------------------
    def eval_pipeline(self, dot, pipe: p.PipeNode | None):
        if pipe is None:
            return INVALID
        self.at(pipe)
        value = MISSING
        for cmd in pipe.cmds:
            value = unbox(self.eval_command(dot, cmd, value))
            if value is None:  # a nil interface{}: down to the (invalid) thing inside
                value = INVALID
        for v in pipe.decl:
            if pipe.is_assign:
                self.set_var(v.ident[0], value)
            else:
                self.push(v.ident[0], value)
        return value

    def not_a_function(self, args, final) -> None:
        if len(args) > 1 or final is not MISSING:
            self.errorf(f"can't give argument to non-function {args[0]}")

    def eval_command(self, dot, cmd: p.CommandNode, final):
        first = cmd.args[0]
        t = first.type
        if t == p.FIELD:
            return self.eval_field_node(dot, first, cmd.args, final)
        if t == p.CHAIN:
            return self.eval_chain_node(dot, first, cmd.args, final)
        if t == p.IDENTIFIER:
            return self.eval_function(dot, first, cmd, cmd.args, final)
        if t == p.PIPE:
            self.not_a_function(cmd.args, final)
            return self.eval_pipeline(dot, first)
        if t == p.VARIABLE:
            return self.eval_variable_node(dot, first, cmd.args, final)
        self.at(first)
        self.not_a_function(cmd.args, final)
        if t == p.BOOL:
            return first.value
        if t == p.DOT:
            return dot
        if t == p.NIL:
            self.errorf("nil is not a command")
        if t == p.NUMBER:
            return self.ideal_constant(first)
        if t == p.STRING:
            return first.text
        self.errorf(f"can't evaluate command {quote(str(first))}")

    def ideal_constant(self, c: p.NumberNode):
        self.at(c)
        text = c.text
        is_hex_int = len(text) > 2 and text[0] == "0" and text[1] in "xX" and \
            not any(x in text for x in "pP")
        if c.is_complex:
            return c.complex128
        if c.is_float and not is_hex_int and not c.is_rune and any(x in text for x in ".eEpP"):
            return c.float64
        if c.is_int:
            return c.int64
        if c.is_uint:
            self.errorf(f"{text} overflows int")
        return INVALID

    def eval_field_node(self, dot, field: p.FieldNode, args, final):
        self.at(field)
        return self.eval_field_chain(dot, dot, field, field.ident, args, final)

    def eval_chain_node(self, dot, chain: p.ChainNode, args, final):
        self.at(chain)
        if not chain.fields:
            self.errorf("internal error: no fields in evalChainNode")
        if chain.node.type == p.NIL:
            self.errorf(f"indirection through explicit nil in {chain}")
        pipe = self.eval_arg(dot, None, chain.node)
        return self.eval_field_chain(dot, pipe, chain, chain.fields, args, final)

    def eval_variable_node(self, dot, variable: p.VariableNode, args, final):
        self.at(variable)
        value = self.var_value(variable.ident[0])
        if len(variable.ident) == 1:
            self.not_a_function(args or [variable], final)
            return value
        return self.eval_field_chain(dot, value, variable, variable.ident[1:], args, final)

    def eval_field_chain(self, dot, receiver, node, ident, args, final):
        for name in ident[:-1]:
            receiver = self.eval_field(dot, name, node, None, MISSING, receiver)
        return self.eval_field(dot, ident[-1], node, args, final, receiver)

    def eval_function(self, dot, node: p.IdentifierNode, cmd, args, final):
        self.at(node)
        name = node.ident
        fn, is_builtin = self.tmpl.find_function(name)
        if fn is None:
            self.errorf(f"{quote(name)} is not a defined function")
        return self.eval_call(dot, fn, is_builtin, cmd, name, args, final)

    def eval_field(self, dot, name: str, node, args, final, receiver):
        if receiver is INVALID:
            if self.tmpl.missingkey == "error":
                self.errorf(f"nil data; no entry for key {quote(name)}")
            return INVALID
        boxed = isinstance(receiver, Boxed)
        receiver = unbox(receiver)
        typ = "interface {}" if receiver is None or boxed else str(type_of(receiver))
        receiver, is_nil = indirect(receiver)
        if is_nil and (receiver is None or receiver.t.kind == "interface"):
            self.errorf(f"nil pointer evaluating {typ}.{name}")
        method = _method(receiver, name)
        if method is not None:
            return self.eval_call(dot, method, False, node, name, args, final)
        has_args = (args is not None and len(args) > 1) or final is not MISSING
        k = kind(receiver)
        if k == "struct":
            path = receiver.t.field_path(name)
            if path is not None:
                if not name[:1].isupper():
                    self.errorf(f"{name} is an unexported field of struct type {typ}")
                if has_args:
                    self.errorf(f"{name} has arguments but cannot be invoked as function")
                return _box(receiver.field(name), path[-1].type)
        elif k == "map":
            key_type = type_of(receiver).key
            if key_type.name in ("string", "interface {}"):
                if has_args:
                    self.errorf(f"{name} is not a method but has arguments")
                if not isinstance(receiver, Nil) and name in receiver:
                    return _box(receiver[name], type_of(receiver).elem)
                if self.tmpl.missingkey == "zero":
                    return zero(type_of(receiver).elem)
                if self.tmpl.missingkey == "error":
                    self.errorf(f"map has no entry for key {quote(name)}")
                return INVALID
        elif k == "ptr" and is_nil:
            et = receiver.t.elem
            if et.kind != "struct" or et.field_path(name) is not None:
                self.errorf(f"nil pointer evaluating {typ}.{name}")
        self.errorf(f"can't evaluate field {name} in type {typ}")

    def eval_call(self, dot, fun: Func, is_builtin: bool, node, name: str, args, final):
        args = list(args[1:]) if args is not None else []
        params = fun.params
        num_in = len(args) + (0 if final is MISSING else 1)
        num_fixed = len(args)
        if fun.variadic:
            num_fixed = len(params) - 1
            if num_in < num_fixed:
                self.errorf(f"wrong number of args for {name}: want at least "
                            f"{len(params) - 1} got {len(args)}")
        elif num_in != len(params):
            self.errorf(f"wrong number of args for {name}: want {len(params)} got {num_in}")
        if is_builtin and name in ("and", "or"):
            v = INVALID
            for arg in args:
                v = self.eval_arg(dot, REFLECT_VALUE, arg)
                if truth(v) == (name == "or"):
                    return v
            if final is not MISSING:
                v = self.validate_type(final, REFLECT_VALUE)
            return v
        argv = []
        i = 0
        while i < num_fixed and i < len(args):
            argv.append(self.eval_arg(dot, params[i], args[i]))
            i += 1
        if fun.variadic:
            elem = params[-1].elem
            while i < len(args):
                argv.append(self.eval_arg(dot, elem, args[i]))
                i += 1
        if final is not MISSING:
            t = params[-1]
            if fun.variadic:
                t = params[num_in - 1] if num_in - 1 < num_fixed else t.elem
            argv.append(self.validate_type(final, t))
        fn = fun.fn
        if is_builtin and name == "call":
            callee = str(args[0]) if args else _value_string(final)
            argv = [callee, *argv]
            fn = call
        try:
            result = fn(*argv)
        except GoError as err:
            self.at(node)
            self.errorf(f"error calling {name}: {err}")
        except (_Break, _Continue, ExecError):
            raise
        except RecursionError:
            raise
        except Exception as err:  # a panic in the function: Go's safeCall recovers it
            self.at(node)
            self.errorf(f"error calling {name}: {err}")
        return result

    def validate_type(self, value, t):
        value = unbox(value)
        if value is INVALID or value is MISSING:
            if t is None:
                return INVALID
            if can_be_nil(t):
                return INVALID if t is REFLECT_VALUE else zero(t)
            self.errorf(f"invalid value; expected {t}")
        if t is REFLECT_VALUE or t is None:
            return value
        if not assignable(value, t):
            if isinstance(value, Struct):
                if value.ptr and value.t is t:
                    return Struct(value.t, value.values, methods=value.methods,
                                  stringer=value.stringer)
                if not value.ptr and t.kind == "ptr" and t.elem is value.t:
                    return Struct(value.t, value.values, ptr=True, methods=value.methods,
                                  stringer=value.stringer)
            if kind(value) == "ptr" and not isinstance(value, (Nil, Struct)) and \
                    assignable(value.elem, t):
                return value.elem
            vt = "interface {}" if value is None else type_of(value)
            self.errorf(f"wrong type for value; expected {t}; got {vt}")
        return value

    def eval_arg(self, dot, t, n: p.Node):
        self.at(n)
        nt = n.type
        if nt == p.DOT:
            return self.validate_type(dot, t)
        if nt == p.NIL:
            if t is not None and can_be_nil(t):
                return INVALID if t is REFLECT_VALUE else zero(t)
            self.errorf(f"cannot assign nil to {t}")
        if nt == p.FIELD:
            return self.validate_type(self.eval_field_node(dot, n, [n], MISSING), t)
        if nt == p.VARIABLE:
            return self.validate_type(self.eval_variable_node(dot, n, None, MISSING), t)
        if nt == p.PIPE:
            return self.validate_type(self.eval_pipeline(dot, n), t)
        if nt == p.IDENTIFIER:
            return self.validate_type(self.eval_function(dot, n, n, None, MISSING), t)
        if nt == p.CHAIN:
            return self.validate_type(self.eval_chain_node(dot, n, None, MISSING), t)
        k = t.kind
        if k == "bool":
            if nt == p.BOOL:
                return n.value
            self.errorf(f"expected bool; found {n}")
        if k in ("complex64", "complex128"):
            if nt == p.NUMBER and n.is_complex:
                return n.complex128
            self.errorf(f"expected complex; found {n}")
        if k in ("float32", "float64"):
            if nt == p.NUMBER and n.is_float:
                return n.float64
            self.errorf(f"expected float; found {n}")
        if k in INT_KINDS:
            if nt == p.NUMBER and n.is_int:
                return n.int64 if t.name == "int" else Int(n.int64, t)
            self.errorf(f"expected integer; found {n}")
        if k in UINT_KINDS:
            if nt == p.NUMBER and n.is_uint:
                return Int(n.uint64, t)
            self.errorf(f"expected unsigned integer; found {n}")
        if (k == "interface" and t.name == "interface {}") or t is REFLECT_VALUE:
            return self.eval_empty_interface(dot, n)
        if k == "string":
            if nt == p.STRING:
                return n.text if t.name == "string" else Str(n.text, t)
            self.errorf(f"expected string; found {n}")
        self.errorf(f"can't handle {n} for arg of type {t}")

    def eval_empty_interface(self, dot, n: p.Node):
        self.at(n)
        nt = n.type
        if nt == p.BOOL:
            return n.value
        if nt == p.DOT:
            return dot
        if nt == p.FIELD:
            return self.eval_field_node(dot, n, None, MISSING)
        if nt == p.IDENTIFIER:
            return self.eval_function(dot, n, n, None, MISSING)
        if nt == p.NIL:
            self.errorf("evalEmptyInterface: nil (can't happen)")
        if nt == p.NUMBER:
            return self.ideal_constant(n)
        if nt == p.STRING:
            return n.text
        if nt == p.VARIABLE:
            return self.eval_variable_node(dot, n, None, MISSING)
        if nt == p.PIPE:
            return self.eval_pipeline(dot, n)
        self.errorf(f"can't handle assignment of {n} to empty interface argument")

    def print_value(self, node: p.Node, v) -> None:
        self.at(node)
        iface, ok = printable_value(v)
        if not ok:
            self.errorf(f"can't print {node} of type {type_of(v)}")
        self.out.append(sprint(iface))


def _method(receiver, name: str) -> Func | None:
    if isinstance(receiver, Struct):
        m = receiver.methods.get(name)
        if m is not None:
            return m
    t = type_of(receiver) if receiver is not INVALID else None
    if t is not None and name in t.methods:
        return t.methods[name](receiver)
    return None


def _value_string(v) -> str:
    """reflect.Value.String(): the string, or <T Value>."""
    if kind(v) == "string":
        return str(v)
    return f"<{type_of(v)} Value>"


def execute(tmpl, data) -> str:
    """Run tmpl over data; ExecError carries the output written before the error."""
    out: list[str] = []
    state = State(tmpl, out)
    if data is None:  # reflect.ValueOf(nil): the invalid value, not a nil interface
        data = INVALID
    state.vars = [["$", data]]
    try:
        if tmpl.tree is None or tmpl.tree.root is None:
            state.errorf(f"{quote(tmpl.name)} is an incomplete or empty template")
        state.walk(data, tmpl.tree.root)
    except ExecError as err:
        err.partial = "".join(out)
        raise
    except RecursionError:
        raise ExecError(f"template: {tmpl.name}: exceeded maximum template depth (100000)",
                        "".join(out)) from None
    return "".join(out)


__all__ = ["execute", "printable_value"]
