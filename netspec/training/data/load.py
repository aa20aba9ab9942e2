"""From a `data:` section to a split set: the source's own options validated (`section`), its
arrays loaded and fitted to the spec's input, one deterministic split (the per-sample side
arrays, boxes, by the same indices), and the statistics of the training split.

    data = load_data(cfg.data, spec)          # -> Data: splits, task, labels, statistics
    data.tensors("train")                     # -> (x, y) torch tensors, normalised
"""

from __future__ import annotations

import math
from dataclasses import replace
import numpy as np

from netspec.errors import SpecError
from netspec.kinds.base import fmt_shape
from netspec.training.data.base import Arrays, Data, statistics
from netspec.training.data.section import DATASETS, DataConfig, source_args


def load_data(cfg: DataConfig, spec, where=lambda *path: None, fold: int | None = None) -> Data:
    """The data set `cfg` names, fitted to the spec's input, split and with its statistics;
    `where(*path)` locates keys of the train section for messages."""
    entry = DATASETS[cfg.source]
    args = source_args(cfg, where)
    input_spec = next(iter(spec.inputs.values()))
    shape = tuple(input_spec.shape)
    try:
        arrays = entry.fn(args, shape, cfg)
    except SpecError as err:
        # sources know the file, not where the spec names it
        loc = where("data", cfg.source_key)
        raise SpecError([d if d.loc else replace(d, loc=loc) for d in err.diagnostics]) from None
    if cfg.task is not None and cfg.task != arrays.task:
        arrays = _retask(arrays, cfg.task)
    arrays.x = _fit_shape(arrays, shape, spec, cfg.source)
    if input_spec.dtype == "long":
        arrays.x = arrays.x.astype(np.int64)
    splits, side = _split(arrays, cfg, fold, where("data"))
    data = Data(cfg.source, arrays.task, arrays.labels, arrays.scale, shape, splits, side=side)
    normalize = arrays.normalize if cfg.normalize is None else cfg.normalize
    if normalize and input_spec.dtype != "long":
        data.channel_axis = 0 if arrays.x.ndim >= 4 else -1
        data.normalize = statistics(splits["train"][0], data.channel_axis)
    if cfg.normalize_target:
        if data.task != "regression":
            raise SpecError(f"`normalize_target` standardises regression targets, but "
                            f"`{data.name}` is a {data.task} set", where("data",
                                                                          "normalize_target"))
        data.target = statistics(splits["train"][1].reshape(data.size("train"), -1), -1)
    return data


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


def _split(arrays: Arrays, cfg: DataConfig, fold: int | None, loc=None) -> tuple[dict, dict]:
    """Deterministic split by `split_seed` alone: stratified by class for classification, in
    order when the set says so (time series). With `fold`, the non-test part is cut into
    `cfg.folds` stratified folds and fold `fold` validates. Returns ({split: (x, y)},
    {split: {side array: rows}}): the per-sample side arrays (boxes) taken by the same
    indices as x and y (a test split the files define has none)."""
    x, y = arrays.x, arrays.y
    side = arrays.side()
    if arrays.whole:
        # the samples are positions in one text: held-out positions would only be missed
        return {"train": (x, y)}, {"train": side} if side else {}
    rng = np.random.default_rng(cfg.split_seed)
    shuffle = arrays.shuffle if cfg.shuffle is None else cfg.shuffle
    classify = arrays.task == "classification"
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if classify and shuffle \
        else [np.arange(len(y))]
    test_frac = 0.0 if arrays.test is not None else cfg.test
    if fold is not None:
        _check_folds(cfg, [len(g) - int(round(len(g) * test_frac)) for g in groups], loc)
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
    out, side_out = {}, {}
    for name, idx in parts.items():
        idx = np.sort(np.concatenate(idx)) if not shuffle else np.concatenate(idx)
        if len(idx):
            out[name] = (x[idx], y[idx])
            if side:
                side_out[name] = {key: rows[idx] for key, rows in side.items()}
    if arrays.test is not None:
        out["test"] = arrays.test[0].reshape(-1, *x.shape[1:]), arrays.test[1]
    if "train" not in out or len(out["train"][0]) < 2:
        raise SpecError(f"too little data to train on: {len(y)} samples", loc,
                        hint="lower `val`/`test`, or give more samples")
    return out, side_out


def _check_folds(cfg: DataConfig, sizes: list[int], loc=None) -> None:
    """k folds need k samples to validate on, one each, and more to train on."""
    total = sum(sizes)
    if cfg.folds > total // 2:
        raise SpecError(f"`folds: {cfg.folds}` needs at least {2 * cfg.folds} samples besides "
                        f"the test split; this data has {total}", loc,
                        hint=f"use `folds` of at most {max(2, total // 2)} (5 or 10 is usual)")
