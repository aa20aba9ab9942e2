"""Training from a spec's `train:` section (DESIGN §5): data, augmentation, optimisation, the
loop, crash-safe checkpoints, diagnostics, and DDP under torchrun.

    run = netspec.train("specs/lenet5.yaml", epochs=5)     # overrides win over the section
    run.path, run.status, run.summary["test"]["accuracy"]

Importing this package does not import torch: `netspec train --help` stays fast, and the
command's module imports the loop only when it runs.
"""

from __future__ import annotations

from typing import Any

from .._callable import callable_module


def train(spec=None, **overrides: Any):
    """Train `spec` (a Spec, a path or YAML text) from its `train:` section; keyword overrides
    (epochs, batch_size, lr, device, seed, out, quiet, resume=RUN_DIR, or any key of the
    section) win. Returns a `Run` (path, status, summary, history, model)."""
    from .session import train as _train

    return _train(spec, **overrides)


def load_run(path, checkpoint: str = "best"):
    """(spec, state_dict, data_meta) of a run directory (see netspec.train.rundir)."""
    from .rundir import load_run as _load_run

    return _load_run(path, checkpoint)


__all__ = ["train", "load_run"]

callable_module(__name__, train)
