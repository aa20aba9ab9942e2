"""Pooling: `maxpool`, `avgpool`, `global_avgpool`, `adaptive_avgpool`."""

from __future__ import annotations

from pydantic import Field

from netspec.kinds.argtypes import Args, Bool, NonNegativeIntOrInts, PositiveIntOrInts
from netspec.kinds.base import (ShapeError, Window, axis_names, channels, layer, spatial_rank,
                                tuple_n, windows_out)
from netspec.kinds.footprint import Adaptive, Axes, Reads, windows_reads

# pools are looked through between a weight layer and its activation by weight init
POOL = {"family": "pool", "init_role": "transparent"}


class PoolArgs(Args):
    kernel: PositiveIntOrInts = Field(description="window size, one int or one per spatial dim")
    # None: the kernel, as torch
    stride: PositiveIntOrInts | None = Field(None, description="step between windows; default "
                                             "the kernel (non-overlapping), as torch")
    padding: NonNegativeIntOrInts = Field(0, description="-inf (max) or 0 (avg) added on each "
                                          "side of every spatial dim")
    ceil_mode: Bool = Field(False, description="round the output size up: a last, partial window "
                            "is kept")


class AvgPoolArgs(PoolArgs):
    count_include_pad: Bool = Field(True, description="padded zeros count in the average's "
                                    "divisor")


def _windows(ins, a: PoolArgs, kind: str) -> list[Window]:
    n = spatial_rank(ins, kind)
    k = tuple_n(a.kernel, n, "kernel")
    s = tuple_n(a.stride if a.stride is not None else a.kernel, n, "stride")
    p = tuple_n(a.padding, n, "padding")
    for ki, pi in zip(k, p):
        if pi > ki // 2:
            raise ShapeError(f"has padding {pi}, more than half its kernel {ki}",
                             hint=f"torch allows pool padding up to kernel // 2 = {ki // 2}")
    return [Window(ki, si, pi, 1, a.ceil_mode) for ki, si, pi in zip(k, s, p)]


def _pool_shape(kind: str):
    def shape(ins, a: PoolArgs):
        return (ins[0][0], *windows_out(ins[0][1:], _windows(ins, a, kind)))
    return shape


def _pool_explain(kind: str):
    def explain(ins, a: PoolArgs):
        ws = _windows(ins, a, kind)
        return [w.formula(x, ax) for x, w, ax in zip(ins[0][1:], ws, axis_names(len(ws)))]
    return explain


def _pool_receptive(kind: str):
    def receptive(ins, a: PoolArgs):
        return windows_reads(_windows(ins, a, kind))
    return receptive


def _pool_build(kind: str, torch_name: str):
    """torch.nn.<torch_name>1d/2d/3d; arguments a subclass of PoolArgs adds pass through."""
    def build(ins, a):
        from torch import nn

        ws = _windows(ins, a, kind)
        k = tuple(w.kernel for w in ws)
        s = tuple(w.stride for w in ws)
        p = tuple(w.padding for w in ws)
        extra = a.model_dump(exclude=set(PoolArgs.model_fields))
        cls = getattr(nn, f"{torch_name}{len(ws)}d")
        return cls(k, s, p, ceil_mode=a.ceil_mode, **extra)
    return build


@layer("maxpool", PoolArgs, main="kernel", **POOL)
class MaxPool:
    """Max pooling, as torch.nn.MaxPool1d/2d/3d (stride defaults to the kernel).

    Shape: [C, *S] -> [C, *S'], S'_i = floor((S_i + 2*P_i - (K_i-1) - 1)/St_i) + 1,
    ceil with ceil_mode (a last window starting in the padding is dropped).
    """

    shape = _pool_shape("maxpool")
    explain = _pool_explain("maxpool")
    receptive = _pool_receptive("maxpool")
    build = _pool_build("maxpool", "MaxPool")


@layer("avgpool", AvgPoolArgs, main="kernel", **POOL)
class AvgPool:
    """Average pooling, as torch.nn.AvgPool1d/2d/3d; the same shape rule as maxpool."""

    shape = _pool_shape("avgpool")
    explain = _pool_explain("avgpool")
    receptive = _pool_receptive("avgpool")
    build = _pool_build("avgpool", "AvgPool")


@layer("global_avgpool", **POOL)
class GlobalAvgPool:
    """Mean over all spatial dims: [C, *S] -> [C] (adaptive average pool to 1, flattened)."""

    def shape(ins, a):
        spatial_rank(ins, "global_avgpool")
        return (channels(ins, "global_avgpool"),)

    def build(ins, a):
        from netspec.kinds.modules import GlobalAvgPool

        return GlobalAvgPool(spatial_rank(ins, "global_avgpool"))


class AdaptiveArgs(Args):
    size: PositiveIntOrInts = Field(description="output spatial size, one int or one per dim; "
                                    "the windows are computed to fit")


@layer("adaptive_avgpool", AdaptiveArgs, main="size", **POOL)
class AdaptiveAvgPool:
    """Average pooling to a fixed output size, as torch.nn.AdaptiveAvgPool1d/2d/3d.

    Shape: [C, *S] -> [C, *size].
    """

    def shape(ins, a: AdaptiveArgs):
        n = spatial_rank(ins, "adaptive_avgpool")
        return (ins[0][0], *tuple_n(a.size, n, "size"))

    def receptive(ins, a: AdaptiveArgs):
        """Output o reads floor(o*S/size) .. ceil((o+1)*S/size) - 1; a symbolic S: unknown."""
        n = spatial_rank(ins, "adaptive_avgpool")
        sizes = ins[0][1:]
        if not all(isinstance(x, int) for x in sizes):
            return None
        reads: tuple[Reads, ...] = tuple(Adaptive(x, m) for x, m in
                                         zip(sizes, tuple_n(a.size, n, "size")))
        return Axes(reads)

    def build(ins, a: AdaptiveArgs):
        from torch import nn

        n = spatial_rank(ins, "adaptive_avgpool")
        cls = (nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d, nn.AdaptiveAvgPool3d)[n - 1]
        return cls(tuple_n(a.size, n, "size"))
