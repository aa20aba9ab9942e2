"""Normalisation: `batchnorm`, `layernorm`, `groupnorm`, `instancenorm`, `lrn`."""

from __future__ import annotations

import math

from pydantic import Field

from netspec.kinds.argtypes import (Args, Bool, Float, NonNegativeFloat, PositiveInt,
                                   Probability)
from netspec.kinds.base import ShapeError, channels, fmt_shape, layer, spatial_rank
from netspec.kinds.footprint import pointwise

# norms are looked through between a weight layer and its activation by weight init
# pointwise for receptive fields, by the usual convention: a norm's statistics are one number
# per channel or sample, not a window over neighbours (netspec.kinds.footprint)
NORM = {"family": "norm", "init_role": "transparent", "receptive": pointwise}


class BatchNormArgs(Args):
    eps: NonNegativeFloat = Field(1e-5, description="added to the variance before the square root")
    momentum: Probability = Field(0.1, description="weight of the new batch in the running "
                                  "statistics")
    affine: Bool = Field(True, description="learnable per-channel scale and shift")
    track_running_stats: Bool = Field(True, description="keep running mean/variance for eval; "
                                      "without, eval uses batch statistics")


@layer("batchnorm", BatchNormArgs, **NORM)
class BatchNorm:
    """Batch normalisation over channels, as torch.nn.BatchNorm1d/2d/3d.

    [C] and [C, L] use BatchNorm1d, [C, H, W] 2d, [C, D, H, W] 3d. Shape unchanged.
    Params: 2*C when affine (running statistics are buffers, not parameters).
    """

    def shape(ins, a):
        if not 1 <= len(ins[0]) <= 4:
            raise ShapeError(f"needs [C], [C, L], [C, H, W] or [C, D, H, W], got "
                             f"{fmt_shape(ins[0])}")
        channels(ins, "batchnorm")
        return ins[0]

    def params(ins, a):
        return 2 * ins[0][0] if a.affine else 0

    def build(ins, a):
        from torch import nn

        cls = (nn.BatchNorm1d, nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)[len(ins[0]) - 1]
        return cls(ins[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine,
                   track_running_stats=a.track_running_stats)


class LayerNormArgs(Args):
    dims: PositiveInt = Field(1, description="normalise over the last k dims")
    eps: NonNegativeFloat = Field(1e-5, description="added to the variance before the square root")
    affine: Bool = Field(True, description="learnable elementwise scale (and shift, with bias)")
    bias: Bool = Field(True, description="the learnable shift, with affine")


def _normalized_shape(ins, a: LayerNormArgs) -> tuple[int, ...]:
    if a.dims > len(ins[0]):
        raise ShapeError(f"normalises the last {a.dims} dims of a rank-{len(ins[0])} input "
                         f"{fmt_shape(ins[0])}")
    dims = tuple(ins[0][-a.dims:])
    if not all(isinstance(d, int) for d in dims):
        raise ShapeError(f"cannot normalise over the symbolic dims of {fmt_shape(ins[0])}",
                         hint="layernorm normalises the last dim by default: put the features last")
    return dims


@layer("layernorm", LayerNormArgs, **NORM)
class LayerNorm:
    """Layer normalisation over the last `dims` dims (default 1), as torch.nn.LayerNorm.

    Shape unchanged. Params: 2*prod(normalised dims) (1x without bias) when affine.
    """

    def shape(ins, a):
        _normalized_shape(ins, a)
        return ins[0]

    def params(ins, a):
        if not a.affine:
            return 0
        return math.prod(_normalized_shape(ins, a)) * (2 if a.bias else 1)

    def build(ins, a):
        from torch import nn

        return nn.LayerNorm(_normalized_shape(ins, a), eps=a.eps, elementwise_affine=a.affine,
                            bias=a.bias)


class GroupNormArgs(Args):
    groups: PositiveInt = Field(description="the channels are normalised in this many groups "
                                "(must divide C)")
    eps: NonNegativeFloat = Field(1e-5, description="added to the variance before the square root")
    affine: Bool = Field(True, description="learnable per-channel scale and shift")


@layer("groupnorm", GroupNormArgs, main="groups", **NORM)
class GroupNorm:
    """Group normalisation, as torch.nn.GroupNorm: channels split into `groups`.

    Shape unchanged. Params: 2*C when affine.
    """

    def shape(ins, a):
        c = channels(ins, "groupnorm")
        if c % a.groups:
            raise ShapeError(f"has groups={a.groups}, which does not divide its {c} channels",
                             hint=f"pick a divisor of {c}")
        return ins[0]

    def params(ins, a):
        return 2 * ins[0][0] if a.affine else 0

    def build(ins, a):
        from torch import nn

        return nn.GroupNorm(a.groups, ins[0][0], eps=a.eps, affine=a.affine)


class InstanceNormArgs(Args):
    eps: NonNegativeFloat = Field(1e-5, description="added to the variance before the square root")
    momentum: Probability = Field(0.1, description="weight of the new batch in the running "
                                  "statistics")
    affine: Bool = Field(False, description="learnable per-channel scale and shift (torch's "
                         "default: none)")
    track_running_stats: Bool = Field(False, description="keep running mean/variance for eval")


@layer("instancenorm", InstanceNormArgs, **NORM)
class InstanceNorm:
    """Instance normalisation, as torch.nn.InstanceNorm1d/2d/3d (affine off by default, as
    torch). Shape unchanged. Params: 2*C when affine."""

    def shape(ins, a):
        spatial_rank(ins, "instancenorm")
        channels(ins, "instancenorm")
        if all(d == 1 for d in ins[0][1:]):
            # each channel of each sample is normalised over its own spatial elements
            raise ShapeError(f"gets a {fmt_shape(ins[0])} input: one spatial element per "
                             f"channel, which normalises to 0 (torch refuses it in training)",
                             hint="use it before the feature map is pooled down to 1x1")
        return ins[0]

    def params(ins, a):
        return 2 * ins[0][0] if a.affine else 0

    def build(ins, a):
        from torch import nn

        cls = (nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d)[len(ins[0]) - 2]
        return cls(ins[0][0], eps=a.eps, momentum=a.momentum, affine=a.affine,
                   track_running_stats=a.track_running_stats)


class LRNArgs(Args):
    size: PositiveInt = Field(5, description="neighbouring channels summed over")
    alpha: Float = Field(1e-4, description="scale of the sum of squares")
    beta: Float = Field(0.75, description="exponent of the denominator")
    k: Float = Field(1.0, description="additive constant of the denominator")


@layer("lrn", LRNArgs, main="size", **NORM)
class LocalResponseNorm:
    """Local response normalisation across channels (AlexNet), as torch.nn.LocalResponseNorm.
    Shape unchanged, no parameters."""

    def shape(ins, a):
        spatial_rank(ins, "lrn")
        return ins[0]

    def build(ins, a):
        from torch import nn

        return nn.LocalResponseNorm(a.size, alpha=a.alpha, beta=a.beta, k=a.k)
