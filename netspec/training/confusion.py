"""The confusion matrix of a classification run, as `netspec eval` gives it: counted beside the
metrics in the same pass, printed as a table, kept in `--json` and drawn as a heat map.

    counting = Counting(tracker)            # a tracker that also counts (true, predicted) pairs
    evaluate_model(model, x, y, loss_fn, counting)
    matrix = counting.matrix()              # [[...]]: rows the true class, columns predicted
    print(confusion_table(labels, matrix))
    plot_confusion(labels, matrix, "confusion.png", title="lenet5 on test")

Predicted classes are the metrics' own (argmax, or the loss's threshold on one output unit),
so the matrix's diagonal sums to the accuracy's count.
"""

from __future__ import annotations

import io
from pathlib import Path

MAX_TABLE_CLASSES = 30         # more columns than a terminal holds: the PNG and --json only


class Counting:
    """`tracker`, and the counts of (true class, predicted class) of what it is fed."""

    def __init__(self, tracker):
        import torch

        self.tracker = tracker
        self.k = tracker.k
        self.counts = torch.zeros(self.k * self.k, dtype=torch.long)

    def update(self, out, y, loss=None) -> None:
        import torch

        from netspec.training.metrics import Batch

        self.tracker.update(out, y, loss)
        pred = Batch(out.detach(), y, self.k, self.tracker.threshold).pred
        pairs = (y.long() * self.k + pred.long()).cpu()
        self.counts += torch.bincount(pairs, minlength=self.k * self.k)[:self.k * self.k]

    def matrix(self) -> list[list[int]]:
        return self.counts.view(self.k, self.k).tolist()


def per_class(matrix: list[list[int]]) -> tuple[list[float | None], list[float | None]]:
    """(recall, precision) per class; None where a class has no samples (recall) or was
    never predicted (precision)."""
    k = len(matrix)
    actual = [sum(row) for row in matrix]
    predicted = [sum(matrix[t][p] for t in range(k)) for p in range(k)]
    recall = [matrix[i][i] / actual[i] if actual[i] else None for i in range(k)]
    precision = [matrix[i][i] / predicted[i] if predicted[i] else None for i in range(k)]
    return recall, precision


def _percent(v: float | None) -> str:
    return "-" if v is None else f"{v:.0%}"


def confusion_table(labels: list[str], matrix: list[list[int]]) -> str:
    """The matrix as text: one row per true class (its index and name), one column per
    predicted class (by index), each row's recall on the right, each column's precision below.
    With more than MAX_TABLE_CLASSES classes, the per-class recall and precision alone."""
    k = len(matrix)
    recall, precision = per_class(matrix)
    names = [f"{i} {labels[i]}" if labels[i] != str(i) else str(i) for i in range(k)]
    first = max(len("precision"), max(len(n) for n in names))
    if k > MAX_TABLE_CLASSES:
        lines = [f"{'class':<{first}}  recall  precision"]
        lines += [f"{names[i]:<{first}}  {_percent(recall[i]):>6}  {_percent(precision[i]):>9}"
                  for i in range(k)]
        return "\n".join(lines)
    width = max(4, max(len(str(c)) for row in matrix for c in row), len(str(k - 1)))
    head = f"{'true / predicted':<{first}}" if first >= 16 else f"{'':<{first}}"
    lines = [head + "".join(f" {i:>{width}}" for i in range(k)) + "  recall"]
    for i, row in enumerate(matrix):
        lines.append(f"{names[i]:<{first}}" + "".join(f" {c:>{width}}" for c in row)
                     + f"  {_percent(recall[i]):>6}")
    lines.append(f"{'precision':<{first}}" + "".join(f" {_percent(p):>{width}}"
                                                     for p in precision))
    return "\n".join(lines)


def plot_confusion(labels: list[str], matrix: list[list[int]], path: str | Path,
                   title: str = "") -> Path:
    """A heat map of the matrix to `path` (.png, .svg or .pdf by its suffix), written
    atomically: cells coloured by the fraction of their row (the true class), annotated with
    their counts; rows the true class, columns the predicted one."""
    import numpy as np
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from netspec.safe_write import atomic_write

    path = Path(path)
    counts = np.asarray(matrix, dtype=float)
    k = len(counts)
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    side = min(max(4.0, 0.45 * k + 2.0), 16.0)
    fig = Figure(figsize=(side + 1.2, side), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label="fraction of the true class")
    ticks = list(range(k))
    ax.set_xticks(ticks, labels, rotation=45 if max(map(len, labels)) > 2 else 0, ha="right"
                  if max(map(len, labels)) > 2 else "center", fontsize=8)
    ax.set_yticks(ticks, labels, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    if k <= 40:                      # counts stay legible up to about 40 classes
        size = 8 if k <= 15 else 6
        for t in range(k):
            for p in range(k):
                if counts[t, p]:
                    ax.text(p, t, f"{int(counts[t, p])}", ha="center", va="center",
                            fontsize=size, color="white" if share[t, p] > 0.5 else "black")
    if title:
        ax.set_title(title, fontsize=10)
    buf = io.BytesIO()
    fig.savefig(buf, format=path.suffix.lstrip(".").lower() or "png", dpi=110)
    atomic_write(path, buf.getvalue(), durable=False)
    return path
