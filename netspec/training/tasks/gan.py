"""`gan`: a generator and a discriminator trained against each other (DCGAN: Radford, Metz &
Chintala 2015), from a spec with `networks: {generator, discriminator}`.

    train:
      task: gan                          # or {gan: {loss: lsgan, samples: 64, fid: true}}
      data: {name: digits, size: 32}     # images: the discriminator's input shape

One step on a batch of real images x (scaled from [0, 1] to [-1, 1], a tanh's range) and
noise z ~ N(0, 1) of the generator's input shape, with D's scores s (logits, or
probabilities when D ends in a sigmoid) and the adversarial loss L(s, target):

    D:  L(D(x), 1) + L(D(G(z)), 0)       G(z) detached: only D learns from it
    G:  L(D(G(z)), 1)                    non-saturating: G maximises log D(G(z))

`loss: bce` (default) is binary cross-entropy (with logits when D outputs logits); `loss:
lsgan` is least squares, (s - target)^2 (Mao et al. 2017). Adam lr 2e-4, betas (0.5, 0.999)
unless the spec gives an optimizer. Every sample of the data trains (no val/test split).

Per epoch: `samples/epoch_NNN.png`, a grid of G's images from one fixed noise batch (the
same every epoch, from the seed), written atomically; columns `train_d_loss`, `train_g_loss`,
`train_d_real`, `train_d_fake` (D's mean probability that real / generated images are
real), `fid` (netspec.training.fid: on the features of a small classifier trained once on
the data and cached in `<out>/.fid/`), `classes` and `confidence` (how many of the data's
classes that classifier finds among the generated images, each at least half its share of
the data, and its mean top probability: a collapse onto a few modes shows as few classes) and
`diversity` (mean pairwise distance of the fixed noise's images / that of as many real
images). `best` is the epoch of the lowest fid: its grid is also `samples/best.png`, its class
shares the summary's `classes`.
"""

from __future__ import annotations

import io
import math
from typing import Literal

from netspec.errors import SpecError
from netspec.kinds.argtypes import Args, Bool, PositiveInt
from netspec.training import diagnostics
from netspec.training.diagnostics import Diagnosis
from netspec.training.tasks.base import TASKS, Task
from netspec.training.tasks.sums import ColumnSums

COLLAPSE_BELOW = 0.25          # diversity under this: the samples are alike
WIN_ABOVE, WIN_BELOW = 0.95, 0.05   # d_real above and d_fake below: D wins outright
WIN_EPOCHS = 3                 # ... for this many epochs, while g_loss rises
NOISE_SEED = 7_000_003          # the fixed noise batch's generator: this + train.seed
COLUMNS = ("d_loss", "g_loss", "d_real", "d_fake")


class GanArgs(Args):
    loss: Literal["bce", "lsgan"] = "bce"
    samples: PositiveInt = 64          # images in the per-epoch grid (a square number reads best)
    fid: Bool = True
    fid_samples: PositiveInt = 1000    # generated images the fid compares with the data


