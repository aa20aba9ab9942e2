"""ONNX deployment figures: ResNet-18 batch-1 CPU latency on onnxruntime against torch eager,
and the cold start of `netspec infer` as a whole process.

The network is specs/resnet18_tv.yaml when it exists, else the ResNet-18 spec below
(torchvision's layout, 11,689,512 params). It is exported with `netspec.export` (verified),
then both runtimes time batch-1 forward passes in alternating rounds, so drift in machine load
hits both alike; the median ratio onnxruntime / torch is printed (target <= 0.8). Cold start:
`netspec infer MODEL IMAGE` run as a fresh process, median wall time (target <= 0.7 s), for
LeNet-5 (specs/lenet5.yaml, the demo's model) and for ResNet-18.

    python bench/onnx_latency.py [--iters 30] [--rounds 5] [--starts 5] [--threads N]

Both runtimes use all cores by default; `--threads N` gives each N intra-op threads. On a
shared machine the load of other processes skews both: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]

RESNET18 = """\
name: resnet18_bench
input: [3, 224, 224]
blocks:
  basic:
    params: {out: null, stride: 1}
    layers:
      - {conv: {out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}, id: conv1}
      - {batchnorm: {}, id: bn1}
      - relu
      - {conv: {out: $out, kernel: 3, padding: 1, bias: false}, id: conv2}
      - {batchnorm: {}, id: bn2}
      - conv: {out: $out, kernel: 1, stride: $stride, bias: false}
        id: down
        from: input
        if: $(stride != 1 or in.channels != out)
      - batchnorm:
        id: down_bn
        if: $(stride != 1 or in.channels != out)
      - add: {}
        from: [bn2, down_bn]
        if: $(stride != 1 or in.channels != out)
      - add: {}
        from: [bn2, input]
        if: $(stride == 1 and in.channels == out)
      - relu
layers:
  - conv: {out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
  - batchnorm
  - relu
  - maxpool: {kernel: 3, stride: 2, padding: 1}
  - basic: {out: 64}
    repeat: 2
  - basic: {out: 128, stride: 2}
  - basic: {out: 128}
  - basic: {out: 256, stride: 2}
  - basic: {out: 256}
  - basic: {out: 512, stride: 2}
  - basic: {out: 512}
  - global_avgpool
  - linear: 1000
"""


def time_calls(fn, iters: int) -> float:
    """Median seconds of one call over `iters` calls."""
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def latency(onnx_path: Path, model, iters: int, rounds: int,
            threads: int) -> tuple[float, float, int]:
    """(onnxruntime s, torch s, onnxruntime threads): medians over alternating rounds."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads                  # 0: onnxruntime's default
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    x = np.random.default_rng(0).standard_normal((1, 3, 224, 224)).astype(np.float32)
    xt = torch.from_numpy(x)

    def run_ort():
        session.run(None, {"input": x})

    def run_torch():
        with torch.inference_mode():
            model(xt)

    for _ in range(5):                                       # warm both up
        run_ort()
        run_torch()
    ort_t, torch_t = [], []
    for _ in range(rounds):
        ort_t.append(time_calls(run_ort, iters))
        torch_t.append(time_calls(run_torch, iters))
    threads = session.get_session_options().intra_op_num_threads
    return statistics.median(ort_t), statistics.median(torch_t), threads


def cold_start(onnx_path: Path, image: Path, starts: int) -> float:
    """Median wall time of `netspec infer MODEL IMAGE` as a new process."""
    script = Path(sys.executable).with_name("netspec")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "netspec"]
    times = []
    for _ in range(starts + 1):
        start = time.perf_counter()
        subprocess.run([*cmd, "infer", str(onnx_path), str(image)], check=True,
                       capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])                     # the first warms the file cache


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iters", type=int, default=30, help="timed calls per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds")
    parser.add_argument("--starts", type=int, default=5, help="cold starts timed per model")
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: default)")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from PIL import Image

    import netspec

    zoo = ROOT / "specs" / "resnet18_tv.yaml"
    spec = netspec.load(zoo) if zoo.is_file() else netspec.loads(RESNET18, "<bench resnet18>")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        result = netspec.export(spec, tmp / "resnet18.onnx")
        print(f"ResNet-18 from {zoo.name if zoo.is_file() else 'the bench spec'}: "
              f"{result.path.stat().st_size / 2**20:.1f} MiB, max abs diff "
              f"{max(result.diffs.values()):.1e}")
        model = netspec.build(spec, seed=0).eval()
        ort_s, torch_s, ort_threads = latency(result.path, model, args.iters, args.rounds,
                                             args.threads)
        print(f"batch-1 CPU latency (median of {args.rounds} rounds x {args.iters} calls):")
        print(f"  onnxruntime {ort_s * 1e3:8.2f} ms   (intra-op threads: "
              f"{ort_threads or 'default'})")
        print(f"  torch eager {torch_s * 1e3:8.2f} ms   (threads: {torch.get_num_threads()})")
        print(f"  ratio onnxruntime / torch = {ort_s / torch_s:.2f}   (target <= 0.8)")

        image = tmp / "x.png"
        Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
        lenet = netspec.export(ROOT / "specs" / "lenet5.yaml", tmp / "lenet5.onnx").path
        rgb = tmp / "rgb.png"
        Image.fromarray(np.zeros((224, 224, 3), np.uint8)).save(rgb)
        print(f"`netspec infer` cold start, whole process (median of {args.starts}):")
        print(f"  LeNet-5    {cold_start(lenet, image, args.starts):.2f} s   (target <= 0.7 s)")
        print(f"  ResNet-18  {cold_start(result.path, rgb, args.starts):.2f} s")
        plain = statistics.median(_python_start() for _ in range(args.starts))
        print(f"  (python itself starts in {plain:.2f} s here)")


def _python_start() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
