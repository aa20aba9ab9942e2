"""Training end to end on tiny sets: the run directory contract, diagnostics, transfer learning,
early stopping, k-fold, and `netspec eval`. (Crash-resume, the CLI and DDP: test_train_cli.py.)"""

from __future__ import annotations

import csv
import json
import os

import pytest
import torch

import netspec
from netspec.training.rundir import load_run

MLP = """\
name: tiny_mlp
input: [64]
layers:
  - {linear: 32, id: hidden}
  - relu
  - {linear: 10, id: head}
train:
  data: digits
  epochs: 2
  batch_size: 64
  threads: 1
"""


def run(text: str, tmp_path, **overrides):
    return netspec.train(netspec.loads(text, str(tmp_path / "spec.yaml")),
                         out=str(tmp_path / "runs"), quiet=True, **overrides)


def test_run_directory_contract(tmp_path):
    r = run(MLP, tmp_path)
    assert r.status == "completed" and r.path == tmp_path / "runs" / "tiny_mlp" / "1"
    names = {p.name for p in r.path.iterdir()}
    assert names >= {"spec.yaml", "train.json", "data.json", "metrics.csv", "curves.png",
                     "best.safetensors", "best.json", "last.safetensors", "last.json",
                     "last.state.safetensors", "summary.json"}
    assert not [n for n in names if n.endswith(".tmp")]
    assert (r.path / "spec.yaml").read_text() == MLP
    assert os.readlink(r.path.parent / "latest") == "1"
    meta = json.loads((r.path / "data.json").read_text())
    assert meta["task"] == "classification" and meta["labels"] == [str(i) for i in range(10)]
    assert meta["scale"] == 0.0625 and meta["input_shape"] == [64] and meta["output"] == "logits"
    assert len(meta["normalize"]["mean"]) == len(meta["normalize"]["std"]) == 64
    rows = list(csv.DictReader((r.path / "metrics.csv").open()))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert {"train_loss", "train_accuracy", "val_loss", "val_accuracy", "lr"} <= set(rows[0])
    summary = json.loads((r.path / "summary.json").read_text())
    assert summary["test"]["accuracy"] == r.summary["test"]["accuracy"] > 0.5
    assert summary["params"] == {"total": 64 * 32 + 32 + 330, "trainable": 64 * 32 + 32 + 330}
    # another run takes the next number and `latest`
    assert run(MLP, tmp_path, epochs=1).path.name == "2"
    assert os.readlink(r.path.parent / "latest") == "2"


def test_load_run_gives_what_export_needs(tmp_path):
    r = run(MLP, tmp_path)
    spec, state, meta = load_run(r.path.parent / "latest")
    assert spec.name == "tiny_mlp" and meta["output"] == "logits"
    assert not [k for k in state if k.startswith("@")]
    model = netspec.build(spec)
    model.load_state_dict(state)
    best = r.summary["best"]["epoch"]
    assert torch.equal(model.state_dict()["head.weight"], r.model.state_dict()["head.weight"])
    assert best in (1, 2)


def test_api_is_callable_after_the_subpackage_is_imported(tmp_path):
    import netspec.training  # noqa: F401  (the package, not the API function)
    import netspec.training.session  # noqa: F401

    assert callable(netspec.train) and netspec.train.__module__ == "netspec"
    r = netspec.train(netspec.loads(MLP, "m.yaml"), epochs=1, out=str(tmp_path), quiet=True)
    assert r.ok


def test_lr_10_stops_with_the_nan_diagnosis(tmp_path):
    text = MLP.replace("  epochs: 2\n", "  epochs: 3\n  optimizer: {sgd: {lr: 10}}\n")
    r = run(text, tmp_path)
    assert r.status == "diverged"
    (nan,) = [d for d in r.diagnoses if d.kind == "nan"]
    assert "the loss became NaN" in nan.message
    assert "The learning rate 10 is far above the usual range for sgd" in nan.message
    assert nan.hint == "lower it, e.g. `--lr 0.1`"
    # the last good checkpoint is kept, and its weights are finite
    _, state, _ = load_run(r.path, "last")
    assert all(torch.isfinite(t).all() for t in state.values())


