"""Run directories: `runs/<name>/<n>/`, numbered from 1, with `runs/<name>/latest` pointing at
the newest (a symlink, or a text file holding `<n>` where symlinks cannot be made). This module
is the one reader and writer of runs: train, resume, eval and export all go through it.

    spec.yaml            the spec, self-contained (includes inlined: `netspec.lang.inline`)
    samples/, ...        what the task writes per epoch (`write_bytes`; gan: sample grids)
    train.json           the resolved train section (what --resume trains with)
    data.json            task, labels, scale, normalisation statistics, target scaling of a
                         regression (`target: {mean, std}`), input shape, output kind
    metrics.csv          one row per epoch
    curves.png           loss and metrics per epoch
    best.safetensors     weights of the best epoch (by `monitor`) + best.json
    last.safetensors     weights of the newest checkpoint + last.json
    last.state.safetensors   what --resume reads: weights, optimizer, generators, state
    summary.json         how the run went: status, best epoch, final and test metrics, timing

    run = read_run("runs/lenet5/latest")      # spec, verified weights of `best`, data.json
    spec, weights, data = load_run(path)       # the same, as a tuple

Reading metadata does not import torch (`netspec infer` and `check` stay light); reading
weights does. Every checkpoint is read through `checkpoint.read`, which verifies its checksum.
A run the user names that is not one, or is incomplete, is an InputError; a damaged checkpoint
a VerifyError.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import InputError, Location
from netspec.safe_write import path_component
from netspec.training.checkpoint import atomic_json, atomic_write

if TYPE_CHECKING:
    from netspec.lang.schema import Spec

LATEST = "latest"
LOCK = ".lock"                              # held by the process training in the run
SPEC = "spec.yaml"
CHECKPOINTS = ("best", "last")              # what a run's weights are read from, in this order
# what data.json's `output` says the trained output holds
CLASS_OUTPUTS = ("logits", "probabilities", "log_probabilities")
OUTPUT_KINDS = (*CLASS_OUTPUTS, "values")
_INCLUDES = re.compile(r"^include\s*:", re.M)    # a top-level `include:` key


class RunDir:
    """One run's directory; every write is atomic."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __fspath__(self) -> str:
        return str(self.path)

    def __str__(self) -> str:
        return str(self.path)

    @classmethod
    def create(cls, out: str | os.PathLike, name: str) -> "RunDir":
        """A new numbered directory under out/name, and `latest` pointing at it; `name` is one
        path component (a `../x` would put the run outside `out`)."""
        parent = Path(out) / path_component(name, "the run name")
        try:
            parent.mkdir(parents=True, exist_ok=True)
            taken = [int(p.name) for p in parent.iterdir() if p.name.isdigit()]
            n = max(taken, default=0) + 1
            while True:
                try:
                    (parent / str(n)).mkdir()
                    break
                except FileExistsError:       # another run took this number meanwhile
                    n += 1
        except OSError as e:
            raise InputError(f"cannot create a run directory in {parent}: {e.strerror or e}",
                             hint="give `--out` a folder you can write to, with free space"
                             ) from None
        run = cls(parent / str(n))
        run.point_latest()
        return run

    def point_latest(self) -> None:
        link = self.path.parent / LATEST
        tmp = self.path.parent / f".{LATEST}.{os.getpid()}.tmp"
        try:
            if tmp.is_symlink() or tmp.exists():
                tmp.unlink()
            os.symlink(self.path.name, tmp)
            os.replace(tmp, link)
        except OSError:
            if link.is_symlink():
                link.unlink()
            atomic_write(link, self.path.name + "\n")

    def file(self, name: str) -> Path:
        return self.path / name

    @contextlib.contextmanager
    def lock(self):
        """Hold the run's lock file (`.lock`, fcntl.flock) while a process trains in it: a
        second process is refused with the first one's PID. The kernel drops the lock when
        its holder dies, so a killed run never blocks the next `--resume`."""
        import fcntl

        path = self.file(LOCK)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise InputError(f"cannot lock {self.path}: {e.strerror or e}") from None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
                raise InputError(f"{self.path} is in use: process {holder} is training in "
                                 f"it", hint=f"wait for process {holder} to finish (or stop "
                                 f"it), then resume") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
            yield self
        finally:
            os.close(fd)

    def write_text(self, name: str, text: str) -> None:
        atomic_write(self.file(name), text)

    def write_bytes(self, name: str, data: bytes, durable: bool = False) -> None:
        """`name` (a path inside the run, `samples/epoch_001.png`: its folders are made)
        written atomically: a reader sees the old file or the new one, never a part."""
        path = self.file(name)
        if not path.resolve().is_relative_to(self.path.resolve()):
            raise InputError(f"{name!r} is not a path inside the run {self.path}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, data, durable)

    def read_network_weights(self, network: str, checkpoint: str | None = "best") -> dict:
        """The state_dict of network `network` of a run that trains several (its keys
        without the `NAME.` prefix they have in the checkpoint)."""
        prefix = f"{network}."
        return {k[len(prefix):]: v for k, v in self.read_weights(checkpoint).items()
                if k.startswith(prefix)}

    def write_json(self, name: str, value: Any) -> None:
        atomic_json(self.file(name), value)

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        try:
            _regular(path)
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{path} is missing: is {self.path} a netspec run directory?",
                             None) from None
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {path}: {e}") from None
        except json.JSONDecodeError as e:
            raise InputError(f"{path.name} is damaged: {e.msg}", Location(str(path), e.lineno,
                                                                           e.colno)) from None

    # ---- what the run is: its spec, data and weights --------------------------------------

    def write_spec(self, spec: Spec) -> None:
        """spec.yaml: the spec self-contained, so the run rebuilds it whatever its includes
        become."""
        from netspec.lang.inline import inline

        self.write_text(SPEC, inline(spec))

    def read_spec(self) -> Spec:
        """The spec the run was trained from (a SpecError is located in its spec.yaml)."""
        from netspec.graph.load import loads

        path = self.file(SPEC)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {path}: {e}",
                             hint="is this a run directory netspec wrote?") from None
        where = str(path)
        if _INCLUDES.search(text) and self.file("run.json").is_file():
            # a run written before specs were stored self-contained: its includes resolve
            # from where the original file was
            meta = self.read_json("run.json")
            origin = meta.get("spec_path") if isinstance(meta, dict) else None
            where = origin if isinstance(origin, str) and Path(origin).parent.is_dir() \
                else where
        return loads(text, where)

    def read_data(self) -> dict:
        """data.json, checked: what the run knows of its data (labels, scale, statistics,
        target scaling, what its output holds)."""
        data = self.read_json("data.json")
        check_data(data, self.file("data.json"))
        return data

    def checkpoint_name(self, checkpoint: str | None = None) -> str:
        """`checkpoint` (best or last), or when None the first of them the run holds."""
        if checkpoint is not None:
            if checkpoint not in CHECKPOINTS:
                raise InputError(f"a run's checkpoints are {' and '.join(CHECKPOINTS)}, "
                                 f"not {checkpoint!r}")
            return checkpoint
        found = next((c for c in CHECKPOINTS if self.file(f"{c}.safetensors").is_file()), None)
        if found is None:
            raise InputError(f"{self.path}: no checkpoint ("
                             f"{' or '.join(f'{c}.safetensors' for c in CHECKPOINTS)})",
                             hint="the run may have stopped before its first epoch ended")
        return found

    def read_weights(self, checkpoint: str | None = "best") -> dict:
        """The model's state_dict from checkpoint `checkpoint` (None: best, else last), its
        checksum verified."""
        from netspec.training.checkpoint import model_tensors, read

        tensors, _ = read(self.file(f"{self.checkpoint_name(checkpoint)}.safetensors"))
        return model_tensors(tensors)

    def write_metrics(self, history: list[dict]) -> None:
        """metrics.csv, rewritten whole from the history (so a resumed run has no stray rows)."""
        columns: list[str] = []
        for row in history:
            columns += [k for k in row if k not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in history:
            writer.writerow({k: _fmt(v) for k, v in row.items()})
        atomic_write(self.file("metrics.csv"), buf.getvalue(), durable=False)

    def plot(self, history: list[dict]) -> None:
        """curves.png (netspec.training.curves), with summary.json's best epoch and test values
        and the chance level from data.json's labels."""
        from netspec.training.curves import plot_run

        plot_run(self, history)


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def resolve_run(path: str | os.PathLike, hops: int = 0) -> Path:
    """The numbered run directory `path` names: itself, `latest` (symlink or text file), or a
    runs/<name> directory (its latest)."""
    path = Path(path)
    if hops > 8:
        raise InputError(f"{path}: `{LATEST}` points in a circle")
    if path.name == LATEST and path.is_file() and not path.is_symlink():
        try:
            target = path.read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as e:
            raise InputError(f"cannot read {path}: {e}") from None
        return resolve_run(path.parent / target, hops + 1)
    if path.is_dir():
        if (path / SPEC).is_file():
            return path.resolve()
        if (path / LATEST).exists():
            return resolve_run(path / LATEST, hops + 1)
    raise InputError(f"{path}: not a run directory (no {SPEC}) and no `{LATEST}` run in it",
                     hint="give runs/<name>/<n>, runs/<name>/latest or runs/<name>")


@dataclass(frozen=True)
class SavedRun:
    """What a run holds for rebuilding its model: the spec, the verified weights of one
    checkpoint, and data.json."""

    path: Path
    spec: Spec
    weights: dict
    data: dict
    checkpoint: str                        # best | last


def read_run(path: str | os.PathLike, checkpoint: str | None = "best") -> SavedRun:
    """The run at `path` (see resolve_run): its spec, the weights of checkpoint `checkpoint`
    (None: best, else last) and data.json; every part is required."""
    run = RunDir(resolve_run(path))
    spec = run.read_spec()
    data = run.read_data()
    name = run.checkpoint_name(checkpoint)
    return SavedRun(run.path, spec, run.read_weights(name), data, name)


def load_run(path: str | os.PathLike, checkpoint: str = "best"):
    """(spec, state_dict, data_meta) of a run directory: the spec it was trained from, the
    weights of its `best` (or `last`) checkpoint, and data.json."""
    run = read_run(path, checkpoint)
    return run.spec, run.weights, run.data


# ---- data.json ---------------------------------------------------------------------------

def check_data(data: Any, path: Path) -> None:
    """Refuse a data.json that would make export or infer prepare inputs or read outputs
    wrongly: each key that is present has its documented form."""
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a JSON object")
    if data.get("output") not in (None, *OUTPUT_KINDS):
        raise InputError(f"{path}: `output` must be one of {', '.join(OUTPUT_KINDS)}, "
                         f"got {data['output']!r}")
    scale = data.get("scale", 1.0)
    if scale is not None and not (finite_number(scale) and scale > 0):
        raise InputError(f"{path}: `scale` must be a positive number, got {scale!r}")
    for key in ("normalize", "target"):
        stats = data.get(key)
        if stats is not None and not is_statistics(stats):
            raise InputError(f"{path}: `{key}` must be null or {{\"mean\": [...], \"std\": [...]}}"
                             f" with as many finite means as positive stds")


def finite_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def is_statistics(stats: Any) -> bool:
    """{"mean": [...], "std": [...]} (or single numbers): finite means, positive stds."""
    if not isinstance(stats, dict) or not {"mean", "std"} <= set(stats):
        return False
    mean, std = ([v] if finite_number(v) else v for v in (stats["mean"], stats["std"]))
    return isinstance(mean, list) and isinstance(std, list) and len(mean) == len(std) > 0 \
        and all(finite_number(m) for m in mean) and all(finite_number(s) and s > 0 for s in std)


def _regular(path: Path) -> None:
    """Refuse what is not a regular file before reading it: a FIFO in a run directory would
    block the read forever, /dev/zero never end it."""
    if not stat.S_ISREG(os.stat(path).st_mode):      # a missing file: FileNotFoundError
        raise InputError(f"{path} is not a regular file (a FIFO, a device or a folder)",
                         hint="the run directory was altered; train the run again")
