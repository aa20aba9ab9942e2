"""Hostile flags, train arguments, output paths, run directories and runs in use (DESIGN §9):
each ends with its result or a message naming the value (exit 1), never a traceback, and
writes nothing but its named output. One small run, trained once for the module, is copied
for the cases that damage it."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import stat
import subprocess
import sys

import numpy as np
import pytest

from adversarial import FEATURES_SPEC, invoke



def spec_text(extra: str = "") -> str:
    return FEATURES_SPEC.format(source="npz: d.npz", extra=extra)


def _data(folder) -> None:
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=rng.normal(size=(60, 4)).astype(np.float32),
             y=np.arange(60) % 3)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished one-epoch run of the tiny spec: (folder, run directory)."""
    root = tmp_path_factory.mktemp("trained")
    _data(root)
    (root / "spec.yaml").write_text(spec_text())
    invoke(["train", root / "spec.yaml", "--out", root / "runs", "-q"])
    return root, root / "runs" / "tiny" / "1"


def _copy_run(trained, tmp_path):
    root, run = trained
    shutil.copy(root / "d.npz", tmp_path / "d.npz")
    target = tmp_path / "run"
    shutil.copytree(run, target)
    train = json.loads((target / "train.json").read_text())
    train["data"]["npz"] = str(tmp_path / "d.npz")       # the copy reads its own data
    (target / "train.json").write_text(json.dumps(train))
    return target


# ---- flags and train arguments ------------------------------------------------------------

FLAGS = {
    "lr_nan": (["--lr", "nan"], "lr"),
    "lr_inf": (["--lr", "inf"], "lr"),
    "batch_size_huge": (["--batch-size", str(10**15)], "batch_size"),
    "epochs_huge": (["--epochs", str(10**15)], "epochs"),
}

ARGUMENTS = {
    "eps_nan": ("  optimizer: {adam: {eps: .nan}}", "eps"),
    "betas_out_of_range": ("  optimizer: {adam: {betas: [2, -1]}}", "betas"),
    "l1_nan": ("  l1: .nan", "l1"),
    "weight_decay_nan": ("  optimizer: {sgd: {weight_decay: .nan}}", "weight_decay"),
    "weight_decay_inf": ("  optimizer: {adamw: {weight_decay: .inf}}", "weight_decay"),
    "gamma_nan": ("  schedule: {step: {gamma: .nan}}", "gamma"),
    "focal_gamma_nan": ("  loss: {focal: {gamma: .nan}}", "gamma"),
    "folds_beyond_samples": ("  data: {npz: d.npz, folds: 1000}", "folds"),
    "folds_too_many_for_data": ("  data: {npz: d.npz, folds: 40}", "folds"),
    "threads_huge": ("  threads: 1000000000", "threads"),
    "freeze_everything": ("  freeze: [0]", "freeze"),
    "name_escapes": ("  name: ../../escape", "name"),
    "name_empty": ('  name: ""', "name"),
    "name_absolute": ("  name: /tmp/x", "name"),
    "name_surrogate": ('  name: "\\ud800"', "surrogate"),
    "clip_inf": ("  clip_grad_norm: .inf", "clip_grad_norm"),
    "onecycle_pct_out_of_range": ("  schedule: {onecycle: {pct_start: 2}}", "pct_start"),
    "plateau_factor_one": ("  schedule: {plateau: {factor: 1}}", "factor"),
    "lr_negative": ("  optimizer: {sgd: {lr: -1}}", "lr"),
    "patience_inf": ("  early_stopping: {patience: .inf}", "patience"),
}


@pytest.mark.parametrize("case", sorted(FLAGS))
def test_absurd_flags_are_refused_by_name(tmp_path, case):
    flags, name = FLAGS[case]
    _data(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text())
    result = invoke(["train", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "-q",
                     *flags], root=tmp_path, codes=(1, 2))
    assert name.replace("_", "-") in result.output or name in result.output, result.output
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("case", sorted(ARGUMENTS))
def test_absurd_train_arguments_are_refused_by_name(tmp_path, case):
    line, name = ARGUMENTS[case]
    _data(tmp_path)
    spec = spec_text(line + "\n")
    if line.startswith("  data:"):
        spec = spec.replace("  data: {npz: d.npz, val: 0.2, test: 0.2}\n", "")
    (tmp_path / "spec.yaml").write_text(spec)
    result = invoke(["train", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "-q"],
                    root=tmp_path, allowed=("runs/",))
    assert result.exit_code == 1, result.output
    assert name in result.output, result.output
    assert "exploded" not in result.output
    assert not (tmp_path / "escape").exists() and not (tmp_path.parent / "escape").exists()


