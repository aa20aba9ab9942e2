"""Optimizers and learning-rate schedules, one registry each.

A schedule is a pure function of progress: the learning rate of step `s` of epoch `e` is
`lr * warmup(t) * factor(t)` with `t = e + s / steps_per_epoch` (epochs, fractional), so a
resumed run recomputes it from the step count alone. `plateau` is the one schedule with state
(best value, epochs without improvement, current factor): it is a small JSON dict saved with
the checkpoint.

    opt = build_optimizer(cfg.optimizer, model.parameters())
    schedule = Schedule(cfg.schedule, epochs=cfg.epochs)
    schedule.apply(opt, base_lr, t)           # before each step
    schedule.end_epoch(val_loss)              # plateau only
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BeforeValidator, model_validator

from netspec.kinds.argtypes import (Bool, Float, Int, NonNegativeInt, PositiveFloat,
                                     PositiveInt)
from netspec.training.registry import Args, Registry

if TYPE_CHECKING:
    import torch

# Importing this module does not import torch (the optimizers import it when built), so the
# diagnostics can read each optimizer's `typical_lr`: the learning rates beyond which
# divergence is the likely cause of a NaN.
OPTIMIZERS = Registry("optimizer", requires=("typical_lr",))
SCHEDULES = Registry("schedule")


def _positive(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
        raise ValueError(f"must not be negative, got {v}")
    return v


NonNegative = Annotated[Float, BeforeValidator(_positive)]


def _below_one(v: Any) -> Any:
    """A decay rate: at least 0 and below 1 (Adam's betas; 1 would never forget)."""
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v < 1:
        raise ValueError(f"must be at least 0 and below 1, got {v}")
    return v


def _open_unit(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 < v < 1:
        raise ValueError(f"must be between 0 and 1 (both excluded), got {v}")
    return v


Beta = Annotated[Float, BeforeValidator(_below_one)]
Fraction = Annotated[Float, BeforeValidator(_open_unit)]


class OptimizerArgs(Args):
    lr: NonNegative = 1e-3
    weight_decay: NonNegative = 0.0


class SGDArgs(OptimizerArgs):
    lr: NonNegative = 0.01
    momentum: NonNegative = 0.0
    nesterov: Bool = False
    dampening: NonNegative = 0.0

    @model_validator(mode="after")
    def _nesterov(self) -> "SGDArgs":
        if self.nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("`nesterov` needs a `momentum` above 0 and no dampening")
        return self


class AdamArgs(OptimizerArgs):
    betas: tuple[Beta, Beta] = (0.9, 0.999)
    eps: NonNegative = 1e-8
    amsgrad: Bool = False


class AdamWArgs(AdamArgs):
    weight_decay: NonNegative = 0.01


class RMSpropArgs(OptimizerArgs):
    lr: NonNegative = 0.01
    alpha: NonNegative = 0.99
    eps: NonNegative = 1e-8
    momentum: NonNegative = 0.0
    centered: Bool = False


@OPTIMIZERS.add("sgd", SGDArgs, main="lr", typical_lr=(1e-4, 1.0), sparse_grads=True)
def sgd(params, a: SGDArgs) -> torch.optim.Optimizer:
    """Stochastic gradient descent, optionally with (Nesterov) momentum."""
    import torch

    return torch.optim.SGD(params, lr=a.lr, momentum=a.momentum, nesterov=a.nesterov,
                           dampening=a.dampening, weight_decay=a.weight_decay)


@OPTIMIZERS.add("adam", AdamArgs, main="lr", typical_lr=(1e-5, 1e-2))
def adam(params, a: AdamArgs) -> torch.optim.Optimizer:
    """Adam (Kingma & Ba, 2015); weight_decay is L2 added to the gradient."""
    import torch

    return torch.optim.Adam(params, lr=a.lr, betas=a.betas, eps=a.eps,
                            weight_decay=a.weight_decay, amsgrad=a.amsgrad)


@OPTIMIZERS.add("adamw", AdamWArgs, main="lr", typical_lr=(1e-5, 1e-2))
def adamw(params, a: AdamWArgs) -> torch.optim.Optimizer:
    """AdamW (Loshchilov & Hutter, 2019): decoupled weight decay."""
    import torch

    return torch.optim.AdamW(params, lr=a.lr, betas=a.betas, eps=a.eps,
                             weight_decay=a.weight_decay, amsgrad=a.amsgrad)


@OPTIMIZERS.add("rmsprop", RMSpropArgs, main="lr", typical_lr=(1e-5, 1e-2))
def rmsprop(params, a: RMSpropArgs) -> torch.optim.Optimizer:
    """RMSprop (Hinton's lecture 6e)."""
    import torch

    return torch.optim.RMSprop(params, lr=a.lr, alpha=a.alpha, eps=a.eps,
                               momentum=a.momentum, centered=a.centered,
                               weight_decay=a.weight_decay)


class AdagradArgs(OptimizerArgs):
    lr: NonNegative = 0.01
    lr_decay: NonNegative = 0.0
    initial_accumulator_value: NonNegative = 0.0
    eps: NonNegative = 1e-10


class AdadeltaArgs(OptimizerArgs):
    lr: NonNegative = 1.0
    rho: Beta = 0.9
    eps: NonNegative = 1e-6


class RAdamArgs(OptimizerArgs):
    # Adam's arguments but amsgrad, which torch's NAdam and RAdam lack
    betas: tuple[Beta, Beta] = (0.9, 0.999)
    eps: NonNegative = 1e-8


class NAdamArgs(RAdamArgs):
    lr: NonNegative = 2e-3
    momentum_decay: NonNegative = 4e-3


@OPTIMIZERS.add("adagrad", AdagradArgs, main="lr", typical_lr=(1e-4, 1.0),
                sparse_grads=True)
def adagrad(params, a: AdagradArgs) -> torch.optim.Optimizer:
    """Adagrad (Duchi et al., 2011): per-parameter steps lr / sqrt(sum of squared gradients)."""
    import torch

    return torch.optim.Adagrad(params, lr=a.lr, lr_decay=a.lr_decay, eps=a.eps,
                               initial_accumulator_value=a.initial_accumulator_value,
                               weight_decay=a.weight_decay)


@OPTIMIZERS.add("adadelta", AdadeltaArgs, main="lr", typical_lr=(1e-2, 10.0))
def adadelta(params, a: AdadeltaArgs) -> torch.optim.Optimizer:
    """Adadelta (Zeiler, 2012): steps scaled by RMS(updates) / RMS(gradients); lr 1 is the
    paper's method, the factor torch applies on top."""
    import torch

    return torch.optim.Adadelta(params, lr=a.lr, rho=a.rho, eps=a.eps,
                                weight_decay=a.weight_decay)


@OPTIMIZERS.add("nadam", NAdamArgs, main="lr", typical_lr=(1e-5, 1e-2))
def nadam(params, a: NAdamArgs) -> torch.optim.Optimizer:
    """NAdam (Dozat, 2016): Adam with Nesterov momentum."""
    import torch

    return torch.optim.NAdam(params, lr=a.lr, betas=a.betas, eps=a.eps,
                             weight_decay=a.weight_decay, momentum_decay=a.momentum_decay)


@OPTIMIZERS.add("radam", RAdamArgs, main="lr", typical_lr=(1e-5, 1e-2))
def radam(params, a: RAdamArgs) -> torch.optim.Optimizer:
    """RAdam (Liu et al., 2020): Adam with the variance of its adaptive rate rectified, so it
    needs no warm-up."""
    import torch

    return torch.optim.RAdam(params, lr=a.lr, betas=a.betas, eps=a.eps,
                             weight_decay=a.weight_decay)


def build_optimizer(choice, params) -> torch.optim.Optimizer:
    return choice.entry.fn(params, choice.args)


def takes_sparse_gradients(choice) -> bool:
    """Whether the optimizer `choice` steps on sparse (row) gradients, as `embedding: {sparse:
    true}` makes: torch's SGD and Adagrad do (`sparse_grads` in their entries), without
    weight decay, which would touch every row."""
    return bool(choice.entry.meta.get("sparse_grads")) and not choice.args.weight_decay


# ---- schedules ----------------------------------------------------------------------------

class ScheduleArgs(Args):
    warmup: NonNegative = 0.0       # epochs of linear warm-up from lr/100 before the schedule


class StepArgs(ScheduleArgs):
    step: PositiveInt = 10
    gamma: NonNegative = 0.1


class MultiStepArgs(ScheduleArgs):
    milestones: tuple[Int, ...]
    gamma: NonNegative = 0.1


class ExponentialArgs(ScheduleArgs):
    gamma: NonNegative = 0.95


class CosineArgs(ScheduleArgs):
    min_factor: NonNegative = 0.0   # the final lr as a fraction of the initial one
    epochs: PositiveFloat | None = None   # the cosine's length; default: all


class OneCycleArgs(ScheduleArgs):
    pct_start: Fraction = 0.3
    div_factor: PositiveFloat = 25.0
    final_div_factor: PositiveFloat = 1e4


class PolyArgs(ScheduleArgs):
    power: PositiveFloat = 0.9


class PlateauArgs(ScheduleArgs):
    monitor: str = "val_loss"
    factor: Fraction = 0.1
    patience: NonNegativeInt = 3
    min_factor: NonNegative = 0.0
    threshold: NonNegative = 1e-4


@SCHEDULES.add("constant", ScheduleArgs)
def constant(a, t: float, epochs: int) -> float:
    """The base learning rate throughout (with `warmup`, after it)."""
    return 1.0


@SCHEDULES.add("warmup", ScheduleArgs, main="warmup")
def warmup_only(a, t: float, epochs: int) -> float:
    """`warmup: N`: linear warm-up over N epochs, then constant."""
    return 1.0


@SCHEDULES.add("step", StepArgs, main="step")
def step(a: StepArgs, t: float, epochs: int) -> float:
    """gamma ** floor(epoch / step): decays every `step` epochs."""
    return a.gamma ** (int(t) // a.step)


@SCHEDULES.add("multistep", MultiStepArgs, main="milestones")
def multistep(a: MultiStepArgs, t: float, epochs: int) -> float:
    """gamma ** (milestones passed): decays at each listed epoch."""
    return a.gamma ** sum(int(t) >= m for m in a.milestones)


@SCHEDULES.add("exponential", ExponentialArgs, main="gamma")
def exponential(a: ExponentialArgs, t: float, epochs: int) -> float:
    """gamma ** epoch."""
    return a.gamma ** int(t)


@SCHEDULES.add("cosine", CosineArgs)
def cosine(a: CosineArgs, t: float, epochs: int) -> float:
    """Cosine annealing (SGDR without restarts), per step: m + (1 - m)(1 + cos(pi t / T)) / 2."""
    length = max((a.epochs or epochs) - a.warmup, 1e-9)
    p = min(max(t - a.warmup, 0.0) / length, 1.0)
    return a.min_factor + (1 - a.min_factor) * 0.5 * (1 + math.cos(math.pi * p))


@SCHEDULES.add("onecycle", OneCycleArgs)
def onecycle(a: OneCycleArgs, t: float, epochs: int) -> float:
    """1cycle (Smith, 2018), cosine phases: lr/div_factor up to lr over pct_start of training,
    then down to lr/(div_factor * final_div_factor). `lr` is the peak."""
    p = min(t / max(epochs, 1e-9), 1.0)
    start, end = 1 / a.div_factor, 1 / (a.div_factor * a.final_div_factor)
    if p < a.pct_start:
        return _cos_between(start, 1.0, p / a.pct_start)
    return _cos_between(1.0, end, (p - a.pct_start) / (1 - a.pct_start))


@SCHEDULES.add("poly", PolyArgs, main="power")
def poly(a: PolyArgs, t: float, epochs: int) -> float:
    """Polynomial decay, per step: (1 - t / T)^power, T the epochs (DeepLab's `poly` at
    power 0.9); power 1 is a linear decay to 0."""
    return max(1.0 - t / max(epochs, 1e-9), 0.0) ** a.power


@SCHEDULES.add("plateau", PlateauArgs, main="patience", stateful=True)
def plateau(a: PlateauArgs, t: float, epochs: int) -> float:
    """Reduce on plateau: multiply by `factor` after `patience` epochs without improvement of
    `monitor` (the factor lives in the schedule's state)."""
    return 1.0


def _cos_between(a: float, b: float, p: float) -> float:
    return b + (a - b) * 0.5 * (1 + math.cos(math.pi * p))


class Schedule:
    """The learning-rate multiplier over training; `state` is JSON (plateau's memory)."""

    def __init__(self, choice, epochs: int):
        self.choice, self.epochs = choice, epochs
        self.state: dict = {"factor": 1.0, "best": None, "bad": 0}

    def factor(self, t: float) -> float:
        if self.choice is None:
            return 1.0
        a = self.choice.args
        f = self.choice.entry.fn(a, t, self.epochs) * self.state["factor"]
        if a.warmup > 0 and t < a.warmup:
            f *= 0.01 + 0.99 * t / a.warmup
        return f

    def apply(self, optimizer: torch.optim.Optimizer, base_lrs: list[float], t: float) -> float:
        f = self.factor(t)
        for group, base in zip(optimizer.param_groups, base_lrs):
            group["lr"] = base * f
        return f

    def end_epoch(self, values: dict[str, float]) -> None:
        """Plateau bookkeeping after an epoch, from the epoch's logged values."""
        if self.choice is None or not self.choice.entry.meta.get("stateful"):
            return
        a = self.choice.args
        value = values.get(a.monitor)
        if value is None or not math.isfinite(value):
            return
        from netspec.training.metrics import minimize

        sign = 1 if minimize(a.monitor) else -1
        best = self.state["best"]
        if best is None or sign * (value - best) < -a.threshold * abs(best):
            self.state.update(best=value, bad=0)
            return
        self.state["bad"] += 1
        if self.state["bad"] > a.patience:
            self.state["factor"] = max(self.state["factor"] * a.factor, a.min_factor)
            self.state["bad"] = 0
