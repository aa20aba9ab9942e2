"""Run directories hold everything needed to rebuild a run (DESIGN §9), read through one reader:
a self-contained spec (includes inlined), data statistics and target scaling, verified
checkpoints. Export, eval and resume read runs alike; infer gives regression values in the
target's units."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import yaml

import netspec
from netspec.errors import InputError
from netspec.lang.inline import inline
from netspec.training.rundir import RunDir, read_run, resolve_run

LIBRARY = """\
blocks:
  conv_bn:
    doc: conv, batchnorm, relu
    params: {out: null, kernel: 3, mode: "on", tag: "1e3", octal: "0o7", nothing: "null"}
    layers:
      - conv: {out: $out, kernel: $kernel, padding: "$(max(0, kernel // 2))", bias: false}
      - batchnorm
      - relu
"""
NET = """\
# a comment
name: incl
include: lib.yaml
input: [1, 8, 8]
blocks:
  head:
    params: {n: 10}
    layers: [flatten, {linear: $n}]
layers:
  - conv_bn: {out: 4}
  - {conv_bn: {out: 4, kernel: 1}, id: c2, repeat: 2}
  - head: {n: 10}
train: {data: digits, epochs: 1, batch_size: 128, threads: 1, optimizer: {adam: {lr: 1.0e-3}}}
"""


def write_net(tmp_path):
    (tmp_path / "lib.yaml").write_text(LIBRARY)
    (tmp_path / "net.yaml").write_text(NET)
    return tmp_path / "net.yaml"


def check_json(spec) -> str:
    report = netspec.check(spec)
    return json.dumps([(n.name, n.kind, list(n.shape)) for n in report.graph]) + \
        f"{report.params}"


# ---- inlining includes ------------------------------------------------------------------------

def test_inlined_spec_is_self_contained_and_builds_the_same_network(tmp_path):
    spec = netspec.load(write_net(tmp_path))
    text = inline(spec)
    assert "include" not in yaml.safe_load(text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    again = netspec.loads(text, str(elsewhere / "spec.yaml"))   # no lib.yaml beside it
    assert check_json(again) == check_json(spec)
    assert list(again.blocks) == ["conv_bn", "head"]
    assert again.blocks["conv_bn"].params == spec.blocks["conv_bn"].params   # "1e3" stays text
    assert again.blocks["conv_bn"].doc == "conv, batchnorm, relu"
    assert again.train == spec.train
    # editing the included file later changes nothing in what the text builds
    (tmp_path / "lib.yaml").write_text(LIBRARY.replace("- batchnorm\n", ""))
    assert check_json(netspec.loads(text, "spec.yaml")) == check_json(spec)


def test_a_spec_without_includes_is_kept_as_written():
    text = "# as written\ninput: [4]\nlayers:\n  - linear: 2   # head\n"
    assert inline(netspec.loads(text)) == text


@pytest.mark.parametrize("value", ["on", "yes", "1e3", "0o7", "0x1F", "010", "null", "~",
                                   "true", ".inf", "<<", "a: b", "- x", "$(max(1, c // 4))",
                                   "[1, 2]", "#x", "", " lead"])
def test_strings_read_back_as_the_same_strings(tmp_path, value):
    # JSON is YAML: every string quoted (PyYAML's own dump writes `1e3` plain)
    (tmp_path / "lib.yaml").write_text(json.dumps(
        {"blocks": {"b": {"params": {"p": value}, "layers": ["relu"]}}}))
    (tmp_path / "s.yaml").write_text("include: lib.yaml\ninput: [4]\nlayers: [b]\n")
    again = netspec.loads(inline(netspec.load(tmp_path / "s.yaml")))
    assert again.blocks["b"].params == {"p": value}


# ---- the one reader -----------------------------------------------------------------------

def test_resolve_run_follows_latest_and_refuses_what_is_not_a_run(tmp_path):
    run = tmp_path / "runs" / "m" / "3"
    run.mkdir(parents=True)
    (run / "spec.yaml").write_text("input: [4]\nlayers: [{linear: 2}]\n")
    (run.parent / "latest").write_text("3\n")
    assert resolve_run(run.parent) == resolve_run(run.parent / "latest") == run.resolve()
    (tmp_path / "loop").mkdir()
    (tmp_path / "loop" / "latest").write_text("latest\n")
    with pytest.raises(InputError, match="points in a circle"):
        resolve_run(tmp_path / "loop")
    with pytest.raises(InputError, match=r"not a run directory \(no spec.yaml\)"):
        resolve_run(tmp_path)


def test_reading_run_metadata_does_not_import_torch(tmp_path):
    run = tmp_path / "r"
    run.mkdir()
    (run / "spec.yaml").write_text("input: [4]\nlayers: [{linear: 2}]\n")
    (run / "data.json").write_text(json.dumps({"output": "values", "scale": 1.0}))
    code = ("import sys\nfrom netspec.training.rundir import RunDir, resolve_run\n"
            f"r = RunDir(resolve_run({str(run)!r}))\n"
            "print(r.read_spec().name, r.read_data()['output'], 'torch' in sys.modules)\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONSTARTUP"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["spec", "values", "False"]


# ---- whole runs: train, then edit the include; eval and export still rebuild the run --------

def test_a_trained_run_survives_its_include_changing(tmp_path):
    spec_path = write_net(tmp_path)
    r = netspec.train(spec_path, out=str(tmp_path / "runs"), quiet=True)
    assert r.ok
    stored = (r.path / "spec.yaml").read_text()
    assert "include" not in yaml.safe_load(stored) and "conv_bn" in stored
    (tmp_path / "lib.yaml").write_text("blocks: {conv_bn: broken}\n")
    saved = read_run(r.path)
    assert saved.spec.name == "incl" and saved.checkpoint == "best"
    assert saved.data["normalize"] is not None
    result = netspec.export(r.path, tmp_path / "incl.onnx")
    assert max(result.diffs.values()) <= result.limit
    assert result.info.normalize == saved.data["normalize"]
    from netspec.training.evaluate import evaluate_run

    assert evaluate_run(r.path)["metrics"]["accuracy"] >= 0.0


REGRESSION = """\
name: reg
input: [8]
layers:
  - linear: 16
  - relu
  - linear: 1
train:
  data: {name: regression, val: 0.1, test: 0.2, normalize_target: true}
  loss: mse
  metrics: [mae]
  epochs: 2
  batch_size: 32
  threads: 1
"""


def test_infer_gives_regression_values_in_the_targets_units(tmp_path):
    r = netspec.train(netspec.loads(REGRESSION, str(tmp_path / "reg.yaml")),
                      out=str(tmp_path / "runs"), quiet=True)
    assert r.ok
    saved = read_run(r.path)
    target, norm = saved.data["target"], saved.data["normalize"]
    path = netspec.export(r.path, tmp_path / "reg.onnx").path
    x = np.random.default_rng(0).normal(size=(5, 8)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    got = [res.primary.values[0] for res in netspec.infer(path, tmp_path / "x.npy")]
    import torch

    model = netspec.build(saved.spec)
    model.load_state_dict(saved.weights)
    model.eval()
    z = (torch.tensor(x) - torch.tensor(norm["mean"])) / torch.tensor(norm["std"])
    with torch.no_grad():
        standardised = model(z).numpy()[:, 0]
    want = standardised * target["std"][0] + target["mean"][0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * float(np.abs(want).max()))
    assert not np.allclose(got, standardised)          # not in std units
    assert RunDir(r.path).read_data()["target"] == target
