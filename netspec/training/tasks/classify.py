"""`classify`: class labels from one network's output (the default with a classification
loss). Metrics default to accuracy; it diagnoses accuracy stuck at chance, over-fitting and
over-confidence."""

from __future__ import annotations

from netspec.errors import SpecError
from netspec.training import diagnostics
from netspec.training import diagnostics_start as start
from netspec.training.tasks.base import TASKS
from netspec.training.tasks.supervised import Supervised


@TASKS.add("classify", default_for="classification")
class Classify(Supervised):
    """Classes from one output: logits (or probabilities) [K] per sample."""

    data_kind = "classification"
    default_loss = "cross_entropy"
    default_metrics = ("accuracy",)

    def check_output(self, cfg, data, out_node) -> None:
        from netspec.training.losses import single_unit_binary

        shape, k = tuple(out_node.shape), data.num_classes
        binary = single_unit_binary(cfg.loss) and k == 2
        if shape == (k,) or (binary and shape == (1,)):
            return
        want = "1 (or 2)" if binary else str(k)
        raise SpecError(f"the network outputs {list(shape)} per sample, but `{data.name}` has "
                        f"{k} classes: the output should be [{want}]", out_node.loc,
                        hint=f"end the network with `linear: {k}`" if len(shape) == 1 else
                        "flatten (or `return: last` for recurrent layers), then `linear`")

    def output_kind(self, cfg, data, out_node) -> str:
        from netspec.training.losses import expects

        return diagnostics.produced_by(out_node.kind) or expects(cfg.loss)

    def start_diagnoses(self, t) -> list:
        found = super().start_diagnoses(t)
        if getattr(t, "initial_loss", None) is not None:
            raw = any(d is not None and d.kind == "unnormalised" for d in found)
            found.append(start.bad_initial_loss(t.initial_loss, t.uniform_loss,
                                                t.data.num_classes, raw))
        return found

    def epoch_diagnoses(self, t) -> list:
        found = super().epoch_diagnoses(t)
        if "accuracy" not in t.metric_names:
            return found
        # stuck at chance first: it names what the probes found, the likeliest cause
        return [self.chance(t), diagnostics.over_confident(t.history)] + found

    def recovered(self, t, d) -> bool:
        return diagnostics.recovered(d, t.history, self.chance_level(t))

    def first_diagnoses(self, t) -> list:
        depth, skips = diagnostics.plain_depth(t.model.netspec_graph)
        found = [diagnostics.deep_plain(depth, skips, t.history[-1].get("train_loss"),
                                        getattr(t, "uniform_loss", None))]
        if "accuracy" not in t.metric_names:
            return found
        row, test = t.history[-1], getattr(t, "test_metrics", None) or {}
        split = diagnostics.split_mismatch(row.get("train_accuracy"), row.get("val_accuracy"),
                                           test.get("accuracy"))
        # validation alone far below: the split, not over-fitting (test would fall too)
        return found + [self.chance(t, final=True), split or diagnostics.overfitting(t.history)]

    @staticmethod
    def chance_level(t) -> float:
        import numpy as np      # here, not above: `check` loads the task registry, never numpy

        labels = t.data.splits["train"][1]
        return diagnostics.chance_level(t.data.num_classes,
                                        float(np.bincount(labels).max() / len(labels)))

    def chance(self, t, final: bool = False):
        """'Stuck at chance', with what the probes say about why (they run only then)."""
        k = t.data.num_classes
        chance = self.chance_level(t)
        if diagnostics.stuck_at_chance(t.history, chance, k, final=final) is None:
            return None
        dead, constant = t.probe()
        return diagnostics.stuck_at_chance(
            t.history, chance, k, constant, [n for n, f in dead.items() if f >= 1.0],
            diagnostics.lr_far_above(t.cfg.optimizer.name, t.cfg.lr), final=final)
