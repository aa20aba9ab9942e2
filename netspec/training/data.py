"""Data sets for training: a registry of built-in sets and users' files, one deterministic split,
and normalisation statistics taken from the training split only.

Every set is held in memory as arrays (these are small sets; batches are slices of tensors, so no
DataLoader worker overhead). A loader returns :class:`Arrays`: samples `x` [N, *shape] already
scaled (images to [0, 1], digits ÷ 16), targets `y` ([N] class indices, or [N, d] values).
`load_data` then fits the samples to the spec's input, splits them, and computes the statistics:

    data = load_data(cfg.data, spec)          # -> Data: splits, task, labels, statistics
    data.tensors("train")                     # -> (x, y) torch tensors, normalised

Built-in: digits (8x8, `size: 28` upsamples as PIL's NEAREST does), iris, wine, breast_cancer,
moons, circles, blobs, regression, sine (next-value forecasting windows for recurrent nets).
Files: `images: DIR` (one subfolder per class), `csv: FILE` + `target`, `npz: FILE` (x, y),
`idx: DIR` (MNIST's IDX files).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from netspec.errors import SpecError
from netspec.kinds.base import fmt_shape
from netspec.training.registry import Registry

DATASETS = Registry("data set")


@dataclass
class Arrays:
    """What a loader gives: scaled samples, targets, and facts about them."""

    x: np.ndarray
    y: np.ndarray
    task: str                                   # "classification" | "regression"
    labels: list[str] | None = None
    scale: float = 1.0                          # raw values were multiplied by this
    normalize: bool = True                      # the set's default for `normalize`
    shuffle: bool = True                        # shuffle before splitting
    test: tuple[np.ndarray, np.ndarray] | None = None   # a test split the files define
    hint: str | None = None                     # how to fix a shape that disagrees with the spec


@dataclass
class Data:
    """A split data set, ready for training. `splits[name] = (x, y)` as numpy arrays."""

    name: str
    task: str
    labels: list[str] | None
    scale: float
    input_shape: tuple
    splits: dict[str, tuple[np.ndarray, np.ndarray]]
    normalize: dict | None = None               # {"mean": [...], "std": [...]}
    channel_axis: int = -1                      # the axis of a sample the statistics run along
    extra: dict = field(default_factory=dict)

    @property
    def num_classes(self) -> int | None:
        return len(self.labels) if self.labels is not None else None

    def size(self, split: str) -> int:
        return len(self.splits[split][0]) if split in self.splits else 0

    def tensors(self, split: str, normalize: bool = True, device: Any = "cpu"):
        """(x, y) of `split` as torch tensors on `device`, normalised unless told not to."""
        import torch

        x, y = self.splits[split]
        x = torch.from_numpy(np.ascontiguousarray(x))
        if normalize:
            x = self.apply_normalize(x)
        return x.to(device), torch.from_numpy(np.ascontiguousarray(y)).to(device)

    def apply_normalize(self, x):
        """(x - mean) / std along the channel (images) or feature axis; x is a batch."""
        if self.normalize is None:
            return x
        import torch

        view = [1] * x.dim()
        view[self.channel_axis if self.channel_axis < 0 else self.channel_axis + 1] = -1
        mean = torch.tensor(self.normalize["mean"], dtype=x.dtype, device=x.device).view(view)
        std = torch.tensor(self.normalize["std"], dtype=x.dtype, device=x.device).view(view)
        return (x - mean) / std

    def meta(self, output: str) -> dict:
        """data.json: what export and infer need to prepare inputs and read outputs."""
        return {"task": self.task, "labels": self.labels, "scale": self.scale,
                "normalize": self.normalize, "input_shape": list(self.input_shape),
                "output": output, "name": self.name}


# ---- built-in sets ------------------------------------------------------------------------

def _features(shape: tuple, default: int) -> int:
    """A synthetic set's feature count: the spec's, when its input is a feature vector."""
    return shape[0] if len(shape) == 1 and isinstance(shape[0], int) else default


@DATASETS.add("digits", options={"size"})
def digits(cfg, shape) -> Arrays:
    """scikit-learn's 8x8 handwritten digits (1797 samples, 10 classes), ÷16 into [0, 1];
    `size: 28` upsamples to 28x28 as PIL's NEAREST does."""
    images, target = _digits_arrays()
    side = shape[-1] if len(shape) == 3 and isinstance(shape[-1], int) else 28
    x = images.astype(np.float32)[:, None] / 16.0
    if cfg.size:
        idx = nearest_index(8, cfg.size)
        x = x[:, :, idx][:, :, :, idx]
    return Arrays(np.ascontiguousarray(x), target.astype(np.int64), "classification",
                  [str(c) for c in range(10)], 1 / 16,
                  hint=f"add `size: {side}` to `data:` to upsample the 8x8 digits, or make "
                       "the spec's input [1, 8, 8] (or [64] for a flat vector)")


