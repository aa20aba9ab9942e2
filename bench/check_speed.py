"""How fast `netspec check` answers, as a whole process, next to `python -c "import torch"`.

    python bench/check_speed.py            # ResNet-50 vs the torch import, then 100/1k/10k layers
    python bench/check_speed.py --runs 9   # more runs per case (the minimum and median are shown)

Every case is a fresh process (interpreter start, imports, YAML, expansion, the table), timed
from outside: wall time (min and median) and CPU time (user + system, min; steadier on a busy
machine); peak memory is the child's ru_maxrss. The ResNet-50 spec is generated here with
a user block (so the figure does not depend on the zoo) and must give torchvision's
25,557,032 parameters. The scaling specs are literal lists of conv/batchnorm/relu entries.

Targets (issue 3): ResNet-50 check <= 0.5 s and <= 0.2x the torch import; 10k layers <= 2 s,
growing linearly; peak memory <= 80 MiB. On a busy machine absolute times grow; the ratio to
the torch import, measured in the same run, is the steadier figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

RESNET50_PARAMS = 25_557_032

RESNET50 = """\
name: resnet50_bench
input: [3, 224, 224]
blocks:
  bottleneck:
    params: {out: null, stride: 1}
    layers:
      - conv: {out: $out, kernel: 1, bias: false}
      - batchnorm
      - relu
      - conv: {out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}
      - batchnorm
      - relu
      - conv: {out: $(out * 4), kernel: 1, bias: false}
      - batchnorm:
        id: main
      - conv: {out: $(out * 4), kernel: 1, stride: $stride, bias: false}
        from: input
        if: $(stride != 1 or in.channels != out * 4)
        id: proj
      - batchnorm:
        if: $(stride != 1 or in.channels != out * 4)
        id: short
      - identity:
        from: input
        if: $(stride == 1 and in.channels == out * 4)
        id: short
      - {add: {}, from: [main, short]}
      - relu
layers:
  - conv: {out: 64, kernel: 7, stride: 2, padding: 3, bias: false}
  - batchnorm
  - relu
  - maxpool: {kernel: 3, stride: 2, padding: 1}
  - bottleneck: {out: 64}
    repeat: 3
  - bottleneck: {out: 128, stride: 2}
  - bottleneck: {out: 128}
    repeat: 3
  - bottleneck: {out: 256, stride: 2}
  - bottleneck: {out: 256}
    repeat: 5
  - bottleneck: {out: 512, stride: 2}
  - bottleneck: {out: 512}
    repeat: 2
  - global_avgpool
  - linear: 1000
"""


def layers_spec(n: int) -> str:
    """A spec of exactly `n` primitive layers, each written out (no repeat)."""
    lines = [f"name: seq{n}", "input: [16, 8, 8]", "layers:"]
    cycle = ["  - conv: {out: 16, kernel: 3, padding: 1}", "  - batchnorm", "  - relu"]
    lines += [cycle[i % 3] for i in range(n)]
    return "\n".join(lines) + "\n"


def netspec_command() -> list[str]:
    script = Path(sys.executable).with_name("netspec")
    return [str(script)] if script.exists() else [sys.executable, "-m", "netspec"]


MEASURE = """
import resource, subprocess, sys, time, json
cmd, runs = json.loads(sys.argv[1]), int(sys.argv[2])
times, cpu = [], []
def used():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime
for _ in range(runs):
    start, start_cpu = time.perf_counter(), used()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    times.append(time.perf_counter() - start)
    cpu.append(used() - start_cpu)
    if done.returncode:
        sys.exit(done.stderr.decode())
print(json.dumps({"times": times, "cpu": cpu,
                  "maxrss_kib": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}))
"""


def child_env(pycache: str) -> dict:
    """The children's environment: bytecode cached, as on a user's machine (a sandbox may set
    PYTHONDONTWRITEBYTECODE, which makes every run compile netspec afresh), in a cache of
    this run's own so the source tree is left alone."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = pycache
    return env


ENV: dict = {}


