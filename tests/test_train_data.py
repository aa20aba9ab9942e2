"""Data sets: built-in sets and users' files, the deterministic split, normalisation statistics
from the training split only."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

import netspec
from netspec.errors import InputError
from netspec.training.config import DataConfig
from netspec.training.data import DATASETS, load_data, statistics


def spec_with(input_shape: str, dtype: str = ""):
    shape = f"{{shape: {input_shape}, dtype: long}}" if dtype else input_shape
    return netspec.loads(f"input: {shape}\nlayers: [flatten, {{linear: 2}}]\n", "t.yaml")


def data(spec_input: str = "[4]", **cfg):
    return load_data(DataConfig(**cfg), spec_with(spec_input))


@pytest.mark.parametrize("cfg, spec_input, shape, task, classes, scale", [
    ({"name": "digits"}, "[1, 8, 8]", (1, 8, 8), "classification", 10, 1 / 16),
    ({"name": "digits", "size": 28}, "[1, 28, 28]", (1, 28, 28), "classification", 10, 1 / 16),
    ({"name": "digits"}, "[64]", (64,), "classification", 10, 1 / 16),
    ({"name": "iris"}, "[4]", (4,), "classification", 3, 1.0),
    ({"name": "wine"}, "[13]", (13,), "classification", 3, 1.0),
    ({"name": "breast_cancer"}, "[30]", (30,), "classification", 2, 1.0),
    ({"name": "moons", "samples": 100}, "[2]", (2,), "classification", 2, 1.0),
    ({"name": "circles", "samples": 100}, "[2]", (2,), "classification", 2, 1.0),
    ({"name": "blobs", "classes": 4}, "[5]", (5,), "classification", 4, 1.0),
    ({"name": "regression"}, "[3]", (3,), "regression", None, 1.0),
    ({"name": "sine", "samples": 300}, "[seq, 1]", (20, 1), "regression", None, 1.0),
    ({"name": "sine", "seq": 7, "samples": 300}, "[seq, 1]", (7, 1), "regression", None, 1.0),
])
def test_builtin_sets(cfg, spec_input, shape, task, classes, scale):
    d = data(spec_input, **cfg)
    x, y = d.splits["train"]
    assert x.shape[1:] == shape and x.dtype == np.float32
    assert (d.task, d.num_classes, d.scale) == (task, classes, pytest.approx(scale))
    assert y.dtype == (np.int64 if task == "classification" else np.float32)


def test_digits_are_scaled_into_unit_range_and_upsampled_as_pil_nearest():
    from PIL import Image
    from sklearn.datasets import load_digits

    d = data("[1, 28, 28]", name="digits", size=28, normalize=False, val=0, test=0,
             shuffle=False)
    x = d.splits["train"][0]
    assert x.min() == 0 and x.max() == 1
    raw = load_digits().images[0].astype(np.uint8)
    pil = np.asarray(Image.fromarray(raw).resize((28, 28), Image.NEAREST)) / 16
    assert np.array_equal(x[0, 0], pil.astype(np.float32))


def test_split_is_fixed_by_split_seed_disjoint_and_stratified():
    a, b = data("[4]", name="iris"), data("[4]", name="iris")
    c = data("[4]", name="iris", split_seed=1)
    assert all(np.array_equal(a.splits[s][0], b.splits[s][0]) for s in a.splits)
    assert not np.array_equal(a.splits["test"][0], c.splits["test"][0])
    assert [len(a.splits[s][1]) for s in ("train", "val", "test")] == [105, 15, 30]
    rows = {s: {tuple(r) for r in a.splits[s][0]} for s in a.splits}
    assert not rows["train"] & rows["test"] and not rows["val"] & rows["test"]
    assert np.bincount(a.splits["test"][1]).tolist() == [10, 10, 10]


def test_time_series_split_in_order():
    d = data("[seq, 1]", name="sine", samples=100, val=0.1, test=0.2)
    assert [len(d.splits[s][0]) for s in ("train", "val", "test")] == [70, 10, 20]
    # windows overlap by all but one step: each split continues the one before it
    train_x, val_x, test_x = (d.splits[s][0] for s in ("train", "val", "test"))
    assert np.array_equal(val_x[0, :-1], train_x[-1, 1:])
    assert np.array_equal(test_x[0, :-1], val_x[-1, 1:])


def test_normalisation_statistics_come_from_the_training_split_only():
    d = data("[4]", name="iris")
    x = d.splits["train"][0]
    assert d.normalize["mean"] == pytest.approx(x.mean(0).tolist(), rel=1e-6)
    assert d.normalize["std"] == pytest.approx(x.std(0).tolist(), rel=1e-6)
    everything = np.concatenate([d.splits[s][0] for s in d.splits])
    assert d.normalize["mean"] != pytest.approx(everything.mean(0).tolist(), rel=1e-6)
    tx, _ = d.tensors("train")
    assert np.allclose(tx.numpy().mean(0), 0, atol=1e-5)


def test_image_statistics_are_per_channel_and_constant_channels_keep_std_one():
    x = np.zeros((10, 3, 4, 4), dtype=np.float32)
    x[:, 1] = np.arange(10)[:, None, None]
    stats = statistics(x, 0)
    assert stats["mean"] == [0, 4.5, 0] and stats["std"] == [1.0, pytest.approx(2.8722813), 1.0]


def test_k_fold_validation_sets_partition_the_non_test_data():
    vals = [load_data(DataConfig(name="blobs", samples=150, folds=5), spec_with("[2]"), fold=k)
            for k in range(5)]
    test = {tuple(r) for r in vals[0].splits["test"][0]}
    seen = [tuple(r) for v in vals for r in v.splits["val"][0]]
    assert len(seen) == len(set(seen)) == 120 and not set(seen) & test


def test_csv_with_text_labels(tmp_path):
    path = tmp_path / "t.csv"
    rows = ["a,b,kind"] + [f"{i},{i % 3},{'cat' if i % 2 else 'dog'}" for i in range(40)]
    path.write_text("\n".join(rows))
    d = data("[2]", csv=str(path), target="kind")
    assert d.labels == ["cat", "dog"] and d.task == "classification"
    numbers = tmp_path / "n.csv"
    numbers.write_text("\n".join(["a,b,y"] + [f"{i},{i % 3},{i * 0.5}" for i in range(40)]))
    d = data("[2]", csv=str(numbers))                       # the last column by default
    assert d.task == "regression" and d.splits["train"][1].shape[1:] == (1,)
    d = data("[2]", csv=str(numbers), target=1)             # a column index: 3 integer values
    assert d.task == "classification" and d.labels == ["0", "1", "2"]


def test_csv_mistakes_name_the_file_and_row(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y\n1,2,0\n3,x,1\n")
    # the file is wrong, not the YAML: an InputError naming the file and row
    with pytest.raises(InputError, match=r"t.csv:3: column `b` holds 'x', not a number"):
        data("[2]", csv=str(path), target="y")
    with pytest.raises(netspec.SpecError, match="has no column `why`"):
        data("[2]", csv=str(path), target="why")


def test_npz_and_idx_files(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (30, 1, 6, 6), dtype=np.uint8)
    y = np.arange(30) % 3
    np.savez(tmp_path / "d.npz", x=x, y=y)
    d = data("[1, 6, 6]", npz=str(tmp_path / "d.npz"))
    assert d.scale == pytest.approx(1 / 255) and d.num_classes == 3
    for prefix, n in (("train", 30), ("t10k", 10)):
        images = b"\x00\x00\x08\x03" + b"".join(v.to_bytes(4, "big") for v in (n, 6, 6))
        labels = b"\x00\x00\x08\x01" + n.to_bytes(4, "big")
        with gzip.open(tmp_path / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
            f.write(images + x[:n].tobytes())
        (tmp_path / f"{prefix}-labels-idx1-ubyte").write_bytes(labels + bytes(y[:n].tolist()))
    d = data("[1, 6, 6]", idx=str(tmp_path))
    assert len(d.splits["test"][0]) == 10 and d.size("train") + d.size("val") == 30
    assert np.allclose(d.splits["test"][0][0] * 255, x[0])


def test_image_folders(tmp_path):
    from PIL import Image

    for label, value in (("cat", 0), ("dog", 255)):
        (tmp_path / label).mkdir()
        for i in range(5):
            Image.new("RGB", (20, 10), (value, value, value)).save(tmp_path / label / f"{i}.png")
    d = data("[3, 8, 8]", images=str(tmp_path), normalize=False, val=0, test=0)
    x, y = d.splits["train"]
    assert x.shape == (10, 3, 8, 8) and d.labels == ["cat", "dog"]
    assert set(np.unique(x)) == {0.0, 1.0} and sorted(np.bincount(y)) == [5, 5]


def test_every_registered_set_documents_itself():
    assert all(entry.doc for entry in DATASETS.entries.values())
