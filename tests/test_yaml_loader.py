"""The YAML loader: core-schema scalars, locations, merges, and every way a file is refused."""

import math
import textwrap
import time

import pytest

from netspec.errors import Location, SpecError
from netspec.lang.located import LDict, LList, key_location, locate, text_location, value_location
from netspec.lang.yaml_loader import load_yaml

F = "s.yaml"


def load(text: str):
    return load_yaml(textwrap.dedent(text), F)


def error(text: str):
    """The one diagnostic loading `text` gives."""
    with pytest.raises(SpecError) as info:
        load(text)
    assert len(info.value.diagnostics) == 1
    return info.value.first


def at(line: int, col: int) -> Location:
    return Location(F, line, col)


# --- scalars: the YAML 1.2 core schema -------------------------------------------------------

@pytest.mark.parametrize("written, expected", [
    ("on", "on"), ("off", "off"), ("yes", "yes"), ("no", "no"), ("y", "y"), ("n", "n"),
    ("On", "On"), ("YES", "YES"),
    ("true", True), ("True", True), ("TRUE", True), ("false", False), ("False", False), ("FALSE", False),
    ("tRUE", "tRUE"),
    ("null", None), ("Null", None), ("NULL", None), ("~", None), ("", None), ("nULL", "nULL"),
    ("010", 10), ("0", 0), ("-5", -5), ("+7", 7), ("0o17", 15), ("0x1F", 31), ("0xff", 255),
    ("0b101", "0b101"), ("1_000", "1_000"), ("0o8", "0o8"), ("-0x1F", "-0x1F"),
    ("1e-3", 0.001), ("1e3", 1000.0), ("1.5", 1.5), (".5", 0.5), ("1.", 1.0), ("-1E+2", -100.0),
    ("+2.5e1", 25.0), (".inf", math.inf), (".Inf", math.inf), ("+.inf", math.inf), ("-.inf", -math.inf),
    ("-.INF", -math.inf), ("1e", "1e"), ("e3", "e3"),
    ('"12"', "12"), ("'true'", "true"), ('"null"', "null"), ("'1e-3'", "1e-3"),
    ("2001-12-14", "2001-12-14"), ("12:30", "12:30"), ("<<", "<<"), ("=", "="),
])
def test_core_schema_scalars(written, expected):
    value = load(f"v: {written}\n")["v"]
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("written", [".nan", ".NaN", ".NAN"])
def test_nan(written):
    value = load(f"v: {written}\n")["v"]
    assert isinstance(value, float) and math.isnan(value)


@pytest.mark.parametrize("written, expected", [
    ("!!str 12", "12"), ("!!str true", "true"), ("!!int '0x10'", 16), ('!!int "010"', 10),
    ("!!float 1", 1.0), ("!!float '1e-3'", 0.001), ("!!bool TRUE", True), ("!!null ''", None),
    ("!!null ~", None), ("! 12", "12"), ("!!map {a: 1}", {"a": 1}), ("!!seq [1, x]", [1, "x"]),
    ("!<tag:yaml.org,2002:int> 7", 7),
])
def test_explicit_core_tags(written, expected):
    value = load(f"v: {written}\n")["v"]
    assert value == expected and type(value) is type(expected) or isinstance(value, (LDict, LList))


@pytest.mark.parametrize("written, message", [
    ("!!int abc", "`abc` is not a valid `!!int`"),
    ("!!int 1.5", "`1.5` is not a valid `!!int`"),
    ("!!bool yes", "`yes` is not a valid `!!bool`"),
    ("!!null 0", "`0` is not a valid `!!null`"),
    ("!!float x", "`x` is not a valid `!!float`"),
    ("!!map [1]", "tag `!!map` does not fit a list"),
    ("!!int [1]", "tag `!!int` does not fit a list"),
    ("!!seq {a: 1}", "tag `!!seq` does not fit a mapping"),
    ("!!str {a: 1}", "tag `!!str` does not fit a mapping"),
    ("!!map 1", "tag `!!map` does not fit a scalar"),
])
def test_explicit_tag_that_does_not_fit(written, message):
    d = error(f"v: {written}\n")
    assert (d.message, d.loc) == (message, at(1, 4))


