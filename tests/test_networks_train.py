"""Specs of several networks beyond one process and from weights trained elsewhere: a gan
under torchrun (two CPU processes, gloo: every network wrapped in DDP, the ranks' weights
and metrics alike, rank 0 alone writing), `freeze:` by the checkpoints' names
(`generator.1`), `init:` for the whole model or per network, and their mistakes located."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

import netspec
from netspec.errors import SpecError

SPEC = """\
name: tiny_gan
networks:
  generator:
    input: [8]
    layers:
      - reshape: [8, 1, 1]
      - conv_transpose: {{out: 8, kernel: 4, bias: false}}
      - batchnorm
      - relu
      - conv_transpose: {{out: 1, kernel: 4, stride: 2, padding: 1}}
      - tanh
  discriminator:
    input: [1, 8, 8]
    layers:
      - conv: {{out: 8, kernel: 4, stride: 2, padding: 1}}
      - batchnorm
      - leaky_relu: 0.2
      - flatten
      - linear: 1
train:
  task: {task}
  data: digits
  batch_size: 64
  epochs: 1
  threads: 1
{extra}"""
NO_FID = "{gan: {fid: false, samples: 16}}"

# each rank trains, then says what it ended with: its weights (not the batchnorm statistics,
# which each rank keeps from its own batches) and its history
RANK_SCRIPT = """
import json, os, sys
import netspec
run = netspec.train(sys.argv[1], out=sys.argv[2], quiet=True)
weights = {k: v.flatten().tolist() for k, v in run.model.state_dict().items()
           if k.endswith(("weight", "bias"))}
with open(os.path.join(sys.argv[3], f"rank{os.environ['RANK']}.json"), "w") as f:
    json.dump({"weights": weights, "history": run.history, "path": str(run.path)}, f)
