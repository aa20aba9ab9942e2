"""`netspec augment`: a grid of training images as the spec's `train.augment` makes them, each
labelled with its (mixed) class, to see what the network will be shown before training on it.

    preview = augment_preview(spec, n=16, seed=0)    # the batch, augmented, back in [0, 1]
    write_grid(preview, "grid.png")                  # written atomically

The images pass through the same Pipeline as in training (image ops on [0, 1] images, the
normalisation of the training split, then noise and mixup), and are un-normalised for display.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from pathlib import Path

from netspec.errors import SpecError

FORMATS = ("png", "svg", "pdf")        # what the grid is written as (by the path's suffix)


@dataclass
class Preview:
    """The augmented batch: `images` [n, C, H, W] in [0, 1] (numpy), `labels` one text per
    image ("cat", "cat 0.6 / dog 0.4"), `ops` the augmentations' names, `data` the set's."""

    images: object
    labels: list[str]
    ops: list[str]
    data: str
    seed: int


def augment_preview(spec, n: int = 16, seed: int | None = None) -> Preview:
    """`n` training images of `spec` (a loaded Spec with one network and a `train:` section),
    picked and augmented with `seed` (default: the section's own)."""
    import torch

    from netspec.training.augment import Pipeline
    from netspec.training.config import resolve
    from netspec.training.data import load_data

    cfg = resolve(spec)          # no `train:` section: the located error says so
    if spec.networks is not None:
        raise SpecError("`netspec augment` previews the training images of a one-network "
                        "spec; this one holds several networks", cfg.where())
    data = load_data(cfg.data, spec, cfg.where)
    if len(data.input_shape) != 3:
        raise SpecError(f"`{data.name}` holds samples of shape {list(data.input_shape)}, not "
                        "images [C, H, W]: there is nothing to draw", cfg.where("data"),
                        hint="augment previews image data (digits, shapes, {images: DIR}, "
                             "{idx: DIR})")
    seed = cfg.seed if seed is None else seed
    g = torch.Generator().manual_seed(seed)
    x, y = data.tensors("train", normalize=False)
    pick = torch.randperm(len(x), generator=g)[:n]
    x, y = x[pick], y[pick]
    out, mix = Pipeline(cfg.augment)(x, y, g, data.apply_normalize)
    out = unnormalize(data, out).clamp(0, 1)
    if mix is None:
        mix = ((1.0, y),)
    return Preview(out.numpy(), mixed_labels(mix, data), [c.name for c in cfg.augment],
                   data.name, seed)


def unnormalize(data, x):
    """The inverse of `data.apply_normalize`: x * std + mean per channel."""
    import torch

    if data.normalize is None:
        return x
    view = [1] * x.dim()
    view[data.channel_axis if data.channel_axis < 0 else data.channel_axis + 1] = -1
    mean = torch.tensor(data.normalize["mean"], dtype=x.dtype).view(view)
    std = torch.tensor(data.normalize["std"], dtype=x.dtype).view(view)
    return x * std + mean


def mixed_labels(mix, data) -> list[str]:
    """One text per sample: its class name, or its classes by weight, heaviest first, two to
    a line ("circle 0.56 / star 0.19"); a regression target is printed as its value."""
    names = data.labels
    texts = []
    for i in range(len(mix[0][1])):
        weights: dict[str, float] = {}
        for w, targets in mix:
            target = targets[i]
            if names is not None and target.dim() == 0:
                key = names[int(target)]
            else:
                key = ", ".join(f"{float(v):.3g}" for v in target.reshape(-1).tolist())
            weights[key] = weights.get(key, 0.0) + float(w)
        parts = sorted((k for k in weights if weights[k] >= 0.005), key=lambda k: -weights[k])
        if len(parts) == 1:
            texts.append(parts[0])
            continue
        words = [f"{k} {_weight(weights[k])}" for k in parts]
        texts.append("\n".join(" / ".join(words[j:j + 2]) for j in range(0, len(words), 2)))
    return texts


def _weight(w: float) -> str:
    return f"{w:.2f}".rstrip("0").rstrip(".")


def write_grid(preview: Preview, path: str | Path, columns: int | None = None) -> Path:
    """Draw the images in a grid, each titled with its label; the format follows the suffix
    (.png, .svg, .pdf). Written to a temporary file and renamed."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from netspec.safe_write import atomic_write

    path = Path(path)
    images = preview.images
    n = len(images)
    # more columns than images would only widen the figure (to exhaust memory at --columns 10^15)
    cols = min(columns or max(1, math.ceil(math.sqrt(n))), n)
    rows = math.ceil(n / cols)
    mixed = any(" / " in t for t in preview.labels)         # wider tiles for longer titles
    two_lines = any("\n" in t for t in preview.labels)
    width, height = (2.0 if mixed else 1.5), (1.75 if two_lines else 1.55)
    fig = Figure(figsize=(width * cols, height * rows + 0.45), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, image, label in zip(axes, images, preview.labels):
        grey = image.shape[0] == 1
        shown = image[0] if grey else image.transpose(1, 2, 0)
        ax.imshow(shown, cmap="gray" if grey else None, vmin=0, vmax=1,
                  interpolation="nearest")
        ax.set_title(label, fontsize=7, linespacing=1.1)
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in axes[n:]:
        ax.set_visible(False)
    ops = ", ".join(preview.ops) or "no augmentation"
    fig.suptitle(f"{preview.data}, training split: {ops} (seed {preview.seed})", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", dpi=110)
    atomic_write(path, buf.getvalue(), durable=False)
    return path
