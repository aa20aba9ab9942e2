"""Convolutions: `conv` and `conv_transpose`, 1d/2d/3d by the input's rank."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from netspec.kinds.argtypes import (Args, Bool, NonNegativeIntOrInts, PositiveInt,
                                   PositiveIntOrInts)
from netspec.kinds.base import (ShapeError, Window, axis_names, channels, fmt_shape, layer, numel,
                                spatial_rank, tuple_n, windows_out)
from netspec.kinds.footprint import Axes, Slide, Spread

Padding = NonNegativeIntOrInts | Literal["same", "valid"]


class ConvArgs(Args):
    out: PositiveInt = Field(description="output channels")
    kernel: PositiveIntOrInts = Field(description="kernel size, one int or one per spatial dim")
    stride: PositiveIntOrInts = Field(1, description="step of the kernel")
    padding: Padding = Field(0, description="added on each side of every spatial dim; `same` "
                             "keeps the size (stride 1), `valid` is 0")
    dilation: PositiveIntOrInts = Field(1, description="spacing between kernel elements")
    groups: PositiveInt = Field(1, description="input and output channels split into this many "
                                "groups (C for depthwise)")
    bias: Bool = Field(True, description="add a learnable bias (false before a batchnorm)")
    padding_mode: Literal["zeros", "reflect", "replicate", "circular"] = Field(
        "zeros", description="what the padding holds: zeros, or the input reflected, replicated "
        "or wrapped")


def _conv_geometry(ins, a: ConvArgs, kind: str):
    """Per-spatial-dim (kernel, stride, padding, dilation), with `same`/`valid` resolved."""
    n = spatial_rank(ins, kind)
    k = tuple_n(a.kernel, n, "kernel")
    s = tuple_n(a.stride, n, "stride")
    d = tuple_n(a.dilation, n, "dilation")
    if a.padding == "valid":
        p = (0,) * n
    elif a.padding == "same":
        if any(x != 1 for x in s):
            raise ShapeError(f"cannot use `padding: same` with stride {list(s)} (torch refuses "
                             f"it too)",
                             hint="write the padding out: `padding: $(kernel // 2)`")
        # torch pads (d*(k-1))//2 on the left and the rest on the right: the size is kept
        p = tuple(di * (ki - 1) // 2 for ki, di in zip(k, d))
    else:
        p = tuple_n(a.padding, n, "padding")
    return n, k, s, p, d


def _check_padding_mode(sizes, a: ConvArgs, k, p, d) -> None:
    """torch pads by reflection only less than the size, circularly at most the size."""
    if a.padding_mode not in ("reflect", "circular"):
        return
    # with `same`, the right side gets the odd one out: d*(k-1) - left
    sides = [di * (ki - 1) - pi for ki, pi, di in zip(k, p, d)] if a.padding == "same" else p
    for x, side in zip(sizes, sides):
        if isinstance(x, int) and (side >= x if a.padding_mode == "reflect" else side > x):
            limit = "less than" if a.padding_mode == "reflect" else "at most"
            raise ShapeError(f"pads {side} by {a.padding_mode} on a side of size {x}; "
                             f"{a.padding_mode} padding must be {limit} the size",
                             hint="use padding_mode zeros or replicate, or a smaller padding")


def _check_groups(cin: int, a, kind: str) -> None:
    for what, c in (("input", cin), ("output", a.out)):
        if c % a.groups:
            raise ShapeError(f"has groups={a.groups}, which does not divide its {what} "
                             f"channels {c}",
                             hint=f"groups must divide both channel counts ({cin} in, {a.out} out)")


@layer("conv", ConvArgs, main="out", family="conv", init_role="weighted")
class Conv:
    """Convolution, as torch.nn.Conv1d/2d/3d.

    Shape: [C, *S] -> [out, *S'], S'_i = floor((S_i + 2*P_i - D_i*(K_i-1) - 1)/St_i) + 1
    (S'_i = S_i with `padding: same`). Params: out*C/groups*prod(K) (+ out with bias).
    MACs: out*C/groups*prod(K)*prod(S').
    """

    def shape(ins, a: ConvArgs):
        cin = channels(ins, "conv")
        _check_groups(cin, a, "conv")
        n, k, s, p, d = _conv_geometry(ins, a, "conv")
        _check_padding_mode(ins[0][1:], a, k, p, d)
        if a.padding == "same":
            return (a.out, *ins[0][1:])
        return (a.out, *windows_out(ins[0][1:], [Window(*g) for g in zip(k, s, p, d)]))

    def explain(ins, a: ConvArgs):
        n, k, s, p, d = _conv_geometry(ins, a, "conv")
        if a.padding == "same":
            return [f"padding same keeps {fmt_shape(ins[0][1:])}"]
        return [Window(ki, si, pi, di).formula(x, ax)
                for x, ki, si, pi, di, ax in zip(ins[0][1:], k, s, p, d, axis_names(n))]

    def receptive(ins, a: ConvArgs):
        n, k, s, p, d = _conv_geometry(ins, a, "conv")
        return Axes(tuple(Slide(*g) for g in zip(k, s, p, d)))

    def params(ins, a: ConvArgs):
        n, k, *_ = _conv_geometry(ins, a, "conv")
        return a.out * (ins[0][0] // a.groups) * math.prod(k) + (a.out if a.bias else 0)

    def macs(ins, a: ConvArgs, out):
        n, k, *_ = _conv_geometry(ins, a, "conv")
        return a.out * (ins[0][0] // a.groups) * math.prod(k) * numel(out[1:])

    def build(ins, a: ConvArgs):
        from torch import nn

        n, k, s, p, d = _conv_geometry(ins, a, "conv")
        cls = (nn.Conv1d, nn.Conv2d, nn.Conv3d)[n - 1]
        padding = a.padding if isinstance(a.padding, str) else p
        return cls(ins[0][0], a.out, k, stride=s, padding=padding, dilation=d, groups=a.groups,
                   bias=a.bias, padding_mode=a.padding_mode)


class ConvTransposeArgs(Args):
    out: PositiveInt = Field(description="output channels")
    kernel: PositiveIntOrInts = Field(description="kernel size, one int or one per spatial dim")
    stride: PositiveIntOrInts = Field(1, description="upsampling factor: the input is spread "
                                      "this far apart")
    padding: NonNegativeIntOrInts = Field(0, description="removed from each side of the output: "
                                          "(kernel - 1) * dilation - padding is added")
    output_padding: NonNegativeIntOrInts = Field(0, description="added to one side of the "
                                                 "output, to pick among sizes a stride maps to "
                                                 "the same input")
    dilation: PositiveIntOrInts = Field(1, description="spacing between kernel elements")
    groups: PositiveInt = Field(1, description="input and output channels split into this many "
                                "groups")
    bias: Bool = Field(True, description="add a learnable bias (false before a batchnorm)")


def _tconv_geometry(ins, a: ConvTransposeArgs):
    n = spatial_rank(ins, "conv_transpose")
    k, s, p, op, d = (tuple_n(v, n, name) for v, name in (
        (a.kernel, "kernel"), (a.stride, "stride"), (a.padding, "padding"),
        (a.output_padding, "output_padding"), (a.dilation, "dilation")))
    for opi, si, di in zip(op, s, d):
        if opi >= max(si, di):
            raise ShapeError(f"has output_padding {opi}, which must be smaller than its "
                             f"stride or dilation",
                             hint="output_padding only picks among the sizes a strided "
                                  "transposed conv could produce")
    return n, k, s, p, op, d


def _tconv_dim(x, k, s, p, op, d):
    if not isinstance(x, int):
        return f"({x}-1)*{s}+{d * (k - 1) + op + 1 - 2 * p}"
    return (x - 1) * s - 2 * p + d * (k - 1) + op + 1


@layer("conv_transpose", ConvTransposeArgs, main="out", family="conv", init_role="weighted")
class ConvTranspose:
    """Transposed convolution, as torch.nn.ConvTranspose1d/2d/3d.

    Shape: [C, *S] -> [out, *S'], S'_i = (S_i-1)*St_i - 2*P_i + D_i*(K_i-1) + OP_i + 1.
    Params: C*out/groups*prod(K) (+ out). MACs: C*out/groups*prod(K)*prod(S).
    """

    def shape(ins, a: ConvTransposeArgs):
        cin = channels(ins, "conv_transpose")
        _check_groups(cin, a, "conv_transpose")
        n, k, s, p, op, d = _tconv_geometry(ins, a)
        dims = tuple(_tconv_dim(*g) for g in zip(ins[0][1:], k, s, p, op, d))
        if any(isinstance(x, int) and x <= 0 for x in dims):
            # torch refuses it too ("Output size is too small")
            raise ShapeError(f"would give a {'x'.join(map(str, dims))} output from a "
                             f"{'x'.join(map(str, ins[0][1:]))} feature map: its padding "
                             f"{list(p)} crops more than the transposed conv adds",
                             hint="lower the padding, or raise the kernel or stride")
        return (a.out, *dims)

    def explain(ins, a: ConvTransposeArgs):
        n, k, s, p, op, d = _tconv_geometry(ins, a)
        return [f"{ax}: ({x}-1)*{si} - 2*{pi} + {di}*({ki}-1) + {opi} + 1 = "
                f"{_tconv_dim(x, ki, si, pi, opi, di)}"
                for x, ki, si, pi, opi, di, ax in zip(ins[0][1:], k, s, p, op, d, axis_names(n))]

    def receptive(ins, a: ConvTransposeArgs):
        n, k, s, p, op, d = _tconv_geometry(ins, a)     # output_padding only adds bias rows
        return Axes(tuple(Spread(ki, si, pi, di) for ki, si, pi, di in zip(k, s, p, d)))

    def params(ins, a: ConvTransposeArgs):
        n, k, *_ = _tconv_geometry(ins, a)
        return ins[0][0] * (a.out // a.groups) * math.prod(k) + (a.out if a.bias else 0)

    def macs(ins, a: ConvTransposeArgs, out):
        n, k, *_ = _tconv_geometry(ins, a)
        return ins[0][0] * (a.out // a.groups) * math.prod(k) * numel(ins[0][1:])

    def build(ins, a: ConvTransposeArgs):
        from torch import nn

        n, k, s, p, op, d = _tconv_geometry(ins, a)
        cls = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)[n - 1]
        return cls(ins[0][0], a.out, k, stride=s, padding=p, output_padding=op,
                   groups=a.groups, bias=a.bias, dilation=d)

