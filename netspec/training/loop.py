"""The training loop: epochs of shuffled batches from in-memory tensors, evaluation after each,
early stopping and the best/last checkpoints (`resume.py` keeps the bookkeeping that makes a run
resume exactly). What one step does is the task's (`tasks/`).

Reproducibility: epoch e's randomness (shuffle order, dropout, augmentation) is seeded from
(seed, e, rank) when the epoch starts; a checkpoint taken inside an epoch also stores the
generator states at that step. So a run resumed from any checkpoint replays the very same
operations and ends with bit-identical weights (same device, same thread count).

    trainer = Trainer(spec, cfg, data, ctx, run, progress, model, output_index, task)
    trainer.restore(run.file("last.state.safetensors"))     # optional: continue a run
    trainer.fit()               # -> status: completed | stopped_early | diverged

Several networks (a spec with `networks:`): `model` is an nn.ModuleDict of them (so its
state_dict keys are `NAME.<layer>...`), `models` maps each name to its module, `nets` to
what the task's step calls (the module, in DistributedDataParallel under torchrun), and
`optimizers` each name to its own optimizer (`train.optimizers: {NAME: ...}`, else
`train.optimizer` for each); the task's step calls `optimize(loss, NAME)`. One network:
`models` and `optimizers` hold it under the spec's name, and `optimizer` is its optimizer.
"""

from __future__ import annotations

import hashlib
import math
import time

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from netspec.training import diagnostics, resume
from netspec.training.augment import Pipeline
from netspec.training.evaluate import evaluate_model
from netspec.training.losses import build_loss
from netspec.training.optim import Schedule, build_optimizer

