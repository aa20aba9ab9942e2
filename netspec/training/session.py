"""`train(spec, **overrides)`: the session that wires a run together: the resolved train
section, the data checked against the spec, the task, the model, the run directory, the loop
(each fold for k-fold), and the summary.

Every mistake found before training starts (data that does not fit the input, a loss that does
not fit the task, an unknown id in `freeze`) is a located SpecError: nothing has run yet.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from netspec.errors import InputError
from netspec.training import prepare
from netspec.training.config import resolve
from netspec.training.diagnostics_check import check_sparse, fit_loss
from netspec.training.data import load_data
from netspec.training.kfold import cross_validate
from netspec.training.rundir import RunDir, resolve_run
from netspec.training.summary import Run, finish
from netspec.training.tasks import pick_task


def train(spec=None, *, resume: str | None = None, quiet: bool = False, **overrides: Any) -> Run:
    """Train `spec` (a Spec, a path or YAML text) from its `train:` section, `overrides`
    (epochs, batch_size, global_batch, lr, device, seed, out, or any key of the section)
    winning; or continue the run directory `resume` from its last checkpoint."""
    from netspec.graph.load import as_spec
    from netspec.training.distributed import batch_line, fit_batch, pick_threads, setup
    from netspec.training.progress import Progress

    run = None
    if resume is not None:
        run = RunDir(resolve_run(resume))
        spec = run.read_spec()
        cfg = resolve(spec, train=run.read_json("train.json"), **overrides)
    else:
        spec = as_spec(spec)
        cfg = resolve(spec, **overrides)
    ctx = setup(cfg.device)
    try:
        import torch

        torch.set_num_threads(pick_threads(cfg.threads, ctx))
        progress = Progress(enabled=not quiet and ctx.main)
        cfg = fit_batch(cfg, ctx.world)          # `global_batch`: the share of each process
        if ctx.distributed or cfg.global_batch is not None:
            progress.note(batch_line(cfg, ctx.world))
        if cfg.data.folds:
            if run is not None:
                raise InputError("a k-fold run cannot be resumed as a whole", None,
                                 hint="resume one fold: --resume RUN/fold<k>")
            return cross_validate(spec, cfg, ctx, progress, train_once)
        return train_once(spec, cfg, ctx, progress, run)
    finally:
        ctx.close()


def train_once(spec, cfg, ctx, progress, run: RunDir | None = None, fold: int | None = None,
               parent: RunDir | None = None) -> Run:
    """One training run (one fold); `run` set: continue it from its last checkpoint."""
    from netspec.compiler.build import build, count_parameters
    from netspec.training.loop import Trainer

    if spec.networks is not None:
        from netspec.training.networks import prepare_networks

        task, cfg, data, model, output = prepare_networks(spec, cfg, ctx, fold, progress)
        resuming = run is not None
        run = _open_run(run, ctx, cfg, spec, fold, parent)
        with run.lock() if run is not None and ctx.main else contextlib.nullcontext():
            if ctx.main and not resuming:
                write_run_files(run, spec, cfg, data, output, ctx.world)
            trainer = Trainer(spec, cfg, data, ctx, run if ctx.main else None, progress,
                              model, 0, task)
            if resuming:
                _restore(trainer, run, progress)
            return _fit(trainer, model, count_parameters)
    data = load_data(cfg.data, spec, cfg.where, fold)
    task = pick_task(cfg, data)
    cfg = task.complete(cfg, has_val=data.size("val") > 0)
    model = build(spec, seed=cfg.seed)
    graph = model.netspec_graph
    output_name, output_index = prepare.pick_output(graph, cfg)
    out_node = graph.nodes[graph.outputs[output_name]]
    prepare.check_fit(spec, cfg, data, out_node, task)
    # raises before anything is written; a task without a loss (skipgram) has none to fit
    mismatch = fit_loss(cfg, out_node) if cfg.loss is not None else None
    check_sparse(cfg, graph)         # `sparse: true` and an optimizer that takes it
    if cfg.init_from:
        progress.note(prepare.init_from(model, cfg))
    if cfg.init is not None:
        from netspec.training.weights import load_into

        progress.note(load_into(model, cfg))
    prepare.freeze(model, cfg)
    resuming = run is not None
    if run is None and ctx.main:
        run = RunDir(parent.path / f"fold{fold + 1}") if parent else \
            RunDir.create(cfg.out, cfg.name or spec.name)
        run.path.mkdir(parents=True, exist_ok=True)
    with run.lock() if run is not None and ctx.main else contextlib.nullcontext():
        if ctx.main and not resuming:
            write_run_files(run, spec, cfg, data, task.output_kind(cfg, data, out_node),
                            ctx.world)
        trainer = Trainer(spec, cfg, data, ctx, run if ctx.main else None, progress, model,
                          output_index, task)
        if resuming:
            _restore(trainer, run, progress)
        for d in trainer.remember([mismatch]):
            progress.warn(d)
        return _fit(trainer, model, count_parameters)


def _open_run(run, ctx, cfg, spec, fold, parent) -> RunDir | None:
    """The run directory to train in: `run` when resuming, else a new one (rank 0)."""
    if run is None and ctx.main:
        run = RunDir(parent.path / f"fold{fold + 1}") if parent else \
            RunDir.create(cfg.out, cfg.name or spec.name)
        run.path.mkdir(parents=True, exist_ok=True)
    return run


def _restore(trainer, run: RunDir, progress) -> None:
    """Continue `trainer` from the run's last checkpoint."""
    trainer.restore(run.file("last.state.safetensors"))
    progress.note(f"resuming {run} at epoch {trainer.epoch + 1}"
                  + (f", step {trainer.batch + 1}" if trainer.batch else ""))


