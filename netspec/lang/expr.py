"""Block parameter expressions: `$name` and `$( ... )`, evaluated without Python eval.

A whole YAML value ``"$out"`` is the parameter ``out``; a whole value ``"$(2 * $out)"`` is an
expression. Inside an expression ``$name`` and ``name`` mean the same, and ``$( ... )`` is plain
parentheses. The grammar and the limits on hostile text are in :mod:`netspec.lang.expr_syntax`;
this module gives the parsed tree its values: numbers (booleans are not numbers), strings,
lists and mappings such as `in`, and the functions in FUNCTIONS.
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Mapping

from netspec.lang.expr_syntax import (MAX_INT, MAX_VALUE, REF_NAME, ExprError, Node, Parser,
                                      Token, did_you_mean, tokenize)


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


def _size(value: object) -> int:
    """Elements of a list, nested lists' counted too (a string's characters), counting no
    further than just past MAX_VALUE: a list built of shared halves costs no more to measure."""
    if isinstance(value, str):
        return len(value)
    total, todo = 0, [value]
    while todo and total <= MAX_VALUE:
        item = todo.pop()
        if isinstance(item, (list, tuple)):
            total += len(item)
            todo.extend(item)
        elif isinstance(item, str):
            total += len(item)
    return total


def _bounded(value: object, col: int | None) -> object:
    """`value` if it is at most MAX_VALUE characters or elements: doubling a string through
    60 nested blocks must stop long before it takes the memory."""
    if isinstance(value, (str, list, tuple)) and _size(value) > MAX_VALUE:
        what = "characters" if isinstance(value, str) else "elements"
        raise ExprError(f"the value has more than {MAX_VALUE:,} {what}", column=col,
                        hint="an expression computes a size, a name or a short list")
    return value


_ARITH = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv,
          "//": operator.floordiv, "%": operator.mod}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "//": "floor-divide",
          "%": "take the remainder of"}
_COMPARE = {"==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
            ">": operator.gt, ">=": operator.ge}


def _binary(op: str, a: object, b: object, col: int) -> object:
    """`a op b` with Python's meaning, restricted to numbers (and `+` on strings or lists)."""
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        return _bounded(a + b if len(a) + len(b) <= MAX_VALUE else a + b[:MAX_VALUE], col)
    if op == "+" and isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return _bounded(list(a) + list(b), col)
    if not (_is_number(a) and _is_number(b)):
        if all(_is_number(v) or isinstance(v, bool) for v in (a, b)):
            raise ExprError(f"cannot {_VERBS[op]} {_type(a)} and {_type(b)}: true/false are "
                            f"not numbers", hint="write 1 or 0, or choose a number with "
                            "`a if condition else b`", column=col)
        mixed = {_type(a), _type(b)} in ({"string", "int"}, {"string", "float"})
        raise ExprError(f"cannot {_VERBS[op]} {_type(a)} and {_type(b)}", column=col,
                        hint="a symbolic dim such as `seq` is a name, not a number: on a "
                        "`[seq, F]` input `in.channels` is `seq`; its last dim is "
                        "`in.features`" if mixed else None)
    try:
        return _capped(_ARITH[op](a, b), col)
    except ZeroDivisionError:
        hint = f"the right side of `{op}` is 0"
        raise ExprError("division by zero", hint=hint, column=col) from None
    except OverflowError:
        raise ExprError("result too large", column=col) from None


def _compare(op: str, a: object, b: object, col: int) -> object:
    """`a op b`; true/false are no numbers: `true == 1` is false, `true < 2` an error."""
    if isinstance(a, bool) != isinstance(b, bool) and any(_is_number(v) for v in (a, b)):
        if op in ("==", "!="):
            return op == "!="
        raise ExprError(f"cannot compare {_type(a)} and {_type(b)} with `{op}`",
                        hint="true/false are not numbers here", column=col)
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
        if any(isinstance(v, bool) for v in values):
            raise ExprError(f"{name}() expected numbers, got bool",
                            hint="true/false are not numbers here", column=col)
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


