"""What every data source shares: the `data:` section's common keys (:class:`DataConfig`), the
registry of sources, what a source gives (:class:`Arrays`) and the split set ready for
training (:class:`Data`).

A source is one registry entry with its own frozen argument model; `DataConfig` holds the keys
every source takes (the split, normalisation, the task) and keeps the rest for the source to
validate. A file source is selected by its own key (`csv: FILE`), a built-in set by `name`:

    @DATASETS.add("tiny", TinyArgs)
    def tiny(a: TinyArgs, shape: tuple, cfg: DataConfig) -> Arrays: ...

    @DATASETS.add("csv", CsvArgs, file=True)     # `data: {csv: FILE, target: COL}`
    def table(a: CsvArgs, shape, cfg) -> Arrays: ...
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BeforeValidator, ConfigDict, model_validator

from netspec.kinds.argtypes import Bool, Float, Int
from netspec.training.registry import Args, Registry

DATASETS = Registry("data set")

# the keys every source takes, besides its own (the hint of a misplaced option lists them)
MAX_FOLDS = 100             # each fold is a whole training run: more is a typo
COMMON = ("val", "test", "folds", "split_seed", "shuffle", "normalize")


def _positive(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v <= 0:
        raise ValueError(f"must be positive, got {v}")
    return v


def _fraction(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v < 1:
        raise ValueError(f"is a fraction of the data between 0 and 1, got {v}")
    return v


PositiveInt = Annotated[Int, BeforeValidator(_positive)]
PositiveFloat = Annotated[Float, BeforeValidator(_positive)]
Fraction = Annotated[Float, BeforeValidator(_fraction)]


class DataArgs(Args):
    """Base of a source's own argument model (frozen, unknown keys refused)."""


def file_sources() -> list[str]:
    """The keys that name a file source (`images`, `csv`, `npz`, `idx`, ...)."""
    return [n for n, e in DATASETS.entries.items() if e.meta.get("file")]


class DataConfig(Args):
    """Where the data comes from (exactly one of `name` or a file source's key), how it is split
    (fractions `val`/`test`, or `folds` for k-fold cross-validation, decided by `split_seed`
    alone so the split stays fixed across training seeds) and shaped. The source's own options
    (`size`, `samples`, `target`, ...) stay in `options` for its argument model."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    name: str | None = None
    task: Literal["classification", "regression"] | None = None
    val: Fraction = 0.1
    test: Fraction = 0.2
    folds: Int | None = None
    split_seed: Int = 0
    shuffle: Bool | None = None              # shuffle before splitting (sine: no, in time order)
    normalize: Bool | None = None            # per channel / feature, training split statistics
    normalize_target: Bool = False           # regression: standardise targets for the loss

    @model_validator(mode="after")
    def _one_source(self) -> "DataConfig":
        files = file_sources()
        given = (["name"] if self.name is not None else []) + \
            [s for s in files if self.options.get(s) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one data source: `name` (a built-in set) or one of "
                             f"{', '.join(f'`{s}`' for s in files)}" +
                             (f"; got {', '.join(given)}" if given else ""))
        if self.val + self.test >= 1:
            raise ValueError(f"`val` + `test` must leave data to train on, got "
                             f"{self.val} + {self.test}")
        if self.folds is not None and not 2 <= self.folds <= MAX_FOLDS:
            raise ValueError(f"`folds` is between 2 and {MAX_FOLDS}, got {self.folds}")
        return self

    @property
    def options(self) -> dict:
        """The keys not common to every source: the source's own arguments."""
        return dict(self.model_extra or {})

    @property
    def source(self) -> str:
        """The registered source: the built-in set's name, or the file source's key."""
        if self.name is not None:
            return self.name
        return next(s for s in file_sources() if self.options.get(s) is not None)

    @property
    def source_key(self) -> str:
        """The key of `data:` that selects the source (`name`, `csv`, ...)."""
        return "name" if self.name is not None else self.source


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


@dataclass
class Data:
    """A split data set, ready for training. `splits[name] = (x, y)` as numpy arrays;
    `target` holds the statistics regression targets are standardised with, if they are."""

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


__all__ = ["DATASETS", "DataConfig", "DataArgs", "Arrays", "Data", "statistics", "COMMON",
           "PositiveInt", "PositiveFloat", "Fraction", "file_sources", "input_features"]
