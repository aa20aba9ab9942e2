"""Transfer learning end to end: pretrain a small CNN on the built-in `shapes` (12 classes of
drawn figures, grey 32x32), then fine-tune it on digits at 32x32 with 10 % of digits for
training (the other 90 % is the test set), against the same network trained from scratch on
the same 10 %. Prints both test accuracies (means over seeds) and the time each took.

    python bench/transfer.py               # seeds 0-2
    python bench/transfer.py --seeds 1     # quicker

The body moves by `init: {from: RUN, map: {...}}`; the head (12 -> 10 classes) is replaced:
its shape differs, so it trains from scratch.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import netspec

BODY = """\
input: [1, 32, 32]
layers:
  - {conv: {out: 16, kernel: 3, padding: 1}, id: c1}
  - batchnorm
  - relu
  - {maxpool: 2}
  - {conv: {out: 32, kernel: 3, padding: 1}, id: c2}
  - batchnorm
  - relu
  - {maxpool: 2}
  - {conv: {out: 64, kernel: 3, padding: 1}, id: c3}
  - batchnorm
  - relu
  - global_avgpool
  - flatten
  - {linear: {out: CLASSES}, id: head}
"""

PRETRAIN = "name: pre_shapes\n" + BODY.replace("CLASSES", "12") + """\
train:
  data: {name: shapes, samples: 8000, channels: 1, val: 0.1}
  epochs: 10
  batch_size: 64
  optimizer: {adam: {lr: 2.0e-3}}
  threads: 2
"""

FINETUNE = "name: digits_small\n" + BODY.replace("CLASSES", "10") + """\
train:
  data: {name: digits, size: 32, val: 0, test: 0.9}
  epochs: 30
  batch_size: 32
  optimizer: {adam: {lr: 2.0e-3}}
  threads: 2
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        pre = netspec.train(netspec.loads(PRETRAIN, f"{out}/pre.yaml"), out=out, quiet=True)
        pre_s = time.perf_counter() - start
        print(f"pretrained on shapes: test accuracy {pre.summary['test']['accuracy']:.3f} "
              f"in {pre_s:.0f} s")
        results = {"scratch": [], "transfer": []}
        for seed in range(args.seeds):
            for how in results:
                text = FINETUNE if how == "scratch" else FINETUNE.replace(
                    "  threads: 2\n", f"  threads: 2\n  init: {{from: {pre.path}}}\n")
                start = time.perf_counter()
                run = netspec.train(netspec.loads(text, f"{out}/{how}.yaml"), out=out,
                                    quiet=True, seed=seed)
                acc = run.summary["test"]["accuracy"]
                results[how].append(acc)
                print(f"  seed {seed} {how:<8} test accuracy {acc:.3f} "
                      f"({time.perf_counter() - start:.0f} s)")
    for how, accs in results.items():
        sd = statistics.stdev(accs) if len(accs) > 1 else 0.0
        print(f"{how:<8} on 10 % of digits: test accuracy {statistics.mean(accs):.3f} ± {sd:.3f}")
    gain = statistics.mean(results["transfer"]) - statistics.mean(results["scratch"])
    print(f"transfer - scratch: {gain:+.3f}")


if __name__ == "__main__":
    main()
