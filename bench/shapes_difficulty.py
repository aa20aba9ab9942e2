"""How hard the built-in `shapes` set is: test accuracy of softmax regression, a LeNet-style
CNN, and a plain deep CNN against a ResNet of the same depth and widths, trained by netspec on
the same split (`split_seed` 0).

    .venv/bin/python bench/shapes_difficulty.py                  # all four, 32x32, 10 epochs
    .venv/bin/python bench/shapes_difficulty.py --nets softmax cnn --epochs 5 --samples 6000
    .venv/bin/python bench/shapes_difficulty.py --nets plain resnet --depth 20 --device cuda

Prints one row per network: parameters, seconds per epoch, final training loss, test accuracy.
Chance is 1/12 = 8.3 %. Measured (seed 0, one run each, 2 shared CPU cores, so s/epoch is
inflated by other load; adam, cosine schedule):

    32x32, 10000 samples, 6 epochs:     softmax 10.1 %, cnn 52.6 %, plain-20 86.7 %,
                                        resnet-20 77.2 % (train loss 2.08 / 1.01 / 0.37 / 0.77)
    16x16, 5000 samples, 10 epochs,     plain-44  9.1 % (train loss 2.48 = ln 12: untrained),
    width 8:                            resnet-44 17.4 % (train loss 1.32)

At depth 20 with batchnorm the plain net still trains (and was ahead after 6 epochs); at depth
44 it does not train at all while the ResNet does: the degradation of He et al. 2015, Fig. 1.
"""

from __future__ import annotations

import argparse
import tempfile
import time

TRAIN = """
train:
  data: {{name: shapes, samples: {samples}, size: {size}, val: 0.1, test: 0.2}}
  batch_size: 64
  epochs: {epochs}
  optimizer: {{adam: {{lr: {lr}}}}}
  schedule: {{cosine: {{}}}}
  loss: cross_entropy
  metrics: [accuracy]
  seed: {seed}
"""

SOFTMAX = """
name: shapes_softmax
input: [{flat}]
layers:
  - linear: 12
"""

CNN = """
name: shapes_cnn
input: [3, {size}, {size}]
layers:
  - conv: {{out: 16, kernel: 5, padding: 2}}
  - relu
  - maxpool: 2
  - conv: {{out: 32, kernel: 5, padding: 2}}
  - relu
  - maxpool: 2
  - flatten
  - linear: 128
  - relu
  - linear: 12
"""

# the CIFAR ResNets of He et al. 2015 (§4.2): 3 stages of n blocks at widths w, 2w, 4w, each
# block two 3x3 convs; depth = 6n + 2. `plain` is the same stack without the shortcuts.
DEEP = """
name: shapes_{kind}{depth}
input: [3, {size}, {size}]
blocks:
  plain:
    params: {{out: null, stride: 1}}
    layers:
      - conv: {{out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}}
      - batchnorm
      - relu
      - conv: {{out: $out, kernel: 3, padding: 1, bias: false}}
      - batchnorm
      - relu
layers:
  - conv: {{out: {w}, kernel: 3, padding: 1, bias: false}}
  - batchnorm
  - relu
  - {block}: {{out: {w}}}
    repeat: {n}
  - {block}: {{out: {w2}, stride: 2}}
  - {block}: {{out: {w2}}}
    repeat: {n1}
  - {block}: {{out: {w4}, stride: 2}}
  - {block}: {{out: {w4}}}
    repeat: {n1}
  - global_avgpool
  - linear: 12
"""


def spec_text(net: str, a) -> str:
    n = (a.depth - 2) // 6
    fill = dict(size=a.size, flat=3 * a.size * a.size, w=a.width, w2=2 * a.width,
                w4=4 * a.width, n=n, n1=max(n - 1, 0), depth=a.depth, kind=net,
                block="residual" if net == "resnet" else "plain")
    body = {"softmax": SOFTMAX, "cnn": CNN}.get(net, DEEP).format(**fill)
    lr = a.lr if a.lr is not None else (1e-3 if net == "softmax" else 2e-3)
    return body + TRAIN.format(samples=a.samples, size=a.size, epochs=a.epochs, lr=lr,
                               seed=a.seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nets", nargs="+", default=["softmax", "cnn", "plain", "resnet"],
                        choices=["softmax", "cnn", "plain", "resnet"])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--samples", type=int, default=10000)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--depth", type=int, default=20, help="plain/resnet depth, 6n + 2")
    parser.add_argument("--width", type=int, default=16, help="first stage's channels")
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto")
    a = parser.parse_args()

    import netspec

    print(f"shapes {a.size}x{a.size}, {a.samples} samples, {a.epochs} epochs, seed {a.seed}")
    print(f"{'network':<14} {'params':>9} {'s/epoch':>8} {'train loss':>11} {'test acc':>9}")
    with tempfile.TemporaryDirectory() as out:
        for net in a.nets:
            text = spec_text(net, a)
            started = time.perf_counter()
            run = netspec.train(netspec.loads(text, f"{net}.yaml"), out=out, quiet=True,
                                device=a.device)
            seconds = (time.perf_counter() - started) / max(len(run.history), 1)
            s = run.summary
            label = net if net in ("softmax", "cnn") else f"{net}-{a.depth}"
            params = s["params"]["total"] if isinstance(s["params"], dict) else s["params"]
            print(f"{label:<14} {params:>9,} "
                  f"{seconds:>8.1f} {run.history[-1]['train_loss']:>11.3f} "
                  f"{s['test']['accuracy']:>9.3f}", flush=True)


if __name__ == "__main__":
    main()
