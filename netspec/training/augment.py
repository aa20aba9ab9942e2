"""Data augmentation on batches: the function of each entry declared in
netspec.training.augment_args (names, arguments, needs: torch-free, what `check` validates),
under the entry's name, imported when an augmentation first runs.
Plain tensor ops (torchvision is not available beside our torch; kornia is not needed): each op
transforms a whole batch at once with per-sample random parameters drawn from the epoch's
generator `g`, so a run replays exactly.

Image ops (`image: True`: flips, crops, rotation, colour, cutout, cutmix, mosaic) see images in
[0, 1] as [B, C, H, W], before normalisation. `noise` and `mixup` work on any data and run after
normalisation: noise's `std` is in units of each feature's standard deviation (added before
normalisation, noise on a nearly constant feature would be magnified without bound). `mixes:
True` ops (mixup, cutmix, mosaic) also mix the targets: they return the images and the parts
the targets are mixed from, ((weight, perm), ...), perm None for the batch's own order and
weights summing to 1; the loss is the weighted sum of the loss against each part.

    pipeline = Pipeline(cfg.augment)
    x, mix = pipeline(x, y, g, normalize)   # mix: None, or ((weight, targets), ...)
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from netspec.training.augment_args import (AUGMENTATIONS, CropArgs, CutMixArgs, CutoutArgs,
                                           FlipArgs, JitterArgs, MixArgs, MosaicArgs,
                                           NoiseArgs, RotateArgs)

def _uniform(g: torch.Generator, n: int, device) -> torch.Tensor:
    return torch.rand(n, generator=g).to(device)


def _per_sample(mask: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    return mask.view(-1, *([1] * (x.dim() - 1)))


def hflip(x, a: FlipArgs, g):
    """Mirror left-right with probability p."""
    flip = _per_sample(_uniform(g, len(x), x.device) < a.p, x)
    return torch.where(flip, x.flip(-1), x)


def vflip(x, a: FlipArgs, g):
    """Mirror top-bottom with probability p."""
    flip = _per_sample(_uniform(g, len(x), x.device) < a.p, x)
    return torch.where(flip, x.flip(-2), x)


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


def rotate(x, a: RotateArgs, g):
    """Rotate by a uniform angle in [-degrees, degrees] about the centre (bilinear, zero fill)."""
    angle = (_uniform(g, len(x), x.device) * 2 - 1) * math.radians(a.degrees)
    cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


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


def noise(x, a: NoiseArgs, g):
    """Add Gaussian noise of standard deviation `std` (normalised units; any data)."""
    return x + torch.randn(x.shape, generator=g).to(x.device, x.dtype) * a.std


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


def mixup(x, a: MixArgs, g):
    """mixup (Zhang et al., 2018): x = lam x + (1 - lam) x[perm], lam ~ Beta(alpha, alpha)."""
    lam = _beta(g, a.alpha)
    perm = torch.randperm(len(x), generator=g).to(x.device)
    return lam * x + (1 - lam) * x[perm], ((lam, None), (1 - lam, perm))


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
    kept = 1 - (y1 - y0) * (x1 - x0) / (h * w)
    return out, ((kept, None), (1 - kept, perm))


def mosaic(x, a: MosaicArgs, g):
    """Mosaic (Bochkovskiy et al., 2020; YOLOv5's `load_mosaic`), with probability p per batch:
    a centre (cy, cx) is drawn in `center` (fractions of H and W), and the four tiles around it
    are filled from four images, each with its corner at the centre, at its own scale:

        [0:cy, 0:cx] = x[i][H-cy:, W-cx:]      [0:cy, cx:] = x[p1[i]][H-cy:, :W-cx]
        [cy:, 0:cx]  = x[p2[i]][:H-cy, W-cx:]  [cy:, cx:]  = x[p3[i]][:H-cy, :W-cx]

    (p1, p2, p3: random permutations of the batch); with `fit: scale` each whole image is
    resized into its tile instead (by area averages). The targets are mixed by the tiles'
    areas, cy·cx/(H·W) for the sample's own, as CutMix does; empty tiles are left out. One
    centre per batch, as CutMix uses one box: the targets mix with one set of weights."""
    b, _, h, w = x.shape
    if float(torch.rand(1, generator=g)) >= a.p:
        return x, ((1.0, None),)
    lo, hi = a.center
    u = torch.rand(2, generator=g)
    cy, cx = round((lo + (hi - lo) * float(u[0])) * h), round((lo + (hi - lo) * float(u[1])) * w)
    perms = [None] + [torch.randperm(b, generator=g).to(x.device) for _ in range(3)]
    tiles = [((slice(0, cy), slice(0, cx)), (slice(h - cy, h), slice(w - cx, w))),
             ((slice(0, cy), slice(cx, w)), (slice(h - cy, h), slice(0, w - cx))),
             ((slice(cy, h), slice(0, cx)), (slice(0, h - cy), slice(w - cx, w))),
             ((slice(cy, h), slice(cx, w)), (slice(0, h - cy), slice(0, w - cx)))]
    out = torch.empty_like(x)
    parts = []
    for perm, ((oy, ox), (sy, sx)) in zip(perms, tiles):
        area = (oy.stop - oy.start) * (ox.stop - ox.start)
        if area == 0:
            continue
        source = x if perm is None else x[perm]
        if a.fit == "crop":
            out[:, :, oy, ox] = source[:, :, sy, sx]
        else:
            size = (oy.stop - oy.start, ox.stop - ox.start)
            # a tile is never larger than the image: averaging over areas shrinks it
            out[:, :, oy, ox] = F.interpolate(source, size=size, mode="area")
        parts.append((area / (h * w), perm))
    return out, tuple(parts)


class Pipeline:
    """The configured ops: image ops in their order on [0, 1] images, then `normalize`, then
    the others (noise, mixup) in their order; at most one mixing op takes effect on the
    targets (the last)."""

    def __init__(self, choices):
        self.choices = tuple(choices)
        self.raw = [c for c in self.choices if c.entry.meta.get("image")]
        self.normalized = [c for c in self.choices if not c.entry.meta.get("image")]

    def __bool__(self) -> bool:
        return bool(self.choices)

    def __call__(self, x, y, g, normalize=lambda x: x):
        """(x augmented, mix): mix is None unless a mixing op is configured, else the parts
        ((weight, targets), ...) the batch's targets are mixed from, weights summing to 1."""
        mix = None
        for c in self.raw:
            x, mix = self._apply(c, x, y, g, mix)
        x = normalize(x)
        for c in self.normalized:
            x, mix = self._apply(c, x, y, g, mix)
        return x, mix

    @staticmethod
    def _apply(c, x, y, g, mix):
        if c.entry.meta.get("mixes"):
            x, parts = c.entry.fn(x, c.args, g)
            return x, tuple((w, y if perm is None else y[perm]) for w, perm in parts)
        return c.entry.fn(x, c.args, g), mix


def mixed_loss(loss_fn, out, y, mix):
    """The loss against the targets, or the weighted sum against the parts of a mix."""
    if mix is None:
        return loss_fn(out, y)
    return sum(w * loss_fn(out, part) for w, part in mix)
