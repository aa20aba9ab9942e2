"""Spec-level `params:` and `variants:`, `--variant` and `--set`: the values in effect, their
precedence, their errors, and a run that rebuilds the variant it was trained as."""

from __future__ import annotations

import csv
import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.graph.load import load, loads
from netspec.lang.inline import inline
from netspec.lang.settings import OverrideError, parse_setting
from netspec.report import check

CNN = """\
name: cnn
params:
  width: 8
  depth: 1
  size: 16
  act: {default: relu, choices: [relu, gelu]}
variants:
  wide: {width: 24}
  deep: {depth: 3, width: 12}
  quick: {depth: 2, train.epochs: 1}
input: [3, $size, $size]
layers:
  - conv: {out: $width, kernel: 3, padding: 1}
  - $act
  - conv: {out: $width, kernel: 3, padding: 1}
    repeat: $depth
  - global_avgpool
  - flatten
  - linear: $(width * 2)
  - linear: 10
train:
  data: digits
  epochs: 2
  lr: 0.01
"""

MLP = """\
name: digits_mlp
params: {hidden: 16}
variants:
  big: {hidden: 40}
  small: {hidden: 8}
input: [64]
layers:
  - linear: $hidden
  - relu
  - linear: 10
train:
  data: digits
  epochs: $(1 + 1)
  batch_size: 32
  threads: 1
"""


def cli(*args):
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert not isinstance(result.exception, Exception) or isinstance(result.exception,
                                                                      SystemExit), result.output
    return result


@pytest.fixture
def cnn(tmp_path: Path) -> Path:
    path = tmp_path / "cnn.yaml"
    path.write_text(CNN)
    return path


def torch_cnn(width: int, depth: int, act: str = "relu"):
    """The same network in plain torch."""
    from torch import nn

    layers = [nn.Conv2d(3, width, 3, padding=1), nn.ReLU() if act == "relu" else nn.GELU()]
    layers += [nn.Conv2d(width, width, 3, padding=1) for _ in range(depth)]
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, width * 2),
               nn.Linear(width * 2, 10)]
    return nn.Sequential(*layers)


@pytest.mark.parametrize("variant, settings, width, depth", [
    (None, (), 8, 1),
    ("wide", (), 24, 1),
    ("deep", (), 12, 3),
    ("deep", ("width=5",), 5, 3),          # --set wins over --variant
    (None, ("depth=4", "depth=2"), 8, 2),  # the last --set wins
])
def test_variants_give_the_networks_of_plain_torch(cnn, variant, settings, width, depth):
    spec = load(cnn, variant=variant, settings=settings)
    assert (spec.params["width"], spec.params["depth"]) == (width, depth)
    expected = sum(p.numel() for p in torch_cnn(width, depth).parameters())
    assert check(spec).params == expected
    model = netspec.build(spec)
    assert sum(p.numel() for p in model.parameters()) == expected


def test_params_reach_the_input_shape_and_the_train_section(cnn):
    spec = load(cnn, settings={"size": 32, "train.epochs": 5, "train.batch_size": 8})
    assert spec.inputs["input"].shape == (3, 32, 32)
    assert (spec.train["epochs"], spec.train["batch_size"]) == (5, 8)
    assert load(cnn, variant="quick").train["epochs"] == 1
    mlp = loads(MLP)
    assert mlp.train["epochs"] == 2


def test_set_train_lr_is_the_learning_rate(cnn):
    from netspec.training.config import resolve

    assert resolve(load(cnn)).lr == 0.01
    assert resolve(load(cnn, settings=["train.lr=0.25"])).lr == 0.25
    assert resolve(load(cnn, settings=["train.lr=0.25"]), lr=0.5).lr == 0.5   # the flag wins


def test_a_choice_param_takes_a_kind(cnn):
    spec = load(cnn, settings=["act=gelu"])
    kinds = [row["kind"] for row in check(spec).to_json()["layers"]]
    assert "gelu" in kinds and "relu" not in kinds


