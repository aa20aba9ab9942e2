"""The metrics' names, arguments and what each declares, torch-free: what `netspec check` and
`netspec schema` validate and describe, and what the printing, the monitor and the schedules
read of a metric. Each entry's function is the one of its name in netspec.training.metrics
(with torch), imported when a metric is first computed.

Each metric declares what it needs (`needs`: "classes", predicted classes against class
indices, or "values", outputs against same-shape targets), whether higher is better, whether it
is a fraction (printed as a percentage) and its column name (`column`: a format string over its
arguments, "top{k}"); nothing outside these two files branches on a metric's name.
"""

from __future__ import annotations

import re
import string
from netspec.kinds.argtypes import PositiveInt
from netspec.training.registry import Args, NoArgs, Registry

METRICS = Registry("metric", requires=("needs", "higher_is_better"),
                   implementations="netspec.training.metrics")

# the kind of data a metric's need is met by (for messages)
NEEDS_DATA = {"classes": "classification", "values": "regression"}


class TopKArgs(Args):
    k: PositiveInt = 5


CLASSES = {"needs": "classes", "higher_is_better": True, "fraction": True}
METRICS.declare("accuracy", NoArgs, doc="Fraction of samples whose predicted class (argmax, or "
                "threshold for one unit) is right.", **CLASSES)
METRICS.declare("top_k", TopKArgs, main="k", column="top{k}",
                doc="Fraction of samples whose class is among the k highest scores.", **CLASSES)
METRICS.declare("precision", NoArgs, doc="Precision per class, averaged over the classes "
                "present (macro).", **CLASSES)
METRICS.declare("recall", NoArgs, doc="Recall per class, averaged over the classes present "
                "(macro).", **CLASSES)
METRICS.declare("f1", NoArgs, doc="F1 (harmonic mean of precision and recall) per class, "
                "macro-averaged.", **CLASSES)
METRICS.declare("mse", NoArgs, needs="values", higher_is_better=False,
                doc="Mean squared error.")
METRICS.declare("mae", NoArgs, needs="values", higher_is_better=False,
                doc="Mean absolute error.")
METRICS.declare("r2", NoArgs, needs="values", higher_is_better=True,
                doc="Coefficient of determination, 1 - SS_res / SS_tot (over all target "
                    "values).")


def display_name(choice) -> str:
    """The metric's column name: `accuracy`, `top5`, `f1`."""
    return choice.entry.meta.get("column", choice.name).format(**dict(choice.args))


def metric_of(column: str):
    """The registered metric whose column `column` is (`val_top5` -> top_k), or None."""
    base = column.split("_", 1)[1] if column.startswith(("train_", "val_", "test_")) else column
    for entry in METRICS.entries.values():
        if re.fullmatch(_column_pattern(entry.meta.get("column", entry.name)), base):
            return entry
    return None


def _column_pattern(template: str) -> str:
    parts = string.Formatter().parse(template)
    return "".join(re.escape(text) + (r"\d+(?:\.\d+)?" if name is not None else "")
                   for text, name, _, _ in parts)


def minimize(name: str) -> bool:
    """Whether a logged quantity (`val_loss`, `train_accuracy`, `mae`) improves downwards."""
    if name.split("_")[-1] == "loss":
        return True
    entry = metric_of(name)
    return bool(entry and not entry.meta["higher_is_better"])


def is_fraction(name: str) -> bool:
    """Whether a logged quantity is a fraction, printed as a percentage."""
    entry = metric_of(name)
    return bool(entry and entry.meta.get("fraction"))
