"""`check --count TOOL` (DESIGN §3b): the MAC total as each tool counts it.

Differential: each zoo network is built with netspec.build and the real tool runs on it
(fvcore FlopCountAnalysis, thop profile, ptflops get_model_complexity_info with its default
backend); our static total must equal the tool's own, exactly. Two small specs cover the kinds
the zoo leaves out (group/instance norm, upsampling, every pool, prelu/elu/silu/softmax, GRU,
RNN, stacked LSTM, cross and causal attention, matmul). thop and ptflops find a module's rule
by its exact type, so netspec's nn.LSTM/GRU/RNN/MultiheadAttention subclasses are handed the
tool's own hook through its custom-hook argument (ptflops' attention hook unpacks (q, k, v),
netspec's forward takes (q[, kv])).

torchvision is not installed beside our torch: its convention is checked against the GFLOPS it
publishes (`weights.meta["_ops"]`, 3 decimals) and, slow, against FlopCounterMode / 2.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.kinds import kinds
from netspec.kinds.conventions import conventions, count_summary
from netspec.report import check

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"

MAPS = """\
name: maps
input: [4, 10, 10]
layers:
  - conv: {out: 8, kernel: 3, padding: 1, bias: false}
  - groupnorm: 4
  - prelu: {channels: true}
  - conv_transpose: {out: 8, kernel: 4, stride: 2, padding: 1, groups: 2}
  - instancenorm: {affine: true}
  - elu
  - upsample: {scale: 2, mode: bilinear}
  - batchnorm: {track_running_stats: false}
  - leaky_relu
  - maxpool: 2
  - upsample: {size: [30, 30]}
  - relu6
  - adaptive_avgpool: [7, 7]
  - silu
  - avgpool: {kernel: 3, stride: 2, padding: 1}
  - conv: {out: 6, kernel: 1}
  - gelu
  - global_avgpool
  - softmax
  - linear: 5
  - log_softmax
"""

SEQUENCES = """\
name: sequences
input: [10, 16]
layers:
  - layernorm: {}
    id: x
  - linear: {out: 16, bias: false}
    id: q
  - attention: 4
    from: [q, x]
  - gru: {hidden: 8, layers: 2, bidirectional: true}
    id: g
  - permute: [0, 2, 1]
    id: t
  - matmul: {}
    from: [g, t]
  - softmax: {dim: -1}
  - rnn: {hidden: 12, bias: false}
  - attention: {heads: 3, causal: true, bias: false}
  - lstm: {hidden: 6, layers: 3}
  - lstm_cell: {hidden: 5, bias: false}
  - layernorm: {affine: false}
