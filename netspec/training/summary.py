"""The end of a run: test metrics with the best weights, the end-of-run diagnoses, and the
summary written to summary.json (and given back as :class:`Run`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DONE = ("completed", "stopped_early")


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
        return self.status in DONE


def finish(t, status: str, seconds: float) -> dict:
    """Trainer `t`'s summary: its numbers are the best epoch's (the weights given back and
    exported), the test split's with those weights, and what looks wrong."""
    from netspec.training.distributed import batch_facts

    best_epoch = (t.best or {}).get("epoch")
    row = next((r for r in t.history if r["epoch"] == best_epoch),
               t.history[-1] if t.history else {})
    summary: dict[str, Any] = {
        "name": t.cfg.name or t.spec.name, "status": status,
        "epochs_run": len(t.history), "best": t.best, "monitor": t.cfg.monitor,
        "train": {k[6:]: v for k, v in row.items() if k.startswith("train_")},
        "val": {k[4:]: v for k, v in row.items() if k.startswith("val_")},
        "test": None, "time_s": t.elapsed, "wall_s": seconds,
        "train_samples_per_s": t.samples / max(t.train_time, 1e-9),
        "train_samples_per_cpu_s": t.samples / max(t.train_cpu, 1e-9),
        "device": str(t.device), "world_size": t.ctx.world,
        "batch": batch_facts(t.cfg, t.ctx.world),
        "run_dir": str(t.run.path) if t.run else None}
    if t.best and t.run is not None and t.run.file("best.safetensors").exists():
        t.model.load_state_dict(t.run.read_weights("best"))     # the model given back
    if "test" in t.eval_sets and status in DONE:
        summary["test"] = t.evaluate("test")
    t.test_metrics = summary["test"]          # for the diagnoses that compare all three splits
    if status in DONE and t.history:
        t.progress.stop()
        for d in t.remember(t.task.end_diagnoses(t)):
            t.progress.warn(d)
    t.task.finish(t, summary)
    summary["diagnoses"] = [d.to_json() for d in t.diagnoses]
    return summary
