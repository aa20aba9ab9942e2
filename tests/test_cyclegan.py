"""The `cyclegan` task (DESIGN §5b): the unpaired two-domain data, the wiring it checks (a
missing network, a generator whose images the other side cannot take, a discriminator that
does not score patches), a short run that writes its pairs and metrics, kill -9 then --resume
bit-identical, and the pieces (losses, image pool, tracker, pairs grid) in isolation."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import netspec
from netspec.errors import SpecError
from netspec.training.data.section import DataConfig
from netspec.training.data.unpaired import UnpairedArgs, digits_ink, InkArgs, thicken, unpaired
from netspec.training.tasks.cyclegan import CycleGan, CycleTracker, l1, least_squares, rows_png

GEN = ("{{input: [1, 8, 8], layers: [{{conv: {{out: 4, kernel: 3, padding: 1}}}}, relu, "
       "{{conv: {{out: {g_out}, kernel: 3, padding: 1}}}}, tanh]}}")
DISC = ("{{input: [1, 8, 8], layers: [{{conv: {{out: 4, kernel: 4, stride: 2, padding: 1}}}}, "
        "{{leaky_relu: 0.2}}, {{conv: {{out: {d_out}, kernel: 3, padding: 1}}}}]}}")
SPEC = """\
name: tiny_cycle
networks:
  g_ab: {gen_ab}
  g_ba: {gen}
  d_a: {disc}
  d_b: {disc_b}
