"""Receptive-field rules: how a layer's output positions read its input positions.

A kind declares `receptive(ins, args) -> rule` in its registry entry; `netspec.graph.receptive`
follows the rules through the graph. A rule is one of:

    Axes(reads)        one `Reads` per spatial axis of a channels-first map (conv, pool, upsample)
    Along(dim, reads)  the `Reads` applies to per-sample dim `dim` only (slice)
    Pointwise(mixed)   output position p reads position p of every input (activations, norms,
                       merges; broadcast inputs read as torch broadcasts); positions along the
                       per-sample dims `mixed` are mixed (softmax's dim, concat's dim): if one of
                       them is spatial, the output is no longer spatial
    Permute(order)     the per-sample dims are reordered: out dim j is in dim order[j]
    None               the output is not spatial (global pools, flatten, linear on a map,
                       attention, recurrent layers): it reads the whole footprint of its input

Normalisations are pointwise by the usual convention: their statistics are one number per
channel (or sample), not a window over neighbours, and receptive-field tables leave them out.

A `Reads` maps output position o (0-based, along one axis) to the first and last input position
it reads; positions outside the input are the padding's, and count (torchvision's convention:
ResNet-18's receptive field is larger than its 224 input). Every `Reads` is periodic:
reads(o + period) = reads(o) + shift, which keeps the traversal exact and finite.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import floor, gcd
from typing import Sequence


class Reads:
    """Output position o reads input positions first(o)..last(o) (both non-decreasing in o)."""

    period: int
    shift: int

    def first(self, o: int) -> int:
        raise NotImplementedError

    def last(self, o: int) -> int:
        raise NotImplementedError

    def scale(self) -> Fraction:
        """Input positions per output position: the factor by which the jump grows."""
        return Fraction(self.shift, self.period)

    def formula(self, rf_in: int, jump_in: Fraction) -> str | None:
        """The classic arithmetic `rf_in + (K-1)*jump_in`, where it is exact."""
        return None


@dataclass(frozen=True)
class Slide(Reads):
    """A sliding window (conv, pool): o reads o*stride - padding + dilation*t, t in [0, kernel).

    rf' = rf + dilation*(kernel-1)*jump; jump' = jump*stride;
    start' = start + (dilation*(kernel-1)/2 - padding)*jump.

    >>> Slide(4, 2, 1).first(0), Slide(4, 2, 1).last(0)
    (-1, 2)
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    @property
    def period(self) -> int:
        return 1

    @property
    def shift(self) -> int:
        return self.stride

    def first(self, o: int) -> int:
        return o * self.stride - self.padding

    def last(self, o: int) -> int:
        return o * self.stride - self.padding + self.dilation * (self.kernel - 1)

    def formula(self, rf_in: int, jump_in: Fraction) -> str:
        k = f"({self.kernel}-1)" if self.dilation == 1 else f"{self.dilation}*({self.kernel}-1)"
        return f"{rf_in} + {k}*{_num(jump_in)}"


