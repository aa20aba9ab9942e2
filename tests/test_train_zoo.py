"""The zoo's trainable specs train from their own `train:` sections (a few epochs here; the full
figures are in the README). A spec not yet in specs/ is skipped, saying so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import netspec

SPECS = Path(__file__).resolve().parents[1] / "specs"
ZOO = ["lenet5", "mlp", "softmax_regression", "linear_regression", "lstm_seq", "lstm_cell_seq"]


@pytest.mark.parametrize("name", ZOO)
def test_zoo_spec_trains_from_its_section(name, tmp_path):
    path = SPECS / f"{name}.yaml"
    if not path.exists():
        pytest.skip(f"specs/{name}.yaml is not in the zoo yet")
    spec = netspec.load(path)
    epochs = min(int(spec.train.get("epochs", 10)), 4)
    run = netspec.train(spec, epochs=epochs, out=str(tmp_path), quiet=True, threads=1)
    assert run.status in ("completed", "stopped_early"), run.diagnoses
    first, last = run.history[0], run.history[-1]
    key = "val_loss" if "val_loss" in last else "train_loss"
    assert last[key] < first[key] or last[key] < 1e-3       # it learns
    test = run.summary["test"] or run.summary["val"]
    if "accuracy" in test:
        labels = json.loads((run.path / "data.json").read_text())["labels"]
        assert test["accuracy"] > min(2 / len(labels), 0.75)
    if "r2" in test:
        assert test["r2"] > 0.5
    assert not [d for d in run.diagnoses if d.kind in ("nan", "chance")]
