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

import numpy as np

from netspec.training.data.base import Arrays
from netspec.training.data.bundled import digits
from netspec.training.data.section import DATASETS, DataConfig, source_args
from netspec.training.data.sources import DigitsArgs, InkArgs, UnpairedArgs


def digits_ink(a: InkArgs, shape: tuple, cfg) -> Arrays:
    """`digits_ink` (sources.py): digits thickened by a max filter, inverted by default."""
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


def unpaired(args: UnpairedArgs, shape: tuple, cfg) -> Arrays:
    """Domain a's images as `x` and domain b's as `y` (module docstring); both in [0, 1]."""
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
