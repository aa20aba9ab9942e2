"""`cyclegan`: unpaired image-to-image translation (Zhu, Park, Isola & Efros 2017) with two
generators g_ab: A -> B, g_ba: B -> A and two PatchGAN discriminators d_a, d_b, from a spec with
`networks: {g_ab, g_ba, d_a, d_b}` and two image domains, `data: {a: ..., b: ...}`.

    train:
      task: cyclegan                  # or {cyclegan: {cycle: 10, identity: 0.5, pool: 50}}
      data: {a: {name: digits, size: 32}, b: {name: digits_ink, size: 32}}

Images are scaled from [0, 1] to [-1, 1] (a tanh's range). With least squares on every score
of D's N×N patch map (LSGAN, the paper's choice), λ = `cycle`, and the identity weight
`identity`·λ, one step on a batch (a, b):

    G (g_ab and g_ba, one step each on one loss):
        (d_b(g_ab(a)) - 1)² + (d_a(g_ba(b)) - 1)²                          adversarial
      + λ (|g_ba(g_ab(a)) - a|₁ + |g_ab(g_ba(b)) - b|₁)                    cycle
      + identity·λ (|g_ab(b) - b|₁ + |g_ba(a) - a|₁)                       identity
    D_a: ½ ((d_a(a) - 1)² + d_a(pool_a(g_ba(b)))²), D_b likewise            fakes detached

(means over pixels and patches). `pool` > 0 keeps that many past generated images per domain
(Shrivastava et al. 2017): once full, each new image replaces a random stored one with
probability ½ and D sees the stored one instead. The pool's contents and its random draws (from
torch's generator, which the trainer seeds per epoch) are in the resume state, so a resumed
run is bit-identical. Adam lr 2e-4, betas (0.5, 0.999) unless the spec gives an optimizer.

Per epoch: `samples/epoch_NNN.png` with the same `samples` images of each domain every epoch,
six rows: a, g_ab(a), g_ba(g_ab(a)), b, g_ba(b), g_ab(g_ba(b)); columns `train_d_a`,
`train_d_b`, `train_g` (adversarial), `train_cycle`, `train_identity` (unweighted L1s) and
`train_loss` = their weighted sum as G minimises it plus the D losses. `best` is the epoch of
the lowest `train_cycle`.
"""

from __future__ import annotations

import io

from netspec.errors import SpecError
from netspec.kinds.argtypes import (Args, NonNegativeFloat, NonNegativeInt, PositiveFloat,
                                    PositiveInt)
from netspec.training.tasks.base import TASKS, Task
from netspec.training.tasks.sums import ColumnSums

COLUMNS = ("d_a", "d_b", "g", "cycle", "identity")
NETWORKS = ("g_ab", "g_ba", "d_a", "d_b")


class CycleGanArgs(Args):
    cycle: PositiveFloat = 10.0         # λ
    identity: NonNegativeFloat = 0.5               # times λ; 0 leaves the identity loss out
    pool: NonNegativeInt = 50           # past fakes D sees; 0: only the current batch
    samples: PositiveInt = 8            # images of each domain in the per-epoch pairs


