"""`netspec infer`: onnxruntime alone (never torch), preprocessing as training did, the same
class as the torch model on digit images, .npy/.csv/.npz inputs, clear errors for bad files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import netspec
from netspec.cli.main import main

DIGIT_SPEC = """name: digit_net
input: [1, 8, 8]
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
  - relu
  - maxpool: 2
  - flatten
  - linear: 10
"""
LABELS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images, d.target                         # raw 0..16


@pytest.fixture(scope="module")
def digit_model(tmp_path_factory, digits):
    """A small CNN trained briefly on the digits (÷16, normalised), saved as a run directory
    and exported: (onnx path, torch model, mean, std)."""
    import torch

    from netspec.training import checkpoint

    images, target = digits
    x = torch.tensor(images[:800], dtype=torch.float32)[:, None] / 16
    mean, std = float(x.mean()), float(x.std())
    y = torch.tensor(target[:800])
    torch.manual_seed(0)
    model = netspec.build(netspec.loads(DIGIT_SPEC))
    opt = torch.optim.Adam(model.parameters(), 1e-2)
    for _ in range(40):
        loss = torch.nn.functional.cross_entropy(model((x - mean) / std), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    root = tmp_path_factory.mktemp("runs")
    run = root / "digit_net" / "1"
    run.mkdir(parents=True)
    (run / "spec.yaml").write_text(DIGIT_SPEC)
    checkpoint.write(run / "best.safetensors", model.state_dict(), {"epoch": 40})
    (run / "data.json").write_text(json.dumps({
        "task": "classification", "labels": LABELS, "scale": 0.0625,
        "normalize": {"mean": [mean], "std": [std]}, "input_shape": [1, 8, 8],
        "output": "logits", "name": "digits"}))
    path = netspec.export(run, root / "digit_net.onnx").path
    return path, model.eval(), mean, std


def torch_classes(model, raw: np.ndarray, mean: float, std: float) -> np.ndarray:
    import torch

    x = torch.tensor(raw, dtype=torch.float32)[:, None] / 16
    with torch.no_grad():
        return model((x - mean) / std).argmax(1).numpy()


def save_png(raw: np.ndarray, path: Path, size: int | None = None) -> Path:
    img = Image.fromarray(np.round(raw / 16 * 255).astype(np.uint8))
    if size:
        img = img.resize((size, size), Image.NEAREST)
    img.save(path)
    return path


HELD_OUT = slice(1500, 1520)


def test_digit_images_get_the_torch_models_class(digit_model, digits, tmp_path):
    path, model, mean, std = digit_model
    images, _ = digits
    raw = images[HELD_OUT]
    files = [save_png(r, tmp_path / f"d{i}.png") for i, r in enumerate(raw)]
    results = netspec.infer(path, files, top_k=3)
    expected = torch_classes(model, raw, mean, std)
    assert [r.top[0].index for r in results] == expected.tolist()
    assert [r.label for r in results] == [LABELS[i] for i in expected]
    assert all(len(r.top) == 3 and r.top[0].probability >= r.top[1].probability for r in results)


def test_images_are_resized_to_the_input(digit_model, digits, tmp_path):
    path, model, mean, std = digit_model
    images, _ = digits
    big = save_png(images[1500], tmp_path / "big.png", size=32)   # 4x: the 8x8 pixels come back
    rgb = tmp_path / "rgb.png"
    Image.open(save_png(images[1501], tmp_path / "g.png")).convert("RGB").save(rgb)
    results = netspec.infer(path, [big, rgb])
    assert [r.top[0].index for r in results] == \
        torch_classes(model, images[1500:1502], mean, std).tolist()


def test_npy_csv_and_npz_give_the_same_as_images(digit_model, digits, tmp_path):
    path, model, mean, std = digit_model
    images, _ = digits
    raw = images[HELD_OUT][:5]
    np.save(tmp_path / "batch.npy", raw)                     # [N, 8, 8]: channel axis added
    np.save(tmp_path / "one.npy", raw[0][None])              # [1, 8, 8]: one sample
    np.savez(tmp_path / "x.npz", input=raw[:, None])
    rows = "\n".join(",".join(str(v) for v in r.ravel()) for r in raw)
    (tmp_path / "rows.csv").write_text("," .join(f"p{i}" for i in range(64)) + "\n" + rows + "\n")
    results = netspec.infer(path, [tmp_path / n for n in ("batch.npy", "one.npy", "x.npz",
                                                          "rows.csv")])
    expected = torch_classes(model, raw, mean, std).tolist()
    classes = [r.top[0].index for r in results]
    assert classes == expected + expected[:1] + expected + expected
    assert [r.source for r in results][:2] == [f"{tmp_path / 'batch.npy'}[0]",
                                               f"{tmp_path / 'batch.npy'}[1]"]
    assert results[-1].source == f"{tmp_path / 'rows.csv'}:6"
    probs = np.array([[p.probability for p in sorted(r.top, key=lambda p: p.index)]
                      for r in results[:5]])
    import torch

    x = (torch.tensor(raw, dtype=torch.float32)[:, None] / 16 - mean) / std
    with torch.no_grad():
        want = torch.softmax(model(x), 1).numpy()
    top = np.sort(want, 1)[:, ::-1][:, :5]
    np.testing.assert_allclose(np.sort(probs, 1)[:, ::-1], top, atol=1e-4)


def test_cli_text_and_json(digit_model, digits, tmp_path):
    path, model, mean, std = digit_model
    png = save_png(digits[0][1500], tmp_path / "d.png")
    label = LABELS[torch_classes(model, digits[0][1500:1501], mean, std)[0]]
    res = CliRunner().invoke(main, ["infer", str(path), str(png), "--top-k", "2"])
    assert res.exit_code == 0, res.output
    assert res.output.startswith(f"{png}  {label} (")
    res = CliRunner().invoke(main, ["infer", str(path), str(png), "--json", "-k", "4"])
    out = json.loads(res.output)
    assert out[0]["input"] == str(png)
    top = out[0]["outputs"]["output"]["top_k"]
    assert len(top) == 4 and top[0]["label"] == label and 0 < top[0]["probability"] <= 1


def test_infer_never_imports_torch(digit_model, digits, tmp_path):
    path, *_ = digit_model
    png = save_png(digits[0][1500], tmp_path / "d.png")
    code = ("import sys\n"
            "from netspec.cli.main import main\n"
            f"main(['infer', {str(path)!r}, {str(png)!r}], standalone_mode=False)\n"
            "import netspec\n"
            f"netspec.infer({str(path)!r}, [{str(png)!r}])\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert "torch imported: False" in out.stdout


# ---- what the output kind means ---------------------------------------------------------------

def test_probabilities_are_not_softmaxed_again(tmp_path):
    spec = netspec.loads("name: p\ninput: [4]\nlayers:\n  - linear: 3\n  - softmax\n")
    path = netspec.export(spec, tmp_path / "p.onnx").path
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    import onnxruntime as ort

    raw = ort.InferenceSession(str(path)).run(None, {"input": x})[0]
    results = netspec.infer(path, tmp_path / "x.npy", top_k=3)
    assert results[0].primary.kind == "probabilities"
    got = sorted((p.index, p.probability) for p in results[0].top)
    np.testing.assert_allclose([p for _, p in got], raw[0], rtol=1e-6)


def test_regression_outputs_print_values(tmp_path):
    spec = netspec.loads("name: r\ninput: [3]\nlayers:\n  - linear: 1\ntrain: {loss: mse}\n")
    path = netspec.export(spec, tmp_path / "r.onnx").path
    (tmp_path / "x.csv").write_text("1,2,3\n4,5,6\n")
    results = netspec.infer(path, tmp_path / "x.csv")
    assert [len(r.primary.values) for r in results] == [1, 1]
    assert results[0].primary.kind == "values" and results[0].top == ()
    assert results[1].render().startswith(f"{tmp_path / 'x.csv'}:2  ")


# ---- failures: one message, exit 1 -------------------------------------------------------------

@pytest.mark.parametrize("content, message", [
    (b"this is not a model", "not a model onnxruntime can load"),
    (b"\x08\x07\x12\x04junk" * 10, "not a model onnxruntime can load"),
])
def test_broken_model_file_exits_1(tmp_path, content, message):
    model = tmp_path / "broken.onnx"
    model.write_bytes(content)
    img = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(img)
    res = CliRunner().invoke(main, ["infer", str(model), str(img)])
    assert res.exit_code == 1
    assert message in res.output and "Traceback" not in res.output


def test_truncated_export_exits_1(digit_model, tmp_path):
    path, *_ = digit_model
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    img = tmp_path / "x.png"
    Image.new("L", (8, 8)).save(img)
    res = CliRunner().invoke(main, ["infer", str(cut), str(img)])
    assert res.exit_code == 1 and "not a model onnxruntime can load" in res.output


@pytest.mark.parametrize("name, content, message", [
    ("rows.csv", "1,2,3\n", "rows.csv:1:1: error: a row has 3 values; the model's input "
                            "[1, 8, 8] needs 64"),
    ("x.npy", None, "has shape [3, 3]; the model takes [1, 8, 8] per sample"),
    ("notes.txt", "hello", "netspec infer reads images"),
    ("fake.png", "not an image", "not an image PIL can read"),
])
def test_inputs_that_do_not_fit_exit_1(digit_model, tmp_path, name, content, message):
    path, *_ = digit_model
    target = tmp_path / name
    if content is None:
        np.save(target, np.zeros((3, 3)))
    else:
        target.write_text(content)
    res = CliRunner().invoke(main, ["infer", str(path), str(target)])
    assert res.exit_code == 1, res.output
    assert message in res.output and "Traceback" not in res.output


def test_an_onnx_file_without_netspec_metadata_still_runs(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    weight = helper.make_tensor("w", TensorProto.FLOAT, [3, 2], [1, 0, 0, 1, 1, 1])
    graph = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "plain",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 3])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n", 2])],
                              [weight])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, tmp_path / "plain.onnx")
    np.save(tmp_path / "x.npy", np.array([[1.0, 2.0, 3.0]]))
    (r,) = netspec.infer(tmp_path / "plain.onnx", tmp_path / "x.npy")
    assert r.primary.kind == "values" and r.primary.values == [4.0, 5.0]
