"""What training prints: a rich progress bar per epoch on a terminal (one plain line per epoch
otherwise, e.g. in logs and CI), warnings in plain words, and a final summary table."""

from __future__ import annotations

import time
from typing import Callable

from rich.console import Console
from rich.markup import escape
from rich.table import Table

REFRESH_S = 0.25          # how often the bar's loss is read from the tensors (a host sync)


class Progress:
    def __init__(self, enabled: bool = True, console: Console | None = None):
        self.enabled = enabled
        self.console = console or Console(highlight=False)
        self.bar = None
        self.task = None
        self.last = 0.0

    def start(self, epoch: int, epochs: int, steps: int, done: int = 0) -> None:
        if not (self.enabled and self.console.is_terminal):
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn(f"epoch {epoch + 1}/{epochs}"), BarColumn(),
                       MofNCompleteColumn(), TextColumn("{task.fields[info]}"),
                       TimeRemainingColumn(), console=self.console, transient=True)
        self.bar.start()
        self.task = self.bar.add_task("train", total=steps, completed=done, info="")

    def step(self, running: Callable[[], dict]) -> None:
        """One batch done; `running()` gives the epoch's running loss and metrics (read a few
        times a second only: it waits for the device)."""
        if self.bar is None:
            return
        now = time.monotonic()
        if now - self.last >= REFRESH_S:
            self.last = now
            info = "  ".join(f"{k} {format_value(k, v)}" for k, v in running().items())
            self.bar.update(self.task, advance=1, info=info)
        else:
            self.bar.advance(self.task)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None

    def end(self, row: dict, metric_names: list[str]) -> None:
        self.stop()
        if not self.enabled:
            return
        parts = [f"epoch {row['epoch']:>3}"]
        for split in ("train", "val"):
            for name in ["loss", *metric_names]:
                value = row.get(f"{split}_{name}")
                if value is not None:
                    parts.append(f"{split}_{name} {format_value(name, value)}")
        # a task's own columns (the gan's fid), beside the train_/val_ ones
        parts += [f"{k} {format_value(k, v)}" for k, v in row.items()
                  if "_" not in k and k not in ("epoch", "lr", "time") and isinstance(v, float)]
        parts.append(f"lr {row['lr']:.3g}")
        parts.append(f"{row['time']:.1f}s")
        self.console.print("  ".join(parts), soft_wrap=True)

    def warn(self, diagnosis) -> None:
        if self.enabled:
            self.console.print(f"[yellow]warning:[/yellow] {escape(diagnosis.message)}",
                               markup=True, soft_wrap=True)
            if diagnosis.hint:
                self.console.print(f"  hint: {diagnosis.hint}", soft_wrap=True, markup=False)

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, soft_wrap=True, markup=False)

    def summary(self, summary: dict, metric_names: list[str]) -> None:
        if not self.enabled:
            return
        best = summary.get("best") or {}
        table = Table(title=f"{summary['name']}: {summary['status'].replace('_', ' ')}",
                      title_justify="left")
        table.add_column("")
        splits = [s for s in ("train", "val", "test") if summary.get(s)]
        for s in splits:
            table.add_column(s, justify="right")
        for name in ["loss", *metric_names]:
            cells = [format_value(name, summary[s].get(name)) for s in splits]
            table.add_row(name, *cells)
        self.console.print(table)
        facts = [f"epochs {summary['epochs_run']}",
                 f"best epoch {best.get('epoch', '-')} ({summary['monitor']} "
                 f"{format_value(summary['monitor'], best.get('value'))}; its numbers above)",
                 f"{summary['train_samples_per_s']:.0f} samples/s",
                 f"{summary['time_s']:.1f}s"]
        self.console.print("  ".join(facts), soft_wrap=True)
        if summary.get("run_dir"):
            self.console.print(f"run: {summary['run_dir']}")


def format_value(name: str, value) -> str:
    """A logged quantity as printed: fractions (as their metric declares) in percent."""
    from netspec.training.metrics import is_fraction

    if value is None:
        return "-"
    if is_fraction(name):
        return f"{value:.2%}"
    return f"{value:.4g}"
