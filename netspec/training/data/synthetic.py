"""Generated data sets: scikit-learn's moons, circles, blobs and make_regression, and a noisy
sine for forecasting. Each is drawn from `split_seed`, so the data stays fixed across training
seeds."""

from __future__ import annotations

import numpy as np

from netspec.training.data.base import Arrays, input_features
from netspec.training.data.sources import BlobsArgs, Noisy, RegressionArgs, SineArgs


def _default(value, default):
    return default if value is None else value


def moons(a: Noisy, shape: tuple, cfg) -> Arrays:
    """Two interleaving half circles (2 features, 2 classes); samples 1000, noise 0.1."""
    from sklearn.datasets import make_moons

    x, y = make_moons(a.samples or 1000, noise=_default(a.noise, 0.1),
                      random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification", ["0", "1"])


def circles(a: Noisy, shape: tuple, cfg) -> Arrays:
    """A circle inside another (2 features, 2 classes); samples 1000, noise 0.05."""
    from sklearn.datasets import make_circles

    x, y = make_circles(a.samples or 1000, noise=_default(a.noise, 0.05), factor=0.5,
                        random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification", ["0", "1"])


def blobs(a: BlobsArgs, shape: tuple, cfg) -> Arrays:
    """Gaussian clusters: `classes` (3) clusters in `features` dims (the spec's input width)."""
    from sklearn.datasets import make_blobs

    k = a.classes or 3
    x, y = make_blobs(a.samples or 1000, n_features=a.features or input_features(shape, 2),
                      centers=k, random_state=cfg.split_seed)
    return Arrays(x.astype(np.float32), y.astype(np.int64), "classification",
                  [str(i) for i in range(k)])


def regression(a: RegressionArgs, shape: tuple, cfg) -> Arrays:
    """A linear target with Gaussian noise (scikit-learn's make_regression), `features` wide (the
    spec's input width, else 8); targets divided by their standard deviation."""
    from sklearn.datasets import make_regression

    x, y = make_regression(a.samples or 1000, n_features=a.features or input_features(shape, 8),
                           noise=_default(a.noise, 10.0), random_state=cfg.split_seed)
    y = y / y.std()
    return Arrays(x.astype(np.float32), y.astype(np.float32)[:, None], "regression")


def sine(a: SineArgs, shape: tuple, cfg) -> Arrays:
    """Next-value forecasting on a noisy sine (period 50 steps): windows [seq, 1] -> the value
    after them. seq: the spec's when it is a number, else 20; samples 1000; noise 0.05. Split in
    time order (no shuffling), so validation and test lie after the training stretch."""
    seq = a.seq or (shape[0] if len(shape) == 2 and isinstance(shape[0], int) else 20)
    n = a.samples or 1000
    rng = np.random.default_rng(cfg.split_seed)
    t = np.arange(n + seq)
    series = np.sin(2 * np.pi * t / 50) + _default(a.noise, 0.05) * rng.standard_normal(len(t))
    windows = np.lib.stride_tricks.sliding_window_view(series[:-1], seq)[:n]
    return Arrays(windows[:, :, None].astype(np.float32), series[seq:seq + n, None]
                  .astype(np.float32), "regression", normalize=False, shuffle=False,
                  hint="set `seq:` in `data:` to the spec's sequence length")
