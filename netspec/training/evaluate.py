"""Evaluation: a model fed a whole split in eval mode (the loop's validation and test), and
`netspec eval RUN_DIR`: a run's checkpoint on a split of the data it trained on (the same
split: it depends on `split_seed` alone, and the run's normalisation statistics)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


@torch.no_grad()
def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, tracker,
                   output_index: int = 0, batch_size: int = 256, amp: bool = False) -> None:
    """Feed a whole split through `model` in eval mode, adding loss and metrics to `tracker`."""
    was_training = model.training
    model.eval()
    for i in range(0, len(x), batch_size):
        with torch.autocast(x.device.type, enabled=amp):
            out = model(x[i:i + batch_size])
            out = out[output_index] if isinstance(out, (tuple, list)) else out
            loss = loss_fn(out, y[i:i + batch_size])
        tracker.update(out.float(), y[i:i + batch_size], loss)
    model.train(was_training)


def evaluate_run(path, split: str = "test", checkpoint: str = "best",
                 device: str = "cpu") -> dict[str, Any]:
    """{"run", "split", "checkpoint", "samples", "metrics": {"loss": ..., ...}} for the run at
    `path`; a classification run adds "confusion": {"labels": [...], "matrix": [[...]]}, rows
    the true class, columns the predicted one."""
    from netspec.compiler.build import build
    from netspec.errors import InputError
    from netspec.training.confusion import Counting
    from netspec.training.config import resolve
    from netspec.training.data import load_data
    from netspec.training.distributed import pick_device
    from netspec.training.losses import build_loss
    from netspec.training.prepare import pick_output
    from netspec.training.rundir import RunDir, resolve_run
    from netspec.training.tasks import pick_task

    run = RunDir(resolve_run(path))
    spec = run.read_spec()
    cfg = resolve(spec, train=run.read_json("train.json"))
    data = load_data(cfg.data, spec, cfg.where)
    task = pick_task(cfg, data)
    cfg = task.complete(cfg, has_val=data.size("val") > 0)
    if not data.size(split):
        raise InputError(f"the run's data has no {split} split", None,
                         hint="its `val`/`test` fraction is 0; pick another --split")
    saved = run.read_data()
    # the statistics the weights were trained with
    if saved.get("normalize") is not None:
        data.normalize = saved["normalize"]
    if saved.get("target") is not None:
        data.target = saved["target"]
    model = build(spec)
    try:
        model.load_state_dict(run.read_weights(checkpoint))
    except RuntimeError as err:          # names or shapes that differ: the run was altered
        raise InputError(f"{run.path}: the {checkpoint} checkpoint does not fit its spec.yaml: "
                         f"{str(err).strip().splitlines()[-1].strip()[:200]}", None,
                         hint="evaluate a run directory as training wrote it") from None
    dev = pick_device(device)
    model.to(dev)
    x, y = data.tensors(split, device=dev)
    tracker = task.tracker(cfg, data)
    # a classification run also counts its confusion matrix, in the same pass
    counting = Counting(tracker) if data.labels and getattr(tracker, "k", None) else None
    graph = model.netspec_graph
    name, index = pick_output(graph, cfg)
    # what training checked first: an altered train.json (a regression loss on classes)
    # is refused by name instead of failing inside the loss
    task.check(cfg, data, graph.nodes[graph.outputs[name]])
    evaluate_model(model, x, y, build_loss(cfg.loss), counting or tracker, index, 256)
    result = {"run": str(run), "split": split, "checkpoint": checkpoint, "samples": len(x),
              "metrics": tracker.result()}
    if counting is not None:
        result["confusion"] = {"labels": [str(v) for v in data.labels],
                               "matrix": counting.matrix()}
    return result
