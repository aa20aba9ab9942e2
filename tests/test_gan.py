"""The `gan` task (DESIGN §5b): a tiny GAN trains a few steps and writes its sample grids and
metrics; kill -9 then --resume gives bit-identical weights; the fid's pieces; the diagnoses
(mode collapse, a discriminator that wins outright, divergence) on made-up histories."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import netspec
from netspec.errors import SpecError
from netspec.training import fid
from netspec.training.tasks.gan import (GanTracker, collapse, discriminator_lost_its_lead,
                                        discriminator_wins, diverged, grid_png)

SPEC = """\
name: tiny_gan
networks:
  generator:
    input: [8]
    layers:
      - reshape: [8, 1, 1]
      - conv_transpose: {{out: 8, kernel: 4, bias: false}}
      - batchnorm
      - relu
      - conv_transpose: {{out: 1, kernel: 4, stride: 2, padding: 1}}
      - tanh
  discriminator:
    input: [1, 8, 8]
    layers:
      - conv: {{out: 8, kernel: 4, stride: 2, padding: 1}}
      - leaky_relu: 0.2
      - flatten
      - linear: 1
train:
  task: {task}
  data: digits
  batch_size: 64
  epochs: {epochs}
  threads: 1
{extra}"""


def write(tmp_path: Path, epochs: int = 1, task: str = "{gan: {fid: false, samples: 16}}",
          extra: str = "") -> Path:
    path = tmp_path / "gan.yaml"
    path.write_text(SPEC.format(epochs=epochs, task=task, extra=extra))
    return path


@pytest.mark.slow              # about 20 s alone, a minute on 2 busy cores
def test_a_tiny_gan_writes_samples_and_metrics(tmp_path):
    run = netspec.train(str(write(tmp_path, 2, "{gan: {samples: 16, fid_samples: 200}}")),
                        out=str(tmp_path / "runs"), quiet=True)
    assert run.ok
    files = sorted(p.name for p in (run.path / "samples").iterdir())
    assert files == ["best.png", "epoch_001.png", "epoch_002.png"]
    from PIL import Image

    grid = Image.open(run.path / "samples" / "epoch_002.png")
    assert grid.size == (4 * 10 + 2, 4 * 10 + 2)          # 16 images of 8x8, 2 px apart
    rows = list(csv.DictReader((run.path / "metrics.csv").open()))
    assert len(rows) == 2
    for key in ("train_d_loss", "train_g_loss", "train_d_real", "train_d_fake", "fid",
                "diversity", "classes", "confidence"):
        assert np.isfinite(float(rows[-1][key])), key
    assert 0 < float(rows[-1]["train_d_real"]) < 1
    assert 0 <= float(rows[-1]["classes"]) <= 10 and 0.1 <= float(rows[-1]["confidence"]) <= 1
    summary = json.loads((run.path / "summary.json").read_text())
    assert summary["monitor"] == "fid" and summary["best"]["epoch"] in (1, 2)
    best = summary["best"]["epoch"]
    # the best epoch's grid, and the class coverage of its samples
    assert (run.path / "samples" / "best.png").read_bytes() == \
        (run.path / "samples" / f"epoch_{best:03d}.png").read_bytes()
    classes = summary["classes"]
    assert classes["epoch"] == best and classes["of"] == 10 and len(classes["shares"]) == 10
    assert sum(classes["shares"]) == pytest.approx(1, abs=1e-3)
    assert classes["covered"] == float(rows[best - 1]["classes"])
    assert summary["fid"]["features"].startswith(str(tmp_path / "runs" / ".fid"))
    state = load_file(run.path / "last.state.safetensors")
    assert any(k.startswith("generator.") for k in state)
    assert any(k.startswith("@optimizer.discriminator.") for k in state)
    data = json.loads((run.path / "data.json").read_text())
    assert data["networks"]["discriminator"]["output"] == "logits"
    # the trained generator, exported from the run alone
    from netspec.training.rundir import RunDir

    weights = RunDir(run.path).read_network_weights("generator")
    g = netspec.build(run.path / "spec.yaml", network="generator")
    g.load_state_dict(weights)


def test_gan_config_mistakes_are_located(tmp_path):
    with pytest.raises(SpecError, match="the gan task's loss is its own argument"):
        netspec.train(str(write(tmp_path, extra="  loss: mse\n")), out=str(tmp_path), quiet=True)
    with pytest.raises(SpecError, match="`val_loss` is not logged by the gan task"):
        netspec.train(str(write(tmp_path, extra="  monitor: val_loss\n")), out=str(tmp_path),
                      quiet=True)
    with pytest.raises(SpecError, match="the task `classify` trains one network"):
        netspec.train(str(write(tmp_path, task="classify")), out=str(tmp_path), quiet=True)
    with pytest.raises(SpecError, match="`optimizers` names no network of this spec: 'g'"):
        netspec.train(str(write(tmp_path, extra="  optimizers: {g: adam}\n")),
                      out=str(tmp_path), quiet=True)


def _rows(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"}
            for r in csv.DictReader((path / "metrics.csv").open())]


@pytest.mark.slow              # two runs and a process killed: a minute or more
def test_kill_9_then_resume_is_bit_identical(tmp_path):
    epochs = 6
    extra = "  optimizers: {discriminator: {adam: {lr: 1.0e-4, betas: [0.5, 0.999]}}}\n" \
            "  checkpoint_every: 9\n"
    spec = write(tmp_path, epochs, extra=extra)
    assert netspec.train(str(spec), out=str(tmp_path / "whole"), quiet=True).ok
    run = tmp_path / "killed" / "tiny_gan" / "1"
    process = subprocess.Popen([sys.executable, "-m", "netspec", "train", str(spec), "--out",
                                str(tmp_path / "killed"), "-q"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            try:
                state = json.loads((run / "last.json").read_text())
                if state["epoch"] >= 2 and state["batch"] > 0:      # inside epoch 3
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.002)
    finally:
        process.kill()
        process.wait()
    assert json.loads((run / "last.json").read_text())["epoch"] < epochs
    assert netspec.train(resume=str(run), quiet=True).ok
    reference = load_file(tmp_path / "whole" / "tiny_gan" / "1" / "last.state.safetensors")
    final = load_file(run / "last.state.safetensors")
    assert reference.keys() == final.keys()
    assert all(torch.equal(reference[k], final[k]) for k in reference)
    assert _rows(run) == _rows(tmp_path / "whole" / "tiny_gan" / "1") and len(_rows(run)) == 6
    grids = [(p / "samples" / "epoch_006.png").read_bytes()
             for p in (run, tmp_path / "whole" / "tiny_gan" / "1")]
    assert grids[0] == grids[1]


def test_frechet_distance_and_spread():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(4000, 3))
    b = rng.normal(loc=2.0, size=(4000, 3))
    assert fid.frechet(fid.stats(a), fid.stats(a)) == pytest.approx(0, abs=1e-9)
    # two unit Gaussians 2 apart on each of 3 axes: |mu|^2 = 12, the covariances agree
    assert fid.frechet(fid.stats(a), fid.stats(b)) == pytest.approx(12, rel=0.05)
    alike = torch.ones(8, 1, 4, 4)
    assert fid.mean_pairwise_distance(alike) == 0
    assert fid.mean_pairwise_distance(torch.eye(2)) == pytest.approx(2 ** 0.5)


def test_tracker_and_grid():
    t = GanTracker()
    t.update(4, torch.tensor(1.0), torch.tensor(3.0), torch.tensor(0.75), torch.tensor(0.25))
    t.update(2, torch.tensor(4.0), torch.tensor(0.0), torch.tensor(0.0), torch.tensor(1.0))
    assert t.result() == pytest.approx({"loss": (16 + 8) / 6, "d_loss": 12 / 6,
                                        "g_loss": 12 / 6, "d_real": 3 / 6, "d_fake": 3 / 6})
    other = GanTracker()
    other.load_state(*t.state())
    assert other.result() == t.result()
    from PIL import Image
    import io

    png = grid_png(torch.zeros(5, 3, 4, 4))             # rows of ceil(sqrt(5)) = 3
    assert Image.open(io.BytesIO(png)).size == (3 * 6 + 2, 2 * 6 + 2)


def _history(**columns) -> list[dict]:
    n = len(next(iter(columns.values())))
    return [{"epoch": i + 1, **{k: v[i] for k, v in columns.items()}} for i in range(n)]


def test_diagnoses_on_made_up_histories():
    healthy = _history(diversity=[0.9, 1.0, 0.95], train_d_real=[0.7, 0.75, 0.8],
                       train_d_fake=[0.3, 0.25, 0.3], train_g_loss=[1.5, 1.4, 1.6],
                       train_d_loss=[1.0, 1.1, 1.0], fid=[50.0, 40.0, 35.0])
    assert collapse(healthy) is None and discriminator_wins(healthy) is None
    assert diverged(healthy) is None
    collapsed = _history(diversity=[0.9, 0.4, 0.1])
    d = collapse(collapsed)
    assert d.kind == "mode_collapse" and "samples look alike (mode collapse)" in d.message
    assert "10% as far apart as real images (epoch 3)" in d.message
    wins = _history(train_d_real=[0.97, 0.99, 0.995], train_d_fake=[0.04, 0.02, 0.01],
                    train_g_loss=[3.0, 4.5, 6.0])
    d = discriminator_wins(wins)
    assert d.kind == "d_wins" and "the discriminator wins outright" in d.message
    assert "rose from 3 to 6" in d.message
    # withdrawn once D has not won outright for 3 epochs running
    caught_up = wins + _history(train_d_real=[0.9, 0.97, 0.8], train_d_fake=[0.1, 0.2, 0.15],
                                train_g_loss=[3.0, 2.5, 2.4])
    assert not discriminator_lost_its_lead(caught_up[:-1])      # epoch 2 of 3 still won
    assert discriminator_lost_its_lead(caught_up)
    assert not discriminator_lost_its_lead(wins)
    # winning but the generator's loss falls: it is still learning
    assert discriminator_wins(_history(train_d_real=[0.97] * 3, train_d_fake=[0.02] * 3,
                                       train_g_loss=[6.0, 5.0, 4.0])) is None
    d = diverged(_history(train_d_loss=[1.0, float("nan")], train_g_loss=[1.0, 2.0]))
    assert d.kind == "gan_diverged" and "train_d_loss became nan in epoch 2" in d.message


DCGAN_INIT = """\
name: dcgan_init
init: dcgan
input: [64, 4, 4]
layers:
  - conv: {out: 128, kernel: 3, padding: 1}
  - batchnorm
  - relu
  - conv_transpose: {out: 64, kernel: 4, stride: 2, padding: 1}
  - {batchnorm: {}, init: default}      # an entry's own scheme wins: torch's ones and zeros
  - relu
  - flatten
  - linear: 32
