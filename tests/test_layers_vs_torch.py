"""The static check against plain torch (issue 3's acceptance).

For every registered layer kind, a table of (kind, args, input shape) rows: the output shape and
parameter count that `netspec.check` infers without torch must equal those of the torch module
an experienced user would write (tests/layer_cases.py, built from torch.nn alone). Then
hypothesis: generated sequential and branching specs against hand-assembled torch networks,
and random conv/pool windows where check must refuse exactly what torch refuses.
"""

from __future__ import annotations

import json

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

import netspec
from netspec.kinds import kinds
from layer_cases import CASES, Case, Recurrent
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)
from spec_strategies import networks

# torch's own notes on cases the tables make on purpose (even kernels with `same`, empty maps)
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning",
    "ignore:Initializing zero-element tensors:UserWarning",
    "ignore:TF32 acceleration on top of oneDNN:UserWarning")


def static_layer(text: str):
    """The last layer of the checked spec: (shape, params)."""
    report = netspec.check(netspec.loads(text))
    node = list(report.graph)[-1]
    return node.shape, node.params


def torch_numbers(case: Case):
    torch.manual_seed(0)
    ref = case.ref().eval()
    with torch.no_grad():
        out = ref(*case.example())
    return tuple(out.shape[1:]), sum(p.numel() for p in ref.parameters())


def test_every_kind_has_rows():
    missing = set(kinds()) - {c.kind for c in CASES}
    assert not missing, f"layer kinds without a row in tests/layer_cases.py: {sorted(missing)}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_static_shape_and_params_equal_torch(case: Case):
    shape, params = static_layer(case.spec_text())
    want_shape, want_params = torch_numbers(case)
    assert shape == want_shape
    assert params == want_params


@pytest.mark.parametrize("kind, args, want_params", [
    ("lstm", {"hidden": 8}, nn.LSTM(4, 8)),
    ("lstm_cell", {"hidden": 8}, nn.LSTM(4, 8)),
    ("lstm_cell", {"hidden": 3, "bias": False}, nn.LSTM(4, 3, bias=False)),
    ("gru", {"hidden": 8, "layers": 2, "bidirectional": True},
     nn.GRU(4, 8, num_layers=2, bidirectional=True)),
], ids=["lstm", "lstm_cell", "lstm_cell-nobias", "gru-2-bi"])
def test_recurrent_params_equal_torch(kind, args, want_params):
    """lstm_cell (an input and a hidden linear) counts exactly as a one-layer nn.LSTM."""
    text = json.dumps({"input": [5, 4], "layers": [{kind: args}]})
    assert static_layer(text)[1] == sum(p.numel() for p in want_params.parameters())


def test_symbolic_sequence_dims_stay_symbolic():
    shape, _ = static_layer('{"input": ["seq", 4], "layers": [{"lstm": {"hidden": 8, '
                            '"bidirectional": true}}]}')
    assert shape == ("seq", 16)
    shape, _ = static_layer('{"input": ["seq", 4], "layers": [{"gru": {"hidden": 8, '
                            '"return": "last"}}]}')
    assert shape == (8,)


# ---- what torch refuses, check refuses too ------------------------------------------------

