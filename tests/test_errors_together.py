"""Every independent mistake at once, even when one stops the network part before a graph
exists (an unknown kind, an unknown argument, a bad `from:`): the `train:` section is still
checked on its own and both sets come together in file order, alike from `netspec check`,
`netspec serve`'s /api/check and the editors' language server (one function, check_all, does
it for the three). Text that is not YAML gives its one error. Also: one lazy-loading mechanism
for every registry whose functions `check` must not import."""

from __future__ import annotations

import os
import warnings

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.serve.app import create_app
from netspec.serve.lsp_analysis import analyse
from netspec.serve.lsp_diagnostics import diagnostics
from netspec.training.augment_args import AUGMENTATIONS
from netspec.training.data import DATASETS
from netspec.training.metric_args import METRICS
from netspec.training.registry import LazyFunction, Registry

with warnings.catch_warnings():     # starlette 1.x suggests httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

UNKNOWN_KIND = """\
name: both
input: [1, 8, 8]
layers:
  - convv: {out: 4, kernel: 3}
  - flatten
  - linear: 10
train:
  data: digits
  epcohs: 3
"""
UNKNOWN_ARGUMENT = """\
name: both
input: [1, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, strid: 2}
  - flatten
  - linear: 10
train:
  data: {name: digits, size: 8}
  augment: [hflip, rotat]
"""
BAD_FROM = """\
name: both
input: [1, 8, 8]
layers:
  - flatten
  - linear: 10
    from: nowhere
train:
  data: {name: digits, sise: 8}
  optimizer: adam
"""
NOT_YAML = """\
name: broken
input: [1, 8, 8]
layers:
  - conv: {out: 4, kernel: 3
  - flatten
train:
  epcohs: 2
"""

# (text, the mistakes as (line, col, a piece of the message), in file order)
CASES = {
    "unknown kind + train typo": (UNKNOWN_KIND, [(4, 5, "unknown layer kind `convv`"),
                                                 (9, 3, "unknown key `epcohs`")]),
    "unknown argument + bad augment": (UNKNOWN_ARGUMENT, [(4, 31, "unknown key `strid`"),
                                                          (9, 20, "unknown augmentation `rotat`")]),
    "bad from + data option": (BAD_FROM, [(6, 11, "nowhere"),
                                          (8, 30, "`sise` does not apply")]),
}


def _lines_of(diags) -> list[tuple[int, int]]:
    return [(d.loc.line, d.loc.col) for d in diags]


def _expect(found: list[tuple[int, int, str]], expected: list[tuple[int, int, str]]) -> None:
    assert [(line, col) for line, col, _ in found] == [(line, col) for line, col, _ in expected]
    for (_, _, message), (_, _, piece) in zip(found, expected):
        assert piece in message, (piece, message)


@pytest.mark.parametrize("case", list(CASES))
def test_cli_reports_the_layers_and_train_mistakes_together(tmp_path, case):
    text, expected = CASES[case]
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1, result.output
    out = result.output
    heads = [line for line in out.splitlines() if ": error: " in line]
    found = [(int(h.split(":")[1]), int(h.split(":")[2]), h) for h in heads]
    _expect(found, expected)
    assert out.rstrip().endswith(f"{len(expected)} errors")
    assert "Traceback" not in out


def test_cli_on_text_that_is_not_yaml_gives_its_one_error(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(NOT_YAML)
    result = CliRunner().invoke(main, ["check", str(path)])
    assert result.exit_code == 1
    heads = [line for line in result.output.splitlines() if ": error: " in line]
    assert len(heads) == 1 and heads[0].startswith(f"{path}:6:6:")     # where `{` stops
    assert "epcohs" not in result.output and "errors" not in result.output


@pytest.fixture(scope="module")
def serve(tmp_path_factory) -> TestClient:
    return TestClient(create_app(tmp_path_factory.mktemp("served")), base_url="http://127.0.0.1")


@pytest.mark.parametrize("case", list(CASES))
def test_serve_api_check_gives_the_same_errors(serve, case):
    text, expected = CASES[case]
    r = serve.post("/api/check", params={"extras": "1"}, content=text)
    assert r.status_code == 422
    errors = r.json()["errors"]
    _expect([(e["line"], e["col"], e["message"]) for e in errors], expected)
    assert all(e["text"].count(": error: ") == 1 for e in errors)


def test_serve_api_check_of_text_that_is_not_yaml(serve):
    r = serve.post("/api/check", content=NOT_YAML)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["line"], error["col"]) == (6, 6)


