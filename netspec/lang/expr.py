"""Block parameter expressions: `$name` and `$( ... )`, parsed and evaluated without Python eval.

A whole YAML value ``"$out"`` is the parameter ``out``; a whole value ``"$(2 * $out)"`` is an
expression. Inside an expression ``$name`` and ``name`` mean the same, and ``$( ... )`` is plain
parentheses. Grammar (lowest precedence first, as in Python; ``*`` repeats, ``[ ]`` is optional)::

    expr       := or_expr
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)*       # chained like Python
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("-" | "+") unary | postfix
    postfix    := atom ("." NAME | "[" expr "]")*                     # field of a mapping, index
    atom       := NUMBER | STRING | "true" | "false" | "True" | "False" | "null" | "None"
                | FUNCTION "(" [expr ("," expr)* [","]] ")"           # abs int len max min round
                | ["$"] NAME | ["$"] "(" expr ")" | "[" [expr ("," expr)* [","]] "]"

Limits keep hostile text cheap: at most 1000 characters, nesting at most 20 deep, and every
integer result within +-10**15.
"""

from __future__ import annotations

import difflib
import math
import numbers
import operator
import re
from collections.abc import Mapping
from typing import NamedTuple

MAX_LENGTH = 1000
MAX_DEPTH = 20
MAX_INT = 10**15


class ExprError(Exception):
    """A mistake in an expression: `message` is one sentence, `column` a 0-based offset into the
    text given to evaluate/names_used (or into the whole value given to substitute)."""

    def __init__(self, message: str, hint: str | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.hint, self.column = message, hint, column


# ---------------------------------------------------------------- tokens

class _Tok(NamedTuple):
    kind: str  # num, str, const, name, op, end
    text: str
    value: object
    col: int


_TOKEN_RE = re.compile(r"""
    (?P<space>\s+)
  | (?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<name>\$?[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<op>\*\*|//|==|!=|<=|>=|&&|\|\||[^\s'"])
""", re.VERBOSE | re.DOTALL)
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_REF_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_CONSTS = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}
_WORD_OPS = {"and", "or", "not"}
_ESCAPES = {"n": "\n", "t": "\t"}


def _tokenize(text: str) -> list[_Tok]:
    """Split `text` into tokens, ending with one `end` token at column len(text)."""
    if len(text) > MAX_LENGTH:
        raise ExprError(f"expression is too long ({len(text)} characters; at most {MAX_LENGTH})",
                        column=MAX_LENGTH)
    tokens, pos = [], 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:  # only an opening quote with no partner fails every alternative
            raise ExprError(f"unclosed string starting at column {pos + 1}", column=pos)
        kind, tok = m.lastgroup, m.group()
        if kind == "num":
            value = float(tok) if any(c in tok for c in ".eE") else int(tok)
            if isinstance(value, int) and value > MAX_INT:
                raise ExprError(f"number `{tok}` is too large (at most {MAX_INT})", column=pos)
            tokens.append(_Tok("num", tok, value, pos))
        elif kind == "str":
            body = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), tok[1:-1])
            tokens.append(_Tok("str", tok, body, pos))
        elif kind == "name" and tok in _CONSTS:
            tokens.append(_Tok("const", tok, _CONSTS[tok], pos))
        elif kind == "name":
            tokens.append(_Tok("op" if tok in _WORD_OPS else "name", tok, tok.lstrip("$"), pos))
        elif kind == "op":
            tokens.append(_Tok("op", tok, tok, pos))
        pos = m.end()
    tokens.append(_Tok("end", "", None, len(text)))
    return tokens


# ---------------------------------------------------------------- parser

class _Node(NamedTuple):
    kind: str  # const name list attr index call unary arith compare and or
    col: int
    value: object = None  # the constant, name, field, unary operator or function name
    kids: tuple = ()
    ops: tuple = ()  # (operator, column) between consecutive kids of a chain


_OP_HINTS = {
    "=": "use `==` to compare", "!": "use `not`", "&&": "use `and`", "||": "use `or`",
    "if": "an entry is made conditional with an `if: $(...)` key, not inside an expression",
}
_COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