def _digits_arrays() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits file read directly: importing sklearn.datasets costs seconds."""
    import importlib.util
    from pathlib import Path

    found = importlib.util.find_spec("sklearn")
    path = Path(found.submodule_search_locations[0]) / "datasets" / "data" / "digits.csv.gz" \
        if found and found.submodule_search_locations else None
    if path is None or not path.is_file():
        from sklearn.datasets import load_digits

        d = load_digits()
        return d.images, d.target
    table = np.loadtxt(path, delimiter=",")
    return table[:, :-1].reshape(-1, 8, 8), table[:, -1].astype(np.int64)


def nearest_index(n: int, size: int) -> np.ndarray:
    """Which of `n` source pixels each of `size` pixels takes under PIL's NEAREST resize (its
    rounding is its own), so training sees what `netspec infer` makes of an image file."""
    from PIL import Image

    row = np.tile(np.arange(n, dtype=np.uint8), (n, 1))
    return np.asarray(Image.fromarray(row).resize((size, size), Image.NEAREST))[0].astype(np.int64)


def _sklearn_table(loader_name: str):
    def load(cfg, shape) -> Arrays:
        import sklearn.datasets as sd

        d = getattr(sd, loader_name)()
        return Arrays(d.data.astype(np.float32), d.target.astype(np.int64), "classification",
                      [str(n) for n in d.target_names])
    return load


TABLES = (("iris", "load_iris", "Fisher's iris: 150 flowers, 4 features, 3 classes."),
          ("wine", "load_wine", "Wine recognition: 178 wines, 13 features, 3 classes."),
          ("breast_cancer", "load_breast_cancer",
           "Wisconsin breast cancer: 569 samples, 30 features, 2 classes."))
for _name, _loader, _doc in TABLES:
    _fn = _sklearn_table(_loader)
    _fn.__doc__ = _doc
    DATASETS.add(_name, options=set())(_fn)


@DATASETS.add("moons", options={"samples", "noise"})
def moons(cfg, shape) -> Arrays:
    """Two interleaving half circles (2 features, 2 classes); samples 1000, noise 0.1."""
    from sklearn.datasets import make_moons

    x, y = make_moons(cfg.samples or 1000, noise=_default(cfg.noise, 0.1),
                      random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification", ["0", "1"])


@DATASETS.add("circles", options={"samples", "noise"})
def circles(cfg, shape) -> Arrays:
    """A circle inside another (2 features, 2 classes); samples 1000, noise 0.05."""
    from sklearn.datasets import make_circles

    x, y = make_circles(cfg.samples or 1000, noise=_default(cfg.noise, 0.05), factor=0.5,
                        random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification", ["0", "1"])


@DATASETS.add("blobs", options={"samples", "features", "classes"})
def blobs(cfg, shape) -> Arrays:
    """Gaussian clusters: `classes` (3) clusters in `features` dims (the spec's input width)."""
    from sklearn.datasets import make_blobs

    k = cfg.classes or 3
    x, y = make_blobs(cfg.samples or 1000, n_features=cfg.features or _features(shape, 2),
                      centers=k, random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification",
                  [str(i) for i in range(k)])


@DATASETS.add("regression", options={"samples", "features", "noise"})
def regression(cfg, shape) -> Arrays:
    """A linear target with Gaussian noise (scikit-learn's make_regression), `features` wide (the
    spec's input width, else 8); targets divided by their standard deviation."""
    from sklearn.datasets import make_regression

    x, y = make_regression(cfg.samples or 1000, n_features=cfg.features or _features(shape, 8),
                           noise=_default(cfg.noise, 10.0), random_state=cfg.split_seed)
    y = y / y.std()
    return Arrays(x.astype(np.float32), y.astype(np.float32)[:, None], "regression")


@DATASETS.add("sine", options={"samples", "noise", "seq"})
def sine(cfg, shape) -> Arrays:
    """Next-value forecasting on a noisy sine (period 50 steps): windows [seq, 1] -> the value
    after them. seq: the spec's when it is a number, else 20; samples 1000; noise 0.05. Split in
    time order (no shuffling), so validation and test lie after the training stretch."""
    seq = cfg.seq or (shape[0] if len(shape) == 2 and isinstance(shape[0], int) else 20)
    n = cfg.samples or 1000
    rng = np.random.default_rng(cfg.split_seed)
    t = np.arange(n + seq)
    series = np.sin(2 * np.pi * t / 50) + _default(cfg.noise, 0.05) * rng.standard_normal(len(t))
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], seq)[:n]
    return Arrays(windows[:, :, None].astype(np.float32), series[seq:seq + n, None]
                  .astype(np.float32), "regression", normalize=False, shuffle=False,
                  hint="set `seq:` in `data:` to the spec's sequence length")


