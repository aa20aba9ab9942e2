"""netspec's `gan` task against a plain-torch DCGAN loop: the same networks (written out in
torch below, as specs/dcgan_digits.yaml has them), the same data (digits, 32x32 bilinear, in
[-1, 1]), the same init (DCGAN's: the spec's `init: dcgan`, the loop's own N(0, 0.02) and
N(1, 0.02) below), the same steps (epochs x batches of 32, Adam 2e-4 betas (0.5, 0.999),
non-saturating BCE with logits), and the same fid (netspec.training.fid, one cached feature
classifier, 1000 samples of one fixed noise). One run each; prints both fids and wall times.

    OMP_NUM_THREADS=2 nice -n 10 python bench/gan_vs_torch.py [--epochs 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

import netspec
from netspec.training.data.bundled import DigitsArgs, digits
from netspec.training.fid import FeatureNet, frechet, stats

SPEC = Path(__file__).resolve().parents[1] / "specs" / "dcgan_digits.yaml"


def up(cin: int, cout: int, stride: int = 2, padding: int = 1) -> list[nn.Module]:
    return [nn.ConvTranspose2d(cin, cout, 4, stride, padding, bias=False), nn.BatchNorm2d(cout),
            nn.ReLU()]


def down(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2)]


def networks(z: int = 100, w: int = 32) -> tuple[nn.Module, nn.Module]:
    """The DCGAN init of the tutorial (N(0, 0.02) convs, N(1, 0.02) batchnorm scales)."""
    g = nn.Sequential(*up(z, 4 * w, 1, 0), *up(4 * w, 2 * w), *up(2 * w, w),
                      nn.ConvTranspose2d(w, 1, 4, 2, 1, bias=False), nn.Tanh())
    d = nn.Sequential(nn.Conv2d(1, w, 4, 2, 1, bias=False), nn.LeakyReLU(0.2),
                      *down(w, 2 * w), *down(2 * w, 4 * w), nn.Conv2d(4 * w, 1, 4, bias=False),
                      nn.Flatten())
    for m in [*g.modules(), *d.modules()]:
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, 0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1, 0.02)
            nn.init.zeros_(m.bias)
    return g, d


def plain_torch(x: torch.Tensor, epochs: int, batch: int, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    g, d = networks()
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.5, 0.999))
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for i in range(0, len(x) - 1, batch):
            real = x[order[i:i + batch]]
            fake = g(torch.randn(len(real), 100, 1, 1))
            s_real, s_fake = d(real), d(fake.detach())
            loss_d = F.binary_cross_entropy_with_logits(s_real, torch.ones_like(s_real)) + \
                F.binary_cross_entropy_with_logits(s_fake, torch.zeros_like(s_fake))
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            s_gen = d(fake)
            loss_g = F.binary_cross_entropy_with_logits(s_gen, torch.ones_like(s_gen))
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
    return g.eval()


def fid_of(g: nn.Module, features: FeatureNet, real_stats, n: int = 1000) -> float:
    with torch.no_grad():
        z = torch.randn(n, 100, 1, 1, generator=torch.Generator().manual_seed(1))
        return frechet(real_stats, stats(features.features(g(z))))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    arrays = digits(DigitsArgs(size=32, resample="bilinear"), (1, 32, 32), None)
    x, y = torch.from_numpy(arrays.x) * 2 - 1, torch.from_numpy(arrays.y)
    with tempfile.TemporaryDirectory() as out:
        features = FeatureNet.cached(x, y, Path(out) / ".fid")
        real_stats = stats(features.features(x))
        began = time.perf_counter()
        run = netspec.train(str(SPEC), out=out, epochs=args.epochs, quiet=True)
        ours = time.perf_counter() - began
        g = netspec.build(run.path / "spec.yaml", network="generator")
        from netspec.training.rundir import RunDir

        g.load_state_dict(RunDir(run.path).read_network_weights("generator", "last"))
        fid_ours = fid_of(g.eval(), features, real_stats)
        began = time.perf_counter()
        fid_torch = fid_of(plain_torch(x, args.epochs, 32), features, real_stats)
        theirs = time.perf_counter() - began
    print(f"epochs {args.epochs}, batch 32, {torch.get_num_threads()} threads")
    print(f"netspec gan task: fid {fid_ours:.1f} (last epoch)  {ours:.0f} s")
    print(f"plain torch loop: fid {fid_torch:.1f} (last epoch)  {theirs:.0f} s")


if __name__ == "__main__":
    main()