# ---- writing -------------------------------------------------------------------------------

def _device(tmp_path):
    """A null device of the test's own (never the system's /dev/null: a regression would
    replace it with a regular file for everyone on the machine)."""
    path = tmp_path / "null.onnx"
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(1, 3))
    except (PermissionError, OSError):
        pytest.skip("making a device node needs root")
    return path


def _targets(tmp_path, run, case):
    """The output path of `case`, one that must be refused."""
    if case == "device":
        return str(_device(tmp_path))
    if case == "fifo":
        os.mkfifo(tmp_path / "pipe.onnx")
        return str(tmp_path / "pipe.onnx")
    if case == "directory":
        (tmp_path / "adir.onnx").mkdir()
        return str(tmp_path / "adir.onnx")
    return str(run / ("best.safetensors" if case == "run_checkpoint" else "x.onnx"))


@pytest.mark.parametrize("case", ["device", "fifo", "directory", "run_checkpoint", "run_file",
                                  "spec_itself"])
def test_export_refuses_outputs_it_must_not_write(tmp_path, trained, case):
    run = _copy_run(trained, tmp_path)
    if case == "spec_itself":
        (tmp_path / "s.onnx").write_text(spec_text())
        source = target = tmp_path / "s.onnx"
    else:
        source, target = run, _targets(tmp_path, run, case)
    result = invoke(["export", source, "-o", target], root=tmp_path, codes=(1, 2))
    assert "error" in result.output.lower(), result.output
    if case == "device":
        assert stat.S_ISCHR(os.stat(target).st_mode)


@pytest.mark.parametrize("case", ["fifo", "run_file", "spec_dot"])
def test_draw_refuses_outputs_it_must_not_write(tmp_path, trained, case):
    run = _copy_run(trained, tmp_path)
    if case == "fifo":
        target = tmp_path / "pipe.dot"
        os.mkfifo(target)
    elif case == "run_file":
        target = run / "net.dot"
    else:
        target = tmp_path / "net.dot"
    spec = run / "spec.yaml" if case != "spec_dot" else target
    if case == "spec_dot":
        target.write_text(spec_text())
    result = invoke(["draw", spec, "-o", target], root=tmp_path)
    assert result.exit_code == 1, result.output


def test_export_refuses_a_spec_name_that_leaves_its_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "s.yaml").write_text(spec_text().replace("name: tiny",
                                                                   "name: ../../escape"))
    result = invoke(["export", "s.yaml"], root=tmp_path, codes=(1,))
    assert "name" in result.output and not (tmp_path.parent / "escape.onnx").exists()


def test_a_full_disk_is_a_clear_error_and_writes_nothing_half(tmp_path, monkeypatch):
    import errno

    _data(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text())
    real = os.replace

    def full(src, dst, *a, **k):
        if str(dst).startswith(str(tmp_path)) and not str(dst).endswith("latest"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, *a, **k)
    monkeypatch.setattr(os, "replace", full)
    result = invoke(["train", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "-q"],
                    root=tmp_path, allowed=("runs/",), codes=(1,))
    assert "No space left on device" in result.output
    left = [p for p in (tmp_path / "runs").rglob("*") if p.name.endswith(".tmp")]
    assert not left, left


# ---- the run lock ----------------------------------------------------------------------------

