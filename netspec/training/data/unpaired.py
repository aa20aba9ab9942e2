"""Two image domains for unpaired translation (`cyclegan`), and a restyled built-in domain.

    data:
      a: {name: digits, size: 32, resample: bilinear}     # any source: digits, shapes, images
      b: {name: digits_ink, size: 32}                     # the same digits drawn in thick ink

`a` and `b` are each a whole `data:` section of their own source. The samples arrive as one
Arrays: `x` the images of a, `y` those of b (as many as the smaller domain has). Domain a takes
its source's even-numbered images and b its source's odd-numbered ones, so when both domains
come from one underlying set (digits and digits_ink) no image of one domain has its own
counterpart in the other: the pairs the trainer batches together are unrelated, as unpaired
training needs.

`digits_ink`: scikit-learn's digits as dark ink on light paper with thicker strokes,

    ink(x) = 1 - maxpool_k(x),   k = 2·thicken + 1 (stride 1, edge padded)

on the [0, 1] images after resizing, a mapping a small convolutional generator can learn
(it is local: within a k×k window) yet one that is plain to see in a grid.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import ValidationError, field_validator

from netspec.kinds.argtypes import Bool, NonNegativeInt, PositiveInt
from netspec.training.data.base import DATASETS, Arrays, DataArgs, DataConfig
from netspec.training.data.bundled import DigitsArgs, digits

MAX_THICKEN = 4              # a wider max filter turns a 32x32 digit into a blob


class InkArgs(DataArgs):
    size: PositiveInt | None = 32
    resample: Literal["nearest", "bilinear"] = "bilinear"
    thicken: NonNegativeInt = 1            # strokes grow by this many pixels each side
    invert: Bool = True                    # dark ink on light paper

    @field_validator("thicken")
    @classmethod
    def _bounded(cls, v: int) -> int:
        if v > MAX_THICKEN:
            raise ValueError(f"is at most {MAX_THICKEN} pixels (wider fills the digit), got {v}")
        return v


@DATASETS.add("digits_ink", InkArgs)
def digits_ink(a: InkArgs, shape: tuple, cfg) -> Arrays:
    """scikit-learn's digits with strokes thickened by `thicken` pixels (a max filter) and,
    with `invert` (default), dark on light: 1 - maxpool(x)."""
    plain = digits(DigitsArgs(size=a.size, resample=a.resample), shape, cfg)
    x = thicken(plain.x, a.thicken)
    if a.invert:
        x = 1.0 - x
    plain.x = np.ascontiguousarray(x.astype(np.float32))
    return plain


def thicken(x: np.ndarray, by: int) -> np.ndarray:
    """The max over each (2·by + 1)² window (stride 1, edges padded with the edge value)."""
    if by == 0:
        return x
    pad = [(0, 0)] * (x.ndim - 2) + [(by, by), (by, by)]
    padded = np.pad(x, pad, mode="edge")
    h, w = x.shape[-2:]
    out = np.full_like(x, -np.inf)
    for dy in range(2 * by + 1):
        for dx in range(2 * by + 1):
            out = np.maximum(out, padded[..., dy:dy + h, dx:dx + w])
    return out


class UnpairedArgs(DataArgs):
    a: Any                                 # a `data:` section (DataConfig) for domain a
    b: Any

    @field_validator("a", "b", mode="before")
    @classmethod
    def _section(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict):
            raise ValueError(f"is a data section of its own, e.g. `{{name: digits, size: 32}}`, "
                             f"got {v!r}")
        try:
            section = DataConfig.model_validate(dict(v))
        except ValidationError as e:
            raise ValueError(e.errors()[0]["msg"]) from None
        if section.source not in DATASETS.entries:
            raise ValueError(f"names no data set: {section.source!r}; data sets: "
                             f"{', '.join(n for n in DATASETS.names() if n != 'a')}")
        return dict(v)


@DATASETS.add("a", UnpairedArgs, file=True)
def unpaired(args: UnpairedArgs, shape: tuple, cfg) -> Arrays:
    """Domain a's images as `x` and domain b's as `y` (module docstring); both in [0, 1]."""
    from netspec.training.data.load import source_args

    sections = {k: DataConfig.model_validate(getattr(args, k)) for k in ("a", "b")}
    images = {}
    for key, section in sections.items():
        entry = DATASETS[section.source]
        images[key] = entry.fn(source_args(section), shape, section)
    # even-numbered images of a, odd-numbered of b: two domains drawn from one set share none
    xa, xb = images["a"].x[0::2], images["b"].x[1::2]
    n = min(len(xa), len(xb))
    return Arrays(np.ascontiguousarray(xa[:n]), np.ascontiguousarray(xb[:n]), "unpaired",
                  None, 1.0, normalize=False,
                  hint="make g_ab's input the shape of domain a's images")
