"""The batch under DDP: `batch_size` is per process, the effective batch of a step is printed
and recorded (run.json, summary.json), and `global_batch` / `--global-batch` keeps it fixed
whatever the number of processes (two CPU processes under torchrun, gloo)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.graph.load import loads
from netspec.training.config import resolve
from netspec.training.distributed import fit_batch

SPEC = """\
name: mlp
input: [64]
layers:
  - linear: 32
  - relu
  - linear: 10
train:
  data: digits
  epochs: 1
  threads: 1
{extra}"""


def write(tmp_path: Path, extra: str = "  batch_size: 16\n") -> Path:
    path = tmp_path / "mlp.yaml"
    path.write_text(SPEC.format(extra=extra))
    return path


def cli(*args, env=None):
    return CliRunner().invoke(main, [str(a) for a in args], env=env)


def test_global_batch_is_shared_by_two_processes(tmp_path):
    spec = write(tmp_path)                               # batch_size: 16, overridden
    alone = netspec.train(str(spec), out=str(tmp_path / "alone"), batch_size=32, quiet=True)
    one = json.loads((alone.path / "last.json").read_text())
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--standalone", "-m", "netspec", "train", str(spec), "--out",
                          str(tmp_path / "runs"), "--global-batch", "64"],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    line = "batch 32 per process × 2 processes = 64 per step (global_batch)"
    assert out.stdout.count(line) == 1, out.stdout               # rank 0 prints it, first
    assert out.stdout.index(line) < out.stdout.index("epoch   1")
    run = tmp_path / "runs" / "mlp" / "1"
    facts = {"per_process": 32, "processes": 2, "per_step": 64, "kept": "global_batch"}
    assert json.loads((run / "run.json").read_text())["batch"] == facts
    assert json.loads((run / "summary.json").read_text())["batch"] == facts
    train = json.loads((run / "train.json").read_text())
    assert (train["batch_size"], train["global_batch"]) == (32, 64)
    # each process took 32 a step from its half of the data: half the steps of one process
    # taking 32 from all of it
    two = json.loads((run / "last.json").read_text())
    assert two["step"] == math.ceil(math.ceil(one["samples"] / 2) / 32)
    assert one["step"] == math.ceil(one["samples"] / 32) and two["step"] < one["step"]


def test_one_process_prints_and_records_its_batch(tmp_path):
    spec = write(tmp_path, "  global_batch: 48\n")
    out = cli("train", spec, "--out", tmp_path / "runs")
    assert out.exit_code == 0, out.output
    assert "batch 48 per process × 1 process = 48 per step (global_batch)" in out.output
    summary = json.loads((tmp_path / "runs" / "mlp" / "1" / "summary.json").read_text())
    assert summary["batch"] == {"per_process": 48, "processes": 1, "per_step": 48,
                                "kept": "global_batch"}
    # without global_batch nor torchrun there is nothing to say
    plain = cli("train", write(tmp_path), "--out", tmp_path / "runs")
    assert plain.exit_code == 0 and "per process" not in plain.output
    summary = json.loads((tmp_path / "runs" / "mlp" / "2" / "summary.json").read_text())
    assert summary["batch"]["kept"] == "batch_size" and summary["batch"]["per_step"] == 16


def test_a_global_batch_that_does_not_split_is_refused(tmp_path):
    spec = loads(SPEC.format(extra="  global_batch: 63\n"), str(tmp_path / "mlp.yaml"))
    cfg = resolve(spec)
    assert fit_batch(cfg, 1).batch_size == 63
    assert fit_batch(cfg, 3).batch_size == 21
    with pytest.raises(SpecError) as err:
        fit_batch(cfg, 2)
    assert err.value.first.loc.line == 11                 # at `global_batch:`
    assert "a global batch of 63 does not split evenly over 2 processes (63 / 2 = 31.5 per " \
           "process)" in str(err.value)
    assert "give a multiple of 2" in err.value.first.hint
    # the flag under torchrun: a misused command, before anything loads
    out = cli("train", write(tmp_path), "--global-batch", 7, env={"WORLD_SIZE": "2"})
    assert out.exit_code == 2
    assert "Invalid value for '--global-batch': a global batch of 7 does not split evenly " \
           "over 2 processes" in out.output
    both = cli("train", write(tmp_path), "--global-batch", 8, "--batch-size", 4)
    assert both.exit_code == 2 and "not both" in both.output


def test_one_of_batch_size_and_global_batch(tmp_path):
    both = SPEC.format(extra="  batch_size: 16\n  global_batch: 64\n")
    with pytest.raises(SpecError, match="`batch_size` and `global_batch` are both set") as err:
        resolve(loads(both, str(tmp_path / "mlp.yaml")))
    assert err.value.first.loc.line == 12
    out = cli("train", write(tmp_path, "  batch_size: 16\n  global_batch: 64\n"))
    assert out.exit_code == 1 and "mlp.yaml:12:17: error: `batch_size` and" in out.output
    # a flag wins over the section, either way
    spec = loads(SPEC.format(extra="  batch_size: 16\n"), "mlp.yaml")
    assert resolve(spec, global_batch=64).global_batch == 64
    spec = loads(SPEC.format(extra="  global_batch: 64\n"), "mlp.yaml")
    cfg = resolve(spec, batch_size=8)
    assert (cfg.batch_size, cfg.global_batch) == (8, None)
    # a run's train.json holds both (the second derived): it reads back, to be split again
    again = resolve(spec, train=fit_batch(resolve(spec), 2).to_json())
    assert (again.batch_size, again.global_batch) == (32, 64)
    assert fit_batch(again, 4).batch_size == 16
