"""The classic zoo networks train from their own `train:` sections: each one's `cpu` variant,
cut to a few steps (160 `shapes` images, batches of 16, 3 epochs), completes and its training
loss goes down. The full figures (accuracy, seconds per epoch) are bench/zoo_train.py's, in
docs/zoo.md."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec

SPECS = Path(__file__).resolve().parents[1] / "specs"
CLASSIC = ["alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet"]
SLOW = {"alexnet", "vgg11", "googlenet", "resnet18"}     # 10-40 s each on one core
FEW_STEPS = {"train.data.samples": 160, "train.batch_size": 16, "train.epochs": 3}


@pytest.mark.parametrize("name", CLASSIC)
def test_the_cpu_variant_is_a_shapes_run_at_its_input_size(name):
    spec = netspec.load(SPECS / f"{name}.yaml", variant="cpu")
    data = spec.train["data"]
    (inp,) = netspec.check(spec).graph.inputs.values()
    assert data["name"] == "shapes" and data["classes"] == 10 and data["channels"] == 1
    assert list(inp.shape) == [1, data["size"], data["size"]] and data["size"] <= 72
    assert data["normalize"] is True
    # the default size is the reference's, and its section still loads: as many images as
    # `shapes` draws at that size
    default = netspec.load(SPECS / f"{name}.yaml")
    assert default.train["data"]["size"] == next(iter(default.inputs.values())).shape[1] >= 96
    assert default.train["data"]["samples"] * default.train["data"]["size"] ** 2 <= 2 ** 25


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CLASSIC])
def test_a_few_steps_of_its_train_section_lower_the_loss(name, tmp_path):
    run = netspec.train(SPECS / f"{name}.yaml", variant="cpu", set=FEW_STEPS,
                        out=str(tmp_path), quiet=True, threads=1)
    assert run.status == "completed", run.diagnoses
    losses = [row["train_loss"] for row in run.history]
    assert len(losses) == 3 and losses[-1] < losses[0], losses
    assert not [d for d in run.diagnoses if d.kind in ("nan", "bad_init", "depth_activations",
                                                       "unnormalised")]
