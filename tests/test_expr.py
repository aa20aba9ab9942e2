"""Tests for netspec.spec.expr: the `$name` / `$(expr)` parameter language."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from netspec.lang.expr import evaluate, is_reference, names_used, substitute
from netspec.lang.expr_syntax import ExprError

ENV = {"out": 32, "stride": 2, "in": {"channels": 64, "shape": [64, 8, 8]},
       "x": 3, "zero": 0, "xs": [1, 2, 3], "name": "conv", "flag": True, "t": (4, 5)}


@pytest.mark.parametrize("text, expected", [
    # literals
    ("7", 7), ("1.5", 1.5), ("1e-3", 0.001), (".5", 0.5), ("2.", 2.0),
    ("true", True), ("False", False), ("null", None), ("None", None),
    ("'a b'", "a b"), ('"q"', "q"), (r"'it\'s'", "it's"), ("[]", []), ("[1, 2,]", [1, 2]),
    # names, `$name`, fields, indexing
    ("out", 32), ("$out", 32), ("2 * $out", 64), ("$(2 * $out)", 64),
    ("in.channels", 64), ("$in.channels // 4", 16), ("in.shape", [64, 8, 8]),
    ("in.shape[-1]", 8), ("in.shape[0] + 1", 65), ("xs[1]", 2), ("name[0]", "c"),
    ("in['channels']", 64), ("[out, x][1]", 3), ("t[-2]", 4),
    # arithmetic with Python's precedence and meaning
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("2 - 3 - 4", -5), ("100 // 10 // 3", 3),
    ("7 / 2", 3.5), ("7 // 2", 3), ("-7 // 2", -4), ("-7 % 3", 2), ("2 * 3 % 4", 2),
    ("-x", -3), ("- -3", 3), ("+x", 3), ("-2 * 3 + 1", -5), ("7.5 // 2", 3.0),
    ("'ab' + \"cd\"", "abcd"), ("[1, 2] + [3]", [1, 2, 3]), ("t + xs", [4, 5, 1, 2, 3]),
    ("1000000000000000", 10**15), ("10000000 * 100000000", 10**15),
    ("-1000000000000000 + 1", -(10**15) + 1),
    # comparisons, chained
    ("0 < x < 4", True), ("0 < x < 3", False), ("1 < 2 == 2", True), ("1 == 1.0", True),
    ("'a' != 'b'", True), ("xs == [1, 2, 3]", True), ("x >= 3", True), ("x <= 2", False),
    ("true == 1", False), ("false != 0", True), ("flag == true", True),
    # conditionals: lowest precedence, right-associative, only the branch taken is evaluated
    ("1 if flag else 2", 1), ("1 if x > 5 else 2", 2), ("x + 1 if zero == 0 else undefined", 4),
    ("1 if false else 2 if false else 3", 3), ("(1 if flag else 2) * 10", 10),
    ("1 if flag else 2 * 10", 1), ("out // 2 if stride == 2 else out", 16),
    ("[1 if flag else 0, 2]", [1, 2]), ("not flag if flag else flag", False),
    # and / or / not with Python's values and short-circuit
    ("not zero", True), ("not 1 == 2", True), ("zero and undefined", 0), ("x or undefined", 3),
    ("zero or 5", 5), ("x and 5", 5), ("zero != 0 and 8 // zero > 1", False),
    ("stride != 1 or in.channels != out", True), ("not x < 2 and not false", True),
    ("1 < 0 < undefined", False),
    # functions
    ("min(3, 1, 2)", 1), ("max([3, 1, 2])", 3), ("max(1, in.channels // 128)", 1),
    ("max(in.shape)", 64), ("min(t)", 4), ("abs(-3)", 3), ("abs(-2.5)", 2.5),
    ("len(xs)", 3), ("len('abc')", 3), ("len(in)", 2), ("int(3.9)", 3), ("int(-3.9)", -3),
    ("int(7)", 7), ("round(2.5)", 2), ("round(2.6)", 3), ("round(3.14159, 2)", 3.14),
    ("round(1234, -2)", 1200), ("ceil(7 / 2)", 4), ("ceil(-3.5)", -3), ("floor(7 / 2)", 3),
    ("floor(-3.5)", -4), ("ceil(4)", 4), ("floor(2.0)", 2), ("abs(-7 // 2)", 4),
    ("min(1, 2,)", 1),
])
def test_evaluate(text, expected):
    result = evaluate(text, ENV)
    assert result == expected
    assert type(result) is type(expected)


@pytest.mark.parametrize("text, message", [
    ("outt", "unknown name `outt`; known: out, stride, in"),
    ("1 / zero", "division by zero"), ("1 // 0", "division by zero"), ("1 % 0", "division by zero"),
    ("1.5 // 0.0", "division by zero"),
    ("1 + [2]", "cannot add int and list"), ("'a' * 3", "cannot multiply string and int"),
    ("xs - [1]", "cannot subtract list and list"), ("null + 1", "cannot add null and int"),
    ("true + 1", "cannot add bool and int: true/false are not numbers"),
    ("2 * flag", "cannot multiply int and bool: true/false are not numbers"),
    ("-true", "expected a number, got bool"), ("abs(false)", "expected a number, got bool"),
    ("int(true)", "expected a number, got bool"), ("ceil(true)", "expected a number, got bool"),
    ("max(true, 2)", "max() expected numbers, got bool"), ("true < 2", "cannot compare bool"),
    ("1 if x else 2", "condition of `a if condition else b` must be true or false, got int"),
    ("1 if flag", "expected `else`"), ("1 else 2", "unexpected `else`"),
    ("ceil('a')", "ceil() expected a number, got string"), ("floor(1e400)", "not a finite"),
    ("ceil(1, 2)", "ceil() takes 1 argument, got 2"), ("floor(1e300)", "result too large"),
    ("(1 + 2", "unclosed `(`"), ("[1, 2", "unclosed `[`"), ("min(1, 2", "unclosed `(`"),
    ("xs[0", "unclosed `[`"), ("'abc", "unclosed string"),
    ("1 + 2)", "unexpected `)` at column 6"), ("1 2", "unexpected `2`"),
    ("(1, 2)", "unexpected `,`"), ("1 +", "unexpected end of expression"),
    ("in.", "unexpected end of expression"), ("in.3", "unexpected `.3`"),
    ("a = 1", "unexpected `=`"), ("@", "unexpected `@`"), ("1 if x", "expected `else`"),
    ("$ x", "`$` must be followed directly by a name"), ("$out(2)", "unexpected `(`"),
    ("", "empty expression"), ("   ", "empty expression"), ("()", "empty expression"),
    ("$()", "empty expression"),
    ("2 ** 3", "`**` (power) is not in the expression language"),
    ("100000000 * 100000000", "result too large"), ("1" * 16 + "0", "too large"),
    ("-1000000000000000 - 1", "result too large"), ("int(1e300)", "result too large"),
    ("int(1e400)", "not a finite number"), ("round(1e400)", "not a finite number"),
    ("x" * 1001, "expression is too long"),
    ("(" * 20 + "1" + ")" * 20, "nested too deeply"), ("-" * 500 + "1", "nested too deeply"),
    ("not " * 100 + "x", "nested too deeply"), ("xs" + "[0]" * 200, "nested too deeply"),
    ("in" + ".a" * 300, "nested too deeply"), ("[" * 100 + "]" * 100, "nested too deeply"),
    ("foo(1)", "unknown function `foo`; known: abs, ceil, floor, int, len, max, min, round"),
    ("xs[3]", "index 3 is out of range for a list of length 3"), ("xs[-4]", "out of range"),
    ("x[0]", "cannot index an int"), ("xs[1.0]", "an index must be an int, got float"),
    ("xs[true]", "an index must be an int, got bool"),
    ("in.chanels", "`in` has no field `chanels`; fields: channels, shape"),
    ("x.y", "cannot take `.y` of `x`, an int"), ("in['nope']", "no field `nope`"),
    ("int('3')", "int() expected a number, got string"),
    ("min()", "min() of an empty list"), ("min([])", "min() of an empty list"),
    ("max(3)", "max() of one value needs a list, got int"),
    ("max(1, 'a')", "max() cannot compare int, string"),
    ("abs(1, 2)", "abs() takes 1 argument, got 2"), ("round(1.5, 'a')", "digits must be an int"),
    ("round(5, -1000000000000000)", "digits must be an int from -20 to 20"),
    ("len(3)", "len() needs a list"), ("1 < 'a'", "cannot compare int and string with `<`"),
])
def test_evaluate_errors(text, message):
    with pytest.raises(ExprError) as err:
        evaluate(text, ENV)
    assert message in err.value.message
    assert str(err.value) == err.value.message


@pytest.mark.parametrize("text, column", [
    ("outt + 1", 0), ("1 + outt", 4), ("1 + 2)", 5), ("(1 + 2", 0), ("1 / 0", 2),
    ("[1] + 1", 4), ("xs[7]", 2), ("in.chanels", 3), ("2 ** 2", 2), ("1 +", 3), ("'ab", 0),
    ("min(2, mx(1))", 7),
])
def test_error_columns(text, column):
    with pytest.raises(ExprError) as err:
        evaluate(text, ENV)
    assert err.value.column == column


@pytest.mark.parametrize("text, hint", [
    ("outt", "did you mean `out`?"), ("in.chanels", "did you mean `channels`?"),
    ("mx(1, 2)", "did you mean `max`?"), ("a = 1", "use `==` to compare"),
    ("2 ** 3", "x * x"), ("x && 1", "use `and`"),
])
def test_error_hints(text, hint):
    with pytest.raises(ExprError) as err:
        evaluate(text, ENV)
    assert hint in err.value.hint


def test_unknown_name_without_close_match_has_no_hint():
    with pytest.raises(ExprError) as err:
        evaluate("qqqqqq", {"out": 1})
    assert err.value.hint is None
    with pytest.raises(ExprError, match=r"known: \(none\)"):
        evaluate("a", {})


def test_nesting_up_to_the_cap_works():
    assert evaluate("(" * 19 + "1" + ")" * 19, {}) == 1
    assert evaluate("abs(" * 18 + "-1" + ")" * 18, {}) == 1


def test_true_division_gives_float():
    assert evaluate("6 / 3", {}) == 2.0
    assert isinstance(evaluate("6 / 3", {}), float)


def test_env_values_pass_through_unchanged():
    shape = [64, 8, 8]
    assert evaluate("s", {"s": shape}) is shape


@pytest.mark.parametrize("text, names", [
    ("2 * $out", {"out"}), ("in.channels // 4", {"in"}), ("max(1, c // 4)", {"c"}),
    ("$(a + b[i])", {"a", "b", "i"}), ("x.y.z", {"x"}), ("1 + 2", set()),
    ("a and b or not c", {"a", "b", "c"}), ("[p, q][0] < r", {"p", "q", "r"}),
    ("true or null", set()), ("min(xs)", {"xs"}), ("$true", {"true"}),
])
def test_names_used(text, names):
    assert names_used(text) == names


def test_names_used_reports_syntax_errors():
    with pytest.raises(ExprError, match="unclosed"):
        names_used("(a")


@pytest.mark.parametrize("value, expected", [
    ("$x", 3), ("$(x+1)", 4), ("$( x * 2 )", 6), ("$(x) ", 3), ("$in", ENV["in"]),
    ("$(in.shape[1])", 8), ("$((x) + (1))", 4),
    ("a$b", "a$b"), ("x", "x"), ("", ""), ("cost: $5", "cost: $5"),
    (3, 3), (None, None), (1.5, 1.5), (True, True),
    ([1, "$x"], [1, "$x"]), ({"a": "$x"}, {"a": "$x"}),  # containers are not walked
])
def test_substitute(value, expected):
    assert substitute(value, ENV) == expected


@pytest.mark.parametrize("value, message, column", [
    ("$outt", "unknown name `outt`", 0),
    ("$in.channels", "`$in.channels` is not a parameter reference", 0),
    ("$", "is not a parameter reference", 0), ("$1", "is not a parameter reference", 0),
    ("$(x) + (1)", "after the `)` that closes `$(`", 5),
    ("$(x", "unclosed `(`", 1), ("$()", "empty expression", 1), ("$(1 / 0)", "division by zero", 4),
])
def test_substitute_errors(value, message, column):
    with pytest.raises(ExprError) as err:
        substitute(value, ENV)
    assert message in err.value.message
    assert err.value.column == column


def test_substitute_hints():
    with pytest.raises(ExprError) as err:
        substitute("$in.channels", ENV)
    assert "$(in.channels)" in err.value.hint
    with pytest.raises(ExprError) as err:
        substitute("$(x) + (1)", ENV)
    assert "$((x) + (1))" in err.value.hint


@pytest.mark.parametrize("value, expected", [
    ("$x", True), ("$(x + 1)", True), ("$(a) + (b)", True), ("$in_2", True),
    ("$in.channels", False), ("a$b", False), ("$", False), ("x", False), (3, False),
    (None, False), (["$x"], False),
])
def test_is_reference(value, expected):
    assert is_reference(value) is expected


# ---------------------------------------------------------------- properties

def _combine(left: str, op: str, right: str, wrap: str) -> str:
    text = f"{left} {op} {right}"
    return {"none": text, "paren": f"({text})", "neg": f"-({text})"}[wrap]


INT_EXPRS = st.recursive(
    st.integers(-20, 20).map(str),
    lambda sub: st.builds(_combine, sub, st.sampled_from(["+", "-", "*", "//", "%"]), sub,
                          st.sampled_from(["none", "paren", "neg"])),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(INT_EXPRS)
def test_integer_arithmetic_matches_python(text):
    # The reference is Python's own evaluation of the string this test generated.
    try:
        expected = eval(text, {"__builtins__": {}})  # noqa: S307
    except ZeroDivisionError:
        with pytest.raises(ExprError, match="division by zero"):
            evaluate(text, {})
        return
    assert evaluate(text, {}) == expected


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="0123456789.xyin$()[],+-*/%<>=! '\"andortue_", max_size=60))
def test_any_text_gives_a_value_or_expr_error(text):
    env = {"x": 3, "y": [1, 2], "in": {"channels": 4}}
    try:
        evaluate(text, env)
    except ExprError as err:
        assert err.message
        assert err.column is None or 0 <= err.column <= len(text)


COND_EXPRS = st.recursive(
    st.integers(-9, 9).map(str),
    lambda sub: st.one_of(
        st.builds(lambda a, c, b: f"{a} if {c} else {b}", sub,
                  st.builds(lambda x, op, y: f"{x} {op} {y}", sub, st.sampled_from(["<", "==",
                            ">="]), sub), sub),
        st.builds(lambda a, op, b: f"({a}) {op} ({b})", sub, st.sampled_from(["+", "-", "*"]),
                  sub)),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(COND_EXPRS)
def test_conditionals_match_python(text):
    # Python's own reading of the generated text is the reference: precedence and associativity.
    assert evaluate(text, {}) == eval(text, {"__builtins__": {}})  # noqa: S307


@settings(max_examples=200, deadline=None)
@given(st.integers(-1000, 1000), st.integers(1, 50))
def test_ceil_floor_of_a_quotient_match_python(a, b):
    import math

    assert evaluate(f"ceil({a} / {b})", {}) == math.ceil(a / b)
    assert evaluate(f"floor({a} / {b})", {}) == math.floor(a / b) == a // b
    assert evaluate(f"-(-{a} // {b})", {}) == math.ceil(a / b)