def test_api_takes_variant_and_set(cnn):
    assert netspec.load(cnn, variant="wide").params["width"] == 24
    assert netspec.check(cnn, variant="wide", set={"width": 4}).params == \
        sum(p.numel() for p in torch_cnn(4, 1).parameters())
    model = netspec.build(str(cnn), variant="deep")
    assert sum(p.numel() for p in model.parameters()) == \
        sum(p.numel() for p in torch_cnn(12, 3).parameters())


def test_check_json_reports_what_chose_the_network(cnn, tmp_path):
    out = cli("check", cnn, "--json", "--variant", "deep", "--set", "width=6")
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    assert report["variant"] == {"name": "deep", "params": {"width": 6, "depth": 3, "size": 16,
                                                            "act": "relu"},
                                 "set": {"width": 6}}
    assert set(report) == {"name", "inputs", "outputs", "layers", "params", "macs", "variant"}
    plain = tmp_path / "plain.yaml"
    plain.write_text("input: [4]\nlayers: [{linear: 2}]\n")
    assert "variant" not in json.loads(cli("check", plain, "--json").output)
    table = cli("check", cnn, "--variant", "wide").output
    assert table.startswith("params (variant wide): width=24, depth=1, size=16, act='relu'")


@pytest.mark.parametrize("args, message", [
    (["--variant", "wdie"], "the spec has no variant 'wdie' (variants: wide, deep, quick); "
                            "did you mean `wide`?"),
    (["--set", "widht=3"], "the spec has no param 'widht' (params: width, depth, size, act); "
                           "did you mean `width`?"),
    (["--set", "width=3.5"], "`width` takes an integer (it is 8 in `params:`), got 3.5"),
    (["--set", "width=.nan"], "`width` takes a finite number, got NaN"),
    (["--set", "act=gleu"], "`act` is one of 'relu', 'gelu', got 'gleu' (did you mean `gelu`?)"),
    (["--set", "width"], "'width' is not NAME=VALUE"),
    (["--set", "width="], "'width=' gives no value after `=`"),
    (["--set", "input.shape=[3]"], "only keys of `train:` are set with a dotted name"),
])
def test_callers_mistakes_are_usage_errors(cnn, args, message):
    out = cli("check", cnn, *args)
    assert out.exit_code == 2, out.output
    assert message in " ".join(out.output.split())
    assert "Traceback" not in out.output


def test_an_unknown_variant_is_a_value_error_in_the_api(cnn):
    with pytest.raises(OverrideError, match=r"no variant 'huge' \(variants: wide, deep, quick\)"):
        netspec.load(cnn, variant="huge")
    with pytest.raises(ValueError, match="is not NAME=VALUE"):
        parse_setting("depth")


@pytest.mark.parametrize("text, message", [
    ("params: {width: 8}\nvariants: {wide: {widht: 24}}\n",
     "net.yaml:2:19: error: variant 'wide' sets 'widht', which is not a param of the spec "
     "(params: width)\n  hint: did you mean `width`?"),
    ("params: {width: 8}\nvariants: {wide: {width: .nan}}\n",
     "net.yaml:2:26: error: variant 'wide': `width` takes a finite number, got NaN"),
    ("params: {width: 8}\nvariants: {wide: {input.shape: 3}}\n",
     "net.yaml:2:19: error: variant 'wide' sets 'input.shape': a dotted name sets a key of "
     "`train:` (`train.epochs`)"),
    ("params: {width: .nan}\n", "net.yaml:1:17: error: `width` takes a finite number, got NaN"),
    ("params: {in: 3}\n", "net.yaml:1:10: error: param 'in' must be a name other than `in` "
                          "and `prev`"),
    ("params: {width: null}\n", "net.yaml:1:10: error: param `width` has no value"),
    ("params: {act: {default: tanh, choices: [relu]}}\n",
     "net.yaml:1:25: error: the default 'tanh' of param `act` is not one of its choices"),
])
def test_the_specs_own_mistakes_are_located(text, message):
    body = text + "input: [4]\nlayers:\n  - linear: 2\n"
    with pytest.raises(SpecError) as err:
        loads(body, "net.yaml")
    assert message in err.value.render()


