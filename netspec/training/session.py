"""`train(spec, **overrides)`: resolve the train section, load and check the data against the
spec, set up the run directory, run the loop (each fold for k-fold), and summarise.

Every mistake found before training starts (data that does not fit the input, a loss that does
not fit the task, an unknown id in `freeze`) is a located SpecError: nothing has run yet.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from netspec.errors import SpecError, did_you_mean
from netspec.training import diagnostics
from netspec.training.config import complete, resolve
from netspec.training.data import Data, load_data
from netspec.training.rundir import RunDir, resolve_run

OUTPUT_OF_LAST = {"softmax": "probabilities", "log_softmax": "log_probabilities",
                  "sigmoid": "probabilities"}


@dataclass
class Run:
    """What a training run gives back: where it is, how it went, the trained model (its best
    weights), the per-epoch history and the summary written to summary.json."""

    path: Path | None
    status: str
    summary: dict
    history: list[dict] = field(default_factory=list)
    model: Any = None
    diagnoses: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status in ("completed", "stopped_early")


def train(spec=None, *, resume: str | None = None, quiet: bool = False, **overrides: Any) -> Run:
    """Train `spec` (a Spec, a path or YAML text) from its `train:` section, `overrides`
    (epochs, batch_size, lr, device, seed, out, or any key of the section) winning; or continue
    the run directory `resume` from its last checkpoint."""
    from netspec.lang import as_spec
    from netspec.training.distributed import pick_threads, setup
    from netspec.training.progress import Progress

    run = None
    if resume is not None:
        run = RunDir(resolve_run(resume))
        spec = spec_of_run(run)
        cfg = resolve(spec, train=run.read_json("train.json"), **overrides)
    else:
        spec = as_spec(spec)
        cfg = resolve(spec, **overrides)
    ctx = setup(cfg.device)
    try:
        import torch

        torch.set_num_threads(pick_threads(cfg.threads, ctx))
        progress = Progress(enabled=not quiet and ctx.main)
        if cfg.data.folds:
            if run is not None:
                raise SpecError("a k-fold run cannot be resumed as a whole", None,
                                hint="resume one fold: --resume RUN/fold<k>")
            return cross_validate(spec, cfg, ctx, progress)
        return train_once(spec, cfg, ctx, progress, run)
    finally:
        ctx.close()


def spec_of_run(run: RunDir):
    """The spec a run was trained from, read from its copy; includes resolve from where the
    original file was."""
    from netspec.lang import loads

    text = run.file("spec.yaml").read_text(encoding="utf-8")
    origin = (run.read_json("run.json") if run.file("run.json").exists() else {}).get("spec_path")
    where = origin if origin and Path(origin).parent.is_dir() else str(run.file("spec.yaml"))
    return loads(text, where)


def train_once(spec, cfg, ctx, progress, run: RunDir | None = None, fold: int | None = None,
               parent: RunDir | None = None) -> Run:
    """One training run (one fold); `run` set: continue it from its last checkpoint."""
    from netspec.compiler.build import build, count_parameters
    from netspec.training.loop import Trainer

    data = load_data(cfg.data, spec, cfg.where, fold)
    cfg = complete(cfg, data.task, has_val=data.size("val") > 0)
    model = build(spec, seed=cfg.seed)
    graph = model.netspec_graph
    output_name, output_index = pick_output(graph, cfg)
    out_node = graph.nodes[graph.outputs[output_name]]
    check_fit(spec, cfg, data, out_node)
    if cfg.init_from:
        progress.note(init_from(model, cfg))
    freeze(model, cfg)
    resuming = run is not None
    if run is None and ctx.main:
        run = RunDir(parent.path / f"fold{fold + 1}") if parent else \
            RunDir.create(cfg.out, cfg.name or spec.name)
        run.path.mkdir(parents=True, exist_ok=True)
        write_run_files(run, spec, cfg, data, output_kind(cfg, data, out_node))
    labels = data.splits["train"][1]
    majority = float(np.bincount(labels).max() / len(labels)) if data.task == "classification" \
        else 0.0
    trainer = Trainer(spec, cfg, data, ctx, run if ctx.main else None, progress, model,
                      output_index, majority)
    if resuming:
        trainer.restore(run.file("last.state.safetensors"))
        progress.note(f"resuming {run} at epoch {trainer.epoch + 1}"
                      + (f", step {trainer.batch + 1}" if trainer.batch else ""))
    found = diagnostics.output_mismatch(cfg.loss.name, cfg.loss.entry.meta["expects"],
                                        out_node.kind)
    for d in trainer.remember([found]):
        progress.warn(d)
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
        raise KeyboardInterrupt
    return Run(run.path if run else None, status, summary, trainer.history, trainer.model,
               trainer.diagnoses)


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


def finish(trainer, status: str, seconds: float) -> dict:
    """Test metrics with the best weights, end-of-run diagnoses, and the summary."""
    from netspec.training import checkpoint

    # the numbers of the weights given back (and exported): the best epoch's
    best_epoch = (trainer.best or {}).get("epoch")
    row = next((r for r in trainer.history if r["epoch"] == best_epoch),
               trainer.history[-1] if trainer.history else {})
    summary: dict[str, Any] = {
        "name": trainer.cfg.name or trainer.spec.name, "status": status,
        "epochs_run": len(trainer.history), "best": trainer.best, "monitor": trainer.cfg.monitor,
        "train": {k[6:]: v for k, v in row.items() if k.startswith("train_")},
        "val": {k[4:]: v for k, v in row.items() if k.startswith("val_")},
        "test": None, "time_s": trainer.elapsed, "wall_s": seconds,
        "train_samples_per_s": trainer.samples / max(trainer.train_time, 1e-9),
        "train_samples_per_cpu_s": trainer.samples / max(trainer.train_cpu, 1e-9),
        "device": str(trainer.device), "world_size": trainer.ctx.world,
        "run_dir": str(trainer.run.path) if trainer.run else None}
    best_path = trainer.run.file("best.safetensors") if trainer.run else None
    if trainer.best and best_path is not None and best_path.exists():   # the model given back
        tensors, _ = checkpoint.read(best_path)
        trainer.model.load_state_dict(checkpoint.model_tensors(tensors))
    if "test" in trainer.eval_sets and status in ("completed", "stopped_early"):
        summary["test"] = trainer.evaluate("test")
    if status in ("completed", "stopped_early") and trainer.history:
        trainer.progress.stop()
        for d in end_diagnoses(trainer):
            trainer.progress.warn(d)
    summary["diagnoses"] = [d.to_json() for d in trainer.diagnoses]
    return summary


def end_diagnoses(trainer) -> list:
    dead, constant = trainer.probe()
    found = []
    if trainer.data.task == "classification" and "accuracy" in trainer.metric_names:
        found += [trainer.chance_diagnosis(final=True), diagnostics.overfitting(trainer.history)]
    if not any(d and d.kind == "chance" for d in found + trainer.diagnoses):
        found += diagnostics.dead_relus(dead)        # else the chance diagnosis names them
    if constant and not any(d and d.kind == "chance" for d in found + trainer.diagnoses):
        found.append(diagnostics.Diagnosis("constant", "the network's output is the same for "
                                           "every input: it ignores its input",
                                           "look for a layer that outputs a constant"))
    return trainer.remember(found)


# ---- before training: what must fit -----------------------------------------------------------

def pick_output(graph, cfg) -> tuple[str, int]:
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


def check_fit(spec, cfg, data: Data, out_node) -> None:
    """The loss, metrics, augmentation and the network's output fit the data."""
    if len(spec.inputs) != 1:
        raise SpecError("training feeds one input; this spec has several "
                        f"({', '.join(spec.inputs)})", spec.raw.key_locs.get("inputs"))
    where_loss = cfg.where("loss")
    if cfg.loss.entry.meta["task"] != data.task:
        raise SpecError(f"the loss `{cfg.loss.name}` is for {cfg.loss.entry.meta['task']}, but "
                        f"`{data.name}` is a {data.task} set", where_loss,
                        hint="use cross_entropy for classes, mse for values")
    for i, m in enumerate(cfg.metrics):
        if m.entry.meta["task"] != data.task:
            raise SpecError(f"the metric `{m.name}` is for {m.entry.meta['task']}, but "
                            f"`{data.name}` is a {data.task} set", cfg.where("metrics", i))
    rank = len(data.input_shape)
    for i, a in enumerate(cfg.augment):
        if a.entry.meta.get("image") and rank != 3:
            raise SpecError(f"`{a.name}` works on images [C, H, W]; this data's samples are "
                            f"{list(data.input_shape)}", cfg.where("augment", i),
                            hint="noise and mixup work on any data")
    check_output(cfg, data, out_node)
    check_monitor(cfg, data)


