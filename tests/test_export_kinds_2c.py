"""ONNX export of the §2c kinds: a small spec using each, exported with a dynamic batch and
verified by netspec.export against onnxruntime (batches 1 and 4, max abs difference within the
tolerance), then run here on onnxruntime at another batch against torch."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime as ort
import pytest
import torch

import netspec
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)
from test_kinds_2c import TINY_VIT

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::DeprecationWarning")


def _spec(layers, **top) -> str:
    return json.dumps({"name": "k2c", **top, "layers": layers})


SPECS = {
    # param (class token), concat, add with a broadcast param, select
    "param_select": _spec([
        {"param": {"shape": [1, 8], "init": "normal"}, "id": "cls"},
        {"concat": 1, "from": ["cls", "input"], "id": "t"},
        {"param": {"shape": [6, 8], "init": "uniform"}, "id": "pos"},
        {"add": None, "from": ["t", "pos"]},
        {"select": {"dim": 1, "index": 2}}], input=[5, 8]),
    "attention_self_causal": _spec([
        {"attention": {"heads": 2}},
        {"attention": {"heads": 4, "causal": True, "bias": False}}], input=[6, 8]),
    "attention_cross": _spec([{"attention": 2, "from": ["q", "kv"]}],
                             inputs={"q": [4, 8], "kv": [7, 8]}),
    "matmul_sub_div": _spec([
        {"matmul": None, "from": ["a", "b"], "id": "m"},
        {"sub": None, "from": ["m", "c"], "id": "s"},
        {"param": {"shape": [2, 1, 4], "init": "uniform", "low": 1, "high": 2}, "id": "d"},
        {"div": None, "from": ["s", "d"]}],
        inputs={"a": [2, 3, 5], "b": [5, 4], "c": [1, 3, 1]}),
    "slice_shuffles": _spec([
        {"channel_shuffle": 2},
        {"slice": {"dim": 1, "start": 0, "end": 8, "step": 1}},
        {"pixel_shuffle": 2},
        {"pixel_unshuffle": 2},
        {"slice": {"dim": -1, "start": 1, "step": 2}},
        {"permute": [0, 2, 3, 1]},
        {"linear": {"out": 3, "channels_last": True}}], input=[12, 4, 6]),
}


# every kind of the groups above in one network, the one export the default run pays for
ALL_IN_ONE = _spec([
    {"channel_shuffle": 2, "from": "img"},
    {"slice": {"dim": 1, "start": 0, "end": 8}},
    {"pixel_shuffle": 2},
    {"pixel_unshuffle": 2},
    {"flatten": {"start": 2}},
    {"permute": [0, 2, 1]},
    {"slice": {"dim": 1, "start": -6}, "id": "tokens"},           # [6, 8]
    {"param": {"shape": [1, 8], "init": "normal"}, "id": "cls"},
    {"concat": 1, "from": ["cls", "tokens"], "id": "t"},           # [7, 8]
    {"attention": {"heads": 2, "causal": True}, "id": "a"},
    {"attention": 4, "from": ["a", "kv"], "id": "c"},
    {"matmul": None, "from": ["c", "w"], "id": "m"},               # [7, 3]
    {"param": {"shape": [1, 3], "init": {"constant": 2.0}}, "id": "d"},   # a divisor not near 0
    {"div": None, "from": ["m", "d"], "id": "q"},
    {"sub": None, "from": ["q", "cls3"]},
    {"linear": {"out": 2, "channels_last": True}},
    {"select": {"dim": 1, "index": 3}}],
    inputs={"img": [12, 4, 6], "kv": [5, 8], "w": [8, 3], "cls3": [7, 1]})


def _inputs(spec, batch: int) -> dict[str, np.ndarray]:
    g = torch.Generator().manual_seed(batch)
    out = {}
    for name, inp in spec.inputs.items():
        out[name] = torch.randn((batch, *inp.shape), generator=g).numpy()
    return out


# the dynamo exporter takes 8-20 s per spec on a loaded 2-core machine: the groups are slow,
# the all-in-one spec is the default run's
@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) for n in SPECS]
                         + ["all_in_one"])
def test_kinds_export_and_agree_with_onnxruntime(name, tmp_path):
    text = SPECS.get(name, ALL_IN_ONE)
    result = netspec.export(netspec.loads(text), tmp_path / "m.onnx")
    assert max(result.diffs.values()) <= result.limit
    spec = netspec.loads(text)
    model = netspec.build(spec, seed=0).eval()
    session = ort.InferenceSession(str(tmp_path / "m.onnx"))
    # export builds with seed 0 as well: the same weights, so torch and onnxruntime agree at a
    # batch the export did not trace
    feeds = _inputs(spec, 3)
    with torch.no_grad():
        want = model(*(torch.from_numpy(v) for v in feeds.values()))
    got = session.run(None, feeds)[0]
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.slow
def test_tiny_vit_exports(tmp_path):
    result = netspec.export(TINY_VIT, tmp_path / "vit.onnx")
    assert max(result.diffs.values()) <= result.limit
