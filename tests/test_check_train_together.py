"""`netspec check` reports the layers' mistakes and the `train:` section's in one run: a shape
error does not hide a typo in `train:` (nor the other way round), both are located with their
hint, in source order, exit 1. The loss is fitted to the network's output only when the layers
inferred to their end."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from netspec.cli.main import main

LAYERS = """\
input: [1, 8, 8]
layers:
  - conv: {{out: 4, kernel: 3}}
  - maxpool: {pool}
  - flatten
  - linear: 10
"""
TRAIN = """\
train:
  data: {{name: digits}}
  {epochs}: 3
  loss: {loss}
"""
SHAPE_ERROR = "maxpool '1' gets a 6x6 feature map; kernel 8x8 needs at least 8x8"
TYPO = "train: unknown key `epcohs`"


def write(tmp_path, pool=8, epochs="epcohs", loss="cross_entropy", train_first=False):
    layers, train = LAYERS.format(pool=pool), TRAIN.format(epochs=epochs, loss=loss)
    path = tmp_path / "spec.yaml"
    path.write_text(f"name: both\n{train + layers if train_first else layers + train}")
    return path


def check(path, *flags):
    return CliRunner().invoke(main, ["check", str(path), *flags])


def errors(stderr: str) -> list[tuple[int, int, str]]:
    """(line, col, message) of each `file:line:col: error:` in the output, in order."""
    return [(int(m[1]), int(m[2]), m[3])
            for m in re.finditer(r"^\S+?:(\d+):(\d+): error: (.*)$", stderr, re.M)]


def test_a_shape_error_and_a_train_typo_are_reported_together(tmp_path):
    out = check(write(tmp_path))
    assert out.exit_code == 1, out.output
    found = errors(out.stderr)
    assert [m for _, _, m in found] == [SHAPE_ERROR, TYPO]            # the layers come first
    assert [(line, col) for line, col, _ in found] == [(5, 5), (10, 3)]
    assert "hint: the input may be too small" in out.stderr           # each with its hint
    assert "hint: did you mean `epochs`?" in out.stderr
    assert out.stderr.rstrip().endswith("2 errors")
    assert "stopped by 1 shape error (below), at maxpool '1'" in out.stdout   # the table too
    assert out.exception is None or isinstance(out.exception, SystemExit)


def test_the_order_is_the_files_when_train_comes_first(tmp_path):
    out = check(write(tmp_path, train_first=True))
    assert out.exit_code == 1
    assert [(line, m) for line, _, m in errors(out.stderr)] == [(4, TYPO), (9, SHAPE_ERROR)]


def test_the_json_report_keeps_the_layers_errors_and_stderr_has_both(tmp_path):
    out = check(write(tmp_path), "--json")
    assert out.exit_code == 1
    report = json.loads(out.stdout)
    assert [e["message"] for e in report["errors"]] == [SHAPE_ERROR]
    assert [m for _, _, m in errors(out.stderr)] == [SHAPE_ERROR, TYPO]


def test_a_train_typo_alone_and_a_shape_error_alone(tmp_path):
    typo = check(write(tmp_path, pool=2))
    assert typo.exit_code == 1 and [m for _, _, m in errors(typo.stderr)] == [TYPO]
    shape = check(write(tmp_path, epochs="epochs"))
    assert shape.exit_code == 1 and [m for _, _, m in errors(shape.stderr)] == [SHAPE_ERROR]
    assert "errors" not in shape.stderr.splitlines()[-1]                # one error, no count


@pytest.mark.parametrize("loss", ["bce", "nll"])
def test_the_loss_is_fitted_to_the_output_only_when_the_layers_inferred(tmp_path, loss):
    failed = check(write(tmp_path, epochs="epochs", loss=loss))
    assert failed.exit_code == 1
    assert [m for _, _, m in errors(failed.stderr)] == [SHAPE_ERROR]   # no output to fit to
    fine = check(write(tmp_path, pool=2, epochs="epochs", loss=loss))
    assert fine.exit_code == 1
    assert [m for _, _, m in errors(fine.stderr)] == [
        f"the loss `{loss}` expects " + ("probabilities in [0, 1]" if loss == "bce" else
                                         "log-probabilities (values <= 0 whose exponentials "
                                         "sum to 1)") +
        ", but the network ends with linear '3', which outputs unbounded values (logits)"]


def test_a_from_mistake_and_a_train_typo_are_reported_together(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("input: [4]\nlayers:\n  - linear: 8\n  - linear: 2\n    from: nosuch\n"
                    "train:\n  data: iris\n  epcohs: 3\n")
    out = check(path)
    assert out.exit_code == 1
    assert [(line, m) for line, _, m in errors(out.stderr)] == [
        (5, "`from: nosuch` names no entry above"), (8, TYPO)]


def test_a_valid_spec_with_train_still_passes_and_warns(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(LAYERS.format(pool=2) + "  - softmax\n" +
                    TRAIN.format(epochs="epochs", loss="cross_entropy"))
    out = check(path)
    assert out.exit_code == 0, out.output
    assert "warning" in out.stderr and "softmax" in out.stderr
