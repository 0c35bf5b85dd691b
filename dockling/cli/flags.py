"""Command-line flags read as docker's CLI reads them (spf13/pflag under cobra).

The commands declare their flags with argparse's calls (``add_parser``,
``add_argument`` with action, nargs, type, default, dest, choices, const, help;
``set_defaults``; nested subcommands) and this module parses them by pflag's
rules:

- ``--name value``, ``--name=value``, ``-n value``, ``-nvalue``, ``-n=value``;
  shorthands combine (``-it``, ``-dp 80:80``); a flag that wants a value takes
  the next argument whatever it looks like (``-n -1``);
- a boolean flag takes ``--flag=false`` (pflag's ParseBool), never a separate
  value; long flags are never abbreviated; an int is read as Go's ParseInt with
  base 0 (``0x10``, ``010``); ``action="slice"`` is pflag's StringSlice (each use
  may hold several values, comma-separated);
- flags and arguments mix (``rm c1 -f``), except in a command whose last
  argument is the rest of the line (``run IMAGE COMMAND...``, ``top``) or that
  is declared ``interspersed=False`` (``exec``): the first argument ends its
  flags, so the container's own flags stay its own;
- ``--`` ends the flags; a lone ``-`` is an argument (stdin);
- docker's words for what goes wrong: ``unknown flag: --x``, ``unknown
  shorthand flag: 'x' in -x``, ``flag needs an argument: --x``, ``invalid
  argument "v" for "-m, --memory" flag: ...``, ``"dockling rm" requires at
  least 1 argument``; a flag's error is ``error``, a count's ``args_error``
  (docker exits 125 for the one, 1 for the other).

Not argparse because of what it costs: it imports ``re`` (and with it enum,
functools and collections), 15-20 ms of every command's start here, a fifth
of a `dockling exec`; pflag's rules are also what docker users type.
"""

from __future__ import annotations

import os
import sys

SUPPRESS = "==SUPPRESS=="  # as help: the flag is not listed
REMAINDER = "..."  # as nargs: the rest of the command line

_TRUE = ("1", "t", "T", "true", "TRUE", "True")
_FALSE = ("0", "f", "F", "false", "FALSE", "False")
_NO_VALUE = ("store_true", "store_false", "store_const", "help")
_ACTIONS = (*_NO_VALUE, "store", "append", "slice")
_UNSET = object()  # no default given: None, or a bool flag's off


def _go_int(s: str) -> int:
    """strconv.ParseInt(s, 0, 64): 0x/0o/0b prefixes, a leading 0 for octal."""
    if not s.isascii() or s != s.strip():  # int() takes spaces and other scripts' digits
        raise ValueError(s)
    digits = s.lstrip("+-")
    if len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():  # Go's octal 010
        s = s[:len(s) - len(digits)] + "0o" + digits[1:]
    return int(s, 0)


class ArgumentTypeError(Exception):
    """Raised by a flag's ``type``: the value is refused, with this reason."""


class Namespace:
    """The parsed flags and arguments, as attributes."""

    def __init__(self, **kwargs) -> None:
        self.__dict__.update(kwargs)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.__dict__.items())
        return f"Namespace({inner})"


class _Flag:
    __slots__ = (
        "action",
        "choices",
        "const",
        "default",
        "dest",
        "help",
        "metavar",
        "names",
        "nargs",
        "type",
    )

    def __init__(self, names: tuple[str, ...], dest: str, action: str, nargs, const, default,
                 type, choices, help, metavar) -> None:
        self.names, self.dest, self.action, self.nargs = names, dest, action, nargs
        self.const, self.default, self.type, self.choices = const, default, type, choices
        self.help, self.metavar = help, metavar

    def label(self) -> str:
        """The flag as pflag's errors name it: ``-m, --memory`` (its shorthand and
        name; the aliases declared after the name are not part of it)."""
        longs = [n for n in self.names if n.startswith("--")]
        return ", ".join([n for n in self.names if not n.startswith("--")] + longs[:1])


