"""Metrics: the function of each entry declared in netspec.training.metric_args (names,
arguments, needs: torch-free, what `check` validates), under the entry's name, imported when a
metric is first computed. A metric (what its function returns) is two pure functions:
`stats(batch) -> tensor of sums` over one batch, and `value(summed stats) -> float`. Sums add
across batches and across DDP ranks (one all_reduce), so an epoch's metric is exact, not a mean
of batch means.

    tracker = Tracker(metric_choices, num_classes)
    tracker.update(out, y, loss)          # per batch: tensor ops only, no host sync
    tracker.result()                      # {"loss": ..., "accuracy": ...}
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch

from netspec.training.metric_args import (METRICS, NEEDS_DATA, TopKArgs, display_name,
                                          is_fraction, metric_of, minimize)

__all__ = ["METRICS", "NEEDS_DATA", "Batch", "Tracker", "display_name", "is_fraction",
           "metric_of", "minimize"]


@dataclass
class Batch:
    """What a metric sees of one batch: the output, targets, and (classification) the
    predicted classes; `k` is the number of classes."""

    out: torch.Tensor
    y: torch.Tensor
    k: int | None
    threshold: float = 0.0       # one output unit: class 1 above it (0 for a logit, 0.5 for p)

    @property
    def pred(self) -> torch.Tensor:
        if "_pred" not in self.__dict__:
            if self.out.shape[-1] == 1:
                self._pred = (self.out.view(-1) > self.threshold).long()
            else:
                self._pred = self.out.argmax(-1)
        return self._pred


def _confusion_stats(b: Batch) -> torch.Tensor:
    """Per class: true positives, predicted count, actual count."""
    k = b.k or int(b.out.shape[-1])
    tp = torch.bincount(b.y[b.pred == b.y], minlength=k)[:k]
    predicted = torch.bincount(b.pred, minlength=k)[:k]
    actual = torch.bincount(b.y, minlength=k)[:k]
    return torch.cat([tp, predicted, actual]).double()


def _macro(per_class: Callable) -> Callable[[torch.Tensor], float]:
    """A macro average over the classes present of `per_class(precision, recall)`."""
    def value(s: torch.Tensor) -> float:
        tp, predicted, actual = s.view(3, -1)
        present = actual > 0
        per = per_class(tp / predicted.clamp(min=1), tp / actual.clamp(min=1))
        return float(per[present].mean()) if present.any() else 0.0
    return value


def accuracy(a):
    """Fraction of samples whose predicted class (argmax, or threshold for one unit) is right."""
    return (lambda b: torch.stack([(b.pred == b.y).sum(), torch.tensor(len(b.y))]).double(),
            lambda s: float(s[0] / s[1].clamp(min=1)))


def top_k(a: TopKArgs):
    """Fraction of samples whose class is among the k highest scores."""
    def stats(b: Batch):
        k = min(a.k, b.out.shape[-1])
        hit = (b.out.topk(k, dim=-1).indices == b.y[:, None]).any(-1).sum()
        return torch.stack([hit, torch.tensor(len(b.y))]).double()
    return stats, lambda s: float(s[0] / s[1].clamp(min=1))


def precision(a):
    """Precision per class, averaged over the classes present (macro)."""
    return _confusion_stats, _macro(lambda p, r: p)


def recall(a):
    """Recall per class, averaged over the classes present (macro)."""
    return _confusion_stats, _macro(lambda p, r: r)


def f1(a):
    """F1 (harmonic mean of precision and recall) per class, macro-averaged."""
    return _confusion_stats, _macro(lambda p, r: 2 * p * r / (p + r).clamp(min=1e-12))


def _error_stats(b: Batch) -> torch.Tensor:
    d = b.out.detach().double() - b.y.view(b.out.shape).double()
    return torch.stack([(d * d).sum(), d.abs().sum(), torch.tensor(d.numel(), dtype=d.dtype)])


def mse(a):
    """Mean squared error."""
    return _error_stats, lambda s: float(s[0] / s[2].clamp(min=1))


def mae(a):
    """Mean absolute error."""
    return _error_stats, lambda s: float(s[1] / s[2].clamp(min=1))


def r2(a):
    """Coefficient of determination, 1 - SS_res / SS_tot (over all target values)."""
    def stats(b: Batch):
        y = b.y.view(b.out.shape).double()
        d = b.out.detach().double() - y
        return torch.stack([(d * d).sum(), y.sum(), (y * y).sum(),
                            torch.tensor(y.numel(), dtype=y.dtype)])

    def value(s):
        res, total, squares, n = (float(v) for v in s)
        ss_tot = squares - total * total / max(n, 1)
        return 1 - res / ss_tot if ss_tot > 0 else 0.0
    return stats, value


class Tracker:
    """Sums of one epoch's loss and metric statistics; tensors until `result()`."""

    def __init__(self, choices, num_classes: int | None, threshold: float = 0.0,
                 unscale: Callable | None = None):
        # `unscale`: standardised outputs and targets back in the target's units, for metrics
        self.k, self.threshold, self.unscale = num_classes, threshold, unscale
        self.parts = [(display_name(c), *c.entry.fn(c.args)) for c in choices]
        self.sums: list[torch.Tensor | None] = [None] * len(self.parts)
        self.loss_sum: torch.Tensor | None = None
        self.count = 0

    def update(self, out: torch.Tensor, y: torch.Tensor, loss: torch.Tensor | None = None) -> None:
        n = len(y)
        if loss is not None:
            weighted = loss.detach().double() * n
            self.loss_sum = weighted if self.loss_sum is None else self.loss_sum + weighted
        self.count += n
        out = out.detach()
        if self.unscale is not None:
            out, y = self.unscale(out), self.unscale(y.view(out.shape).to(out.dtype))
        batch = Batch(out, y, self.k, self.threshold)
        for i, (_, stats, _) in enumerate(self.parts):
            s = stats(batch).to(out.device)
            self.sums[i] = s if self.sums[i] is None else self.sums[i] + s

    @property
    def empty(self) -> bool:
        return self.count == 0

    def state(self) -> tuple[torch.Tensor, list[int]]:
        """All sums as one flat float64 tensor [count, loss, *metric sums], and the metric sums'
        sizes: what DDP all-reduces and a mid-epoch checkpoint keeps."""
        loss = self.loss_sum if self.loss_sum is not None else torch.zeros((), dtype=torch.float64)
        parts = [torch.tensor([float(self.count)], dtype=torch.float64), loss.reshape(1).cpu()]
        parts += [s.cpu() for s in self.sums if s is not None]
        return torch.cat(parts), [s.numel() if s is not None else 0 for s in self.sums]

    def load_state(self, flat: torch.Tensor, sizes: list[int]) -> None:
        self.count, self.loss_sum = int(flat[0]), flat[1].clone()
        offset = 2
        for i, size in enumerate(sizes):
            self.sums[i] = flat[offset:offset + size].clone() if size else None
            offset += size

    def result(self, flat: torch.Tensor | None = None) -> dict[str, float]:
        """{"loss": mean loss, metric: value}; `flat` replaces the sums (all-reduced ones)."""
        flat, sizes = self.state() if flat is None else (flat, self.state()[1])
        count = max(float(flat[0]), 1.0)
        out = {"loss": float(flat[1]) / count}
        offset = 2
        for (name, _, value), size in zip(self.parts, sizes):
            if size:
                out[name] = value(flat[offset:offset + size])
            offset += size
        return out