def test_constant_output_is_stuck_at_chance(tmp_path):
    # a softmax over one unit is 1 for every input: only the head's bias can learn
    text = MLP.replace("  - {linear: 32, id: hidden}\n  - relu\n",
                       "  - linear: 1\n  - softmax\n").replace("epochs: 2", "epochs: 3")
    r = run(text, tmp_path)
    (chance,) = [d for d in r.diagnoses if d.kind == "chance"]
    assert chance.message.startswith("accuracy is stuck at chance: ")
    assert chance.message.endswith("the network is not learning. The output is the same for "
                                   "every input: some layer discards the input (one that "
                                   "outputs a constant, such as a softmax over a single "
                                   "channel).")
    assert json.loads((r.path / "summary.json").read_text())["diagnoses"][0]["kind"] == "chance"


def test_softmax_before_cross_entropy_is_pointed_out(tmp_path):
    r = run(MLP.replace("  - {linear: 10, id: head}\n", "  - {linear: 10, id: head}\n"
                        "  - softmax\n"), tmp_path, epochs=1)
    (d,) = [d for d in r.diagnoses if d.kind == "softmax"]
    assert "the network ends with softmax" in d.message and "drop the final softmax" in d.hint
    assert json.loads((r.path / "data.json").read_text())["output"] == "probabilities"


def test_init_from_and_freeze(tmp_path):
    first = run(MLP, tmp_path)
    _, before, _ = load_run(first.path)
    text = MLP.replace("  epochs: 2\n", f"  epochs: 1\n  init_from: {first.path}\n"
                       "  freeze: [hidden]\n")
    second = run(text, tmp_path)
    after = second.model.state_dict()
    assert torch.equal(after["hidden.weight"], before["hidden.weight"])
    assert not torch.equal(after["head.weight"], before["head.weight"])
    assert second.summary["params"]["trainable"] == 330


def test_early_stopping(tmp_path):
    text = MLP.replace("  epochs: 2\n", "  epochs: 10\n  early_stopping: {monitor: val_accuracy, "
                       "patience: 1, min_delta: 0.9}\n")
    r = run(text, tmp_path)
    assert r.status == "stopped_early" and r.summary["epochs_run"] == 2


def test_k_fold_reports_mean_and_std(tmp_path):
    text = MLP.replace("  data: digits\n", "  data: {name: digits, folds: 3}\n")
    r = run(text, tmp_path, epochs=3)
    assert r.summary["folds"] == 3 and set(r.summary["val"]) == {"loss", "accuracy"}
    mean, std = r.summary["val"]["accuracy"]
    assert 0.5 < mean <= 1 and 0 <= std < 0.2
    assert sorted(p.name for p in r.path.iterdir() if p.is_dir()) == ["fold1", "fold2", "fold3"]


def test_regression_with_schedule_clipping_and_l1(tmp_path):
    text = """\
name: reg
input: [5]
layers: [{linear: 16}, tanh, {linear: 1}]
train:
  data: {name: regression, samples: 400}
  epochs: 15
  optimizer: {sgd: {lr: 0.05, momentum: 0.9}}
  schedule: {cosine: {warmup: 1}}
  clip_grad_norm: 1.0
  l1: 1.0e-5
  threads: 1
"""
    r = run(text, tmp_path)
    assert r.summary["test"]["r2"] > 0.9
    assert json.loads((r.path / "data.json").read_text())["output"] == "values"


def test_image_augmentation_trains(tmp_path):
    text = """\
name: small_cnn
input: [1, 8, 8]
layers: [{conv: {out: 8, kernel: 3, padding: 1}}, relu, flatten, {linear: 10}]
train:
  data: digits
  epochs: 2
  augment: [{random_crop: 1}, {rotate: 10}, cutout, mixup]
  threads: 1
"""
    r = run(text, tmp_path)
    assert r.ok and r.summary["test"]["accuracy"] > 0.5


def test_eval_reproduces_the_test_metrics(tmp_path):
    from netspec.training.evaluate import evaluate_run

    r = run(MLP, tmp_path)
    result = evaluate_run(r.path)
    assert result["samples"] == 359          # 20% of each class, rounded per class
    assert result["metrics"]["accuracy"] == pytest.approx(r.summary["test"]["accuracy"])
    assert result["metrics"]["loss"] == pytest.approx(r.summary["test"]["loss"], rel=1e-5)
