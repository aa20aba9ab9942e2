"""Hypothesis strategies for valid generated specs, each with a hand-assembled torch reference.

A generated network is a list of steps. Each step knows its YAML entry and, for plain layers
and parallel branches, a torch reference assembled from torch.nn's lazy modules (which infer
their input sizes on the first forward, independently of netspec). Steps that use user blocks
(`unit`, `stage` in BLOCKS below) have no hand reference: the compile tests compare them
with the built module layer by layer instead.

The generator tracks the sample shape only to stay valid (no size shrinks below 1); the
truth it is compared against is torch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable

import torch
from hypothesis import strategies as st
from torch import nn

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "gelu": nn.GELU,
               "leaky_relu": nn.LeakyReLU, "elu": nn.ELU, "silu": nn.SiLU, "relu6": nn.ReLU6}

# user blocks with parameters, `if:` and nesting: a residual unit whose shortcut is a
# projection only when the shape changes, and a stage of units with a repeat count
BLOCKS = {
    "unit": {
        "params": {"out": None, "stride": 1, "bn": False},
        "layers": [
            {"conv": {"out": "$out", "kernel": 3, "stride": "$stride", "padding": 1,
                      "bias": "$(not bn)"}, "id": "conv1"},
            {"batchnorm": None, "if": "$bn"},
            {"relu": None, "id": "act"},
            {"conv": {"out": "$out", "kernel": 1, "stride": "$stride"}, "id": "short",
             "from": "input", "if": "$(stride != 1 or in.channels != out)"},
            {"identity": None, "id": "short", "from": "input",
             "if": "$(stride == 1 and in.channels == out)"},
            {"add": {}, "from": ["act", "short"]},
        ],
    },
    "stage": {
        "params": {"out": None, "n": 1},
        "layers": [
            {"unit": {"out": "$out", "stride": 2, "bn": True}},
            {"unit": {"out": "$out"}, "repeat": "$n"},
        ],
    },
}


@dataclass
class Net:
    """A generated network: its input shape and steps."""

    input: list[int]
    entries: list[Any] = field(default_factory=list)
    refs: list[Callable[[], nn.Module] | None] = field(default_factory=list)
    uses_blocks: bool = False

    def spec_text(self) -> str:
        top: dict[str, Any] = {"name": "generated", "input": self.input}
        if self.uses_blocks:
            top["blocks"] = BLOCKS
        return json.dumps({**top, "layers": self.entries})

    def reference(self) -> nn.Module:
        """The hand-assembled torch network (lazy modules: run it once before counting)."""
        assert all(r is not None for r in self.refs), "blocks have no hand reference"
        return nn.Sequential(*(r() for r in self.refs))


class Parallel(nn.Module):
    """Branches on the same input, merged by concat (channels) or add."""

    def __init__(self, branches: list[nn.Module], merge: str):
        super().__init__()
        self.branches, self.merge = nn.ModuleList(branches), merge

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [b(x) for b in self.branches]
        return torch.cat(outs, 1) if self.merge == "concat" else sum(outs[1:], outs[0])


def _window(size: int, k: int, s: int, p: int, d: int = 1, ceil: bool = False) -> int:
    """torch's output size of a sliding window (ceil_mode drops a window starting in the
    right padding)."""
    span = size + 2 * p - d * (k - 1) - 1
    if not ceil:
        return span // s + 1
    n = -(-span // s) + 1
    return n - 1 if (n - 1) * s >= size + p else n


@st.composite
def _conv(draw, shape):
    c, sizes = shape[0], shape[1:]
    small = min(sizes)
    k = draw(st.integers(1, min(5, small)))
    d = draw(st.sampled_from([1, 2])) if 2 * (k - 1) + 1 <= small else 1
    s = draw(st.integers(1, 3))
    p = draw(st.integers(0, 2))
    g = draw(st.sampled_from([x for x in (1, 2, 3, 4) if c % x == 0]))
    out = g * draw(st.integers(1, max(1, 8 // g)))
    bias = draw(st.booleans())
    args = {"out": out, "kernel": k, "stride": s, "padding": p, "dilation": d, "groups": g,
            "bias": bias}
    conv = (nn.LazyConv1d, nn.LazyConv2d)[len(sizes) - 1]
    ref = lambda: conv(out, k, s, p, d, groups=g, bias=bias)  # noqa: E731
    return {"conv": args}, ref, [out, *(_window(x, k, s, p, d) for x in sizes)]


@st.composite
def _pool(draw, shape):
    sizes = shape[1:]
    kind = draw(st.sampled_from(["maxpool", "avgpool"]))
    k = draw(st.integers(1, min(3, min(sizes))))
    s = draw(st.integers(1, k))
    p = draw(st.integers(0, k // 2))
    ceil = draw(st.booleans())
    cls = {"maxpool": (nn.MaxPool1d, nn.MaxPool2d), "avgpool": (nn.AvgPool1d, nn.AvgPool2d)}
    ref = lambda: cls[kind][len(sizes) - 1](k, s, p, ceil_mode=ceil)  # noqa: E731
    args = {"kernel": k, "stride": s, "padding": p, "ceil_mode": ceil}
    return {kind: args}, ref, [shape[0], *(_window(x, k, s, p, 1, ceil) for x in sizes)]


@st.composite
def _activation(draw, shape):
    name = draw(st.sampled_from(sorted(ACTIVATIONS)))
    return name, ACTIVATIONS[name], shape


def _batchnorm(shape):
    cls = (nn.LazyBatchNorm1d, nn.LazyBatchNorm1d, nn.LazyBatchNorm2d)[len(shape) - 1]
    return st.just(({"batchnorm": None}, cls, shape))


@st.composite
def _parallel(draw, shape):
    """2-3 branches of a size-keeping conv (odd kernel, padding k//2, a shared stride), with
    an optional activation; concat may also take a 3x3/padding-1 max pool branch."""
    c, sizes = shape[0], shape[1:]
    merge = draw(st.sampled_from(["concat", "add"]))
    s = draw(st.integers(1, 2))
    same_out = draw(st.integers(1, 6))
    branches, refs, total = [], [], 0
    for _ in range(draw(st.integers(2, 3))):
        if merge == "concat" and min(sizes) >= 3 and draw(st.integers(0, 3)) == 0:
            branches.append([{"maxpool": {"kernel": 3, "stride": s, "padding": 1}}])
            refs.append(lambda: (nn.MaxPool1d, nn.MaxPool2d)[len(sizes) - 1](3, s, 1))
            total += c
            continue
        k = draw(st.sampled_from([1, 3, 5]))
        out = same_out if merge == "add" else draw(st.integers(1, 6))
        act = draw(st.sampled_from([None, "relu", "tanh"]))
        conv = (nn.LazyConv1d, nn.LazyConv2d)[len(sizes) - 1]
        branch = [{"conv": {"out": out, "kernel": k, "stride": s, "padding": k // 2}}]
        if act:
            branch.append(act)
        branches.append(branch)
        refs.append(lambda conv=conv, out=out, k=k, act=act: nn.Sequential(
            conv(out, k, s, k // 2), *([ACTIVATIONS[act]()] if act else [])))
        total += out
    entry = {"parallel": {"merge": merge, "branches": branches}}
    ref = lambda: Parallel([r() for r in refs], merge)  # noqa: E731
    return entry, ref, [total if merge == "concat" else same_out,
                        *(_window(x, 3, s, 1) for x in sizes)]


@st.composite
def _block_use(draw, shape):
    """A `unit` or `stage` user block (no hand reference), maybe repeated."""
    out = draw(st.integers(1, 6))
    sizes = shape[1:]
    if draw(st.booleans()):
        stride = draw(st.integers(1, 2))
        repeat = draw(st.sampled_from([None, 1, 2]))
        entry = {"unit": {"out": out, "stride": stride, "bn": draw(st.booleans())}}
        halvings = stride - 1 if repeat is None else (stride - 1) * repeat
    else:
        repeat = draw(st.sampled_from([None, 2]))
        entry = {"stage": {"out": out, "n": draw(st.integers(1, 2))}}
        halvings = 1 if repeat is None else repeat
    if repeat is not None:
        entry["repeat"] = repeat
    for _ in range(halvings):
        sizes = [_window(x, 3, 2, 1) for x in sizes]
    return entry, None, [out, *sizes]


class Slice(nn.Module):
    """x[:, start:end:step] on the channels (dim 1), as a user writes it."""

    def __init__(self, start: int, end: int | None, step: int):
        super().__init__()
        self.start, self.end, self.step = start, end, step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, self.start:self.end:self.step]


@st.composite
def _channel_shuffle(draw, shape):
    g = draw(st.sampled_from([x for x in range(1, shape[0] + 1) if shape[0] % x == 0]))
    return {"channel_shuffle": g}, lambda: nn.ChannelShuffle(g), shape


@st.composite
def _slice(draw, shape):
    """A slice of the channels that keeps at least one (negative bounds included)."""
    c = shape[0]
    start = draw(st.integers(-c, c - 1))
    end = draw(st.one_of(st.none(), st.integers(-c, c)))
    step = draw(st.integers(1, 3))
    if not range(c)[start:end:step]:       # an empty slice is a mistake: take all instead
        start, end = 0, None
    n = len(range(c)[start:end:step])
    args = {"dim": 1, "start": start, "end": end, "step": step}
    return {"slice": args}, lambda: Slice(start, end, step), [n, *shape[1:]]


@st.composite
def _pixel(draw, shape):
    """pixel_unshuffle where H and W are even, pixel_shuffle where C is a multiple of 4, on
    [C, H, W]; elsewhere a channel_shuffle."""
    c, sizes = shape[0], shape[1:]
    if len(sizes) == 2 and all(x % 2 == 0 for x in sizes) and draw(st.booleans()):
        return ({"pixel_unshuffle": 2}, lambda: nn.PixelUnshuffle(2),
                [4 * c, *(x // 2 for x in sizes)])
    if len(sizes) == 2 and c % 4 == 0 and max(sizes) <= 16:     # maps stay small
        return ({"pixel_shuffle": 2}, lambda: nn.PixelShuffle(2),
                [c // 4, *(2 * x for x in sizes)])
    return draw(_channel_shuffle(shape))


NEW_KIND_STEPS = [_channel_shuffle, _slice, _pixel]       # the kinds of DESIGN §2c


@st.composite
def networks(draw, max_steps: int = 6, blocks: bool = False) -> Net:
    """A valid sequential/branching network: feature-map steps (conv, pool, activation,
    batchnorm, parallel, user blocks when `blocks`), then optionally a flatten or global pool
    and a linear head."""
    rank = draw(st.sampled_from([1, 2, 2]))
    shape = [draw(st.integers(1, 4)), *(draw(st.integers(3, 14)) for _ in range(rank))]
    net = Net(list(shape))
    steps = [_conv, _pool, _activation, _batchnorm, _parallel, *NEW_KIND_STEPS]
    if blocks:
        steps += [_block_use, _block_use]
        net.uses_blocks = True
    for _ in range(draw(st.integers(1, max_steps))):
        step = draw(st.sampled_from(steps))
        entry, ref, shape = draw(step(shape))
        net.entries.append(entry)
        net.refs.append(ref)
    if draw(st.booleans()):
        if draw(st.booleans()):
            net.entries.append("flatten")
            net.refs.append(nn.Flatten)
        else:
            net.entries.append("global_avgpool")
            net.refs.append(lambda: nn.Sequential(
                (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)[rank - 1](1), nn.Flatten()))
        for _ in range(draw(st.integers(1, 3))):
            choice = draw(st.sampled_from(["linear", "linear", "act", "dropout", "batchnorm"]))
            if choice == "linear":
                out = draw(st.integers(1, 12))
                net.entries.append({"linear": out})
                net.refs.append(lambda out=out: nn.LazyLinear(out))
            elif choice == "act":
                name = draw(st.sampled_from(sorted(ACTIVATIONS)))
                net.entries.append(name)
                net.refs.append(ACTIVATIONS[name])
            elif choice == "dropout":
                net.entries.append({"dropout": 0.3})
                net.refs.append(lambda: nn.Dropout(0.3))
            else:
                net.entries.append("batchnorm")
                net.refs.append(nn.LazyBatchNorm1d)
    return net
