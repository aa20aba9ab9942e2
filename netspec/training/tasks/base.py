"""What a training task is: the registry of tasks and the interface the loop calls.

A task decides what training means: which data it trains on, its default loss and metrics,
what must fit before anything runs, one optimisation step, what it diagnoses and what it
writes. `train.task` picks one; without it the loss decides (its targets are classes or
values), and without a loss the data does.

    @TASKS.add("classify", default_for="classification")
    class Classify(Supervised): ...

    task = pick_task(cfg, data)        # an instance
    cfg = task.complete(cfg, has_val)  # its default loss, metrics and monitor filled in

A task that trains several networks (gan, cyclegan) reads them from a spec with `networks:`:

- networks: `trainer.models[NAME]` (an nn.Module each; `trainer.model` is the nn.ModuleDict
  of them, so checkpoints hold `NAME.<layer>...` keys); `networks` (a class attribute: the
  names it needs) and the wiring rule of graph/wiring.py (registered under the task's name)
  are checked before anything trains, and by `netspec check`.
- optimizers: `trainer.optimizers[NAME]`, from `train.optimizers: {NAME: {adam: {...}}}` or
  `train.optimizer` for each; the schedule applies to every one. `complete` may put in the
  task's default optimizer when the spec gives none (`cfg.given("optimizer")`).
  In `step`: `trainer.optimize(loss, NAME)` zeroes NAME's gradients, back-propagates `loss`,
  clips NAME's gradients and steps NAME's optimizer (other networks' gradients are left as
  the backward made them: detach what they should not learn from).
- data: `load_data(cfg, spec, fold)` gives the Data (default: the data fitted to
  `data_spec(spec)`'s input, the network whose input the samples are); the trainer then
  holds `trainer.train_x, trainer.train_y` (normalised unless the data is not) and calls
  `step(trainer, x, y)` with shuffled batches of them, seeded per epoch (torch's global
  generator: draw noise from it and a resumed run draws the same). With `evaluates = False`
  there is no val/test evaluation; the task's `end_epoch` adds its own columns.
- metrics: `tracker(cfg, data)` is the per-epoch accumulator: `update(...)` as the task likes,
  `state() -> (flat float64 tensor [count, loss_sum, ...], sizes)`, `load_state(flat,
  sizes)`, `result(flat=None) -> {"loss": ..., name: value}` (the row gets `train_<name>`);
  `metric_names(cfg)` are the names printed after `loss`; `monitor` picks `best`.
- per-epoch files: `end_epoch(trainer, row)` runs after the epoch's row is made and before
  the checkpoint (rank 0 only writes: `trainer.run` is None elsewhere); write through
  `trainer.run.write_bytes(f"samples/epoch_{row['epoch']:03d}.png", png)` (atomic: a temp
  file and a rename, folders made) or `write_text`/`write_json`; put numbers in `row`.
- extra state: `state(trainer) -> (tensors, json)` is saved in `last.state.safetensors`
  (tensors under `@task.<key>`) and given back to `load_state(trainer, tensors, json)` on
  resume, so a resumed run continues bit-identically (an image pool, a cached feature net).
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
    networks: tuple[str, ...] = ()           # the names of `networks:` it trains; () one network
    evaluates: bool = True                   # val/test loss and metrics by the trainer

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
        not fit this task; nothing has run yet. With several networks `out_node` is a dict:
        name -> that network's shape-annotated Graph."""

    def data_spec(self, spec):
        """The (network) spec whose input the data's samples must fit."""
        return spec

    def load_data(self, cfg, spec, fold: int | None = None):
        """The task's Data: by default `data:` fitted to `data_spec(spec)`'s input."""
        from netspec.training.data import load_data

        return load_data(cfg.data, self.data_spec(spec), cfg.where, fold)

    def network_data(self, name: str, data) -> dict:
        """What data.json says of network `name` beside its input shape and output kind
        (`scale`, `normalize`: how export and infer prepare its inputs)."""
        return {}

    def metric_names(self, cfg) -> list[str]:
        """The names printed after `loss` (columns `train_<name>`, `val_<name>`)."""
        from netspec.training.metrics import display_name

        return [display_name(c) for c in cfg.metrics]

    def minimize(self, name: str) -> bool:
        """Whether the logged quantity `name` improves downwards (for `monitor`)."""
        from netspec.training.metrics import minimize

        return minimize(name)

    def state(self, trainer) -> tuple[dict, dict]:
        """The task's own state for the resume file: (tensors by key, JSON data)."""
        return {}, {}

    def load_state(self, trainer, tensors: dict, state: dict) -> None:
        """Continue from what `state` saved."""

    def output_kind(self, cfg, data, out_node) -> str:
        """What the trained output is, for data.json: logits, probabilities, values, ..."""
        return "values"

    def tracker(self, cfg, data):
        """A fresh metrics tracker for one epoch or one evaluation."""
        raise NotImplementedError

    def step(self, trainer, x, y) -> None:
        """One optimisation step on the batch (x, y)."""
        raise NotImplementedError

    def start_diagnoses(self, trainer) -> list:
        """What looks wrong before the first step: the data, the untrained network."""
        return []

    def recovered(self, trainer, diagnosis) -> bool:
        """Whether the run has recovered from what `diagnosis` said (it is then withdrawn)."""
        return False

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
