"""`train:` checked by `netspec check` (every key located, "did you mean", the loss against the
network's output) and described by `netspec schema`; the same mismatches stop `netspec train`
before anything is written."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
NET = "name: t\ninput: [64]\nlayers:\n  - linear: 32\n  - relu\n  - linear: 10\n"


def check(tmp_path, text: str):
    path = tmp_path / "t.yaml"
    path.write_text(text)
    result = CliRunner().invoke(main, ["check", str(path)])
    return result.exit_code, result.output.replace(str(path), "t.yaml")


@pytest.mark.parametrize("layers, train, expected", [
    ("", "  data: digits\n  epcohs: 3\n",
     "t.yaml:9:3: error: train: unknown key `epcohs`\n  hint: did you mean `epochs`?"),
    ("", "  data: digits\n  optimizer: {adma: 0.01}\n",
     "t.yaml:9:15: error: unknown optimizer `adma`\n  hint: did you mean `adam`?"),
    ("", "  data: digits\n  schedule: {poly: {powr: 2}}\n",
     "t.yaml:9:21: error: schedule poly: unknown key `powr`"),
    ("", "  data: {name: digitz}\n",
     "t.yaml:8:16: error: unknown data set `digitz`\n  hint: did you mean `digits`?"),
    ("", "  data: digits\n  loss: bce\n",
     "t.yaml:9:9: error: the loss `bce` expects probabilities in [0, 1], but the network ends "
     "with linear '2', which outputs unbounded values (logits)\n  hint: end the network with "
     "`sigmoid`, or use `loss: bce_logits`, which takes the logits and applies it itself"),
    ("", "  data: digits\n  loss: nll\n",
     "t.yaml:9:9: error: the loss `nll` expects log-probabilities (values <= 0 whose "
     "exponentials sum to 1), but the network ends with linear '2', which outputs unbounded "
     "values (logits)\n  hint: end the network with `log_softmax`, or use `loss: "
     "cross_entropy`"),
    ("  - softmax\n", "  data: digits\n  loss: nll\n",
     "t.yaml:10:9: error: the loss `nll` expects log-probabilities"),
])
def test_check_refuses_a_wrong_train_section(tmp_path, layers, train, expected):
    code, out = check(tmp_path, NET + layers + "train:\n" + train)
    assert code == 1
    assert expected in out, out


def test_cross_entropy_on_one_unit_is_refused(tmp_path):
    text = NET.replace("linear: 10", "linear: 1") + "train:\n  data: digits\n  loss: cross_entropy\n"
    code, out = check(tmp_path, text)
    assert code == 1 and "the network outputs one unit ([1], from linear '2')" in out
    assert "`loss: bce_logits` on one unit" in out


def test_softmax_before_cross_entropy_is_a_warning(tmp_path):
    code, out = check(tmp_path, NET + "  - softmax\ntrain:\n  data: digits\n  loss: cross_entropy\n")
    assert code == 0
    assert "t.yaml:10:9: warning: the network ends with softmax (it outputs probabilities), but " \
           "the loss `cross_entropy` expects logits" in out


@pytest.mark.parametrize("layers, loss", [("", "cross_entropy"), ("  - sigmoid\n", "bce"),
                                          ("  - log_softmax\n", "nll"), ("", "hinge"),
                                          ("", "bce_logits")])
def test_matching_losses_pass(tmp_path, layers, loss):
    code, out = check(tmp_path, NET + layers + f"train:\n  data: digits\n  loss: {loss}\n")
    assert code == 0 and "warning" not in out and "error" not in out, out


def test_train_stops_on_the_mismatch_before_writing(tmp_path):
    text = NET + "train:\n  data: digits\n  loss: bce\n"
    with pytest.raises(netspec.SpecError, match=r"the loss `bce` expects probabilities"):
        netspec.train(netspec.loads(text, str(tmp_path / "t.yaml")), out=str(tmp_path / "runs"),
                      quiet=True)
    assert not (tmp_path / "runs").exists()


def test_check_with_a_train_section_imports_no_torch(tmp_path):
    path = tmp_path / "t.yaml"
    path.write_text(NET + "train:\n  data: digits\n  loss: cross_entropy\n"
                    "  optimizer: {radam: 1.0e-3}\n  schedule: {poly: 0.9}\n")
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netspec", "check",
                           str(path)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = {line.split("|")[-1].strip().split(".")[0] for line in done.stderr.splitlines()
                if line.startswith("import time:")}
    assert "torch" not in imported and "netspec" in imported


def test_schema_describes_the_train_section():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    train = schema["properties"]["train"]
    assert {"data", "epochs", "optimizer", "schedule", "loss", "augment", "metrics",
            "early_stopping"} <= set(train["properties"])
    assert train["additionalProperties"] is False
    names = train["properties"]["optimizer"]["anyOf"][0]["enum"]
    assert {"sgd", "adam", "adagrad", "adadelta", "nadam", "radam"} <= set(names)
    assert {"smooth_l1", "hinge", "bce_logits"} <= set(train["properties"]["loss"]["anyOf"][0]["enum"])
    assert "poly" in train["properties"]["schedule"]["anyOf"][0]["enum"]
    data = train["properties"]["data"]["anyOf"]
    assert "digits" in data[0]["enum"] and {"csv", "npz", "val", "size"} <= set(data[1]["properties"])
    for ref in _refs(train):
        assert ref.removeprefix("#/$defs/") in schema["$defs"], ref


def _refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref":
                yield v
            else:
                yield from _refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from _refs(v)


def test_schema_accepts_every_shipped_train_section():
    from test_jsonschema import valid

    from netspec.lang.yaml_loader import load_yaml

    schema = json.loads(CliRunner().invoke(main, ["schema"]).output)
    train = schema["properties"]["train"]
    sections = [load_yaml(p.read_text(), str(p)).get("train")
                for p in sorted((ROOT / "specs").glob("*.yaml"))]
    sections = [s for s in sections if s]
    assert sections
    for section in sections:
        assert valid(section, train, schema), section
    assert not valid({"data": "digits", "epcohs": 3}, train, schema)
    assert not valid({"data": "digits", "optimizer": {"adma": 0.1}}, train, schema)
    # a spec param or an expression may stand for any value of the section
    assert valid({"data": {"name": "shapes", "size": "$size"}, "epochs": "$(2 * depth)",
                  "optimizer": {"adam": {"lr": "$lr"}}}, train, schema)
    assert not valid({"data": "digits", "epochs": "$ not a name"}, train, schema)
