"""Reading `netspec infer`'s inputs and preprocessing them as training did (DESIGN §5, §7),
with numpy and PIL alone (importing torch here is a bug: `netspec infer` never pays for it):

    image file        pixels / 255, resized to the model's H x W, grayscale or RGB per channels
    .npy, .csv, array raw values * scale (digits: 1/16)
    then              (x - mean) / std, with the training split's statistics
"""

from __future__ import annotations

import csv
import math
import zipfile
import zlib
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from netspec.deploy import require
from netspec.deploy.metadata import InputInfo, ModelInfo
from netspec.errors import InputError, Location
from netspec.training import read_bounds as bounds

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm"}
MODES = {1: "L", 3: "RGB", 4: "RGBA"}        # image channels -> PIL mode


def read_samples(source: Any, info: ModelInfo) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
    """(names of the samples, model-ready arrays by input name) for one input source (a file
    path or a numpy array), prepared for the model `info` describes."""
    if isinstance(source, np.ndarray):
        yield _from_arrays("array", {_only_input(info, "an array"): source}, info)
        return
    path = Path(source)
    if not path.exists():
        raise InputError(f"{source}: no such input file")
    bounds.regular_file(path, "input file")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        name = _only_input(info, "an image")
        pixels = _read_image(path, info.inputs[name], info.resample)
        yield [str(source)], {name: _preprocess(pixels, info, name, image=True)}
    elif suffix == ".npy":
        yield _from_arrays(str(source), {_only_input(info, "a .npy file"): _load_npy(path)}, info)
    elif suffix == ".npz":
        yield _from_arrays(str(source), _load_npz(path, info), info)
    elif suffix == ".csv":
        yield _read_csv(path, info)
    else:
        raise InputError(f"{source}: netspec infer reads images "
                         f"({', '.join(sorted(IMAGE_SUFFIXES))}), .npy, .npz and .csv files, "
                         f"not {suffix or 'a file without suffix'}")


def _only_input(info: ModelInfo, what: str) -> str:
    if len(info.inputs) != 1:
        raise InputError(f"model {info.name!r} has {len(info.inputs)} inputs "
                         f"({', '.join(info.inputs)}); {what} feeds only one",
                         hint="give a .npz file holding one array per input name")
    return next(iter(info.inputs))


def _read_image(path: Path, inp: InputInfo, resample: str = "bilinear") -> np.ndarray:
    """The image as a float array in the model's per-sample shape, pixels / 255."""
    Image = require("PIL.Image")
    UnidentifiedImageError = Image.UnidentifiedImageError
    shape = inp.shape
    if len(shape) >= 3 and all(isinstance(d, int) for d in shape[:3]):
        channels, size = shape[0], (shape[2], shape[1])             # PIL sizes are (W, H)
    elif len(shape) == 1 and isinstance(shape[0], int) and _square_image(shape[0]):
        channels, side = _square_image(shape[0])                    # an MLP over pixels
        size = (side, side)
    else:
        raise InputError(f"{path}: the model's input {_fmt(shape)} is not an image "
                         f"[C, H, W]", hint="give a .npy or .csv file instead")
    if channels not in MODES:
        raise InputError(f"{path}: the model takes {channels}-channel images; images have "
                         f"1 (grayscale), 3 (RGB) or 4 (RGBA) channels")
    try:
        with bounds.open_image(Image, path) as img:      # its size bounded from the header
            img = img.convert(MODES[channels])
            if img.size != size:
                img = img.resize(size, Image.NEAREST if resample == "nearest"
                                 else Image.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError) as err:
        raise InputError(f"{path}: not an image PIL can read ({err})") from None
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)   # HWC -> CHW
    return pixels.reshape(shape)