@pytest.mark.parametrize("case", list(CASES))
def test_lsp_publishes_the_same_errors(tmp_path, case):
    text, expected = CASES[case]
    path = str(tmp_path / "spec.yaml")
    analysis = analyse(text, path)
    assert analysis.bug is None
    _expect([(d.loc.line, d.loc.col, d.message) for d in analysis.errors], expected)
    shown = diagnostics(analysis)[os.path.realpath(path)]
    assert [(d.range.start.line + 1, d.severity) for d in shown] == \
        [(line, 1) for line, _, _ in expected]


def test_lsp_on_text_that_is_not_yaml(tmp_path):
    analysis = analyse(NOT_YAML, str(tmp_path / "spec.yaml"))
    assert _lines_of(analysis.errors) == [(6, 6)]


def test_a_train_mistake_beside_a_graph_is_still_reported_by_serve_and_lsp(serve, tmp_path):
    """A network that checks cleanly, and one typo in `train:`: the serve and editor checks
    see it too (they checked the layers only before)."""
    text = UNKNOWN_KIND.replace("convv", "conv")
    r = serve.post("/api/check", params={"extras": "1"}, content=text)
    assert r.status_code == 422 and r.json()["layers"]          # the table is still there
    assert [(e["line"], e["col"]) for e in r.json()["errors"]] == [(9, 3)]
    analysis = analyse(text, str(tmp_path / "spec.yaml"))
    assert analysis.report is not None and _lines_of(analysis.errors) == [(9, 3)]


def test_a_variants_train_setting_is_checked_when_the_layers_fail(tmp_path):
    """Params are chosen before `train:` is checked on its own: `--set train.epochs=0`."""
    path = tmp_path / "spec.yaml"
    path.write_text(UNKNOWN_KIND.replace("  epcohs: 3\n", "  epochs: 3\n"))
    result = CliRunner().invoke(main, ["check", str(path), "--set", "train.epochs=0"])
    assert result.exit_code == 1
    assert "convv" in result.output and "epochs" in result.output, result.output
    assert result.output.rstrip().endswith("2 errors")


def test_public_check_is_soft_on_request():
    text = "input: [1, 4, 4]\nlayers:\n  - conv: {out: 2, kernel: 3}\n  - maxpool: 4\n"
    report = netspec.check(text, soft=True)
    assert report.failure is not None and report.failure.kind == "maxpool"
    assert [row.name for row in report.rows() if not row.failed] == ["0"]
    with pytest.raises(netspec.SpecError):
        netspec.check(text)


# ---- one lazy mechanism for functions `check` must not import ---------------------------------

def test_every_declared_function_resolves():
    for registry in (AUGMENTATIONS, METRICS, DATASETS):
        lazy = [e for e in registry.entries.values() if isinstance(e.fn, LazyFunction)]
        assert lazy and all(callable(e.fn.resolve()) for e in lazy), registry.concept
        assert all(e.doc for e in lazy)


def test_a_declared_entry_imports_its_function_on_first_call():
    things = Registry("thing", implementations="os.path")
    things.declare("basename", doc="The last part of a path.")
    things.declare("joined", doc="Two parts joined.", loader="os.path:join")
    assert things["basename"].fn._fn is None                        # nothing imported yet
    assert things["basename"].fn("/a/b") == "b" and things["joined"].fn("a", "b") == "a/b"
    with pytest.raises(RuntimeError, match="without a loader"):
        Registry("other").declare("x", doc="")
    things.declare("missing", doc="", loader="os.path:no_such_function")
    with pytest.raises(RuntimeError, match="names no function"):
        things["missing"].fn()


# ---- mistakes inside one `train:` section: none hides another ------------------------------

SECTION_MISTAKES = """\
input: [64]
layers:
  - linear: 10
train:
  data: {name: digits, sise: 3}
  epcohs: 3
  optimizer: adma
  loss: cross_entropi
  metrics: [acuracy]
  augment: [hfilp]
"""


@pytest.mark.parametrize("drop", [None, "epcohs"])
def test_every_mistake_of_one_train_section_at_once(tmp_path, drop):
    """An unknown key does not hide a bad choice, nor a bad choice a data option."""
    text = SECTION_MISTAKES if drop is None else \
        "".join(line for line in SECTION_MISTAKES.splitlines(True) if drop not in line)
    (tmp_path / "spec.yaml").write_text(text)
    result = CliRunner().invoke(main, ["check", str(tmp_path / "spec.yaml")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    lines = [int(e.split(":")[1]) for e in errors]
    expected = [5, 6, 7, 8, 9] if drop else [5, 6, 7, 8, 9, 10]
    assert lines == expected, result.output
    for word in ("sise", "adma", "cross_entropi", "acuracy", "hfilp"):
        assert word in result.output
    assert f"{len(expected)} errors" in result.output
