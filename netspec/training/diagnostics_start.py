"""Diagnostics before the first step, from the data and one forward pass of the untrained
network (the seeds' FAQ: "is the input normalised?", "is the initialisation sane?").

    inputs not normalised   the training inputs as the network sees them have |mean| > 2 or a
                            std outside [0.05, 5] (pixels in 0..255 give mean ~100, std ~80)
    bad initial loss        the loss on a batch is above twice the loss of a uniform guess
                            (ln K for cross-entropy over K classes) and 1 nat above it
    activations vanish /    the output std of the last weighted layer (conv, linear) divided
    explode                 by the first's, on one batch: below 1e-2 or above 1e2

Each is a pure function of numbers (tested on tables) plus one probe that measures them.
"""

from __future__ import annotations

import math

from netspec.training.diagnostics import Diagnosis

MEAN_FAR = 2.0               # |mean| beyond this: the inputs are not centred
STD_RANGE = (0.05, 5.0)      # std outside: the inputs are not scaled
LOSS_FACTOR, LOSS_NATS = 2.0, 1.0
DEPTH_RATIO = 1e2            # last/first activation std beyond this (or below its inverse)


def unnormalised(mean: float, std: float, normalized: bool) -> Diagnosis | None:
    """Inputs far from mean 0 / std 1 as the network sees them (after the data pipeline)."""
    if normalized or (abs(mean) <= MEAN_FAR and STD_RANGE[0] <= std <= STD_RANGE[1]):
        return None
    return Diagnosis("unnormalised", f"the inputs are not normalised: over the training split "
                     f"they have mean {mean:.3g} and std {std:.3g} (normalised inputs have mean "
                     "0 and std 1); large or off-centre inputs saturate activations and make "
                     "the loss surface badly scaled, so training is slow or diverges",
                     "set `normalize: true` under `data:` (it standardises each channel with "
                     "the training split's statistics)")


def bad_initial_loss(initial: float, uniform: float, classes: int | None,
                     unnormalised_inputs: bool = False) -> Diagnosis | None:
    """The untrained network's loss far above a uniform guess's: its outputs are huge (from
    the initialisation, or from inputs far larger than 1)."""
    if not (math.isfinite(initial) and math.isfinite(uniform)):
        return None
    if initial <= LOSS_FACTOR * uniform or initial - uniform <= LOSS_NATS:
        return None
    guess = f"ln({classes}) = {uniform:.3g}" if classes else f"{uniform:.3g}"
    return Diagnosis("bad_init", f"the initial loss is {initial:.3g}, far above {guess}, what "
                     "an untrained network that guesses uniformly scores: the initialisation "
                     "makes the outputs large and confidently wrong" + (
                         ", here because the inputs are not normalised" if unnormalised_inputs
                         else ""),
                     "set `normalize: true` under `data:` first" if unnormalised_inputs else
                     "use `init: auto` (He for ReLU layers, Xavier for tanh/sigmoid), or a "
                     "batchnorm after each conv; a smaller std for `init: normal`")


def activation_depth(stds: list[tuple[str, float]]) -> Diagnosis | None:
    """Activations that vanish or explode through the weighted layers: `stds` is each weighted
    layer's output std on one batch, in execution order."""
    finite = [(n, s) for n, s in stds if math.isfinite(s)]
    if len(finite) < 3 or finite[0][1] <= 0:
        return None
    (first, s0), (last, s1) = finite[0], finite[-1]
    ratio = s1 / s0
    if 1 / DEPTH_RATIO <= ratio <= DEPTH_RATIO:
        return None
    what = "vanish" if ratio < 1 else "explode"
    return Diagnosis("depth_activations", f"activations {what} through depth: their std goes "
                     f"from {s0:.3g} at '{first}' to {s1:.3g} at '{last}' ({ratio:.2g}x over "
                     f"{len(finite)} weighted layers) before training, so the gradients "
                     f"{what} too and the early layers {'barely learn' if ratio < 1 else 'blow up'}",
                     "use `init: auto` (He/Xavier keep the std steady through depth), add "
                     "batchnorm after each conv, or use residual blocks")


def probe_start(model, x, y, loss_fn, output_index: int):
    """One batch through the untrained `model` (no grad): its loss, the loss of a uniform
    guess of the same output shape, and each weighted layer's output std in execution order.
    Eval mode, except that batch norms normalise with the batch's statistics, as the first
    training step does (a fresh one's running statistics, 0 and 1, would pass activations
    through unscaled and make a healthy BN network's std look vanishing); their buffers are
    restored after. The uniform guess depends only on what the loss expects: logits 0,
    probabilities 1/K (one unit: 0.5), log-probabilities ln(1/K)."""
    import torch
    from torch import nn

    weighted = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                nn.ConvTranspose2d, nn.ConvTranspose3d)
    stds: list[tuple[str, float]] = []
    hooks = [m.register_forward_hook(
        lambda mod, ins, out, name=name: stds.append((name, float(out.float().std()))))
        for name, m in model.named_modules() if isinstance(m, weighted)]
    was_training = model.training
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)
             and len(x) > 1]                 # one sample has no batch statistics
    buffers = [{k: v.clone() for k, v in m.state_dict().items()} for m in norms]
    try:
        with torch.no_grad():
            model.eval()
            for m in norms:
                m.train()
            out = model(x)
            out = out[output_index] if isinstance(out, (tuple, list)) else out
            initial = float(loss_fn(out.float(), y))
    finally:
        for h in hooks:
            h.remove()
        for m, saved in zip(norms, buffers):
            m.load_state_dict(saved)
        model.train(was_training)
    return initial, out, stds


def uniform_loss(loss_fn, out, y, expects: str) -> float:
    """The loss of a guess that gives every class the same score, shaped like `out`."""
    import torch

    k = out.shape[-1]
    if expects == "probabilities":
        guess = torch.full_like(out, 0.5 if k == 1 else 1 / k)
    elif expects == "log_probabilities":
        guess = torch.full_like(out, -math.log(k))
    else:
        guess = torch.zeros_like(out)
    with torch.no_grad():
        return float(loss_fn(guess.float(), y))
