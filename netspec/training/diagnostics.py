"""Diagnostics: what looks wrong in a run, said in plain words with the likely cause and a fix
(the seeds' FAQ). Pure functions over the epoch history, plus two probes of the model.

    before training:  a softmax output fed to a loss that expects logits
    during:           loss NaN/inf (training stops; the last good checkpoint stays)
    after an epoch:   accuracy stuck at chance; validation far below training;
                      validation loss rising while accuracy rises (over-confidence)
    at the end:       dead ReLUs; an output that does not depend on the input
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from netspec.kinds import output_semantics
from netspec.training.optim import OPTIMIZERS


@dataclass(frozen=True)
class Diagnosis:
    kind: str            # nan | chance | overfit | overconfident | dead_relu | constant | softmax
    message: str
    hint: str = ""

    def render(self) -> str:
        return f"warning: {self.message}" + (f"\n  hint: {self.hint}" if self.hint else "")

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "hint": self.hint}


def output_mismatch(loss: str, expects: str, last_kind: str | None) -> Diagnosis | None:
    """A network ending in softmax/log_softmax/sigmoid fed to a loss that applies it again."""
    produced = produced_by(last_kind)
    if produced is None or produced == expects or expects == "values":
        return None     # a regression loss takes whatever the network outputs
    fix = {"logits": f"drop the final {last_kind}: `{loss}` expects logits and applies it itself",
           "log_probabilities": "end with log_softmax instead",
           "probabilities": "end with softmax (or sigmoid) instead"}[expects]
    return Diagnosis("softmax", f"the network ends with {last_kind} (it outputs {produced}), but "
                     f"the loss `{loss}` expects {expects.replace('_', '-')}", fix)


def produced_by(last_kind: str | None) -> str | None:
    """What a network's output is when layer kind `last_kind` ends it (probabilities after a
    softmax or sigmoid, log-probabilities after log_softmax), or None when the loss decides."""
    produced = output_semantics(last_kind)
    return None if produced == "values" else produced


def non_finite(loss_value: float, epoch: int, step: int, optimizer: str, lr: float,
               clipped: bool, normalized: bool) -> Diagnosis:
    """Why the loss became NaN or infinite, most likely cause first."""
    what = "NaN" if math.isnan(loss_value) else "infinite"
    where = f"the loss became {what} in epoch {epoch + 1} (by step {step + 1}); training stopped"
    too_high = lr_far_above(optimizer, lr)
    if too_high:
        return Diagnosis("nan", f"{where}. The {too_high.removeprefix('the ')}: the updates "
                         "overshoot and the weights blow up",
                         f"lower it, e.g. `--lr {_tenth(too_high)}`")
    if not normalized:
        return Diagnosis("nan", f"{where}. The inputs are not normalised",
                         "set `normalize: true` under `data:`")
    if not clipped:
        # data and arguments are finite (refused where they enter), so the step size is what
        # blew the weights up: name it, not the gradients it produced
        return Diagnosis("nan", f"{where}. The learning rate {lr:g} ({optimizer}) is too high "
                         "for this network: the updates overshoot until the weights blow up",
                         f"lower it, e.g. `--lr {lr / 10:g}`, or add `clip_grad_norm: 1.0`")
    return Diagnosis("nan", f"{where}. Check for log(0) or division by zero in the loss, and "
                     "try a lower learning rate", "")


def chance_level(num_classes: int, majority: float) -> float:
    """Accuracy of guessing: the larger of 1/classes and the most common class's share."""
    return max(1 / num_classes, majority)


def lr_far_above(optimizer: str, lr: float) -> str | None:
    """'the learning rate 10 is far above the usual range for adam (...)', or None."""
    entry = OPTIMIZERS.entries.get(optimizer)
    low, high = entry.meta["typical_lr"] if entry else (1e-5, 1.0)
    if lr <= high:
        return None
    return (f"the learning rate {lr:g} is far above the usual range for {optimizer} "
            f"({low:g} to {high:g})")


def stuck_at_chance(history: list[dict], chance: float, num_classes: int,
                    constant_output: bool = False, dead: list[str] = (), lr_note: str | None = None,
                    final: bool = False) -> Diagnosis | None:
    """Accuracy no better than guessing (within 5 points) after three epochs, or at the end;
    the message gives what the probes found, the likeliest cause first."""
    if len(history) < (1 if final else 3):
        return None
    acc = history[-1].get("val_accuracy", history[-1].get("train_accuracy"))
    if acc is None or acc > chance + 0.05:
        return None
    if not final and still_falling(history):
        return None     # a slow start (BCE from a flat init): the loss moves, so it learns
    facts = []
    if lr_note:
        facts.append(lr_note[0].upper() + lr_note[1:])
    peak = max((r.get("train_loss", 0.0) for r in history), default=0.0)
    if peak > 1e4:
        epoch = next(r["epoch"] for r in history if r.get("train_loss") == peak)
        facts.append(f"The training loss exploded ({peak:.3g} in epoch {epoch})")
    if dead:
        layers = ", ".join(repr(d) for d in dead)
        facts.append(f"Every unit of layer{'s' if len(dead) > 1 else ''} {layers} outputs zero "
                     "(dead ReLUs)")
    if constant_output:
        facts.append("The output is the same for every input" + (
            "" if facts else ": some layer discards the input (one that outputs a constant, "
            "such as a softmax over a single channel)"))
    hint = (f"lower the learning rate, e.g. `--lr {_tenth(lr_note)}`" if lr_note else
            "likely causes: a learning rate too large (or too small), an initialisation that "
            "saturates the activations, or labels that do not match the inputs; try `--lr` 10x "
            "lower and check `netspec check`")
    return Diagnosis("chance", f"accuracy is stuck at chance: {acc:.1%} with {num_classes} "
                     f"classes (guessing gives {chance:.1%}); the network is not learning."
                     + "".join(f" {f}." for f in facts), hint)