@TASKS.add("gan", GanArgs)
class Gan(Task):
    """A generator (noise [z] -> image) against a discriminator (image -> [1] or [1, N, N])."""

    networks = ("generator", "discriminator")
    evaluates = False

    def __init__(self) -> None:
        self.noise = None              # the fixed noise batch of the sample grids
        self.real = None               # (fid statistics, mean pairwise distance) of the data
        self.features = None
        self.best_cover = None         # the class coverage of the best epoch's samples

    # ---- before training ------------------------------------------------------------------

    def args(self, cfg) -> GanArgs:
        return cfg.task.args if cfg.task is not None and cfg.task.name == self.name \
            else GanArgs()

    def complete(self, cfg, has_val: bool = False):
        from netspec.training.optim import OPTIMIZERS

        update = {"metrics": cfg.metrics or (), "monitor": cfg.monitor or
                  ("fid" if self.args(cfg).fid else "train_g_loss")}
        if not cfg.given("optimizer") and not cfg.given("lr"):
            update["optimizer"] = OPTIMIZERS.choose("adam", {"lr": 2e-4, "betas": [0.5, 0.999]},
                                                    None, None, None)
        return cfg.model_copy(update=update)

    def data_spec(self, spec):
        return spec.networks["discriminator"]

    def load_data(self, cfg, spec, fold=None):
        """Every sample trains, in [0, 1] (not standardised): the step scales it to [-1, 1]."""
        from netspec.training.data import load_data

        data_cfg = cfg.data.model_copy(update={"val": 0.0, "test": 0.0, "normalize": False})
        return load_data(data_cfg, self.data_spec(spec), cfg.where, fold)

    def check(self, cfg, data, graphs) -> None:
        if cfg.loss is not None:
            raise SpecError("the gan task's loss is its own argument, not `loss:`",
                            cfg.where("loss"), hint="write `task: {gan: {loss: lsgan}}` for "
                            "least squares (the default is bce)")
        if cfg.metrics:
            raise SpecError("the gan task logs its own metrics (d_loss, g_loss, d_real, "
                            "d_fake, fid)", cfg.where("metrics"), hint="leave out `metrics:`")
        known = self.columns(cfg)
        es = cfg.early_stopping
        for name, path in ((cfg.monitor, ("monitor",)),
                           *([(es.monitor, ("early_stopping",))] if es else [])):
            if name not in known:
                raise SpecError(f"`{name}` is not logged by the gan task", cfg.where(*path),
                                hint=diagnostics_hint(known))
        if self.args(cfg).fid and data.num_classes is None:
            raise SpecError(f"the fid needs class labels to train its feature classifier on, "
                            f"and `{data.name}` has none", cfg.where("data"),
                            hint="use labelled images (digits, shapes, a folder per class), "
                                 "or `task: {gan: {fid: false}}`")

    def columns(self, cfg) -> list[str]:
        cols = ["train_loss", *(f"train_{c}" for c in COLUMNS), "diversity"]
        return cols + (["fid", "classes", "confidence"] if self.args(cfg).fid else [])

    def output_kind(self, cfg, data, graphs) -> str:
        (name, graph), = graphs.items()
        last = graph.nodes[next(iter(graph.outputs.values()))].kind
        return diagnostics.produced_by(last) or ("logits" if name == "discriminator" else "values")

    def network_data(self, name: str, data) -> dict:
        """The generator takes noise as it is; the discriminator images scaled as the data
        is, then from [0, 1] to [-1, 1]: (x - 0.5) / 0.5."""
        if name == "discriminator":
            channels = data.input_shape[0]
            return {"normalize": {"mean": [0.5] * channels, "std": [0.5] * channels}}
        return {"scale": 1.0, "normalize": None}

    def metric_names(self, cfg) -> list[str]:
        return list(COLUMNS)

    def minimize(self, name: str) -> bool:
        from netspec.training.metrics import minimize

        if name in ("classes", "confidence", "diversity"):
            return False
        return name in ("fid", "train_g_loss", "train_d_loss") or minimize(name)

    def tracker(self, cfg, data):
        return GanTracker()

    def state(self, t) -> tuple[dict, dict]:
        return {}, ({"best_classes": self.best_cover} if self.best_cover is not None else {})

    def load_state(self, t, tensors: dict, state: dict) -> None:
        self.best_cover = state.get("best_classes")

    # ---- training -------------------------------------------------------------------------

    def step(self, t, x, y) -> None:
        import torch

        g, d = t.nets["generator"], t.nets["discriminator"]      # DDP under torchrun
        adversarial = ADVERSARIAL[self.args(t.cfg).loss]
        graph = t.models["discriminator"].netspec_graph
        probs = self.output_kind(t.cfg, t.data, {"discriminator": graph}) == "probabilities"
        real = x * 2 - 1
        z = torch.randn(len(x), *self.z_shape(t), device=x.device)
        with torch.autocast(t.device.type, enabled=t.amp):
            fake = g(z)
            s_real, s_fake = d(real), d(fake.detach())
            loss_d = adversarial(s_real, 1.0, probs) + adversarial(s_fake, 0.0, probs)
        t.optimize(loss_d, "discriminator")
        with torch.autocast(t.device.type, enabled=t.amp):
            s_gen = d(fake)
            loss_g = adversarial(s_gen, 1.0, probs)
        t.optimize(loss_g, "generator")
        t.tracker.update(len(x), loss_d, loss_g, _prob(s_real, probs), _prob(s_fake, probs))

    def z_shape(self, t) -> tuple:
        return tuple(next(iter(t.models["generator"].netspec_graph.inputs.values())).shape)

    def end_epoch(self, t, row: dict) -> None:
        """The epoch's sample grid and columns: measured by rank 0 alone under torchrun, its
        numbers then given to every rank (early stopping and the schedule decide alike)."""
        if t.ctx.main:
            self.measure(t, row)
        t.ctx.share(row, [c for c in self.columns(t.cfg) if not c.startswith("train_")])

    def measure(self, t, row: dict) -> None:
        """The fixed noise's sample grid, the fid and the diversity of this epoch."""
        import torch

        g = t.models["generator"]
        args = self.args(t.cfg)
        real_x = t.train_x * 2 - 1
        if self.noise is None:
            # its own generator, from the seed alone: the training's draws are untouched
            gen = torch.Generator().manual_seed(NOISE_SEED + t.cfg.seed)
            n = max(args.samples, args.fid_samples if args.fid else 0)
            self.noise = torch.randn(n, *self.z_shape(t), generator=gen).to(t.device)
        was = g.training
        g.eval()
        with torch.no_grad():
            fake = torch.cat([g(self.noise[i:i + 256]) for i in range(0, len(self.noise), 256)])
        g.train(was)
        grid = fake[:args.samples]
        if self.real is None:
            from netspec.training.fid import mean_pairwise_distance

            picked = real_x[:len(grid)]
            self.real = {"spread": mean_pairwise_distance(picked)}
        from netspec.training.fid import frechet, mean_pairwise_distance, stats

        row["diversity"] = mean_pairwise_distance(grid) / max(self.real["spread"], 1e-12)
        cover = None
        if args.fid:
            from netspec.training.fid import coverage

            features = self.feature_net(t, real_x)
            if "stats" not in self.real:
                self.real["stats"] = stats(features.features(real_x))
            fake_features, probs = features.outputs(fake)
            row["fid"] = frechet(self.real["stats"], stats(fake_features))
            cover = coverage(probs, t.train_y)
            row["classes"], row["confidence"] = float(cover.covered), cover.confidence
        best = t.improved(row)          # the loop keeps this epoch's weights as `best`
        if best and cover is not None:
            self.best_cover = {"epoch": row["epoch"], "covered": cover.covered,
                               "of": len(cover.shares), "confidence": round(cover.confidence, 4),
                               "shares": [round(v, 4) for v in cover.shares]}
        if t.run is not None:
            png = grid_png(grid)
            t.run.write_bytes(f"samples/epoch_{row['epoch']:03d}.png", png)
            if best:
                t.run.write_bytes("samples/best.png", png)

    def feature_net(self, t, real_x):
        from pathlib import Path

        from netspec.training.fid import FeatureNet

        if self.features is None:
            self.features = FeatureNet.cached(real_x, t.train_y, Path(t.cfg.out) / ".fid",
                                              t.cfg.seed)
        return self.features

    def epoch_diagnoses(self, t) -> list:
        return [collapse(t.history), discriminator_wins(t.history), diverged(t.history)]

    def recovered(self, t, d) -> bool:
        return d.kind == "d_wins" and discriminator_lost_its_lead(t.history)

    def end_diagnoses(self, t) -> list:
        return []

    def finish(self, t, summary: dict) -> None:
        if self.features is not None:
            summary["fid"] = {"features": str(self.features.path),
                              "classifier_train_accuracy": self.features.accuracy,
                              "samples": len(self.noise) if self.noise is not None else 0}
        if self.best_cover is not None:
            summary["classes"] = self.best_cover
        if t.history:
            summary["last"] = {k: t.history[-1].get(k) for k in self.columns(t.cfg)}
            summary["samples"] = f"samples/epoch_{t.history[-1]['epoch']:03d}.png"
            if t.best:
                summary["best_samples"] = "samples/best.png"


