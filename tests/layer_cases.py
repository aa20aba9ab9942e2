"""The table of (kind, args, input shape) -> plain torch reference, shared by the static-check
tests (tests/test_layers_vs_torch.py) and the compile tests (tests/test_compile.py).

Each reference is a torch module written here from torch.nn alone, independently of netspec's
builders: it is what an experienced PyTorch user would write for that layer entry.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

import pytest
import torch
from torch import nn


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny tensors gain nothing from threads, and under `pytest -n 2` on two cores an OpenMP
    barrier waiting for a descheduled thread costs milliseconds per op (10x these tests' time)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


class Fn(nn.Module):
    """A parameter-free reference given as a function of the input tensor(s)."""

    def __init__(self, fn: Callable[..., torch.Tensor]):
        super().__init__()
        self.fn = fn

    def forward(self, *xs: torch.Tensor) -> torch.Tensor:
        return self.fn(*xs)


class Recurrent(nn.Module):
    """A batch-first torch recurrent layer returning the sequence, or the top layer's final
    hidden state (both directions concatenated) with last=True."""

    def __init__(self, rnn: nn.Module, last: bool = False):
        super().__init__()
        self.rnn, self.last = rnn, last

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, h = self.rnn(x)
        if isinstance(h, tuple):          # LSTM: (h_n, c_n)
            h = h[0]
        if not self.last:
            return out
        return torch.cat([h[-2], h[-1]], dim=1) if self.rnn.bidirectional else h[-1]


@dataclass(frozen=True)
class Case:
    kind: str
    args: Any                       # the YAML value: None, a scalar (short form) or a mapping
    ins: tuple                      # the per-sample input shape(s): one, or several for merges
    ref: Callable[[], nn.Module]    # the plain torch reference
    dtype: str = "float"

    @property
    def shapes(self) -> list[tuple]:
        return list(self.ins) if isinstance(self.ins[0], (tuple, list)) else [self.ins]

    @property
    def id(self) -> str:
        args = "" if self.args is None else json.dumps(self.args, separators=(",", ":"))
        return f"{self.kind}{args}@{'+'.join('x'.join(map(str, s)) for s in self.shapes)}"

    def spec_text(self) -> str:
        """A one-layer spec (JSON is YAML) for this case."""
        entry: dict = {self.kind: self.args}
        shapes = self.shapes
        if len(shapes) == 1:
            inp = {"shape": list(shapes[0]), "dtype": "long"} if self.dtype == "long" \
                else list(shapes[0])
            top = {"name": "case", "input": inp}
        else:
            top = {"name": "case", "inputs": {f"x{i}": list(s) for i, s in enumerate(shapes)}}
            entry["from"] = [f"x{i}" for i in range(len(shapes))]
        return json.dumps({**top, "layers": [entry]})

    def example(self, batch: int = 2, seed: int = 0) -> list[torch.Tensor]:
        g = torch.Generator().manual_seed(seed)
        if self.dtype == "long":
            vocab = self.args["vocab"]
            return [torch.randint(0, vocab, (batch, *s), generator=g) for s in self.shapes]
        return [torch.randn((batch, *s), generator=g) for s in self.shapes]


def _c(kind, args, ins, ref, dtype="float") -> Case:
    return Case(kind, args, tuple(ins) if not isinstance(ins[0], (list, tuple)) else
                tuple(tuple(s) for s in ins), ref, dtype)


def _conv_cases() -> list[Case]:
    C1, C2, C3 = nn.Conv1d, nn.Conv2d, nn.Conv3d
    T1, T2, T3 = nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d
    return [
        _c("conv", {"out": 6, "kernel": 3}, (4, 20), lambda: C1(4, 6, 3)),
        _c("conv", {"out": 6, "kernel": 3, "stride": 2, "padding": 1, "dilation": 2}, (4, 21),
           lambda: C1(4, 6, 3, stride=2, padding=1, dilation=2)),
        _c("conv", {"out": 5, "kernel": 4, "padding": "same"}, (2, 11),
           lambda: C1(2, 5, 4, padding="same")),
        _c("conv", {"out": 8, "kernel": 3, "padding": 1}, (3, 16, 16),
           lambda: C2(3, 8, 3, padding=1)),
        _c("conv", {"out": 8, "kernel": 3, "stride": 2}, (3, 7, 9), lambda: C2(3, 8, 3, 2)),
        _c("conv", {"out": 8, "kernel": [3, 5], "stride": [2, 1], "padding": [1, 2]}, (3, 15, 10),
           lambda: C2(3, 8, (3, 5), (2, 1), (1, 2))),
        _c("conv", {"out": 4, "kernel": 3, "dilation": 2}, (3, 12, 12),
           lambda: C2(3, 4, 3, dilation=2)),
        _c("conv", {"out": 4, "kernel": 3, "dilation": [1, 3], "padding": [1, 3]}, (2, 9, 9),
           lambda: C2(2, 4, 3, dilation=(1, 3), padding=(1, 3))),
        _c("conv", {"out": 6, "kernel": 3, "groups": 2}, (4, 8, 8), lambda: C2(4, 6, 3, groups=2)),
        _c("conv", {"out": 8, "kernel": 3, "groups": 8, "padding": 1}, (8, 6, 6),
           lambda: C2(8, 8, 3, padding=1, groups=8)),
        _c("conv", {"out": 16, "kernel": 3, "groups": 8, "stride": 2, "padding": 1}, (8, 9, 9),
           lambda: C2(8, 16, 3, 2, 1, groups=8)),
        _c("conv", {"out": 4, "kernel": 1, "bias": False}, (6, 5, 5),
           lambda: C2(6, 4, 1, bias=False)),
        _c("conv", {"out": 4, "kernel": 3, "padding": "same"}, (2, 7, 8),
           lambda: C2(2, 4, 3, padding="same")),
        _c("conv", {"out": 4, "kernel": 4, "padding": "same"}, (2, 7, 8),
           lambda: C2(2, 4, 4, padding="same")),
        _c("conv", {"out": 4, "kernel": [2, 5], "dilation": 2, "padding": "same"}, (2, 9, 6),
           lambda: C2(2, 4, (2, 5), dilation=2, padding="same")),
        _c("conv", {"out": 4, "kernel": 3, "padding": "valid"}, (2, 7, 8),
           lambda: C2(2, 4, 3, padding="valid")),
        _c("conv", {"out": 4, "kernel": 3, "padding": 1, "padding_mode": "reflect"}, (2, 6, 6),
           lambda: C2(2, 4, 3, padding=1, padding_mode="reflect")),
        _c("conv", {"out": 4, "kernel": 3, "padding": 2, "padding_mode": "circular"}, (2, 6, 6),
           lambda: C2(2, 4, 3, padding=2, padding_mode="circular")),
        _c("conv", {"out": 4, "kernel": 5}, (1, 5, 5), lambda: C2(1, 4, 5)),
        _c("conv", {"out": 4, "kernel": 3, "stride": [1, 2, 2], "padding": 1}, (2, 6, 8, 8),
           lambda: C3(2, 4, 3, (1, 2, 2), 1)),
        _c("conv", {"out": 3, "kernel": [1, 3, 3], "groups": 3}, (3, 4, 5, 6),
           lambda: C3(3, 3, (1, 3, 3), groups=3)),
        _c("conv_transpose", {"out": 4, "kernel": 3}, (2, 10), lambda: T1(2, 4, 3)),
        _c("conv_transpose", {"out": 4, "kernel": 4, "stride": 2, "padding": 1}, (6, 8, 8),
           lambda: T2(6, 4, 4, 2, 1)),
        _c("conv_transpose", {"out": 4, "kernel": 3, "stride": 2, "padding": 1,
                              "output_padding": 1}, (6, 7, 5),
           lambda: T2(6, 4, 3, 2, 1, output_padding=1)),
        _c("conv_transpose", {"out": 4, "kernel": [3, 2], "stride": [3, 2],
                              "output_padding": [2, 0]}, (2, 4, 5),
           lambda: T2(2, 4, (3, 2), (3, 2), output_padding=(2, 0))),
        _c("conv_transpose", {"out": 6, "kernel": 3, "groups": 2, "bias": False}, (4, 5, 5),
           lambda: T2(4, 6, 3, groups=2, bias=False)),
        _c("conv_transpose", {"out": 3, "kernel": 3, "dilation": 2, "stride": 2,
                              "output_padding": 1}, (2, 5, 5),
           lambda: T2(2, 3, 3, 2, output_padding=1, dilation=2)),
        _c("conv_transpose", {"out": 2, "kernel": 2, "stride": 2}, (3, 2, 3, 4),
           lambda: T3(3, 2, 2, 2)),
    ]


def _pool_cases() -> list[Case]:
    M1, M2, M3 = nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d
    A1, A2, A3 = nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d
    return [
        _c("maxpool", 2, (3, 8, 8), lambda: M2(2)),
        _c("maxpool", 2, (3, 9), lambda: M1(2)),
        _c("maxpool", 2, (2, 5, 6, 7), lambda: M3(2)),
        _c("maxpool", {"kernel": 3, "stride": 2, "padding": 1}, (3, 11, 10), lambda: M2(3, 2, 1)),
        _c("maxpool", {"kernel": 3, "stride": 1, "padding": 1}, (3, 5, 5), lambda: M2(3, 1, 1)),
        _c("maxpool", {"kernel": [2, 3], "stride": [2, 1]}, (3, 7, 7), lambda: M2((2, 3), (2, 1))),
        _c("maxpool", {"kernel": 2, "ceil_mode": True}, (3, 5, 7), lambda: M2(2, ceil_mode=True)),
        _c("maxpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, (3, 14, 13),
           lambda: M2(3, 2, ceil_mode=True)),
        # the last window would start in the padding: torch drops it
        _c("maxpool", {"kernel": 3, "stride": 3, "padding": 1, "ceil_mode": True}, (3, 5, 5),
           lambda: M2(3, 3, 1, ceil_mode=True)),
        _c("maxpool", {"kernel": 2, "stride": 2, "padding": 1, "ceil_mode": True}, (2, 4, 6),
           lambda: M2(2, 2, 1, ceil_mode=True)),
        _c("maxpool", {"kernel": 2, "stride": 3, "ceil_mode": True}, (2, 7),
           lambda: M1(2, 3, ceil_mode=True)),
        # a window hanging over the right edge is kept in ceil mode, even on a 1-wide input
        _c("maxpool", {"kernel": 2, "ceil_mode": True}, (2, 1, 3), lambda: M2(2, ceil_mode=True)),
        _c("avgpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, (2, 2),
           lambda: A1(3, 2, ceil_mode=True)),
        _c("avgpool", 2, (3, 8, 8), lambda: A2(2)),
        _c("avgpool", 3, (4, 10), lambda: A1(3)),
        _c("avgpool", {"kernel": 2, "stride": 1}, (2, 3, 4, 5), lambda: A3(2, 1)),
        _c("avgpool", {"kernel": 3, "stride": 2, "padding": 1, "count_include_pad": False},
           (3, 9, 9), lambda: A2(3, 2, 1, count_include_pad=False)),
        _c("avgpool", {"kernel": 3, "stride": 2, "ceil_mode": True}, (3, 10, 10),
           lambda: A2(3, 2, ceil_mode=True)),
        _c("avgpool", {"kernel": 3, "stride": 3, "padding": 1, "ceil_mode": True}, (3, 5, 8),
           lambda: A2(3, 3, 1, ceil_mode=True)),
        _c("global_avgpool", None, (6, 5, 7),
           lambda: nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())),
        _c("global_avgpool", None, (6, 9),
           lambda: nn.Sequential(nn.AdaptiveAvgPool1d(1), nn.Flatten())),
        _c("global_avgpool", None, (4, 2, 3, 4),
           lambda: nn.Sequential(nn.AdaptiveAvgPool3d(1), nn.Flatten())),
        _c("adaptive_avgpool", 1, (6, 5, 7), lambda: nn.AdaptiveAvgPool2d(1)),
        _c("adaptive_avgpool", [2, 3], (6, 7, 7), lambda: nn.AdaptiveAvgPool2d((2, 3))),
        _c("adaptive_avgpool", 3, (6, 7, 5), lambda: nn.AdaptiveAvgPool2d(3)),
        _c("adaptive_avgpool", 6, (2, 3, 3), lambda: nn.AdaptiveAvgPool2d(6)),
        _c("adaptive_avgpool", 5, (4, 12), lambda: nn.AdaptiveAvgPool1d(5)),
        _c("adaptive_avgpool", {"size": 2}, (2, 5, 4, 3), lambda: nn.AdaptiveAvgPool3d(2)),
    ]


def _core_cases() -> list[Case]:
    return [
        _c("linear", 10, (16,), lambda: nn.Linear(16, 10)),
        _c("linear", {"out": 3, "bias": False}, (7,), lambda: nn.Linear(7, 3, bias=False)),
        _c("linear", 4, (5, 16), lambda: nn.Linear(16, 4)),
        _c("flatten", None, (3, 4, 5), lambda: nn.Flatten()),
        _c("flatten", None, (6,), lambda: nn.Flatten()),
        _c("flatten", {"start": 2}, (3, 4, 5), lambda: nn.Flatten(2)),
        _c("flatten", {"start": 1, "end": 2}, (3, 4, 5), lambda: nn.Flatten(1, 2)),
        _c("flatten", {"end": -2}, (2, 3, 4, 5), lambda: nn.Flatten(1, -2)),
        _c("flatten", {"start": -2}, (2, 3, 4, 5), lambda: nn.Flatten(-2)),
        _c("flatten", {"start": 2, "end": 3}, (2, 3, 4, 5), lambda: nn.Flatten(2, 3)),
        _c("dropout", 0.5, (3, 4, 4), lambda: nn.Dropout(0.5)),
        _c("dropout", {"p": 0.0}, (10,), lambda: nn.Dropout(0.0)),
        _c("embedding", {"vocab": 50, "dim": 8}, (7,), lambda: nn.Embedding(50, 8), "long"),
        _c("embedding", {"vocab": 20, "dim": 4, "padding_idx": 0}, (3, 5),
           lambda: nn.Embedding(20, 4, padding_idx=0), "long"),
        _c("identity", None, (3, 4), lambda: nn.Identity()),
    ]


def _norm_cases() -> list[Case]:
    B1, B2, B3 = nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d
    return [
        _c("batchnorm", None, (6,), lambda: B1(6)),
        _c("batchnorm", None, (6, 10), lambda: B1(6)),
        _c("batchnorm", None, (6, 8, 8), lambda: B2(6)),
        _c("batchnorm", None, (6, 2, 3, 4), lambda: B3(6)),
        _c("batchnorm", {"affine": False}, (6, 8, 8), lambda: B2(6, affine=False)),
        _c("batchnorm", {"eps": 1e-3, "momentum": 0.01, "track_running_stats": False}, (4, 5, 5),
           lambda: B2(4, 1e-3, 0.01, track_running_stats=False)),
        _c("layernorm", None, (16,), lambda: nn.LayerNorm(16)),
        _c("layernorm", None, (5, 16), lambda: nn.LayerNorm(16)),
        _c("layernorm", {"dims": 2}, (4, 5, 6), lambda: nn.LayerNorm((5, 6))),
        _c("layernorm", {"dims": 3}, (4, 5, 6), lambda: nn.LayerNorm((4, 5, 6))),
        _c("layernorm", {"affine": False}, (8,), lambda: nn.LayerNorm(8, elementwise_affine=False)),
        _c("layernorm", {"bias": False}, (8,), lambda: nn.LayerNorm(8, bias=False)),
        _c("groupnorm", 2, (6, 8, 8), lambda: nn.GroupNorm(2, 6)),
        _c("groupnorm", 1, (6, 10), lambda: nn.GroupNorm(1, 6)),
        _c("groupnorm", 6, (6, 4, 4), lambda: nn.GroupNorm(6, 6)),
        _c("groupnorm", {"groups": 3, "affine": False}, (6, 2, 3, 4),
           lambda: nn.GroupNorm(3, 6, affine=False)),
        _c("instancenorm", None, (4, 10), lambda: nn.InstanceNorm1d(4)),
        _c("instancenorm", None, (4, 8, 8), lambda: nn.InstanceNorm2d(4)),
        _c("instancenorm", {"affine": True}, (4, 3, 4, 5), lambda: nn.InstanceNorm3d(4, affine=True)),
        _c("lrn", None, (8, 6, 6), lambda: nn.LocalResponseNorm(5)),
        _c("lrn", {"size": 3, "alpha": 1e-3, "beta": 0.5, "k": 2.0}, (8, 10),
           lambda: nn.LocalResponseNorm(3, 1e-3, 0.5, 2.0)),
    ]


def _activation_cases() -> list[Case]:
    simple = {"relu": nn.ReLU, "relu6": nn.ReLU6, "sigmoid": nn.Sigmoid,
              "hardsigmoid": nn.Hardsigmoid, "tanh": nn.Tanh, "silu": nn.SiLU, "swish": nn.SiLU,
              "hardswish": nn.Hardswish, "mish": nn.Mish, "gelu": nn.GELU, "elu": nn.ELU,
              "leaky_relu": nn.LeakyReLU, "prelu": nn.PReLU}
    cases = [_c(k, None, shape, cls) for k, cls in simple.items()
             for shape in ((5,), (3, 4, 4))]
    return cases + [
        _c("leaky_relu", 0.2, (3, 4), lambda: nn.LeakyReLU(0.2)),
        _c("prelu", {"channels": True}, (6, 4, 4), lambda: nn.PReLU(6)),
        _c("prelu", {"channels": True, "init": 0.1}, (5,), lambda: nn.PReLU(5, 0.1)),
        _c("elu", 0.5, (7,), lambda: nn.ELU(0.5)),
        _c("gelu", {"approximate": "tanh"}, (7,), lambda: nn.GELU("tanh")),
        _c("softmax", None, (10,), lambda: nn.Softmax(1)),
        _c("softmax", -1, (3, 4), lambda: nn.Softmax(-1)),
        _c("softmax", {"dim": 1}, (3, 4, 4), lambda: nn.Softmax(1)),
        _c("log_softmax", None, (10,), lambda: nn.LogSoftmax(1)),
        _c("log_softmax", 2, (3, 4), lambda: nn.LogSoftmax(2)),
    ]


def _merge_cases() -> list[Case]:
    add = lambda: Fn(lambda *xs: sum(xs[1:], xs[0]))  # noqa: E731
    mul = lambda: Fn(lambda a, b: a * b)              # noqa: E731
    return [
        _c("add", {}, [(8, 4, 4), (8, 4, 4)], add),
        _c("add", {}, [(8, 4, 4), (8, 1, 1)], add),
        _c("add", {}, [(1, 4, 4), (8, 4, 1)], add),
        _c("add", {}, [(5,), (5,), (5,)], add),
        _c("add", None, [(1,), (6,)], add),
        _c("mul", {}, [(8, 4, 4), (8, 1, 1)], mul),
        _c("mul", {}, [(3, 5), (3, 5)], mul),
        _c("concat", {}, [(3, 4, 4), (5, 4, 4)], lambda: Fn(lambda *xs: torch.cat(xs, 1))),
        _c("concat", {"dim": 2}, [(3, 2, 4), (3, 5, 4), (3, 1, 4)],
           lambda: Fn(lambda *xs: torch.cat(xs, 2))),
        _c("concat", -1, [(3, 4, 2), (3, 4, 6)], lambda: Fn(lambda *xs: torch.cat(xs, -1))),
        _c("concat", {}, [(7,), (9,)], lambda: Fn(lambda *xs: torch.cat(xs, 1))),
    ]


def _shape_cases() -> list[Case]:
    def reshape(*shape):
        return lambda: Fn(lambda x: x.reshape(x.shape[0], *shape))

    def permute(*dims):
        return lambda: Fn(lambda x: x.permute(*dims))

    return [
        _c("reshape", [-1, 25], (16, 5, 5), reshape(-1, 25)),
        _c("reshape", [3, 4], (12,), reshape(3, 4)),
        _c("reshape", {"shape": [-1]}, (3, 4, 5), reshape(-1)),
        _c("reshape", [3, -1, 2], (2, 6), reshape(3, -1, 2)),
        _c("reshape", [1, 2, 1, 3], (6,), reshape(1, 2, 1, 3)),
        _c("permute", [0, 2, 3, 1], (3, 8, 16), permute(0, 2, 3, 1)),
        _c("permute", [0, 2, 1], (5, 7), permute(0, 2, 1)),
        _c("permute", {"dims": [0, 4, 3, 2, 1]}, (2, 3, 4, 5), permute(0, 4, 3, 2, 1)),
        _c("upsample", 2, (3, 4, 5), lambda: nn.Upsample(scale_factor=2.0)),
        _c("upsample", 3, (3, 4), lambda: nn.Upsample(scale_factor=3.0)),
        _c("upsample", 1.5, (3, 7, 7), lambda: nn.Upsample(scale_factor=1.5)),
        _c("upsample", [2, 3], (3, 4, 5), lambda: nn.Upsample(scale_factor=(2.0, 3.0))),
        _c("upsample", {"size": [10, 12]}, (3, 4, 5), lambda: nn.Upsample(size=(10, 12))),
        _c("upsample", {"scale": 2, "mode": "bilinear", "align_corners": False}, (3, 4, 4),
           lambda: nn.Upsample(scale_factor=2.0, mode="bilinear", align_corners=False)),
        _c("upsample", {"size": 4, "mode": "trilinear"}, (2, 2, 3, 3),
           lambda: nn.Upsample(size=4, mode="trilinear")),
    ]


def _recurrent_cases() -> list[Case]:
    torch_cls = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
    cases = []
    for kind, cls in torch_cls.items():
        def ref(cls=cls, f=4, h=8, last=False, **kw):
            return lambda: Recurrent(cls(f, h, batch_first=True, **kw), last)
        cases += [
            _c(kind, 8, (5, 4), ref()),
            _c(kind, {"hidden": 8, "layers": 2}, (5, 4), ref(num_layers=2)),
            _c(kind, {"hidden": 8, "bidirectional": True}, (5, 4), ref(bidirectional=True)),
            _c(kind, {"hidden": 6, "layers": 3, "bidirectional": True}, (5, 4),
               ref(h=6, num_layers=3, bidirectional=True)),
            _c(kind, {"hidden": 8, "return": "last"}, (5, 4), ref(last=True)),
            _c(kind, {"hidden": 8, "layers": 2, "bidirectional": True, "return": "last"}, (6, 3),
               ref(f=3, num_layers=2, bidirectional=True, last=True)),
            _c(kind, {"hidden": 5, "bias": False}, (3, 4), ref(h=5, bias=False)),
            _c(kind, {"hidden": 5, "layers": 2, "dropout": 0.1}, (3, 4),
               ref(h=5, num_layers=2, dropout=0.1)),
        ]
    cases.append(_c("rnn", {"hidden": 8, "nonlinearity": "relu"}, (5, 4),
                    lambda: Recurrent(nn.RNN(4, 8, nonlinearity="relu", batch_first=True))))
    # lstm_cell: a one-layer nn.LSTM is the reference (same parameter count, same outputs)
    cases += [
        _c("lstm_cell", 8, (5, 4), lambda: Recurrent(nn.LSTM(4, 8, batch_first=True))),
        _c("lstm_cell", {"hidden": 3, "return": "last"}, (7, 6),
           lambda: Recurrent(nn.LSTM(6, 3, batch_first=True), last=True)),
        _c("lstm_cell", {"hidden": 4, "bias": False}, (2, 5),
           lambda: Recurrent(nn.LSTM(5, 4, batch_first=True, bias=False))),
    ]
    return cases


class Learnable(nn.Module):
    """A learnable tensor stored (1, *shape), as torchvision's ViT class token, expanded over
    the batch of the input it is given."""

    def __init__(self, *shape: int):
        super().__init__()
        self.shape = shape
        self.p = nn.Parameter(torch.randn(1, *shape))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.p.expand(x.shape[0], *self.shape)


class RefAttention(nn.MultiheadAttention):
    """torch's attention as a user calls it: batch-first, the output only, an additive
    float causal mask (-inf above the diagonal)."""

    def __init__(self, embed: int, heads: int, causal: bool = False, **kw):
        super().__init__(embed, heads, batch_first=True, **kw)
        self.causal = causal

    def forward(self, q, kv=None):  # type: ignore[override]
        kv = q if kv is None else kv
        mask = None
        if self.causal:
            mask = torch.full((q.shape[1], kv.shape[1]), float("-inf")).triu(1)
        return super().forward(q, kv, kv, attn_mask=mask, need_weights=False)[0]


def _per_sample(fn):
    """A two-input function applied sample by sample (the batch is dim 0 of both)."""
    return lambda: Fn(lambda a, b: torch.stack([fn(x, y) for x, y in zip(a, b)]))


def _kinds_2c_cases() -> list[Case]:
    sub = lambda: Fn(lambda a, b: a - b)  # noqa: E731
    div = lambda: Fn(lambda a, b: a / b)  # noqa: E731
    mm = _per_sample(torch.matmul)
    return [
        _c("param", {"shape": [1, 8]}, (5, 8), lambda: Learnable(1, 8)),
        _c("param", {"shape": [6, 1, 1], "init": "ones"}, (3,), lambda: Learnable(6, 1, 1)),
        _c("param", [7, 4], (4,), lambda: Learnable(7, 4)),
        _c("sub", {}, [(8, 4, 4), (8, 1, 1)], sub),
        _c("sub", None, [(5, 3), (1, 3)], sub),
        _c("div", {}, [(6, 5, 5), (6, 1, 1)], div),
        _c("div", {}, [(1, 4), (3, 4)], div),
        _c("mul", {}, [(96, 5, 5), (96, 1, 1)], lambda: Fn(lambda a, b: a * b)),
        _c("add", {}, [(17, 8), (1, 8)], lambda: Fn(lambda a, b: a + b)),
        _c("matmul", {}, [(4, 5, 6), (4, 6, 3)], mm),
        _c("matmul", None, [(5, 6), (6, 2)], mm),
        _c("matmul", {}, [(3, 1, 4, 6), (2, 6, 5)], mm),
        _c("matmul", {}, [(6,), (6, 4)], mm),
        _c("matmul", {}, [(2, 3, 6), (6,)], mm),
        _c("matmul", {}, [(6,), (6,)], mm),
        _c("attention", 4, (5, 16), lambda: RefAttention(16, 4)),
        _c("attention", {"heads": 2, "bias": False}, (6, 8),
           lambda: RefAttention(8, 2, bias=False)),
        _c("attention", {"heads": 2, "causal": True}, (6, 8), lambda: RefAttention(8, 2, True)),
        _c("attention", {"heads": 4}, [(5, 16), (9, 16)], lambda: RefAttention(16, 4)),
        _c("attention", {"heads": 1, "dropout": 0.1}, (3, 4),
           lambda: RefAttention(4, 1, dropout=0.1)),
        _c("slice", {"dim": 1, "start": 0, "end": 3}, (8, 4, 4), lambda: Fn(lambda x: x[:, 0:3])),
        _c("slice", {"dim": 1, "start": 1}, (17, 8), lambda: Fn(lambda x: x[:, 1:])),
        _c("slice", {"dim": -1, "start": -3, "step": 2}, (2, 9),
           lambda: Fn(lambda x: x[..., -3::2])),
        _c("slice", {"dim": 2, "start": 1, "end": -1, "step": 3}, (2, 11, 3),
           lambda: Fn(lambda x: x[:, :, 1:-1:3])),
        _c("slice", {"dim": 1, "end": 100}, (4, 2), lambda: Fn(lambda x: x[:, :100])),
        _c("select", {"dim": 1, "index": 0}, (17, 8), lambda: Fn(lambda x: x[:, 0])),
        _c("select", {"dim": -1, "index": -1}, (3, 4, 5), lambda: Fn(lambda x: x[..., -1])),
        _c("select", {"dim": 2, "index": 2}, (3, 4, 5), lambda: Fn(lambda x: x[:, :, 2])),
        _c("channel_shuffle", 2, (8, 4, 4), lambda: nn.ChannelShuffle(2)),
        _c("channel_shuffle", {"groups": 3}, (6, 5), lambda: nn.ChannelShuffle(3)),
        _c("pixel_shuffle", 2, (8, 3, 4), lambda: nn.PixelShuffle(2)),
        _c("pixel_shuffle", {"factor": 3}, (9, 2, 2), lambda: nn.PixelShuffle(3)),
        _c("pixel_unshuffle", 2, (3, 4, 6), lambda: nn.PixelUnshuffle(2)),
        _c("pixel_unshuffle", {"factor": 3}, (2, 6, 3), lambda: nn.PixelUnshuffle(3)),
        _c("linear", {"out": 6, "channels_last": True}, (4, 5, 8), lambda: nn.Linear(8, 6)),
        _c("linear", {"out": 3, "channels_last": True}, (2, 3, 4, 5), lambda: nn.Linear(5, 3)),
        _c("linear", {"out": 3, "channels_last": True}, (5,), lambda: nn.Linear(5, 3)),
    ]


CASES: list[Case] = (_conv_cases() + _pool_cases() + _core_cases() + _norm_cases()
                     + _activation_cases() + _merge_cases() + _shape_cases() + _recurrent_cases()
                     + _kinds_2c_cases())


def copy_reference_weights(case: Case, ref: nn.Module, built: nn.Module) -> None:
    """Load the reference's weights into the built layer (module `0` of a one-layer spec)."""
    if case.kind == "lstm_cell":
        lstm = ref.rnn
        state = {"ih.weight": lstm.weight_ih_l0, "hh.weight": lstm.weight_hh_l0}
        if lstm.bias:
            state.update({"ih.bias": lstm.bias_ih_l0, "hh.bias": lstm.bias_hh_l0})
        built.get_submodule("0").load_state_dict(state)
        return
    if case.kind == "param":      # stored at the entry's own name, not under a module
        built.load_state_dict({"0": ref.p}, strict=False)
        return
    state = ref.state_dict()
    if isinstance(ref, Recurrent):
        state = {k.removeprefix("rnn."): v for k, v in state.items()}
    elif isinstance(ref, nn.Sequential):      # global_avgpool: no state
        state = {}
    if not state:
        return
    built.get_submodule("0").load_state_dict(state)
