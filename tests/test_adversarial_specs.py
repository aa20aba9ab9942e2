"""Random specs (DESIGN §9): random bytes, random YAML trees and mutated zoo specs given to
`netspec check` and `netspec draw` end with a report or a message (exit 0 or 1), never a
traceback, and write nothing but the named drawing. Hypothesis makes the inputs; the long
runs are marked slow."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adversarial import invoke

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted((ROOT / "specs").glob("*.yaml"))
QUICK = settings(max_examples=30, deadline=None,
                 suppress_health_check=[HealthCheck.function_scoped_fixture])
LONG = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

scalars = (st.none() | st.booleans() | st.integers(-10**12, 10**12) |
           st.floats(allow_nan=True, allow_infinity=True) |
           st.sampled_from(["relu", "conv", "linear", "$(n)", "$(10**15)", "input", "..",
                            "/etc/passwd", "include", "repeat", "if", "\t", "\ud7ff"]) |
           st.text(max_size=8))
KEYS = st.sampled_from(["name", "input", "inputs", "layers", "blocks", "params", "train",
                        "conv", "linear", "repeat", "if", "id", "from", "include", "out",
                        "kernel", "parallel", "data", "epochs", "outputs"]) | st.text(max_size=6)
trees = st.recursive(scalars, lambda c: st.lists(c, max_size=5) |
                     st.dictionaries(KEYS, c, max_size=5), max_leaves=30)


def _check(folder: Path, text: str | bytes):
    path = folder / "spec.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
    return invoke(["check", path], root=folder)


def _mutations(text: str):
    """One random edit of a spec's text: a number replaced, a line dropped or doubled, a
    character swapped, a value turned hostile."""
    numbers = [m.span() for m in re.finditer(r"\b\d+\b", text)]
    lines = text.splitlines(keepends=True)
    hostile = st.sampled_from(["0", "-1", "1e12", ".nan", ".inf", "$(10**15)", "[]", "{}",
                               "null", "'x'", "2.5", "10000000000"])
    number_edit = st.tuples(st.sampled_from(numbers or [(0, 0)]), hostile).map(
        lambda a: text[:a[0][0]] + a[1] + text[a[0][1]:])
    line_drop = st.integers(0, max(len(lines) - 1, 0)).map(
        lambda i: "".join(lines[:i] + lines[i + 1:]))
    line_double = st.integers(0, max(len(lines) - 1, 0)).map(
        lambda i: "".join(lines[:i + 1] + lines[i:]))
    char_swap = st.tuples(st.integers(0, max(len(text) - 1, 0)),
                          st.sampled_from([":", "-", " ", "\t", "[", "{", "'", "\x00", "é"])).map(
        lambda a: text[:a[0]] + a[1] + text[a[0] + 1:])
    return number_edit | line_drop | line_double | char_swap


@QUICK
@given(data=st.binary(max_size=400))
def test_random_bytes_as_a_spec(tmp_path_factory, data):
    result = _check(tmp_path_factory.mktemp("bytes"), data)
    assert result.exit_code in (0, 1)


@QUICK
@given(tree=trees)
def test_random_yaml_trees(tmp_path_factory, tree):
    text = yaml.safe_dump(tree, allow_unicode=True)
    _check(tmp_path_factory.mktemp("tree"), text)


@QUICK
@given(data=st.data())
def test_mutated_zoo_specs(tmp_path_factory, data):
    spec = data.draw(st.sampled_from(ZOO))
    text = data.draw(_mutations(spec.read_text(encoding="utf-8")))
    _check(tmp_path_factory.mktemp("mutated"), text)


@QUICK
@given(data=st.data())
def test_draw_of_mutated_zoo_specs_writes_only_its_output(tmp_path_factory, data):
    spec = data.draw(st.sampled_from([p for p in ZOO if "lenet" in p.name or "mlp" in p.name]))
    text = data.draw(_mutations(spec.read_text(encoding="utf-8")))
    folder = tmp_path_factory.mktemp("draw")
    (folder / "spec.yaml").write_text(text, encoding="utf-8")
    invoke(["draw", folder / "spec.yaml", "-o", folder / "net.dot",
            "--columns", str(data.draw(st.sampled_from([1, 3, 10**9])))],
           root=folder, allowed=("net.dot",))


def test_draw_with_a_billion_columns_is_bounded(tmp_path):
    (tmp_path / "spec.yaml").write_text((ROOT / "specs" / "vgg11.yaml").read_text())
    result = invoke(["draw", tmp_path / "spec.yaml", "-o", tmp_path / "v.dot",
                     "--columns", "1000000000"], root=tmp_path, allowed=("v.dot",))
    assert result.exit_code == 0, result.output


@pytest.mark.slow
@LONG
@given(data=st.data())
def test_mutated_zoo_specs_long(tmp_path_factory, data):
    spec = data.draw(st.sampled_from(ZOO))
    text = spec.read_text(encoding="utf-8")
    for _ in range(data.draw(st.integers(1, 4))):
        text = data.draw(_mutations(text))
    _check(tmp_path_factory.mktemp("mutated"), text)


@pytest.mark.slow
@LONG
@given(tree=trees)
def test_random_yaml_trees_long(tmp_path_factory, tree):
    _check(tmp_path_factory.mktemp("tree"), yaml.safe_dump(tree, allow_unicode=True))