def _default(value, default):
    return default if value is None else value


def _register_files() -> None:
    from netspec.training import datafiles

    for name, fn, options in datafiles.READERS:
        DATASETS.add(name, options=options, file=True)(fn)


_register_files()


# ---- fitting to the spec, splitting, statistics -------------------------------------------

def load_data(cfg, spec, where=lambda *path: None, fold: int | None = None) -> Data:
    """The data set `cfg` (a DataConfig) names, fitted to the spec's input, split and with its
    statistics; `where(*path)` locates keys of the train section for messages."""
    source = cfg.source
    name = cfg.name if source == "name" else source
    entry = DATASETS[name]
    _check_options(cfg, entry, where)
    input_spec = next(iter(spec.inputs.values()))
    shape = tuple(input_spec.shape)
    try:
        arrays = entry.fn(cfg, shape)
    except SpecError as err:
        # readers know the file, not where the spec names it
        loc = where("data", source)
        raise SpecError([d if d.loc else replace(d, loc=loc) for d in err.diagnostics]) from None
    if cfg.task is not None and cfg.task != arrays.task:
        arrays = _retask(arrays, cfg.task)
    arrays.x = _fit_shape(arrays, shape, spec, name)
    if input_spec.dtype == "long":
        arrays.x = arrays.x.astype(np.int64)
    splits = _split(arrays, cfg, fold)
    data = Data(name, arrays.task, arrays.labels, arrays.scale, shape, splits)
    normalize = arrays.normalize if cfg.normalize is None else cfg.normalize
    if normalize and input_spec.dtype != "long":
        data.channel_axis = 0 if arrays.x.ndim >= 4 else -1
        data.normalize = statistics(splits["train"][0], data.channel_axis)
    return data


def _check_options(cfg, entry, where) -> None:
    allowed = entry.meta.get("options", set()) | {"name", "val", "test", "folds", "split_seed",
                                                   "shuffle", "normalize", "task"}
    if entry.meta.get("file"):
        allowed |= {entry.name}
    for key in cfg.model_fields_set:
        if key not in allowed and getattr(cfg, key) is not None:
            raise SpecError(f"`{key}` does not apply to the data set `{entry.name}`",
                            where("data", key),
                            hint=f"{entry.name} takes: "
                                 f"{', '.join(sorted(entry.meta.get('options')) or ['no options'])}"
                                 " besides val, test, folds, split_seed, shuffle, normalize")


