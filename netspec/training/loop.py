"""The training loop: epochs of shuffled batches from in-memory tensors, evaluation, checkpoints
that resume exactly, early stopping, diagnostics.

Reproducibility: epoch e's randomness (shuffle order, dropout, augmentation) is seeded from
(seed, e, rank) when the epoch starts; a checkpoint taken inside an epoch also stores the
generator states at that step. So a run resumed from any checkpoint replays the very same
operations and ends with bit-identical weights (same device, same thread count).

    trainer = Trainer(spec, cfg, data, ctx, run, progress, model, output_index, majority)
    trainer.restore(run.file("last.state.safetensors"))     # optional: continue a run
    trainer.fit()               # -> status: completed | stopped_early | diverged
"""

from __future__ import annotations

import hashlib
import math
import time

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from netspec.training import checkpoint, diagnostics
from netspec.training.augment import Pipeline
from netspec.training.losses import build_loss
from netspec.training.metrics import Tracker, display_name, minimize
from netspec.training.optim import Schedule, build_optimizer

NAN_CHECK_EVERY = 10        # steps between looks at the running loss (a host sync)


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across runs and platforms."""
    digest = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


@torch.no_grad()
def evaluate_model(model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn, tracker: Tracker,
                   output_index: int = 0, batch_size: int = 256, amp: bool = False) -> None:
    """Feed a whole split through `model` in eval mode, adding loss and metrics to `tracker`."""
    was_training = model.training
    model.eval()
    for i in range(0, len(x), batch_size):
        with torch.autocast(x.device.type, enabled=amp):
            out = model(x[i:i + batch_size])
            out = out[output_index] if isinstance(out, (tuple, list)) else out
            loss = loss_fn(out, y[i:i + batch_size])
        tracker.update(out.float(), y[i:i + batch_size], loss)
    model.train(was_training)


class Trainer:
    """One training run's state: model (and its DDP wrapper), optimizer, schedule, data
    tensors, progress (epoch, batch, step), history, best and early-stopping records. Rank 0
    writes checkpoints to `run`; other ranks pass run=None."""

    def __init__(self, spec, cfg, data, ctx, run, progress, model: nn.Module, output_index: int,
                 majority: float):
        self.spec, self.cfg, self.data, self.ctx, self.run = spec, cfg, data, ctx, run
        self.progress = progress
        self.device = ctx.device
        self.model = model.to(self.device)
        self.net = ctx.wrap(self.model)
        self.output_index = output_index
        self.majority = majority
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = build_optimizer(cfg.optimizer, self.params)
        self.base_lrs = [g["lr"] for g in self.optimizer.param_groups]
        self.schedule = Schedule(cfg.schedule, cfg.epochs)
        self.loss_fn = build_loss(cfg.loss)
        self.threshold = 0.5 if cfg.loss.entry.meta["expects"] == "probabilities" else 0.0
        self.metric_names = [display_name(c) for c in cfg.metrics]
        self.augment = Pipeline(cfg.augment)
        # normalise once up front, unless image augmentation must see [0, 1] images first
        pre = not self.augment.raw
        self.train_x, self.train_y = data.tensors("train", normalize=pre, device=self.device)
        self.eval_sets = {s: data.tensors(s, device=self.device)
                          for s in ("val", "test") if data.size(s)}
        self.normalize_batches = not pre
        self.amp = cfg.amp if cfg.amp is not None else self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda") if self.amp else None
        self.aug_gen = torch.Generator()
        self.sampler = DistributedSampler(range(len(self.train_x)), num_replicas=ctx.world,
                                          rank=ctx.rank, shuffle=True, seed=cfg.seed)
        self.steps_per_epoch = math.ceil(len(self.sampler) / cfg.batch_size)
        self.weights = [p for n, p in self.model.named_parameters()
                        if p.requires_grad and p.dim() > 1]
        # progress through training: epochs done, batches done in the current epoch
        self.epoch, self.batch, self.step = 0, 0, 0
        self.history: list[dict] = []
        self.best: dict = {}
        self.stopper = {"best": None, "bad": 0}
        self.diagnoses: list = []
        self.tracker = self.new_tracker()
        self.elapsed = 0.0
        self.train_time = 0.0          # seconds in training batches (wall clock)
        self.train_cpu = 0.0           # the same, in this process's CPU time
        self.samples = 0

    # ---- one epoch ----------------------------------------------------------------------

    def new_tracker(self) -> Tracker:
        return Tracker(self.cfg.metrics, self.data.num_classes, self.threshold)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.net(x)
        return out[self.output_index] if isinstance(out, (tuple, list)) else out

    def epoch_order(self) -> torch.Tensor:
        self.sampler.set_epoch(self.epoch)
        return torch.tensor(list(self.sampler), dtype=torch.long, device=self.device)

    def run_epoch(self) -> str | None:
        """Train one epoch (from batch `self.batch` when resuming inside it); returns
        "diverged" if the loss stopped being finite."""
        cfg = self.cfg
        if self.batch == 0:
            torch.manual_seed(derive_seed(cfg.seed, self.epoch, self.ctx.rank))
            self.aug_gen.manual_seed(derive_seed(cfg.seed, self.epoch, self.ctx.rank, 1))
            self.tracker = self.new_tracker()
        order = self.epoch_order()
        bs = cfg.batch_size
        self.net.train()
        self.progress.start(self.epoch, cfg.epochs, self.steps_per_epoch, self.batch)
        start, cpu = time.perf_counter(), time.process_time()
        done = 0
        for b in range(self.batch, self.steps_per_epoch):
            idx = order[b * bs:(b + 1) * bs]
            if len(idx) < 2 and b > 0:
                break                  # a batch of one breaks batchnorm; its sample waits
            self.schedule.apply(self.optimizer, self.base_lrs,
                                self.epoch + b / self.steps_per_epoch)
            self.train_step(self.train_x[idx], self.train_y[idx])
            self.batch, self.step = b + 1, self.step + 1
            done += len(idx)
            if self.step % NAN_CHECK_EVERY == 0 and not self.finite():
                return "diverged"
            self.progress.step(self.tracker.result)
            # inside an epoch only for one process: other ranks' generators are not saved
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 \
                    and self.batch < self.steps_per_epoch and not self.ctx.distributed:
                self.save_last(mid_epoch=True)
        self.train_time += time.perf_counter() - start
        self.train_cpu += time.process_time() - cpu
        self.samples += done * self.ctx.world
        return None if self.finite() else "diverged"

    def train_step(self, x: torch.Tensor, y: torch.Tensor) -> None:
        y_b, lam = None, 1.0
        if self.augment:
            x, y_b, lam = self.augment(x, y, self.aug_gen, self.data.apply_normalize
                                       if self.normalize_batches else lambda v: v)
        with torch.autocast(self.device.type, enabled=self.amp):
            out = self.forward(x)
            loss = self.loss_fn(out, y)
            if y_b is not None:
                loss = lam * loss + (1 - lam) * self.loss_fn(out, y_b)
            if self.cfg.l1:
                loss = loss + self.cfg.l1 * sum(w.abs().sum() for w in self.weights)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(self.optimizer)
        else:
            loss.backward()
        if self.cfg.clip_grad_norm:
            nn.utils.clip_grad_norm_(self.params, self.cfg.clip_grad_norm)
        if self.cfg.clip_grad_value:
            nn.utils.clip_grad_value_(self.params, self.cfg.clip_grad_value)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.tracker.update(out.float(), y, loss)

    def finite(self) -> bool:
        flat, _ = self.tracker.state()
        return bool(torch.isfinite(self.ctx.all_sum(flat[1:2])).all())

    def evaluate(self, split: str, model: nn.Module | None = None) -> dict[str, float]:
        """Loss and metrics on a whole split (every rank evaluates it; rank 0's numbers win)."""
        x, y = self.eval_sets[split] if split in self.eval_sets else \
            self.data.tensors(split, device=self.device)
        tracker = self.new_tracker()
        evaluate_model(model or self.model, x, y, self.loss_fn, tracker, self.output_index,
                       max(self.cfg.batch_size, 256), self.amp)
        flat, _ = tracker.state()
        return tracker.result(self.ctx.from_main(flat))

    # ---- the whole run --------------------------------------------------------------------

    def fit(self) -> str:
        """Train until `epochs`, early stopping, or divergence; returns the status."""
        cfg = self.cfg
        status = "completed"
        while self.epoch < cfg.epochs:
            began = time.perf_counter()
            if self.run_epoch() == "diverged":
                self.report_divergence()
                return "diverged"
            row = self.end_epoch(time.perf_counter() - began)
            self.progress.end(row, self.metric_names)
            for d in self.epoch_diagnoses():
                self.progress.warn(d)
            if self.should_stop():
                status = "stopped_early"
                break
        return status

    def end_epoch(self, seconds: float) -> dict:
        train = self.tracker.result(self.ctx.all_sum(self.tracker.state()[0]))
        row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in train.items()})
        if "val" in self.eval_sets:
            row.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        row["time"] = seconds
        self.elapsed += seconds
        self.history.append(row)
        self.schedule.end_epoch(row)
        self.epoch, self.batch = self.epoch + 1, 0
        self.update_stopper(row)
        if self.improved(row):
            self.best = {"epoch": row["epoch"], "value": row[self.cfg.monitor]}
            self.save("best", self.best_tensors(), self.state())
        self.save_last()
        return row

    def improved(self, row: dict) -> bool:
        value = row.get(self.cfg.monitor)
        if value is None or not math.isfinite(value):
            return False
        if not self.best:
            return True
        return value < self.best["value"] if minimize(self.cfg.monitor) \
            else value > self.best["value"]

    def update_stopper(self, row: dict) -> None:
        es = self.cfg.early_stopping
        if es is None or row.get(es.monitor) is None:
            return
        value = row[es.monitor]
        down = minimize(es.monitor) if es.mode == "auto" else es.mode == "min"
        best = self.stopper["best"]
        if best is None or (best - value > es.min_delta if down else value - best > es.min_delta):
            self.stopper = {"best": value, "bad": 0}
        else:
            self.stopper["bad"] += 1

    def should_stop(self) -> bool:
        es = self.cfg.early_stopping
        return es is not None and self.stopper["bad"] >= es.patience

    def epoch_diagnoses(self) -> list:
        found = []
        if self.data.task == "classification" and "accuracy" in self.metric_names:
            found += [self.chance_diagnosis(), diagnostics.over_confident(self.history)]
        return self.remember(found)

    def chance_diagnosis(self, final: bool = False):
        """'Stuck at chance', with what the probes say about why (they run only then)."""
        chance = diagnostics.chance_level(self.data.num_classes, self.majority)
        k = self.data.num_classes
        if diagnostics.stuck_at_chance(self.history, chance, k, final=final) is None:
            return None
        dead, constant = self.probe()
        return diagnostics.stuck_at_chance(
            self.history, chance, k, constant, [n for n, f in dead.items() if f >= 1.0],
            diagnostics.lr_far_above(self.cfg.optimizer.name, self.cfg.lr), final=final)

    def probe(self) -> tuple[dict, bool]:
        """Dead-ReLU fractions and whether the output ignores the input, on a few hundred
        validation (or training) samples."""
        x = (self.eval_sets.get("val") or (self.train_x, None))[0][:512]
        if self.normalize_batches:
            x = self.data.apply_normalize(x)
        was_training = self.model.training
        try:
            return diagnostics.probe(self.model.eval(), x, nn.ReLU)
        finally:
            self.model.train(was_training)

    def remember(self, found: list) -> list:
        """The diagnoses not given before (each kind is said once per run)."""
        seen = {d.kind for d in self.diagnoses}
        new = [d for d in found if d is not None and d.kind not in seen]
        self.diagnoses += new
        return new

    def report_divergence(self) -> None:
        flat, _ = self.tracker.state()
        loss = float(flat[1])
        d = diagnostics.non_finite(loss if not math.isfinite(loss) else math.nan, self.epoch,
                                   self.batch - 1, self.cfg.optimizer.name, self.cfg.lr,
                                   bool(self.cfg.clip_grad_norm or self.cfg.clip_grad_value),
                                   self.data.normalize is not None)
        self.progress.stop()
        if self.run is not None and self.history:
            d = diagnostics.Diagnosis(d.kind, f"{d.message}. The last good checkpoint is "
                                      f"{self.run.file('last.safetensors')} (epoch "
                                      f"{self.history[-1]['epoch']})", d.hint)
        self.remember([d])
        self.progress.warn(d)

    # ---- checkpoints -------------------------------------------------------------------------

    def best_tensors(self) -> dict:
        return dict(self.model.state_dict())

    def state(self) -> dict:
        return {"format": checkpoint.FORMAT, "epoch": self.epoch, "batch": self.batch,
                "step": self.step, "seed": self.cfg.seed, "world": self.ctx.world,
                "schedule": self.schedule.state, "stopper": self.stopper, "best": self.best,
                "history": self.history, "elapsed": self.elapsed,
                "train_time": self.train_time, "train_cpu": self.train_cpu,
                "samples": self.samples,
                "threads": torch.get_num_threads()}

    def save(self, name: str, tensors: dict, state: dict, json_copy: bool = True) -> None:
        if self.ctx.main and self.run is not None:
            checkpoint.write(self.run.file(f"{name}.safetensors"), tensors, state, json_copy)

    def save_last(self, mid_epoch: bool = False) -> None:
        """The resume file (weights, optimizer, generators, state), then the plain weights."""
        if not (self.ctx.main and self.run is not None):
            return
        state = self.state()
        weights = dict(self.model.state_dict())
        opt_tensors, state["optimizer"] = checkpoint.optimizer_tensors(self.optimizer)
        tensors = {**weights, **opt_tensors}
        if mid_epoch:
            tensors.update(checkpoint.rng_tensors({"augment": self.aug_gen}))
            flat, sizes = self.tracker.state()
            state["tracker"] = {"flat": [float(v) for v in flat], "sizes": sizes}
        if self.scaler is not None:
            state["scaler"] = self.scaler.state_dict()
        self.save("last.state", tensors, state, json_copy=False)
        self.save("last", weights, {k: v for k, v in state.items() if k != "optimizer"})
        self.run.write_metrics(self.history)

    def restore(self, path) -> None:
        """Continue from the checkpoint at `path` (a run's last.state.safetensors)."""
        tensors, state = checkpoint.read(path)
        self.model.load_state_dict(checkpoint.model_tensors(tensors))
        checkpoint.load_optimizer(self.optimizer, tensors, state["optimizer"])
        self.epoch, self.batch, self.step = state["epoch"], state["batch"], state["step"]
        self.schedule.state = state["schedule"]
        self.stopper, self.best, self.history = state["stopper"], state["best"], state["history"]
        self.elapsed, self.train_time = state["elapsed"], state["train_time"]
        self.train_cpu = state.get("train_cpu", 0.0)
        self.samples = state["samples"]
        if self.cfg.threads is None and self.device.type == "cpu":
            # the same thread count keeps the arithmetic, and so the weights, bit-identical
            torch.set_num_threads(state.get("threads", torch.get_num_threads()))
        if self.scaler is not None and "scaler" in state:
            self.scaler.load_state_dict(state["scaler"])
        if "tracker" in state:
            checkpoint.load_rng(tensors, {"augment": self.aug_gen})
            self.tracker.load_state(torch.tensor(state["tracker"]["flat"], dtype=torch.float64),
                                    state["tracker"]["sizes"])