def check_output(cfg, data: Data, out_node) -> None:
    shape = tuple(out_node.shape)
    where = out_node.loc
    if data.task == "classification":
        k = data.num_classes
        binary = cfg.loss.name in ("bce", "bce_logits") and k == 2
        if shape == (k,) or (binary and shape == (1,)):
            return
        want = "1 (or 2)" if binary else str(k)
        raise SpecError(f"the network outputs {list(shape)} per sample, but `{data.name}` has "
                        f"{k} classes: the output should be [{want}]", where,
                        hint=f"end the network with `linear: {k}`" if len(shape) == 1 else
                        "flatten (or `return: last` for recurrent layers), then `linear`")
    width = data.splits["train"][1].shape[1]
    if shape != (width,):
        raise SpecError(f"the network outputs {list(shape)} per sample, but `{data.name}` has "
                        f"{width} target value{'s' if width > 1 else ''}: the output should be "
                        f"[{width}]", where, hint=f"end the network with `linear: {width}`")


def check_monitor(cfg, data: Data) -> None:
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


def output_kind(cfg, data: Data, out_node) -> str:
    if data.task == "regression":
        return "values"
    return OUTPUT_OF_LAST.get(out_node.kind) or cfg.loss.entry.meta["expects"]


def init_from(model, cfg) -> str:
    """Copy the weights of another run's best checkpoint where names and shapes agree."""
    from netspec.training.rundir import load_run

    try:
        _, state, _ = load_run(cfg.init_from)
    except SpecError as err:
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
    """Stop the gradients of the layers `freeze` names (ids, or dotted layer names)."""
    names = [n for n, _ in model.named_parameters()]
    for i, ident in enumerate(cfg.freeze):
        hits = [n for n in names if n.startswith(f"{ident}.")]
        if not hits:
            layers = sorted({n.rsplit(".", 1)[0] for n in names})
            raise SpecError(f"`freeze`: no layer with parameters is named {ident!r}",
                            cfg.where("freeze", i), hint=did_you_mean(ident, layers)
                            or f"layers with parameters: {', '.join(layers[:12])}")
        for name, p in model.named_parameters():
            if name in hits:
                p.requires_grad_(False)


