"""scikit-learn's bundled data sets: digits (8x8 images) and the iris, wine and breast cancer
tables. Read from the package's files: importing sklearn.datasets alone costs seconds."""

from __future__ import annotations

import numpy as np

from netspec.training.data.base import Arrays
from netspec.training.data.section import DataArgs
from netspec.training.data.sources import DigitsArgs


def digits(a: DigitsArgs, shape: tuple, cfg) -> Arrays:
    """`digits` (sources.py): 8x8 images ÷16, resized by PIL's NEAREST or BILINEAR."""
    images, target = _digits_arrays()
    side = shape[-1] if len(shape) == 3 and isinstance(shape[-1], int) else 28
    x = images.astype(np.float32)[:, None] / 16.0
    if a.size and a.resample == "bilinear":
        x = bilinear(x, a.size)
    elif a.size:
        idx = nearest_index(8, a.size)
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


def bilinear(x: np.ndarray, size: int) -> np.ndarray:
    """Images [N, 1, h, w] (float32) resized to size x size as PIL's BILINEAR does."""
    from PIL import Image

    out = [np.asarray(Image.fromarray(img[0], mode="F").resize((size, size), Image.BILINEAR))
           for img in x]
    return np.stack(out)[:, None].astype(np.float32)


def nearest_index(n: int, size: int) -> np.ndarray:
    """Which of `n` source pixels each of `size` pixels takes under PIL's NEAREST resize (its
    rounding is its own), so training sees what `netspec infer` makes of an image file."""
    from PIL import Image

    row = np.tile(np.arange(n, dtype=np.uint8), (n, 1))
    return np.asarray(Image.fromarray(row).resize((size, size), Image.NEAREST))[0].astype(np.int64)


def _sklearn_table(loader_name: str):
    def load(a: DataArgs, shape: tuple, cfg) -> Arrays:
        import sklearn.datasets as sd

        d = getattr(sd, loader_name)()
        return Arrays(d.data.astype(np.float32), d.target.astype(np.int64), "classification",
                      [str(n) for n in d.target_names])
    load.__doc__ = f"scikit-learn's `{loader_name}()` table as Arrays (sources.py)."
    return load


iris = _sklearn_table("load_iris")
wine = _sklearn_table("load_wine")
breast_cancer = _sklearn_table("load_breast_cancer")