"""


def _quiet():
    """The tools print and warn per module; keep the test output readable."""
    stack = contextlib.ExitStack()
    stack.enter_context(contextlib.redirect_stdout(io.StringIO()))
    stack.enter_context(warnings.catch_warnings())
    warnings.simplefilter("ignore")
    logging.disable(logging.WARNING)
    stack.callback(logging.disable, logging.NOTSET)
    return stack


def _built(spec_path):
    """(report, eval model, one-sample input) with `seq` bound to 12."""
    import torch

    report = check(spec_path, None, {"seq": 12})
    model = netspec.build(spec_path, bindings={"seq": 12}).eval()
    inp = next(iter(report.graph.inputs.values()))
    x = (torch.randint(0, 10, (1, *inp.shape)) if inp.dtype == "long"
         else torch.randn(1, *inp.shape))
    return report, model, x


def _fvcore(model, x) -> int:
    from fvcore.nn import FlopCountAnalysis

    analysis = FlopCountAnalysis(model, (x,))
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def _thop(model, x) -> int:
    from thop import profile
    from thop.rnn_hooks import count_gru, count_lstm, count_rnn

    from netspec.kinds.modules import GRULayer, LSTMLayer, RNNLayer

    own = {LSTMLayer: count_lstm, GRULayer: count_gru, RNNLayer: count_rnn}
    return int(profile(model, (x,), custom_ops=own, verbose=False)[0])


def _ptflops(model, x) -> int:
    from ptflops import get_model_complexity_info
    from ptflops.pytorch_ops import MODULES_MAPPING
    from torch import nn

    from netspec.kinds.modules import Attention, GRULayer, LSTMLayer, RNNLayer

    def attention(module, inputs, output):
        q = inputs[0]
        kv = inputs[1] if len(inputs) > 1 else q
        MODULES_MAPPING[nn.MultiheadAttention](module, (q, kv, kv), output)

    own = {Attention: attention, LSTMLayer: MODULES_MAPPING[nn.LSTM],
           GRULayer: MODULES_MAPPING[nn.GRU], RNNLayer: MODULES_MAPPING[nn.RNN]}
    macs, _ = get_model_complexity_info(model, tuple(x.shape[1:]), as_strings=False,
                                        print_per_layer_stat=False, custom_modules_hooks=own,
                                        input_constructor=lambda _: x)
    assert macs is not None, "ptflops failed on the model (it prints why)"
    return int(macs)


TOOLS = {"fvcore": _fvcore, "thop": _thop, "ptflops": _ptflops}

FAST = ["lenet5", "resnet18_tv", "googlenet_tv", "mobilenet_v3_large_tv",
        "dcgan_generator", "unet", "lstm_seq", "lstm_cell_seq", "text_transformer"]
SLOW = ["alexnet_tv", "vgg11_tv", "vit_b_16", "densenet121_tv", "convnext_tiny",
        "efficientnet_b0_tv", "shufflenet_v2_x1_0_tv", "patchgan_discriminator", "resnet50_tv"]


def _cases():
    for name in FAST:
        yield pytest.param(SPECS / f"{name}.yaml", id=name)
    for name in SLOW:
        yield pytest.param(SPECS / f"{name}.yaml", id=name, marks=pytest.mark.slow)
    yield pytest.param(MAPS, id="maps")
    yield pytest.param(SEQUENCES, id="sequences")


@pytest.mark.parametrize("spec", list(_cases()))
def test_each_tool_counts_what_we_say_it_counts(spec, tmp_path):
    import torch

    torch.manual_seed(0)
    if isinstance(spec, str):
        (tmp_path / "spec.yaml").write_text(spec, encoding="utf-8")
        spec = tmp_path / "spec.yaml"
    report, model, x = _built(spec)
    with _quiet():
        theirs = {name: run(model, x) for name, run in TOOLS.items()}
    ours = {name: conventions()[name].total(report.graph) for name in TOOLS}
    assert ours == theirs


# torchvision's published GFLOPS (weights.meta["_ops"] in torchvision/models/*.py)
PUBLISHED = {
    "alexnet_tv": 0.714, "vgg11_tv": 7.609, "resnet18_tv": 1.814, "resnet50_tv": 4.089,
    "googlenet_tv": 1.498, "mobilenet_v3_large_tv": 0.217, "densenet121_tv": 2.834,
    "efficientnet_b0_tv": 0.386, "shufflenet_v2_x1_0_tv": 0.145, "convnext_tiny": 4.456,
    "vit_b_16": 17.564,
}


@pytest.mark.parametrize("name,gflops", sorted(PUBLISHED.items()))
def test_torchvision_convention_gives_its_published_figures(name, gflops):
    summary = count_summary("torchvision", check(SPECS / f"{name}.yaml").graph)
    assert round(summary["macs"] / 1e9, 3) == gflops


@pytest.mark.slow
@pytest.mark.parametrize("name", ["lenet5", "alexnet_tv", "resnet18_tv", "googlenet_tv",
                                  "mobilenet_v3_large_tv", "dcgan_generator", "unet"])
def test_torchvision_convention_is_flop_counter_mode_halved(name):
    """torch's FlopCounterMode (2 flops per multiply-add) on networks without attention or
    recurrent layers: on CPU it has no formula for the fused kernels torch picks for those."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    report, model, x = _built(SPECS / f"{name}.yaml")
    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    assert conventions()["torchvision"].total(report.graph) * 2 == counter.get_total_flops()


# ---- the command ------------------------------------------------------------------------------

def test_check_count_prints_the_total_and_what_differs():
    result = CliRunner().invoke(main, ["check", str(SPECS / "dcgan_generator.yaml"),
                                       "--count", "thop"])
    assert result.exit_code == 0, result.output
    total = conventions()["thop"].total(check(SPECS / "dcgan_generator.yaml").graph)
    assert f"MACs (thop) {total:,} (+309.9% on netspec's 104,628,224)" in result.output
    assert "thop counts: " in result.output and "transposed conv per output position" in \
        result.output


def test_check_count_json_adds_the_count_key_only_when_asked():
    spec = str(SPECS / "resnet18_tv.yaml")
    plain = json.loads(CliRunner().invoke(main, ["check", spec, "--json"]).output)
    counted = json.loads(CliRunner().invoke(main, ["check", spec, "--json", "--count",
                                                   "fvcore"]).output)
    assert "count" not in plain
    assert counted.pop("count") == {"convention": "fvcore", "macs": 1_819_040_768,
                                    "note": conventions()["fvcore"].differs}
    assert counted == plain


def test_an_unknown_convention_is_command_misuse_with_the_choices():
    result = CliRunner().invoke(main, ["check", str(SPECS / "lenet5.yaml"), "--count",
                                       "fvcor"])
    assert result.exit_code == 2
    assert ("no MAC convention 'fvcor': choose one of torchvision, fvcore, thop, ptflops; "
            "did you mean 'fvcore'?") in result.output


def test_every_convention_says_what_differs_in_one_line():
    assert list(conventions()) == ["torchvision", "fvcore", "thop", "ptflops"]
    for convention in conventions().values():
        assert convention.differs and "\n" not in convention.differs
        assert set(convention.rules) <= set(kinds()), convention.name


def test_check_count_stays_torch_free():
    import subprocess
    import sys

    code = ("import sys; from netspec.cli.main import main\n"
            "try:\n    main(['check', 'specs/dcgan_generator.yaml', '--count', 'ptflops'])\n"
            "except SystemExit:\n    pass\n"
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "MACs (ptflops)" in done.stdout and done.stdout.strip().endswith("False")
