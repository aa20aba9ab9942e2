"""`netspec export`: every zoo spec exports and verifies on onnxruntime; run directories,
metadata, fixed and symbolic dims, --weights, and failures that exit 1 with one message."""

from __future__ import annotations

import importlib
import json
import os
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import yaml
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

import netspec
from netspec.cli.main import main
from netspec.errors import VerifyError
from netspec.deploy.metadata import ModelInfo
from netspec.training import checkpoint

export_mod = importlib.import_module("netspec.deploy.export")
ZOO = Path(__file__).resolve().parent.parent / "specs"
SLOW_MACS = 1_000_000_000          # 224x224 ImageNet networks: tens of seconds each here
SLOW_PARAMS = 20_000_000


def _zoo_params():
    """Every spec file in specs/ (not block libraries), the big ones marked slow."""
    params = []
    for path in sorted(ZOO.glob("*.yaml")):
        try:
            if "layers" not in (yaml.safe_load(path.read_text()) or {}):
                continue                                   # a block library for `include:`
            report = netspec.check(netspec.load(path))
            slow = report.macs >= SLOW_MACS or report.params >= SLOW_PARAMS
        except Exception:          # a broken spec still gets its test, which says why
            slow = False
        params.append(pytest.param(path, id=path.stem,
                                   marks=[pytest.mark.slow] if slow else []))
    return params


@pytest.mark.parametrize("spec_path", _zoo_params())
def test_zoo_spec_exports_and_verifies(spec_path, tmp_path):
    spec = netspec.load(spec_path)
    # symbolic dims at 4: a dim the export has to fix is unrolled, and 16 steps trace slowly
    symbolic = {d: 4 for i in spec.inputs.values() for d in i.shape if isinstance(d, str)}
    result = netspec.export(spec_path, tmp_path / "m.onnx", bindings=symbolic)
    assert set(result.diffs) == {1, 4}
    # relative to the outputs' scale (DESIGN §9): max|a-b| <= 1e-4 * max|b|
    assert result.limit == pytest.approx(1e-4 * result.output_scale)
    assert max(result.diffs.values()) <= result.limit
    model = onnx.load(str(tmp_path / "m.onnx"))
    assert [i.name for i in model.graph.input] == list(spec.inputs)
    assert [o.name for o in model.graph.output] == list(netspec.check(spec).graph.outputs)
    assert all(i.type.tensor_type.shape.dim[0].dim_param for i in model.graph.input)
    assert {p.key: p.value for p in model.metadata_props}["name"] == spec.name
    assert not list(tmp_path.glob("*.data")), "weights must be inside the .onnx file"


# ---- a table of small specs: recurrent layers, token ids, several inputs and outputs ----------

SMALL = {
    "lstm_over_token_ids": ("input: {shape: [seq], dtype: long}\nlayers:\n"
                            "  - embedding: {vocab: 30, dim: 8}\n"
                            "  - lstm: {hidden: 8, bidirectional: true, return: last}\n"
                            "  - linear: 3\n", set()),
    "gru_sequence": ("input: [seq, 3]\nlayers:\n  - gru: 6\n  - linear: 2\n", set()),
    "rnn_fixed_seq": ("input: [seq, 3]\nlayers:\n  - rnn: {hidden: 5}\n  - linear: 2\n",
                      {"seq"}),
    "lstm_cell_fixed_seq": ("input: [seq, 3]\nlayers:\n  - lstm_cell: {hidden: 8, return: last}\n"
                            "  - linear: 2\n", {"seq"}),
    "two_inputs_three_outputs": ("inputs: {a: [4], b: [6]}\nlayers:\n"
                                 "  - {linear: 5, id: la, from: a}\n"
                                 "  - {linear: 5, id: lb, from: b}\n"
                                 "  - {add: {}, from: [la, lb], id: s}\n"
                                 "  - {linear: 2, id: head}\n"
                                 "  - {softmax: {}, id: probs}\n"
                                 "outputs: [head, s, probs]\n", set()),
}


