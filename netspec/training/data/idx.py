"""`idx: DIR`: MNIST's IDX files, train-images-idx3-ubyte and train-labels-idx1-ubyte
(optionally .gz), and the t10k-* pair, which then is the test split."""

from __future__ import annotations

import gzip
import math
import zlib
from pathlib import Path

import numpy as np

from netspec.errors import InputError
from netspec.training import read_bounds as bounds
from netspec.training.data.base import Arrays
from netspec.training.data.files import missing
from netspec.training.data.sources import IdxArgs

_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTNN (type, number of dims), dims, data.
    The header's promise is bounded before the data is read, and must match what follows."""
    bounds.regular_file(path, "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            head = f.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise InputError(f"{path} is not an IDX file (bad magic number)", None,
                                 hint="MNIST's files start 00 00 08 03 (images) or "
                                      "00 00 08 01 (labels)")
            ndim = head[3]
            raw_dims = f.read(4 * ndim)
            dims = [int.from_bytes(raw_dims[4 * i:4 * i + 4], "big") for i in range(ndim)]
            dtype = np.dtype(_IDX_TYPES[head[2]])
            if ndim == 0 or len(raw_dims) < 4 * ndim:
                raise InputError(f"{path}: its header has no sizes (it says {ndim} dims)")
            if dims[0] == 0:
                raise InputError(f"{path} holds 0 samples (its header says {dims})")
            expected = math.prod(dims) * dtype.itemsize
            bounds.within(path, expected, f"the {dims} {dtype} its header promises")
            raw = f.read(expected + 1)
    except (OSError, EOFError, zlib.error) as e:
        raise InputError(f"cannot read {path}: {str(e) or type(e).__name__}", None,
                         hint="the file is damaged or cut off (an interrupted download?); "
                              "fetch it again") from None
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise InputError(f"{path} is {state}: its header promises {dims} "
                         f"({expected} bytes of data), it holds {len(raw)}"
                         f"{'' if len(raw) <= expected else ' or more'}", None,
                         hint="fetch the file again")
    x = np.frombuffer(raw, dtype=dtype).reshape(dims)
    bounds.finite(x, path, "the data")
    return x


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
    if y.ndim != 1:
        raise InputError(f"{labels_file}: labels are one number per image, its header says "
                         f"{list(y.shape)}")
    bounds.labels(y, labels_file)
    return (x.astype(np.float32)[:, None] / 255.0, y.astype(np.int64))


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
    # a class seen only in the test files still gets a label: none is out of range
    top = max(int(train[1].max()), int(test[1].max()) if test is not None else 0)
    labels = [str(i) for i in range(top + 1)]
    return Arrays(train[0], train[1], "classification", labels, 1 / 255, test=test)