def diagnostics_hint(known: list[str]) -> str:
    return f"the gan task logs {', '.join(known)}"


# ---- the adversarial losses ---------------------------------------------------------------

def _bce(score, target: float, probs: bool):
    """Binary cross-entropy of D's scores against the constant `target` (1 real, 0 fake)."""
    import torch
    from torch.nn import functional as F

    want = torch.full_like(score, target)
    if probs:
        return F.binary_cross_entropy(score.float().clamp(1e-7, 1 - 1e-7), want.float())
    return F.binary_cross_entropy_with_logits(score.float(), want.float())


def _least_squares(score, target: float, probs: bool):
    """(score - target)^2, averaged (LSGAN's a=0, b=c=1)."""
    return ((score.float() - target) ** 2).mean()


ADVERSARIAL = {"bce": _bce, "lsgan": _least_squares}


def _prob(score, probs: bool):
    """D's mean probability that its inputs are real."""
    s = score.detach().float()
    return s.mean() if probs else s.sigmoid().mean()


class GanTracker(ColumnSums):
    """One epoch's sums: [count, d_loss + g_loss, d_loss, g_loss, d_real, d_fake]."""

    columns = COLUMNS

    def update(self, n: int, loss_d, loss_g, d_real, d_fake) -> None:
        self.add(n, loss_d.detach().double() + loss_g.detach().double(), loss_d, loss_g,
                 d_real, d_fake)