def test_keys_keep_their_scalar_type():
    r = load("2: a\nx: b\ntrue: c\n1.5: d\n")
    assert r == {2: "a", "x": "b", True: "c", 1.5: "d"} and [type(k) for k in r] == [int, str, bool, float]


def test_top_level_need_not_be_a_mapping():
    assert load("[1, 2]\n") == [1, 2]
    assert load("5\n") == 5
    assert load("~\n") is None


# --- locations ---------------------------------------------------------------------------------

SPEC = """\
name: net
input: [3, 32, 32]
layers:
  - relu
  - conv: {out: 8, kernel: 3}
    id: c1
  - linear:
      out: 10
alias: &x {k: 1}
again: *x
"""


@pytest.fixture
def spec():
    return load_yaml(SPEC, F)


def test_types(spec):
    assert isinstance(spec, LDict) and isinstance(spec["layers"], LList)
    assert isinstance(spec["layers"][1]["conv"], LDict)
    assert spec == {"name": "net", "input": [3, 32, 32],
                    "layers": ["relu", {"conv": {"out": 8, "kernel": 3}, "id": "c1"}, {"linear": {"out": 10}}],
                    "alias": {"k": 1}, "again": {"k": 1}}


@pytest.mark.parametrize("get, expected", [
    (lambda s: s.loc, at(1, 1)),
    (lambda s: s.key_locs["name"], at(1, 1)),
    (lambda s: s.value_locs["name"], at(1, 7)),
    (lambda s: s.key_locs["input"], at(2, 1)),
    (lambda s: s.value_locs["input"], at(2, 8)),
    (lambda s: s["input"].loc, at(2, 8)),
    (lambda s: s["input"].item_locs, [at(2, 9), at(2, 12), at(2, 16)]),
    (lambda s: s.value_locs["layers"], at(4, 3)),
    (lambda s: s["layers"].item_locs, [at(4, 5), at(5, 5), at(7, 5)]),
    (lambda s: s["layers"][1].loc, at(5, 5)),
    (lambda s: s["layers"][1].key_locs, {"conv": at(5, 5), "id": at(6, 5)}),
    (lambda s: s["layers"][1].value_locs, {"conv": at(5, 11), "id": at(6, 9)}),
    (lambda s: s["layers"][1]["conv"].key_locs, {"out": at(5, 12), "kernel": at(5, 20)}),
    (lambda s: s["layers"][1]["conv"].value_locs, {"out": at(5, 17), "kernel": at(5, 28)}),
    (lambda s: s["layers"][2]["linear"].loc, at(8, 7)),
    (lambda s: s["layers"][2]["linear"].value_locs["out"], at(8, 12)),
    # a value written as an alias is located at the alias; its insides where the anchor wrote them
    (lambda s: s.value_locs["again"], at(10, 8)),
    (lambda s: s["again"].value_locs["k"], at(9, 15)),
])
def test_locations(spec, get, expected):
    assert get(spec) == expected


@pytest.mark.parametrize("path, expected", [
    ((), at(1, 1)),
    (("name",), at(1, 7)),
    (("layers", 1, "conv", "kernel"), at(5, 28)),
    (("layers", 1, "id"), at(6, 9)),
    (("layers", -1, "linear", "out"), at(8, 12)),
    (("layers", 1, "conv", "nope", "deeper"), at(5, 11)),   # stops at the first missing step
    (("layers", 7, "conv"), at(4, 3)),
    (("layers", "0"), at(4, 3)),                              # a string does not index a list
    (("input", 2), at(2, 16)),
    (("name", 0), at(1, 7)),                                  # a scalar has no insides
    (("missing",), at(1, 1)),
    (("again", "k"), at(9, 15)),
])
def test_locate(spec, path, expected):
    assert locate(spec, path) == expected


