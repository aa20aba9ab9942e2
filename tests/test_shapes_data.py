"""The built-in `shapes` images: deterministic by `split_seed`, shaped by the spec, every class
drawn, bounding boxes around the figures, arguments refused where they are written, and a
tiny end-to-end training run from the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest

import netspec
from netspec.training.config import DataConfig
from netspec.training.data import load_data
from netspec.training.data.shapes import CLASSES, MAX_PIXELS, SHAPES, draw_shapes


def spec_with(input_shape: str):
    return netspec.loads(f"input: {input_shape}\nlayers: [flatten, {{linear: 12}}]\n", "t.yaml")


def data(spec_input: str = "[3, 32, 32]", **cfg):
    return load_data(DataConfig(name="shapes", **cfg), spec_with(spec_input))


def test_the_same_images_for_a_seed_and_a_prefix_of_a_larger_set():
    x1, y1, b1 = draw_shapes(40, 16, 16, seed=3)
    x2, y2, b2 = draw_shapes(1100, 16, 16, seed=3)           # more than one chunk
    assert np.array_equal(x1, x2[:40]) and np.array_equal(y1, y2[:40])
    assert np.array_equal(b1, b2[:40])
    x3, _, _ = draw_shapes(40, 16, 16, seed=4)
    assert not np.array_equal(x1, x3)


def test_split_is_fixed_by_split_seed_not_by_the_training_seed():
    a = data("[3, 16, 16]", samples=240, split_seed=1)
    b = data("[3, 16, 16]", samples=240, split_seed=1)
    for split in ("train", "val", "test"):
        assert np.array_equal(a.splits[split][0], b.splits[split][0])


def test_images_labels_and_classes():
    d = data("[3, 24, 24]", samples=240, normalize=False, val=0, test=0, shuffle=False)
    x, y = d.splits["train"]
    assert x.shape == (240, 3, 24, 24) and x.dtype == np.float32
    assert 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64 and d.labels == list(CLASSES) and len(CLASSES) >= 10
    assert np.array_equal(np.bincount(y), np.full(12, 20))   # every class, balanced
    assert d.task == "classification" and d.normalize is None


def test_classes_keeps_the_first_k_and_clutter_can_be_turned_off():
    d = data("[3, 16, 16]", samples=60, classes=4, clutter=0, noise=0.0)
    assert d.labels == list(CLASSES[:4]) and set(d.splits["train"][1].tolist()) == {0, 1, 2, 3}
    plain, _, _ = draw_shapes(24, 16, 16, seed=0, clutter=0)
    busy, _, _ = draw_shapes(24, 16, 16, seed=0, clutter=3)
    assert not np.array_equal(plain, busy)


@pytest.mark.parametrize("spec_input, cfg, shape", [
    ("[3, 32, 32]", {}, (3, 32, 32)),                 # the spec decides size and channels
    ("[1, 28, 28]", {}, (1, 28, 28)),                 # grey, as MNIST-sized networks expect
    ("[3, 16, 24]", {}, (3, 16, 24)),                 # not square
    ("[3072]", {}, (3072,)),                          # flat, for softmax regression
    ("[3, 20, 20]", {"size": 20, "channels": 3}, (3, 20, 20)),
    ("[256]", {"size": 16, "channels": 1}, (256,)),
])
def test_the_spec_input_decides_channels_and_size(spec_input, cfg, shape):
    d = data(spec_input, samples=48, **cfg)
    assert d.splits["train"][0].shape[1:] == shape


def test_grey_images_keep_the_figure_visible():
    x, y, boxes = draw_shapes(48, 32, 32, seed=0, noise=0.0, channels=1)
    assert x.shape == (48, 1, 32, 32)
    for img, (x0, y0, x1, y1) in zip(x[:, 0], boxes.astype(int)):
        inside, whole = img[y0:y1, x0:x1], img
        # the figure differs from the background: the box holds values far from the median
        assert np.abs(inside - np.median(whole)).max() > 0.15


def test_boxes_lie_inside_the_image_and_enclose_the_figure():
    x, y, boxes = draw_shapes(120, 32, 32, seed=0, noise=0.0)
    x0, y0, x1, y1 = boxes.T
    assert (0 <= x0).all() and (x0 < x1).all() and (x1 <= 32).all()
    assert (0 <= y0).all() and (y0 < y1).all() and (y1 <= 32).all()
    # the smallest figure (radius 0.2·size) is still several pixels across
    assert ((x1 - x0) * (y1 - y0) >= 9).all()
    # the box is the tight box of the pixels the figure covers at least half
    from netspec.training.data.shapes import _boxes

    mask = np.zeros((2, 10, 12), dtype=bool)
    mask[0, 2:5, 3:9] = True
    mask[1, 0, 11] = True
    assert _boxes(mask).tolist() == [[3, 2, 9, 5], [11, 0, 12, 1]]


def test_every_figure_fits_in_the_unit_disc():
    u, v = np.meshgrid(np.linspace(-1.5, 1.5, 121), np.linspace(-1.5, 1.5, 121))
    outside = np.sqrt(u ** 2 + v ** 2) > 1.0
    for name, d in SHAPES.items():
        inside = d(u, v) < 0
        assert inside.any(), name
        assert not (inside & outside).any(), f"{name} leaves the unit disc"


def test_arrays_carry_the_boxes():
    from netspec.training.data.shapes import ShapesArgs, shapes

    arrays = shapes(ShapesArgs(samples=24, size=16), (3, 16, 16), DataConfig(name="shapes"))
    assert arrays.boxes.shape == (24, 4) and arrays.boxes.dtype == np.float32


@pytest.mark.parametrize("option, text", [
    ("size: 4", "`size`: must be between 8 and 1024 pixels, got 4"),
    ("samples: 0", "`samples`: must be at least 1, got 0"),
    ("channels: 2", "`channels`: must be 3 (colour) or 1 (grey), got 2"),
    ("classes: 13", "`classes`: must be between 2 and 12"),
    ("noise: 1.5", "`noise`: must be a probability between 0 and 1, got 1.5"),
    ("clutter: 9", "`clutter`: must be at most 8 lines, got 9"),
    ("samples: 100000, size: 64", f"samples × height × width <= {MAX_PIXELS:,} pixels; "
                                  "got 100,000 × 64 × 64 = 409,600,000"),
    ("samples: 240, colour: red", "`colour` does not apply to the data set `shapes`"),
])
def test_argument_mistakes_are_located(tmp_path, option, text):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data=option, epochs=1))
    out = cli("train", spec, "--out", tmp_path / "runs", "-q")
    assert out.exit_code == 1, out.output
    assert out.stderr.startswith(f"{spec}:") and ": error: " in out.stderr
    assert text in out.stderr and "Traceback" not in out.output


def test_a_spec_input_too_large_for_the_bound_is_refused_by_name():
    with pytest.raises(netspec.SpecError, match="got 100 × 1024 × 1024 = 104,857,600"):
        data("[3, 1024, 1024]", samples=100)


def test_a_spec_input_the_set_cannot_fill_names_the_fix():
    with pytest.raises(netspec.SpecError, match=r"make the spec's input \[3, 32, 32\]"):
        data("[1000]", samples=24)


SPEC = """\
name: shapes_tiny
input: [3, 16, 16]
layers:
  - conv: {{out: 8, kernel: 3, padding: 1}}
  - relu
  - global_avgpool
  - linear: 12
train:
  data: {{name: shapes, {data}}}
  epochs: {epochs}
  batch_size: 32
  optimizer: {{adam: {{lr: 1.0e-2}}}}
  threads: 1
"""


def cli(*args):
    from click.testing import CliRunner

    from netspec.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_train_on_shapes_from_the_command_line(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SPEC.format(data="samples: 240, noise: 0.1", epochs=1))
    out = cli("train", spec, "--out", tmp_path / "runs")
    assert out.exit_code == 0, out.output
    run = tmp_path / "runs" / "shapes_tiny" / "1"
    summary = json.loads((run / "summary.json").read_text())
    assert summary["status"] == "completed" and summary["epochs_run"] == 1
    meta = json.loads((run / "data.json").read_text())
    assert meta["labels"] == list(CLASSES) and meta["input_shape"] == [3, 16, 16]
