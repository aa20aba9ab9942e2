"""The Fréchet distance of generated images from real ones (FID, Heusel et al. 2017), on the
features of a small classifier netspec trains once on the same data and caches: no download,
no Inception network (its ImageNet features mean little for 32x32 digits).

    features = FeatureNet.cached(images, labels, cache_dir, seed)   # trains it only once
    fid = frechet(stats(features(real)), stats(features(fake)))
    cover = coverage(features.outputs(fake)[1], labels)          # classes the fakes cover

Images larger than SIDE x SIDE are area-averaged down to it first. The classifier (FEATURE_SPEC, compiled by netspec itself) is two 3x3 conv + 2x2 max-pool
stages and a 64-wide hidden layer whose ReLU output is the feature vector; it trains for a few epochs
with Adam on the real images (as the GAN sees them, in [-1, 1]) and their labels. It is
cached as `<cache_dir>/<key>.safetensors` (written atomically with its checksum, like a
checkpoint), the key a SHA-256 of the images, the labels and the recipe: every run on the
same data shares it, and a resumed run reads the very weights it began with.

    FID = |mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))

with mean mu and covariance S of the features; Tr((S_r S_g)^(1/2)) is the sum of the square
roots of the eigenvalues of S_r^(1/2) S_g S_r^(1/2) (symmetric, so `eigh` in float64).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

FEATURE_SPEC = """
name: fid_features
input: [{c}, {h}, {w}]
outputs: [features, logits]
layers:
  - conv: {{out: 16, kernel: 3, padding: 1}}
  - relu
  - maxpool: 2
  - conv: {{out: 32, kernel: 3, padding: 1}}
  - relu
  - maxpool: 2
  - flatten
  - linear: 64
  - {{relu: {{}}, id: features}}
  - {{linear: {k}, id: logits}}