def _retask(arrays: Arrays, task: str) -> Arrays:
    if task == "regression":
        arrays.y = arrays.y.astype(np.float32).reshape(len(arrays.y), -1)
        arrays.labels = None
    else:
        values, arrays.y = np.unique(arrays.y, return_inverse=True)
        arrays.y = arrays.y.astype(np.int64).reshape(-1)
        arrays.labels = [str(v) for v in values]
    arrays.task = task
    return arrays


def _fit_shape(arrays: Arrays, shape: tuple, spec, name: str) -> np.ndarray:
    """The samples in the spec's input shape: equal (symbolic dims match any size), or the same
    number of values in another layout (digits [1, 8, 8] read as [64]); else a located error."""
    x = arrays.x
    got = x.shape[1:]
    if len(got) == len(shape) and all(not isinstance(s, int) or s == g for s, g in zip(shape, got)):
        return x
    if all(isinstance(s, int) for s in shape) and math.prod(shape) == math.prod(got):
        return x.reshape(len(x), *shape)
    name_in = next(iter(spec.inputs))
    loc = spec.raw.value_locs.get("input") if spec.raw is not None and name_in == "input" \
        else None
    raise SpecError(f"the data set `{name}` gives samples of shape {fmt_shape(got)}, but the "
                    f"spec's input is {fmt_shape(shape)}", loc, hint=arrays.hint or
                    f"make the spec's input {fmt_shape(got)}")


def statistics(x: np.ndarray, channel_axis: int) -> dict:
    """Per-channel (images, axis 0 of a sample) or per-feature (last axis) mean and std of
    the training samples `x` [N, *shape]; a constant channel gets std 1."""
    axis = channel_axis + 1 if channel_axis >= 0 else x.ndim + channel_axis
    over = tuple(i for i in range(x.ndim) if i != axis)
    mean = x.mean(axis=over, dtype=np.float64)
    std = x.std(axis=over, dtype=np.float64)
    std[std < 1e-8] = 1.0
    return {"mean": [float(m) for m in mean], "std": [float(s) for s in std]}


def _split(arrays: Arrays, cfg, fold: int | None) -> dict:
    """Deterministic split by `split_seed` alone: stratified by class for classification, in
    order when the set says so (time series). With `fold`, the non-test part is cut into
    `cfg.folds` stratified folds and fold `fold` validates."""
    x, y = arrays.x, arrays.y
    rng = np.random.default_rng(cfg.split_seed)
    shuffle = arrays.shuffle if cfg.shuffle is None else cfg.shuffle
    classify = arrays.task == "classification"
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if classify and shuffle \
        else [np.arange(len(y))]
    test_frac = 0.0 if arrays.test is not None else cfg.test
    parts: dict[str, list] = {"train": [], "val": [], "test": []}
    for group in groups:
        order = rng.permutation(group) if shuffle else group
        n_test = int(round(len(order) * test_frac))
        rest = order[:len(order) - n_test] if not shuffle else order[n_test:]
        parts["test"].append(order[len(order) - n_test:] if not shuffle else order[:n_test])
        if fold is not None:
            member = np.arange(len(rest)) % cfg.folds
            parts["val"].append(rest[member == fold])
            parts["train"].append(rest[member != fold])
            continue
        n_val = int(round(len(order) * cfg.val))
        parts["val"].append(rest[len(rest) - n_val:] if not shuffle else rest[:n_val])
        parts["train"].append(rest[:len(rest) - n_val] if not shuffle else rest[n_val:])
    out = {}
    for name, idx in parts.items():
        idx = np.sort(np.concatenate(idx)) if not shuffle else np.concatenate(idx)
        if len(idx):
            out[name] = (x[idx], y[idx])
    if arrays.test is not None:
        out["test"] = arrays.test[0].reshape(-1, *x.shape[1:]), arrays.test[1]
    if "train" not in out or len(out["train"][0]) < 2:
        raise SpecError(f"too little data to train on: {len(y)} samples", None,
                        hint="lower `val`/`test`, or give more samples")
    return out
