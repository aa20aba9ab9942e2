"""Losses, one registry. Each loss declares what the network's output must be (`expects`:
logits, probabilities, log_probabilities or values) and how it reads the targets (`target`):

    class_index   class indices [B] against an output [B, K]
    one_hot       class indices read as one-hot floats [B, K]; one output unit [B, 1] serves
                  two classes
    values        values [B, d] of the output's shape

A loss that wants probabilities or log-probabilities also names the layer that makes them
(`ends_with`) and its counterpart on logits (`on_logits`): the fixes `netspec check` offers
when the network ends without that layer.

The kind of data a loss trains on (classes or values), the task it selects by default, the
decision threshold of one output unit: all follow from those two declarations. `build_loss`
returns `fn(output, target) -> scalar`. A new loss is one entry here:

    @LOSSES.add("log_cosh", expects="values", target="values")
    def log_cosh(a): ...

Mixed targets (mixup, cutmix, mosaic) are handled by the loop for every loss alike:
`sum of w_i * loss(out, y_i)` over the parts the targets are mixed from.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from netspec.kinds.argtypes import Float, NonNegativeFloat, PositiveFloat
from netspec.training.registry import Args, NoArgs, Registry

if TYPE_CHECKING:
    import torch

# Importing this module does not import torch (each loss imports it when built), so `netspec
# check` reads what every loss expects and fits it to the network's output without torch.
LOSSES = Registry("loss", requires=("expects", "target"))

Unit = Annotated[Float, Field(ge=0, lt=1)]


class CrossEntropyArgs(Args):
    label_smoothing: Unit = 0.0


class FocalArgs(Args):
    gamma: NonNegativeFloat = 2.0


class DiceArgs(Args):
    smooth: NonNegativeFloat = 1.0


class HuberArgs(Args):
    delta: PositiveFloat = 1.0


class SmoothL1Args(Args):
    beta: PositiveFloat = 1.0


class HingeArgs(Args):
    margin: PositiveFloat = 1.0
    p: Literal[1, 2] = 1                 # 2: the squared hinge


def _classes(fn):
    """Class-index targets as float one-hot [B, K] (or [B, 1] for one output unit)."""
    import torch.nn.functional as F

    def wrapped(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if out.dim() >= 1 and out.shape[-1] == 1:
            target = y.to(out.dtype).view(out.shape)
        else:
            target = F.one_hot(y, out.shape[-1]).to(out.dtype)
        return fn(out, target)
    return wrapped


@LOSSES.add("cross_entropy", CrossEntropyArgs, main="label_smoothing", expects="logits",
            target="class_index")
def cross_entropy(a: CrossEntropyArgs):
    """Softmax cross-entropy over logits [B, K]; `label_smoothing` as in torch."""
    import torch.nn.functional as F

    return lambda out, y: F.cross_entropy(out, y, label_smoothing=a.label_smoothing)


@LOSSES.add("nll", NoArgs, expects="log_probabilities", target="class_index",
            on_logits="cross_entropy", ends_with="log_softmax")
def nll(a):
    """Negative log-likelihood of log-probabilities (a network ending in log_softmax)."""
    import torch.nn.functional as F

    return F.nll_loss


@LOSSES.add("bce", NoArgs, expects="probabilities", target="one_hot", on_logits="bce_logits",
            ends_with="sigmoid")
def bce(a):
    """Binary cross-entropy of probabilities (sigmoid outputs): one unit for two classes, or one
    per class against one-hot targets."""
    import torch.nn.functional as F

    return _classes(F.binary_cross_entropy)


@LOSSES.add("bce_logits", NoArgs, expects="logits", target="one_hot")
def bce_logits(a):
    """Binary cross-entropy on logits (the sigmoid inside, numerically stable)."""
    import torch.nn.functional as F

    return _classes(F.binary_cross_entropy_with_logits)


@LOSSES.add("kl", CrossEntropyArgs, expects="log_probabilities", target="class_index",
            on_logits="cross_entropy", ends_with="log_softmax")
def kl(a: CrossEntropyArgs):
    """KL divergence of the (smoothed) one-hot target from log-probabilities, batch mean."""
    import torch.nn.functional as F

    def loss(out, y):
        k = out.shape[-1]
        target = F.one_hot(y, k).to(out.dtype) * (1 - a.label_smoothing) + a.label_smoothing / k
        return F.kl_div(out, target, reduction="batchmean")
    return loss


@LOSSES.add("focal", FocalArgs, main="gamma", expects="logits", target="class_index")
def focal(a: FocalArgs):
    """Focal loss (Lin et al., 2017): -(1 - p_t)^gamma log p_t, softmax over logits."""
    import torch.nn.functional as F

    def loss(out, y):
        logp = F.log_softmax(out, dim=-1).gather(-1, y[:, None]).squeeze(-1)
        return (-(1 - logp.exp()).pow(a.gamma) * logp).mean()
    return loss


@LOSSES.add("dice", DiceArgs, main="smooth", expects="logits", target="class_index")
def dice(a: DiceArgs):
    """Soft Dice loss over softmax probabilities: 1 - mean_k (2|P∩Y| + s) / (|P| + |Y| + s)."""
    import torch.nn.functional as F

    def loss(out, y):
        p = F.softmax(out, dim=-1)
        t = F.one_hot(y, out.shape[-1]).to(p.dtype)
        inter = (p * t).sum(0)
        return 1 - ((2 * inter + a.smooth) / (p.sum(0) + t.sum(0) + a.smooth)).mean()
    return loss


def _values(fn):
    def wrapped(out, y):
        return fn(out, y.view(out.shape).to(out.dtype))
    return wrapped


@LOSSES.add("mse", NoArgs, expects="values", target="values")
def mse(a):
    """Mean squared error."""
    import torch.nn.functional as F

    return _values(F.mse_loss)


@LOSSES.add("mae", NoArgs, expects="values", target="values")
def mae(a):
    """Mean absolute error (L1)."""
    import torch.nn.functional as F

    return _values(F.l1_loss)


@LOSSES.add("huber", HuberArgs, main="delta", expects="values", target="values")
def huber(a: HuberArgs):
    """Huber loss: quadratic within `delta`, linear beyond."""
    import torch.nn.functional as F

    return _values(lambda out, y: F.huber_loss(out, y, delta=a.delta))


@LOSSES.add("smooth_l1", SmoothL1Args, main="beta", expects="values", target="values")
def smooth_l1(a: SmoothL1Args):
    """Smooth L1 (Fast R-CNN): 0.5 d² / beta where |d| < beta, else |d| - 0.5 beta; it is
    Huber divided by beta (torch's `smooth_l1_loss`)."""
    import torch.nn.functional as F

    return _values(lambda out, y: F.smooth_l1_loss(out, y, beta=a.beta))


@LOSSES.add("hinge", HingeArgs, main="margin", expects="logits", target="class_index")
def hinge(a: HingeArgs):
    """Multi-class margin (hinge) loss over class scores [B, K], torch's `nn.MultiMarginLoss`
    (Weston & Watkins): mean over samples of sum_{j != y} max(0, margin - s_y + s_j)^p / K."""
    import torch.nn.functional as F

    return lambda out, y: F.multi_margin_loss(out, y, p=a.p, margin=a.margin)


# what each target encoding trains on: class labels or values
TARGET_DATA = {"class_index": "classification", "one_hot": "classification",
               "values": "regression"}
# one output unit: class 1 above this (a logit's 0, a probability's 0.5)
THRESHOLD = {"probabilities": 0.5}


def build_loss(choice) -> Any:
    return choice.entry.fn(choice.args)


def expects(choice) -> str:
    """What the loss wants the network to output (data.json's `output`)."""
    return choice.entry.meta["expects"]


def trains_on(choice) -> str:
    """The kind of data the loss trains on: "classification" or "regression"."""
    return TARGET_DATA[choice.entry.meta["target"]]


def single_unit_binary(choice) -> bool:
    """Whether one output unit may stand for two classes (one-hot targets)."""
    return choice.entry.meta["target"] == "one_hot"


def threshold(choice) -> float:
    """Where one output unit's value splits class 0 from class 1."""
    return THRESHOLD.get(expects(choice), 0.0)
