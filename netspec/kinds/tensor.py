"""Tensors and parts of tensors: `param` (a learnable tensor, no input), `slice` and `select`.

A `param` is stored as a (1, *shape) parameter under the entry's own name (`cls_token`, as
torchvision's ViT `class_token`), and expanded over the batch where it is used: the compiler
reads the batch size from the network's first input. `slice` and `select` count dims with the
batch as 0, as torch does; dim 0 is refused.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator, model_validator

from netspec.kinds.argtypes import Args, Float, Int, Ints, PositiveFloat, PositiveInt
from netspec.kinds.base import LayerKind, ShapeError, fmt_shape, register
from netspec.kinds.footprint import Along, Slide

# slices and selections pass token ids through, and weight init looks through them
PART_OF = {"family": "shape", "input_dtype": "any", "keeps_dtype": True,
           "init_role": "transparent"}


# ---- param --------------------------------------------------------------------------------

class ConstantInit(Args):
    constant: Float = Field(description="the value of every element")


InitName = Literal["zeros", "ones", "normal", "trunc_normal", "uniform"]


class ParamArgs(Args):
    shape: Ints = Field(description="the per-sample shape (the batch is added where it is "
                        "used): [1, 768] for a class token")
    init: InitName | ConstantInit = Field(
        "zeros", description="zeros, ones, normal (mean 0, `std`), trunc_normal (`std`, cut "
        "at -2 and 2 as torch's trunc_normal_), uniform (`low`..`high`), or {constant: v}")
    std: PositiveFloat = Field(0.02, description="standard deviation of normal and "
                               "trunc_normal")
    low: Float = Field(0.0, description="lower bound of uniform")
    high: Float = Field(1.0, description="upper bound of uniform")

    @field_validator("shape")
    @classmethod
    def _positive(cls, v):
        if not v or any(d < 1 for d in v):
            raise ValueError(f"must list one size of at least 1 per dim, got {list(v)}")
        return v

    @model_validator(mode="after")
    def _bounds(self):
        if self.init == "uniform" and not self.low < self.high:
            raise ValueError(f"uniform needs low < high, got low {self.low}, high {self.high}")
        return self


def _param_build(ins, a: ParamArgs):
    """The parameter, (1, *shape), initialised as `init` says (the network's `init:` scheme
    leaves it alone: it is not a weighted layer)."""
    import torch
    from torch import nn

    data = torch.empty(1, *a.shape)
    with torch.no_grad():
        if isinstance(a.init, ConstantInit):
            data.fill_(a.init.constant)
        elif a.init == "zeros":
            data.zero_()
        elif a.init == "ones":
            data.fill_(1.0)
        elif a.init == "normal":
            nn.init.normal_(data, 0.0, a.std)
        elif a.init == "trunc_normal":
            nn.init.trunc_normal_(data, 0.0, a.std)
        else:
            nn.init.uniform_(data, a.low, a.high)
    return nn.Parameter(data)


register(LayerKind(
    name="param", args=ParamArgs, shape=lambda ins, a: tuple(a.shape),
    params=lambda ins, a: math.prod(a.shape), build=_param_build, family="linear", arity=0,
    init_role=None, main="shape",
    doc="A learnable tensor of per-sample shape `shape`, no input (class token, position "
        "embedding, layer scale); expanded over the batch where used. Params: prod(shape). "
        "Its state_dict key is the entry's name."))


# ---- slice and select -----------------------------------------------------------------------

def sample_dim(dim: int, shape, what: str) -> int:
    """The index into the per-sample shape of `dim`, which counts the batch as 0 (negatives
    from the end); the batch itself is refused."""
    rank = len(shape) + 1
    if not -rank <= dim < rank or dim % rank == 0:
        raise ShapeError(f"has dim {dim}, outside the sample dims 1..{rank - 1} of "
                         f"{fmt_shape(shape)} (dims count the batch as 0)",
                         hint=f"{what} works within a sample; dim 1 is the first dim after the "
                              f"batch")
    return dim % rank - 1


class SliceArgs(Args):
    dim: Int = Field(description="the dim to slice, counting the batch as 0")
    start: Int = Field(0, description="first index (negative: from the end)")
    end: Int | None = Field(None, description="index after the last, null = to the end "
                            "(negative: from the end)")
    step: PositiveInt = Field(1, description="take every step-th index")


def _slice_shape(ins, a: SliceArgs):
    """Python's slice rule on dim `dim`: size' = len(range(size)[start:end:step]).

    >>> _slice_shape([(197, 768)], SliceArgs(dim=1, start=1))
    (196, 768)
    >>> _slice_shape([(116, 28, 28)], SliceArgs(dim=1, end=58))
    (58, 28, 28)
    """
    shape = ins[0]
    d = sample_dim(a.dim, shape, "slice")
    size = shape[d]
    if not isinstance(size, int):
        if a.start == 0 and a.end is None and a.step == 1:
            return shape
        raise ShapeError(f"slices the symbolic dim {size!r} of {fmt_shape(shape)}; its size is "
                         f"not known to the check", hint="bind it with `--input`, or slice "
                         "another dim")
    n = len(range(size)[a.start:a.end:a.step])
    if n == 0:
        end = "the end" if a.end is None else a.end
        raise ShapeError(f"takes nothing of dim {a.dim} (size {size}): start {a.start}, "
                         f"end {end}, step {a.step}",
                         hint=f"indices run 0..{size - 1} (or -{size}..-1 from the end)")
    return (*shape[:d], n, *shape[d + 1:])


def _slice_receptive(ins, a: SliceArgs):
    """Output index o is input index start + o*step: a window of 1 with stride `step`."""
    d = sample_dim(a.dim, ins[0], "slice")
    size = ins[0][d]
    start = range(size)[a.start:a.end:a.step].start if isinstance(size, int) else 0
    return Along(d, Slide(1, a.step, -start))


def _slice_emit(graph, nodes, a: SliceArgs, ins=None):
    import operator

    d = sample_dim(a.dim, ins[0], "slice") + 1
    index = (slice(None),) * d + (slice(a.start, a.end, a.step),)
    return graph.call_function(operator.getitem, (nodes[0], index))


register(LayerKind(name="slice", args=SliceArgs, shape=_slice_shape, emit=_slice_emit,
                   receptive=_slice_receptive,
                   **PART_OF,
                   doc="Part of one dim, as x[..., start:end:step] (`end` null = to the end; "
                       "negatives count from the end; dims count the batch as 0)."))


class SelectArgs(Args):
    dim: Int = Field(description="the dim to index, counting the batch as 0; it is removed")
    index: Int = Field(description="the index (negative: from the end)")


def _select_shape(ins, a: SelectArgs):
    """One index of dim `dim`, which is removed, as Tensor.select.

    >>> _select_shape([(197, 768)], SelectArgs(dim=1, index=0))
    (768,)
    """
    shape = ins[0]
    d = sample_dim(a.dim, shape, "select")
    size = shape[d]
    if isinstance(size, int) and not -size <= a.index < size:
        raise ShapeError(f"has index {a.index}, outside dim {a.dim} of size {size}",
                         hint=f"an index runs 0..{size - 1}, or -{size}..-1 from the end")
    return (*shape[:d], *shape[d + 1:])


def _select_emit(graph, nodes, a: SelectArgs, ins=None):
    return graph.call_method("select", (nodes[0], a.dim, a.index))


register(LayerKind(name="select", args=SelectArgs, shape=_select_shape, emit=_select_emit,
                   **PART_OF,
                   doc="One index of a dim, which is removed, as Tensor.select (ViT's class "
                       "token: `select: {dim: 1, index: 0}`)."))

