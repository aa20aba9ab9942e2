"""Mosaic against a hand computation, mixed targets in the loss, augmentations and metrics
checked by `netspec check` (torch-free, located, did-you-mean), and `netspec augment`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from click.testing import CliRunner

from netspec.cli.main import main
from netspec.training.augment import AUGMENTATIONS, Pipeline, mixed_loss
from netspec.training.augment_preview import mixed_labels
from netspec.training.metric_args import METRICS

ROOT = Path(__file__).resolve().parents[1]


def choice(name, **args):
    return AUGMENTATIONS.choose(name, args, None, None, None)


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


# ---- mosaic -------------------------------------------------------------------------------

def numbered(b: int, h: int = 8, w: int = 8) -> torch.Tensor:
    """Images whose every pixel says where it comes from: 100·sample + 8·row + column."""
    rows = torch.arange(h).view(h, 1) * w
    return (torch.arange(b).view(b, 1, 1, 1) * 100 + rows + torch.arange(w)).float()


def source_of(tile: torch.Tensor, rows: range, cols: range) -> int:
    """The sample a tile was cut from, after checking it is that sample's rows and cols."""
    sample = int(tile[0, 0]) // 100
    assert torch.equal(tile, numbered(sample + 1)[sample, 0][rows.start:rows.stop,
                                                            cols.start:cols.stop])
    return sample


def test_mosaic_tiles_four_images_around_the_centre_by_hand():
    # centre fixed at (0.25 H, 0.25 W) = (2, 2) on 8x8: tiles of 2x2, 2x6, 6x2 and 6x6 pixels,
    # each image's corner at the centre (YOLO's placement)
    x, y = numbered(6), torch.tensor([3, 1, 4, 1, 5, 9])
    out, parts = AUGMENTATIONS["mosaic"].fn(x, choice("mosaic", p=1.0, center=[0.25, 0.25]).args,
                                            torch.Generator().manual_seed(0))
    assert [w for w, _ in parts] == [4 / 64, 12 / 64, 12 / 64, 36 / 64]
    assert parts[0][1] is None                     # the top-left tile is the sample's own
    for i in range(6):
        own = source_of(out[i, 0, 0:2, 0:2], range(6, 8), range(6, 8))
        right = source_of(out[i, 0, 0:2, 2:8], range(6, 8), range(0, 6))
        below = source_of(out[i, 0, 2:8, 0:2], range(0, 6), range(6, 8))
        across = source_of(out[i, 0, 2:8, 2:8], range(0, 6), range(0, 6))
        assert own == i
        assert [right, below, across] == [int(parts[k][1][i]) for k in (1, 2, 3)]
    # the loss mixes the four targets by area
    logits = torch.randn(6, 10)
    _, mix = Pipeline([choice("mosaic", p=1.0, center=[0.25, 0.25])])(
        x, y, torch.Generator().manual_seed(0))
    by_hand = sum(w * F.cross_entropy(logits, y if perm is None else y[perm])
                  for w, perm in parts)
    assert torch.allclose(mixed_loss(F.cross_entropy, logits, y, mix), by_hand)


def test_mosaic_scale_puts_each_whole_image_in_its_tile():
    # constant images stay constant when resized: each tile is one sample's value
    x = torch.arange(5).float().view(5, 1, 1, 1).expand(5, 2, 8, 8).contiguous()
    out, parts = AUGMENTATIONS["mosaic"].fn(
        x, choice("mosaic", p=1.0, center=[0.5, 0.5], fit="scale").args,
        torch.Generator().manual_seed(3))
    assert [w for w, _ in parts] == [0.25] * 4
    for i in range(5):
        tiles = [out[i, :, :4, :4], out[i, :, :4, 4:], out[i, :, 4:, :4], out[i, :, 4:, 4:]]
        sources = [i] + [int(parts[k][1][i]) for k in (1, 2, 3)]
        for tile, source in zip(tiles, sources):
            assert torch.allclose(tile, torch.full_like(tile, float(source)))
    # a gradient image halved: each tile is the whole image at half size
    ramp = torch.arange(8).float().view(1, 1, 1, 8).expand(2, 1, 8, 8).contiguous()
    out, _ = AUGMENTATIONS["mosaic"].fn(
        ramp, choice("mosaic", p=1.0, center=[0.5, 0.5], fit="scale").args,
        torch.Generator().manual_seed(0))
    assert torch.allclose(out[0, 0, 0, :4], torch.tensor([0.5, 2.5, 4.5, 6.5]))