class _Parser:
    """Recursive descent over a token list; one method per grammar rule."""

    def __init__(self, tokens: list[_Tok]):
        self.toks, self.pos, self.depth = tokens, 0, 0

    def peek(self) -> _Tok:
        return self.toks[self.pos]

    def take(self) -> _Tok:
        self.pos += 1
        return self.toks[self.pos - 1]

    def at(self, *texts: str) -> bool:
        tok = self.peek()
        return tok.kind == "op" and tok.text in texts

    def deeper(self, col: int) -> None:
        """Count one level of nesting; the cap keeps Python's recursion limit far away."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprError(f"expression is nested too deeply (more than {MAX_DEPTH} levels)",
                            column=col)

    def parse(self) -> _Node:
        if self.peek().kind == "end":
            raise ExprError("empty expression", column=0)
        node = self.expr()
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return node

    def expr(self) -> _Node:
        self.deeper(self.peek().col)
        node = self.chain("or", ("or",), lambda: self.chain("and", ("and",), self.not_expr))
        self.depth -= 1
        return node

    def chain(self, kind: str, ops: tuple, sub) -> _Node:
        """Left-associative run `sub (op sub)*`, kept flat so evaluation loops, not recurses."""
        kids, seen = [sub()], []
        while self.at(*ops):
            tok = self.take()
            seen.append((tok.text, tok.col))
            kids.append(sub())
        if len(kids) == 1:
            return kids[0]
        return _Node(kind, kids[0].col, None, tuple(kids), tuple(seen))

    def not_expr(self) -> _Node:
        if not self.at("not"):
            return self.chain("compare", _COMPARE_OPS, self.sum)
        return self.prefix(self.not_expr)

    def sum(self) -> _Node:
        term = lambda: self.chain("arith", ("*", "/", "//", "%"), self.unary)  # noqa: E731
        return self.chain("arith", ("+", "-"), term)

    def unary(self) -> _Node:
        return self.prefix(self.unary) if self.at("-", "+") else self.postfix()

    def prefix(self, operand) -> _Node:
        tok = self.take()
        self.deeper(tok.col)
        node = _Node("unary", tok.col, tok.text, (operand(),))
        self.depth -= 1
        return node

    def postfix(self) -> _Node:
        node, saved = self.atom(), self.depth
        while self.at(".", "["):
            tok = self.take()
            self.deeper(tok.col)  # a long `.a.b.c...` builds a deep tree too
            if tok.text == "[":
                index = self.expr()
                self.close("]", tok)
                node = _Node("index", tok.col, None, (node, index))
                continue
            field = self.take()
            if field.kind == "end" or not _IDENT.fullmatch(field.text):
                raise self.unexpected(field, "a field name after `.`")
            node = _Node("attr", field.col, field.text, (node,))
        self.depth = saved
        return node

    def atom(self) -> _Node:
        tok = self.take()
        if tok.kind in ("num", "str", "const"):
            return _Node("const", tok.col, tok.value)
        if tok.kind == "name":
            if tok.text[0] != "$" and self.at("("):
                return self.call(tok)
            return _Node("name", tok.col, tok.value)
        if tok.kind == "op" and tok.text == "$":
            if not self.at("("):
                raise ExprError("`$` must be followed directly by a name or `(`", column=tok.col)
            tok = self.take()
        if tok.kind == "op" and tok.text == "(":
            if self.at(")"):
                raise ExprError("empty expression inside `( )`", column=tok.col)
            node = self.expr()
            self.close(")", tok)
            return node
        if tok.kind == "op" and tok.text == "[":
            return _Node("list", tok.col, None, self.items(tok, "]"))
        raise self.unexpected(tok)

    def call(self, name: _Tok) -> _Node:
        if name.value not in _FUNCTIONS:
            known = sorted(_FUNCTIONS)
            raise ExprError(f"unknown function `{name.value}`; known: {', '.join(known)}",
                            hint=_did_you_mean(name.value, known), column=name.col)
        return _Node("call", name.col, name.value, self.items(self.take(), ")"))

    def items(self, opener: _Tok, closer: str) -> tuple:
        """Comma-separated expressions up to `closer` (a trailing comma is fine, as in Python)."""
        items = []
        while not self.at(closer) and self.peek().kind != "end":
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.close(closer, opener)
        return tuple(items)

    def close(self, closer: str, opener: _Tok) -> None:
        if self.at(closer):
            self.take()
        elif self.peek().kind == "end":
            raise ExprError(f"unclosed `{opener.text}` opened at column {opener.col + 1}",
                            column=opener.col)
        else:
            raise self.unexpected(self.peek(), f"`{closer}`")

    @staticmethod
    def unexpected(tok: _Tok, expected: str | None = None) -> ExprError:
        want = f"; expected {expected}" if expected else ""
        if tok.kind == "end":
            return ExprError(f"unexpected end of expression{want}", column=tok.col)
        if tok.text == "**":
            return ExprError("`**` (power) is not in the expression language",
                             hint="write the product out, e.g. `x * x`", column=tok.col)
        return ExprError(f"unexpected `{tok.text}` at column {tok.col + 1}{want}",
                         hint=_OP_HINTS.get(tok.text), column=tok.col)


# ---------------------------------------------------------------- values

def _type(value: object) -> str:
    """The user's word for a value's type."""
    if value is None:
        return "null"
    for kind, name in ((bool, "bool"), (numbers.Integral, "int"), (numbers.Real, "float"),
                       (str, "string"), ((list, tuple), "list"), (Mapping, "mapping")):
        if isinstance(value, kind):
            return name
    return type(value).__name__


def _a(value: object) -> str:
    """`_type` with its article: "an int", "a list"."""
    kind = _type(value)
    return ("an " if kind[0] in "aeiou" else "a ") + kind


def _is_number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _number(value: object, col: int, what: str) -> object:
    """`value` if it is a number; bools are refused so `true + 1` is a mistake, not 2."""
    if _is_number(value):
        return value
    raise ExprError(f"{what} expected a number, got {_type(value)}", column=col)


def _capped(value: object, col: int) -> object:
    if isinstance(value, numbers.Integral) and abs(value) > MAX_INT:
        raise ExprError(f"result too large (integers are limited to +-{MAX_INT})", column=col)
    return value


def _did_you_mean(name: str, known) -> str | None:
    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], n=1)
    return f"did you mean `{close[0]}`?" if close else None


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor-divide",
          "%": "take the remainder of"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def _binary(op: str, a: object, b: object, col: int) -> object:
    """`a op b` with Python's meaning, restricted to numbers (and `+` on strings or lists)."""
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return a + b
    if op == "+" and isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) + list(b)
    if not (_is_number(a) and _is_number(b)):
        if all(_is_number(v) or isinstance(v, bool) for v in (a, b)):
            raise ExprError("expected a number, got bool", hint="true/false are not numbers here",
                            column=col)
        raise ExprError(f"cannot {_VERBS[op]} {_type(a)} and {_type(b)}", column=col)
    try:
        return _capped(_ARITH[op](a, b), col)
    except ZeroDivisionError:
        hint = f"the right side of `{op}` is 0"
        raise ExprError("division by zero", hint=hint, column=col) from None
    except OverflowError:
        raise ExprError("result too large", column=col) from None


