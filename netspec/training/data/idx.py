"""`idx: DIR`: MNIST's IDX files, train-images-idx3-ubyte and train-labels-idx1-ubyte
(optionally .gz), and the t10k-* pair, which then is the test split."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np

from netspec.errors import InputError
from netspec.training.data.base import DATASETS, Arrays, DataArgs
from netspec.training.data.files import missing

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IdxArgs(DataArgs):
    idx: str


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTNN (type, number of dims), dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e}", None) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise InputError(f"{path} is not an IDX file (bad magic number)", None)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(dims)) * dtype.itemsize:
        raise InputError(f"{path} is truncated: its header promises {dims}", None)
    return np.frombuffer(raw, dtype=dtype, offset=start).reshape(dims)


def _idx_pair(root: Path, prefix: str):
    def find(kind: str):
        for f in sorted(root.iterdir()):
            name = f.name.lower()
            if name.startswith(prefix) and kind in name and "idx" in name:
                return f
        return None
    images_file, labels_file = find("images"), find("labels")
    if images_file is None or labels_file is None:
        return None
    x, y = read_idx(images_file), read_idx(labels_file)
    if len(x) != len(y):
        raise InputError(f"{images_file} has {len(x)} images but {labels_file} {len(y)} labels",
                         None)
    return (x.astype(np.float32)[:, None] / 255.0, y.astype(np.int64))


@DATASETS.add("idx", IdxArgs, file=True)
def idx(a: IdxArgs, shape: tuple, cfg) -> Arrays:
    """MNIST-style IDX files in a directory; the t10k pair, when present, is the test split."""
    root = Path(a.idx)
    if not root.is_dir():
        raise missing(str(root), "IDX directory")
    train = _idx_pair(root, "train")
    if train is None:
        raise InputError(f"no train-images/train-labels IDX files in {root}", None,
                         hint="MNIST's files: train-images-idx3-ubyte.gz, "
                              "train-labels-idx1-ubyte.gz (and t10k-* for the test split)")
    test = _idx_pair(root, "t10k")
    labels = [str(i) for i in range(int(train[1].max()) + 1)]
    return Arrays(train[0], train[1], "classification", labels, 1 / 255, test=test)