@dataclass(frozen=True)
class Spread(Reads):
    """A transposed conv: input i writes output i*stride - padding + dilation*t, t in [0, kernel).

    So output o reads the inputs i = (o + padding - dilation*t) / stride that are whole numbers:
    at most ceil(kernel/stride) of them (dilation 1), fewer at some positions. The rule taken is
    that inverse exactly, position by position (period `stride`), and the receptive field the
    largest over positions: the usual "treat it as a conv with stride 1/s" would give fractional
    fields that no output position has. jump' = jump / stride.

    >>> [(Spread(4, 2, 1).first(o), Spread(4, 2, 1).last(o)) for o in range(4)]
    [(-1, 0), (0, 1), (0, 1), (1, 2)]
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    @property
    def period(self) -> int:
        return self.stride

    @property
    def shift(self) -> int:
        return 1

    def _inputs(self, o: int) -> list[int]:
        x = o + self.padding
        return [(x - self.dilation * t) // self.stride for t in range(self.kernel)
                if (x - self.dilation * t) % self.stride == 0]

    def first(self, o: int) -> int:
        ins = self._inputs(o)
        # an output no tap reaches (kernel < stride) holds the bias alone; it is taken to read
        # its nearest input, which keeps first/last non-decreasing
        return min(ins) if ins else (o + self.padding) // self.stride

    def last(self, o: int) -> int:
        ins = self._inputs(o)
        return max(ins) if ins else (o + self.padding) // self.stride

    def formula(self, rf_in: int, jump_in: Fraction) -> str | None:
        if self.dilation != 1:
            return None
        return f"{rf_in} + (ceil({self.kernel}/{self.stride})-1)*{_num(jump_in)}"


@dataclass(frozen=True)
class Resample(Reads):
    """Interpolation (upsample, pixel_shuffle): o reads around src(o) = o*ratio + offset.

    `taps` 1 reads floor(src) (nearest), 2 also the next one (linear), 4 one before and two
    after (cubic); a tap whose weight is exactly 0 (src a whole number) is not read. torch's
    rules: nearest src = o*ratio; align_corners false src = (o + 1/2)*ratio - 1/2; true
    src = o*(in-1)/(out-1). jump' = jump * ratio.

    >>> r = Resample(Fraction(1, 2), Fraction(-1, 4), 2)
    >>> [(r.first(o), r.last(o)) for o in range(4)]
    [(-1, 0), (0, 1), (0, 1), (1, 2)]
    """

    ratio: Fraction
    offset: Fraction = Fraction(0)
    taps: int = 1

    @property
    def period(self) -> int:
        return self.ratio.denominator

    @property
    def shift(self) -> int:
        return self.ratio.numerator

    def _src(self, o: int) -> Fraction:
        return o * self.ratio + self.offset

    def first(self, o: int) -> int:
        src = self._src(o)
        base = floor(src)
        return base - 1 if self.taps == 4 and src != base else base

    def last(self, o: int) -> int:
        src = self._src(o)
        base = floor(src)
        if self.taps == 1 or src == base:
            return base
        return base + (2 if self.taps == 4 else 1)


@dataclass(frozen=True)
class Adaptive(Reads):
    """Adaptive pooling from `size_in` to `size_out` positions: o reads
    floor(o*in/out) .. ceil((o+1)*in/out) - 1, as torch's adaptive pools."""

    size_in: int
    size_out: int

    @property
    def period(self) -> int:
        return self.size_out // gcd(self.size_in, self.size_out)

    @property
    def shift(self) -> int:
        return self.size_in // gcd(self.size_in, self.size_out)

    def first(self, o: int) -> int:
        return (o * self.size_in) // self.size_out

    def last(self, o: int) -> int:
        return -((-(o + 1) * self.size_in) // self.size_out) - 1


@dataclass(frozen=True)
class Axes:
    """One `Reads` per spatial axis of a channels-first map (per-sample dims 1..n)."""

    reads: tuple[Reads, ...]


@dataclass(frozen=True)
class Along:
    """A `Reads` on per-sample dim `dim` only; the other dims are kept position by position."""

    dim: int
    reads: Reads


@dataclass(frozen=True)
class Pointwise:
    """Position p of the output reads position p of each input (broadcasting as torch); the
    positions along per-sample dims `mixed` are mixed together."""

    mixed: tuple[int, ...] = ()


@dataclass(frozen=True)
class Permute:
    """Per-sample dim j of the output is per-sample dim order[j] of the input."""

    order: tuple[int, ...]


POINTWISE = Pointwise()


def pointwise(ins, a) -> Pointwise:
    """The rule of element-wise kinds: activations, dropout, norms, add/mul/..."""
    return POINTWISE


def mixing(dim: int, rank: int) -> Pointwise:
    """Pointwise except along `dim` (counted with the batch as 0, negatives from the end)."""
    return Pointwise((dim % (rank + 1) - 1,))


def resample(size_in, size_out, scale, mode: str, align_corners: bool | None) -> Reads | None:
    """torch's interpolation along one axis (None where a size is symbolic and no scale is
    given: the footprint is not known)."""
    taps = {"nearest": 1, "linear": 2, "bilinear": 2, "trilinear": 2, "bicubic": 4}[mode]
    if align_corners and taps > 1:
        if not (isinstance(size_in, int) and isinstance(size_out, int)):
            return None
        ratio = Fraction(size_in - 1, size_out - 1) if size_out > 1 else Fraction(0)
        return Resample(ratio, Fraction(0), taps) if ratio else None
    if scale is not None:
        ratio = 1 / Fraction(scale).limit_denominator(1000)
    elif isinstance(size_in, int) and isinstance(size_out, int):
        ratio = Fraction(size_in, size_out)
    else:
        return None
    offset = Fraction(0) if taps == 1 else (ratio - 1) / 2
    return Resample(ratio, offset, taps)


def windows_reads(windows: Sequence) -> Axes:
    """The rule of a conv or pool from its `Window`s (kernel, stride, padding, dilation)."""
    return Axes(tuple(Slide(w.kernel, w.stride, w.padding, w.dilation) for w in windows))


def _num(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


__all__ = ["Reads", "Slide", "Spread", "Resample", "Adaptive", "Axes", "Along", "Pointwise",
           "Permute", "POINTWISE", "pointwise", "mixing", "resample", "windows_reads"]