def _compare(op: str, a: object, b: object, col: int) -> object:
    try:
        return _COMPARE[op](a, b)
    except TypeError:
        message = f"cannot compare {_type(a)} and {_type(b)} with `{op}`"
        raise ExprError(message, column=col) from None


# ---------------------------------------------------------------- functions

def _arity(name: str, args: list, low: int, high: int, col: int) -> None:
    if not low <= len(args) <= high:
        want = str(low) if low == high else f"{low} to {high}"
        raise ExprError(f"{name}() takes {want} argument{'s' * (high != 1)}, got {len(args)}",
                        column=col)


def _extreme(name: str, pick):
    """min/max: several values, or one list of them."""
    def fn(args: list, col: int) -> object:
        values = args
        if len(args) == 1:
            if not isinstance(args[0], (list, tuple)):
                raise ExprError(f"{name}() of one value needs a list, got {_type(args[0])}",
                                column=col)
            values = list(args[0])
        if not values:
            raise ExprError(f"{name}() of an empty list", column=col)
        try:
            return pick(values)
        except TypeError:
            kinds = ", ".join(sorted({_type(v) for v in values}))
            raise ExprError(f"{name}() cannot compare {kinds}", column=col) from None
    return fn


def _abs(args: list, col: int) -> object:
    _arity("abs", args, 1, 1, col)
    return _capped(abs(_number(args[0], col, "abs()")), col)


