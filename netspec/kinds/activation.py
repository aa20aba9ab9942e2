"""Activations. All keep the shape; only `prelu` has parameters.

Each says what weight init needs to know about it: relu-like ones get the layer before them
He (kaiming) init, saturating ones Xavier; softmax, log_softmax and sigmoid say what a network
ending in them outputs."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netspec.kinds.argtypes import Args, Bool, Float, Int
from netspec.kinds.base import LayerKind, ShapeError, channels, fmt_shape, layer, register
from netspec.kinds.footprint import mixing, pointwise

RELU_LIKE = {"family": "activation", "init_role": "relu_like"}
SATURATING = {"family": "activation", "init_role": "saturating"}


def _same(ins, a):
    return ins[0]


def _simple(name: str, torch_name: str, doc: str, role: dict, **meta) -> None:
    """An argument-free activation that maps to torch.nn.<torch_name>()."""

    def build(ins, a):
        from torch import nn

        return getattr(nn, torch_name)()

    register(LayerKind(name=name, args=Args, shape=_same, build=build, doc=doc,
                       receptive=pointwise, **role, **meta))


_simple("relu", "ReLU", "max(0, x), as torch.nn.ReLU.", RELU_LIKE)
_simple("relu6", "ReLU6", "min(max(0, x), 6), as torch.nn.ReLU6.", RELU_LIKE)
_simple("sigmoid", "Sigmoid", "1 / (1 + exp(-x)), as torch.nn.Sigmoid.", SATURATING,
        output="probabilities")
_simple("hardsigmoid", "Hardsigmoid", "Piecewise-linear sigmoid, as torch.nn.Hardsigmoid.",
        SATURATING)
# Xavier's gain for tanh, torch.nn.init.calculate_gain("tanh")
_simple("tanh", "Tanh", "Hyperbolic tangent, as torch.nn.Tanh.", SATURATING, init_gain=5 / 3)
_simple("silu", "SiLU", "x * sigmoid(x), as torch.nn.SiLU; `swish` is the same.", RELU_LIKE,
        aliases=("swish",))
_simple("hardswish", "Hardswish", "x * hardsigmoid(x), as torch.nn.Hardswish.", RELU_LIKE)
_simple("mish", "Mish", "x * tanh(softplus(x)), as torch.nn.Mish.", RELU_LIKE)


class LeakyArgs(Args):
    slope: Float = Field(0.01, description="the slope for negative inputs")


@layer("leaky_relu", LeakyArgs, main="slope", **RELU_LIKE)
class LeakyReLU:
    """max(0, x) + slope * min(0, x), as torch.nn.LeakyReLU(negative_slope=slope)."""

    shape = _same
    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.LeakyReLU(a.slope)


class PReLUArgs(Args):
    channels: Bool = Field(False, description="one learnable slope per channel instead of one "
                           "for all")
    init: Float = Field(0.25, description="the slopes' initial value")


@layer("prelu", PReLUArgs, **RELU_LIKE)
class PReLU:
    """Leaky ReLU with a learned slope, as torch.nn.PReLU: one parameter, or one per channel
    with `channels: true`."""

    shape = _same
    receptive = pointwise

    def params(ins, a):
        return channels(ins, "prelu") if a.channels else 1

    def build(ins, a):
        from torch import nn

        return nn.PReLU(ins[0][0] if a.channels else 1, init=a.init)


class EluArgs(Args):
    alpha: Float = Field(1.0, description="the value negative inputs saturate to is -alpha")


@layer("elu", EluArgs, main="alpha", **RELU_LIKE)
class ELU:
    """x if x > 0 else alpha * (exp(x) - 1), as torch.nn.ELU."""

    shape = _same
    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.ELU(a.alpha)


class GeluArgs(Args):
    approximate: Literal["none", "tanh"] = Field("none", description="`tanh`: the tanh "
                                                 "approximation; `none`: the exact erf form")


@layer("gelu", GeluArgs, **RELU_LIKE)
class GELU:
    """Gaussian error linear unit, as torch.nn.GELU."""

    shape = _same
    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.GELU(a.approximate)


class SoftmaxArgs(Args):
    dim: Int = Field(1, description="the dim normalised over, counting the batch as 0")


def _softmax_shape(ins, a: SoftmaxArgs):
    rank = len(ins[0]) + 1          # dims count the batch as 0, as torch does
    if not -rank <= a.dim < rank or a.dim % rank == 0:
        raise ShapeError(f"has dim {a.dim}, outside the sample dims 1..{rank - 1} of "
                         f"{fmt_shape(ins[0])} (dims count the batch as 0)",
                         hint="dim 1 is the first dim after the batch; -1 the last")
    return ins[0]


def _softmax_receptive(ins, a: SoftmaxArgs):
    """Pointwise, except that positions along `dim` are mixed."""
    return mixing(a.dim, len(ins[0]))


def _softmax(torch_name: str):
    def build(ins, a):
        from torch import nn

        return getattr(nn, torch_name)(dim=a.dim)
    return build


register(LayerKind(name="softmax", args=SoftmaxArgs, shape=_softmax_shape, main="dim",
                   build=_softmax("Softmax"), output="probabilities", **SATURATING,
                   receptive=_softmax_receptive,
                   doc="exp(x) / sum(exp(x)) along `dim` (default 1), as torch.nn.Softmax."))
register(LayerKind(name="log_softmax", args=SoftmaxArgs, shape=_softmax_shape, main="dim",
                   build=_softmax("LogSoftmax"), output="log_probabilities", **SATURATING,
                   receptive=_softmax_receptive,
                   doc="log(softmax(x)) along `dim` (default 1), as torch.nn.LogSoftmax."))