@TASKS.add("cyclegan", CycleGanArgs)
class CycleGan(Task):
    """Two generators (A -> B, B -> A) and two PatchGAN discriminators on unpaired domains."""

    networks = NETWORKS
    evaluates = False

    def __init__(self) -> None:
        self.pools: dict = {"a": None, "b": None}     # [k, C, H, W] past fakes of each domain

    def args(self, cfg) -> CycleGanArgs:
        return cfg.task.args if cfg.task is not None and cfg.task.name == self.name \
            else CycleGanArgs()

    # ---- before training ------------------------------------------------------------------

    def complete(self, cfg, has_val: bool = False):
        from netspec.training.optim import OPTIMIZERS

        update = {"metrics": (), "monitor": cfg.monitor or "train_cycle"}
        if not cfg.given("optimizer") and not cfg.given("lr"):
            update["optimizer"] = OPTIMIZERS.choose("adam", {"lr": 2e-4, "betas": [0.5, 0.999]},
                                                    None, None, None)
        return cfg.model_copy(update=update)

    def data_spec(self, spec):
        return spec.networks["g_ab"]

    def load_data(self, cfg, spec, fold=None):
        """Every image trains, in [0, 1] (not standardised): the step scales to [-1, 1]."""
        from netspec.training.data import load_data

        if cfg.data.source != "a":
            raise SpecError(f"the cyclegan task trains on two domains, `data: {{a: ..., b: "
                            f"...}}`; this `data:` names one (`{cfg.data.source}`)",
                            cfg.where("data"), hint="write `data: {a: {name: digits, size: "
                            "32}, b: {name: digits_ink, size: 32}}`")
        data_cfg = cfg.data.model_copy(update={"val": 0.0, "test": 0.0, "normalize": False})
        return load_data(data_cfg, self.data_spec(spec), cfg.where, fold)

    def check(self, cfg, data, graphs) -> None:
        from netspec.kinds import fmt_shape

        # a resumed run's section lists every key, `loss: null` among them
        if cfg.given("loss") and cfg.loss is not None:
            raise SpecError("the cyclegan task's losses are its own (least squares, cycle, "
                            "identity), not `loss:`", cfg.where("loss"),
                            hint="leave out `loss:`; weigh them with `task: {cyclegan: "
                                 "{cycle: 10, identity: 0.5}}`")
        if cfg.metrics:
            raise SpecError("the cyclegan task logs its own metrics (d_a, d_b, g, cycle, "
                            "identity)", cfg.where("metrics"), hint="leave out `metrics:`")
        known = self.columns()
        if cfg.monitor not in known:
            raise SpecError(f"`{cfg.monitor}` is not logged by the cyclegan task",
                            cfg.where("monitor"), hint=f"it logs {', '.join(known)}")
        b_shape = tuple(data.splits["train"][1].shape[1:])
        into = tuple(next(iter(graphs["g_ba"].inputs.values())).shape)
        if b_shape != into:
            raise SpecError(f"domain b's images are {fmt_shape(b_shape)}, but g_ba takes "
                            f"{fmt_shape(into)}", cfg.where("data", "b"),
                            hint=f"resize domain b to {fmt_shape(into)} (e.g. `size:`), or "
                                 f"make g_ba's input {fmt_shape(b_shape)}")

    def columns(self) -> list[str]:
        return ["train_loss", *(f"train_{c}" for c in COLUMNS)]

    def output_kind(self, cfg, data, graphs) -> str:
        (name, _), = graphs.items()
        return "logits" if name.startswith("d_") else "values"

    def network_data(self, name: str, data) -> dict:
        """Every network takes images scaled from [0, 1] to [-1, 1]: (x - 0.5) / 0.5."""
        channels = data.input_shape[0]
        return {"normalize": {"mean": [0.5] * channels, "std": [0.5] * channels}}

    def metric_names(self, cfg) -> list[str]:
        return list(COLUMNS)

    def minimize(self, name: str) -> bool:
        return True                     # every column is a loss

    def tracker(self, cfg, data):
        return CycleTracker()

    # ---- training -------------------------------------------------------------------------

    def step(self, t, x, y) -> None:
        import torch

        args = self.args(t.cfg)
        m = t.nets                      # in DistributedDataParallel under torchrun
        real_a, real_b = x * 2 - 1, y * 2 - 1
        with torch.autocast(t.device.type, enabled=t.amp):
            fake_b, fake_a = m["g_ab"](real_a), m["g_ba"](real_b)
            adv = least_squares(m["d_b"](fake_b), 1.0) + least_squares(m["d_a"](fake_a), 1.0)
            cyc = l1(m["g_ba"](fake_b), real_a) + l1(m["g_ab"](fake_a), real_b)
            idt = l1(m["g_ab"](real_b), real_b) + l1(m["g_ba"](real_a), real_a) \
                if args.identity > 0 else torch.zeros((), device=x.device)
            loss_g = adv + args.cycle * cyc + args.identity * args.cycle * idt
        joint_step(t, loss_g, ("g_ab", "g_ba"))
        seen_a = self.pooled("a", fake_a.detach(), args.pool)
        seen_b = self.pooled("b", fake_b.detach(), args.pool)
        with torch.autocast(t.device.type, enabled=t.amp):
            loss_da = 0.5 * (least_squares(m["d_a"](real_a), 1.0)
                             + least_squares(m["d_a"](seen_a), 0.0))
        t.optimize(loss_da, "d_a")
        with torch.autocast(t.device.type, enabled=t.amp):
            loss_db = 0.5 * (least_squares(m["d_b"](real_b), 1.0)
                             + least_squares(m["d_b"](seen_b), 0.0))
        t.optimize(loss_db, "d_b")
        total = loss_g + loss_da + loss_db
        t.tracker.update(len(x), total, loss_da, loss_db, adv, cyc, idt)

    def pooled(self, domain: str, fakes, size: int):
        """What D sees of this batch's fakes through the image pool (module docstring)."""
        import torch

        if size == 0:
            return fakes
        pool = self.pools[domain]
        out = []
        for img in fakes:
            img = img.unsqueeze(0)
            if pool is None or len(pool) < size:
                pool = img.clone() if pool is None else torch.cat([pool, img])
                out.append(img)
            elif float(torch.rand(())) < 0.5:
                k = int(torch.randint(len(pool), ()))
                out.append(pool[k:k + 1].clone())
                pool[k] = img[0]
            else:
                out.append(img)
        self.pools[domain] = pool
        return torch.cat(out)

    def state(self, t) -> tuple[dict, dict]:
        return ({f"pool_{k}": v.detach().cpu().contiguous() for k, v in self.pools.items()
                 if v is not None}, {})

    def load_state(self, t, tensors: dict, state: dict) -> None:
        for k in self.pools:
            found = tensors.get(f"pool_{k}")
            self.pools[k] = found.to(t.device) if found is not None else None

    def end_epoch(self, t, row: dict) -> None:
        """The pairs of this epoch: the first `samples` images of each domain, translated
        there and back (by the rank that writes them)."""
        import torch

        if t.run is None:
            return
        n = min(self.args(t.cfg).samples, len(t.train_x))
        a, b = t.train_x[:n] * 2 - 1, t.train_y[:n] * 2 - 1
        m = t.models
        was = {k: m[k].training for k in ("g_ab", "g_ba")}
        for k in was:
            m[k].eval()
        with torch.no_grad():
            ab = m["g_ab"](a)
            ba = m["g_ba"](b)
            rows = [a, ab, m["g_ba"](ab), b, ba, m["g_ab"](ba)]
        for k, training in was.items():
            m[k].train(training)
        if t.run is not None:
            t.run.write_bytes(f"samples/epoch_{row['epoch']:03d}.png", rows_png(rows))

    def finish(self, t, summary: dict) -> None:
        if t.history:
            summary["last"] = {k: t.history[-1].get(k) for k in self.columns()}
            summary["samples"] = f"samples/epoch_{t.history[-1]['epoch']:03d}.png"
            summary["pairs"] = "rows: a, g_ab(a), g_ba(g_ab(a)), b, g_ba(b), g_ab(g_ba(b))"


