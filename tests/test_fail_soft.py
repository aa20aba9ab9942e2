"""Fail-soft check: a shape error stops inference at one layer, not the whole report.

`check` prints the table down to the failing layer (independent layers after it too), a row
marking the failing one, then the located error(s) on stderr; exit 1. `check --json` prints
the layers inferred and "errors". `report.check(..., soft=True)` returns the partial report
with `report.failure`; mistakes that are not shape errors still raise.
"""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from click.testing import CliRunner

from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.graph.ir import Failure
from netspec.report import check

# the maxpool halves 16x16 to 8x8, where a 9x9 kernel does not fit; three blocks deep
NESTED = """\
name: nested
input: [3, 16, 16]
blocks:
  inner:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1}
      - maxpool: 2
      - conv: {out: $out, kernel: 9}
  middle:
    params: {out: null}
    layers:
      - inner: {out: $out}
  outer:
    params: {out: null}
    layers:
      - middle: {out: $out}
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
    id: stem
  - outer: {out: 16}
    id: deep
  - flatten
  - linear: 10
"""

# two independent mistakes: a kernel too big on the stem, a merge of unequal shapes
TWO = """\
name: two
input: [3, 16, 16]
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
    id: stem
  - {conv: {out: 4, kernel: 20}, from: stem}
  - {conv: {out: 8, kernel: 3}, from: stem, id: small}
  - add: {}
    from: [stem, small]
  - {conv: {out: 4, kernel: 1}, from: stem, id: fine}
"""


def run(tmp_path, text: str, *args: str):
    path = tmp_path / "net.yaml"
    path.write_text(text)
    return CliRunner().invoke(main, ["check", str(path), *args])


def table(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    rules = [i for i, line in enumerate(lines) if line.startswith("---")]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[rules[0] + 1:rules[1]]]


def test_the_table_runs_down_to_the_failing_layer_then_the_error(tmp_path):
    result = run(tmp_path, NESTED)
    assert result.exit_code == 1
    rows = table(result.stdout)
    assert [r[0] for r in rows] == ["input", "stem", "deep.0.0.0", "deep.0.0.1", "deep.0.0.2"]
    assert rows[2][2:] == ["[16, 16, 16]", "5x5", "1,168", "294,912"]   # 16*8*9 + 16
    assert rows[-1] == ["deep.0.0.2", "conv", "(error: below)"]
    assert "stopped by 1 shape error (below), at conv 'deep.0.0.2'" in result.stdout
    err = result.stderr.splitlines()
    assert err[0] == (f"{tmp_path / 'net.yaml'}:9:9: error: conv 'deep.0.0.2' gets a 8x8 "
                      "feature map; kernel 9x9 needs at least 9x9")
    # the chain of blocks, innermost first, and no traceback
    assert [line.split(" (")[0].strip() for line in err if "in block" in line] == [
        "in block inner", "in block middle", "in block outer"]
    assert "Traceback" not in result.output


def test_soft_check_of_a_block_nested_three_deep():
    report = check(NESTED, soft=True)
    f = report.failure
    assert (f.name, f.kind, f.sources) == ("deep.0.0.2", "conv", ("deep.0.0.1",))
    assert isinstance(f.error, SpecError) and "needs at least 9x9" in str(f.error)
    assert list(report.graph.nodes) == ["stem", "deep.0.0.0", "deep.0.0.1"]
    assert report.graph.nodes["deep.0.0.1"].rf == (6, 6)    # rf of the partial graph
    assert report.outputs == {}                             # the output was never reached
    with pytest.raises(dataclasses.FrozenInstanceError):
        f.name = "x"
    assert isinstance(f, Failure)


def test_json_holds_the_layers_done_and_the_errors(tmp_path):
    result = run(tmp_path, NESTED, "--json")
    assert result.exit_code == 1
    out = json.loads(result.stdout)
    assert [layer["name"] for layer in out["layers"]] == ["stem", "deep.0.0.0", "deep.0.0.1"]
    assert out["layers"][-1]["rf"] == [6, 6]
    (error,) = out["errors"]
    assert {k: error[k] for k in ("name", "kind", "from", "line", "col")} == {
        "name": "deep.0.0.2", "kind": "conv", "from": ["deep.0.0.1"], "line": 9, "col": 9}
    assert error["message"].startswith("conv 'deep.0.0.2' gets a 8x8 feature map")
    assert error["hint"]
    assert "error: conv 'deep.0.0.2'" in result.stderr      # stderr in the compiler format


def test_independent_errors_are_all_reported(tmp_path):
    report = check(TWO, soft=True)
    assert [(f.name, f.sources) for f in report.failures] == [
        ("1", ("stem",)), ("3", ("stem", "small"))]
    assert list(report.graph.nodes) == ["stem", "small", "fine"]
    assert len(report.error.diagnostics) == 2
    result = run(tmp_path, TWO)
    assert result.exit_code == 1
    names = [r[0] for r in table(result.stdout)]
    assert names == ["input", "stem", "1", "small", "3", "fine"]  # each in execution order
    assert result.stderr.rstrip().endswith("2 errors")
    assert "add '3' gets" in result.stderr and "conv '1' gets" in result.stderr


def test_without_soft_the_same_errors_raise():
    with pytest.raises(SpecError) as info:
        check(TWO)
    assert len(info.value.diagnostics) == 2


def test_a_good_spec_has_no_failure():
    report = check(NESTED.replace("kernel: 9", "kernel: 3"), soft=True)
    assert report.failure is None and report.error is None and report.failures == ()
    assert "errors" not in report.to_json()


@pytest.mark.parametrize("mistake, text", [
    ("a name no entry has", "  - {conv: {out: 4, kernel: 1}, from: nowhere}\n"),
    ("an argument the schema refuses", "  - conv: {out: -4, kernel: 1}\n"),
])
def test_other_mistakes_still_raise(mistake, text):
    with pytest.raises(SpecError):
        check(TWO.replace("kernel: 20", "kernel: 3").replace(
            "  - add: {}\n    from: [stem, small]\n", "") + text, soft=True)


def test_a_mistake_beside_a_shape_error_still_raises_both():
    with pytest.raises(SpecError) as info:
        check(TWO + "  - {conv: {out: 4, kernel: 1}, from: nowhere}\n", soft=True)
    assert len(info.value.diagnostics) == 3
