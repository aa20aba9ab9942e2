"""The built-in `tokens` task ("which marker comes first"): deterministic by `split_seed`, the
rule as documented, out of reach of a bag-of-words model, and trainable from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import netspec
from netspec.training.config import DataConfig
from netspec.training.data import load_data
from netspec.training.data.sequences import LABELS, MARKER_A, MARKER_B, marker_order


def data(spec_input: str = "{shape: [seq], dtype: long}", **cfg):
    spec = netspec.loads(f"input: {spec_input}\nlayers: [{{embedding: {{vocab: 16, dim: 4}}}}, "
                         "flatten, {linear: 2}]\n" if "seq]" not in spec_input else
                         f"input: {spec_input}\nlayers: [{{embedding: {{vocab: 16, dim: 4}}}}, "
                         "{lstm: {hidden: 4, return: last}}, {linear: 2}]\n", "t.yaml")
    return load_data(DataConfig(name="tokens", **cfg), spec)


def test_the_rule_one_a_and_one_b_label_says_which_comes_first():
    x, y = marker_order(500, 12, 16, seed=0)
    assert x.shape == (500, 12) and x.dtype == np.int64 and y.dtype == np.int64
    assert ((x == MARKER_A).sum(1) == 1).all() and ((x == MARKER_B).sum(1) == 1).all()
    assert (x != 0).all() and (x < 16).all()
    a_first = (x == MARKER_A).argmax(1) < (x == MARKER_B).argmax(1)
    assert np.array_equal(y, a_first.astype(np.int64))
    assert np.array_equal(np.bincount(y), [250, 250])


def test_deterministic_by_seed():
    assert np.array_equal(marker_order(64, 8, 10, seed=5)[0], marker_order(64, 8, 10, seed=5)[0])
    assert not np.array_equal(marker_order(64, 8, 10, seed=5)[0],
                              marker_order(64, 8, 10, seed=6)[0])


def test_marker_positions_cover_the_sequence():
    x, y = marker_order(4000, 10, 16, seed=0)
    for marker in (MARKER_A, MARKER_B):
        positions = (x == marker).argmax(1)
        assert set(positions.tolist()) == set(range(10))


def test_a_bag_of_words_model_stays_at_chance():
    from sklearn.linear_model import LogisticRegression

    x, y = marker_order(6000, 16, 12, seed=0)
    counts = np.stack([(x == t).sum(1) for t in range(12)], axis=1)
    model = LogisticRegression(max_iter=500).fit(counts[:4000], y[:4000])
    assert abs(model.score(counts[4000:], y[4000:]) - 0.5) < 0.05


@pytest.mark.parametrize("spec_input, cfg, length", [
    ("{shape: [seq], dtype: long}", {}, 24),          # symbolic: the default length
    ("{shape: [seq], dtype: long}", {"seq": 9}, 9),
    ("{shape: [16], dtype: long}", {}, 16),           # the spec's length
])
def test_the_spec_or_seq_decides_the_length(spec_input, cfg, length):
    d = data(spec_input, samples=100, **cfg)
    x, y = d.splits["train"]
    assert x.shape[1:] == (length,) and x.dtype == np.int64
    assert d.labels == LABELS and d.normalize is None


@pytest.mark.parametrize("option, text", [
    ("samples: 400, vocab: 3", "`vocab`: must be at least 4 (0 unused, 1 and 2 the markers"),
    ("samples: 400, seq: 1", "`seq`: must be at least 2 (room for both markers), got 1"),
    ("samples: 0", "`samples`: must be at least 1, got 0"),
    ("samples: 10000000, seq: 100", "samples × seq <= 67,108,864 token ids; got 10,000,000 × "
                                    "100 = 1,000,000,000"),
])
def test_argument_mistakes_are_located(tmp_path, option, text):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data=option))
    out = cli("train", spec, "--out", tmp_path / "runs", "-q")
    assert out.exit_code == 1, out.output
    assert out.stderr.startswith(f"{spec}:9:") and text in out.stderr, out.stderr


SPEC = """\
name: tokens_tiny
input: {{shape: [seq], dtype: long}}
layers:
  - embedding: {{vocab: 16, dim: 8}}
  - lstm: {{hidden: 16, return: last}}
  - linear: 2
train:
  data:
    {{name: tokens, {data}}}
  epochs: 1
  batch_size: 32
  optimizer: {{adam: {{lr: 1.0e-2}}}}
  threads: 1
"""


def cli(*args):
    from click.testing import CliRunner

    from netspec.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_train_on_tokens_from_the_command_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data="samples: 400, seq: 12"))
    out = cli("train", spec, "--out", tmp_path / "runs")
    assert out.exit_code == 0, out.output
    run = tmp_path / "runs" / "tokens_tiny" / "1"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed"
    assert json.loads((run / "data.json").read_text())["labels"] == LABELS