"""


def write(tmp_path: Path, extra: str = "", task: str = NO_FID, name: str = "gan.yaml") -> Path:
    path = tmp_path / name
    path.write_text(SPEC.format(task=task, extra=extra))
    return path


@pytest.mark.slow          # two processes, and the fid's classifier: 15 s on 2 busy cores
def test_a_gan_trains_in_two_processes(tmp_path):
    spec = write(tmp_path, task="{gan: {samples: 16, fid_samples: 128}}")
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT)
    out = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
                          "--standalone", str(script), str(spec), str(tmp_path / "runs"),
                          str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["weights"] == ranks[1]["weights"]     # DDP averaged every gradient
    assert ranks[0]["history"] == [{**ranks[1]["history"][0], "time": ranks[0]["history"][0]
                                    ["time"]}]           # rank 0's fid given to rank 1
    assert "fid" in ranks[1]["history"][0]
    assert ranks[1]["path"] == "None"                      # rank 1 writes nothing
    runs = tmp_path / "runs" / "tiny_gan"
    assert sorted(p.name for p in runs.iterdir()) == ["1", "latest"]
    assert (runs / "1" / "samples" / "epoch_001.png").is_file()
    summary = json.loads((runs / "1" / "summary.json").read_text())
    assert summary["world_size"] == 2 and summary["batch"]["per_step"] == 128
    saved = load_file(runs / "1" / "last.safetensors")
    assert all(saved[k].flatten().tolist() == v for k, v in ranks[0]["weights"].items())
    fresh = netspec.build(str(spec), network="generator").state_dict()
    assert not torch.equal(fresh["4.weight"], saved["generator.4.weight"])   # it trained


def test_freeze_a_layer_of_one_network_and_init_another_run(tmp_path):
    first = netspec.train(str(write(tmp_path)), out=str(tmp_path / "runs"), quiet=True)
    before = load_file(first.path / "last.safetensors")
    extra = f"  init: {{generator: {first.path}}}\n  freeze: [generator.1]\n"
    second = netspec.train(str(write(tmp_path, extra)), out=str(tmp_path / "runs"), quiet=True)
    after = load_file(second.path / "last.safetensors")
    # the frozen layer kept the first run's weights, the generator's others trained on
    assert torch.equal(after["generator.1.weight"], before["generator.1.weight"])
    assert not torch.equal(after["generator.4.weight"], before["generator.4.weight"])
    assert not torch.equal(after["discriminator.0.weight"], before["discriminator.0.weight"])
    trainable = [n for n, p in second.model.named_parameters() if p.requires_grad]
    assert "generator.1.weight" not in trainable and "generator.4.weight" in trainable
    # the whole run as it was saved (names `NAME.<layer>`), a pattern over both networks
    whole = f"  init: {first.path}\n  freeze: ['*.4.*']\n"
    third = netspec.train(str(write(tmp_path, whole)), out=str(tmp_path / "runs"), quiet=True)
    last = load_file(third.path / "last.safetensors")
    for key in ("generator.4.weight", "discriminator.4.weight", "discriminator.4.bias"):
        assert torch.equal(last[key], before[key]), key
    assert not torch.equal(last["generator.1.weight"], before["generator.1.weight"])


def test_one_network_from_a_file_in_its_own_names(tmp_path):
    from safetensors.torch import save_file

    first = netspec.train(str(write(tmp_path)), out=str(tmp_path / "runs"), quiet=True)
    saved = load_file(first.path / "best.safetensors")
    own = {k.removeprefix("discriminator."): v for k, v in saved.items()
           if k.startswith("discriminator.")}
    save_file(own, str(tmp_path / "d.safetensors"))
    extra = f"  init: {{discriminator: {{from: {tmp_path / 'd.safetensors'}, strict: true}}}}\n"
    run = netspec.train(str(write(tmp_path, extra)), lr=1e-12, out=str(tmp_path / "runs"),
                        quiet=True)                     # a step too small to move a weight
    state = run.model.state_dict()
    assert torch.allclose(state["discriminator.0.weight"], own["0.weight"], atol=1e-9)
    assert not torch.allclose(state["generator.4.weight"], saved["generator.4.weight"])
    # strict: every tensor of that network, or the error says what is missing, where
    save_file({k: v for k, v in own.items() if not k.startswith("4.")},
              str(tmp_path / "d.safetensors"))
    with pytest.raises(SpecError, match="2 missing \\(4.weight, 4.bias\\)") as err:
        netspec.train(str(write(tmp_path, extra)), out=str(tmp_path / "runs"), quiet=True)
    assert err.value.first.loc.line == 26


@pytest.mark.parametrize("extra, line, message, hint", [
    ("  freeze: [generater.1]\n", 26, "`freeze`: 'generater.1' names no network of this spec "
     "(generator, discriminator)", "did you mean `generator.1`?"),
    ("  freeze: [1]\n", 26, "with several networks a layer's name starts with its network's",
     "e.g. `generator.1`"),
    ("  freeze: {generator: [1, 4]}\n", 26, "name each layer with its network's name in front",
     None),
    ("  freeze: [discriminator]\n", 26, "`freeze` leaves no parameter of the network "
     "`discriminator` to train", "leave a layer of `discriminator` unfrozen"),
    ("  freeze: [generator.7]\n", 26, "`freeze`: no layer with parameters is named "
     "'generator.7'", None),
    ("  init: {generatr: runs/x}\n", 26, "`init` names no network of this spec: 'generatr'",
     "did you mean `generator`?"),
])
def test_freeze_and_init_mistakes_are_located(tmp_path, extra, line, message, hint):
    with pytest.raises(SpecError) as err:
        netspec.train(str(write(tmp_path, extra)), out=str(tmp_path / "runs"), quiet=True)
    first = err.value.first
    assert message in first.message
    assert first.loc is not None and first.loc.line == line and first.loc.file.endswith("gan.yaml")
    if hint:
        assert hint in first.hint
    assert not (tmp_path / "runs").exists()               # nothing ran, nothing written


def test_init_by_network_needs_several_networks(tmp_path):
    spec = tmp_path / "mlp.yaml"
    spec.write_text("name: mlp\ninput: [64]\nlayers:\n  - linear: 10\ntrain:\n  data: digits\n"
                    "  epochs: 1\n  init: {generator: elsewhere.safetensors}\n")
    with pytest.raises(SpecError, match=r"`init` by network \(generator\) is for a spec of "
                                        r"several networks") as err:
        netspec.train(str(spec), out=str(tmp_path / "runs"), quiet=True)
    assert err.value.first.loc.line == 8


def test_check_names_the_network_a_freeze_misses(tmp_path):
    from click.testing import CliRunner

    from netspec.cli.main import main

    spec = write(tmp_path, "  freeze: [generater.1]\n")
    out = CliRunner().invoke(main, ["check", str(spec)])
    assert out.exit_code == 1
    assert f"{spec}:26:12: error: `freeze`: 'generater.1' names no network" in out.output
    assert "hint: did you mean `generator.1`?" in out.output
    fine = CliRunner().invoke(main, ["check", str(write(tmp_path, "  freeze: [generator.1]\n"))])
    assert fine.exit_code == 0 and "1,024 frozen" in fine.output       # its trainable params
