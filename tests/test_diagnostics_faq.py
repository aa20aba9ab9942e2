"""The training FAQ in plain words: each diagnostic on a tiny run made to show it, and a
healthy run that must not show it (built-in data, a second or two each)."""

from __future__ import annotations

import numpy as np
import pytest

import netspec
from netspec.training import diagnostics as dg
from netspec.training.data import DATASETS, Arrays, DataArgs

HEALTHY_MLP = "  - linear: 64\n  - relu\n  - linear: 10\n"


def spec(layers: str, train: str, init: str = "auto", input_: str = "[64]") -> str:
    return f"name: t\ninput: {input_}\ninit: {init}\nlayers:\n{layers}train:\n{train}\n"


def chain(n: int, act: str = "  - relu\n") -> str:
    """n linear layers of 32 (each followed by `act`), then the 10 class scores."""
    return ("  - linear: 32\n" + act) * n + "  - linear: 10\n"


def run(text: str, tmp_path, **overrides):
    return netspec.train(netspec.loads(text, str(tmp_path / "t.yaml")),
                         out=str(tmp_path / "runs"), quiet=True, **overrides)


def found(r) -> dict:
    return {d.kind: d for d in r.diagnoses}


@pytest.fixture(scope="module")
def healthy(tmp_path_factory):
    """A plain MLP on normalised digits with adam 1e-3: nothing is wrong with it."""
    return run(spec(HEALTHY_MLP, "  data: digits\n  epochs: 4\n  optimizer: {adam: 1.0e-3}"),
               tmp_path_factory.mktemp("healthy"))


def test_the_healthy_run_shows_nothing(healthy):
    assert healthy.ok and healthy.summary["test"]["accuracy"] > 0.8
    assert healthy.diagnoses == []


@pytest.fixture
def raw_pixels(tmp_path):
    """The digits as 0..255 pixels in an .npz file."""
    from sklearn.datasets import load_digits

    d = load_digits()
    path = tmp_path / "raw.npz"
    np.savez(path, x=(d.data * 16).astype(np.float32), y=d.target)
    return path


def test_inputs_not_normalised_are_named_with_the_key_to_set(raw_pixels, tmp_path):
    r = run(spec(HEALTHY_MLP, f"  data: {{npz: {raw_pixels}, normalize: false}}\n  epochs: 1"),
            tmp_path)
    d = found(r)
    assert d["unnormalised"].message.startswith("the inputs are not normalised: over the "
                                                "training split they have mean 78.9 and std")
    assert "`normalize: true` under `data:`" in d["unnormalised"].hint
    # the huge initial loss follows from the inputs, and says so
    assert "here because the inputs are not normalised" in d["bad_init"].message
    fixed = run(spec(HEALTHY_MLP, f"  data: {{npz: {raw_pixels}, normalize: true}}\n"
                     "  epochs: 1"), tmp_path)
    assert not {"unnormalised", "bad_init"} & set(found(fixed))


def test_bad_init_initial_loss_and_exploding_activations(tmp_path, healthy):
    # 16 linear layers without activations under He init: each multiplies the std by ~1.4
    r = run(spec(chain(16, ""), "  data: digits\n  epochs: 1", init="kaiming"), tmp_path)
    d = found(r)
    assert d["bad_init"].message.startswith("the initial loss is ")
    assert "far above ln(10) = 2.3" in d["bad_init"].message
    assert d["depth_activations"].message.startswith("activations explode through depth")
    assert not {"bad_init", "depth_activations"} & set(found(healthy))


def test_vanishing_activations(tmp_path):
    # init normal (std 0.01) through 12 ReLU layers: the signal shrinks ~20x per layer
    r = run(spec(chain(12), "  data: digits\n  epochs: 1", init="normal"), tmp_path)
    assert found(r)["depth_activations"].message.startswith("activations vanish through depth")
    he = run(spec(chain(12), "  data: digits\n  epochs: 1"), tmp_path)
    assert "depth_activations" not in found(he)


def test_learning_rate_too_high_rising_loss(tmp_path, healthy):
    r = run(spec(HEALTHY_MLP, "  data: digits\n  epochs: 4\n"
                 "  optimizer: {sgd: {lr: 0.9, momentum: 0.9}}"), tmp_path)
    d = found(r)
    assert d["lr_high"].message.startswith("the training loss rose over the first 3 epochs")
    assert "the learning rate 0.9 is too high" in d["lr_high"].message
    assert d["lr_high"].hint == "lower it, e.g. `--lr 0.09`"
    # the same run: validation loss rising while validation accuracy rises
    assert "while validation accuracy rose" in d["overconfident"].message
    assert not {"lr_high", "overconfident"} & set(found(healthy))


def test_learning_rate_too_low(tmp_path, healthy):
    r = run(spec(HEALTHY_MLP, "  data: digits\n  epochs: 3\n  optimizer: {sgd: 1.0e-5}"),
            tmp_path)
    d = found(r)["lr_low"]
    assert d.message.startswith("the training loss barely moved in 3 epochs")
    assert d.hint == "raise it, e.g. `--lr 0.0001`"
    assert "lr_low" not in found(healthy)


