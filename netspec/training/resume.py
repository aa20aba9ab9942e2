"""The checkpoint bookkeeping of a run: what `best` and `last` hold, and restoring a trainer
from `last.state` so the run continues exactly where it stopped.

    last.state.safetensors   weights, optimizer tensors, (mid-epoch) generator states; the JSON
                             state: epoch, batch, step, schedule, stopper, best, history, timing
    last.safetensors         the plain weights of the same moment (what export reads)
    best.safetensors         the weights of the best epoch by `monitor`

Several networks: the weights of each are under its name (`generator.0.weight`: the
trainer's nn.ModuleDict), each optimizer's tensors under `@optimizer.NAME.<i>.<name>` (its
JSON under `optimizer.NAME`), and the task's own state (`task.state(t)`: tensors and JSON)
under `@task.<key>` and `task`, in every one of the three files' resume file.
"""

from __future__ import annotations

import torch

from netspec.errors import InputError
from netspec.training import checkpoint


def state(t) -> dict:
    """The trainer's progress as JSON data."""
    return {"format": checkpoint.FORMAT, "epoch": t.epoch, "batch": t.batch,
            "step": t.step, "seed": t.cfg.seed, "world": t.ctx.world,
            "schedule": t.schedule.state, "stopper": t.stopper, "best": t.best,
            "history": t.history, "elapsed": t.elapsed,
            "train_time": t.train_time, "train_cpu": t.train_cpu,
            "samples": t.samples, "threads": torch.get_num_threads()}


def _writes(t) -> bool:
    return t.ctx.main and t.run is not None


def save_best(t) -> None:
    if _writes(t):
        checkpoint.write(t.run.file("best.safetensors"), dict(t.model.state_dict()), state(t))


def save_last(t, mid_epoch: bool = False) -> None:
    """The resume file (weights, optimizer, generators, state), then the plain weights."""
    if not _writes(t):
        return
    st = state(t)
    weights = dict(t.model.state_dict())
    if t.several:
        opt_tensors, st["optimizer"] = {}, {}
        for name, opt in t.optimizers.items():
            tensors_of, st["optimizer"][name] = checkpoint.optimizer_tensors(opt, f"{name}.")
            opt_tensors.update(tensors_of)
    else:
        opt_tensors, st["optimizer"] = checkpoint.optimizer_tensors(t.optimizer)
    tensors = {**weights, **opt_tensors}
    task_tensors, task_state = t.task.state(t)
    if task_tensors or task_state:
        tensors.update({f"{checkpoint.STATE_PREFIX}task.{k}": v for k, v in task_tensors.items()})
        st["task"] = task_state
    if mid_epoch:
        tensors.update(checkpoint.rng_tensors({"augment": t.aug_gen}))
        flat, sizes = t.tracker.state()
        st["tracker"] = {"flat": [float(v) for v in flat], "sizes": sizes}
    if t.scaler is not None:
        st["scaler"] = t.scaler.state_dict()
    checkpoint.write(t.run.file("last.state.safetensors"), tensors, st, False)
    checkpoint.write(t.run.file("last.safetensors"), weights,
                     {k: v for k, v in st.items() if k != "optimizer"})
    t.run.write_metrics(t.history)


def restore(t, path) -> None:
    """Continue trainer `t` from the checkpoint at `path` (a run's last.state.safetensors)."""
    tensors, st = checkpoint.read(path)
    try:
        t.model.load_state_dict(checkpoint.model_tensors(tensors))
    except RuntimeError as err:          # names or shapes that differ: spec.yaml was altered
        raise InputError(f"{path}: the checkpoint does not fit the run's spec.yaml: "
                         f"{str(err).strip().splitlines()[-1].strip()[:200]}", None,
                         hint="resume a run directory as training wrote it") from None
    if t.several:
        for name, opt in t.optimizers.items():
            checkpoint.load_optimizer(opt, tensors, st["optimizer"][name], f"{name}.")
    else:
        checkpoint.load_optimizer(t.optimizer, tensors, st["optimizer"])
    prefix = f"{checkpoint.STATE_PREFIX}task."
    if "task" in st or any(k.startswith(prefix) for k in tensors):
        t.task.load_state(t, {k[len(prefix):]: v for k, v in tensors.items()
                              if k.startswith(prefix)}, st.get("task", {}))
    t.epoch, t.batch, t.step = st["epoch"], st["batch"], st["step"]
    t.schedule.state = st["schedule"]
    t.stopper, t.best, t.history = st["stopper"], st["best"], st["history"]
    t.elapsed, t.train_time = st["elapsed"], st["train_time"]
    t.train_cpu = st.get("train_cpu", 0.0)
    t.samples = st["samples"]
    if t.cfg.threads is None and t.device.type == "cpu":
        # the same thread count keeps the arithmetic, and so the weights, bit-identical
        torch.set_num_threads(st.get("threads", torch.get_num_threads()))
    if t.scaler is not None and "scaler" in st:
        t.scaler.load_state_dict(st["scaler"])
    if "tracker" in st:
        checkpoint.load_rng(tensors, {"augment": t.aug_gen})
        t.tracker.load_state(torch.tensor(st["tracker"]["flat"], dtype=torch.float64),
                             st["tracker"]["sizes"])