def _tenth(lr_note: str) -> str:
    high = float(lr_note.rsplit(" to ", 1)[1].rstrip(")"))
    return f"{high / 10:g}"


def overfitting(history: list[dict]) -> Diagnosis | None:
    """Validation accuracy far below training accuracy."""
    row = history[-1]
    train, val = row.get("train_accuracy"), row.get("val_accuracy")
    if train is None or val is None or train - val < 0.2 or train < 0.5:
        return None
    return Diagnosis("overfit", f"validation accuracy ({val:.1%}) is far below training "
                     f"({train:.1%}): the network memorises the training data, or validation "
                     "data is not prepared like training data",
                     "add weight decay, dropout or augmentation, or train for fewer epochs; "
                     "keep `normalize` on so both splits use the training statistics")


def over_confident(history: list[dict], window: int = 3) -> Diagnosis | None:
    """Validation loss rising for `window` epochs while validation accuracy rises too."""
    if len(history) < window + 1:
        return None
    recent = history[-window - 1:]
    losses = [r.get("val_loss") for r in recent]
    accs = [r.get("val_accuracy") for r in recent]
    if None in losses or None in accs:
        return None
    rising = all(b > a for a, b in zip(losses, losses[1:]))
    if not rising or accs[-1] <= accs[0]:
        return None
    return Diagnosis("overconfident", f"validation loss rose for {window} epochs "
                     f"({losses[0]:.3g} -> {losses[-1]:.3g}) while validation accuracy rose "
                     f"({accs[0]:.1%} -> {accs[-1]:.1%}): the predictions grow over-confident "
                     "on the samples they get wrong",
                     "use label smoothing (`loss: {cross_entropy: 0.1}`), weight decay, or "
                     "early stopping on val_loss")


def dead_relus(fractions: dict[str, float], threshold: float = 0.5) -> list[Diagnosis]:
    """Layers where most units output zero for every input of a validation batch."""
    out = []
    for name, dead in fractions.items():
        if dead >= threshold:
            out.append(Diagnosis("dead_relu", f"layer '{name}': {dead:.0%} of its units output "
                                 "zero for every input (dead ReLUs); they no longer learn",
                                 "lower the learning rate, or use leaky_relu / gelu there"))
    return out


def probe(model, x, relu_type) -> tuple[dict[str, float], bool]:
    """Run `model` on the batch `x` and measure, for each ReLU module, the fraction of units
    (channels for feature maps) that are zero for every sample; and whether the output is the
    same for every sample."""
    import torch

    fractions: dict[str, float] = {}
    hooks = []

    def watch(name):
        def hook(module, inputs, output):
            # a unit: a channel of a feature map [B, C, ...], a feature of a vector [B, F]
            positive = output > 0
            if positive.dim() > 2:
                positive = positive.flatten(2).any(-1)
            fractions[name] = 1.0 - float(positive.any(0).double().mean())
        return hook

    for name, module in model.named_modules():
        if isinstance(module, relu_type):
            hooks.append(module.register_forward_hook(watch(name)))
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        for h in hooks:
            h.remove()
    if isinstance(out, (tuple, list)):
        out = out[0]
    constant = len(x) > 1 and bool((out.float().std(0) < 1e-6).all())
    return fractions, constant


FALLING = 0.01           # the training loss fell by more than this fraction each epoch


def still_falling(history: list[dict]) -> bool:
    """Whether the training loss fell by more than 1 % in each of the last two epochs (a
    loss that exploded and then went flat is not falling)."""
    losses = [r.get("train_loss") for r in history[-3:]]
    if len(losses) < 3 or None in losses or not all(map(math.isfinite, losses)):
        return False
    return all(b < a * (1 - FALLING) for a, b in zip(losses, losses[1:]))


