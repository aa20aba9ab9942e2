"""k-fold cross-validation: each fold trained as its own run in <run>/fold<k>, and each
metric's mean and standard deviation over the folds."""

from __future__ import annotations

import math

from netspec.training.rundir import RunDir
from netspec.training.summary import Run


def cross_validate(spec, cfg, ctx, progress, train_once) -> Run:
    """Train each fold with `train_once` and summarise the folds' best validation rows."""
    parent = RunDir.create(cfg.out, cfg.name or spec.name) if ctx.main else None
    if parent is not None:
        parent.write_spec(spec)
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
