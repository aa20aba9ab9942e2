"""The confusion matrix of `netspec eval`: counted against scikit-learn's, printed as a table,
kept in --json, drawn as a PNG; refused, as misuse, for a run that does not classify."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from sklearn.metrics import confusion_matrix

from netspec.cli.main import main
from netspec.training.confusion import Counting, confusion_table, per_class
from netspec.training.metric_args import METRICS
from netspec.training.metrics import Tracker


CLASSIFIER = """\
name: tiny_digits
input: [64]
layers:
  - linear: 32
  - relu
  - linear: 10
train:
  data: {name: digits, val: 0.1, test: 0.2}
  epochs: 2
  batch_size: 64
  optimizer: {adam: {lr: 0.01}}
  threads: 1
"""

REGRESSOR = """\
name: tiny_regression
input: [8]
layers:
  - linear: 1
train:
  data: {name: regression, samples: 200, test: 0.2}
  epochs: 1
  threads: 1
"""


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def trained(tmp_path, text: str):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = cli("train", spec, "--out", tmp_path / "runs", "--quiet")
    assert out.exit_code == 0, out.output
    return next((tmp_path / "runs").iterdir()) / "latest"


def test_counts_match_scikit_learn_and_the_accuracy():
    torch.manual_seed(0)
    k = 5
    out, y = torch.randn(300, k), torch.randint(0, k, (300,))
    counting = Counting(Tracker([METRICS.choose("accuracy", {}, None, None, None)], k))
    for i in range(0, 300, 64):                 # batches add up
        counting.update(out[i:i + 64], y[i:i + 64])
    expected = confusion_matrix(y.numpy(), out.argmax(1).numpy(), labels=list(range(k)))
    assert counting.matrix() == expected.tolist()
    diagonal = np.trace(expected) / 300
    assert counting.tracker.result()["accuracy"] == pytest.approx(diagonal)


def test_one_output_unit_uses_the_threshold():
    tracker = Tracker([], 2, threshold=0.5)         # probabilities: class 1 above 0.5
    counting = Counting(tracker)
    counting.update(torch.tensor([[0.2], [0.7], [0.6], [0.1]]), torch.tensor([0, 1, 0, 1]))
    assert counting.matrix() == [[1, 1], [1, 1]]


def test_the_table_reads_by_hand():
    matrix = [[8, 2, 0], [1, 9, 0], [0, 0, 0]]
    recall, precision = per_class(matrix)
    assert recall == [0.8, 0.9, None] and precision == [8 / 9, 9 / 11, None]
    table = confusion_table(["cat", "dog", "eel"], matrix).splitlines()
    assert table[0].split() == ["0", "1", "2", "recall"]
    assert table[1].split() == ["0", "cat", "8", "2", "0", "80%"]
    assert table[3].split() == ["2", "eel", "0", "0", "0", "-"]
    assert table[4].split() == ["precision", "89%", "82%", "-"]


def test_many_classes_give_recall_and_precision_per_class():
    matrix = np.eye(40, dtype=int).tolist()
    table = confusion_table([f"c{i}" for i in range(40)], matrix).splitlines()
    assert table[0].split() == ["class", "recall", "precision"] and len(table) == 41


def test_eval_prints_keeps_and_draws_the_confusion_matrix(tmp_path):
    run = trained(tmp_path, CLASSIFIER)
    as_json = cli("eval", run, "--json")
    assert as_json.exit_code == 0, as_json.output
    result = json.loads(as_json.stdout)
    confusion = result["confusion"]
    assert confusion["labels"] == [str(i) for i in range(10)]
    matrix = np.array(confusion["matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == result["samples"]
    assert np.trace(matrix) / matrix.sum() == pytest.approx(result["metrics"]["accuracy"])

    png = tmp_path / "confusion.png"
    text = cli("eval", run, "--confusion", png)
    assert text.exit_code == 0, text.output
    assert "confusion matrix (rows: the true class, columns: the predicted one)" in text.stdout
    assert text.stdout.splitlines()[-13].split()[:2] == ["0", str(matrix[0, 0])]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    from PIL import Image

    assert min(Image.open(png).size) > 300


def test_confusion_is_refused_where_it_does_not_apply(tmp_path):
    run = trained(tmp_path, REGRESSOR)
    result = json.loads(cli("eval", run, "--json").stdout)
    assert "confusion" not in result
    out = cli("eval", run, "--confusion", tmp_path / "c.png")
    assert out.exit_code == 2 and "is not a classification run" in out.output
    out = cli("eval", run, "--confusion", tmp_path / "c.jpeg")
    assert out.exit_code == 2 and "the suffix picks the format" in out.output
    assert not (tmp_path / "c.png").exists()
