"""What a source gives (:class:`Arrays`) and the split set ready for training (:class:`Data`),
with the normalisation statistics. The `data:` section itself (the registry of sources,
`DataConfig`, the argument models) is numpy-free, in `section` and `sources`.

A loader (registered in `sources`) takes its validated arguments, the spec's input shape and
the section, and gives Arrays:

    def tiny(a: TinyArgs, shape: tuple, cfg: DataConfig) -> Arrays: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Arrays:
    """What a source gives: scaled samples `x` [N, *shape], targets `y` ([N] class indices, or
    [N, d] values), and facts about them."""

    x: np.ndarray
    y: np.ndarray
    task: str                                   # "classification" | "regression"
    labels: list[str] | None = None
    scale: float = 1.0                          # raw values were multiplied by this
    normalize: bool = True                      # the set's default for `normalize`
    shuffle: bool = True                        # shuffle before splitting
    test: tuple[np.ndarray, np.ndarray] | None = None   # a test split the files define
    hint: str | None = None                     # how to fix a shape that disagrees with the spec
    boxes: np.ndarray | None = None             # [N, 4] x0 y0 x1 y1 pixels: each figure's box
    whole: bool = False                         # a corpus: every sample trains, no val/test

    def side(self) -> dict[str, np.ndarray]:
        """The per-sample arrays beside x and y (a row each, split with them): SIDE_ARRAYS
        the source filled in."""
        return {name: getattr(self, name) for name in SIDE_ARRAYS
                if getattr(self, name) is not None}


# Arrays' fields holding one row per sample of `x`, which a split takes by the same indices
SIDE_ARRAYS = ("boxes",)


@dataclass
class Data:
    """A split data set, ready for training. `splits[name] = (x, y)` as numpy arrays;
    `side[name]` the same split's per-sample arrays beside them (`{"boxes": [n, 4]}`, row i
    belonging to sample i of `splits[name]`); `target` holds the statistics regression
    targets are standardised with, if they are."""

    name: str
    task: str
    labels: list[str] | None
    scale: float
    input_shape: tuple
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    normalize: dict | None = None               # {"mean": [...], "std": [...]}
    channel_axis: int = -1                      # the axis of a sample the statistics run along
    target: dict | None = None                  # {"mean": [...], "std": [...]} per target value
    extra: dict = field(default_factory=dict)
    side: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @property
    def num_classes(self) -> int | None:
        return len(self.labels) if self.labels is not None else None

    def size(self, split: str) -> int:
        return len(self.splits[split][0]) if split in self.splits else 0

    def tensors(self, split: str, normalize: bool = True, device: Any = "cpu"):
        """(x, y) of `split` as torch tensors on `device`: x normalised unless told not to, y
        standardised when `target` says so."""
        import torch

        x, y = self.splits[split]
        x = torch.from_numpy(np.ascontiguousarray(x))
        if normalize:
            x = self.apply_normalize(x)
        y = torch.from_numpy(np.ascontiguousarray(y))
        if self.target is not None:
            y = self.scale_target(y)
        return x.to(device), y.to(device)

    def apply_normalize(self, x):
        """(x - mean) / std along the channel (images) or feature axis; x is a batch."""
        if self.normalize is None:
            return x
        view = [1] * x.dim()
        view[self.channel_axis if self.channel_axis < 0 else self.channel_axis + 1] = -1
        mean, std = _stats_tensors(self.normalize, x, view)
        return (x - mean) / std

    def scale_target(self, y):
        """(y - mean) / std per target value; y is [B, d]."""
        mean, std = _stats_tensors(self.target, y, [1, -1])
        return (y - mean) / std

    def unscale_target(self, v):
        """The inverse of `scale_target`: standardised values [B, d] back in the target's units."""
        if self.target is None:
            return v
        mean, std = _stats_tensors(self.target, v, [1, -1])
        return v * std + mean

    def meta(self, output: str) -> dict:
        """data.json: what export and infer need to prepare inputs and read outputs."""
        out = {"task": self.task, "labels": self.labels, "scale": self.scale,
               "normalize": self.normalize, "input_shape": list(self.input_shape),
               "output": output, "name": self.name}
        if self.target is not None:
            out["target"] = self.target
        return out


def _stats_tensors(stats: dict, like, view: list[int]):
    import torch

    mean = torch.tensor(stats["mean"], dtype=like.dtype, device=like.device).view(view)
    std = torch.tensor(stats["std"], dtype=like.dtype, device=like.device).view(view)
    return mean, std


def statistics(x: np.ndarray, channel_axis: int) -> dict:
    """Per-channel (images, axis 0 of a sample) or per-feature (last axis) mean and std of
    the training samples `x` [N, *shape]; a constant channel gets std 1."""
    axis = channel_axis + 1 if channel_axis >= 0 else x.ndim + channel_axis
    over = tuple(i for i in range(x.ndim) if i != axis)
    mean = x.mean(axis=over, dtype=np.float64)
    std = x.std(axis=over, dtype=np.float64)
    std[std < 1e-8] = 1.0
    return {"mean": [float(m) for m in mean], "std": [float(s) for s in std]}


def input_features(shape: tuple, default: int) -> int:
    """A synthetic set's feature count: the spec's, when its input is a feature vector."""
    return shape[0] if len(shape) == 1 and isinstance(shape[0], int) else default


__all__ = ["Arrays", "Data", "SIDE_ARRAYS", "statistics", "input_features"]
