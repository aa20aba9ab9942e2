"""Users' data files as training sets: image folders, CSV tables, NPZ arrays, MNIST IDX files.
Each reader returns `data.Arrays`; a missing or malformed file is a SpecError naming it.

    images: DIR        one subfolder per class (sorted names are the labels); resized to the
                       spec's input (or `size`), grey for 1 channel, RGB for 3; ÷255
    csv: FILE          a header row; `target:` names the target column (default: the last);
                       every other column is a numeric feature
    npz: FILE          arrays `x` and `y` (also `X`/`Y`); uint8 samples are ÷255
    idx: DIR           train-images-idx3-ubyte, train-labels-idx1-ubyte (optionally .gz), and the
                       t10k-* pair, which then is the test split
"""

from __future__ import annotations

import csv as csvmod
import gzip
from pathlib import Path

import numpy as np

from netspec.errors import SpecError
from netspec.training.data import Arrays

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm"}
MAX_CLASSES_GUESSED = 50      # an integer target with more distinct values is a regression


def _missing(path: str, what: str) -> SpecError:
    return SpecError(f"no such {what}: {path}", None,
                     hint="paths in `data:` are relative to the spec file")


def images(cfg, shape) -> Arrays:
    """One subfolder per class of image files, resized to the spec's input size."""
    from PIL import Image, UnidentifiedImageError

    root = Path(cfg.images)
    if not root.is_dir():
        raise _missing(str(root), "image directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise SpecError(f"{root} has no class subfolders", None,
                        hint="put each class's images in its own subfolder: DIR/cat/1.png, ...")
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
        raise SpecError(f"image data needs an input [C, H, W], the spec has {list(shape)}", None)
    channels, height, width = shape
    if cfg.size:
        height = width = cfg.size
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise SpecError(f"images have 1, 3 or 4 channels; the spec's input has {channels}", None)
    xs, ys = [], []
    for label, name in enumerate(classes):
        for file in sorted((root / name).iterdir()):
            if file.suffix.lower() not in IMAGE_EXTENSIONS:
                continue
            try:
                with Image.open(file) as img:
                    img = img.convert(mode).resize((width, height), Image.BILINEAR)
                    arr = np.asarray(img, dtype=np.float32) / 255.0
            except (OSError, UnidentifiedImageError) as e:
                raise SpecError(f"cannot read image {file}: {e}", None) from None
            xs.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            ys.append(label)
    if not xs:
        raise SpecError(f"no image files under {root}", None,
                        hint=f"image files end in {', '.join(sorted(IMAGE_EXTENSIONS))}")
    return Arrays(np.stack(xs), np.asarray(ys, dtype=np.int64), "classification", classes,
                  1 / 255)


def table(cfg, shape) -> Arrays:
    """A CSV file with a header; `target` is the target column's name or index."""
    path = Path(cfg.csv)
    if not path.is_file():
        raise _missing(str(path), "CSV file")
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csvmod.reader(f) if r]
    if len(rows) < 2:
        raise SpecError(f"{path} has no data rows under its header", None)
    header, body = rows[0], rows[1:]
    col = _target_column(cfg.target, header, path)
    features = [i for i in range(len(header)) if i != col]
    x = np.empty((len(body), len(features)), dtype=np.float32)
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise SpecError(f"{path}:{r}: {len(row)} values, the header has {len(header)}", None)
        for j, i in enumerate(features):
            try:
                x[r - 2, j] = float(row[i])
            except ValueError:
                raise SpecError(f"{path}:{r}: column `{header[i]}` holds {row[i]!r}, not a "
                                f"number", None, hint="features must be numeric; give the "
                                "class column as `target:`") from None
    y_text = [row[col] for row in body]
    return _targets(x, y_text, cfg.task, 1.0)


def _target_column(target, header: list[str], path: Path) -> int:
    if target is None:
        return len(header) - 1
    if isinstance(target, int):
        if not -len(header) <= target < len(header):
            raise SpecError(f"`target` column {target} is out of range: {path} has "
                            f"{len(header)} columns", None)
        return target % len(header)
    if target not in header:
        from netspec.errors import did_you_mean

        raise SpecError(f"{path} has no column `{target}`", None,
                        hint=did_you_mean(target, header) or f"columns: {', '.join(header)}")
    return header.index(target)


def _targets(x: np.ndarray, values, task: str | None, scale: float) -> Arrays:
    """Class indices (labels sorted) or float values, as `task` says or the values suggest."""
    values = np.asarray(values)
    if task is None:
        task = "classification" if _looks_like_classes(values) else "regression"
    if task == "regression":
        try:
            y = values.astype(np.float32).reshape(len(values), -1)
        except ValueError:
            raise SpecError("a regression target must be numeric", None) from None
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


def arrays(cfg, shape) -> Arrays:
    """An .npz file with `x` and `y` (or `X`, `Y`), loaded without pickle."""
    path = Path(cfg.npz)
    if not path.is_file():
        raise _missing(str(path), "NPZ file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            xk = next((k for k in ("x", "X") if k in keys), None)
            yk = next((k for k in ("y", "Y") if k in keys), None)
            if xk is None or yk is None:
                raise SpecError(f"{path} holds {sorted(keys)}; netspec reads arrays `x` and `y`",
                                None)
            x, y = npz[xk], npz[yk]
    except (OSError, ValueError) as e:
        raise SpecError(f"cannot read {path} as NPZ: {e}", None) from None
    if len(x) != len(y):
        raise SpecError(f"{path}: x has {len(x)} samples but y has {len(y)}", None)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) * scale if x.dtype.kind in "uif" else x
    return _targets(x, y, cfg.task, scale)


_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (gzipped or not): magic 0x0000TTNN (type, number of dims), dims, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e}", None) from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise SpecError(f"{path} is not an IDX file (bad magic number)", None)
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    dtype = np.dtype(_IDX_TYPES[raw[2]])
    start = 4 + 4 * ndim
    if len(raw) - start != int(np.prod(dims)) * dtype.itemsize:
        raise SpecError(f"{path} is truncated: its header promises {dims}", None)
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
        raise SpecError(f"{images_file} has {len(x)} images but {labels_file} {len(y)} labels",
                        None)
    return (x.astype(np.float32)[:, None] / 255.0, y.astype(np.int64))


def idx(cfg, shape) -> Arrays:
    """MNIST-style IDX files in a directory; the t10k pair, when present, is the test split."""
    root = Path(cfg.idx)
    if not root.is_dir():
        raise _missing(str(root), "IDX directory")
    train = _idx_pair(root, "train")
    if train is None:
        raise SpecError(f"no train-images/train-labels IDX files in {root}", None,
                        hint="MNIST's files: train-images-idx3-ubyte.gz, "
                             "train-labels-idx1-ubyte.gz (and t10k-* for the test split)")
    test = _idx_pair(root, "t10k")
    labels = [str(i) for i in range(int(train[1].max()) + 1)]
    return Arrays(train[0], train[1], "classification", labels, 1 / 255, test=test)


READERS = [("images", images, {"size"}), ("csv", table, {"target"}), ("npz", arrays, set()),
           ("idx", idx, set())]

__all__ = ["READERS", "read_idx"]
