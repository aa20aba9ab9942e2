"""`netspec train` / `netspec eval` as a user runs them: exit codes, kill -9 then --resume giving
bit-identical weights, damaged checkpoints, and DDP over two CPU processes (torchrun, gloo)."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

SPEC = """\
name: resumable
input: [64]
layers:
  - linear: 48
  - relu
  - dropout: 0.3
  - linear: 10
train:
  data: digits
  epochs: {epochs}
  batch_size: 16
  optimizer: {{sgd: {{lr: 0.02, momentum: 0.9}}}}
  schedule: cosine
  augment: [noise]
  threads: 1
{extra}"""


def netspec(*args, **kw) -> subprocess.CompletedProcess:
    """The command in a process of its own (kill -9, torchrun)."""
    return subprocess.run([sys.executable, "-m", "netspec", *map(str, args)],
                          capture_output=True, text=True, timeout=300, **kw)


def cli(*args):
    """The command in this process (click's runner): same code path, no torch import to pay."""
    from click.testing import CliRunner

    from netspec.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


def write_spec(tmp_path: Path, epochs: int = 2, extra: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(epochs=epochs, extra=extra))
    return path


def test_train_and_eval_from_the_command_line(tmp_path):
    spec = write_spec(tmp_path)
    out = cli("train", spec, "--out", tmp_path / "runs", "--epochs", 1, "--seed", 3)
    assert out.exit_code == 0, out.output
    assert "resumable: completed" in out.stdout and "accuracy" in out.stdout
    run = tmp_path / "runs" / "resumable" / "1"
    assert json.loads((run / "train.json").read_text())["seed"] == 3
    evaluated = cli("eval", tmp_path / "runs" / "resumable" / "latest", "--json")
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout)
    summary = json.loads((run / "summary.json").read_text())
    assert result["metrics"]["accuracy"] == pytest.approx(summary["test"]["accuracy"])


@pytest.mark.parametrize("args, text", [
    ((), "give a SPEC to train, or --resume RUN_DIR"),
    (("--epochs", 0, "spec.yaml"), "Invalid value for '--epochs'"),
    (("missing.yaml",), "does not exist"),
])
def test_command_misuse_is_exit_2(tmp_path, args, text):
    write_spec(tmp_path)
    out = netspec("train", *args, cwd=tmp_path)           # before torch: a quick process
    assert out.returncode == 2 and text in out.stderr


def test_spec_mistakes_and_divergence_are_exit_1(tmp_path):
    spec = write_spec(tmp_path, extra="  loss: mse\n")
    out = cli("train", spec, "--out", tmp_path / "runs")
    assert out.exit_code == 1
    assert out.stderr.startswith(f"{spec}:16:9: error: the loss `mse` is for regression")
    spec = write_spec(tmp_path)
    out = cli("train", spec, "--out", tmp_path / "runs", "--lr", 10, "--epochs", 3, "-q")
    assert out.exit_code == 1 and out.stdout == ""
    assert out.stderr.startswith("warning: the loss became NaN")


def wait_for(path: Path, ready, process: subprocess.Popen, limit: float = 120) -> dict:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        try:
            state = json.loads(path.read_text())
            if ready(state):
                return state
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.002)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.parametrize("extra, ready", [
    ("", lambda s: s["epoch"] >= 2),                                  # epoch-end checkpoint
    ("  checkpoint_every: 30\n", lambda s: s["epoch"] >= 1 and s["batch"] > 0),   # mid-epoch
], ids=["epoch_checkpoint", "mid_epoch_checkpoint"])
def test_kill_9_then_resume_is_bit_identical(tmp_path, extra, ready):
    import netspec as api

    epochs = 12
    spec = write_spec(tmp_path, epochs, extra)
    # the uninterrupted run, in this process (threads: 1 in the spec, as in the subprocesses)
    assert api.train(str(spec), out=str(tmp_path / "whole"), quiet=True).ok

    run = tmp_path / "killed" / "resumable" / "1"
    process = subprocess.Popen([sys.executable, "-m", "netspec", "train", str(spec), "--out",
                                str(tmp_path / "killed"), "-q"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        wait_for(run / "last.json", ready, process)
    finally:
        process.kill()                                        # SIGKILL: no clean-up at all
        process.wait()
    interrupted = json.loads((run / "last.json").read_text())
    assert interrupted["epoch"] < epochs
    resumed = netspec("train", "--resume", run, "-q")
    assert resumed.returncode == 0, resumed.stderr

    reference = load_file(tmp_path / "whole" / "resumable" / "1" / "last.safetensors")
    final = load_file(run / "last.safetensors")
    assert reference.keys() == final.keys()
    assert all(torch.equal(reference[k], final[k]) for k in reference)

    def rows(path):
        return [{k: v for k, v in r.items() if k != "time"}
                for r in csv.DictReader((path / "metrics.csv").open())]
    assert rows(run) == rows(tmp_path / "whole" / "resumable" / "1")
    assert len(rows(run)) == epochs


def test_damaged_checkpoint_is_a_clear_error(tmp_path):
    spec = write_spec(tmp_path, 1)
    assert cli("train", spec, "--out", tmp_path / "runs", "-q").exit_code == 0
    path = tmp_path / "runs" / "resumable" / "1" / "last.state.safetensors"
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 3])                       # a crash during a copy
    out = cli("train", "--resume", tmp_path / "runs" / "resumable" / "latest")
    assert out.exit_code == 1
    assert out.stderr.startswith(f"{path}:1:1: error: checkpoint last.state.safetensors is "
                                 "damaged")
    assert "hint: the file was truncated or altered" in out.stderr
    assert out.exception is None or isinstance(out.exception, SystemExit)


def test_ddp_two_cpu_processes_rank_0_writes(tmp_path):
    spec = write_spec(tmp_path, 2)
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--standalone", "-m", "netspec", "train", str(spec), "--out",
                          str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("resumable: completed") == 1          # one rank prints
    runs = tmp_path / "runs" / "resumable"
    assert sorted(p.name for p in runs.iterdir()) == ["1", "latest"]
    summary = json.loads((runs / "1" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["status"] == "completed"
    assert summary["test"]["accuracy"] > 0.5