def measure(cmd: list[str], runs: int) -> dict:
    """Wall and CPU times of `runs` fresh processes after one warm-up run (which fills the
    bytecode cache), and their peak RSS (a helper process of its own, so ru_maxrss covers
    this command's children only)."""
    subprocess.run(cmd, env=ENV, capture_output=True, check=True)
    out = subprocess.run([sys.executable, "-c", MEASURE, json.dumps(cmd), str(runs)],
                         capture_output=True, text=True, check=True, env=ENV)
    data = json.loads(out.stdout)
    return {"min": min(data["times"]), "median": statistics.median(data["times"]),
            "cpu": min(data["cpu"]), "peak_mib": data["maxrss_kib"] / 1024}


def row(label: str, m: dict) -> str:
    return (f"{label:<34} {m['min']:7.3f} s {m['median']:7.3f} s {m['cpu']:7.3f} s "
            f"{m['peak_mib']:8.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="processes per case (default 5)")
    args = parser.parse_args()
    check = netspec_command()
    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}" \
        if hasattr(os, "getloadavg") else f"{os.cpu_count()} CPUs"

    with tempfile.TemporaryDirectory() as tmp:
        ENV.update(child_env(str(Path(tmp, "pycache"))))
        resnet = Path(tmp, "resnet50.yaml")
        resnet.write_text(RESNET50)
        report = json.loads(subprocess.run(check + ["check", str(resnet), "--json"], env=ENV,
                                           capture_output=True, text=True, check=True).stdout)
        assert report["params"]["total"] == RESNET50_PARAMS, report["params"]
        n_layers = len(report["layers"])

        print(f"netspec check, whole process ({env_note}); min and median of {args.runs} runs\n")
        print(f"{'case':<34} {'min':>9} {'median':>9} {'cpu':>9} {'peak':>12}")
        torch = measure([sys.executable, "-c", "import torch"], args.runs)
        res = measure(check + ["check", str(resnet)], args.runs)
        print(row('python -c "import torch"', torch))
        print(row(f"check resnet50 ({n_layers} layers)", res))
        zoo = Path(__file__).resolve().parents[1] / "specs" / "resnet50_tv.yaml"
        if zoo.exists():    # the zoo's version, with the built-in `bottleneck` block
            print(row("check specs/resnet50_tv.yaml", measure(check + ["check", str(zoo)],
                                                              args.runs)))
        ratio = res["min"] / torch["min"]
        print(f"\nratio check/torch import: {ratio:.3f} (min wall), "
              f"{res['median'] / torch['median']:.3f} (median wall), "
              f"{res['cpu'] / torch['cpu']:.3f} (cpu)\n")

        series = {}
        for n in (100, 1_000, 10_000):
            path = Path(tmp, f"seq{n}.yaml")
            path.write_text(layers_spec(n))
            series[n] = measure(check + ["check", str(path)], max(3, args.runs // 2))
            print(row(f"check {n:,} layers", series[n]))
        base = measure([sys.executable, "-c", "import netspec.cli.main, netspec.report, "
                        "netspec.graph.expand"], args.runs)
        print(row("imports alone", base))
        per_layer = (series[10_000]["min"] - series[1_000]["min"]) / 9_000
        print(f"\nper layer (1k -> 10k): {per_layer * 1e6:.0f} µs; "
              f"10k / 1k time above the imports: "
              f"{(series[10_000]['min'] - base['min']) / max(series[1_000]['min'] - base['min'], 1e-9):.1f}x"
              f" (linear: 10x)")

    peak = max(m["peak_mib"] for m in (res, *series.values()))
    print("\ntargets:")
    for ok, what in [(res["min"] <= 0.5, f"resnet50 {res['min']:.3f} s <= 0.5 s"),
                     (ratio <= 0.2, f"resnet50 / torch import {ratio:.3f} <= 0.2"),
                     (series[10_000]["min"] <= 2.0, f"10k layers {series[10_000]['min']:.3f} s <= 2 s"),
                     (peak <= 80, f"peak memory {peak:.1f} MiB <= 80 MiB")]:
        print(f"  {'ok  ' if ok else 'MISS'} {what}")


if __name__ == "__main__":
    main()