"""
EPOCHS = 5
SIDE = 16                  # images are seen at most this large (area-averaged down)
BATCH = 64
LR = 1e-3
RECIPE = f"fid-features-1:{EPOCHS}:{BATCH}:{LR}"


@dataclass
class FeatureNet:
    """The trained classifier: `features(x)` gives [N, 64] float64 features of images x in
    [-1, 1]; `accuracy` is its accuracy on the images it learnt from; `path` its cache file."""

    model: torch.nn.Module
    accuracy: float
    path: Path

    @classmethod
    def cached(cls, images: torch.Tensor, labels: torch.Tensor, cache_dir: str | Path,
               seed: int = 0) -> "FeatureNet":
        """The classifier of `images` (in [-1, 1]) and integer `labels`: read from the cache,
        else trained (global generators untouched) and written there."""
        from netspec.compiler.build import build
        from netspec.training import checkpoint

        k = int(labels.max()) + 1
        images = shrink(images)
        c, h, w = images.shape[1:]
        with torch.random.fork_rng(devices=[]):
            model = build(FEATURE_SPEC.format(c=c, h=h, w=w, k=k), seed=seed)
            path = Path(cache_dir) / f"{_key(images, labels, seed)}.safetensors"
            if path.is_file():
                tensors, state = checkpoint.read(path)
                model.load_state_dict(checkpoint.model_tensors(tensors))
                accuracy = state["accuracy"]
            else:
                accuracy = _train(model, images, labels, seed)
                path.parent.mkdir(parents=True, exist_ok=True)
                checkpoint.write(path, dict(model.state_dict()),
                                 {"accuracy": accuracy, "recipe": RECIPE}, json_copy=False)
        return cls(model.eval(), accuracy, path)

    def features(self, x: torch.Tensor) -> np.ndarray:
        return self.outputs(x)[0]

    @torch.no_grad()
    def outputs(self, x: torch.Tensor) -> tuple[np.ndarray, torch.Tensor]:
        """(features [N, 64] float64, class probabilities [N, K]) of images x in [-1, 1]."""
        x = shrink(x)
        out = [self.model(x[i:i + 256].float().cpu()) for i in range(0, len(x), 256)]
        return (torch.cat([f for f, _ in out]).double().numpy(),
                torch.cat([logits for _, logits in out]).double().softmax(1))


def shrink(x: torch.Tensor) -> torch.Tensor:
    """Images [N, C, H, W] averaged down to at most SIDE x SIDE (the classifier's cost falls
    with the pixels; digits hold 8x8 of detail anyway)."""
    h, w = x.shape[-2:]
    if max(h, w) <= SIDE:
        return x
    return torch.nn.functional.adaptive_avg_pool2d(x.float(), (min(h, SIDE), min(w, SIDE)))


def _key(images: torch.Tensor, labels: torch.Tensor, seed: int) -> str:
    digest = hashlib.sha256(RECIPE.encode())
    digest.update(str((tuple(images.shape), seed)).encode())
    digest.update(images.float().cpu().contiguous().numpy().tobytes())
    digest.update(labels.long().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:24]


def _train(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor,
           seed: int) -> float:
    """A few epochs of Adam on cross-entropy; the accuracy on the training images."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = images.float().cpu(), labels.long().cpu()
    model.train()
    for _ in range(EPOCHS):
        order = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), BATCH):
            idx = order[i:i + BATCH]
            loss = torch.nn.functional.cross_entropy(model(x[idx])[1], y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        right = sum(int((model(x[i:i + 256])[1].argmax(1) == y[i:i + 256]).sum())
                    for i in range(0, len(x), 256))
    return right / len(x)


def stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean [D], covariance [D, D]) of features [N, D]."""
    return features.mean(0), np.cov(features, rowvar=False)


def frechet(real: tuple[np.ndarray, np.ndarray], fake: tuple[np.ndarray, np.ndarray]) -> float:
    """The Fréchet distance of two Gaussians given as (mean, covariance).

    >>> s = (np.zeros(2), np.eye(2))
    >>> round(frechet(s, s), 9), round(frechet(s, (np.ones(2), 4 * np.eye(2))), 9)
    (0.0, 4.0)
    """
    (mu1, s1), (mu2, s2) = real, fake
    root = _sqrt_psd(s1)
    middle = np.linalg.eigvalsh(root @ s2 @ root)
    trace_sqrt = float(np.sqrt(np.clip(middle, 0, None)).sum())
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_sqrt)


def _sqrt_psd(s: np.ndarray) -> np.ndarray:
    values, vectors = np.linalg.eigh(s)
    return (vectors * np.sqrt(np.clip(values, 0, None))) @ vectors.T


@dataclass
class Coverage:
    """Which classes the classifier sees in generated images: `shares[k]` the fraction of them
    it calls class k, `covered` how many classes hold at least COVERED_AT of their share of
    the real data, `confidence` its mean top probability."""

    shares: list[float]
    covered: int
    confidence: float


COVERED_AT = 0.5           # a class is covered at half (or more) of its share of the real data


def coverage(probs: torch.Tensor, real_labels: torch.Tensor) -> Coverage:
    """The class coverage of generated images, from the classifier's probabilities [N, K] and
    the real data's labels (their class shares are the yardstick). A generator that has
    collapsed onto a few modes covers few classes, however sharp its images.

    >>> c = coverage(torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]]), torch.tensor([0, 1]))
    >>> [round(v, 3) for v in c.shares], c.covered, round(c.confidence, 3)
    ([0.667, 0.333], 2, 0.8)
    >>> coverage(torch.tensor([[0.9, 0.1], [0.6, 0.4]]), torch.tensor([0, 1])).covered
    1
    """
    k = probs.shape[1]
    shares = torch.bincount(probs.argmax(1), minlength=k).double() / max(len(probs), 1)
    real = torch.bincount(real_labels.long().cpu(), minlength=k).double() / len(real_labels)
    covered = int(((shares >= COVERED_AT * real) & (real > 0)).sum())
    return Coverage([float(v) for v in shares], covered, float(probs.max(1).values.mean()))


def mean_pairwise_distance(x: torch.Tensor) -> float:
    """The mean Euclidean distance between the samples of x [N, ...] (pairs i < j): how
    spread out they are. Samples alike (mode collapse) give a value far below real data's."""
    flat = x.detach().reshape(len(x), -1).double().cpu()
    d = torch.cdist(flat, flat)
    n = len(flat)
    return float(d.sum() / max(n * (n - 1), 1))
