"""Data augmentation on batches, one registry. Plain tensor ops (torchvision is not available
beside our torch; kornia is not needed): each op transforms a whole batch at once with
per-sample random parameters drawn from the epoch's generator `g`, so a run replays exactly.

Image ops (`image: True`: flips, crops, rotation, colour, cutout, cutmix) see images in [0, 1]
as [B, C, H, W], before normalisation. `noise` and `mixup` work on any data and run after
normalisation: noise's `std` is in units of each feature's standard deviation (added before
normalisation, noise on a nearly constant feature would be magnified without bound). `mixes:
True` ops (mixup, cutmix) also mix the targets and return (x, perm, lam).

    pipeline = Pipeline(cfg.augment)
    x, y_b, lam = pipeline(x, y, g, normalize)   # y_b is None unless a mixing op ran
"""

from __future__ import annotations

import math
from typing import Annotated

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import Field

from netspec.kinds.argtypes import (Float, NonNegativeFloat, NonNegativeInt,
                                     PositiveFloat, Probability)
from netspec.training.registry import Args, Registry

AUGMENTATIONS = Registry("augmentation")
MAX_PADDING = 1024            # crop pads each side; more is a typo, and costs memory


class FlipArgs(Args):
    p: Probability = 0.5


class CropArgs(Args):
    padding: Annotated[NonNegativeInt, Field(le=MAX_PADDING)] = 4


class RotateArgs(Args):
    degrees: Annotated[Float, Field(ge=0, le=180)] = 15.0


class JitterArgs(Args):
    brightness: Annotated[Float, Field(ge=0, le=1)] = 0.2
    contrast: Annotated[Float, Field(ge=0, le=1)] = 0.2
    saturation: Annotated[Float, Field(ge=0, le=1)] = 0.2


class NoiseArgs(Args):
    std: NonNegativeFloat = 0.05


class CutoutArgs(Args):
    size: PositiveFloat = 0.25      # side: a fraction of the image, or pixels
    p: Probability = 1.0


class MixArgs(Args):
    alpha: PositiveFloat = 0.2


class CutMixArgs(MixArgs):
    alpha: PositiveFloat = 1.0


def _uniform(g: torch.Generator, n: int, device) -> torch.Tensor:
    return torch.rand(n, generator=g).to(device)


def _per_sample(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (x.dim() - 1)))


@AUGMENTATIONS.add("hflip", FlipArgs, main="p", image=True)
def hflip(x, a: FlipArgs, g):
    """Mirror left-right with probability p."""
    flip = _per_sample(_uniform(g, len(x), x.device) < a.p, x)
    return torch.where(flip, x.flip(-1), x)


@AUGMENTATIONS.add("vflip", FlipArgs, main="p", image=True)
def vflip(x, a: FlipArgs, g):
    """Mirror top-bottom with probability p."""
    flip = _per_sample(_uniform(g, len(x), x.device) < a.p, x)
    return torch.where(flip, x.flip(-2), x)