def lr_too_high(history: list[dict], lr: float, window: int = 4) -> Diagnosis | None:
    """The training loss rising (each of the first epochs above the first) or oscillating
    (it changes direction twice, by more than 10 % each time) in the first `window` epochs."""
    losses = [r.get("train_loss") for r in history[:window]]
    if len(losses) < 3 or None in losses or not all(map(math.isfinite, losses)):
        return None
    steps = [b - a for a, b in zip(losses, losses[1:])]
    rising = all(d > 0 for d in steps)
    turns = sum(1 for a, b in zip(steps, steps[1:]) if a * b < 0
                and min(abs(a), abs(b)) > 0.1 * losses[0])
    if not rising and turns < 2:
        return None
    shape = "rose" if rising else "oscillated"
    path = " -> ".join(f"{v:.3g}" for v in losses)
    return Diagnosis("lr_high", f"the training loss {shape} over the first {len(losses)} epochs "
                     f"({path}): the learning rate {lr:g} is too high, each step overshoots "
                     "the minimum", f"lower it, e.g. `--lr {lr / 10:g}`")


def lr_too_low(history: list[dict], lr: float, uniform: float | None,
               epochs: int = 3) -> Diagnosis | None:
    """The training loss barely moving (less than 1 % in `epochs` epochs) while it is still
    near the untrained network's level (90 % of a uniform guess's loss or more)."""
    losses = [r.get("train_loss") for r in history]
    if len(losses) < epochs or None in losses or not all(map(math.isfinite, losses)):
        return None
    first, last = losses[0], losses[-1]
    if uniform is None or last < 0.9 * uniform or abs(first - last) > 0.01 * abs(first):
        return None
    return Diagnosis("lr_low", f"the training loss barely moved in {len(losses)} epochs "
                     f"({first:.4g} -> {last:.4g}, a uniform guess scores {uniform:.3g}): the "
                     f"learning rate {lr:g} is too low to make progress",
                     f"raise it, e.g. `--lr {lr * 10:g}`")


PLAIN_DEPTH = 20         # weighted layers in a chain without skips: past this, degradation


def deep_plain(depth: int, skips: int, final_loss: float | None,
               uniform: float | None) -> Diagnosis | None:
    """A plain network (no skip connections) more than PLAIN_DEPTH weighted layers deep whose
    training loss stays high (above half a uniform guess's): the degradation problem (He et
    al., 2016: a 56-layer plain net trains to a higher training error than a 20-layer one)."""
    if depth <= PLAIN_DEPTH or skips or final_loss is None or uniform is None:
        return None
    if not math.isfinite(final_loss) or final_loss < 0.5 * uniform:
        return None
    return Diagnosis("deep_plain", f"this is a plain network {depth} weighted layers deep with "
                     f"no skip connections, and its training loss stays high ({final_loss:.3g};"
                     f" a uniform guess scores {uniform:.3g}): past about {PLAIN_DEPTH} layers "
                     "a plain network trains worse than a shallower one, because the gradient "
                     "reaching the early layers fades (the degradation problem)",
                     "add residual connections (`residual` or `bottleneck` blocks: an `add` "
                     "of each block's input to its output, as ResNet does), or make it "
                     "shallower")


def split_mismatch(train: float | None, val: float | None,
                   test: float | None) -> Diagnosis | None:
    """Validation accuracy far (20 points) below both training and test accuracy: the
    validation split is not drawn like the others."""
    if None in (train, val, test) or train - val < 0.2 or test - val < 0.2:
        return None
    return Diagnosis("split", f"validation accuracy ({val:.1%}) is far below both training "
                     f"({train:.1%}) and test ({test:.1%}): the validation split does not look "
                     "like the other two, so it is not over-fitting but the split",
                     "check the split: validation data from another distribution (another "
                     "source, sorted data with `shuffle: false`), or training and test "
                     "samples that overlap (leakage)")


def recovered(d: Diagnosis, history: list[dict], chance: float | None) -> bool:
    """Whether the run has since recovered from what `d` warned about: accuracy now above
    chance (10 points) after "stuck at chance"; the loss now below its first epoch's after
    "loss rising". A recovered warning leaves the summary."""
    row = history[-1] if history else {}
    if d.kind == "chance" and chance is not None:
        acc = row.get("val_accuracy", row.get("train_accuracy"))
        return acc is not None and acc > chance + 0.1
    if d.kind in ("lr_high", "lr_low") and len(history) > 1:
        first, last = history[0].get("train_loss"), row.get("train_loss")
        return first is not None and last is not None and last < 0.8 * first
    return False


def recovery_note(d: Diagnosis, history: list[dict]) -> str:
    """The progress line for a withdrawn warning."""
    row = history[-1]
    now = ", ".join(f"{k} {v:.1%}" if k.endswith("accuracy") else f"{k} {v:.4g}"
                    for k, v in row.items() if k in ("train_loss", "val_accuracy"))
    return f"recovered by epoch {row['epoch']} ({now}): withdrawn: {d.message.split(':')[0]}"


def plain_depth(graph) -> tuple[int, int]:
    """(weighted layers, skip connections) of a graph: a skip is any node fed by two or more
    nodes (an `add` of a block's input, a concat of branches), so a network without one is a
    plain chain and its weighted layers (conv, linear: init role "weighted") are its depth."""
    from netspec.kinds import kinds

    table = kinds()
    depth = sum(1 for n in graph if getattr(table.get(n.kind), "init_role", None) == "weighted")
    skips = sum(1 for n in graph if len(n.inputs) > 1)
    return depth, skips
