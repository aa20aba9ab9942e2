"""What classification and regression share: one network, one output, a loss against targets,
metrics tracked per batch. The step: augment, forward (under autocast), loss (mixed targets as
`sum of w_i * loss(out, y_i)` over the mix's parts, for every loss alike), L1, then the
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

        from netspec.training.augment import mixed_loss

        mix = None                 # the targets' parts, when a mixing augmentation ran
        if t.augment:
            x, mix = t.augment(x, y, t.aug_gen, t.data.apply_normalize
                               if t.normalize_batches else lambda v: v)
        with torch.autocast(t.device.type, enabled=t.amp):
            out = t.forward(x)
            loss = mixed_loss(t.loss_fn, out, y, mix)
            if t.cfg.l1:
                loss = loss + t.cfg.l1 * sum(w.abs().sum() for w in t.weights)
        t.optimize(loss)
        t.tracker.update(out.float(), y, loss)

    def start_diagnoses(self, t) -> list:
        """Inputs not normalised, and activations that vanish or explode through depth, from
        one batch through the untrained network; keeps its loss and a uniform guess's for the
        diagnoses that compare with them."""
        from netspec.training import diagnostics_start as start
        from netspec.training.losses import expects

        x, y = t.train_x[:256], t.train_y[:256]
        if not x.is_floating_point():
            return []                      # token ids: nothing to normalise
        if t.normalize_batches:
            x = t.data.apply_normalize(x)
        t.initial_loss, out, stds = start.probe_start(t.model, x, y, t.loss_fn, t.output_index)
        t.uniform_loss = start.uniform_loss(t.loss_fn, out, y, expects(t.cfg.loss))
        return [start.unnormalised(float(x.float().mean()), float(x.float().std()),
                                   t.data.normalize is not None),
                start.activation_depth(stds)]

    def epoch_diagnoses(self, t) -> list:
        found = [diagnostics.lr_too_high(t.history, t.cfg.lr)]
        # a flat loss after a warning about the init is the init's doing, not the rate's
        if not any(d.kind in ("depth_activations", "bad_init") for d in t.diagnoses):
            found.append(diagnostics.lr_too_low(t.history, t.cfg.lr,
                                                getattr(t, "uniform_loss", None)))
        return found

    def recovered(self, t, d) -> bool:
        return diagnostics.recovered(d, t.history, None)

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