def _rounding(name: str, fn):
    """ceil(x) / floor(x): the int above / below x, as Python's math.ceil / math.floor."""
    def rounded(args: list, col: int) -> object:
        _arity(name, args, 1, 1, col)
        x = _number(args[0], col, f"{name}()")
        if not math.isfinite(x):
            raise ExprError(f"{name}() of {x}: not a finite number", column=col)
        return _capped(fn(x), col)
    return rounded


FUNCTIONS = {"min": _extreme("min", min), "max": _extreme("max", max), "abs": _abs,
             "len": _len, "int": _int, "round": _round,
             "ceil": _rounding("ceil", math.ceil), "floor": _rounding("floor", math.floor)}


# ---------------------------------------------------------------- evaluation

def _lookup(name: str, env: Mapping, col: int) -> object:
    if name in env:
        return env[name]
    # `prev` is in every entry's scope: listing it too would only lengthen each message
    known = ", ".join(str(k) for k in env if k != "prev") or "(none)"
    raise ExprError(f"unknown name `{name}`; known: {known}", hint=did_you_mean(name, env),
                    column=col)


def _field(obj: object, field: str, node: Node) -> object:
    """`obj.field` or `obj["field"]`: a key of a mapping such as `in`, never a Python attribute."""
    owner = f"`{node.kids[0].value}`" if node.kids[0].kind == "name" else "the value"
    if not isinstance(obj, Mapping):
        raise ExprError(f"cannot take `.{field}` of {owner}, {_a(obj)}", column=node.col)
    if field not in obj:
        known = ", ".join(str(k) for k in obj)
        raise ExprError(f"{owner} has no field `{field}`; fields: {known}",
                        hint=did_you_mean(field, obj), column=node.col)
    return obj[field]


def _index(obj: object, index: object, node: Node) -> object:
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


def _eval(node: Node, env: Mapping) -> object:
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
    if kind == "cond":      # only the branch taken is evaluated, as in Python
        then, cond, other = node.kids
        test = _eval(cond, env)
        if not isinstance(test, bool):
            raise ExprError(f"the condition of `a if condition else b` must be true or false, "
                            f"got {_type(test)}", hint="compare it: `a if x > 0 else b`",
                            column=cond.col)
        return _eval(then if test else other, env)
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
        return _bounded(values, col)
    if kind == "call":
        return FUNCTIONS[node.value](values, col)
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


def _parse(text: str) -> Node:
    if not isinstance(text, str):
        raise ExprError(f"an expression must be a string, got {_type(text)}")
    return _guarded(Parser(tokenize(text), FUNCTIONS).parse)


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
        REF_NAME.fullmatch(value) is not None
        or (value.startswith("$(") and value.rstrip().endswith(")")))


def substitute(value: object, env: Mapping[str, object]) -> object:
    """Resolve a whole value: `$name` -> env[name], `$(expr)` -> its value, anything else as is.

    A string that starts with `$` but is neither form (`$in.channels`, `$(a) + 1`) is an error,
    not a silent pass-through. Columns are offsets into `value`. Containers are not walked.
    """
    if not isinstance(value, str) or not value.startswith("$"):
        return value
    m = REF_NAME.fullmatch(value)
    if m:
        return _bounded(_lookup(m.group(1), env, 0), 0)
    if not value.startswith("$("):
        raise ExprError(f"`{value}` is not a parameter reference",
                        hint=f"use `$name`, or wrap an expression: `$({value[1:]})`", column=0)
    tokens = tokenize(value)
    _check_wraps_whole(value, tokens)
    return _guarded(_eval, _guarded(Parser(tokens, FUNCTIONS).parse), env)


def _check_wraps_whole(value: str, tokens: list[Token]) -> None:
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
