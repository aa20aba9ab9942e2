"""One process or many: `torchrun --nproc-per-node N -m netspec train ...` starts N processes
with RANK / WORLD_SIZE / LOCAL_RANK set; each trains a DistributedDataParallel replica on its
shard of every epoch (a DistributedSampler), gloo on CPU, nccl on GPU. Only rank 0 writes the
run directory and prints. A single process is the same code with a world of one.

    ctx = setup("auto")                 # Context(rank, world, device)
    model = ctx.wrap(model)             # DDP when world > 1
    total = ctx.all_sum(tensor)         # epoch statistics from every rank
"""

from __future__ import annotations

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

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if not self.distributed:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.device.index] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

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

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


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