def _square_image(n: int) -> tuple[int, int] | None:
    """(channels, side) when n pixels make a square grayscale or RGB image."""
    for channels in (1, 3):
        side = math.isqrt(n // channels)
        if n % channels == 0 and side * side * channels == n:
            return channels, side
    return None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise InputError(f"{path}: not a .npy array numpy can read ({err})") from None


def _load_npz(path: Path, info: ModelInfo) -> dict[str, np.ndarray]:
    try:
        with zipfile.ZipFile(path) as zf:
            bounds.within(path, sum(i.file_size for i in zf.infolist()),
                          "its arrays, decompressed,")
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise InputError(f"{path}: not a .npz archive numpy can read ({err})") from None
    if len(info.inputs) == 1 and len(arrays) == 1:
        return {next(iter(info.inputs)): next(iter(arrays.values()))}
    missing = [n for n in info.inputs if n not in arrays]
    if missing:
        raise InputError(f"{path}: no array named {', '.join(missing)} "
                         f"(it holds {', '.join(arrays) or 'nothing'})",
                         hint=f"the model's inputs are {', '.join(info.inputs)}")
    return {n: arrays[n] for n in info.inputs}


def _read_csv(path: Path, info: ModelInfo) -> tuple[list[str], dict[str, np.ndarray]]:
    """One sample per numeric row (a first row with a non-number is a header)."""
    name = _only_input(info, "a .csv file")
    inp = info.inputs[name]
    try:
        return _csv_rows(path, info, name, inp)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not UTF-8 text", hint="save the file as UTF-8") from None
    except csv.Error as err:
        raise InputError(f"{path}: not a CSV file netspec reads ({err})") from None


def _csv_rows(path: Path, info: ModelInfo, name: str, inp: InputInfo):
    rows, names = [], []
    with open(path, newline="", encoding="utf-8-sig") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            try:
                values = [float(c) for c in cells]
            except ValueError:
                if not rows and not names:
                    continue                                     # the header
                raise InputError(f"a row holds a value that is not a number: {row[:8]}",
                                 loc=Location(str(path), line, 1)) from None
            if not all(math.isfinite(v) for v in values):
                raise InputError("a row holds NaN or inf", loc=Location(str(path), line, 1),
                                 hint="fill or drop missing values")
            rows.append(_row_shape(values, inp, Location(str(path), line, 1)))
            names.append(f"{path}:{line}")
    if not rows:
        raise InputError(f"{path}: no rows of numbers")
    return names, {name: _preprocess(np.stack(rows), info, name, image=False)}


def _row_shape(values: list[float], inp: InputInfo, loc: Location) -> np.ndarray:
    known = math.prod(d for d in inp.shape if isinstance(d, int))
    free = [i for i, d in enumerate(inp.shape) if not isinstance(d, int)]
    if len(values) % known or (not free and len(values) != known) or len(free) > 1:
        raise InputError(f"a row has {len(values)} values; the model's input {_fmt(inp.shape)} "
                         f"needs {known if not free else f'a multiple of {known}'}", loc=loc)
    shape = tuple(len(values) // known if i in free else d for i, d in enumerate(inp.shape))
    return np.asarray(values).reshape(shape)


def _from_arrays(source: str, arrays: dict[str, np.ndarray],
                 info: ModelInfo) -> tuple[list[str], dict[str, np.ndarray]]:
    """Raw arrays (one sample each, or a batch) -> sample names and model-ready arrays."""
    out, count = {}, None
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        if arr.dtype.kind not in "uifb":
            raise InputError(f"{source}: array {name!r} holds {bounds.kind_text(arr.dtype)}, "
                             f"not numbers", hint="save the samples as numbers")
        arr = _as_batch(arr, info.inputs[name].shape, f"{source}: array {name!r}")
        if len(arr) == 0:
            raise InputError(f"{source}: array {name!r} holds no samples "
                             f"(shape {list(arr.shape)})")
        bounds.finite(arr.astype(np.float64) if arr.dtype.kind == "f" else arr, source,
                      f"array {name!r}")
        if count is not None and len(arr) != count:
            raise InputError(f"{source}: the arrays hold different numbers of samples")
        count = len(arr)
        out[name] = _preprocess(arr, info, name, image=False)
    names = [source] if count == 1 else [f"{source}[{i}]" for i in range(count)]
    return names, out


def _as_batch(arr: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """`arr` as a batch of samples of `shape`: one sample or a batch of them; a
    single-channel input also takes arrays without their channel axis ([H, W], [N, H, W])."""
    def fits(have, want) -> bool:
        return len(have) == len(want) and all(not isinstance(w, int) or h == w
                                              for h, w in zip(have, want))
    if fits(arr.shape, shape):
        return arr[None]
    if fits(arr.shape[1:], shape):
        return arr
    if len(shape) >= 2 and shape[0] == 1:
        if fits(arr.shape, shape[1:]):
            return arr[None, None]
        if fits(arr.shape[1:], shape[1:]):
            return arr[:, None]
    raise InputError(f"{what} has shape {list(arr.shape)}; the model takes {_fmt(shape)} per "
                     f"sample (or a batch of them)")


def _preprocess(x: np.ndarray, info: ModelInfo, name: str, image: bool) -> np.ndarray:
    """Scale (raw data only: images are already pixels / 255) and normalise as training did;
    a batch dim is added to a single sample. Token ids are only checked and cast."""
    inp = info.inputs[name]
    x = np.asarray(x)
    if x.ndim == len(inp.shape):
        x = x[None]
    for i, d in enumerate(inp.shape):
        if isinstance(d, int) and x.shape[i + 1] != d:
            raise InputError(f"input {name!r} has shape {list(x.shape[1:])}; the model takes "
                             f"{_fmt(inp.shape)}")
    if inp.dtype == "long":
        if not np.all(np.mod(x, 1) == 0):
            raise InputError(f"input {name!r} holds token ids: whole numbers, got fractions")
        return x.astype(np.int64)
    x = x.astype(np.float32)
    if not image:
        x = x * np.float32(info.scale)
    if info.normalize:
        mean = _broadcast(info.normalize["mean"], inp)
        std = _broadcast(info.normalize["std"], inp)
        x = (x - mean) / std
    return x.astype(np.float32)


def _broadcast(stats: Sequence[float] | float, inp: InputInfo) -> np.ndarray:
    """Statistics shaped to broadcast over a batch, along the axis training used: channels
    (axis 0) for images (rank >= 3), else the last axis (features, sequences [seq, F])."""
    s = np.asarray(stats, dtype=np.float32).ravel()
    shape = inp.shape
    rank = len(shape)
    if s.size == 1:
        return s.reshape((1,) * (rank + 1))
    axis = 0 if rank >= 3 else rank - 1
    if shape[axis] != s.size:
        raise InputError(f"the model's normalisation statistics have {s.size} values; its input "
                         f"{_fmt(shape)} has {shape[axis]} along the axis they apply to")
    view = [1] * (rank + 1)
    view[axis + 1] = s.size
    return s.reshape(view)


def _fmt(shape: Iterable) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