# ---- losses and the joint generator step --------------------------------------------------

def least_squares(score, target: float):
    """mean((score - target)²) over the batch and every patch of D's map (LSGAN)."""
    return ((score.float() - target) ** 2).mean()


def l1(x, y):
    """mean |x - y| over the batch and every pixel."""
    return (x.float() - y.float()).abs().mean()


def joint_step(t, loss, names: tuple[str, ...]) -> None:
    """One backward of `loss` and one step of each network in `names` (both generators learn
    from the one cycle-consistent loss); clipping per network as the trainer's own step."""
    from torch import nn

    cfg = t.cfg
    for name in names:
        t.optimizers[name].zero_grad(set_to_none=True)
    (t.scaler.scale(loss) if t.scaler is not None else loss).backward()
    for name in names:
        opt, params = t.optimizers[name], t.params_of[name]
        if t.scaler is not None:
            t.scaler.unscale_(opt)
        if cfg.clip_grad_norm:
            nn.utils.clip_grad_norm_(params, cfg.clip_grad_norm)
        if cfg.clip_grad_value:
            nn.utils.clip_grad_value_(params, cfg.clip_grad_value)
        if t.scaler is not None:
            t.scaler.step(opt)
        else:
            opt.step()
    if t.scaler is not None:
        t.scaler.update()


class CycleTracker(ColumnSums):
    """One epoch's sums: [count, loss, d_a, d_b, g, cycle, identity]."""

    columns = COLUMNS

    def update(self, n: int, loss, *columns) -> None:
        self.add(n, loss, *columns)


def rows_png(rows, pad: int = 2) -> bytes:
    """Rows of images ([n, C, H, W] each, in [-1, 1]) as one PNG, a row per tensor, `pad`
    white pixels apart; a wider gap separates the a rows from the b rows."""
    import numpy as np
    from PIL import Image

    arrays = [((r.detach().float().cpu().clamp(-1, 1) + 1) * 127.5).round().byte().numpy()
              for r in rows]
    n, c, h, w = arrays[0].shape
    gap = [pad + (3 * pad if i == len(rows) // 2 else 0) for i in range(len(rows))]
    height = sum(gap) + len(rows) * h + pad
    canvas = np.full((height, n * (w + pad) + pad, c), 255, np.uint8)
    top = 0
    for i, imgs in enumerate(arrays):
        top += gap[i]
        for j in range(len(imgs)):
            left = pad + j * (w + pad)
            canvas[top:top + h, left:left + w] = imgs[j].transpose(1, 2, 0)
        top += h
    img = Image.fromarray(canvas[:, :, 0] if c == 1 else canvas)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