@AUGMENTATIONS.add("random_crop", CropArgs, main="padding", image=True)
def random_crop(x, a: CropArgs, g):
    """Zero-pad by `padding` on each side, then crop back to the size at a random offset."""
    b, c, h, w = x.shape
    p = a.padding
    padded = F.pad(x, (p, p, p, p))
    oy = torch.randint(0, 2 * p + 1, (b,), generator=g).to(x.device)
    ox = torch.randint(0, 2 * p + 1, (b,), generator=g).to(x.device)
    rows = (oy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (ox[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(b, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


@AUGMENTATIONS.add("rotate", RotateArgs, main="degrees", image=True)
def rotate(x, a: RotateArgs, g):
    """Rotate by a uniform angle in [-degrees, degrees] about the centre (bilinear, zero fill)."""
    angle = (_uniform(g, len(x), x.device) * 2 - 1) * math.radians(a.degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


@AUGMENTATIONS.add("color_jitter", JitterArgs, image=True)
def color_jitter(x, a: JitterArgs, g):
    """Random brightness, contrast and (3 channels) saturation factors in [1 - v, 1 + v]."""
    def factor(v):
        return _per_sample(1 + (_uniform(g, len(x), x.device) * 2 - 1) * v, x).to(x.dtype)
    x = x * factor(a.brightness)
    mean = x.mean(dim=tuple(range(1, x.dim())), keepdim=True)
    x = (x - mean) * factor(a.contrast) + mean
    if x.shape[1] == 3:
        grey = (x * torch.tensor([0.299, 0.587, 0.114], device=x.device,
                                 dtype=x.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)
        x = (x - grey) * factor(a.saturation) + grey
    return x.clamp(0, 1)


@AUGMENTATIONS.add("noise", NoiseArgs, main="std")
def noise(x, a: NoiseArgs, g):
    """Add Gaussian noise of standard deviation `std` (normalised units; any data)."""
    return x + torch.randn(x.shape, generator=g).to(x.device, x.dtype) * a.std


@AUGMENTATIONS.add("cutout", CutoutArgs, main="size", image=True)
def cutout(x, a: CutoutArgs, g):
    """Zero one square per image (DeVries & Taylor, 2017) at a random centre; `size` is its side,
    a fraction of the image below 1, else pixels."""
    b, _, h, w = x.shape
    side = a.size * min(h, w) if a.size < 1 else a.size
    cy = _uniform(g, b, x.device) * h
    cx = _uniform(g, b, x.device) * w
    ys = torch.arange(h, device=x.device).view(1, h, 1) + 0.5
    xs = torch.arange(w, device=x.device).view(1, 1, w) + 0.5
    inside = ((ys - cy.view(b, 1, 1)).abs() < side / 2) & ((xs - cx.view(b, 1, 1)).abs() < side / 2)
    apply = (_uniform(g, b, x.device) < a.p).view(b, 1, 1)
    return x.masked_fill((inside & apply)[:, None], 0.0)


def _beta(g: torch.Generator, alpha: float) -> float:
    # torch's Beta sampler has no generator argument; numpy's, seeded from `g`, keeps replay exact
    seed = int(torch.randint(0, 2**62, (1,), generator=g))
    return float(np.random.default_rng(seed).beta(alpha, alpha))


@AUGMENTATIONS.add("mixup", MixArgs, main="alpha", mixes=True)
def mixup(x, a: MixArgs, g):
    """mixup (Zhang et al., 2018): x = lam x + (1 - lam) x[perm], lam ~ Beta(alpha, alpha)."""
    lam = _beta(g, a.alpha)
    perm = torch.randperm(len(x), generator=g).to(x.device)
    return lam * x + (1 - lam) * x[perm], perm, lam


@AUGMENTATIONS.add("cutmix", CutMixArgs, main="alpha", mixes=True, image=True)
def cutmix(x, a: CutMixArgs, g):
    """CutMix (Yun et al., 2019): paste a box of another image; lam is the kept area."""
    b, _, h, w = x.shape
    lam = _beta(g, a.alpha)
    perm = torch.randperm(b, generator=g).to(x.device)
    cut = math.sqrt(1 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = (int(v) for v in torch.randint(0, 1 << 30, (2,), generator=g))
    cy, cx = cy % h, cx % w
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    out = x.clone()
    out[:, :, y0:y1, x0:x1] = x[perm][:, :, y0:y1, x0:x1]
    return out, perm, 1 - (y1 - y0) * (x1 - x0) / (h * w)


class Pipeline:
    """The configured ops: image ops in their order on [0, 1] images, then `normalize`, then
    the others (noise, mixup) in their order; at most one mixing op takes effect (the last)."""

    def __init__(self, choices):
        self.choices = tuple(choices)
        self.raw = [c for c in self.choices if c.entry.meta.get("image")]
        self.normalized = [c for c in self.choices if not c.entry.meta.get("image")]

    def __bool__(self) -> bool:
        return bool(self.choices)

    def __call__(self, x, y, g, normalize=lambda x: x):
        y_b, lam = None, 1.0
        for c in self.raw:
            x, y_b, lam = self._apply(c, x, y, g, y_b, lam)
        x = normalize(x)
        for c in self.normalized:
            x, y_b, lam = self._apply(c, x, y, g, y_b, lam)
        return x, y_b, lam

    @staticmethod
    def _apply(c, x, y, g, y_b, lam):
        if c.entry.meta.get("mixes"):
            x, perm, lam = c.entry.fn(x, c.args, g)
            return x, y[perm], lam
        return c.entry.fn(x, c.args, g), y_b, lam
