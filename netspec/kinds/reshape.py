"""Shape operations: `reshape`, `permute`, `upsample`."""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from netspec.kinds.argtypes import Args, Bool, Ints, PositiveIntOrInts, PositiveNumbers
from netspec.kinds.footprint import Axes, Permute, resample
from netspec.kinds.base import (LayerKind, ShapeError, axis_names, fmt_shape, layer, register,
                                spatial_rank, tuple_n)

# a shape operation passes token ids through, and weight init looks through it
SHAPE_OP = {"family": "shape", "input_dtype": "any", "keeps_dtype": True,
            "init_role": "transparent"}


class ReshapeArgs(Args):
    shape: Ints = Field(description="the per-sample shape (the batch is kept); one -1 is inferred")


def _reshape_shape(ins, a: ReshapeArgs):
    """The per-sample shape `a.shape` (batch kept), with one -1 inferred.

    >>> _reshape_shape([(16, 5, 5)], ReshapeArgs(shape=[-1, 25]))
    (16, 25)
    """
    src = ins[0]
    target = list(a.shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(f"has shape {list(a.shape)}: sizes must be positive, with at most one -1")
    if not all(isinstance(d, int) for d in src):
        raise ShapeError(f"cannot reshape the symbolic shape {fmt_shape(src)}",
                         hint="bind the symbolic dim with `--input`")
    total, known = math.prod(src), math.prod(d for d in target if d != -1)
    if -1 in target:
        if total % known:
            raise ShapeError(f"cannot fit {fmt_shape(src)} ({total} values) into "
                             f"{list(a.shape)}: {total} is not a multiple of {known}")
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeError(f"cannot reshape {fmt_shape(src)} ({total} values) into "
                         f"{list(a.shape)} ({known} values)")
    return tuple(target)


def _reshape_emit(graph, nodes, a: ReshapeArgs, ins=None):
    # the batch stays dynamic (for ONNX export) while the sample dims are the spec's
    batch = graph.call_method("size", (nodes[0], 0))
    return graph.call_method("reshape", (nodes[0], batch, *a.shape))


register(LayerKind(name="reshape", args=ReshapeArgs, shape=_reshape_shape, main="shape",
                   emit=_reshape_emit, **SHAPE_OP,
                   doc="Reshape each sample to `shape` (the batch is kept; one -1 is inferred), "
                       "as Tensor.reshape."))


class PermuteArgs(Args):
    dims: Ints = Field(description="all dims in their new order, the batch first as 0")


def _permute_shape(ins, a: PermuteArgs):
    """`dims` lists every dim with the batch first (0), as Tensor.permute.

    >>> _permute_shape([(3, 8, 16)], PermuteArgs(dims=[0, 2, 3, 1]))
    (8, 16, 3)
    """
    rank = len(ins[0]) + 1
    if sorted(a.dims) != list(range(rank)) or a.dims[0] != 0:
        raise ShapeError(f"has dims {list(a.dims)}; it must list all {rank} dims 0..{rank - 1} "
                         f"with the batch (0) first",
                         hint=f"e.g. {[0, *range(2, rank), 1]} moves channels last")
    return tuple(ins[0][d - 1] for d in a.dims[1:])


def _permute_emit(graph, nodes, a: PermuteArgs, ins=None):
    return graph.call_method("permute", (nodes[0], *a.dims))


register(LayerKind(name="permute", args=PermuteArgs, shape=_permute_shape, main="dims",
                   emit=_permute_emit, **SHAPE_OP,
                   receptive=lambda ins, a: Permute(tuple(d - 1 for d in a.dims[1:])),
                   doc="Reorder dims; `dims` lists all of them with the batch (0) first."))


class UpsampleArgs(Args):
    scale: PositiveNumbers | None = Field(None, description="factor per spatial dim (one number "
                                          "or one per dim); or give size")
    size: PositiveIntOrInts | None = Field(None, description="output spatial size; or give scale")
    mode: Literal["nearest", "linear", "bilinear", "bicubic", "trilinear"] = Field(
        "nearest", description="interpolation: nearest, or (bi/tri)linear and bicubic for "
        "1d/2d/3d")
    align_corners: Bool | None = Field(None, description="for the linear modes: corner pixels of "
                                       "input and output aligned, as torch")

    @model_validator(mode="after")
    def _one_of(self):
        if (self.scale is None) == (self.size is None):
            raise ValueError("give exactly one of `scale` and `size`")
        if self.align_corners is not None and self.mode == "nearest":
            raise ValueError("`align_corners` applies only to the interpolating modes (linear, "
                             "bilinear, bicubic, trilinear), as in torch")
        return self


# interpolating modes work on one input rank only (torch refuses the others)
MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}


def _upsample_dims(ins, a: UpsampleArgs):
    n = spatial_rank(ins, "upsample")
    if MODE_DIMS.get(a.mode, n) != n:
        raise ShapeError(f"has mode {a.mode}, which needs {MODE_DIMS[a.mode]} spatial dims; "
                         f"its input {fmt_shape(ins[0])} has {n}",
                         hint="linear is for [C, L], bilinear and bicubic for [C, H, W], "
                              "trilinear for [C, D, H, W]; nearest works on any")
    if a.size is not None:
        return tuple_n(a.size, n, "size")
    scales = a.scale if isinstance(a.scale, tuple) else (a.scale,) * n
    if len(scales) != n:
        raise ShapeError(f"has {len(scales)} scale values but its input has {n} spatial dims")
    dims = tuple(math.floor(x * s) if isinstance(x, int) else f"{x}*{s}"
                 for x, s in zip(ins[0][1:], scales))
    if any(isinstance(d, int) and d < 1 for d in dims):
        raise ShapeError(f"scales {fmt_shape(ins[0][1:])} by {a.scale} to "
                         f"{fmt_shape(dims)}; every size must stay at least 1",
                         hint="S' = floor(S * scale): use a larger scale, or `size:`")
    return dims


# torch interpolates floats only: token ids are refused (the default input_dtype)
@layer("upsample", UpsampleArgs, main="scale", family="shape", init_role="transparent")
class Upsample:
    """Upsampling by `scale` or to `size`, as torch.nn.Upsample: S' = floor(S * scale)."""

    def shape(ins, a):
        return (ins[0][0], *_upsample_dims(ins, a))

    def receptive(ins, a):
        """torch's interpolation per axis (None where a symbolic size leaves it unknown)."""
        dims = _upsample_dims(ins, a)
        scales = a.scale if isinstance(a.scale, tuple) else (a.scale,) * len(dims)
        reads = tuple(resample(x, d, s, a.mode, a.align_corners)
                      for x, d, s in zip(ins[0][1:], dims, scales))
        return None if None in reads else Axes(reads)

    def explain(ins, a):
        dims = _upsample_dims(ins, a)
        return [f"{ax}: floor({x} * {a.scale}) = {d}" if a.scale is not None else f"{ax}: {d}"
                for ax, x, d in zip(axis_names(len(dims)), ins[0][1:], dims)]

    def build(ins, a):
        from torch import nn

        scale = a.scale if not isinstance(a.scale, tuple) else tuple(float(s) for s in a.scale)
        if isinstance(scale, int):
            scale = float(scale)
        return nn.Upsample(size=a.size, scale_factor=scale, mode=a.mode,
                           align_corners=a.align_corners)
