"""What the file sources share: the message for a path that is not there (a mistake in the
YAML, located there by `load_data`), and reading targets as class labels or values.

A file that is there but wrong (a bad CSV row, a truncated IDX file) is an InputError naming
the file: the YAML is right, the data is not."""

from __future__ import annotations

import numpy as np

from netspec.errors import InputError, SpecError
from netspec.training.data.base import Arrays
from netspec.training.read_bounds import finite

MAX_CLASSES_GUESSED = 50      # an integer target with more distinct values is a regression


def missing(path: str, what: str) -> SpecError:
    """The path written in `data:` names nothing; `load_data` locates it at that key."""
    return SpecError(f"no such {what}: {path}", None,
                     hint="paths in `data:` are relative to the spec file")


def targets(x: np.ndarray, values, task: str | None, scale: float, path=None) -> Arrays:
    """Class indices (labels sorted) or float values, as `task` says or the values suggest;
    `path` (the file they came from) names them in messages."""
    values = np.asarray(values)
    if task is None:
        task = "classification" if _looks_like_classes(values) else "regression"
    if task == "regression":
        try:
            y = values.astype(np.float32).reshape(len(values), -1)
        except ValueError:
            raise InputError(f"{path or 'the data'}: a regression target must be numeric",
                             None) from None
        finite(y, path or "the data", "the target")
        return Arrays(x, y, "regression", scale=scale)
    labels, y = np.unique(values, return_inverse=True)
    if labels.dtype.kind in "iuf":
        labels = [str(v.item()) for v in labels]
    return Arrays(x, y.astype(np.int64).reshape(-1), "classification",
                  [str(v) for v in labels], scale)


def _looks_like_classes(values: np.ndarray) -> bool:
    if values.dtype.kind in "iub":
        return len(np.unique(values)) <= MAX_CLASSES_GUESSED
    if values.dtype.kind == "f":
        return False
    try:
        numbers = values.astype(np.float64)
    except ValueError:
        return True                                     # text labels
    integral = all("." not in str(v) and "e" not in str(v).lower() for v in values)
    return integral and len(np.unique(numbers)) <= MAX_CLASSES_GUESSED