def test_a_run_in_use_is_refused_with_the_pid(tmp_path, trained):
    run = _copy_run(trained, tmp_path)
    with open(run / ".lock", "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        held.write("424242\n")
        held.flush()
        result = invoke(["train", "--resume", run, "--epochs", "2", "-q"], codes=(1,))
    assert "process 424242" in result.output, result.output


@pytest.mark.slow
def test_a_stale_lock_of_a_killed_process_does_not_block(tmp_path, trained):
    run = _copy_run(trained, tmp_path)
    code = (f"import fcntl, os; f = open({str(run / '.lock')!r}, 'w'); "
            f"fcntl.flock(f, fcntl.LOCK_EX); f.write(str(os.getpid())); f.flush(); "
            f"os.kill(os.getpid(), 9)")
    subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    result = invoke(["train", "--resume", run, "--epochs", "2", "-q"], codes=(0,))
    assert (run / "summary.json").is_file(), result.output


# ---- damaged run directories -----------------------------------------------------------------

RUN_FILES = ["spec.yaml", "train.json", "data.json", "run.json", "best.safetensors",
             "last.safetensors", "last.state.safetensors"]
MUTATIONS = ["delete", "truncate", "corrupt", "json_list"]


def _mutate(path, how: str) -> None:
    if how == "delete":
        path.unlink()
    elif how == "truncate":
        path.write_bytes(path.read_bytes()[:64])
    elif how == "corrupt":
        raw = bytearray(path.read_bytes())
        for i in range(len(raw) // 2, min(len(raw), len(raw) // 2 + 16)):
            raw[i] ^= 0x5A
        path.write_bytes(bytes(raw))
    else:
        path.write_text("[1, 2, 3]\n")


@pytest.mark.parametrize("how", MUTATIONS)
@pytest.mark.parametrize("name", RUN_FILES)
def test_eval_of_a_damaged_run_is_exit_0_or_1(tmp_path, trained, name, how):
    run = _copy_run(trained, tmp_path)
    _mutate(run / name, how)
    invoke(["eval", run], root=tmp_path)


@pytest.mark.parametrize("how", MUTATIONS)
def test_export_refuses_a_damaged_best_checkpoint(tmp_path, trained, how):
    run = _copy_run(trained, tmp_path)
    _mutate(run / "best.safetensors", how)
    (run / "last.safetensors").unlink()
    result = invoke(["export", run, "-o", tmp_path / "m.onnx"], root=tmp_path,
                    allowed=("m.onnx",))
    assert result.exit_code == 1 and not (tmp_path / "m.onnx").exists(), result.output


@pytest.mark.parametrize("how", ["delete", "json_list", "wrong_types"])
def test_export_without_a_whole_data_json_is_an_error(tmp_path, trained, how):
    run = _copy_run(trained, tmp_path)
    if how == "wrong_types":
        (run / "data.json").write_text(json.dumps({"scale": "big", "normalize": [1]}))
    else:
        _mutate(run / "data.json", how)
    result = invoke(["export", run, "-o", tmp_path / "m.onnx"], root=tmp_path,
                    allowed=("m.onnx",))
    assert result.exit_code == 1 and "data.json" in result.output, result.output


@pytest.mark.slow
@pytest.mark.parametrize("how", MUTATIONS)
@pytest.mark.parametrize("name", RUN_FILES)
def test_export_and_resume_of_a_damaged_run(tmp_path, trained, name, how):
    run = _copy_run(trained, tmp_path)
    _mutate(run / name, how)
    invoke(["export", run, "-o", tmp_path / "m.onnx"], root=tmp_path,
           allowed=("m.onnx", "m.onnx.unverified"))
    invoke(["train", "--resume", run, "--epochs", "2", "-q"], root=tmp_path,
           allowed=("run/",))


# ---- Ctrl-C ----------------------------------------------------------------------------------

def test_the_ctrl_c_hint_names_the_run(tmp_path, monkeypatch):
    from netspec.training.loop import Trainer

    def interrupted(self):
        raise KeyboardInterrupt
    monkeypatch.setattr(Trainer, "fit", interrupted)
    _data(tmp_path)
    (tmp_path / "spec.yaml").write_text(spec_text())
    result = invoke(["train", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "-q"],
                    codes=(130,))
    run = tmp_path / "runs" / "tiny" / "1"
    assert f"netspec train --resume {run}`" in result.output, result.output
    assert "<run dir>" not in result.output