# ---- what looks wrong (pure functions of the history) -------------------------------------

def collapse(history: list[dict]) -> Diagnosis | None:
    """Mode collapse: the fixed noise's images are far more alike than real images are."""
    if not history or history[-1].get("diversity") is None:
        return None
    ratio = history[-1]["diversity"]
    if not math.isfinite(ratio) or ratio >= COLLAPSE_BELOW:
        return None
    return Diagnosis("mode_collapse", f"the generator's samples look alike (mode collapse): "
                     f"they are {ratio:.0%} as far apart as real images (epoch "
                     f"{history[-1]['epoch']})", "lower the learning rate, use `loss: lsgan`, "
                     "or give the generator more noise dimensions; look at the sample grid")


def discriminator_wins(history: list[dict]) -> Diagnosis | None:
    """The discriminator wins outright: it tells real from generated almost perfectly for
    WIN_EPOCHS epochs while the generator's loss rises, so G learns nothing."""
    last = history[-WIN_EPOCHS:]
    if len(last) < WIN_EPOCHS or any(r.get("train_d_real") is None for r in last):
        return None
    wins = all(_wins(r) for r in last)
    rising = last[-1]["train_g_loss"] > last[0]["train_g_loss"]
    if not (wins and rising):
        return None
    return Diagnosis("d_wins", f"the discriminator wins outright: it scores real images "
                     f"{last[-1]['train_d_real']:.2f} and generated ones "
                     f"{last[-1]['train_d_fake']:.2f}, and the generator's loss rose from "
                     f"{last[0]['train_g_loss']:.3g} to {last[-1]['train_g_loss']:.3g} over "
                     f"{WIN_EPOCHS} epochs", "give the discriminator less capacity or a lower "
                     "learning rate (`optimizers: {discriminator: {adam: {lr: 1.0e-4}}}`)")


def _wins(row: dict) -> bool:
    return row["train_d_real"] > WIN_ABOVE and row["train_d_fake"] < WIN_BELOW


def discriminator_lost_its_lead(history: list[dict]) -> bool:
    """The discriminator has not won outright for WIN_EPOCHS epochs running: its warning is
    withdrawn (the generator caught up, as GANs do in turns)."""
    last = history[-WIN_EPOCHS:]
    return len(last) == WIN_EPOCHS and all(r.get("train_d_real") is not None and not _wins(r)
                                           for r in last)


def diverged(history: list[dict]) -> Diagnosis | None:
    """A loss or the fid that is no longer a finite number."""
    if not history:
        return None
    row = history[-1]
    bad = [k for k in ("train_d_loss", "train_g_loss", "fid")
           if isinstance(row.get(k), float) and not math.isfinite(row[k])]
    if not bad:
        return None
    return Diagnosis("gan_diverged", f"training diverged: {', '.join(bad)} became "
                     f"{row[bad[0]]} in epoch {row['epoch']}", "lower the learning rates, "
                     "or use `loss: lsgan`")


def grid_png(images) -> bytes:
    """Images [N, C, H, W] in [-1, 1] tiled into one PNG, rows of ceil(sqrt(N)), 2 px apart."""
    import numpy as np
    from PIL import Image

    x = ((images.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
    n, c, h, w = x.shape
    cols = math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    pad = 2
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, np.uint8)
    for i in range(n):
        r, col = divmod(i, cols)
        top, left = pad + r * (h + pad), pad + col * (w + pad)
        canvas[top:top + h, left:left + w] = x[i].transpose(1, 2, 0)
    img = Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
