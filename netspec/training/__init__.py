"""Training from a spec's `train:` section (DESIGN §5): data, augmentation, optimisation, the
loop, crash-safe checkpoints, diagnostics, and DDP under torchrun.

    run = netspec.train("specs/lenet5.yaml", epochs=5)     # overrides win over the section
    run.path, run.status, run.summary["test"]["accuracy"]

Importing this package does not import torch: `netspec train --help` stays fast, and the
command's module imports the loop only when it runs.
"""