"""


def test_dcgan_init_draws_the_papers_weights():
    """DCGAN's init: conv, conv_transpose and linear weights N(0, 0.02), batchnorm scales
    N(1, 0.02), every bias 0; whatever activation follows (auto would pick He here)."""
    m = netspec.build_from_yaml(DCGAN_INIT, seed=0)
    sd = m.state_dict()
    for key in ("0.weight", "3.weight", "7.weight"):      # 73,728 / 131,072 / 32,768 values
        assert sd[key].mean().item() == pytest.approx(0, abs=1e-3), key
        assert sd[key].std().item() == pytest.approx(0.02, rel=0.03), key
    for key in ("0.bias", "3.bias", "7.bias", "1.bias"):
        assert torch.count_nonzero(sd[key]) == 0, key
    scale = sd["1.weight"]                                # 128 draws of N(1, 0.02)
    assert scale.mean().item() == pytest.approx(1, abs=0.01)
    assert 0.013 < scale.std().item() < 0.028
    assert torch.equal(sd["4.weight"], torch.ones(64))  # init: default on that entry
    auto = netspec.build_from_yaml(DCGAN_INIT.replace("init: dcgan", "init: auto"), seed=0)
    assert auto.state_dict()["0.weight"].std().item() > 0.03       # He: sqrt(2 / fan_out)


def test_class_coverage_of_generated_images():
    """`classes` counts the classes holding at least half their real share of the fakes."""
    labels = torch.arange(10).repeat(10)                         # 10% each
    picks = torch.tensor([0] * 50 + [1] * 4 + list(range(2, 10)) * 5 + [2] * 6)
    probs = torch.nn.functional.one_hot(picks, 10).double() * 0.5 + 0.05
    c = fid.coverage(probs, labels)
    assert c.shares[0] == 0.5 and c.shares[1] == 0.04 and c.shares[2] == 0.11
    assert c.covered == 9                        # class 1 at 4% < half of 10%
    assert c.confidence == pytest.approx(0.55)