def test_locate_without_locations():
    fallback = at(3, 3)
    assert locate(5, ("a",), default=fallback) == fallback
    assert locate({"a": 1}, ("a",)) is None
    assert locate(None, ()) is None


def test_key_location(spec):
    assert key_location(spec, "layers") == at(3, 1)
    assert key_location(spec["layers"][1]["conv"], "kernel") == at(5, 20)
    assert key_location(spec["layers"][1], "nope") == at(5, 5)


def test_locations_survive_a_deepcopy(spec):
    import copy

    clone = copy.deepcopy(spec)
    assert clone == spec and clone["layers"].item_locs == spec["layers"].item_locs
    assert clone["layers"][1].value_locs == spec["layers"][1].value_locs


def test_alias_values_are_independent_copies(spec):
    assert spec["again"] == spec["alias"] and spec["again"] is not spec["alias"]


QUOTED = """\
plain: $(a + b)
double: "$(a + b)"
single: '$(a + b)'
block: |
  text
base: &q {v: "$(w)"}
items: [1, "$(x)", '$(y)', $(z), *q]
merged: {<<: *q, u: 1}
"""


def test_quoted_scalars_are_recorded():
    tree = load(QUOTED)
    assert tree.quoted == {"double", "single"}
    assert tree["items"].quoted == {1, 2}        # an alias is located at its `*`: not quoted
    assert tree["base"].quoted == {"v"} and tree["merged"].quoted == {"v"}
    assert LDict().quoted == set() and LList().quoted == set()


@pytest.mark.parametrize("key, offset, expected", [
    ("plain", 0, at(1, 8)), ("plain", 4, at(1, 12)),
    ("double", 0, at(2, 10)), ("double", 4, at(2, 14)),     # one on, past the opening quote
    ("single", 4, at(3, 14)),
])
def test_text_location_steps_over_a_quote(key, offset, expected):
    assert text_location(load(QUOTED), key, offset) == expected


def test_text_location_of_list_items_and_unlocated_values():
    tree = load(QUOTED)
    assert text_location(tree["items"], 1, 2) == at(7, 15)
    assert text_location(tree["items"], 3, 0) == at(7, 28)
    assert value_location(tree["items"], 1) == at(7, 12)
    assert text_location(tree["items"], 9) is None and text_location({"a": 1}, "a") is None
    assert value_location(tree, "missing") is None


# --- merge keys ----------------------------------------------------------------------------------

def test_merge_one_mapping():
    r = load("""\
        base: &b {kernel: 3, stride: 1}
        conv:
          <<: *b
          stride: 2
        """)
    assert r["conv"] == {"kernel": 3, "stride": 2}
    assert r["conv"].value_locs["kernel"] == at(1, 19)     # where the merged value is written
    assert r["conv"].value_locs["stride"] == at(4, 11)


def test_merge_list_first_wins_and_explicit_wins():
    r = load("""\
        a: &a {x: 1, y: 2}
        b: &b {y: 5, z: 6, w: 7}
        m:
          w: 0
          <<: [*a, *b]
          x: 9
        """)
    assert r["m"] == {"w": 0, "x": 9, "y": 2, "z": 6}
    # merged keys take the place of `<<`
    assert list(r["m"]) == ["w", "y", "z", "x"]


def test_merge_inline_mapping():
    assert load("m: {<<: {a: 1}, b: 2}\n")["m"] == {"a": 1, "b": 2}


def test_quoted_merge_key_is_a_plain_key():
    assert load("m: {'<<': 1}\n")["m"] == {"<<": 1}


@pytest.mark.parametrize("text, loc", [
    ("a: &a [1]\nb: {<<: *a}\n", at(2, 9)),
    ("b: {<<: 3}\n", at(1, 9)),
    ("a: &a {x: 1}\nb: {<<: [*a, 3]}\n", at(2, 9)),
])
def test_merge_of_a_non_mapping(text, loc):
    d = error(text)
    assert (d.message, d.loc) == ("`<<` merges a mapping or a list of mappings", loc)


