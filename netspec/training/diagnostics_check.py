"""The `train:` section checked with the network before anything runs, without torch: what
`netspec check` says about it, and `netspec train` again before it trains. `check_all` is the
one whole check `netspec check`, `netspec serve` and `netspec lsp` run: the network's mistakes
and the section's together, even when the layers do not load (the section is then checked on
its own, from the YAML).

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

from dataclasses import dataclass, field
from typing import Any, Callable

from netspec.errors import Collector, Diagnostic, SpecError
from netspec.kinds import output_semantics

WORDS = {"probabilities": "probabilities in [0, 1]",
         "log_probabilities": "log-probabilities (values <= 0 whose exponentials sum to 1)",
         "values": "unbounded values (logits)"}


@dataclass(frozen=True)
class Checked:
    """One whole check of a spec's text, as `netspec check`, `netspec serve` and the editors'
    language server do it: the network's mistakes and `train:`'s found together."""

    spec: Any = None        # None: the network part failed before a Spec existed
    report: Any = None      # a soft check's Report or MultiReport; None: no graph was made
    error: SpecError | None = None      # every mistake, of both parts, in file order
    warnings: list[Diagnostic] = field(default_factory=list)    # train:'s, when no error


def check_all(text: str, file: str, *, variant: str | None = None, settings=(),
              report_of: Callable | None = None) -> Checked:
    """Load `text` (the spec file `file`), check it fail-soft (`report_of(spec)`, by default
    `netspec.report.check(spec, soft=True)`), and check its `train:` section beside it: a
    mistake in the layers never hides one in `train:`. When the network part fails before a
    Spec exists (an unknown kind or argument, a bad `from:`), the section is checked on its
    own, from the located YAML; text that is not YAML gives its one error. An OverrideError
    (a variant or `--set` the spec does not declare) is the caller's, and is raised."""
    from netspec.graph.load import loads
    from netspec.report import check

    try:
        spec = loads(text, file, variant=variant, settings=settings)
    except SpecError as err:
        return Checked(error=_beside_train_alone(err, text, file, variant, settings))
    report, layers = None, None
    try:
        report = (report_of or (lambda s: check(s, soft=True)))(spec)
        layers = report.error
    except SpecError as err:        # no graph (a name, a `from:`): train: still checked
        layers = err
    if spec.train is None:
        return Checked(spec, report, layers)
    graph = report.graph if report is not None and spec.networks is None else None
    try:
        warnings = check_with_layers(spec, graph, layers)
    except SpecError as err:
        return Checked(spec, report, err)
    return Checked(spec, report, None, warnings)


def _beside_train_alone(err: SpecError, text: str, file: str, variant, settings) -> SpecError:
    """`err` with the mistakes of the spec's `train:` section, validated on its own (its
    keys, choices and data source; no network to fit it to), in file order."""
    from netspec.lang.overrides import choose
    from netspec.lang.located import LDict
    from netspec.lang.settings import as_settings
    from netspec.lang.yaml_loader import load_yaml

    try:
        root = load_yaml(text, file)
    except SpecError:
        return err                  # not YAML: nothing of it can be read
    if not isinstance(root, LDict) or "train" not in root:
        return err
    # the params in effect (`$lr`, a variant's `train.epochs`); their own mistakes are in err
    try:
        root, _ = choose(root, file, variant, as_settings(settings), Collector())
    except SpecError:
        return err
    found = Collector()
    found.add(err)
    with found.guard():
        check_train(_TrainAlone(root.get("train"), root, file), None)
    try:
        found.raise_if_any()
    except SpecError as every:      # err's and train:'s, deduplicated, in file order
        return every
    return err


@dataclass(frozen=True)
class _TrainAlone:
    """What `check_train` reads of a spec whose network part did not load: `train:` alone."""

    train: Any
    raw: Any
    path: str
    networks: Any = None
    inputs: Any = None


def check_with_layers(spec, graph, layers: SpecError | None) -> list[Diagnostic]:
    """`check_train` beside the layers' own mistakes (`layers`, None when the network inferred
    to its end): every mistake of both in one SpecError, in source order, so a shape error
    does not hide a typo in `train:`. When the layers failed, the loss is not fitted (there
    is no output to fit it to). Returns the warnings when nothing is wrong."""
    found = Collector()
    if layers is not None:
        found.add(layers)
    warnings: list[Diagnostic] = []
    with found.guard():
        warnings = check_train(spec, graph if layers is None else None)
    found.raise_if_any()
    return warnings


def check_train(spec, graph) -> list[Diagnostic]:
    """Validate `spec.train` (a located SpecError on the first mistake) and fit its loss to
    `graph`'s output (not when `graph` is None: the layers failed); returns the warnings,
    located at `loss:` (the spec stays valid). Nothing without `train:`."""
    if spec.train is None:
        return []
    from netspec.training.config import resolve
    from netspec.training.prepare import pick_output

    cfg = resolve(spec)
    if spec.networks is None and spec.inputs and len(spec.inputs) == 1:   # data fits input
        from netspec.training.augment_args import check_fits_samples

        check_fits_samples(cfg.augment, next(iter(spec.inputs.values())).shape, cfg.where,
                           "the spec's input is")
    if spec.networks is not None:       # `freeze`, `init`, `optimizers` name its networks
        from netspec.training.networks import check_network_names

        check_network_names(cfg, list(spec.networks))
    if graph is not None:
        # an optimizer left open is the task's default (skipgram's sgd), known when it runs
        check_sparse(cfg, graph, optimizer_known=cfg.given("optimizer"))
    if cfg.loss is None or graph is None or not graph.outputs:
        return []        # the task picks the loss from the data, which `check` does not load
    name, _ = pick_output(graph, cfg)
    found = fit_loss(cfg, graph.nodes[graph.outputs[name]])
    return [Diagnostic(found.message, cfg.where("loss"), found.hint or None)] if found else []


def check_sparse(cfg, graph, optimizer_known: bool = True) -> None:
    """Raise a located SpecError when an `embedding: {sparse: true}` (row gradients) meets
    what cannot take them: gradient clipping, or an optimizer other than sgd and adagrad
    without weight decay (torch would raise deep inside its step)."""
    from netspec.training.optim import takes_sparse_gradients

    # a layer whose `sparse: true` asks torch for row gradients (the embedding's)
    node = next((n for n in graph.nodes.values() if getattr(n.args, "sparse", False) is True),
                None)
    if node is None:
        return
    table = f"the {node.kind} '{node.name}' (`sparse: true`" + \
        (f" at line {node.loc.line})" if node.loc else ")")
    for key in ("clip_grad_norm", "clip_grad_value"):
        if getattr(cfg, key):
            raise SpecError(f"`{key}` cannot clip the row gradients of {table}",
                            cfg.where(key) or node.loc,
                            hint=f"drop `{key}`, or `sparse: true` from the embedding")
    if optimizer_known and not takes_sparse_gradients(cfg.optimizer):
        decay = " with weight_decay" if cfg.optimizer.entry.meta.get("sparse_grads") else ""
        raise SpecError(f"the optimizer `{cfg.optimizer.name}`{decay} cannot step on the row "
                        f"gradients of {table}", cfg.where("optimizer") or node.loc,
                        hint="use `optimizer: sgd` or `adagrad` without weight_decay, or drop "
                             "`sparse: true` from the embedding")


def fit_loss(cfg, out_node):
    """Raise a SpecError located at `loss:` when the loss cannot train on what `out_node` (the
    network's output) gives; a Diagnosis when it trains, but badly; else None."""
    from netspec.training.diagnostics import output_mismatch

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