ERRORS = [
    ("conv", {"out": 4, "kernel": 3, "stride": 2, "padding": "same"}, (2, 8, 8),
     lambda: nn.Conv2d(2, 4, 3, 2, padding="same")),
    ("conv", {"out": 4, "kernel": 3, "groups": 3}, (4, 8, 8), lambda: nn.Conv2d(4, 4, 3, groups=3)),
    ("conv", {"out": 4, "kernel": 3, "groups": 3}, (3, 8, 8), lambda: nn.Conv2d(3, 4, 3, groups=3)),
    ("conv", {"out": 4, "kernel": 5}, (2, 3, 3), lambda: nn.Conv2d(2, 4, 5)),
    ("conv", {"out": 4, "kernel": 3, "dilation": 3}, (2, 6, 9), lambda: nn.Conv2d(2, 4, 3,
                                                                                   dilation=3)),
    ("conv", {"out": 4, "kernel": [3, 3, 3]}, (2, 8, 8), lambda: nn.Conv2d(2, 4, (3, 3, 3))),
    ("conv_transpose", {"out": 4, "kernel": 3, "stride": 2, "output_padding": 2}, (2, 5, 5),
     lambda: nn.ConvTranspose2d(2, 4, 3, 2, output_padding=2)),
    ("maxpool", {"kernel": 3, "padding": 2}, (2, 8, 8), lambda: nn.MaxPool2d(3, padding=2)),
    ("avgpool", {"kernel": 2, "padding": 2}, (2, 8, 8), lambda: nn.AvgPool2d(2, padding=2)),
    ("conv", {"out": 4, "kernel": 1, "padding": -1}, (2, 5, 5),
     lambda: nn.Conv2d(2, 4, 1, padding=-1)),
    ("conv_transpose", {"out": 3, "kernel": 1, "padding": 1}, (2, 1, 1),
     lambda: nn.ConvTranspose2d(2, 3, 1, padding=1)),
    ("conv_transpose", {"out": 3, "kernel": 2, "padding": -1}, (2, 4, 4),
     lambda: nn.ConvTranspose2d(2, 3, 2, padding=-1)),
    ("conv_transpose", {"out": 4, "kernel": 2, "groups": 0}, (4, 8, 8),
     lambda: nn.ConvTranspose2d(4, 4, 2, groups=0)),
    ("lstm_cell", 0, (3, 2), lambda: Recurrent(nn.LSTM(2, 0, batch_first=True))),
    ("maxpool", 2, (2, 1, 1), lambda: nn.MaxPool2d(2)),
    ("maxpool", {"kernel": 2, "padding": -1}, (2, 6, 6), lambda: nn.MaxPool2d(2, padding=-1)),
    ("avgpool", 3, (2, 4, 2), lambda: nn.AvgPool2d(3)),
    ("conv", {"out": 2, "kernel": 5, "padding": 3, "padding_mode": "reflect"}, (2, 3),
     lambda: nn.Conv1d(2, 2, 5, padding=3, padding_mode="reflect")),
    ("conv", {"out": 2, "kernel": 4, "padding": "same", "padding_mode": "reflect"}, (2, 2, 5),
     lambda: nn.Conv2d(2, 2, 4, padding="same", padding_mode="reflect")),
    ("conv", {"out": 2, "kernel": 3, "padding": 4, "padding_mode": "circular"}, (2, 3),
     lambda: nn.Conv1d(2, 2, 3, padding=4, padding_mode="circular")),
    ("upsample", 0.3, (3, 2, 2), lambda: nn.Upsample(scale_factor=0.3)),
    ("upsample", {"size": 0}, (3, 2, 2), lambda: nn.Upsample(size=0)),
    ("upsample", {"scale": 2, "mode": "bilinear"}, (3, 4),
     lambda: nn.Upsample(scale_factor=2.0, mode="bilinear")),
    ("upsample", {"scale": 2, "mode": "linear"}, (3, 4, 4),
     lambda: nn.Upsample(scale_factor=2.0, mode="linear")),
    ("upsample", {"scale": 2, "align_corners": True}, (3, 4, 4),
     lambda: nn.Upsample(scale_factor=2.0, align_corners=True)),
    ("lrn", 0, (4, 3, 3), lambda: nn.LocalResponseNorm(0)),
    ("embedding", {"vocab": 5, "dim": 3, "padding_idx": 7}, (4,),
     lambda: nn.Embedding(5, 3, padding_idx=7)),
    ("rnn", {"hidden": 4, "dropout": 1.5}, (3, 2), lambda: nn.RNN(2, 4, dropout=1.5)),
    ("instancenorm", None, (4, 1, 1), lambda: nn.InstanceNorm2d(4)),     # in training
    ("groupnorm", 4, (6, 4, 4), lambda: nn.GroupNorm(4, 6)),
    ("layernorm", {"dims": 3}, (5, 6), lambda: nn.LayerNorm((4, 5, 6))),
    ("softmax", 3, (3, 4), lambda: nn.Softmax(3)),
    ("flatten", {"start": 3}, (3, 4), lambda: nn.Flatten(3)),
    ("reshape", [7, -1], (12,), lambda: _Fn(lambda x: x.reshape(x.shape[0], 7, -1))),
    ("reshape", [5, 3], (12,), lambda: _Fn(lambda x: x.reshape(x.shape[0], 5, 3))),
    ("permute", [0, 1, 1], (3, 4), lambda: _Fn(lambda x: x.permute(0, 1, 1))),
    ("add", {}, [(8, 4, 4), (4, 4, 4)], lambda: _Fn(lambda a, b: a + b)),
    ("mul", {}, [(3, 4), (3, 5)], lambda: _Fn(lambda a, b: a * b)),
    ("concat", {}, [(3, 4, 4), (3, 5, 4)], lambda: _Fn(lambda a, b: torch.cat([a, b], 1))),
    ("concat", {"dim": 4}, [(3, 4, 4), (3, 4, 4)],
     lambda: _Fn(lambda a, b: torch.cat([a, b], 4))),
]


class _Fn(nn.Module):
    def __init__(self, fn):
        super().__init__()
        self.fn = fn

    def forward(self, *xs):
        return self.fn(*xs)


@pytest.mark.parametrize("kind, args, ins, ref", ERRORS,
                         ids=[f"{k}-{i}" for i, (k, *_) in enumerate(ERRORS)])