def test_nan_names_the_learning_rate_not_the_gradients(tmp_path):
    layers = "  - linear: 256\n  - relu\n" * 3 + "  - linear: 10\n"
    r = run(spec(layers, "  data: digits\n  epochs: 3\n"
                 "  optimizer: {sgd: {lr: 0.5, momentum: 0.99}}"), tmp_path)
    assert r.status == "diverged"
    d = found(r)["nan"]
    assert "The learning rate 0.5 (sgd) is too high for this network" in d.message
    assert "exploded" not in d.message and d.hint.startswith("lower it, e.g. `--lr 0.05`")


def test_deep_plain_network_suggests_residual_connections(tmp_path):
    r = run(spec(chain(24), "  data: digits\n  epochs: 3\n  optimizer: {sgd: 0.01}"), tmp_path)
    d = found(r)["deep_plain"]
    assert d.message.startswith("this is a plain network 25 weighted layers deep with no skip "
                                "connections, and its training loss stays high")
    assert "residual connections" in d.hint and "ResNet" in d.hint
    # the same depth with a skip around every layer: not plain
    block = ("  - parallel:\n      merge: add\n      branches:\n"
             "        - [{linear: 32}, relu]\n        - [identity]\n")
    res = run(spec("  - linear: 32\n" + block * 24 + "  - linear: 10\n",
                   "  data: digits\n  epochs: 3\n  optimizer: {sgd: 0.01}"), tmp_path)
    assert "deep_plain" not in found(res)


@pytest.fixture
def shifted_val():
    """Digits in order, the validation slice (taken from the end before the test slice when
    not shuffled) relabelled: a validation split from another distribution."""
    from sklearn.datasets import load_digits

    class ShiftedArgs(DataArgs):
        pass

    def shifted(a, shape, cfg) -> Arrays:
        d = load_digits()
        x, y = (d.data / 16).astype(np.float32), d.target.copy()
        n = len(y)
        start, end = n - int(round(n * 0.2)) - int(round((n - round(n * 0.2)) * 0.1)), \
            n - int(round(n * 0.2))
        y[start:end] = (y[start:end] + 1) % 10
        return Arrays(x, y, "classification", [str(i) for i in range(10)], shuffle=False)

    DATASETS.add("shifted_val", ShiftedArgs)(shifted)
    try:
        yield
    finally:
        DATASETS.remove("shifted_val")


def test_validation_far_below_train_and_test_is_the_split(shifted_val, tmp_path, healthy):
    r = run(spec(HEALTHY_MLP, "  data: {name: shifted_val, val: 0.1, test: 0.2}\n"
                 "  epochs: 4\n  optimizer: {adam: 3.0e-3}"), tmp_path)
    d = found(r)
    assert d["split"].message.startswith("validation accuracy (")
    assert "is far below both training" in d["split"].message
    assert d["split"].hint.startswith("check the split")
    assert "overfit" not in d                     # not blamed on over-fitting
    assert "split" not in found(healthy)


SLOW_BCE = spec("  - linear: 16\n  - tanh\n  - linear: 16\n  - tanh\n  - linear: 1\n"
                "  - sigmoid\n", "  data: moons\n  loss: bce\n  epochs: 8\n"
                "  optimizer: {sgd: {lr: 0.2, momentum: 0.9}}", init="normal", input_="[2]")


def test_a_warning_is_withdrawn_when_the_run_recovers(tmp_path, capsys):
    """A slow BCE start: flat at 50 % for four epochs, then 84 %. "Stuck at chance" is said at
    epoch 3, then withdrawn: the progress log says "recovered", the summary does not carry it."""
    r = netspec.train(netspec.loads(SLOW_BCE, str(tmp_path / "t.yaml")),
                      out=str(tmp_path / "runs"), quiet=False)
    log = capsys.readouterr().out
    assert "accuracy is stuck at chance" in log
    assert "withdrawn: accuracy is stuck at chance" in log and "recovered by epoch" in log
    assert r.summary["val"]["accuracy"] > 0.8
    assert "chance" not in found(r)
    assert "chance" not in {d["kind"] for d in r.summary["diagnoses"]}


# ---- the rules on tables ---------------------------------------------------------------------

def rows(*losses, acc=None):
    return [{"epoch": i + 1, "train_loss": v, **({"val_accuracy": acc} if acc else {})}
            for i, v in enumerate(losses)]


@pytest.mark.parametrize("losses, kind", [
    ((2.3, 2.5, 2.9), "lr_high"),               # rising
    ((2.3, 1.0, 2.0, 0.9), "lr_high"),          # oscillating
    ((2.3, 1.5, 1.0, 0.8), None),               # learning
])
def test_lr_too_high_table(losses, kind):
    d = dg.lr_too_high(rows(*losses), 0.1)
    assert (d.kind if d else None) == kind


def test_stuck_at_chance_waits_while_the_loss_falls():
    falling = rows(0.70, 0.66, 0.62, acc=0.5)
    flat = rows(0.694, 0.693, 0.693, acc=0.5)
    assert dg.stuck_at_chance(falling, 0.5, 2) is None
    assert dg.stuck_at_chance(flat, 0.5, 2).kind == "chance"
    assert dg.recovered(dg.stuck_at_chance(flat, 0.5, 2), rows(0.69, 0.3, acc=0.91), 0.5)
