"""Training from a spec's `train:` section: data, augmentation, optimisation, the loop,
crash-safe checkpoints, diagnostics, and DDP under torchrun.

    run = netspec.train("specs/lenet5.yaml", epochs=5)     # overrides win over the section
    run.path, run.status, run.summary["test"]["accuracy"]

The way through, one module each: `config` (the section, validated and located) -> `data/`
(one module per source) -> `tasks/` (one per task: its checks, step, metrics, diagnoses) ->
`prepare` (what must fit; init_from, freeze) -> `loop` (epochs; `evaluate`, `resume` for
the checkpoint bookkeeping) -> `summary`; `session` wires them, `kfold` repeats them per fold.
Registries (`registry`): losses, metrics, optimizers and schedules, augmentations, data
sources, tasks; each entry declares its behaviour, so adding one touches one file.

Importing this package does not import torch: `netspec train --help` stays fast, and the
command's module imports the loop only when it runs.
"""