NAN_CHECK_EVERY = 10        # steps between looks at the running loss (a host sync)


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers, stable across runs and platforms."""
    digest = hashlib.sha256(",".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class Trainer:
    """One training run's state: model (and its DDP wrapper), optimizer, schedule, data
    tensors, progress (epoch, batch, step), history, best and early-stopping records. Rank 0
    writes checkpoints to `run`; other ranks pass run=None."""

    def __init__(self, spec, cfg, data, ctx, run, progress, model: nn.Module, output_index: int,
                 task):
        self.spec, self.cfg, self.data, self.ctx, self.run = spec, cfg, data, ctx, run
        self.progress, self.task = progress, task
        self.device = ctx.device
        self.model = model.to(self.device)
        self.several = isinstance(model, nn.ModuleDict)
        self.models = dict(self.model.items()) if self.several else {spec.name: self.model}
        self.net = self.model if self.several else ctx.wrap(self.model)
        # what a task's step calls (DDP-wrapped under torchrun); `models` for the rest
        self.nets = {n: ctx.wrap(m, buffers=False) for n, m in self.models.items()} \
            if self.several else {spec.name: self.net}
        self.output_index = output_index
        self.params = [p for p in self.model.parameters() if p.requires_grad]
        self.params_of = {n: [p for p in m.parameters() if p.requires_grad]
                          for n, m in self.models.items()}
        self.optimizers = {n: build_optimizer(cfg.optimizer_for(n), self.params_of[n])
                           for n in self.models}
        self.base_lrs_of = {n: [g["lr"] for g in o.param_groups]
                            for n, o in self.optimizers.items()}
        self.optimizer = next(iter(self.optimizers.values()))
        self.base_lrs = self.base_lrs_of[next(iter(self.models))]
        self.schedule = Schedule(cfg.schedule, cfg.epochs)
        self.loss_fn = build_loss(cfg.loss) if cfg.loss is not None else None
        self.metric_names = task.metric_names(cfg)
        self.augment = Pipeline(cfg.augment)
        self._load_tensors()
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

    def _load_tensors(self) -> None:
        # normalise once up front, unless image augmentation must see [0, 1] images first
        pre = not self.augment.raw
        self.train_x, self.train_y = self.data.tensors("train", normalize=pre,
                                                       device=self.device)
        self.eval_sets = {s: self.data.tensors(s, device=self.device)
                          for s in ("val", "test") if self.data.size(s) and self.task.evaluates}
        self.normalize_batches = not pre

    # ---- one epoch ----------------------------------------------------------------------

    def new_tracker(self):
        return self.task.tracker(self.cfg, self.data)

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
            for name, opt in self.optimizers.items():
                self.schedule.apply(opt, self.base_lrs_of[name],
                                    self.epoch + b / self.steps_per_epoch)
            self.task.step(self, self.train_x[idx], self.train_y[idx])
            self.batch, self.step = b + 1, self.step + 1
            done += len(idx)
            if self.step % NAN_CHECK_EVERY == 0 and not self.finite():
                return "diverged"
            self.progress.step(self.tracker.result)
            # inside an epoch only for one process: other ranks' generators are not saved
            if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 \
                    and self.batch < self.steps_per_epoch and not self.ctx.distributed:
                resume.save_last(self, mid_epoch=True)
        self.train_time += time.perf_counter() - start
        self.train_cpu += time.process_time() - cpu
        self.samples += done * self.ctx.world
        return None if self.finite() else "diverged"

    def optimize(self, loss: torch.Tensor, network: str | None = None) -> None:
        """Backward (scaled under AMP), gradient clipping, and the optimizer's step: of the
        network `network` names (its gradients zeroed first; the others' are left as the
        backward pass made them), or of the one network."""
        optimizer = self.optimizers[network] if network is not None else self.optimizer
        params = self.params_of[network] if network is not None else self.params
        optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            self.scaler.unscale_(optimizer)
        else:
            loss.backward()
        if self.cfg.clip_grad_norm:
            nn.utils.clip_grad_norm_(params, self.cfg.clip_grad_norm)
        if self.cfg.clip_grad_value:
            nn.utils.clip_grad_value_(params, self.cfg.clip_grad_value)
        if self.scaler is not None:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

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
        if self.epoch == 0 and self.batch == 0:       # a fresh run: the untrained network
            for d in self.remember(self.task.start_diagnoses(self)):
                self.progress.warn(d)
        while self.epoch < self.cfg.epochs:
            began = time.perf_counter()
            if self.run_epoch() == "diverged":
                self.report_divergence()
                return "diverged"
            row = self.end_epoch(time.perf_counter() - began)
            self.progress.end(row, self.metric_names)
            for d in self.remember(self.task.epoch_diagnoses(self)):
                self.progress.warn(d)
            for d in [d for d in self.diagnoses if self.task.recovered(self, d)]:
                self.diagnoses.remove(d)          # the summary no longer carries it
                self.progress.note(diagnostics.recovery_note(d, self.history))
            if self.should_stop():
                return "stopped_early"
        return "completed"

    def end_epoch(self, seconds: float) -> dict:
        train = self.tracker.result(self.ctx.all_sum(self.tracker.state()[0]))
        row = {"epoch": self.epoch + 1, "lr": self.optimizer.param_groups[0]["lr"]}
        row.update({f"train_{k}": v for k, v in train.items()})
        if "val" in self.eval_sets:
            row.update({f"val_{k}": v for k, v in self.evaluate("val").items()})
        row["time"] = seconds
        self.elapsed += seconds
        self.task.end_epoch(self, row)      # its files and its columns, before the checkpoint
        self.history.append(row)
        self.schedule.end_epoch(row)
        self.epoch, self.batch = self.epoch + 1, 0
        self.update_stopper(row)
        if self.improved(row):
            self.best = {"epoch": row["epoch"], "value": row[self.cfg.monitor]}
            resume.save_best(self)
        resume.save_last(self)
        return row

    def improved(self, row: dict) -> bool:
        value = row.get(self.cfg.monitor)
        if value is None or not math.isfinite(value):
            return False
        if not self.best:
            return True
        return value < self.best["value"] if self.task.minimize(self.cfg.monitor) \
            else value > self.best["value"]

    def update_stopper(self, row: dict) -> None:
        es = self.cfg.early_stopping
        if es is None or row.get(es.monitor) is None:
            return
        value = row[es.monitor]
        down = self.task.minimize(es.monitor) if es.mode == "auto" else es.mode == "min"
        best = self.stopper["best"]
        if best is None or (best - value > es.min_delta if down else value - best > es.min_delta):
            self.stopper = {"best": value, "bad": 0}
        else:
            self.stopper["bad"] += 1

    def should_stop(self) -> bool:
        es = self.cfg.early_stopping
        return es is not None and self.stopper["bad"] >= es.patience

    # ---- what looks wrong -----------------------------------------------------------------

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

    def restore(self, path) -> None:
        """Continue from the checkpoint at `path` (a run's last.state.safetensors)."""
        resume.restore(self, path)
