"""The syntax of block parameter expressions: tokens and a recursive-descent parser.

Grammar (lowest precedence first, as in Python; ``*`` repeats, ``[ ]`` is optional)::

    expr       := or_expr ["if" or_expr "else" expr]               # conditional: lowest, right-assoc
    or_expr    := and_expr ("or" and_expr)*
    and_expr   := not_expr ("and" not_expr)*
    not_expr   := "not" not_expr | comparison
    comparison := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum)*       # chained like Python
    sum        := term (("+" | "-") term)*
    term       := unary (("*" | "/" | "//" | "%") unary)*
    unary      := ("-" | "+") unary | postfix
    postfix    := atom ("." NAME | "[" expr "]")*                     # field of a mapping, index
    atom       := NUMBER | STRING | "true" | "false" | "True" | "False" | "null" | "None"
                | FUNCTION "(" [expr ("," expr)* [","]] ")"   # abs ceil floor int len max min round
                | ["$"] NAME | ["$"] "(" expr ")" | "[" [expr ("," expr)* [","]] "]"

Limits keep hostile text cheap: at most 1000 characters, nesting at most 20 deep, every
integer result within +-10**15, and every string or list value at most 10,000 characters or
elements.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import NamedTuple

MAX_LENGTH = 1000
MAX_DEPTH = 20
MAX_INT = 10**15
MAX_VALUE = 10_000      # characters of a string value, elements of a list value


class ExprError(Exception):
    """A mistake in an expression: `message` is one sentence, `column` a 0-based offset into the
    text given to evaluate/names_used (or into the whole value given to substitute)."""

    def __init__(self, message: str, hint: str | None = None, column: int | None = None):
        super().__init__(message)
        self.message, self.hint, self.column = message, hint, column


def did_you_mean(name: str, known) -> str | None:
    """'did you mean `x`?' for the closest of `known`, or None when nothing is close."""
    import difflib      # only a mistake needs it: kept off the import path of `netspec check`

    close = difflib.get_close_matches(name, [k for k in known if isinstance(k, str)], n=1)
    return f"did you mean `{close[0]}`?" if close else None


# ---------------------------------------------------------------- tokens

class Token(NamedTuple):
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
REF_NAME = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")
_CONSTS = {"true": True, "True": True, "false": False, "False": False, "null": None, "None": None}
_WORD_OPS = {"and", "or", "not", "if", "else"}
_ESCAPES = {"n": "\n", "t": "\t"}


def tokenize(text: str) -> list[Token]:
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
            tokens.append(Token("num", tok, value, pos))
        elif kind == "str":
            body = re.sub(r"\\(.)", lambda e: _ESCAPES.get(e.group(1), e.group(1)), tok[1:-1])
            tokens.append(Token("str", tok, body, pos))
        elif kind == "name" and tok in _CONSTS:
            tokens.append(Token("const", tok, _CONSTS[tok], pos))
        elif kind == "name":
            tokens.append(Token("op" if tok in _WORD_OPS else "name", tok, tok.lstrip("$"), pos))
        elif kind == "op":
            tokens.append(Token("op", tok, tok, pos))
        pos = m.end()
    tokens.append(Token("end", "", None, len(text)))
    return tokens


# ---------------------------------------------------------------- parser

class Node(NamedTuple):
    kind: str  # const name list attr index call unary arith compare and or cond
    col: int
    value: object = None  # the constant, name, field, unary operator or function name
    kids: tuple = ()
    ops: tuple = ()  # (operator, column) between consecutive kids of a chain


_OP_HINTS = {
    "=": "use `==` to compare", "!": "use `not`", "&&": "use `and`", "||": "use `or`",
    "if": "a conditional is `a if condition else b`; a whole entry is made conditional with "
          "an `if: $(...)` key",
    "else": "a conditional is `a if condition else b`",
}
_COMPARE_OPS = ("==", "!=", "<", "<=", ">", ">=")


class Parser:
    """Recursive descent over a token list; one method per grammar rule."""

    def __init__(self, tokens: list[Token], functions: Collection[str]):
        self.toks, self.pos, self.depth = tokens, 0, 0
        self.functions = functions          # the names a call may use

    def peek(self) -> Token:
        return self.toks[self.pos]

    def take(self) -> Token:
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

    def parse(self) -> Node:
        if self.peek().kind == "end":
            raise ExprError("empty expression", column=0)
        node = self.expr()
        if self.peek().kind != "end":
            raise self.unexpected(self.peek())
        return node

    def expr(self) -> Node:
        self.deeper(self.peek().col)
        node = self.or_expr()
        if self.at("if"):       # `a if cond else b`: kids (then, cond, else), as Python reads it
            tok = self.take()
            cond = self.or_expr()
            if not self.at("else"):
                err = self.unexpected(self.peek(), "`else`")
                err.hint = "a conditional is `a if condition else b`, both values given"
                raise err
            self.take()
            node = Node("cond", tok.col, None, (node, cond, self.expr()))
        self.depth -= 1
        return node

    def or_expr(self) -> Node:
        return self.chain("or", ("or",), lambda: self.chain("and", ("and",), self.not_expr))

    def chain(self, kind: str, ops: tuple, sub) -> Node:
        """Left-associative run `sub (op sub)*`, kept flat so evaluation loops, not recurses."""
        kids, seen = [sub()], []
        while self.at(*ops):
            tok = self.take()
            seen.append((tok.text, tok.col))
            kids.append(sub())
        if len(kids) == 1:
            return kids[0]
        return Node(kind, kids[0].col, None, tuple(kids), tuple(seen))

    def not_expr(self) -> Node:
        if not self.at("not"):
            return self.chain("compare", _COMPARE_OPS, self.sum)
        return self.prefix(self.not_expr)

    def sum(self) -> Node:
        term = lambda: self.chain("arith", ("*", "/", "//", "%"), self.unary)  # noqa: E731
        return self.chain("arith", ("+", "-"), term)

    def unary(self) -> Node:
        return self.prefix(self.unary) if self.at("-", "+") else self.postfix()

    def prefix(self, operand) -> Node:
        tok = self.take()
        self.deeper(tok.col)
        node = Node("unary", tok.col, tok.text, (operand(),))
        self.depth -= 1
        return node

    def postfix(self) -> Node:
        node, saved = self.atom(), self.depth
        while self.at(".", "["):
            tok = self.take()
            self.deeper(tok.col)  # a long `.a.b.c...` builds a deep tree too
            if tok.text == "[":
                index = self.expr()
                self.close("]", tok)
                node = Node("index", tok.col, None, (node, index))
                continue
            field = self.take()
            if field.kind == "end" or not _IDENT.fullmatch(field.text):
                raise self.unexpected(field, "a field name after `.`")
            node = Node("attr", field.col, field.text, (node,))
        self.depth = saved
        return node

    def atom(self) -> Node:
        tok = self.take()
        if tok.kind in ("num", "str", "const"):
            return Node("const", tok.col, tok.value)
        if tok.kind == "name":
            if tok.text[0] != "$" and self.at("("):
                return self.call(tok)
            return Node("name", tok.col, tok.value)
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
            return Node("list", tok.col, None, self.items(tok, "]"))
        raise self.unexpected(tok)

    def call(self, name: Token) -> Node:
        if name.value not in self.functions:
            known = sorted(self.functions)
            raise ExprError(f"unknown function `{name.value}`; known: {', '.join(known)}",
                            hint=did_you_mean(name.value, known), column=name.col)
        return Node("call", name.col, name.value, self.items(self.take(), ")"))

    def items(self, opener: Token, closer: str) -> tuple:
        """Comma-separated expressions up to `closer` (a trailing comma is fine, as in Python)."""
        items = []
        while not self.at(closer) and self.peek().kind != "end":
            items.append(self.expr())
            if not self.at(","):
                break
            self.take()
        self.close(closer, opener)
        return tuple(items)

    def close(self, closer: str, opener: Token) -> None:
        if self.at(closer):
            self.take()
        elif self.peek().kind == "end":
            raise ExprError(f"unclosed `{opener.text}` opened at column {opener.col + 1}",
                            column=opener.col)
        else:
            raise self.unexpected(self.peek(), f"`{closer}`")

    @staticmethod
    def unexpected(tok: Token, expected: str | None = None) -> ExprError:
        want = f"; expected {expected}" if expected else ""
        if tok.kind == "end":
            return ExprError(f"unexpected end of expression{want}", column=tok.col)
        if tok.text == "**":
            return ExprError("`**` (power) is not in the expression language",
                             hint="write the product out, e.g. `x * x`", column=tok.col)
        return ExprError(f"unexpected `{tok.text}` at column {tok.col + 1}{want}",
                         hint=_OP_HINTS.get(tok.text), column=tok.col)
