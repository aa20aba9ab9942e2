"""`npz: FILE`: arrays `x` and `y` (also `X`/`Y`), loaded without pickle; uint8 samples ÷255."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from netspec.errors import InputError
from netspec.training.data.base import DATASETS, Arrays, DataArgs
from netspec.training.data.files import missing, targets


class NpzArgs(DataArgs):
    npz: str


@DATASETS.add("npz", NpzArgs, file=True)
def arrays(a: NpzArgs, shape: tuple, cfg) -> Arrays:
    """An .npz file with `x` and `y` (or `X`, `Y`), loaded without pickle."""
    path = Path(a.npz)
    if not path.is_file():
        raise missing(str(path), "NPZ file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            xk = next((k for k in ("x", "X") if k in keys), None)
            yk = next((k for k in ("y", "Y") if k in keys), None)
            if xk is None or yk is None:
                raise InputError(f"{path} holds {sorted(keys)}; netspec reads arrays `x` and "
                                 "`y`", None)
            x, y = npz[xk], npz[yk]
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read {path} as NPZ: {e}", None) from None
    if len(x) != len(y):
        raise InputError(f"{path}: x has {len(x)} samples but y has {len(y)}", None)
    scale = 1 / 255 if x.dtype == np.uint8 else 1.0
    x = x.astype(np.float32) * scale if x.dtype.kind in "uif" else x
    return targets(x, y, cfg.task, scale)
