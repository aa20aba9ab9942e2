"""The `train:` section checked with the network before anything runs, without torch: what
`netspec check` says about it, and `netspec train` again before it trains.

Every key is validated where it is written (`epcohs` -> "did you mean `epochs`?"), then the
loss is fitted to what the network outputs. The kinds declare what a network ending in them
outputs (`output_semantics`: probabilities, log-probabilities, or plain values), the losses
what they expect (logits, probabilities, log-probabilities, values), so a mismatch is found
from the two declarations:

    loss expects          network outputs        verdict
    probabilities         values / log-probs     error: `bce` fails on values outside [0, 1]
    log-probabilities     values / probs         error: `nll` trains to a meaningless loss < 0
    logits                probs / log-probs      warning: it trains, slowly (softmax twice)
    class scores [K]      one unit [1]           error: a softmax over one logit is always 1
"""

from __future__ import annotations

from netspec.errors import SpecError
from netspec.kinds import output_semantics
from netspec.training.diagnostics import Diagnosis, output_mismatch

WORDS = {"probabilities": "probabilities in [0, 1]",
         "log_probabilities": "log-probabilities (values <= 0 whose exponentials sum to 1)",
         "values": "unbounded values (logits)"}


def check_train(spec, graph) -> list[str]:
    """Validate `spec.train` (a located SpecError on the first mistake) and fit its loss to
    `graph`'s output; returns the warnings as printed, located at `loss:` (the spec stays
    valid). Nothing without `train:`."""
    if spec.train is None:
        return []
    from netspec.training.config import resolve
    from netspec.training.prepare import pick_output

    cfg = resolve(spec, static=True)
    if cfg.loss is None or not graph.outputs:
        return []        # the task picks the loss from the data, which `check` does not load
    name, _ = pick_output(graph, cfg)
    found = fit_loss(cfg, graph.nodes[graph.outputs[name]])
    where = cfg.where("loss")
    return [f"{where}: {found.render()}" if where else found.render()] if found else []


def fit_loss(cfg, out_node) -> Diagnosis | None:
    """Raise a SpecError located at `loss:` when the loss cannot train on what `out_node` (the
    network's output) gives; a Diagnosis when it trains, but badly; else None."""
    loss, meta = cfg.loss.name, cfg.loss.entry.meta
    expects, target = meta["expects"], meta["target"]
    produced = output_semantics(out_node.kind)
    last = f"{out_node.kind} '{out_node.name}'"
    where = cfg.where("loss")
    shape = tuple(out_node.shape)
    if target == "class_index" and shape == (1,):
        raise SpecError(f"the loss `{loss}` scores classes over the output's last dim, but the "
                        f"network outputs one unit ([1], from {last}): with one class score "
                        "every sample gets probability 1 and nothing is learnt", where,
                        hint="for two classes use `loss: bce_logits` on one unit, or end with "
                        "`linear: 2`")
    if expects in ("probabilities", "log_probabilities") and produced != expects:
        fixes = []
        if meta.get("ends_with"):
            fixes.append(f"end the network with `{meta['ends_with']}`")
        if meta.get("on_logits") and produced == "values":
            fixes.append(f"use `loss: {meta['on_logits']}`, which takes the logits and applies "
                         "it itself")
        raise SpecError(f"the loss `{loss}` expects {WORDS[expects]}, but the network ends "
                        f"with {last}, which outputs {WORDS[produced]}", where,
                        hint=", or ".join(fixes) or None)
    return output_mismatch(loss, expects, out_node.kind)
