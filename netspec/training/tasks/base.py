"""What a training task is: the registry of tasks and the interface the loop calls.

A task decides what training means: which data it trains on, its default loss and metrics,
what must fit before anything runs, one optimisation step, what it diagnoses and what it
writes. `train.task` picks one; without it the loss decides (its targets are classes or
values), and without a loss the data does.

    @TASKS.add("classify", default_for="classification")
    class Classify(Supervised): ...

    task = pick_task(cfg, data)        # an instance
    cfg = task.complete(cfg, has_val)  # its default loss, metrics and monitor filled in

Tasks to come (gan, cyclegan, skipgram) train several networks and write samples or
embeddings: they override `step`, `end_epoch` and `finish` and keep the rest.
"""

from __future__ import annotations

from typing import Any

from netspec.errors import SpecError
from netspec.training.registry import Registry

TASKS = Registry("task")


class Task:
    """The interface; every hook but `step` has a do-nothing default."""

    data_kind: str = ""                      # "classification" | "regression": the data it needs
    default_loss: str | None = None
    default_metrics: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return next(n for n, e in TASKS.entries.items() if e.fn is type(self))

    def complete(self, cfg, has_val: bool = True):
        """`cfg` with the task's defaults for what it leaves open (loss, metrics, monitor)."""
        from netspec.training.losses import LOSSES
        from netspec.training.metrics import METRICS

        update: dict[str, Any] = {"task": TASKS.choose(self.name, {}, None, None, None)}
        if cfg.loss is None and self.default_loss:
            update["loss"] = LOSSES.choose(self.default_loss, {}, None, None, None)
        if cfg.metrics is None:
            update["metrics"] = tuple(METRICS.choose(n, {}, None, None, None)
                                      for n in self.default_metrics)
        if cfg.monitor is None:
            update["monitor"] = cfg.early_stopping.monitor if cfg.early_stopping \
                else "val_loss" if has_val else "train_loss"
        return cfg.model_copy(update=update)

    def check(self, cfg, data, out_node) -> None:
        """Raise a located SpecError when the config, the data and the network's output do
        not fit this task; nothing has run yet."""

    def output_kind(self, cfg, data, out_node) -> str:
        """What the trained output is, for data.json: logits, probabilities, values, ..."""
        return "values"

    def tracker(self, cfg, data):
        """A fresh metrics tracker for one epoch or one evaluation."""
        raise NotImplementedError

    def step(self, trainer, x, y) -> None:
        """One optimisation step on the batch (x, y)."""
        raise NotImplementedError

    def epoch_diagnoses(self, trainer) -> list:
        """What looks wrong after an epoch (Diagnosis or None each)."""
        return []

    def end_diagnoses(self, trainer) -> list:
        """What looks wrong at the end of a completed run."""
        return []

    def end_epoch(self, trainer, row: dict) -> None:
        """After an epoch's row is logged (rank 0 writes what the task writes per epoch)."""

    def finish(self, trainer, summary: dict) -> None:
        """At the end of the run, before summary.json is written."""


def pick_task(cfg, data) -> Task:
    """The task `train.task` names; else the one the loss's targets select; else the one for
    the data's kind."""
    if cfg.task is not None:
        return cfg.task.entry.fn()
    if cfg.loss is not None:
        from netspec.training.losses import trains_on

        kind = trains_on(cfg.loss)
    else:
        kind = data.task
    for entry in TASKS.entries.values():
        if entry.meta.get("default_for") == kind:
            return entry.fn()
    raise SpecError(f"no training task trains on {kind} data", cfg.where("task"),
                    hint=f"tasks: {', '.join(TASKS.names())}")
