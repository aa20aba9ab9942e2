"""`regress`: values from one network's output (the default with a regression loss). Metrics
default to mae and r2, in the target's units even when the targets are standardised for the
loss (`data: {normalize_target: true}`: the statistics go to data.json as `target`)."""

from __future__ import annotations

from netspec.errors import SpecError
from netspec.training.tasks.base import TASKS
from netspec.training.tasks.supervised import Supervised


@TASKS.add("regress", default_for="regression")
class Regress(Supervised):
    """Values from one output: [d] per sample for d target values."""

    data_kind = "regression"
    default_loss = "mse"
    default_metrics = ("mae", "r2")

    def check_output(self, cfg, data, out_node) -> None:
        shape = tuple(out_node.shape)
        width = data.splits["train"][1].shape[1]
        if shape != (width,):
            raise SpecError(f"the network outputs {list(shape)} per sample, but `{data.name}` "
                            f"has {width} target value{'s' if width > 1 else ''}: the output "
                            f"should be [{width}]", out_node.loc,
                            hint=f"end the network with `linear: {width}`")

    def output_kind(self, cfg, data, out_node) -> str:
        return "values"