train:
  task: {task}
  data: {{a: {{name: digits}}, b: {{name: digits_ink, size: 8}}}}
  batch_size: 128
  epochs: {epochs}
  seed: 0
{extra}"""


def write(tmp_path: Path, epochs: int = 1, extra: str = "", g_ab_out: int = 1,
          d_b_out: int = 1, task: str = "{cyclegan: {pool: 4, samples: 3}}",
          drop: str | None = None) -> Path:
    text = SPEC.format(gen_ab=GEN.format(g_out=g_ab_out), gen=GEN.format(g_out=1),
                       disc=DISC.format(d_out=1), disc_b=DISC.format(d_out=d_b_out),
                       task=task, epochs=epochs, extra=extra)
    if drop:
        text = "".join(line for line in text.splitlines(keepends=True)
                       if not line.startswith(f"  {drop}:"))
    path = tmp_path / "cycle.yaml"
    path.write_text(text)
    return path


def test_unpaired_domains_hold_different_images():
    a = {"name": "digits", "size": 16}
    b = {"name": "digits_ink", "size": 16, "thicken": 1}
    arrays = unpaired(UnpairedArgs(a=a, b=b), (1, 16, 16), DataConfig(a=a, b=b))
    assert arrays.x.shape == arrays.y.shape == (898, 1, 16, 16)
    assert 0 <= arrays.x.min() and arrays.x.max() <= 1 and 0 <= arrays.y.min()
    # b is dark ink on light paper, a light strokes on black: b is the brighter domain
    assert arrays.x.mean() < 0.35 and arrays.y.mean() > arrays.x.mean() + 0.15
    plain = digits_ink(InkArgs(size=16, thicken=1, invert=False), (1, 16, 16), None).x
    # b's image i is digit 2i + 1 inked, a's is digit 2i: never the same digit image
    assert np.array_equal(arrays.y, 1 - plain[1::2][:898])
    assert not np.array_equal(thicken(arrays.x, 0), 1 - arrays.y)


def test_thicken_is_a_max_filter():
    x = np.zeros((1, 1, 5, 5), np.float32)
    x[0, 0, 2, 2] = 1
    assert thicken(x, 1)[0, 0].sum() == 9 and thicken(x, 2)[0, 0].sum() == 25


def test_check_finds_wiring_mistakes(tmp_path):
    assert netspec.check(write(tmp_path)).networks.keys() == {"g_ab", "g_ba", "d_a", "d_b"}
    with pytest.raises(SpecError, match="this spec has no `d_b`"):
        netspec.check(write(tmp_path, drop="d_b"))
    with pytest.raises(SpecError, match=r"the g_ab makes \[2, 8, 8\] per sample, but the d_b "
                                        r"takes \[1, 8, 8\]") as err:
        netspec.check(write(tmp_path, g_ab_out=2))
    assert err.value.diagnostics[0].hint
    with pytest.raises(SpecError, match=r"the d_b outputs \[3, 4, 4\] per sample; it scores"):
        netspec.check(write(tmp_path, d_b_out=3))


def test_config_mistakes_are_located(tmp_path):
    with pytest.raises(SpecError, match="losses are its own") as err:
        netspec.train(str(write(tmp_path, extra="  loss: mse\n")), out=str(tmp_path / "r"),
                      quiet=True)
    assert err.value.diagnostics[0].loc.line == 13           # the `loss:` line
    one = write(tmp_path).read_text().replace(
        "{a: {name: digits}, b: {name: digits_ink, size: 8}}", "{name: digits}")
    (tmp_path / "one.yaml").write_text(one)
    with pytest.raises(SpecError, match="trains on two domains"):
        netspec.train(str(tmp_path / "one.yaml"), out=str(tmp_path / "r"), quiet=True)


def _rows(path: Path) -> list[dict]:
    return [{k: v for k, v in r.items() if k != "time"}
            for r in csv.DictReader((path / "metrics.csv").open())]


def test_a_short_run_writes_pairs_and_metrics(tmp_path):
    result = netspec.train(str(write(tmp_path, epochs=2)), out=str(tmp_path / "r"), quiet=True)
    assert result.ok
    run = tmp_path / "r" / "tiny_cycle" / "1"
    rows = _rows(run)
    assert len(rows) == 2
    for col in ("train_loss", "train_d_a", "train_d_b", "train_g", "train_cycle",
                "train_identity"):
        assert np.isfinite(float(rows[-1][col])) and float(rows[-1][col]) > 0
    png = Image.open(run / "samples" / "epoch_002.png")
    # 3 images a row, six rows of 8x8 with 2 px between and 6 more between a's and b's rows
    assert png.size == (3 * 10 + 2, 6 * 10 + 6 + 2)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["samples"] == "samples/epoch_002.png" and "g_ab(a)" in summary["pairs"]
    weights = load_file(run / "last.safetensors")
    assert {k.split(".")[0] for k in weights} == {"g_ab", "g_ba", "d_a", "d_b"}


def test_kill_9_then_resume_is_bit_identical(tmp_path):
    epochs = 3
    spec = write(tmp_path, epochs, extra="  checkpoint_every: 2\n")
    assert netspec.train(str(spec), out=str(tmp_path / "whole"), quiet=True).ok
    run = tmp_path / "killed" / "tiny_cycle" / "1"
    process = subprocess.Popen([sys.executable, "-m", "netspec", "train", str(spec), "--out",
                                str(tmp_path / "killed"), "-q"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert process.poll() is None, "the run ended before it could be killed"
            try:
                state = json.loads((run / "last.json").read_text())
                if state["epoch"] >= 1 and state["batch"] > 0:      # inside epoch 2
                    break
            except (FileNotFoundError, json.JSONDecodeError):
                pass
            time.sleep(0.002)
    finally:
        process.kill()
        process.wait()
    assert json.loads((run / "last.json").read_text())["epoch"] < epochs
    assert netspec.train(resume=str(run), quiet=True).ok
    whole = tmp_path / "whole" / "tiny_cycle" / "1"
    reference, final = (load_file(p / "last.state.safetensors") for p in (whole, run))
    assert reference.keys() == final.keys()
    assert any("pool_a" in k for k in reference)            # the image pool is resumed too
    assert all(torch.equal(reference[k], final[k]) for k in reference)
    assert _rows(run) == _rows(whole) and len(_rows(run)) == epochs
    assert (run / "samples" / "epoch_003.png").read_bytes() == \
        (whole / "samples" / "epoch_003.png").read_bytes()


def test_losses_pool_tracker_and_grid():
    score = torch.full((2, 1, 3, 3), 0.5)
    assert least_squares(score, 1.0).item() == pytest.approx(0.25)
    assert l1(torch.zeros(2, 4), torch.ones(2, 4)).item() == 1.0
    task = CycleGan()
    torch.manual_seed(0)
    first = torch.arange(3.0).reshape(3, 1, 1, 1)
    assert torch.equal(task.pooled("a", first, 3), first)          # filling: passes through
    out = task.pooled("a", first + 10, 3)
    assert out.shape == first.shape and task.pools["a"].shape == (3, 1, 1, 1)
    # every image D sees is either this batch's or one stored before
    assert all(v in {0.0, 1.0, 2.0, 10.0, 11.0, 12.0} for v in out.flatten().tolist())
    assert torch.equal(task.pooled("b", first, 0), first)          # pool 0: no pool
    tracker = CycleTracker()
    tracker.update(4, *(torch.tensor(float(v)) for v in (6, 1, 2, 3, 4, 5)))
    assert tracker.result() == {"loss": 6, "d_a": 1, "d_b": 2, "g": 3, "cycle": 4,
                                "identity": 5}
    rows = [torch.full((2, 1, 4, 4), v) for v in (-1.0, 1.0)]
    img = np.asarray(Image.open(io.BytesIO(rows_png(rows))))
    assert img.shape == (2 * 6 + 6 + 2, 2 * 6 + 2)
    assert img[2, 2] == 0 and img[-3, 2] == 255