def test_mosaic_centre_range_p_and_replay():
    x, y = torch.rand(8, 3, 12, 10), torch.arange(8)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        out, parts = AUGMENTATIONS["mosaic"].fn(x, choice("mosaic", p=1.0).args, g)
        weights = [w for w, _ in parts]
        assert sum(weights) == pytest.approx(1.0) and min(weights) >= 1 / 16 - 1e-9
    kept, parts = AUGMENTATIONS["mosaic"].fn(x, choice("mosaic", p=0.0).args, g)
    assert kept is x and parts == ((1.0, None),)
    pipe = Pipeline([choice("hflip"), choice("mosaic", p=1.0, center=[0, 1])])
    first = pipe(x, y, torch.Generator().manual_seed(5))
    again = pipe(x, y, torch.Generator().manual_seed(5))
    assert torch.equal(first[0], again[0])
    assert [(w, torch.equal(a, b)) for (w, a), (_, b) in zip(first[1], again[1])] == \
        [(w, True) for w, _ in first[1]]


def test_mixed_labels_read_as_class_names_by_weight():
    class Data:
        labels = ["cat", "dog", "eel"]
    y = torch.tensor([0, 1])
    mix = ((0.6, y), (0.4, torch.tensor([1, 1])))
    assert mixed_labels(mix, Data) == ["cat 0.6 / dog 0.4", "dog"]
    four = ((0.5, y), (0.25, torch.tensor([1, 0])), (0.125, torch.tensor([2, 2])),
            (0.125, torch.tensor([1, 1])))
    assert mixed_labels(four, Data)[0] == "cat 0.5 / dog 0.38\neel 0.12"


def test_every_declared_entry_is_implemented():
    for registry in (AUGMENTATIONS, METRICS):       # each loader names a function that exists
        assert all(callable(e.fn.resolve()) for e in registry.entries.values())


# ---- checked at check time -------------------------------------------------------------------

SPEC = """\
name: aug
input: [1, 8, 8]
layers:
  - flatten
  - linear: 10
train:
  data: digits
  metrics: {metrics}
  augment: {augment}
"""


@pytest.mark.parametrize("metrics, augment, where, message", [
    ("[acuracy]", "[hflip]", "8:13", "unknown metric `acuracy`\n  hint: did you mean `accuracy`?"),
    ("[accuracy, {top_k: 0}]", "[hflip]", "8:31", "metric top_k: `k`: must be at least 1, got 0"),
    ("[accuracy]", "[hfilp]", "9:13", "unknown augmentation `hfilp`\n  hint: did you mean "
     "`hflip`?"),
    ("[accuracy]", "[hflip, {random_crop: {padding: -1}}]", "9:44",
     "augmentation random_crop: `padding`: must be at least 0, got -1"),
    ("[accuracy]", "[{mosaic: {center: [0.8, 0.2]}}]", "9:31",
     "augmentation mosaic: `center`: must be a range [low, high] with low <= high"),
    ("[accuracy]", "[{mosaic: 1.5}]", "9:22", "augmentation mosaic: `p`: must be a probability"),
])
def test_check_reports_augment_and_metric_mistakes_located(tmp_path, metrics, augment, where,
                                                          message):
    spec = tmp_path / "aug.yaml"
    spec.write_text(SPEC.format(metrics=metrics, augment=augment))
    out = cli("check", spec)
    assert out.exit_code == 1
    assert f"aug.yaml:{where}: error: {message}" in out.output


def test_check_refuses_an_image_augmentation_on_other_samples(tmp_path):
    spec = tmp_path / "flat.yaml"
    spec.write_text("name: flat\ninput: [4]\nlayers:\n  - linear: 3\ntrain:\n  data: iris\n"
                    "  augment: [noise, hflip]\n")
    out = cli("check", spec)
    assert out.exit_code == 1
    assert ("flat.yaml:7:20: error: `hflip` works on images [C, H, W]; the spec's input is [4]\n"
            "  hint: noise and mixup work on any data") in out.output


