"""Hostile data files (DESIGN §9): `netspec train` on each ends with a run or a message naming
the file and what is wrong (exit 1), never a traceback, a blow-up or a write outside runs/.
Each case builds its files in a fresh folder; the bounds that would take gigabytes to reach
are lowered for the test (the real sizes run in the slow part)."""

from __future__ import annotations

import gzip
import io
import os
import zipfile

import numpy as np
import pytest

from adversarial import FEATURES_SPEC, IMAGES_SPEC, idx_bytes, invoke, png_header


def _npz(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _good_x(n=40):
    return np.random.default_rng(0).normal(size=(n, 4)).astype(np.float32)


def _good_y(n=40):
    return np.arange(n) % 3


def _lying_npz() -> bytes:
    """A member whose .npy header promises 4e9 floats over 16 bytes of data."""
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": "<f4", "fortran_order": False,
                                                "shape": (10**9, 4)})
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("x.npy", head.getvalue() + b"\0" * 16)
        y = io.BytesIO()
        np.save(y, _good_y())
        zf.writestr("y.npy", y.getvalue())
    return buf.getvalue()


def _bomb_npz(megabytes: int) -> bytes:
    """A deflated member of `megabytes` MiB of zeros (a few KiB a MiB on disk), written in
    chunks so that making it costs no memory."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("x.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (megabytes * 2**18, 1)})
            zeros = bytes(2**20)
            for _ in range(megabytes):
                f.write(zeros)
        zf.writestr("y.npy", b"")
    return buf.getvalue()


def _object_npz() -> bytes:
    buf = io.BytesIO()
    np.savez(buf, x=np.array([{"a": 1}] * 40, dtype=object), y=_good_y())
    return buf.getvalue()


NPZ = {
    "zero_bytes": b"",
    "random_bytes": os.urandom(300),
    "truncated": _npz(x=_good_x(), y=_good_y())[:200],
    "zero_d": _npz(x=np.array(1.0), y=np.array(1)),
    "bool_x": _npz(x=np.ones((40, 4), bool), y=_good_y()),
    "complex_x": _npz(x=np.ones((40, 4), complex), y=_good_y()),
    "str_x": _npz(x=np.full((40, 4), "a"), y=_good_y()),
    "object_x": _object_npz(),
    "empty": _npz(x=np.zeros((0, 4), np.float32), y=np.zeros(0, int)),
    "nan_x": _npz(x=np.where(np.eye(40, 4) > 0, np.nan, 1.0), y=_good_y()),
    "inf_y": _npz(x=_good_x(), y=np.r_[np.inf, np.ones(39)]),
    "no_y": _npz(x=_good_x()),
    "length_mismatch": _npz(x=_good_x(), y=_good_y(39)),
    "float64_overflow": _npz(x=np.full((40, 4), 1e300), y=_good_y()),
    "lying_header": _lying_npz(),
    "bomb": _bomb_npz(8),
    "complex_y": _npz(x=_good_x(), y=np.ones(40, complex)),
}

_BYTE_IMAGES = np.arange(40 * 64, dtype=np.uint8).tobytes()
_LABELS = (np.arange(40) % 3).astype(np.uint8).tobytes()
IDX = {
    "zero_images": {"train-images-idx3-ubyte": idx_bytes(8, [0, 8, 8], b""),
                    "train-labels-idx1-ubyte": idx_bytes(8, [0], b"")},
    "negative_labels": {"train-images-idx3-ubyte": idx_bytes(8, [40, 8, 8], _BYTE_IMAGES),
                        "train-labels-idx1-ubyte": idx_bytes(9, [40], b"\xff" * 40)},
    "truncated_gz": {"train-images-idx3-ubyte.gz":
                     gzip.compress(idx_bytes(8, [40, 8, 8], _BYTE_IMAGES))[:60],
                     "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "not_gzip": {"train-images-idx3-ubyte.gz": b"\x1f\x8b not gzip at all",
                 "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "huge_header": {"train-images-idx3-ubyte": idx_bytes(8, [2**31, 2**16, 2**16], b"x"),
                    "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "gz_bomb": {"train-images-idx3-ubyte.gz": gzip.compress(
                    idx_bytes(8, [2**31, 8, 8], b"\0" * 2**22)),
                "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "bad_magic": {"train-images-idx3-ubyte": b"\x01\x02\x03\x04" + _BYTE_IMAGES,
                  "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "zero_byte_file": {"train-images-idx3-ubyte": b"",
                       "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "count_mismatch": {"train-images-idx3-ubyte": idx_bytes(8, [40, 8, 8], _BYTE_IMAGES),
                       "train-labels-idx1-ubyte": idx_bytes(8, [39], _LABELS[:39])},
    "nan_floats": {"train-images-idx3-ubyte": idx_bytes(
                       0x0D, [40, 8, 8], np.full(40 * 64, np.nan, ">f4").tobytes()),
                   "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "no_dims": {"train-images-idx3-ubyte": idx_bytes(8, [], b""),
                "train-labels-idx1-ubyte": idx_bytes(8, [40], _LABELS)},
    "labels_2d": {"train-images-idx3-ubyte": idx_bytes(8, [40, 8, 8], _BYTE_IMAGES),
                  "train-labels-idx1-ubyte": idx_bytes(8, [40, 1], _LABELS)},
}

IMAGES = {
    "huge_png": {"a/big.png": png_header(20000, 20000), "b/ok.png": png_header(8, 8)},
    "corrupt_png": {"a/x.png": os.urandom(100), "b/y.png": png_header(8, 8)},
    "zero_byte_png": {"a/x.png": b"", "b/y.png": png_header(8, 8)},
    "no_images": {"a/readme.txt": b"hello", "b/notes.md": b"x"},
    "fifo_png": {"a/x.png": "fifo", "b/y.png": png_header(8, 8)},
    "folder_named_png": {"a/x.png/": None, "b/y.png": png_header(8, 8)},
}

_ROWS = "".join(f"{i},{i % 5},{i % 7},{i % 3},{'abc'[i % 3]}\n" for i in range(40))
CSV = {
    "latin1": ("a,b,c,d,t\n" + _ROWS).encode() + "1,2,3,4,caf\xe9\n".encode("latin1"),
    "giant_field": ("a,b,c,d,t\n" + _ROWS + "1,2,3,4," + "x" * 200_000 + "\n").encode(),
    "nan_feature": ("a,b,c,d,t\n" + _ROWS + "nan,1,2,3,a\n").encode(),
    "inf_feature": ("a,b,c,d,t\n" + _ROWS + "1,inf,2,3,a\n").encode(),
    "float32_overflow": ("a,b,c,d,t\n" + _ROWS + "1e300,1,2,3,a\n").encode(),
    "header_only": b"a,b,c,d,t\n",
    "zero_bytes": b"",
    "nul_bytes": ("a,b,c,d,t\n" + _ROWS).encode() + b"1,2\x00,3,4,a\n",
    "ragged": ("a,b,c,d,t\n" + _ROWS + "1,2\n").encode(),
    "unclosed_quote": ("a,b,c,d,t\n" + _ROWS + '1,2,3,4,"a\n').encode(),
}
CSV_REGRESSION = {
    "nan_target": ("a,b,c,d,t\n" + "".join(f"{i},1,2,3,{i}.5\n" for i in range(40)) +
                   "1,2,3,4,nan\n").encode(),
}


def _train(tmp_path, spec: str):
    (tmp_path / "spec.yaml").write_text(spec)
    return invoke(["train", tmp_path / "spec.yaml", "--out", tmp_path / "runs", "-q"],
                  root=tmp_path, allowed=("runs/",))


@pytest.fixture
def small_bounds(monkeypatch):
    """1 MiB per file: the bomb cases reach it with a few KiB on disk."""
    from netspec.training import read_bounds
    monkeypatch.setattr(read_bounds, "MAX_DATA_BYTES", 2**20)


@pytest.mark.parametrize("case", sorted(NPZ))
def test_hostile_npz(tmp_path, case, small_bounds):
    (tmp_path / "d.npz").write_bytes(NPZ[case])
    result = _train(tmp_path, FEATURES_SPEC.format(source="npz: d.npz", extra=""))
    assert result.exit_code == 1, result.output
    assert "d.npz" in result.output


@pytest.mark.parametrize("case", sorted(IDX))
def test_hostile_idx(tmp_path, case, small_bounds):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name, content in IDX[case].items():
        (folder / name).write_bytes(content)
    result = _train(tmp_path, IMAGES_SPEC.format(source="idx: mnist", extra=""))
    assert result.exit_code == 1, result.output
    assert "idx" in result.output and "Aborted" not in result.output


def test_idx_test_labels_beyond_the_training_ones_train(tmp_path):
    """A class seen only in the t10k files is a label like the others, not a crash after the
    last epoch."""
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(idx_bytes(8, [40, 8, 8], _BYTE_IMAGES))
    (folder / "train-labels-idx1-ubyte").write_bytes(idx_bytes(8, [40], _LABELS))
    (folder / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(8, [10, 8, 8], _BYTE_IMAGES[:640]))
    (folder / "t10k-labels-idx1-ubyte").write_bytes(idx_bytes(8, [10], bytes([9] * 10)))
    spec = IMAGES_SPEC.format(source="idx: mnist", extra="").replace("linear: 3", "linear: 10")
    result = _train(tmp_path, spec)
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("case", sorted(IMAGES))
def test_hostile_image_folders(tmp_path, case):
    for name, content in IMAGES[case].items():
        path = tmp_path / "pics" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if content == "fifo":
            os.mkfifo(path)
        elif content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
    result = _train(tmp_path, IMAGES_SPEC.format(source="images: pics", extra="").replace(
        "linear: 3", "linear: 2"))
    assert result.exit_code == 1, result.output
    if case == "huge_png":
        assert "20000x20000" in result.output and "67,108,864" in result.output


@pytest.mark.parametrize("case", sorted(CSV))
def test_hostile_csv(tmp_path, case):
    (tmp_path / "d.csv").write_bytes(CSV[case])
    result = _train(tmp_path, FEATURES_SPEC.format(source="csv: d.csv, target: t", extra=""))
    assert result.exit_code == 1, result.output
    # an unclosed quote is legal CSV (the field runs to the end): the class count is wrong
    assert "d.csv" in result.output or "classes" in result.output


@pytest.mark.parametrize("case", sorted(CSV_REGRESSION))
def test_hostile_csv_regression(tmp_path, case):
    (tmp_path / "d.csv").write_bytes(CSV_REGRESSION[case])
    spec = FEATURES_SPEC.format(source="csv: d.csv, target: t, task: regression", extra="")
    result = _train(tmp_path, spec.replace("linear: 3", "linear: 1"))
    assert result.exit_code == 1, result.output
    assert "d.csv" in result.output and "NaN" in result.output


def test_nan_in_data_is_named_where_it_enters(tmp_path):
    (tmp_path / "d.npz").write_bytes(NPZ["nan_x"])
    result = _train(tmp_path, FEATURES_SPEC.format(source="npz: d.npz", extra=""))
    assert "d.npz: array `x` holds NaN or inf" in result.output
    assert "exploded" not in result.output


@pytest.mark.slow
def test_a_real_zip_bomb_is_refused_before_it_allocates(tmp_path):
    """A 1.1 GiB member (about 1 MiB on disk) at the real bound: refused from the headers."""
    import resource

    (tmp_path / "d.npz").write_bytes(_bomb_npz(1100))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = _train(tmp_path, FEATURES_SPEC.format(source="npz: d.npz", extra=""))
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before      # KiB
    assert result.exit_code == 1 and "1.0 GiB" in result.output, result.output
    assert grown < 300 * 1024, f"grew by {grown} KiB"
