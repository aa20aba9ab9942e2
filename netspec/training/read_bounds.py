"""What every file reader checks before it reads (DESIGN §9): the file is a regular one (a FIFO
would block, a device never end), its size — or the size its headers promise once
decompressed — is within MAX_DATA_BYTES, and what it holds is refused where it enters when it
cannot be trained on: no samples, arrays of the wrong kind, NaN or inf, labels out of range.

Each refusal is an InputError naming the file, what is wrong and the bound, so the user knows
what to fix; nothing is reported later as "gradients probably exploded".
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np

from netspec.errors import InputError

MAX_DATA_BYTES = 2**30          # 1 GiB decompressed per file: MNIST is 47 MB, CIFAR-10 180 MB
MAX_IMAGE_PIXELS = 2**26        # 8192 x 8192; PIL's own bomb limit is 89 M pixels
MAX_SAMPLE_BYTES = 2**32        # 4 GiB of float32 samples in memory for one data set


def size_text(n: int | float) -> str:
    """1073741824 -> '1.0 GiB'."""
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} bytes"


def regular_file(path: Path, what: str, limit: int = MAX_DATA_BYTES) -> int:
    """The size of `path` after checking that it is a regular file of at most `limit`
    bytes."""
    try:
        info = os.stat(path)
    except OSError as e:
        raise InputError(f"cannot read {what} {path}: {e.strerror or e}") from None
    if not stat.S_ISREG(info.st_mode):
        raise InputError(f"{what} {path} is not a regular file (a FIFO, a device or a "
                         f"folder)", hint="give the path of a regular file")
    if info.st_size > limit:
        raise InputError(f"{what} {path} is {size_text(info.st_size)}, above netspec's bound "
                         f"of {size_text(limit)} per file",
                         hint="split the data into smaller files, or subsample it")
    return info.st_size


def within(path: Path, nbytes: int, what: str, limit: int = MAX_DATA_BYTES) -> None:
    """Refuse `nbytes` (what `path`'s headers promise) above `limit`, before reading them."""
    if nbytes > limit:
        raise InputError(f"{path}: {what} would take {size_text(nbytes)}, above netspec's "
                         f"bound of {size_text(limit)} per file",
                         hint="is the file damaged or a decompression bomb? otherwise split "
                              "the data into smaller files")


def check_pixels(file, size: tuple[int, int]) -> None:
    """Refuse an image whose header promises more than MAX_IMAGE_PIXELS, before decoding."""
    width, height = size
    if width * height > MAX_IMAGE_PIXELS:
        raise InputError(f"image {file} is {width}x{height} pixels, above netspec's bound of "
                         f"{MAX_IMAGE_PIXELS:,} pixels (8192x8192)",
                         hint="downscale the image before using it")


def open_image(Image, file):
    """PIL's lazy `Image.open(file)` (`Image` is the PIL.Image module), its size checked
    from the header before anything decodes. PIL's own bomb check is set aside for the open
    so that our bound, not PIL's traceback, names the size."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        img = Image.open(file)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    try:
        check_pixels(file, img.size)
    except InputError:
        img.close()
        raise
    return img


def samples(x: np.ndarray, path: Path, what: str = "x") -> np.ndarray:
    """Samples `x` [N, ...]: at least 1-d, not empty, numbers (no booleans, complex, text or
    objects), all finite."""
    if x.ndim == 0:
        raise InputError(f"{path}: array `{what}` is a single value (0-d); netspec reads "
                         f"samples along its first axis", hint="save an array [N, ...]")
    if len(x) == 0:
        raise InputError(f"{path}: array `{what}` holds no samples (shape {list(x.shape)})")
    if x.dtype.kind not in "uif":
        raise InputError(f"{path}: array `{what}` holds {kind_text(x.dtype)}, not numbers",
                         hint="save the samples as integers or floats")
    finite(x, path, f"array `{what}`")
    return x


def finite(x: np.ndarray, path: Path, what: str) -> None:
    """Refuse NaN or inf in `x`, naming the first sample (row) that holds one."""
    if x.dtype.kind != "f":
        return
    bad = ~np.isfinite(x.reshape(len(x), -1)).all(axis=1) if x.ndim else ~np.isfinite(x)
    if bad.any():
        first = int(np.flatnonzero(bad)[0])
        raise InputError(f"{path}: {what} holds NaN or inf ({int(bad.sum())} samples, the "
                         f"first at index {first})", hint="drop or fill the missing values "
                         "before training: NaN in data makes every gradient NaN")


def labels(y: np.ndarray, path: Path, what: str = "labels") -> np.ndarray:
    """Class labels: non-negative integers."""
    if y.dtype.kind not in "ui" or (y.dtype.kind == "i" and len(y) and int(y.min()) < 0):
        low = f", the lowest {int(y.min())}" if y.dtype.kind == "i" and len(y) else ""
        raise InputError(f"{path}: {what} must be class indices 0, 1, 2, ...{low}",
                         hint="labels are non-negative integers")
    return y


def in_memory(count: int, per_sample: int, where: Path, what: str) -> None:
    """Refuse a data set whose float32 samples would exceed MAX_SAMPLE_BYTES."""
    nbytes = count * per_sample * 4
    if nbytes > MAX_SAMPLE_BYTES:
        raise InputError(f"{where}: {count} {what} would take {size_text(nbytes)} as float32, "
                         f"above netspec's bound of {size_text(MAX_SAMPLE_BYTES)}",
                         hint="use smaller images (`size:`) or fewer of them")


def kind_text(dtype: np.dtype) -> str:
    return {"b": "booleans", "c": "complex numbers", "U": "text", "S": "bytes",
            "O": "Python objects", "V": "records", "M": "dates", "m": "time spans"}.get(
        dtype.kind, f"values of type {dtype}")