@pytest.mark.parametrize("name", list(SMALL))
def test_small_specs_export_with_the_right_dims(name, tmp_path):
    text, fixed = SMALL[name]
    spec = netspec.loads(f"name: {name}\n{text}")
    result = netspec.export(spec, tmp_path / f"{name}.onnx", bindings={"seq": 4})  # 4: quick
    assert max(result.diffs.values()) <= 1e-4
    dims = {i.name: [d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
            for i in onnx.load(str(result.path)).graph.input}
    for input_name, inp in spec.inputs.items():
        assert dims[input_name][0] == "batch"
        for k, d in enumerate(inp.shape):
            if isinstance(d, str):
                expected = 4 if d in fixed else d
                assert dims[input_name][k + 1] == expected
    assert set(result.info.fixed_dims) == set(fixed)
    assert any("`seq` is fixed at 4" in n for n in result.notes) == bool(fixed)


def test_large_outputs_are_compared_relative_to_their_size(tmp_path):
    spec = netspec.loads("name: big\ninput: [64]\nlayers:\n  - linear: 3\n")
    model = netspec.build(spec, seed=0)
    with torch.no_grad():
        model.get_submodule("0").weight.mul_(1e4)
    run = tmp_path / "big" / "1"
    run.mkdir(parents=True)
    (run / "spec.yaml").write_text(spec.source)
    checkpoint.write(run / "best.safetensors", model.state_dict(), {"epoch": 1})
    (run / "data.json").write_text(json.dumps({"output": "logits"}))
    result = netspec.export(run, tmp_path / "big.onnx")
    assert result.output_scale > 1e3 and result.limit == pytest.approx(1e-4 * result.output_scale)
    assert "1e-04 of the largest output" in result.summary()


def test_output_kinds_come_from_the_spec_without_a_run(tmp_path):
    spec = netspec.loads("name: two\n" + SMALL["two_inputs_three_outputs"][0])
    info = netspec.export(spec, tmp_path / "m.onnx").info
    assert {n: o.kind for n, o in info.outputs.items()} == \
        {"head": "logits", "s": "values", "probs": "probabilities"}


def test_bound_seq_and_fixed_batch(tmp_path):
    spec = netspec.loads("name: rnn\n" + SMALL["rnn_fixed_seq"][0])
    result = netspec.export(spec, tmp_path / "m.onnx", batch=3, bindings={"seq": 5})
    assert result.diffs.keys() == {3}
    assert result.info.batch == "3" and result.info.inputs["input"].shape == (5, 3)
    sess = ort.InferenceSession(str(result.path))
    assert sess.get_inputs()[0].shape == [3, 5, 3]


@pytest.mark.parametrize("opset, outcome", [(17, "opset 17"), (20, "opset 20"),
                                           (9, "cannot export at opset 9")])
def test_opset(tmp_path, opset, outcome):
    (tmp_path / "s.yaml").write_text("input: [4]\nlayers:\n  - linear: 3\n  - relu\n")
    out = tmp_path / "m.onnx"
    res = CliRunner().invoke(main, ["export", str(tmp_path / "s.yaml"), "-o", str(out),
                                    "--opset", str(opset)])
    assert outcome in res.output and res.exit_code == (0 if opset >= 14 else 1), res.output
    if opset >= 14:
        assert [o.version for o in onnx.load(str(out)).opset_import if not o.domain] == [opset]


# ---- run directories --------------------------------------------------------------------

RUN_SPEC = """name: tiny_digits
input: [1, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - batchnorm
  - relu
  - flatten
  - linear: 10
"""
RUN_DATA = {"task": "classification", "labels": [f"digit {i}" for i in range(10)],
            "scale": 0.0625, "normalize": {"mean": [0.3], "std": [0.4]},
            "input_shape": [1, 8, 8], "output": "logits", "name": "digits"}


def make_run(root: Path, spec_text: str = RUN_SPEC, data: dict = RUN_DATA,
             latest: str = "symlink") -> tuple[Path, torch.nn.Module]:
    """runs/<name>/1 with a trained-looking checkpoint (weights not the seed-0 init)."""
    spec = netspec.loads(spec_text)
    torch.manual_seed(123)
    model = netspec.build(spec)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    run = root / spec.name / "1"
    run.mkdir(parents=True)
    (run / "spec.yaml").write_text(spec_text)
    checkpoint.write(run / "best.safetensors", model.state_dict(), {"epoch": 1})
    (run / "data.json").write_text(json.dumps(data))
    if latest == "symlink":
        os.symlink("1", run.parent / "latest")
    else:
        (run.parent / "latest").write_text("1\n")
    return run, model.eval()


@pytest.mark.parametrize("latest", ["symlink", "text"])
def test_run_exports_its_checkpoint_and_metadata(tmp_path, latest):
    run, model = make_run(tmp_path / "runs", latest=latest)
    result = netspec.export(tmp_path / "runs" / "tiny_digits", tmp_path / "out.onnx")
    x = torch.randn(3, 1, 8, 8)
    with torch.no_grad():
        expected = model(x).numpy()
    got = ort.InferenceSession(str(result.path)).run(None, {"input": x.numpy()})[0]
    np.testing.assert_allclose(got, expected, atol=1e-4)     # the checkpoint, not a fresh init
    assert str(run) in result.info.source


def test_metadata_round_trip(tmp_path):
    run, _ = make_run(tmp_path / "runs")
    netspec.export(run, tmp_path / "m.onnx")
    props = {p.key: p.value for p in onnx.load(str(tmp_path / "m.onnx")).metadata_props}
    info = ModelInfo.from_props(props)
    assert info.name == "tiny_digits"
    assert info.netspec_version == netspec.__version__
    assert info.inputs["input"].shape == (1, 8, 8) and info.inputs["input"].dtype == "float"
    assert info.outputs["output"].shape == (10,) and info.outputs["output"].kind == "logits"
    assert info.labels == tuple(RUN_DATA["labels"])
    assert info.scale == 0.0625 and info.normalize == RUN_DATA["normalize"]
    assert info.task == "classification" and info.batch == "dynamic"
    assert info.resample == "nearest"                  # digits were upsampled as PIL NEAREST
    assert info.spec == RUN_SPEC
    assert ModelInfo.from_props(info.to_props()) == info
    meta = ort.InferenceSession(str(tmp_path / "m.onnx")).get_modelmeta().custom_metadata_map
    assert meta == props                                # what infer reads is what was written


def test_weights_flag_writes_safetensors_next_to_the_onnx(tmp_path):
    run, model = make_run(tmp_path / "runs")
    result = netspec.export(run, tmp_path / "out" / "net.onnx", weights=True)
    assert result.weights_path == tmp_path / "out" / "net.safetensors"
    saved = load_file(str(result.weights_path))
    assert saved.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(saved[k], v)


def test_default_path_is_exported_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    netspec.export(netspec.loads(RUN_SPEC), verify=False)
    assert (tmp_path / "exported" / "tiny_digits.onnx").is_file()


# ---- the command and its failures -----------------------------------------------------------

def test_cli_export_prints_the_verification(tmp_path):
    run, _ = make_run(tmp_path / "runs")
    out = tmp_path / "cli.onnx"
    res = CliRunner().invoke(main, ["export", str(run), "-o", str(out), "--weights"])
    assert res.exit_code == 0, res.output
    assert "max abs diff" in res.output and "at batch 1" in res.output
    assert out.is_file() and out.with_suffix(".safetensors").is_file()


def test_verification_failure_keeps_unverified_file_and_exits_1(tmp_path, monkeypatch):
    save = export_mod._save

    def corrupt(proto, path):          # an exporter bug: one weight off by 0.5
        init = proto.graph.initializer[0]
        arr = onnx.numpy_helper.to_array(init) + 0.5
        init.CopyFrom(onnx.numpy_helper.from_array(arr, init.name))
        save(proto, path)

    monkeypatch.setattr(export_mod, "_save", corrupt)
    (tmp_path / "s.yaml").write_text(RUN_SPEC)
    out = tmp_path / "bad.onnx"
    res = CliRunner().invoke(main, ["export", str(tmp_path / "s.yaml"), "-o", str(out)])
    assert res.exit_code == 1, res.output
    assert "onnxruntime and torch differ" in res.output
    assert "above the tolerance" in res.output and "1e-04 of the largest output" in res.output
    assert "was not written" in res.output and "bad.onnx.unverified" in res.output
    assert not out.exists() and (tmp_path / "bad.onnx.unverified").is_file()
    assert "Traceback" not in res.output


def _flip_last_byte(path: Path) -> None:
    raw = path.read_bytes()
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))