# --- duplicate and odd keys ----------------------------------------------------------------------

@pytest.mark.parametrize("text, key, second, first", [
    ("a: 1\nb: 2\na: 3\n", "a", at(3, 1), at(1, 1)),
    ("m: {x: 1, y: 2, x: 3}\n", "x", at(1, 17), at(1, 5)),
    ("l:\n  - k: 1\n    k: 2\n", "k", at(3, 5), at(2, 5)),
    ("1: a\n1: b\n", "1", at(2, 1), at(1, 1)),
    ("a: &a {x: 1}\nb: {<<: *a, <<: *a}\n", "<<", at(2, 13), at(2, 5)),
])
def test_duplicate_keys(text, key, second, first):
    d = error(text)
    assert d.message == f"duplicate key `{key}` in this mapping"
    assert d.loc == second and d.notes == (f"first written at {first}",)


@pytest.mark.parametrize("text", ["? [a, b]\n: 1\n", "? {a: 1}\n: 2\n", "a: &l [1]\n*l : 2\n"])
def test_non_scalar_key(text):
    assert error(text).message == "a mapping key must be a plain value, not a list or mapping"


# --- hostile input ---------------------------------------------------------------------------------

@pytest.mark.parametrize("text, tag, loc", [
    ("a: !!python/object/apply:os.system [echo hi]\n", "!!python/object/apply:os.system", at(1, 4)),
    ("a: !!python/name:os.system\n", "!!python/name:os.system", at(1, 4)),
    ("x: 1\ny: !custom 3\n", "!custom", at(2, 4)),
    ("a: !!binary aGVsbG8=\n", "!!binary", at(1, 4)),
    ("a: !!set {x: null}\n", "!!set", at(1, 4)),
    ("a: !!timestamp 2001-12-14\n", "!!timestamp", at(1, 4)),
    ("!!python/str k: 1\n", "!!python/str", at(1, 1)),
    ("!custom {a: 1}\n", "!custom", at(1, 1)),
    ("a: &t !!python/object:os.System {}\nb: *t\n", "!!python/object:os.System", at(1, 4)),
])
def test_tags_that_are_not_plain_data(text, tag, loc):
    d = error(text)
    assert (d.message, d.loc) == (f"tag `{tag}` is not allowed", loc)
    assert "plain data" in d.hint


def billion_laughs() -> str:
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def test_billion_laughs():
    started = time.perf_counter()
    d = error(billion_laughs())
    assert d.message == "the YAML expands to more than 100000 nodes (aliases used as a bomb?)"
    assert d.loc.line in range(2, 10)
    assert time.perf_counter() - started < 10  # a sanity bound, not a benchmark


def test_many_aliases_below_the_bound_are_fine():
    text = "a: &a [1, 2, 3]\nb: [" + ", ".join(["*a"] * 1000) + "]\n"
    assert len(load(text)["b"]) == 1000


@pytest.mark.parametrize("text, name, loc", [
    ("a: &a [*a]\n", "a", at(1, 8)),
    ("a: &a {b: *a}\n", "a", at(1, 11)),
    ("a: &a {<<: *a}\n", "a", at(1, 12)),
    ("a: &a\n  - 1\n  - [2, *a]\n", "a", at(3, 9)),
])
def test_recursive_alias(text, name, loc):
    d = error(text)
    assert (d.message, d.loc) == (f"the alias `*{name}` is used inside its own anchor `&{name}`", loc)


def test_nesting_of_100_is_fine():
    value = load("[" * 100 + "]" * 100 + "\n")
    for _ in range(99):
        value = value[0]
    assert value == []


@pytest.mark.parametrize("text, loc", [
    ("[" * 101 + "]" * 101 + "\n", at(1, 101)),
    ("[" * 200_000, at(1, 101)),
    ("x: " + "[a, " * 150, at(1, 400)),
    ("{a: " * 101 + "1" + "}" * 101 + "\n", at(1, 401)),
    ("a:\n" + "".join("  " * i + "-\n" for i in range(1, 150)), at(101, 201)),
])
def test_nesting_deeper_than_100(text, loc):
    started = time.perf_counter()
    d = error(text)
    assert (d.message, d.loc) == ("the YAML nests deeper than 100 levels", loc)
    assert time.perf_counter() - started < 5