def write_run_files(run: RunDir, spec, cfg, data: Data, output: str) -> None:
    run.write_text("spec.yaml", spec.source or "")
    run.write_json("train.json", cfg.to_json())
    run.write_json("data.json", data.meta(output))
    run.write_json("run.json", {"spec_path": str(Path(spec.path).resolve()) if spec.path
                                and Path(spec.path).exists() else None,
                                "created": time.strftime("%Y-%m-%dT%H:%M:%S")})


# ---- k-fold -------------------------------------------------------------------------------

def cross_validate(spec, cfg, ctx, progress) -> Run:
    """Train each fold (runs in <run>/fold<k>) and report each metric's mean and std."""
    parent = RunDir.create(cfg.out, cfg.name or spec.name) if ctx.main else None
    if parent is not None:
        parent.write_text("spec.yaml", spec.source or "")
        parent.write_json("train.json", cfg.to_json())
    runs = []
    for k in range(cfg.data.folds):
        progress.note(f"fold {k + 1}/{cfg.data.folds}")
        runs.append(train_once(spec, cfg, ctx, progress, None, fold=k, parent=parent))
    summary = {"name": cfg.name or spec.name, "folds": cfg.data.folds,
               "status": "completed" if all(r.ok for r in runs) else "failed",
               "val": _mean_std([_best_row(r) for r in runs])}
    if all(r.summary.get("test") for r in runs):
        summary["test"] = _mean_std([r.summary["test"] for r in runs])
    if parent is not None:
        parent.write_json("summary.json", summary)
    for name, (mean, std) in summary["val"].items():
        progress.note(f"{cfg.data.folds}-fold val_{name}: {mean:.4g} ± {std:.2g}")
    return Run(parent.path if parent else None, summary["status"], summary,
               [r.summary for r in runs], runs[-1].model)


def _best_row(run: Run) -> dict:
    epoch = (run.summary.get("best") or {}).get("epoch")
    row = next((r for r in run.history if r["epoch"] == epoch), run.history[-1])
    return {k[4:]: v for k, v in row.items() if k.startswith("val_")}


def _mean_std(rows: list[dict]) -> dict:
    out = {}
    for name in rows[0]:
        values = [r[name] for r in rows if r.get(name) is not None]
        mean = sum(values) / len(values)
        out[name] = [mean, math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))]
    return out


__all__ = ["train", "Run"]