class _Subcommands:
    """What add_subparsers returns: add_parser registers one subcommand."""

    def __init__(self, parent: ArgumentParser, dest: str | None, parser_class) -> None:
        self.parent, self.dest = parent, dest
        self.parser_class = parser_class or type(parent)
        self.parsers: dict[str, ArgumentParser] = {}
        self.listed: list[str] = []

    def add_parser(self, name: str, aliases: tuple[str, ...] | list[str] = (), **kwargs):
        kwargs.setdefault("prog", f"{self.parent.prog} {name}")
        p = self.parser_class(**kwargs)
        self.listed.append(name)
        for n in (name, *aliases):
            self.parsers[n] = p
        return p


class ArgumentParser:
    def __init__(self, prog: str | None = None, usage: str | None = None,
                 description: str | None = None, add_help: bool = True,
                 interspersed: bool = True, **_ignored) -> None:
        self.prog = prog or os.path.basename(sys.argv[0])
        self.usage, self.description = usage, description
        self.interspersed = interspersed  # pflag's SetInterspersed(false): see the top
        self._flags: list[_Flag] = []
        self._by_name: dict[str, _Flag] = {}
        self._positionals: list[_Flag] = []
        self._defaults: dict = {}
        self._sub: _Subcommands | None = None
        if add_help:
            self.add_argument("-h", "--help", action="help")

    # -- declaring -------------------------------------------------------------------------
    def add_argument(self, *names: str, action: str = "store", nargs=None, const=None,
                     default=_UNSET, type=None, choices=None, dest: str | None = None,
                     help: str | None = None, metavar: str | None = None) -> _Flag:
        if names[0].startswith("-"):
            if action not in _ACTIONS or nargs is not None:
                raise ValueError(f"{names[0]}: action {action!r}, nargs {nargs!r}: "
                                 "not supported here")
            if dest is None:
                longs = [n for n in names if n.startswith("--")]
                dest = (longs or names)[0].lstrip("-").replace("-", "_")
            if default is _UNSET:
                default = {"store_true": False, "store_false": True}.get(action)
            f = _Flag(names, SUPPRESS if action == "help" else dest, action, nargs, const,
                      default, type, choices, help, metavar)
            for n in names:
                self._by_name[n] = f
            self._flags.append(f)
        else:
            default = None if default is _UNSET else default
            f = _Flag(names, dest or names[0], "store", nargs, const, default, type, choices,
                      help, metavar)
            self._positionals.append(f)
        return f

    def add_subparsers(self, dest: str | None = None, parser_class=None) -> _Subcommands:
        self._sub = _Subcommands(self, dest, parser_class)
        return self._sub

    def set_defaults(self, **kwargs) -> None:
        self._defaults.update(kwargs)

    # -- parsing ---------------------------------------------------------------------------
    def parse_args(self, args: list[str] | None = None, namespace: Namespace | None = None):
        ns = namespace if namespace is not None else Namespace()
        self._parse(list(sys.argv[1:] if args is None else args), ns)
        return ns

    def error(self, message: str):
        """A flag's error (unknown, missing value, bad value)."""
        sys.stderr.write(f"{self.prog}: {message}\nSee '{self.prog} --help'.\n")
        raise SystemExit(125)

    def args_error(self, message: str):
        """The arguments do not fit (their count, an unknown command)."""
        sys.stderr.write(f"{self.prog}: {message}\nSee '{self.prog} --help'.\n")
        raise SystemExit(1)

    def _parse(self, args: list[str], ns: Namespace) -> None:
        for f in self._flags:
            if f.dest is not SUPPRESS and f.dest not in ns.__dict__:
                setattr(ns, f.dest, f.default)
        if self._sub is not None and self._sub.dest is not None:
            setattr(ns, self._sub.dest, None)
        for k, v in self._defaults.items():
            setattr(ns, k, v)
        ns._parser = self  # the deepest reached: `dockling network` alone shows its help
        # the rest of the line is the last argument's: the first argument ends the flags
        stop_early = not self.interspersed or (
            bool(self._positionals) and self._positionals[-1].nargs == REMAINDER)
        words: list[str] = []
        i = 0
        while i < len(args):
            arg = args[i]
            i += 1
            if arg == "--":
                words += args[i:]
                break
            if arg.startswith("-") and arg != "-":
                i = self._flag(arg, args, i, ns)
                continue
            if self._sub is not None and not words:
                sub = self._sub.parsers.get(arg)
                if sub is None:
                    self.args_error(f"'{arg}' is not a {self.prog} command.")
                if self._sub.dest is not None:
                    setattr(ns, self._sub.dest, arg)
                sub._parse(args[i:], ns)
                return
            words.append(arg)
            if stop_early:
                words += args[i:]
                break
        self._assign(words, ns)

    def _flag(self, arg: str, args: list[str], i: int, ns: Namespace) -> int:
        """Apply the flag(s) in ``arg``; the index of the next argument."""
        if arg.startswith("--") or arg in self._by_name:
            f = self._by_name.get(arg)
            value = None
            if f is None:
                name, _, value = arg.partition("=")
                f = self._by_name.get(name)
                if f is None:
                    self.error(f"unknown flag: {name}")
            if f.action in _NO_VALUE:
                self._apply(f, ns, value, given=value is not None)
                return i
            if value is None:
                if i >= len(args):
                    said = arg if arg.startswith("--") else f"'{arg[1:]}' in {arg}"
                    self.error(f"flag needs an argument: {said}")
                value = args[i]
                i += 1
            self._apply(f, ns, value)
            return i
        shorts = arg[1:]
        j = 0
        while j < len(shorts):
            f = self._by_name.get("-" + shorts[j])
            if f is None:
                self.error(f"unknown shorthand flag: '{shorts[j]}' in {arg}")
            rest = shorts[j + 1:]
            if f.action in _NO_VALUE:
                if rest.startswith("="):
                    self._apply(f, ns, rest[1:], given=True)
                    return i
                self._apply(f, ns, None)
                j += 1
                continue
            if rest:  # -n5, -n=5 (pflag: a lone "=" is the value itself)
                self._apply(f, ns, rest[1:] if rest.startswith("=") and len(rest) > 1 else rest)
            elif i < len(args):
                self._apply(f, ns, args[i])
                i += 1
            else:
                self.error(f"flag needs an argument: '{shorts[j]}' in {arg}")
            return i
        return i

    def _apply(self, f: _Flag, ns: Namespace, value: str | None, given: bool = False) -> None:
        act = f.action
        if act == "help":
            self.print_help()
            raise SystemExit(0)
        if act in ("store_true", "store_false"):
            on = True
            if given:
                if value in _TRUE:
                    on = True
                elif value in _FALSE:
                    on = False
                else:
                    self.error(f'invalid argument "{value}" for "{f.label()}" flag: '
                               f'strconv.ParseBool: parsing "{value}": invalid syntax')
            setattr(ns, f.dest, on if act == "store_true" else not on)
            return
        if act == "store_const":
            if given:
                self.error(f"flag does not take a value: {f.label()}")
            setattr(ns, f.dest, f.const)
            return
        if act == "slice":
            items = [self._convert(f, v) for v in value.split(",") if v]
            setattr(ns, f.dest, [*(getattr(ns, f.dest, None) or ()), *items])
            return
        v = self._convert(f, value)
        if act == "append":
            setattr(ns, f.dest, [*(getattr(ns, f.dest, None) or ()), v])
        else:
            setattr(ns, f.dest, v)

    def _convert(self, f: _Flag, value: str):
        if f.type is not None:
            try:
                value = _go_int(value) if f.type is int else f.type(value)
            except ArgumentTypeError as err:
                self.error(f'invalid argument "{value}" for "{f.label()}" flag: {err}')
            except (TypeError, ValueError, ArithmeticError):
                if f.type is int:
                    why = f'strconv.ParseInt: parsing "{value}": invalid syntax'
                elif f.type is float:
                    why = f'strconv.ParseFloat: parsing "{value}": invalid syntax'
                else:
                    why = "invalid value"
                self.error(f'invalid argument "{value}" for "{f.label()}" flag: {why}')
        if f.choices is not None and value not in f.choices:
            allowed = ", ".join(repr(c) for c in f.choices)
            self.error(f'invalid argument "{value}" for "{f.label()}" flag: '
                       f"must be one of {allowed}")
        return value

    def _assign(self, words: list[str], ns: Namespace) -> None:
        """Hand the arguments to the positionals, in order; cobra's words for a
        count that does not fit."""
        fixed = sum(1 for p in self._positionals if p.nargs is None)
        at_least = fixed + sum(1 for p in self._positionals if p.nargs == "+")
        open_ended = any(p.nargs in ("*", "+", REMAINDER) for p in self._positionals)
        optional = sum(1 for p in self._positionals if p.nargs == "?")
        if len(words) < at_least or (not open_ended and len(words) > at_least + optional):
            self.args_error(self._count_error(at_least, optional, open_ended))
        spare = len(words) - at_least  # for '?' first, then the open-ended one
        k = 0
        for p in self._positionals:
            if p.nargs is None:
                setattr(ns, p.dest, self._convert(p, words[k]))
                k += 1
            elif p.nargs == "?":
                if spare > 0 and k < len(words):
                    setattr(ns, p.dest, self._convert(p, words[k]))
                    k += 1
                    spare -= 1
                else:
                    setattr(ns, p.dest, p.default)
            else:
                rest_after = sum(1 for q in self._positionals[self._positionals.index(p) + 1:]
                                 if q.nargs is None)
                take = len(words) - k - rest_after
                setattr(ns, p.dest, [self._convert(p, w) for w in words[k:k + take]])
                k += take

    def _count_error(self, at_least: int, optional: int, open_ended: bool) -> str:
        noun = lambda n: "argument" if n == 1 else "arguments"
        if open_ended:
            return f'"{self.prog}" requires at least {at_least} {noun(at_least)}.'
        if optional and at_least == 0:
            return f'"{self.prog}" requires at most {optional} {noun(optional)}.'
        if optional:
            return (f'"{self.prog}" requires at least {at_least} and at most '
                    f"{at_least + optional} {noun(at_least + optional)}.")
        if at_least == 0:
            return f'"{self.prog}" accepts no arguments.'
        return f'"{self.prog}" requires exactly {at_least} {noun(at_least)}.'

    # -- help ------------------------------------------------------------------------------
    def format_usage(self) -> str:
        if self.usage:
            return f"Usage:  {self.usage}"
        parts = [self.prog]
        if any(f.help is not SUPPRESS and f.action != "help" for f in self._flags):
            parts.append("[OPTIONS]")
        if self._sub is not None:
            parts.append("COMMAND")
        for p in self._positionals:
            name = (p.metavar or p.dest).upper()
            parts.append({None: name, "?": f"[{name}]", "+": f"{name} [{name}...]"}.get(
                p.nargs, f"[{name}...]"))
        return "Usage:  " + " ".join(parts)

    def format_help(self) -> str:
        out = [self.format_usage(), ""]
        if self.description:
            out += [self.description, ""]
        if self._sub is not None:
            out.append("Commands:")
            out += [f"  {name}" for name in self._sub.listed]
            out.append("")
        shown = [f for f in self._flags if f.help is not SUPPRESS]
        if shown:
            out.append("Options:")
            rows = []
            for f in shown:
                short = [n for n in f.names if not n.startswith("--")]
                longs = [n for n in f.names if n.startswith("--")]
                left = ", ".join(short + longs[:1]) if short else "    " + ", ".join(longs[:1])
                if f.action not in _NO_VALUE:
                    kind = "list" if f.action in ("append", "slice") else \
                        {int: "int", float: "float"}.get(f.type, "string")
                    left += " " + (f.metavar or kind)
                rows.append((left, f.help or ""))
            width = max(len(left) for left, _ in rows)
            out += [f"  {left:<{width}}   {text}".rstrip() for left, text in rows]
            out.append("")
        return "\n".join(out)

    def print_help(self, file=None) -> None:
        (file or sys.stdout).write(self.format_help())
