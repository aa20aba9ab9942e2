"""ViT-B/16 forward time: netspec's build of specs/vit_b_16.yaml against the same network in
plain torch (tests/tv_reference_2c.py, torchvision's layout and names).

The plain network's weights load strictly by name into the netspec build, the outputs must
agree, then CPU forward passes (eval, no_grad, batch 1 by default) are timed in alternating
rounds, so drift in machine load hits both alike; the ratio of the mean times netspec / plain
is printed (and the median of the rounds' ratios and the ratio of the fastest rounds, which
a busy machine disturbs less). The goal is <= 1.05 (attention is one fused nn.MultiheadAttention in both).

    python bench/vit_forward.py [--iters 20] [--rounds 5] [--batch 1] [--threads 0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

import netspec

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from tv_reference_2c import vit_b_16  # noqa: E402  (the reference the zoo's tests load)


def _time(model, x, iters: int) -> float:
    """Mean seconds of one forward pass over `iters` passes."""
    start = time.perf_counter()
    for _ in range(iters):
        model(x)
    return (time.perf_counter() - start) / iters


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=20, help="forward passes per round")
    ap.add_argument("--rounds", type=int, default=5, help="alternating rounds of each")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    plain = vit_b_16().eval()
    ours = netspec.build(ROOT / "specs" / "vit_b_16.yaml").eval()
    ours.load_state_dict(plain.state_dict(), strict=True)
    x = torch.randn(args.batch, 3, 224, 224)
    with torch.inference_mode(False), torch.no_grad():
        diff = (ours(x) - plain(x)).abs().max().item()
        assert diff < 1e-4, f"outputs differ by {diff}"
        for model in (ours, plain):            # warm-up: allocator, kernels, caches
            _time(model, x, 3)
        times = {"netspec": [], "plain": []}
        for _ in range(args.rounds):
            times["netspec"].append(_time(ours, x, args.iters))
            times["plain"].append(_time(plain, x, args.iters))
    mean = {k: statistics.fmean(v) for k, v in times.items()}
    print(f"ViT-B/16 forward, CPU, batch {args.batch}, {torch.get_num_threads()} threads, "
          f"{args.rounds} x {args.iters} passes each; outputs agree to {diff:.1e}")
    for k, v in mean.items():
        print(f"  {k:8s} {v * 1e3:8.1f} ms  (rounds: "
              f"{', '.join(f'{t * 1e3:.1f}' for t in times[k])})")
    paired = statistics.median(a / b for a, b in zip(times["netspec"], times["plain"]))
    best = min(times["netspec"]) / min(times["plain"])
    print(f"ratio netspec / plain: {mean['netspec'] / mean['plain']:.3f} of the means, "
          f"{paired:.3f} the median of the rounds' ratios, {best:.3f} of the fastest rounds "
          f"(goal <= 1.05)")


if __name__ == "__main__":
    main()