def _fit(trainer, model, count_parameters) -> Run:
    """Run the loop, then summarise and write the summary, metrics and curves."""
    run, progress, ctx = trainer.run, trainer.progress, trainer.ctx
    if ctx.main and run is not None:
        preload("matplotlib.backends.backend_agg")   # for curves.png, while epochs train
    started = time.perf_counter()
    try:
        status = trainer.fit()
    except KeyboardInterrupt:
        progress.stop()
        status = "interrupted"
    summary = finish(trainer, status, time.perf_counter() - started)
    summary["params"] = count_parameters(model)
    if ctx.main and run is not None:
        run.write_json("summary.json", summary)
        run.write_metrics(trainer.history)
        run.plot(trainer.history)
    progress.summary(summary, trainer.metric_names)
    if status == "interrupted":
        raise Interrupted(run.path if run else None)
    return Run(run.path if run else None, status, summary, trainer.history, trainer.model,
               trainer.diagnoses)


class Interrupted(KeyboardInterrupt):
    """Ctrl-C ended training; `run` is the run directory to resume (None off rank 0)."""

    def __init__(self, run: Path | None):
        super().__init__(str(run) if run else "")
        self.run = run


def preload(module: str) -> None:
    """Import `module` on a background thread: importing matplotlib takes a second or more of
    pure Python, which overlaps with torch kernels (they release the GIL) instead of adding to
    the run's wall time."""
    import importlib
    import threading

    def load() -> None:
        try:
            importlib.import_module(module)
            importlib.import_module("matplotlib.figure")
        except Exception:           # noqa: BLE001 - the plot will report it, if it fails
            pass

    threading.Thread(target=load, name=f"preload {module}", daemon=True).start()


def write_run_files(run: RunDir, spec, cfg, data, output: str | dict, world: int = 1) -> None:
    """What a run holds from its start: the spec, the resolved section, the data's facts
    (with several networks, `output` is {NAME: {input_shape, output}} under `networks`),
    and the batch of `world` processes."""
    from netspec.training.distributed import batch_facts

    run.write_spec(spec)
    run.write_json("train.json", cfg.to_json())
    meta = data.meta(output) if isinstance(output, str) else \
        {**data.meta(None), "networks": output}
    run.write_json("data.json", meta)
    run.write_json("run.json", {"spec_path": str(Path(spec.path).resolve()) if spec.path
                                and Path(spec.path).exists() else None,
                                # what chose the params (spec.yaml holds their values)
                                "variant": spec.variant, "set": spec.settings,
                                "batch": batch_facts(cfg, world),
                                "created": time.strftime("%Y-%m-%dT%H:%M:%S")})


__all__ = ["train", "Run", "Interrupted"]
