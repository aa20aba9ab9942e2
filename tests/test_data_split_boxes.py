"""The per-sample arrays beside x and y (the `shapes` figures' bounding boxes) are split with the
images, by the same indices: box i of a split is the box of that split's image i, for the
stratified shuffled split, k-fold and the in-order split alike."""

from __future__ import annotations

import numpy as np
import pytest

import netspec
from netspec.training.config import DataConfig
from netspec.training.data import load_data
from netspec.training.data.shapes import LUMA, ShapesArgs, shapes

SIDE = 24
OPTIONS = {"samples": 240, "noise": 0.0, "clutter": 0}       # smooth backgrounds: edges show


def spec():
    return netspec.loads(f"input: [3, {SIDE}, {SIDE}]\nlayers: [flatten, {{linear: 12}}]\n",
                         "t.yaml")


def unsplit(split_seed: int = 0):
    """The source's arrays before any split, as `load_data` gets them."""
    return shapes(ShapesArgs(size=SIDE, **OPTIONS), (3, SIDE, SIDE),
                  DataConfig(name="shapes", split_seed=split_seed))


def box_from_image(image: np.ndarray, step: float = 0.05) -> np.ndarray:
    """x0 y0 x1 y1 of the pixels beside a luminance step larger than `step`: without noise and
    clutter only the figure's outline jumps (its colour differs from the background's by at
    least 0.25 in luminance; the texture and the shading are smooth)."""
    luma = np.einsum("chw,c->hw", image, LUMA)
    edge = np.zeros(luma.shape, dtype=bool)
    down, right = np.abs(np.diff(luma, axis=0)) > step, np.abs(np.diff(luma, axis=1)) > step
    edge[:-1] |= down
    edge[1:] |= down
    edge[:, :-1] |= right
    edge[:, 1:] |= right
    rows, cols = np.flatnonzero(edge.any(axis=1)), np.flatnonzero(edge.any(axis=0))
    return np.array([cols[0], rows[0], cols[-1] + 1, rows[-1] + 1], dtype=np.float32)


def assert_boxes_belong(data, whole) -> None:
    index = {x.tobytes(): i for i, x in enumerate(whole.x)}
    assert set(data.side) == set(data.splits)
    for split, (x, y) in data.splits.items():
        boxes = data.side[split]["boxes"]
        assert boxes.shape == (len(x), 4), split
        at = np.array([index[img.tobytes()] for img in x])
        assert np.array_equal(boxes, whole.boxes[at]), split       # the unsplit box, by index
        assert np.array_equal(y, whole.y[at]), split


@pytest.fixture(scope="module")
def whole():
    return unsplit()


def test_each_split_keeps_its_own_images_boxes(whole):
    data = load_data(DataConfig(name="shapes", val=0.2, test=0.2, **OPTIONS), spec())
    assert [data.size(s) for s in ("train", "val", "test")] == [144, 48, 48]
    assert_boxes_belong(data, whole)
    for split, (x, _) in data.splits.items():
        boxes = data.side[split]["boxes"]
        # recomputed from the image itself (the outline is blurred over a pixel or two)
        found = np.stack([box_from_image(img) for img in x])
        assert np.abs(found - boxes).max() <= 3, split
        # the check has teeth: another sample's box is far off for most images
        shifted = np.abs(found - np.roll(boxes, 1, axis=0)).max(axis=1)
        assert (shifted > 3).mean() > 0.8, split


def test_k_fold_splits_carry_the_boxes(whole):
    seen = []
    for fold in range(3):
        data = load_data(DataConfig(name="shapes", folds=3, **OPTIONS), spec(), fold=fold)
        assert_boxes_belong(data, whole)
        seen.append(data.side["val"]["boxes"])
    assert sum(len(b) for b in seen) == 240 - 48                 # the folds partition the rest


def test_an_in_order_split_carries_the_boxes(whole):
    data = load_data(DataConfig(name="shapes", shuffle=False, **OPTIONS), spec())
    train = data.side["train"]["boxes"]
    assert np.array_equal(train, whole.boxes[:len(train)])       # the first samples train
    assert_boxes_belong(data, whole)


def test_a_source_without_side_arrays_has_none():
    data = load_data(DataConfig(name="iris"), netspec.loads("input: [4]\nlayers: [{linear: 3}]\n"))
    assert data.side == {}
