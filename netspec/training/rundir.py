"""Run directories: `runs/<name>/<n>/`, numbered from 1, with `runs/<name>/latest` pointing at
the newest (a symlink, or a text file holding `<n>` where symlinks cannot be made).

    spec.yaml            the spec's YAML text as given
    train.json           the resolved train section (what --resume trains with)
    data.json            task, labels, scale, normalisation statistics, input shape, output kind
    metrics.csv          one row per epoch
    curves.png           loss and metrics per epoch
    best.safetensors     weights of the best epoch (by `monitor`) + best.json
    last.safetensors     weights of the newest checkpoint + last.json
    last.state.safetensors   what --resume reads: weights, optimizer, generators, state
    summary.json         how the run went: status, best epoch, final and test metrics, timing

`load_run(path)` -> (spec, state_dict, data_meta) is what other code (export, eval) reads.
"""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path
from typing import Any

from netspec.errors import Location, SpecError
from netspec.training.checkpoint import atomic_json, atomic_write

LATEST = "latest"


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
        """A new numbered directory under out/name, and `latest` pointing at it."""
        parent = Path(out) / name
        parent.mkdir(parents=True, exist_ok=True)
        taken = [int(p.name) for p in parent.iterdir() if p.name.isdigit()]
        n = max(taken, default=0) + 1
        while True:
            try:
                (parent / str(n)).mkdir()
                break
            except FileExistsError:       # another run took this number meanwhile
                n += 1
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

    def write_text(self, name: str, text: str) -> None:
        atomic_write(self.file(name), text)

    def write_json(self, name: str, value: Any) -> None:
        atomic_json(self.file(name), value)

    def read_json(self, name: str) -> Any:
        path = self.file(name)
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SpecError(f"{path} is missing: is {self.path} a netspec run directory?",
                            None) from None
        except json.JSONDecodeError as e:
            raise SpecError(f"{path.name} is damaged: {e.msg}", Location(str(path), e.lineno,
                                                                          e.colno)) from None

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
        """curves.png: losses on the left, metrics on the right, train dashed, val solid."""
        if not history:
            return
        # the object-oriented API: no pyplot state, no switching of the user's backend
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        epochs = [row["epoch"] for row in history]
        names = sorted({k.split("_", 1)[1] for row in history for k in row
                        if k.startswith(("train_", "val_")) and not k.endswith("_loss")})
        fig = Figure(figsize=(10 if names else 5, 3.6))
        FigureCanvasAgg(fig)
        axes = fig.subplots(1, 2 if names else 1, squeeze=False)
        for ax, keys, title in ((axes[0][0], ["loss"], "loss"),
                                *([(axes[0][1], names, "metrics")] if names else [])):
            for key in keys:
                for split, style in (("train", "--"), ("val", "-")):
                    values = [row.get(f"{split}_{key}") for row in history]
                    if any(v is not None for v in values):
                        ax.plot(epochs, [float("nan") if v is None else v for v in values],
                                style, label=f"{split} {key}")
            ax.set_xlabel("epoch")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(title)
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        atomic_write(self.file("curves.png"), buf.getvalue(), durable=False)


def _fmt(value: Any) -> Any:
    return f"{value:.6g}" if isinstance(value, float) else value


def resolve_run(path: str | os.PathLike) -> Path:
    """The numbered run directory `path` names: itself, `latest` (symlink or text file), or a
    runs/<name> directory (its latest)."""
    path = Path(path)
    if path.is_file() and path.name == LATEST:
        path = path.parent / path.read_text(encoding="utf-8").strip()
    elif path.is_dir() and not (path / "train.json").exists() and (path / LATEST).exists():
        return resolve_run(path / LATEST)
    if not path.is_dir() or not (path / "train.json").exists():
        raise SpecError(f"{path} is not a netspec run directory (no train.json)", None,
                        hint="give runs/<name>/<n>, runs/<name>/latest or runs/<name>")
    return path.resolve()


def load_run(path: str | os.PathLike, checkpoint: str = "best"):
    """(spec, state_dict, data_meta) of a run directory: the spec it was trained from, the
    weights of its `best` (or `last`) checkpoint, and data.json."""
    from netspec.lang import loads
    from netspec.training.checkpoint import model_tensors, read

    run = RunDir(resolve_run(path))
    text = run.file("spec.yaml").read_text(encoding="utf-8")
    spec = loads(text, str(run.file("spec.yaml")))
    tensors, _ = read(run.file(f"{checkpoint}.safetensors"))
    return spec, model_tensors(tensors), run.read_json("data.json")