@pytest.mark.parametrize("case, message", [
    ("no_spec", "not a run directory (no spec.yaml)"),
    ("wrong_checkpoint", "does not fit its spec.yaml: missing"),
    ("bad_data_json", "`output` must be one of"),
    # what `netspec eval` refuses, export refuses too: one reader, checksums verified
    ("damaged_checkpoint", "checkpoint best.safetensors is damaged: its data does not match "
                           "the checksum in its header"),
    ("truncated_checkpoint", "checkpoint best.safetensors is damaged"),
    ("foreign_checkpoint", "best.safetensors is not a netspec checkpoint"),
    ("no_checkpoint", "no checkpoint (best.safetensors or last.safetensors)"),
    # no silent export without the normalisation statistics
    ("no_data_json", "data.json is missing"),
    ("bad_statistics", "`normalize` must be null or"),
    ("bad_target", "`target` must be null or"),
])
def test_bad_runs_exit_1_with_one_message(tmp_path, case, message):
    run, _ = make_run(tmp_path / "runs")
    ckpt = run / "best.safetensors"
    if case == "no_spec":
        (run / "spec.yaml").unlink()
    elif case == "wrong_checkpoint":
        checkpoint.write(ckpt, {"0.weight": torch.zeros(2, 2)}, {"epoch": 1})
    elif case == "damaged_checkpoint":
        _flip_last_byte(ckpt)
    elif case == "truncated_checkpoint":
        ckpt.write_bytes(ckpt.read_bytes()[:100])
    elif case == "foreign_checkpoint":
        save_file({"0.weight": torch.zeros(2, 2)}, str(ckpt))
    elif case == "no_checkpoint":
        ckpt.unlink()
    elif case == "no_data_json":
        (run / "data.json").unlink()
    elif case == "bad_statistics":
        (run / "data.json").write_text(json.dumps({**RUN_DATA, "normalize": {"mean": [0.3]}}))
    elif case == "bad_target":
        (run / "data.json").write_text(json.dumps({**RUN_DATA, "target": {"mean": [1.0],
                                                                         "std": [0.0]}}))
    else:
        (run / "data.json").write_text(json.dumps({**RUN_DATA, "output": "scores"}))
    res = CliRunner().invoke(main, ["export", str(run), "-o", str(tmp_path / "x.onnx")])
    assert res.exit_code == 1, res.output
    assert message in res.output and "Traceback" not in res.output
    assert not (tmp_path / "x.onnx").exists()