def test_a_null_param_takes_its_value_from_the_caller():
    text = "params: {width: null}\ninput: [4]\nlayers:\n  - linear: $width\n"
    assert check(loads(text, settings={"width": 3})).params == 4 * 3 + 3


def test_an_undeclared_name_in_input_is_located():
    with pytest.raises(SpecError) as err:
        loads("input: [3, $size]\nlayers:\n  - flatten\n", "net.yaml")
    assert "net.yaml:1:12: error: in `$size`: unknown name `size`" in err.value.render()
    assert "declare it there" in err.value.render()


def test_a_block_body_sees_its_own_params_only():
    text = textwrap.dedent("""\
        params: {width: 8}
        blocks:
          wide:
            params: {out: null}
            layers:
              - linear: $width
        input: [4]
        layers:
          - wide: {out: 2}
        """)
    with pytest.raises(SpecError, match="unknown name `width`"):
        check(loads(text, "net.yaml"))
    passed = text.replace("linear: $width", "linear: $out").replace("out: 2", "out: $width")
    assert check(loads(passed, "net.yaml")).params == 4 * 8 + 8


def test_the_inlined_spec_is_the_network_chosen(cnn):
    spec = load(cnn, variant="deep", settings=["width=6", "train.epochs=1", "act=gelu"])
    text = inline(spec)
    assert text.startswith("# cnn: self-contained; the params in effect (variant deep, "
                           "--set width=6, --set train.epochs=1, --set act=gelu) are written out")
    again = loads(text, "spec.yaml")
    assert again.params == spec.params and again.variants == {}
    assert check(again).params == check(spec).params
    assert again.train["epochs"] == 1
    assert load(cnn).source == inline(load(cnn))     # nothing chosen: the file as written


def test_a_run_rebuilds_its_variant_for_eval_resume_and_export(tmp_path):
    spec = tmp_path / "mlp.yaml"
    spec.write_text(MLP)
    runs = tmp_path / "runs"
    out = cli("train", spec, "--variant", "big", "--set", "train.epochs=1", "--out", runs, "-q")
    assert out.exit_code == 0, out.output
    run = runs / "digits_mlp" / "1"
    assert json.loads((run / "run.json").read_text())["variant"] == "big"
    trained = load(run / "spec.yaml")
    assert trained.params == {"hidden": 40}
    assert check(trained).params == 64 * 40 + 40 + 40 * 10 + 10

    evaluated = cli("eval", run, "--json")
    assert evaluated.exit_code == 0, evaluated.output
    assert json.loads(evaluated.output)["samples"] > 0
    assert cli("eval", run, "--variant", "big").exit_code == 0

    other = cli("train", "--resume", run, "--variant", "small", "-q")
    assert other.exit_code == 2
    assert "was trained as variant 'big', not 'small'" in " ".join(other.output.split())
    param = cli("train", "--resume", run, "--set", "hidden=8", "-q")
    assert param.exit_code == 2 and "was trained with hidden=40" in param.output
    resumed = cli("train", "--resume", run, "--set", "train.epochs=2", "-q")
    assert resumed.exit_code == 0, resumed.output
    with open(run / "metrics.csv") as rows:
        assert [row["epoch"] for row in csv.DictReader(rows)] == ["1", "2"]

    onnx = tmp_path / "mlp.onnx"
    exported = cli("export", run, "-o", onnx)
    assert exported.exit_code == 0, exported.output
    assert onnx.is_file()


def test_draw_takes_the_variant(cnn, tmp_path):
    plain, deep = tmp_path / "plain.dot", tmp_path / "deep.dot"
    assert cli("draw", cnn, "-o", plain).exit_code == 0
    out = cli("draw", cnn, "-o", deep, "--variant", "deep")
    assert out.exit_code == 0, out.output
    # the deep variant's convs have 12 channels (8 without it)
    assert "[12, 16, 16]" in deep.read_text(encoding="utf-8")
    assert "[12, 16, 16]" not in plain.read_text(encoding="utf-8")
    assert cli("draw", cnn, "-o", deep, "--variant", "huge").exit_code == 2
