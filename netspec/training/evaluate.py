"""`netspec eval RUN_DIR`: a run's checkpoint evaluated on a split of the data it trained on
(the same split: it depends on `split_seed` alone, and the run's normalisation statistics)."""

from __future__ import annotations

from typing import Any


def evaluate_run(path, split: str = "test", checkpoint: str = "best",
                 device: str = "cpu") -> dict[str, Any]:
    """{"run", "split", "samples", "metrics": {"loss": ..., ...}} for the run at `path`."""
    import torch

    from netspec.compiler.build import build
    from netspec.errors import SpecError
    from netspec.training import checkpoint as ckpt
    from netspec.training.config import complete, resolve
    from netspec.training.data import load_data
    from netspec.training.distributed import pick_device
    from netspec.training.loop import evaluate_model
    from netspec.training.losses import build_loss
    from netspec.training.metrics import Tracker
    from netspec.training.rundir import RunDir, resolve_run
    from netspec.training.session import pick_output, spec_of_run

    run = RunDir(resolve_run(path))
    spec = spec_of_run(run)
    cfg = resolve(spec, train=run.read_json("train.json"))
    data = load_data(cfg.data, spec, cfg.where)
    cfg = complete(cfg, data.task, has_val=data.size("val") > 0)
    if not data.size(split):
        raise SpecError(f"the run's data has no {split} split", None,
                        hint="its `val`/`test` fraction is 0; pick another --split")
    saved = run.read_json("data.json").get("normalize")
    if saved is not None:
        data.normalize = saved          # the statistics the weights were trained with
    model = build(spec)
    tensors, _ = ckpt.read(run.file(f"{checkpoint}.safetensors"))
    model.load_state_dict(ckpt.model_tensors(tensors))
    dev = pick_device(device)
    model.to(dev)
    x, y = data.tensors(split, device=dev)
    threshold = 0.5 if cfg.loss.entry.meta["expects"] == "probabilities" else 0.0
    tracker = Tracker(cfg.metrics, data.num_classes, threshold)
    _, index = pick_output(model.netspec_graph, cfg)
    with torch.no_grad():
        evaluate_model(model, x, y, build_loss(cfg.loss), tracker, index, 256)
    return {"run": str(run), "split": split, "checkpoint": checkpoint, "samples": len(x),
            "metrics": tracker.result()}
