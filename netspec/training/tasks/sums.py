"""One epoch's running means for the tasks that train several networks at once (gan,
cyclegan): a loss and named columns, summed as float64 and weighted by batch size. It has the
interface of metrics.Tracker (`flat[1]` is the loss, which the loop checks for NaN), so the
loop logs, checkpoints and restores it like any tracker."""

from __future__ import annotations


class ColumnSums:
    """[count, loss, *columns]: each a batch's mean times its size. Subclasses name the
    columns and say in `update` what one batch adds."""

    columns: tuple[str, ...] = ()

    def __init__(self) -> None:
        import torch

        self.flat = torch.zeros(2 + len(self.columns), dtype=torch.float64)

    def add(self, n: int, loss, *columns) -> None:
        """One batch of `n` samples: its mean loss, then one mean per column (tensors)."""
        import torch

        self.flat[0] += n
        self.flat[1:] += torch.stack([v.detach().double() for v in (loss, *columns)]).cpu() * n

    @property
    def empty(self) -> bool:
        return int(self.flat[0]) == 0

    def state(self):
        return self.flat.clone(), []

    def load_state(self, flat, sizes) -> None:
        self.flat = flat.clone().double()

    def result(self, flat=None) -> dict[str, float]:
        flat = self.flat if flat is None else flat
        count = max(float(flat[0]), 1.0)
        return {"loss": float(flat[1]) / count,
                **{name: float(flat[2 + i]) / count for i, name in enumerate(self.columns)}}
