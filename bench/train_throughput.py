"""Training throughput: `netspec train` against a minimal hand-written PyTorch loop on the same
network, data, batch size, optimizer and thread count, in one process.

    .venv/bin/python bench/train_throughput.py                      # LeNet-5 on digits 28x28
    .venv/bin/python bench/train_throughput.py --spec specs/mlp.yaml --epochs 5 --threads 2

Both sides train from the same initial weights on the same normalised tensors, with the spec's
optimizer and loss; augmentation is switched off for netspec, since the hand loop has none.
netspec's figure is its training phase (batches, loss, metrics, schedule, progress bookkeeping),
as the summary reports it; its whole-run figure (with validation, checkpoints each epoch,
metrics.csv) is shown beside it. The hand loop is what one would write in a notebook:

    for each epoch: order = randperm(n); for each batch: zero_grad, forward, loss, backward, step

Runs alternate (hand, netspec, hand, ...), so a machine shared with other work disturbs both
sides alike; each side's best run is compared (other work only ever slows a run down, as
timeit's documentation argues), and the medians are shown too, in wall-clock and in CPU time
(on a loaded machine, CPU time counts the work done, not the waiting for a core). Target:
netspec >= 0.95x.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def hand_loop(spec, cfg, data, epochs: int, seed: int) -> tuple[float, float]:
    """(samples per second, samples per CPU second) of the minimal loop."""
    import torch

    import netspec
    from netspec.training.losses import build_loss
    from netspec.training.optim import build_optimizer

    model = netspec.build(spec, seed=seed)
    optimizer = build_optimizer(cfg.optimizer, model.parameters())
    loss_fn = build_loss(cfg.loss)
    x, y = data.tensors("train")
    bs, n = cfg.batch_size, len(x)
    torch.manual_seed(seed)
    model.train()
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(epochs):
        order = torch.randperm(n)
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[idx]), y[idx])
            loss.backward()
            optimizer.step()
    return epochs * n / (time.perf_counter() - start), epochs * n / (time.process_time() - cpu)


def netspec_loop(spec, epochs: int, seed: int, threads: int,
                 out: str) -> tuple[float, float, float]:
    """(training-phase samples per second and per CPU second, seconds of the whole call)."""
    import netspec

    start = time.perf_counter()
    # augmentation off: the hand loop has none (it would cost both sides the same)
    run = netspec.train(spec, epochs=epochs, seed=seed, threads=threads, out=out, quiet=True,
                        device="cpu", augment=[])
    return (run.summary["train_samples_per_s"], run.summary["train_samples_per_cpu_s"],
            time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spec", default=str(ROOT / "specs" / "lenet5.yaml"))
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import torch

    import netspec
    from netspec.training.config import resolve
    from netspec.training.data import load_data
    from netspec.training.tasks import pick_task

    torch.set_num_threads(args.threads)
    spec = netspec.load(args.spec)
    cfg = resolve(spec, device="cpu")
    data = load_data(cfg.data, spec, cfg.where)
    cfg = pick_task(cfg, data).complete(cfg)
    hand, ours, whole = [], [], []
    with tempfile.TemporaryDirectory() as out:
        hand_loop(spec, cfg, data, 1, args.seed)            # warm-up: allocator, kernels,
        netspec_loop(spec, 1, args.seed, args.threads, out)  # and netspec's one-time imports
        for _ in range(args.repeats):
            hand.append(hand_loop(spec, cfg, data, args.epochs, args.seed))
            *phase, seconds = netspec_loop(spec, args.epochs, args.seed, args.threads, out)
            ours.append(tuple(phase))
            whole.append(args.epochs * data.size("train") / seconds)
    print(f"{spec.name}: {data.size('train')} training samples, batch {cfg.batch_size}, "
          f"{args.epochs} epochs x {args.repeats} runs, {args.threads} thread(s), "
          f"torch {torch.__version__}, load average {os.getloadavg()[0]:.1f}")
    for i, clock in enumerate(("wall clock", "CPU time")):
        h, o = [v[i] for v in hand], [v[i] for v in ours]
        print(f"  samples per {clock} second:")
        for label, values in (("hand-written loop       ", h), ("netspec train (training)", o)):
            print(f"    {label} best {max(values):7.0f}, median {statistics.median(values):7.0f}"
                  f"   (runs: {', '.join(f'{v:.0f}' for v in values)})")
        print(f"    ratio netspec / hand: best {max(o) / max(h):.3f}x, median "
              f"{statistics.median(o) / statistics.median(h):.3f}x (target >= 0.95x)")
    print(f"  netspec train, whole run (validation and checkpoints each epoch, start-up): best "
          f"{max(whole):.0f} samples/s")


if __name__ == "__main__":
    main()
