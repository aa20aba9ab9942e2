"""The `train:` section: every mistake is one located sentence, found before anything trains."""

from __future__ import annotations

import pytest

import netspec
from netspec.training.config import resolve

TINY = """\
name: tiny
input: [4]
layers:
  - linear: 8
  - relu
  - linear: 3
train:
"""


def train_error(section: str, base: str = TINY) -> str:
    spec = netspec.loads(base + section, "t.yaml")
    with pytest.raises(netspec.SpecError) as err:
        netspec.train(spec, epochs=1, out="/nonexistent/never-written", quiet=True)
    return err.value.render()


@pytest.mark.parametrize("section, expected", [
    ("  data: iris\n  optimizer: adamm\n",
     "t.yaml:9:14: error: unknown optimizer `adamm`\n  hint: did you mean `adam`?"),
    ("  data: iris\n  optimizer: {sgd: {lr: fast}}\n",
     "t.yaml:9:25: error: optimizer sgd: `lr`: expected a number, got the string 'fast'"),
    ("  data: {name: iris, val: 0.5, test: 0.5}\n",
     "t.yaml:8:9: error: train: `data`: `val` + `test` must leave data to train on, got 0.5 + 0.5"),
    ("  data: iriss\n",
     "t.yaml:8:9: error: unknown data set `iriss`\n  hint: did you mean `iris`?"),
    ("  data: iris\n  epoch: 3\n",
     "t.yaml:9:3: error: train: unknown key `epoch`\n  hint: did you mean `epochs`?"),
    ("  data: {name: iris, size: 28}\n", "t.yaml:8:28: error: `size` does not apply to the data "
                                          "set `iris`"),
    ("  data: iris\n  schedule: {cosine: {warmup: -1}}\n",
     "t.yaml:9:31: error: schedule cosine: `warmup`: must not be negative, got -1"),
    ("  data: iris\n  metrics: [accuracy, {top_k: 2}, f2]\n",
     "t.yaml:9:35: error: unknown metric `f2`"),
    ("  data: iris\n  loss: mse\n",
     "t.yaml:9:9: error: the loss `mse` is for regression, but `iris` is a classification set"),
    ("  data: iris\n  freeze: [nope]\n",
     "t.yaml:9:12: error: `freeze`: no layer with parameters is named 'nope'"),
    ("  data: iris\n  monitor: val_acc\n",
     "t.yaml:9:12: error: `val_acc` is not logged by this run\n  hint: did you mean "
     "`val_accuracy`?"),
    ("  data: iris\n  augment: [hflip]\n",
     "t.yaml:9:13: error: `hflip` works on images [C, H, W]; this data's samples are [4]"),
    ("  data: {csv: nothere.csv}\n", "t.yaml:8:15: error: no such CSV file: "),
    ("  data: iris\n  optimizer: {sgd: {nesterov: true}}\n",
     "t.yaml:9:20: error: optimizer sgd: `nesterov` needs a `momentum` above 0"),
    ("  data: {name: iris, val: 0}\n  early_stopping: 3\n",
     "`val_loss` is not logged by this run\n  hint: there is no validation split"),
    ("  data: iris\n  output: logits\n", "t.yaml:9:11: error: `output` names no output"),
    ("  data: blobs\n  device: tpu\n", "t.yaml:9:11: error: `device` is auto, cpu, cuda or cuda:N"),
])
def test_mistakes_are_located(section, expected):
    assert expected in train_error(section)


def test_data_shape_disagreeing_with_input_is_located_at_the_input():
    text = TINY.replace("input: [4]", "input: [1, 28, 28]").replace("  - linear: 8\n",
                                                                  "  - flatten\n  - linear: 8\n")
    message = train_error("  data: digits\n", text)
    assert message.startswith("t.yaml:2:8: error: the data set `digits` gives samples of shape "
                              "[1, 8, 8], but the spec's input is [1, 28, 28]\n  hint: add "
                              "`size: 28`")


def test_output_width_disagreeing_with_classes_is_located_at_the_last_layer():
    message = train_error("  data: digits\n", TINY.replace("[4]", "[64]"))
    assert message == ("t.yaml:6:5: error: the network outputs [3] per sample, but `digits` has "
                       "10 classes: the output should be [10]\n"
                       "  hint: end the network with `linear: 10`")


def test_no_train_section():
    spec = netspec.loads(TINY.replace("train:\n", ""), "t.yaml")
    with pytest.raises(netspec.SpecError, match="the spec has no `train:` section"):
        netspec.train(spec)


@pytest.mark.parametrize("section, check", [
    ("  data: iris\n", lambda c: c.optimizer.name == "adam" and c.lr == 1e-3 and c.epochs == 10),
    ("  data: iris\n  optimizer: {sgd: 0.5}\n", lambda c: c.optimizer.args.lr == 0.5),
    ("  data: iris\n  optimizer: rmsprop\n", lambda c: c.optimizer.args.lr == 0.01),
    ("  data: iris\n  early_stopping: 4\n", lambda c: c.early_stopping.patience == 4),
    ("  data: iris\n  early_stopping: true\n", lambda c: c.early_stopping.monitor == "val_loss"),
    ("  data: iris\n  metrics: accuracy\n", lambda c: [m.name for m in c.metrics] == ["accuracy"]),
    ("  data: iris\n  augment: [noise, {mixup: 0.4}]\n",
     lambda c: [a.name for a in c.augment] == ["noise", "mixup"] and c.augment[1].alpha == 0.4),
    ("  data: iris\n  freeze: 0\n", lambda c: c.freeze == ("0",)),
])
def test_short_forms(section, check):
    assert check(resolve(netspec.loads(TINY + section, "t.yaml")))


def test_overrides_win_and_lose_their_location():
    spec = netspec.loads(TINY + "  data: iris\n  epochs: 3\n  optimizer: {sgd: {lr: 0.1, "
                         "momentum: 0.9}}\n", "t.yaml")
    cfg = resolve(spec, epochs=7, lr=0.02, batch_size=5, seed=3)
    assert (cfg.epochs, cfg.lr, cfg.optimizer.args.momentum, cfg.batch_size, cfg.seed) == \
        (7, 0.02, 0.9, 5, 3)
    with pytest.raises(netspec.SpecError) as err:
        resolve(spec, epochs=0)
    assert err.value.render() == "error: train: `epochs`: must be positive, got 0"


def test_resolved_config_round_trips_through_json():
    spec = netspec.loads(TINY + "  data: {name: blobs, classes: 3}\n  schedule: {onecycle: {}}\n"
                         "  loss: {cross_entropy: 0.1}\n  metrics: [accuracy, f1, {top_k: 2}]\n"
                         "  augment: [noise]\n  early_stopping: {patience: 2}\n", "t.yaml")
    cfg = resolve(spec)
    again = resolve(spec, train=cfg.to_json())
    assert again.to_json() == cfg.to_json()


def test_check_does_not_import_the_train_schema_and_the_command_not_torch():
    import subprocess
    import sys

    code = ("import sys, netspec; netspec.check(netspec.load('specs/lenet5.yaml'));"
            "print(sorted(m for m in sys.modules if m.startswith('netspec.training') "
            "or m == 'torch'));"
            "import netspec.cli.train; print('torch' in sys.modules, 'pydantic' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split("\n")[:2] == ["[]", "False True"]
