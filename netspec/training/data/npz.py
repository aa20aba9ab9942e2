"""`npz: FILE`: arrays `x` and `y` (also `X`/`Y`), loaded without pickle; uint8 samples ÷255.

An .npz is a zip of .npy files. Sizes are read from the headers before any data: each member's
decompressed size from the zip directory, then the shape and dtype from the .npy header, which
must fit in that member; so a zip bomb or a lying header is refused before it allocates."""

from __future__ import annotations

import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from netspec.errors import InputError
from netspec.training import read_bounds as bounds
from netspec.training.data.base import Arrays
from netspec.training.data.files import missing, targets
from netspec.training.data.sources import NpzArgs

_BROKEN = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error, KeyError,
           RuntimeError, NotImplementedError)


def arrays(a: NpzArgs, shape: tuple, cfg) -> Arrays:
    """An .npz file with `x` and `y` (or `X`, `Y`), loaded without pickle."""
    path = Path(a.npz)
    if not path.exists():
        raise missing(str(path), "NPZ file")
    x, y = read_npz(path)
    if len(x) != len(y):
        raise InputError(f"{path}: x has {len(x)} samples but y has {len(y)}", None)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    with np.errstate(over="ignore"):            # an overflow is refused just below, by name
        x = x.astype(np.float32) * scale
    bounds.finite(x, path, "array x, as float32,")      # 1e300 in float64 is inf in float32
    return targets(x, y, cfg.task, scale, path)


def read_npz(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) of an .npz, every size bounded from the headers before its data is read."""
    if bounds.regular_file(path, "NPZ file") == 0:
        raise InputError(f"{path} is empty (0 bytes), not an NPZ file",
                         hint="save it with numpy.savez(path, x=..., y=...)")
    try:
        with zipfile.ZipFile(path) as zf:
            members = {i.filename.removesuffix(".npy"): i for i in zf.infolist()}
            bounds.within(path, sum(i.file_size for i in members.values()),
                          "its arrays, decompressed,")
            xk = next((k for k in ("x", "X") if k in members), None)
            yk = next((k for k in ("y", "Y") if k in members), None)
            if xk is None or yk is None:
                raise InputError(f"{path} holds {sorted(members)}; netspec reads arrays `x` "
                                 "and `y`", None, hint="save it with numpy.savez(path, x=..., "
                                 "y=...)")
            x = _member(zf, members[xk], path)
            y = _member(zf, members[yk], path)
    except _BROKEN as e:
        raise InputError(f"cannot read {path} as NPZ: {_why(e)}", None,
                         hint="is the file complete? save it with numpy.savez") from None
    bounds.samples(x, path, xk)
    if y.ndim == 0 or len(y) == 0:
        raise InputError(f"{path}: array `{yk}` holds no targets (shape {list(y.shape)})")
    if y.dtype.kind not in "uifU":
        raise InputError(f"{path}: array `{yk}` holds {bounds.kind_text(y.dtype)}; targets are "
                         f"numbers or class names", hint="save y as integers, floats or text")
    bounds.finite(y, path, f"array `{yk}`")
    return x, y


def _member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path) -> np.ndarray:
    """One .npy member: its header's promise checked against the member's size first."""
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise ValueError(f"unknown .npy version {version}")
        if dtype.hasobject:
            raise InputError(f"{path}: array `{info.filename}` holds Python objects, which "
                             f"netspec does not unpickle", hint="save numbers or text")
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > info.file_size:
            raise InputError(f"{path}: array `{info.filename}`'s header promises {list(shape)}"
                             f" {dtype} ({bounds.size_text(nbytes)}), more than its "
                             f"{bounds.size_text(info.file_size)} hold",
                             hint="the file is damaged; save it again")
    with zf.open(info) as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _why(e: Exception) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text and text[0] else type(e).__name__