def _len(args: list, col: int) -> object:
    _arity("len", args, 1, 1, col)
    if not isinstance(args[0], (list, tuple, str, Mapping)):
        raise ExprError(f"len() needs a list, string or mapping, got {_type(args[0])}", column=col)
    return len(args[0])


def _int(args: list, col: int) -> object:
    """int(x) truncates toward zero, as Python's; strings are refused."""
    _arity("int", args, 1, 1, col)
    x = _number(args[0], col, "int()")
    if not math.isfinite(x):
        raise ExprError(f"int() of {x}: not a finite number", column=col)
    return _capped(int(x), col)


def _round(args: list, col: int) -> object:
    _arity("round", args, 1, 2, col)
    x = _number(args[0], col, "round()")
    # Python's round(5, -10**9) builds 10**10**9: bound the digits like every other integer
    if len(args) == 2 and not (_is_int(args[1]) and abs(args[1]) <= 20):
        raise ExprError(f"round() digits must be an int from -20 to 20, got {args[1]!r}",
                        column=col)
    try:
        return _capped(round(x, *args[1:]), col)
    except (OverflowError, ValueError):
        raise ExprError(f"round() of {x}: not a finite number", column=col) from None


_FUNCTIONS = {"min": _extreme("min", min), "max": _extreme("max", max), "abs": _abs,
              "len": _len, "int": _int, "round": _round}


# ---------------------------------------------------------------- evaluation

def _lookup(name: str, env: Mapping, col: int) -> object:
    if name in env:
        return env[name]
    known = ", ".join(str(k) for k in env) or "(none)"
    raise ExprError(f"unknown name `{name}`; known: {known}", hint=_did_you_mean(name, env),
                    column=col)


def _field(obj: object, field: str, node: _Node) -> object:
    """`obj.field` or `obj["field"]`: a key of a mapping such as `in`, never a Python attribute."""
    owner = f"`{node.kids[0].value}`" if node.kids[0].kind == "name" else "the value"
    if not isinstance(obj, Mapping):
        raise ExprError(f"cannot take `.{field}` of {owner}, {_a(obj)}", column=node.col)
    if field not in obj:
        known = ", ".join(str(k) for k in obj)
        raise ExprError(f"{owner} has no field `{field}`; fields: {known}",
                        hint=_did_you_mean(field, obj), column=node.col)
    return obj[field]


def _index(obj: object, index: object, node: _Node) -> object:
    if isinstance(obj, Mapping) and isinstance(index, str):
        return _field(obj, index, node)
    if not isinstance(obj, (list, tuple, str)):
        raise ExprError(f"cannot index {_a(obj)}", column=node.col)
    if not _is_int(index):
        raise ExprError(f"an index must be an int, got {_type(index)}", column=node.col)
    if not -len(obj) <= index < len(obj):
        raise ExprError(f"index {index} is out of range for {_a(obj)} of length {len(obj)}",
                        column=node.col)
    return obj[index]


def _unary(op: str, value: object, col: int) -> object:
    if op == "not":
        return not value
    value = _number(value, col, f"unary `{op}`")
    return _capped(-value if op == "-" else +value, col)


