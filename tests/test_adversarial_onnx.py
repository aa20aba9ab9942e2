"""Hostile ONNX files and inputs for `netspec infer` (DESIGN §9): metadata that promises a huge
batch, absurd shapes or broken statistics, and input files that are not samples; each is
answered with results or a message naming the key or the file (exit 1), never a traceback or
an allocation without bound. One small model is exported for the module and altered per case."""

from __future__ import annotations

import io
import json
import os
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adversarial import FEATURES_SPEC, invoke, png_header

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("onnx")
    (root / "s.yaml").write_text(FEATURES_SPEC.format(source="name: iris", extra=""))
    invoke(["export", root / "s.yaml", "-o", root / "m.onnx"], codes=(0,))
    np.save(root / "x.npy", np.ones((3, 4), np.float32))
    return root / "m.onnx", root / "x.npy"


def _with_props(src, dst, changes: dict) -> None:
    proto = onnx.load(str(src))
    props = {p.key: p.value for p in proto.metadata_props}
    props.update(changes)
    props = {k: v for k, v in props.items() if v is not None}
    del proto.metadata_props[:]
    onnx.helper.set_model_props(proto, props)
    onnx.save(proto, str(dst))


def _shape(shape) -> str:
    return json.dumps({"input": {"shape": shape, "dtype": "float"}})


METADATA = {
    "batch_huge": {"batch": "100000000"},
    "batch_negative": {"batch": "-1"},
    "batch_text": {"batch": "lots"},
    "threads_huge": {"threads": "1000000000"},
    "shape_huge": {"inputs": _shape([10**12])},
    "shape_negative": {"inputs": _shape([-4])},
    "shape_zero": {"inputs": _shape([0])},
    "shape_deep": {"inputs": _shape([2] * 50)},
    "shape_many_values": {"inputs": _shape([10**5, 10**5])},
    "shape_float": {"inputs": _shape([4.5])},
    "inputs_not_json": {"inputs": "{not json"},
    "inputs_a_list": {"inputs": "[1, 2]"},
    "inputs_deep_json": {"inputs": "[" * 100_000 + "]" * 100_000},
    "outputs_bad_kind": {"outputs": json.dumps({"logits": {"shape": [3], "kind": "bogus"}})},
    "outputs_bad_target": {"outputs": json.dumps({"logits": {"shape": [3], "kind": "values",
                                                             "target": {"mean": [1]}}})},
    "scale_nan": {"scale": "nan"},
    "scale_negative": {"scale": "-1"},
    "normalize_nan": {"normalize": json.dumps({"mean": [float("nan")] * 4, "std": [1] * 4})},
    "normalize_zero_std": {"normalize": json.dumps({"mean": [0] * 4, "std": [0] * 4})},
    "normalize_wrong_length": {"normalize": json.dumps({"mean": [0] * 7, "std": [1] * 7})},
    "labels_text": {"labels": '"abc"'},
    "labels_number": {"labels": "5"},
    "fixed_dims_huge": {"fixed_dims": json.dumps({"seq": 10**12})},
    "resample_bogus": {"resample": "bicubic-ish"},
    "no_inputs_key": {"inputs": None},
    "dtype_bogus": {"inputs": json.dumps({"input": {"shape": [4], "dtype": "complex"}})},
}


@pytest.mark.parametrize("case", sorted(METADATA))
def test_hostile_metadata(tmp_path, model, case):
    path, x = model
    _with_props(path, tmp_path / "m.onnx", METADATA[case])
    result = invoke(["infer", tmp_path / "m.onnx", x], root=tmp_path)
    if case.startswith(("batch", "shape", "fixed_dims")) and case != "shape_float":
        assert result.exit_code == 1, result.output
        assert f"`{case.split('_')[0].replace('shape', 'inputs')}" in result.output \
            or "metadata" in result.output, result.output


def _npz_bomb() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("input.npy", "w", force_zip64=True) as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<f4", "fortran_order": False,
                                                     "shape": (2**28 + 2**20, 4)})
            for _ in range(4 * 257):
                f.write(bytes(2**20))
    return buf.getvalue()


INPUTS = {
    "strings.npy": lambda p: np.save(p, np.full((3, 4), "a")),
    "zero_samples.npy": lambda p: np.save(p, np.zeros((0, 4), np.float32)),
    "nan.npy": lambda p: np.save(p, np.full((2, 4), np.nan, np.float32)),
    "zero_d.npy": lambda p: np.save(p, np.array(1.0)),
    "objects.npy": lambda p: np.save(p, np.array([{}] * 4, dtype=object), allow_pickle=True),
    "random.npy": lambda p: p.write_bytes(os.urandom(200)),
    "empty.npy": lambda p: p.write_bytes(b""),
    "random.npz": lambda p: p.write_bytes(os.urandom(200)),
    "bomb.npz": lambda p: p.write_bytes(_npz_bomb()),
    "latin1.csv": lambda p: p.write_bytes("1,2,3,caf\xe9\n".encode("latin1")),
    "nan.csv": lambda p: p.write_text("1,2,nan,4\n"),
    "huge.png": lambda p: p.write_bytes(png_header(20000, 20000)),
    "fifo.npy": lambda p: os.mkfifo(p),
}


@pytest.mark.parametrize("case", sorted(INPUTS))
def test_hostile_inputs(tmp_path, model, case):
    path, _ = model
    INPUTS[case](tmp_path / case)
    result = invoke(["infer", path, tmp_path / case], root=tmp_path)
    assert result.exit_code == 1, result.output


def test_random_bytes_as_a_model(tmp_path, model):
    (tmp_path / "m.onnx").write_bytes(os.urandom(500))
    result = invoke(["infer", tmp_path / "m.onnx", model[1]], root=tmp_path)
    assert result.exit_code == 1


KEYS = ["batch", "inputs", "outputs", "scale", "normalize", "labels", "fixed_dims", "resample",
        "task", "name"]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from(KEYS), value=st.one_of(
    st.text(max_size=40), st.integers().map(str), st.floats().map(repr),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5),
                 lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c,
                                                                       max_size=4),
                 max_leaves=12).map(json.dumps)))
def test_random_metadata_values(tmp_path_factory, model, key, value):
    folder = tmp_path_factory.mktemp("random_meta")
    _with_props(model[0], folder / "m.onnx", {key: value})
    invoke(["infer", folder / "m.onnx", model[1]], root=folder)
