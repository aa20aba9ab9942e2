"""Every training concept is one registry entry that carries its behaviour: a loss, a data set
and a task registered from here train without any other file changing; a metric declares its
column, its direction and how it prints; a regression run standardising its targets records
their statistics for deploy."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import netspec
from netspec.errors import SetupError
from netspec.training.data import DATASETS, Arrays, DataArgs
from netspec.training.data.section import PositiveInt
from netspec.training.losses import LOSSES
from netspec.training.metrics import is_fraction, minimize
from netspec.training.registry import NoArgs

XOR = """\
name: xor_net
input: [2]
layers:
  - linear: 16
  - relu
  - linear: 1
train:
  data: {name: xor, samples: 400}
  loss: signed_hinge
  epochs: 3
  batch_size: 32
  optimizer: {adam: 0.01}
  threads: 1
"""


class XorArgs(DataArgs):
    samples: PositiveInt = 200


def xor(a: XorArgs, shape: tuple, cfg) -> Arrays:
    """Points in the square, class 1 where x and y have the same sign."""
    x = np.random.default_rng(cfg.split_seed).uniform(-1, 1, (a.samples, 2)).astype(np.float32)
    return Arrays(x, (x[:, 0] * x[:, 1] > 0).astype(np.int64), "classification", ["0", "1"])


def hinge(a):
    """Hinge loss on logits against ±1 targets (one unit for two classes, else one-vs-rest)."""
    def loss(out, y):
        t = y.to(out.dtype).view(out.shape) if out.shape[-1] == 1 else \
            F.one_hot(y, out.shape[-1]).to(out.dtype)
        return torch.clamp(1 - (2 * t - 1) * out, min=0).mean()
    return loss


@pytest.fixture
def registered():
    DATASETS.add("xor", XorArgs)(xor)
    LOSSES.add("signed_hinge", NoArgs, expects="logits", target="one_hot")(hinge)
    try:
        yield
    finally:
        DATASETS.remove("xor")
        LOSSES.remove("signed_hinge")


def train(text: str, tmp_path, **overrides):
    return netspec.train(netspec.loads(text, str(tmp_path / "spec.yaml")),
                         out=str(tmp_path / "runs"), quiet=True, **overrides)


def test_a_loss_and_a_data_set_registered_here_train(registered, tmp_path):
    r = train(XOR, tmp_path)
    assert r.ok and r.summary["test"]["accuracy"] > 0.6
    cfg = json.loads((r.path / "train.json").read_text())
    assert cfg["loss"] == {"signed_hinge": {}} and cfg["task"] == {"classify": {}}
    assert cfg["data"]["samples"] == 400
    meta = json.loads((r.path / "data.json").read_text())
    assert meta["task"] == "classification" and meta["output"] == "logits"


@pytest.mark.parametrize("data, expected", [
    ("{name: xor, samples: 0}", "t.yaml:8:30: error: data set xor: `samples`: must be positive, got 0"),
    ("{name: xor, size: 3}", "t.yaml:8:27: error: `size` does not apply to the data set `xor`"),
])
def test_a_registered_data_set_validates_its_own_options(registered, data, expected):
    text = XOR.replace("{name: xor, samples: 400}", data)
    with pytest.raises(netspec.SpecError) as err:
        netspec.train(netspec.loads(text, "t.yaml"), out="/nonexistent", quiet=True)
    assert err.value.render().startswith(expected)


def test_an_incomplete_entry_fails_where_it_is_registered():
    with pytest.raises(RuntimeError, match="loss 'half' does not declare target"):
        LOSSES.add("half", NoArgs, expects="logits")(hinge)
    assert "half" not in LOSSES


@pytest.mark.parametrize("section, expected", [
    ("  task: regress\n", "t.yaml:9:9: error: the task `regress` trains on regression data, "
                          "but `iris` is a classification set"),
    ("  task: clasify\n", "t.yaml:9:9: error: unknown task `clasify`\n  hint: did you mean "
                          "`classify`?"),
])
def test_the_task_is_chosen_in_the_spec(section, expected):
    spec = netspec.loads("name: t\ninput: [4]\nlayers:\n  - linear: 8\n  - relu\n"
                         "  - linear: 3\ntrain:\n  data: iris\n" + section, "t.yaml")
    with pytest.raises(netspec.SpecError) as err:
        netspec.train(spec, out="/nonexistent", quiet=True)
    assert expected in err.value.render()


def test_metrics_declare_direction_and_print_form():
    assert minimize("val_loss") and minimize("val_mae") and not minimize("val_r2")
    assert not minimize("train_accuracy") and not minimize("val_top5")
    assert is_fraction("val_top5") and is_fraction("f1") and not is_fraction("mae")


REGRESSION = """\
name: reg
input: [3]
layers:
  - linear: 16
  - relu
  - linear: 1
train:
  data: {name: regression, samples: 300, normalize_target: true}
  epochs: 2
  threads: 1
"""


def test_standardised_targets_are_recorded_and_metrics_stay_in_target_units(tmp_path):
    from netspec.training.data import load_data
    from netspec.training.evaluate import evaluate_run

    r = train(REGRESSION, tmp_path)
    meta = json.loads((r.path / "data.json").read_text())
    spec = netspec.loads(REGRESSION, "r.yaml")
    data = load_data(netspec.training.config.resolve(spec).data, spec)
    y = data.splits["train"][1]
    assert meta["target"]["mean"] == pytest.approx([float(y.mean())], rel=1e-5)
    assert meta["target"]["std"] == pytest.approx([float(y.std())], rel=1e-5)
    # the test numbers are the un-scaled predictions against the raw targets
    x, _ = data.tensors("test")
    with torch.no_grad():
        pred = r.model.cpu()(x) * meta["target"]["std"][0] + meta["target"]["mean"][0]
    raw = torch.from_numpy(data.splits["test"][1])
    assert r.summary["test"]["mae"] == pytest.approx(float((pred - raw).abs().mean()), rel=1e-4)
    assert evaluate_run(r.path)["metrics"]["mae"] == pytest.approx(r.summary["test"]["mae"])


def test_normalize_target_on_classes_is_located():
    spec = netspec.loads("input: [4]\nlayers: [{linear: 3}]\ntrain:\n"
                         "  data: {name: iris, normalize_target: true}\n", "t.yaml")
    with pytest.raises(netspec.SpecError, match=r"t.yaml:4:40: error: `normalize_target` "
                                                r"standardises regression targets"):
        netspec.train(spec, out="/nonexistent", quiet=True)


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_a_device_is_a_setup_error():
    spec = netspec.loads("input: [4]\nlayers: [{linear: 3}]\ntrain: {data: iris}\n", "t.yaml")
    with pytest.raises(SetupError, match="torch sees no CUDA device"):
        netspec.train(spec, device="cuda", out="/nonexistent", quiet=True)
