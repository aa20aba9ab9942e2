"""Forward-pass overhead of a netspec-built network against the same network in plain torch.

ResNet-18 is written twice: as a netspec spec (specs/resnet18_tv.yaml when its state_dict names
are torchvision's, else the spec below) and by hand in plain torch (torchvision's layout and
names). The same weights go into both, the outputs must agree to 1e-6, then CPU forward passes
are timed in alternating rounds (so drift in machine load hits both alike) and the ratio
netspec / plain is printed; the target is <= 1.02. Also: the build time of ResNet-50
(specs/resnet50_tv.yaml, else the spec below).

    python bench/forward_overhead.py [--iters 100] [--size 224] [--batch 1] [--threads 1]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import torch
from torch import nn

import netspec

ROOT = Path(__file__).resolve().parents[1]

RESNET18 = """\
name: resnet18_bench
input: [3, 224, 224]
blocks:
  stage:
    params: {out: null, stride: 1}
    layers:
      - residual: {out: $out, stride: $stride}
      - residual: {out: $out}
layers:
  - conv: {out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
    id: conv1
  - batchnorm:
    id: bn1
  - relu:
    id: relu
  - maxpool: {kernel: 3, stride: 2, padding: 1}
    id: maxpool
  - stage: {out: 64}
    id: layer1
  - stage: {out: 128, stride: 2}
    id: layer2
  - stage: {out: 256, stride: 2}
    id: layer3
  - stage: {out: 512, stride: 2}
    id: layer4
  - global_avgpool:
    id: avgpool
  - linear: 1000
    id: fc
"""

RESNET50 = """\
name: resnet50_bench
input: [3, 224, 224]
layers:
  - conv: {out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
    id: conv1
  - batchnorm:
    id: bn1
  - relu:
    id: relu
  - maxpool: {kernel: 3, stride: 2, padding: 1}
    id: maxpool
  - bottleneck: {out: 64}
    id: layer1
    repeat: 3
  - bottleneck: {out: 128, stride: 2}
    id: layer2a
  - bottleneck: {out: 128}
    id: layer2
    repeat: 3
  - bottleneck: {out: 256, stride: 2}
    id: layer3a
  - bottleneck: {out: 256}
    id: layer3
    repeat: 5
  - bottleneck: {out: 512, stride: 2}
    id: layer4a
  - bottleneck: {out: 512}
    id: layer4
    repeat: 2
  - global_avgpool:
    id: avgpool
  - linear: 1000
    id: fc
"""


class BasicBlock(nn.Module):
    def __init__(self, cin: int, out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.relu = nn.ReLU(inplace=False)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or cin != out:
            self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNet18(nn.Module):
    """torchvision.models.resnet18, written out (same module names)."""

    def __init__(self, classes: int = 1000):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        chans = [64, 64, 128, 256, 512]
        for i in range(1, 5):
            stride = 1 if i == 1 else 2
            setattr(self, f"layer{i}", nn.Sequential(BasicBlock(chans[i - 1], chans[i], stride),
                                                     BasicBlock(chans[i], chans[i])))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(512, classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def netspec_resnet18(plain: nn.Module) -> tuple[nn.Module, str]:
    """The netspec ResNet-18 with `plain`'s weights: the zoo spec if its names fit."""
    for zoo in (ROOT / "specs" / "resnet18_tv.yaml", ROOT / "specs" / "resnet18.yaml"):
        if not zoo.exists():
            continue
        model = netspec.build(zoo)
        try:
            model.load_state_dict(plain.state_dict())
            return model, str(zoo.relative_to(ROOT))
        except RuntimeError:
            pass                       # other names or sizes: try the next
    model = netspec.build(RESNET18)
    model.load_state_dict(plain.state_dict())
    return model, "the spec in bench/forward_overhead.py"


def randomise_batchnorms(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
                m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.weight.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.copy_(torch.randn(m.num_features, generator=g) * 0.1)


def time_rounds(models: dict[str, nn.Module], x: torch.Tensor, iters: int,
                rounds: int) -> dict[str, list[float]]:
    """Per-forward seconds of each model, in `rounds` alternating rounds of iters/rounds."""
    per_round = max(1, iters // rounds)
    times: dict[str, list[float]] = {name: [] for name in models}
    names = list(models)
    with torch.inference_mode():
        for m in models.values():                # warm up
            for _ in range(3):
                m(x)
        for r in range(rounds):
            for name in (names if r % 2 == 0 else names[::-1]):
                start = time.perf_counter()
                for _ in range(per_round):
                    models[name](x)
                times[name].append((time.perf_counter() - start) / per_round)
    return times


def build_time_resnet50() -> tuple[float, float, int, str]:
    zoo = ROOT / "specs" / "resnet50_tv.yaml"
    source: str | Path = zoo if zoo.exists() else RESNET50
    where = str(zoo.relative_to(ROOT)) if zoo.exists() else "the spec in bench/forward_overhead.py"
    netspec.build(source)                         # warm: imports, block library parsed
    start = time.perf_counter()
    spec = netspec.load(source) if isinstance(source, Path) else netspec.loads(source)
    report = netspec.check(spec)
    checked = time.perf_counter() - start
    start = time.perf_counter()
    model = netspec.build(spec)
    built = time.perf_counter() - start
    params = sum(p.numel() for p in model.parameters())
    assert params == report.params
    return checked, built, params, where


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iters", type=int, default=100, help="forward passes per model")
    ap.add_argument("--rounds", type=int, default=25, help="alternating timing rounds")
    ap.add_argument("--size", type=int, default=224, help="input height and width")
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch CPU threads (default 1: on a small shared machine more threads "
                         "time the scheduler, not netspec; 0 keeps torch's default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    plain = ResNet18()
    randomise_batchnorms(plain)
    model, where = netspec_resnet18(plain)
    plain.eval(), model.eval()
    x = torch.randn(args.batch, 3, args.size, args.size)
    with torch.inference_mode():
        diff = (model(x) - plain(x)).abs().max().item()
    print(f"ResNet-18 from {where}: {sum(p.numel() for p in model.parameters()):,} params; "
          f"max |netspec - plain| = {diff:.2e}")
    if diff > 1e-6:
        raise SystemExit(f"outputs differ by {diff:.2e} (> 1e-6)")

    times = time_rounds({"netspec": model, "plain": plain}, x, args.iters, args.rounds)
    med = {k: statistics.median(v) for k, v in times.items()}
    mean = {k: statistics.fmean(v) for k, v in times.items()}
    print(f"CPU forward, batch {args.batch}, {args.size}x{args.size}, {args.iters} passes each "
          f"in {args.rounds} alternating rounds, {torch.get_num_threads()} threads:")
    for k in times:
        print(f"  {k:8s} median {med[k] * 1e3:8.3f} ms   mean {mean[k] * 1e3:8.3f} ms")
    paired = statistics.median(a / b for a, b in zip(times["netspec"], times["plain"]))
    print(f"  ratio netspec/plain: {paired:.3f}x (median of the rounds' ratios; of medians "
          f"{med['netspec'] / med['plain']:.3f}x, of means {mean['netspec'] / mean['plain']:.3f}x)"
          f"; target <= 1.02x")

    checked, built, params, where50 = build_time_resnet50()
    print(f"ResNet-50 from {where50} ({params:,} params): load + check {checked * 1e3:.0f} ms, "
          f"build {built * 1e3:.0f} ms")


if __name__ == "__main__":
    main()
