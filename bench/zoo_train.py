"""Train the classic zoo networks (AlexNet, VGG-11, NiN, GoogLeNet, ResNet-18, DenseNet) from
their own `train:` sections, at their CPU-sized variant, and print one row per network: input,
parameters, the untrained network's loss against ln(classes), test accuracy, seconds per epoch.
The figures in docs/zoo_training.md (included in docs/zoo.md) come from this script.

    .venv/bin/python bench/zoo_train.py                       # all six, variant cpu, seed 0
    .venv/bin/python bench/zoo_train.py --nets nin googlenet --seed 1 --threads 2
    .venv/bin/python bench/zoo_train.py --variant "" --device cuda   # the default sizes, on a GPU
    .venv/bin/python bench/zoo_train.py --nets vgg11 --set train.epochs=2 --markdown

Initial loss: the mean cross-entropy of the network as built (the run's seed, `init: auto`) on
the first 256 normalised training images, measured as the trainer's start-up check does (eval
mode, batch norms on the batch's statistics); a network that guesses uniformly scores
ln(classes). `--initial-only` prints that column alone, without training.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETS = ["alexnet", "vgg11", "nin", "googlenet", "resnet18", "densenet"]


def initial_loss(spec) -> tuple[float, int]:
    """(cross-entropy of the untrained network on 256 training images, number of classes)."""
    import torch

    import netspec
    from netspec.training.config import resolve
    from netspec.training.data import load_data
    from netspec.training.diagnostics_start import probe_start

    cfg = resolve(spec)
    data = load_data(cfg.data, spec)
    x, y = (torch.as_tensor(a[:256]) for a in data.splits["train"][:2])
    x = data.apply_normalize(x) if data.normalize is not None else x
    model = netspec.build(spec, seed=cfg.seed if cfg.seed is not None else 0)
    loss, _, _ = probe_start(model, x.float(), y.long(), torch.nn.functional.cross_entropy, 0)
    return loss, len(data.labels)


def bench(name: str, variant: str | None, settings: list[str], threads: int, device: str,
          out: str) -> dict:
    import netspec

    spec = netspec.load(ROOT / "specs" / f"{name}.yaml", variant=variant or None,
                        set=settings)
    report = netspec.check(spec)
    start, classes = initial_loss(spec)
    run = netspec.train(spec, out=out, quiet=True, threads=threads, device=device)
    epochs = [row["time"] for row in run.history]
    test = run.summary.get("test") or run.summary.get("val") or {}
    return {"network": name, "variant": variant or "-",
            "input": "×".join(str(d) for d in next(iter(report.graph.inputs.values())).shape),
            "params": report.params, "initial": start, "chance_loss": math.log(classes),
            "accuracy": test.get("accuracy", float("nan")), "train_loss": run.history[-1]["train_loss"],
            "epochs": len(epochs), "samples": spec.train["data"].get("samples"),
            "s_per_epoch": sum(epochs) / len(epochs), "status": run.status,
            "diagnoses": [d.kind for d in run.diagnoses]}


def row(r: dict, markdown: bool) -> str:
    cells = [r["network"], f"{r['variant']}, {r['input']}", f"{r['params']:,}",
             f"{r['initial']:.2f} (ln {round(math.exp(r['chance_loss']))} = "
             f"{r['chance_loss']:.2f})", f"{100 * r['accuracy']:.1f} %",
             f"{r['s_per_epoch']:.0f}", f"{r['epochs']} × {r['samples']}"]
    if markdown:
        return "| " + " | ".join(cells) + " |"
    return "  ".join(f"{c:<{w}}" for c, w in zip(cells, (10, 14, 11, 20, 8, 6, 10))) + (
        f"  {r['status']} {','.join(r['diagnoses'])}")


HEAD = ["network", "variant, input", "params", "initial loss", "test acc.", "s/epoch",
        "epochs × samples"]


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--nets", nargs="+", default=NETS, choices=NETS)
    ap.add_argument("--variant", default="cpu", help='the specs\' variant ("" for the default)')
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="as `netspec train --set`, for every network")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--markdown", action="store_true", help="print a markdown table")
    ap.add_argument("--initial-only", action="store_true",
                    help="only the untrained networks' loss (seconds, no training)")
    args = ap.parse_args(argv)
    settings = [*args.set, f"train.seed={args.seed}"]
    if args.initial_only:
        import netspec

        for name in args.nets:
            spec = netspec.load(ROOT / "specs" / f"{name}.yaml", variant=args.variant or None,
                                set=settings)
            loss, classes = initial_loss(spec)
            print(f"{name:<10}  {loss:.3f}  (ln {classes} = {math.log(classes):.3f})")
        return 0
    if args.markdown:
        print("| " + " | ".join(HEAD) + " |\n|" + "---|" * len(HEAD))
    else:
        print("  ".join(f"{c:<{w}}" for c, w in zip(HEAD, (10, 14, 11, 20, 8, 6, 10))))
    with tempfile.TemporaryDirectory() as out:
        for name in args.nets:
            print(row(bench(name, args.variant, settings, args.threads, args.device, out),
                      args.markdown), flush=True)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