def test_check_refuses_what_torch_refuses(kind, args, ins, ref):
    case = Case(kind, args, tuple(ins) if isinstance(ins, tuple) else tuple(map(tuple, ins)),
                ref, "long" if kind == "embedding" else "float")
    with pytest.raises((RuntimeError, ValueError, IndexError, TypeError, AssertionError)):
        ref()(*case.example())
    with pytest.raises(netspec.SpecError):
        netspec.check(netspec.loads(case.spec_text()))


# ---- random sliding windows ---------------------------------------------------------------

# the ranges include zero and negative values: check must refuse them where torch does

@st.composite
def conv_rows(draw):
    size = [draw(st.integers(1, 12)) for _ in range(draw(st.integers(1, 2)))]
    cin = draw(st.integers(1, 6))
    args = {"out": draw(st.integers(1, 6)), "kernel": draw(st.integers(0, 5)),
            "stride": draw(st.integers(0, 3)), "dilation": draw(st.integers(0, 3)),
            "groups": draw(st.integers(0, 3)),
            "padding": draw(st.one_of(st.integers(-1, 3), st.sampled_from(["same", "valid"])))}
    return args, (cin, *size)


@st.composite
def conv_transpose_rows(draw):
    # dilation 0 is left out: torch's transposed convs accept it, netspec refuses it
    size = [draw(st.integers(1, 8)) for _ in range(draw(st.integers(1, 2)))]
    args = {"out": draw(st.integers(1, 4)), "kernel": draw(st.integers(0, 4)),
            "stride": draw(st.integers(0, 3)), "dilation": draw(st.integers(1, 3)),
            "groups": draw(st.integers(0, 2)), "padding": draw(st.integers(-1, 3)),
            "output_padding": draw(st.integers(-1, 2))}
    return args, (draw(st.integers(1, 4)), *size)


@st.composite
def pool_rows(draw):
    size = [draw(st.integers(1, 12)) for _ in range(draw(st.integers(1, 2)))]
    args = {"kernel": draw(st.integers(0, 5)), "stride": draw(st.integers(0, 4)),
            "padding": draw(st.integers(-1, 3)), "ceil_mode": draw(st.booleans())}
    return draw(st.sampled_from(["maxpool", "avgpool"])), args, (2, *size)


def _agree(case: Case):
    """check and torch agree: both refuse, or both give the same shape and params."""
    try:
        want = torch_numbers(case)
    except Exception:     # noqa: BLE001 (torch refuses with several exception types)
        with pytest.raises(netspec.SpecError):
            netspec.check(netspec.loads(case.spec_text()))
        return
    if 0 in want[0]:      # torch gives an empty map; for netspec a size <= 0 is a mistake
        with pytest.raises(netspec.SpecError, match="output"):
            netspec.check(netspec.loads(case.spec_text()))
        return
    assert static_layer(case.spec_text()) == want


@settings(max_examples=150, deadline=None)
@given(conv_rows())
def test_random_conv_agrees_with_torch(row):
    args, ins = row
    cls = (nn.Conv1d, nn.Conv2d)[len(ins) - 2]
    _agree(Case("conv", args, ins, lambda: cls(ins[0], args["out"], args["kernel"],
                                               args["stride"], args["padding"],
                                               args["dilation"], args["groups"])))


@settings(max_examples=150, deadline=None)
@given(conv_transpose_rows())
def test_random_conv_transpose_agrees_with_torch(row):
    args, ins = row
    cls = (nn.ConvTranspose1d, nn.ConvTranspose2d)[len(ins) - 2]
    _agree(Case("conv_transpose", args, ins, lambda: cls(
        ins[0], args["out"], args["kernel"], args["stride"], args["padding"],
        args["output_padding"], args["groups"], True, args["dilation"])))


@settings(max_examples=150, deadline=None)
@given(pool_rows())
def test_random_pool_agrees_with_torch(row):
    kind, args, ins = row
    n = len(ins) - 2
    cls = {"maxpool": (nn.MaxPool1d, nn.MaxPool2d), "avgpool": (nn.AvgPool1d, nn.AvgPool2d)}
    _agree(Case(kind, args, ins, lambda: cls[kind][n](args["kernel"], args["stride"],
                                                      args["padding"],
                                                      ceil_mode=args["ceil_mode"])))


# ---- generated networks against hand-assembled torch ----------------------------------------

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks())
def test_generated_specs_equal_hand_assembled_torch(net):
    report = netspec.check(netspec.loads(net.spec_text()))
    ref = net.reference().eval()
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):   # see test_compile.py
        out = ref(torch.randn(2, *net.input))
    assert report.outputs["output"] == tuple(out.shape[1:])
    assert report.params == sum(p.numel() for p in ref.parameters())

