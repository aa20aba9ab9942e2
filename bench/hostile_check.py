"""Every hostile spec's `netspec check`, each in a fresh process: wall time and peak memory
against the bounds of DESIGN §9 (under 2 s and 200 MiB), printed as a table. The time bound is
checked on CPU time (wall time is shown too; on a busy machine it also counts the waits).

    python bench/hostile_check.py             # every case once
    python bench/hostile_check.py --runs 3    # the best of 3 per case (a busy machine varies)

The cases are the hostile specs of tests/test_hostile_specs.py (expansion bombs, hostile YAML,
bad includes) and a few that need a large file made here: a 9 MiB spec with one tab, 2,000
misspelt kinds, an include fan-out of 10 files over 8 levels. Peak memory is the child's
ru_maxrss (resource.getrusage of the children, read after each run). Exit status 1 when a
case exceeds a bound, ends in a traceback or exits other than 0 or 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

SECONDS, MIB = 2.0, 200
B = "input: [3, 8, 8]\n"


def extra_cases() -> dict[str, dict[str, str | bytes]]:
    """Hostile specs that need large files, made here rather than stored."""
    fan = {"spec.yaml": "include: [" + ", ".join(f"l0_{i}.yaml" for i in range(10)) + "]\n"
           + B + "layers: [relu]\n"}
    for level in range(8):
        nxt = ", ".join(f"l{level + 1}_{i}.yaml" for i in range(10)) if level < 7 else ""
        for i in range(10):
            fan[f"l{level}_{i}.yaml"] = (f"include: [{nxt}]\n" if nxt else "") + "blocks: {}\n"
    return {
        "a 9 MiB spec with one tab": {"spec.yaml": B + "layers: [relu]\n" +
                                      ("# " + "x" * 77 + "\n") * (9 * 2**20 // 80) +
                                      "x:\t1\n"},
        "2,000 misspelt kinds": {"spec.yaml": B + "layers:\n" +
                                 "".join(f"  - relux{i}\n" for i in range(2000))},
        "includes fanned out 10 x 8 levels": fan,
        "/dev/zero included": {"spec.yaml": "include: zero.yaml\n" + B + "layers: [relu]\n",
                               "zero.yaml": "@/dev/zero"},
    }


def cases() -> dict[str, dict[str, str | bytes]]:
    from test_hostile_specs import BOMBS, HOSTILE

    out = {f"bomb: {k}": {"spec.yaml": text} for k, (text, _) in BOMBS.items()}
    out.update({f"hostile: {k}": text if isinstance(text, dict) else {"spec.yaml": text}
                for k, (text, _) in HOSTILE.items()})
    out.update(extra_cases())
    return out


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "@/dev/zero":
            path.symlink_to("/dev/zero")
        elif isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")


def _child_env() -> dict[str, str]:
    """The environment of a check as users run it: bytecode cached (an installed package has
    its .pyc files; compiling every module again would add ~0.3 s to each case)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def measure(files: dict, timeout: float = 60) -> tuple[float, float, float, int, bool]:
    """(wall s, CPU s, peak MiB, exit status, traceback?) of one `check` in a fresh
    process; CPU time (user + system of the child) is the steadier figure on a busy
    machine, where wall time also counts the waits for a core."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        _write(folder, files)
        code = ("import resource, runpy, sys; sys.argv = ['netspec', 'check', 'spec.yaml']\n"
                "try:\n    runpy.run_module('netspec', run_name='__main__')\n"
                "finally:\n    print('maxrss', resource.getrusage(resource.RUSAGE_SELF)"
                ".ru_maxrss, file=sys.stderr)")
        start = time.perf_counter()
        used = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            done = subprocess.run([sys.executable, "-c", code], cwd=folder, capture_output=True,
                                  text=True, timeout=timeout,
                                  env=_child_env())
        except subprocess.TimeoutExpired:
            return timeout, timeout, float("nan"), -1, False
        wall = time.perf_counter() - start
        now = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (now.ru_utime - used.ru_utime) + (now.ru_stime - used.ru_stime)
    rss = [ln for ln in done.stderr.splitlines() if ln.startswith("maxrss ")]
    peak = int(rss[-1].split()[1]) / 1024 if rss else float("nan")     # KiB -> MiB
    return wall, cpu, peak, done.returncode, "Traceback" in done.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1, help="runs per case (best is shown)")
    parser.add_argument("--only", default="", help="the cases whose name holds this text")
    args = parser.parse_args()
    print(f"{'case':<56} {'exit':>4} {'wall s':>7} {'CPU s':>6} {'peak MiB':>9}  verdict")
    over = 0
    chosen = {k: v for k, v in cases().items() if args.only in k}
    measure({"spec.yaml": B + "layers: [relu]\n"})     # writes the .pyc files, not counted
    for name, files in chosen.items():
        runs = [measure(files) for _ in range(args.runs)]
        wall = min(r[0] for r in runs)
        cpu = min(r[1] for r in runs)
        peak = min(r[2] for r in runs)
        code, traceback = runs[0][3], any(r[4] for r in runs)
        bad = [why for why, hit in (("slow", cpu > SECONDS), ("memory", peak > MIB),
                                    ("traceback", traceback), ("exit", code not in (0, 1)))
               if hit]
        over += bool(bad)
        print(f"{name[:56]:<56} {code:>4} {wall:>7.2f} {cpu:>6.2f} {peak:>9.1f}  "
              f"{'OVER: ' + ', '.join(bad) if bad else 'ok'}")
    total = len(chosen)
    print(f"\n{total} cases; {over} over the bounds ({SECONDS:g} s of CPU, {MIB} MiB)")
    return 1 if over else 0


if __name__ == "__main__":
    raise SystemExit(main())
