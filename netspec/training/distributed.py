"""One process or many: `torchrun --nproc-per-node N -m netspec train ...` starts N processes
with RANK / WORLD_SIZE / LOCAL_RANK set; each trains a DistributedDataParallel replica on its
shard of every epoch (a DistributedSampler), gloo on CPU, nccl on GPU. Only rank 0 writes the
run directory and prints. A single process is the same code with a world of one.

    ctx = setup("auto")                 # Context(rank, world, device)
    cfg = fit_batch(cfg, ctx.world)     # `global_batch` -> batch_size per process
    model = ctx.wrap(model)             # DDP when world > 1
    total = ctx.all_sum(tensor)         # epoch statistics from every rank

The batch: `batch_size` is what each process takes per step, so one step of N processes
learns from N x batch_size samples (gradients are averaged over them) and an epoch has 1/N
of the steps. `global_batch` keeps that product fixed however many processes run: each takes
global_batch / N. The learning rate is not rescaled: it is the spec's.

Several networks (gan, cyclegan): each is wrapped on its own, without DDP's broadcast of
rank 0's buffers at every forward (`wrap(m, buffers=False)`): a gan step runs the
discriminator three times, and only rank 0's batchnorm statistics are ever used (its
samples, fid and checkpoints), so each rank keeps its own between.
"""

from __future__ import annotations

import inspect
import math
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Context:
    rank: int
    world: int
    local_rank: int
    device: torch.device

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def wrap(self, model: torch.nn.Module, buffers: bool = True) -> torch.nn.Module:
        """`model` in DistributedDataParallel when several processes train (gradients averaged
        over them in the backward pass); `buffers`: rank 0's buffers (batchnorm statistics)
        sent to every rank at each forward."""
        if not self.distributed or not any(p.requires_grad for p in model.parameters()):
            return model        # DDP refuses a module with nothing to train
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        # torch 2.13 renamed broadcast_buffers (and warns at the old name); the buffers start
        # alike anyway: every rank builds the same networks from the same seeds
        key = "forward_sync_buffers" if "forward_sync_buffers" in \
            inspect.signature(DistributedDataParallel.__init__).parameters else "broadcast_buffers"
        return DistributedDataParallel(model, device_ids=ids, **{key: buffers})

    def all_sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The element-wise sum of `tensor` over ranks (itself with one process)."""
        if not self.distributed:
            return tensor
        t = tensor.to(self.device if dist.get_backend() == "nccl" else "cpu").clone()
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.cpu()

    def from_main(self, tensor: torch.Tensor) -> torch.Tensor:
        """Rank 0's value of `tensor` on every rank (decisions must agree everywhere)."""
        if not self.distributed:
            return tensor
        t = tensor.to(self.device if dist.get_backend() == "nccl" else "cpu").clone()
        dist.broadcast(t, src=0)
        return t.cpu()

    def share(self, row: dict, keys: list[str]) -> None:
        """Rank 0's numbers under `keys` in `row` put in every rank's `row` (a key rank 0's
        row lacks is left out everywhere): what rank 0 alone measured."""
        if not self.distributed:
            return
        pairs = [(1.0, float(row[k])) if k in row else (0.0, math.nan) for k in keys]
        sent = self.from_main(torch.tensor(pairs, dtype=torch.float64).reshape(-1, 2))
        for key, (present, value) in zip(keys, sent.tolist()):
            if present:
                row[key] = value
            else:
                row.pop(key, None)

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def fit_batch(cfg, world: int):
    """`cfg` with `batch_size` per process: global_batch / world when `global_batch` is set
    (a located SpecError when the processes cannot share it evenly), else as it is."""
    if cfg.global_batch is None:
        return cfg
    problem = global_batch_problem(cfg.global_batch, world)
    if problem:
        from netspec.errors import SpecError

        raise SpecError(problem, cfg.where("global_batch"), hint=global_batch_hint(world))
    return cfg.model_copy(update={"batch_size": cfg.global_batch // world})


def global_batch_problem(global_batch: int, world: int) -> str | None:
    """Why `global_batch` cannot be split over `world` processes, or None."""
    if global_batch % world == 0:
        return None
    ways = "process" if world == 1 else "processes"
    return (f"a global batch of {global_batch} does not split evenly over {world} {ways} "
            f"({global_batch} / {world} = {global_batch / world:g} per process)")


def global_batch_hint(world: int) -> str:
    return (f"give a multiple of {world} (e.g. {world * max(1, 64 // world)}), or the batch of "
            "each process instead (`batch_size`, --batch-size)")


def batch_facts(cfg, world: int) -> dict:
    """What run.json and summary.json record of the batch."""
    return {"per_process": cfg.batch_size, "processes": world,
            "per_step": cfg.batch_size * world,
            "kept": "global_batch" if cfg.global_batch is not None else "batch_size"}


def batch_line(cfg, world: int) -> str:
    """The line printed as training starts: batch 64 per process x 2 processes = 128 per step."""
    ways = "process" if world == 1 else "processes"
    kept = " (global_batch)" if cfg.global_batch is not None else ""
    return (f"batch {cfg.batch_size} per process × {world} {ways} = "
            f"{cfg.batch_size * world} per step{kept}")


def pick_device(preference: str, local_rank: int = 0) -> torch.device:
    """auto: CUDA when available, else CPU; cuda on several ranks: one GPU per local rank."""
    if preference == "auto":
        preference = "cuda" if torch.cuda.is_available() else "cpu"
    if preference.startswith("cuda"):
        if not torch.cuda.is_available():
            from netspec.errors import SetupError

            raise SetupError("`device: cuda` was asked for, but torch sees no CUDA device", None,
                             hint="use `--device cpu` or `--device auto`, or install a CUDA "
                                  "build of torch on a machine with a GPU")
        return torch.device(preference if ":" in preference else f"cuda:{local_rank}")
    return torch.device("cpu")


def pick_threads(requested: int | None, ctx: "Context") -> int:
    """Intra-op threads for CPU training: `requested`, else torch's default cut down to the
    cores this process can have: shared between local ranks, and minus those other processes
    keep busy (1-minute load average). OpenMP threads that wait for a busy core make small
    networks train many times slower than one thread does."""
    if requested:
        return requested
    if ctx.device.type != "cpu":
        return torch.get_num_threads()
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                     # not on Linux
        cores = os.cpu_count() or 1
    local_world = int(os.environ.get("LOCAL_WORLD_SIZE", ctx.world))
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    free = max(1, cores // max(local_world, 1) - (busy if local_world == 1 else 0))
    return max(1, min(torch.get_num_threads(), free))


def setup(preference: str) -> Context:
    """The process's place in the run, initialising torch.distributed when torchrun started it."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(preference, local_rank)
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, rank=rank, world_size=world)
    return Context(rank, world, local_rank, device)