def test_check_of_augment_and_metrics_imports_no_torch(tmp_path):
    spec = tmp_path / "aug.yaml"
    spec.write_text(SPEC.format(metrics="[accuracy, {top_k: 3}, f1]",
                                augment="[hflip, {mosaic: {p: 0.5, center: [0.3, 0.7]}}, mixup]"))
    script = ("import sys\nfrom netspec.cli.main import main\n"
              f"try:\n    main([\"check\", {str(spec)!r}])\nexcept SystemExit as e:\n"
              "    assert not e.code, e.code\n"
              "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_schema_names_every_augmentation_and_metric():
    from netspec.training.train_schema import train_schema

    props = train_schema({})["properties"]
    for key, registry in (("augment", AUGMENTATIONS), ("metrics", METRICS)):
        by_name = props[key]["anyOf"][0]["anyOf"][0]
        assert by_name["enum"] == registry.names()
    assert "mosaic" in AUGMENTATIONS.names()


# ---- netspec augment ------------------------------------------------------------------------

MOSAIC = """\
name: mosaic_digits
input: [1, 16, 16]
layers:
  - flatten
  - linear: 10
train:
  data: {name: digits, size: 16}
  augment: [{random_crop: 1}, {mosaic: {p: 1.0}}]
"""


def test_augment_writes_a_labelled_grid(tmp_path):
    from PIL import Image

    spec = tmp_path / "spec.yaml"
    spec.write_text(MOSAIC)
    out = cli("augment", spec, "-o", tmp_path / "grid.png", "--n", 6, "--seed", 2)
    assert out.exit_code == 0, out.output
    assert "6 images of digits through random_crop, mosaic (seed 2)" in out.output
    image = Image.open(tmp_path / "grid.png")
    assert image.size[0] > 300 and image.size[1] > 200
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]   # no temp left


def test_augment_preview_is_the_training_pipeline(tmp_path):
    from netspec.graph.load import load
    from netspec.training.augment_preview import augment_preview

    spec = tmp_path / "spec.yaml"
    spec.write_text(MOSAIC)
    first = augment_preview(load(spec), n=5, seed=4)
    again = augment_preview(load(spec), n=5, seed=4)
    assert first.images.shape == (5, 1, 16, 16)
    assert 0 <= first.images.min() and first.images.max() <= 1      # un-normalised for display
    assert (first.images == again.images).all() and first.labels == again.labels
    assert all(" / " in t or t.isdigit() for t in first.labels)


@pytest.mark.parametrize("args, code, text", [
    (("--n", 0), 2, "Invalid value for '-n'"),
    (("-o", "grid.jpeg"), 2, "the suffix picks the format"),
    (("--variant", "big"), 2, "variant"),
])
def test_augment_misuse_is_exit_2(tmp_path, args, code, text):
    spec = tmp_path / "spec.yaml"
    spec.write_text(MOSAIC)
    out = cli("augment", spec, *args)
    assert out.exit_code == code and text in out.output, out.output


@pytest.mark.parametrize("text, message", [
    ("name: n\ninput: [4]\nlayers:\n  - linear: 3\n",
     "spec.yaml:1:1: error: the spec has no `train:` section"),
    ("name: n\ninput: [4]\nlayers:\n  - linear: 3\ntrain:\n  data: iris\n",
     "spec.yaml:6:9: error: `iris` holds samples of shape [4], not images [C, H, W]"),
])
def test_augment_of_what_it_cannot_preview_is_a_located_error(tmp_path, text, message):
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    out = cli("augment", spec, "-o", tmp_path / "grid.png")
    assert out.exit_code == 1 and message in out.output, out.output
    assert not (tmp_path / "grid.png").exists()


def test_augment_refuses_to_overwrite_its_spec(tmp_path):
    spec = tmp_path / "spec.png"
    spec.write_text(MOSAIC)
    out = cli("augment", spec, "-o", spec)
    assert out.exit_code == 1 and "is an input of this command" in out.output
    assert json.dumps(spec.read_text()) == json.dumps(MOSAIC)


def test_a_run_trains_through_mosaic(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("name: mosaic_run\ninput: [1, 8, 8]\nlayers:\n  - flatten\n  - linear: 10\n"
                    "train:\n  data: digits\n  epochs: 1\n  threads: 1\n"
                    "  augment: [{mosaic: {p: 1.0, fit: scale}}]\n")
    out = cli("train", spec, "--out", tmp_path / "runs", "--quiet")
    assert out.exit_code == 0, out.output
    summary = json.loads((tmp_path / "runs" / "mosaic_run" / "1" / "summary.json").read_text())
    assert summary["status"] == "completed"