def _eval(node: _Node, env: Mapping) -> object:
    """The value of a parsed tree. Names are looked up only when reached: and/or and chained
    comparisons short-circuit as in Python, so `x != 0 and 8 // x > 1` is safe."""
    kind, col = node.kind, node.col
    if kind == "const":
        return node.value
    if kind == "name":
        return _lookup(node.value, env, col)
    if kind in ("and", "or"):
        value = _eval(node.kids[0], env)
        for kid in node.kids[1:]:
            if bool(value) == (kind == "or"):
                break
            value = _eval(kid, env)
        return value
    if kind == "compare":
        left = _eval(node.kids[0], env)
        for (op, at), kid in zip(node.ops, node.kids[1:]):
            right = _eval(kid, env)
            result = _compare(op, left, right, at)
            if not result:
                break
            left = right
        return result
    values = [_eval(kid, env) for kid in node.kids]
    if kind == "list":
        return values
    if kind == "call":
        return _FUNCTIONS[node.value](values, col)
    if kind == "attr":
        return _field(values[0], node.value, node)
    if kind == "index":
        return _index(values[0], values[1], node)
    if kind == "unary":
        return _unary(node.value, values[0], col)
    value = values[0]  # an arithmetic chain, left to right
    for (op, at), right in zip(node.ops, values[1:]):
        value = _binary(op, value, right, at)
    return value


def _guarded(fn, *args):
    """fn(*args), with a safety net: the depth cap should stop deep recursion long before."""
    try:
        return fn(*args)
    except RecursionError:
        raise ExprError("expression is nested too deeply") from None


def _parse(text: str) -> _Node:
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, got {_type(text)}")
    return _guarded(_Parser(_tokenize(text)).parse)


# ---------------------------------------------------------------- public API

def evaluate(text: str, env: Mapping[str, object]) -> object:
    """The value of expression `text` (without the outer `$( )`, though one is accepted)."""
    return _guarded(_eval, _parse(text), env)


def names_used(text: str) -> set[str]:
    """The free names of expression `text` (function and field names excluded); raises
    ExprError on a syntax error."""
    found, todo = set(), [_parse(text)]
    while todo:
        node = todo.pop()
        if node.kind == "name":
            found.add(node.value)
        todo.extend(node.kids)
    return found


def is_reference(value: object) -> bool:
    """True for a string of the form `$name` or `$( ... )`."""
    return isinstance(value, str) and (
        _REF_NAME.fullmatch(value) is not None
        or (value.startswith("$(") and value.rstrip().endswith(")")))


def substitute(value: object, env: Mapping[str, object]) -> object:
    """Resolve a whole value: `$name` -> env[name], `$(expr)` -> its value, anything else as is.

    A string that starts with `$` but is neither form (`$in.channels`, `$(a) + 1`) is an error,
    not a silent pass-through. Columns are offsets into `value`. Containers are not walked.
    """
    if not isinstance(value, str) or not value.startswith("$"):
        return value
    m = _REF_NAME.fullmatch(value)
    if m:
        return _lookup(m.group(1), env, 0)
    if not value.startswith("$("):
        raise ExprError(f"`{value}` is not a parameter reference",
                        hint=f"use `$name`, or wrap an expression: `$({value[1:]})`", column=0)
    tokens = _tokenize(value)
    _check_wraps_whole(value, tokens)
    return _guarded(_eval, _guarded(_Parser(tokens).parse), env)


def _check_wraps_whole(value: str, tokens: list[_Tok]) -> None:
    """Refuse `$(a) + (b)`: the `$(` must close at the very end of the value."""
    depth = 0
    for i, tok in enumerate(tokens[1:], 1):
        if tok.kind == "op" and tok.text in ("(", ")"):
            depth += 1 if tok.text == "(" else -1
            if depth == 0 and tokens[i + 1].kind != "end":
                after = tokens[i + 1]
                raise ExprError(f"unexpected `{after.text}` after the `)` that closes `$(`",
                                hint=f"wrap the whole expression: `$({value[1:]})`",
                                column=after.col)
            if depth == 0:
                return
