"""The built module at run time: torch.compile, autocast, CUDA, DistributedDataParallel."""

from __future__ import annotations

import pytest
import torch

import netspec
from test_compile import TINY
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)


# ---- torch.compile ----------------------------------------------------------------------------

def _compiled_matches(backend: str) -> None:
    model = netspec.build(TINY, seed=0).eval()
    x = torch.randn(2, 3, 8, 8)
    torch._dynamo.reset()
    compiled = torch.compile(model, backend=backend, fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), model(x))


def test_torch_compile_traces_the_whole_graph():
    _compiled_matches("aot_eager")      # dynamo + AOT autograd, without inductor's C++ build


@pytest.mark.slow
def test_torch_compile_inductor():
    _compiled_matches("inductor")       # about 30 s on two CPU cores


def test_autocast_runs_in_bfloat16():
    model = netspec.build(TINY, seed=0).eval()
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(torch.randn(2, 3, 8, 8))
    assert out.dtype == torch.bfloat16 and out.shape == (2, 2)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_forward_matches_cpu():
    model = netspec.build(TINY, seed=0).eval()
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        want = model(x)
        torch.testing.assert_close(model.to("cuda")(x.to("cuda")).cpu(), want, rtol=1e-4,
                                   atol=1e-4)


DDP_SCRIPT = """
import sys, torch, torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
import netspec
dist.init_process_group("gloo", init_method="file://" + sys.argv[1], rank=0, world_size=1)
ddp = DistributedDataParallel(netspec.build(sys.argv[2], seed=0))
ddp(torch.randn(4, 3, 8, 8)).sum().backward()
assert ddp.module.c.weight.grad is not None
del ddp
dist.destroy_process_group()
print("ok")
"""


def test_distributed_data_parallel_wraps_the_model(tmp_path):
    # In its own process: gloo's worker threads can deadlock with the GIL when a process group
    # is torn down inside a long-lived pytest worker that holds other torch state.
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", DDP_SCRIPT, str(tmp_path / "store"), TINY],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("ok")
