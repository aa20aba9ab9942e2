"""What classification and regression share: one network, one output, a loss against targets,
metrics tracked per batch. The step: augment, forward (under autocast), loss (mixed targets as
`lam * loss(out, y_a) + (1 - lam) * loss(out, y_b)` for every loss alike), L1, then the
trainer's backward and optimizer step."""

from __future__ import annotations

from netspec.errors import SpecError
from netspec.training import diagnostics
from netspec.training.tasks.base import Task


class Supervised(Task):
    def check(self, cfg, data, out_node) -> None:
        from netspec.training.losses import trains_on
        from netspec.training.metrics import NEEDS_DATA

        # the loss written in the spec is the likelier culprit than the task it selected
        if trains_on(cfg.loss) != data.task and cfg.given("loss"):
            raise SpecError(f"the loss `{cfg.loss.name}` is for {trains_on(cfg.loss)}, but "
                            f"`{data.name}` is a {data.task} set", cfg.where("loss"),
                            hint="use cross_entropy for classes, mse for values")
        if data.task != self.data_kind:
            raise SpecError(f"the task `{self.name}` trains on {self.data_kind} data, but "
                            f"`{data.name}` is a {data.task} set", cfg.where("task"))
        if trains_on(cfg.loss) != self.data_kind:
            raise SpecError(f"the loss `{cfg.loss.name}` is for {trains_on(cfg.loss)}, but the "
                            f"task `{self.name}` trains on {self.data_kind} data",
                            cfg.where("loss"))
        for i, m in enumerate(cfg.metrics):
            kind = NEEDS_DATA[m.entry.meta["needs"]]
            if kind != self.data_kind:
                raise SpecError(f"the metric `{m.name}` is for {kind}, but `{data.name}` is a "
                                f"{data.task} set", cfg.where("metrics", i))
        self.check_output(cfg, data, out_node)

    def check_output(self, cfg, data, out_node) -> None:
        """The network's output has the shape the targets need."""

    def tracker(self, cfg, data):
        from netspec.training.losses import threshold
        from netspec.training.metrics import Tracker

        return Tracker(cfg.metrics, data.num_classes, threshold(cfg.loss),
                       data.unscale_target if data.target is not None else None)

    def step(self, t, x, y) -> None:
        import torch

        y_b, lam = None, 1.0
        if t.augment:
            x, y_b, lam = t.augment(x, y, t.aug_gen, t.data.apply_normalize
                                    if t.normalize_batches else lambda v: v)
        with torch.autocast(t.device.type, enabled=t.amp):
            out = t.forward(x)
            loss = t.loss_fn(out, y)
            if y_b is not None:
                loss = lam * loss + (1 - lam) * t.loss_fn(out, y_b)
            if t.cfg.l1:
                loss = loss + t.cfg.l1 * sum(w.abs().sum() for w in t.weights)
        t.optimize(loss)
        t.tracker.update(out.float(), y, loss)

    def end_diagnoses(self, t) -> list:
        """Dead ReLUs and an output that ignores the input (unless a diagnosis that names them,
        such as 'stuck at chance', was given)."""
        dead, constant = t.probe()
        found = self.first_diagnoses(t)
        named = any(d and d.kind == "chance" for d in found + t.diagnoses)
        if not named:
            found += diagnostics.dead_relus(dead)
        if constant and not named:
            found.append(diagnostics.Diagnosis("constant", "the network's output is the same "
                                               "for every input: it ignores its input",
                                               "look for a layer that outputs a constant"))
        return found

    def first_diagnoses(self, t) -> list:
        """The task's own end-of-run diagnoses, said before the generic ones."""
        return []
