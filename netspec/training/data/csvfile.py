"""`csv: FILE`: a header row, then one sample a row; `target:` names the target column (its
name or index; default: the last); every other column is a numeric feature."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from netspec.errors import InputError, SpecError, did_you_mean
from netspec.training import read_bounds as bounds
from netspec.training.data.base import Arrays
from netspec.training.data.files import missing, targets
from netspec.training.data.sources import CsvArgs


FLOAT32_MAX = float(np.finfo(np.float32).max)


def table(a: CsvArgs, shape: tuple, cfg) -> Arrays:
    """A CSV file with a header; `target` is the target column's name or index."""
    path = Path(a.csv)
    if not path.exists():
        raise missing(str(path), "CSV file")
    rows = read_rows(path)
    if len(rows) < 2:
        raise InputError(f"{path} has no data rows under its header", None)
    header, body = rows[0], rows[1:]
    col = _target_column(a.target, header, path)
    features = [i for i in range(len(header)) if i != col]
    x = np.empty((len(body), len(features)), dtype=np.float32)
    for r, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise InputError(f"{path}:{r}: {len(row)} values, the header has {len(header)}")
        for j, i in enumerate(features):
            try:
                value = float(row[i])
            except ValueError:
                raise InputError(f"{path}:{r}: column `{header[i]}` holds {row[i][:40]!r}, "
                                 f"not a number", None, hint="features must be numeric; give "
                                 "the class column as `target:`") from None
            if not math.isfinite(value) or abs(value) > FLOAT32_MAX:
                raise InputError(f"{path}:{r}: column `{header[i]}` holds {row[i][:40]!r}, "
                                 f"not a finite number (float32)", None,
                                 hint="drop or fill missing values before training")
            x[r - 2, j] = value
    return targets(x, [row[col] for row in body], cfg.task, 1.0, path)


def read_rows(path: Path) -> list[list[str]]:
    """The file's non-empty rows; its size, its text (UTF-8) and each field bounded."""
    bounds.regular_file(path, "CSV file")
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            return [r for r in reader if r]
    except UnicodeDecodeError as e:
        line = f":{reader.line_num + 1}" if reader is not None else ""
        raise InputError(f"{path}{line}: not UTF-8 text (byte {e.object[e.start:e.start + 1]!r}"
                         f" at offset {e.start} of its chunk)", None,
                         hint="save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                         ) from None
    except csv.Error as e:
        line = f":{reader.line_num}" if reader is not None else ""
        raise InputError(f"{path}{line}: not a CSV netspec reads: {e} (fields are at most "
                         f"{csv.field_size_limit():,} characters)", None,
                         hint="one sample a row, comma-separated, a header row first") from None


def _target_column(target, header: list[str], path: Path) -> int:
    """The `target:` column; a name or index the file lacks is a mistake in the YAML."""
    if target is None:
        return len(header) - 1
    if isinstance(target, int):
        if not -len(header) <= target < len(header):
            raise SpecError(f"`target` column {target} is out of range: {path} has "
                            f"{len(header)} columns", None)
        return target % len(header)
    if target not in header:
        raise SpecError(f"{path} has no column `{target}`", None,
                        hint=did_you_mean(target, header) or f"columns: {', '.join(header)}")
    return header.index(target)