def test_nesting_deeper_than_100_through_aliases():
    # each anchor is 60 deep as written; the alias stacks them to 120
    text = "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n"
    assert error(text).message == "the YAML nests deeper than 100 levels"


def test_file_over_10_mb():
    d = error("a: " + "x" * (10 * 1024 * 1024) + "\n")
    assert (d.message, d.loc) == ("the file is larger than 10 MB", at(1, 1))


def test_undefined_alias():
    d = error("a: 1\nb: *nope\n")
    assert (d.message, d.loc) == ("`*nope` names no anchor: define `&nope` above it", at(2, 4))


def test_duplicate_anchor():
    d = error("a: &x 1\nb: &x 2\n")
    assert (d.message, d.loc, d.notes) == ("the anchor `&x` is defined twice", at(2, 4),
                                           (f"first defined at {at(1, 4)}",))


def test_control_character():
    d = error("a: b\x01c\n")
    assert (d.message, d.loc) == ("the file contains the character #x0001, which YAML does not allow", at(1, 5))


# --- syntax errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, message, loc, notes, hint", [
    ("layers:\n  - conv: {out: 3, kernel: 3\n  - relu\n",
     "this `{…}` mapping expects `,` or `}` here, but the end of the file comes", at(4, 1),
     ("the `{` mapping starts at s.yaml:2:11",), "a bracket or quote opened earlier is never closed"),
    ("input: [3, 32, 32\nlayers: []\n",
     "this `[…]` list expects `,` or `]` here, but `:` comes", at(2, 7),
     ("the `[` list starts at s.yaml:1:8",), "check the indentation and the brackets on this line"),
    ("layers:\n  - relu\n - relu\n",
     "bad indentation or stray text: a list entry `-` here does not fit the block above", at(3, 2),
     ("the enclosing mapping starts at s.yaml:1:1",), "check the indentation and the brackets on this line"),
    ("a:\n  b: 1\n c: 2\n",
     "bad indentation or stray text: a new key here does not fit the block above", at(3, 2),
     ("the enclosing mapping starts at s.yaml:1:1",), "check the indentation and the brackets on this line"),
    ("a: [1, 2] x\n",
     "bad indentation or stray text: more text here does not fit the block above", at(1, 11),
     ("the enclosing mapping starts at s.yaml:1:1",), "check the indentation and the brackets on this line"),
    ("layers:\n\t- relu\n", "a tab character where YAML expects spaces", at(2, 1), (),
     "indent with spaces: YAML does not allow tabs for indentation"),
    ("a:\n  b: 1\n\tc: 2\n", "a tab character where YAML expects spaces", at(3, 1), (),
     "indent with spaces: YAML does not allow tabs for indentation"),
    ("a: b: c\n", "unexpected `:` here (quote a value that contains `: `, or check the indentation)",
     at(1, 5), (), "check the indentation and the brackets on this line"),
    ("a: @x\n", "a value cannot start with `@`; quote it", at(1, 4), (),
     "check the indentation and the brackets on this line"),
    ('a: "abc\n', "the file ends inside a quoted string (is a quote not closed?)", at(2, 1),
     ("the quoted string starts at s.yaml:1:4",), "a bracket or quote opened earlier is never closed"),
    ("a:\n  - b\n  c\n", "expected `:` after a key (is a line missing its `key:`?)", at(4, 1),
     ("the key starts at s.yaml:3:3",), "check the indentation and the brackets on this line"),
])
def test_syntax_errors(text, message, loc, notes, hint):
    d = error(text)
    assert (d.message, d.loc, d.notes, d.hint) == (message, loc, notes, hint)


QUOTE = ('quote the expression: `"$(max(1, c // 4))"` — inside {…}, a `$(…)` containing , [ ] { } '
         "must be quoted")


