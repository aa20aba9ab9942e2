"""Rearranging channels: `channel_shuffle` (ShuffleNet), `pixel_shuffle` and `pixel_unshuffle`
(sub-pixel convolution, space-to-depth), as nn.ChannelShuffle, nn.PixelShuffle and
nn.PixelUnshuffle. No parameters; the shape rules refuse what torch refuses."""

from __future__ import annotations

from pydantic import Field

from netspec.kinds.argtypes import Args, PositiveInt
from fractions import Fraction

from netspec.kinds.base import ShapeError, fmt_shape, layer
from netspec.kinds.footprint import Axes, Resample, Slide, pointwise

# a rearrangement of the input's values: weight init looks through it
REARRANGE = {"family": "shape", "init_role": "transparent"}


def _known(shape, dims, what: str) -> None:
    sym = [shape[d] for d in dims if not isinstance(shape[d], int)]
    if sym:
        raise ShapeError(f"needs known sizes, got the symbolic dim {sym[0]!r} in "
                         f"{fmt_shape(shape)}", hint=f"bind it with `--input`: {what}")


class ChannelShuffleArgs(Args):
    groups: PositiveInt = Field(description="g: the channels are split into g groups and "
                                "interleaved (C must be a multiple of g)")


@layer("channel_shuffle", ChannelShuffleArgs, main="groups", **REARRANGE)
class ChannelShuffle:
    """ShuffleNet's shuffle, as nn.ChannelShuffle: [C, *S] -> [C, *S], channel i*g + j
    (group j, index i) moves to j*(C/g) + i; C % g == 0.
    """

    def shape(ins, a):
        shape = ins[0]
        if len(shape) < 2:
            raise ShapeError(f"needs a channels-first feature map [C, H, W] (or [C, L]), got "
                             f"{fmt_shape(shape)}", hint="channel_shuffle works on conv "
                             "feature maps; reshape features to [C, L] first")
        _known(shape, [0], "channels are shuffled by count")
        if shape[0] % a.groups:
            raise ShapeError(f"has {a.groups} groups, which do not divide its {shape[0]} "
                             f"channels", hint=f"C % groups must be 0: use a divisor of "
                             f"{shape[0]}")
        return shape

    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.ChannelShuffle(a.groups)


class FactorArgs(Args):
    factor: PositiveInt = Field(description="r: the spatial scale factor")


def _chw(shape, what: str):
    if len(shape) < 3:
        raise ShapeError(f"needs a feature map [C, H, W], got {fmt_shape(shape)}",
                         hint=f"{what} works on the last three dims (C, H, W)")
    _known(shape, [-3, -2, -1], what)
    return shape[-3:]


@layer("pixel_shuffle", FactorArgs, main="factor", **REARRANGE)
class PixelShuffle:
    """Depth to space, as nn.PixelShuffle: [C, H, W] -> [C/r², H*r, W*r]; C % r² == 0."""

    def shape(ins, a):
        c, h, w = _chw(ins[0], "pixel_shuffle")
        r2 = a.factor ** 2
        if c % r2:
            raise ShapeError(f"has factor {a.factor}, so its {c} channels must be a multiple "
                             f"of {a.factor}² = {r2}",
                             hint=f"a conv before it with `out: {max(1, c // r2) * r2}` fits")
        return (*ins[0][:-3], c // r2, h * a.factor, w * a.factor)

    def receptive(ins, a):
        """Output (h, w) holds a value of input (h // r, w // r): nearest upsampling's reads
        (on [C, H, W]; a leading dim more leaves the axes unknown)."""
        near = Resample(Fraction(1, a.factor))
        return Axes((near, near)) if len(ins[0]) == 3 else None

    def build(ins, a):
        from torch import nn

        return nn.PixelShuffle(a.factor)


@layer("pixel_unshuffle", FactorArgs, main="factor", **REARRANGE)
class PixelUnshuffle:
    """Space to depth, as nn.PixelUnshuffle: [C, H, W] -> [C*r², H/r, W/r]; H % r == W % r == 0."""

    def shape(ins, a):
        c, h, w = _chw(ins[0], "pixel_unshuffle")
        r = a.factor
        if h % r or w % r:
            raise ShapeError(f"has factor {r}, which does not divide its {h}x{w} map",
                             hint=f"H and W must be multiples of {r}; resize the input or "
                                  f"pick a factor that divides both")
        return (*ins[0][:-3], c * r * r, h // r, w // r)

    def receptive(ins, a):
        """Output (h, w) holds input (h*r + i, w*r + j): an r x r window of stride r."""
        return Axes((Slide(a.factor, a.factor),) * 2) if len(ins[0]) == 3 else None

    def build(ins, a):
        from torch import nn

        return nn.PixelUnshuffle(a.factor)