def test_a_damaged_checkpoint_is_a_verify_error(tmp_path):
    run, _ = make_run(tmp_path / "runs")
    _flip_last_byte(run / "best.safetensors")
    with pytest.raises(VerifyError, match="does not match the checksum"):
        netspec.export(run, tmp_path / "x.onnx")


def test_missing_source_is_a_usage_error(tmp_path):
    res = CliRunner().invoke(main, ["export", str(tmp_path / "nope.yaml")])
    assert res.exit_code == 2


# ---- models not worth exporting -------------------------------------------------------------

def test_nan_weights_are_refused(tmp_path):
    run, model = make_run(tmp_path / "runs")
    state = {k: v.clone() for k, v in model.state_dict().items()}
    state["4.weight"][0, 0] = float("nan")                    # a diverged run
    checkpoint.write(run / "best.safetensors", state, {"epoch": 1})
    res = CliRunner().invoke(main, ["export", str(run), "-o", str(tmp_path / "x.onnx")])
    assert res.exit_code == 1, res.output
    assert "the model's output 'output' holds NaN or inf on random inputs" in res.output
    assert not (tmp_path / "x.onnx").exists() and "Traceback" not in res.output


def test_an_output_that_ignores_the_input_is_refused(tmp_path):
    spec = netspec.loads("name: const\ninput: [4]\nlayers:\n  - linear: 1\n  - softmax\n")
    with pytest.raises(VerifyError, match="the same for each of 4 random inputs"):
        netspec.export(spec, tmp_path / "c.onnx")
    assert (tmp_path / "c.onnx.unverified").is_file() and not (tmp_path / "c.onnx").exists()
