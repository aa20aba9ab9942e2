"""Before training: what must fit, checked while nothing has run yet (each mistake a located
SpecError), and the model made ready: another run's weights (`init_from`), frozen layers."""

from __future__ import annotations

from netspec.errors import NetspecError, SpecError, did_you_mean


def pick_output(graph, cfg) -> tuple[str, int]:
    """The output the loss trains (`train.output`, or the only one) and its index."""
    names = list(graph.outputs)
    if cfg.output is None:
        if len(names) > 1:
            raise SpecError(f"the network has {len(names)} outputs ({', '.join(names)}); "
                            "say which one the loss trains", cfg.where(),
                            hint=f"add `output: {names[0]}` to `train:`")
        return names[0], 0
    if cfg.output not in names:
        raise SpecError(f"`output` names no output of the network: {cfg.output!r}",
                        cfg.where("output"), hint=did_you_mean(cfg.output, names)
                        or f"outputs: {', '.join(names)}")
    return cfg.output, names.index(cfg.output)


def check_fit(spec, cfg, data, out_node, task) -> None:
    """The task (loss, metrics, the network's output), augmentation and the monitored
    quantity fit the data."""
    if len(spec.inputs) != 1:
        raise SpecError("training feeds one input; this spec has several "
                        f"({', '.join(spec.inputs)})", spec.raw.key_locs.get("inputs"))
    from netspec.training.augment_args import check_fits_samples

    task.check(cfg, data, out_node)
    check_fits_samples(cfg.augment, data.input_shape, cfg.where)
    check_monitor(cfg, data)


def check_monitor(cfg, data) -> None:
    from netspec.training.metrics import display_name

    names = ["loss", *(display_name(m) for m in cfg.metrics)]
    splits = ["train", "val"] if data.size("val") else ["train"]
    known = [f"{s}_{n}" for s in splits for n in names]
    wanted = [(cfg.monitor, ("monitor",))]
    if cfg.early_stopping:
        wanted.append((cfg.early_stopping.monitor, ("early_stopping", "monitor")))
    if cfg.schedule is not None and hasattr(cfg.schedule.args, "monitor"):
        wanted.append((cfg.schedule.args.monitor, ("schedule",)))
    for name, path in wanted:
        if name in known:
            continue
        hint = did_you_mean(name, known) or f"known: {', '.join(known)}"
        if name.startswith("val_") and "val" not in splits:
            hint = "there is no validation split: set `val:` under `data:` above 0"
        raise SpecError(f"`{name}` is not logged by this run", cfg.where(*path), hint=hint)


def init_from(model, cfg) -> str:
    """Copy the weights of another run's best checkpoint where names and shapes agree."""
    from netspec.training.rundir import load_run

    try:
        _, state, _ = load_run(cfg.init_from)
    except NetspecError as err:
        raise SpecError(f"`init_from`: {err.first.message}", cfg.where("init_from"),
                        hint=err.first.hint) from None
    own = model.state_dict()
    taken = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not taken:
        raise SpecError(f"`init_from`: no weights of {cfg.init_from} fit this network "
                        "(no layer names and shapes in common)", cfg.where("init_from"))
    model.load_state_dict(taken, strict=False)
    skipped = sorted({k.rsplit(".", 1)[0] for k in own if k not in taken})
    return (f"init_from: {len(taken)} tensors from {cfg.init_from}" +
            (f"; layers trained from scratch: {', '.join(skipped)}" if skipped else ""))


def freeze(model, cfg) -> None:
    """Stop the gradients of the layers `freeze` names (ids, dotted layer names, or glob
    patterns over parameter names)."""
    import fnmatch

    names = [n for n, _ in model.named_parameters()]
    for i, ident in enumerate(cfg.freeze):
        # a name, or a pattern over the parameters' names: `stem.*`, `stage[12].*`
        pattern = any(c in ident for c in "*?[")
        hits = [n for n in names if fnmatch.fnmatchcase(n, ident)] if pattern else \
            [n for n in names if n.startswith(f"{ident}.")]
        if not hits:
            layers = sorted({n.rsplit(".", 1)[0] for n in names})
            raise SpecError(f"`freeze`: no layer with parameters is named {ident!r}",
                            cfg.where("freeze", i), hint=did_you_mean(ident, layers)
                            or f"layers with parameters: {', '.join(layers[:12])}")
        for name, p in model.named_parameters():
            if name in hits:
                p.requires_grad_(False)
    if cfg.freeze and names and not any(p.requires_grad for p in model.parameters()):
        raise SpecError(f"`freeze` leaves no parameter to train: the {len(cfg.freeze)} "
                        f"names given cover every layer with parameters", cfg.where("freeze"),
                        hint="leave at least one layer unfrozen (the last one, usually)")