@pytest.mark.parametrize("text, loc", [
    ("layers:\n  - conv: {out: $(x[0]), kernel: 3}\n", at(2, 20)),
    ("c: {x: $(f({a: 1}))}\n", at(1, 12)),
    ("c: {x: $(a) + $(b[0])}\n", at(1, 18)),
    ("c: [$({a: 1})]\n", at(1, 7)),
])
def test_syntax_error_in_an_unquoted_expression_hints_quoting(text, loc):
    d = error(text)
    assert d.loc == loc and d.hint == QUOTE


def test_rendered_syntax_error():
    with pytest.raises(SpecError) as info:
        load("layers:\n  - conv: {out: $(x[0]), kernel: 3}\n")
    assert str(info.value) == (
        "s.yaml:2:20: error: this `{…}` mapping expects `,` or `}` here, but `[` comes\n"
        "  the `{` mapping starts at s.yaml:2:11\n"
        f"  hint: {QUOTE}")


# --- unbalanced $( -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, piece, loc, hint", [
    ("layers:\n  - conv: {out: $(max(1, c // 4))}\n", "$(max(1", at(2, 17), QUOTE),
    ("layers:\n  - conv: {out: $(max(1, c // 4)), kernel: 3}\n", "$(max(1", at(2, 17), QUOTE),
    # the split leaves the same piece twice: unbalanced wins over the duplicate key it causes
    ("m: {a: $(f(1, x)), b: $(f(1, x))}\n", "$(f(1", at(1, 8), QUOTE),
    ("a: [$(min(a, b))]\n", "$(min(a", at(1, 5), QUOTE),
    ('a: "$(a + (b"\n', "$(a + (b", at(1, 4), "close every `(` of the expression"),
    ("a: $(a\n", "$(a", at(1, 4), QUOTE),
    ("$(k: 1\n", "$(k", at(1, 1), QUOTE),
])
def test_unbalanced_dollar(text, piece, loc, hint):
    d = error(text)
    assert (d.message, d.loc, d.hint) == (f"unbalanced `$(` in `{piece}`", loc, hint)


def test_unbalanced_dollar_rendered():
    with pytest.raises(SpecError) as info:
        load("layers:\n  - conv: {out: $(max(1, c // 4))}\n")
    assert str(info.value) == f"s.yaml:2:17: error: unbalanced `$(` in `$(max(1`\n  hint: {QUOTE}"


@pytest.mark.parametrize("text, value", [
    ('a: {out: "$(max(1, c // 4))"}\n', {"out": "$(max(1, c // 4))"}),
    ("a: {padding: $(kernel // 2)}\n", {"padding": "$(kernel // 2)"}),
    ("a:\n  out: $(max(1, c // 4))\n", {"out": "$(max(1, c // 4))"}),
    ("a: {x: $(a) and $(b)}\n", {"x": "$(a) and $(b)"}),
    ("a: {x: 'cost (in $)'}\n", {"x": "cost (in $)"}),
])
def test_balanced_dollar_is_fine(text, value):
    assert load(text)["a"] == value


# --- empty files and documents ------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "\n\n", "   \n", "# just a comment\n", "# one\n\n# two\n", "---\n"])
def test_empty_file(text):
    d = error(text)
    assert (d.message, d.loc) == ("the file is empty", at(1, 1))
    assert "input:" in d.hint and "layers:" in d.hint


@pytest.mark.parametrize("text, loc", [
    ("a: 1\n---\nb: 2\n", at(2, 1)),
    ("---\na: 1\n---\n", at(3, 1)),
    ("a: 1\n...\n---\nb: 2\n", at(3, 1)),
])
def test_two_documents(text, loc):
    d = error(text)
    assert (d.message, d.loc) == ("expected one YAML document, but a second one starts here", loc)
    assert "one document" in d.hint


def test_one_explicit_document_is_fine():
    assert load("---\na: 1\n...\n") == {"a": 1}
