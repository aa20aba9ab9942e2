"""Transfer learning: `init: {from, map, strict}` from a run or a .safetensors file, `freeze`
by pattern, a replaced head, and `netspec convert` of a PyTorch state dict (weights_only)."""

from __future__ import annotations

import pickle

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import load_file, save_file

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.training.rundir import load_run
from netspec.training.weights import renamed

PRETRAIN = """\
name: pre
input: [64]
layers:
  - {linear: 32, id: body}
  - relu
  - {linear: 10, id: fc}
train: {data: digits, epochs: 1, batch_size: 64, threads: 1}
"""

# the same layers under other names: `map` carries the body over, the head starts afresh
FINETUNE = """\
name: fine
input: [64]
layers:
  - {linear: 32, id: stem}
  - relu
  - {linear: 10, id: head}
train:
  data: digits
  epochs: 1
  batch_size: 64
  threads: 1
"""


def run(text, tmp_path, **kw):
    return netspec.train(netspec.loads(text, str(tmp_path / "spec.yaml")),
                         out=str(tmp_path / "runs"), quiet=True, **kw)


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pre")
    r = run(PRETRAIN, tmp)
    return r.path, load_run(r.path)[1]


def test_prefixes_are_renamed_longest_first():
    state = {"layer1.0.w": 1, "layer10.w": 2, "fc.w": 3}
    assert renamed(state, {"layer1.": "stage1.", "layer1": "s", "fc.": "head."}) == \
        {"stage1.0.w": 1, "s0.w": 2, "head.w": 3}


def test_init_from_a_run_with_a_map_and_a_frozen_pattern(tmp_path, pretrained):
    path, before = pretrained
    text = FINETUNE.replace("  threads: 1\n", f"  threads: 1\n  init: {{from: {path}, map: "
                            "{body.: stem.}}\n  freeze: ['stem.*']\n")
    r = run(text, tmp_path)
    after = r.model.state_dict()
    assert torch.equal(after["stem.weight"], before["body.weight"])     # taken, then frozen
    assert not torch.equal(after["head.weight"], before["fc.weight"])   # head: from scratch
    assert r.summary["params"]["trainable"] == 330


def test_init_from_a_safetensors_file_and_strict(tmp_path, pretrained):
    _, before = pretrained
    file = tmp_path / "w.safetensors"
    save_file({k: v.contiguous() for k, v in before.items()}, str(file))
    strict = FINETUNE.replace("  threads: 1\n", f"  threads: 1\n  init: {{from: {file}, "
                              "map: {body.: stem., fc.: head.}, strict: true}\n")
    r = run(strict, tmp_path)
    assert r.status == "completed"
    with pytest.raises(SpecError) as err:        # strict, and `fc.` left unrenamed
        run(strict.replace(", fc.: head.", ""), tmp_path)
    msg = err.value.first.message
    assert "strict" in msg and "2 missing (head.weight, head.bias)" in msg
    assert "2 not in the network (fc.bias, fc.weight)" in msg
    assert err.value.first.loc.line == 12          # at `init:`


def test_weights_that_fit_nothing_say_how_to_rename(tmp_path, pretrained):
    path, _ = pretrained
    text = FINETUNE.replace("  threads: 1\n", f"  threads: 1\n  init: {path}\n"
                            ).replace("linear: 32", "linear: 16")
    with pytest.raises(SpecError) as err:
        run(text.replace("id: head", "id: out"), tmp_path)
    assert "no weights of" in err.value.first.message and "map:" in err.value.first.hint


def test_a_pth_file_is_refused_as_init(tmp_path):
    pth = tmp_path / "w.pth"
    torch.save({"stem.weight": torch.zeros(32, 64)}, pth)
    text = FINETUNE.replace("  threads: 1\n", f"  threads: 1\n  init: {pth}\n")
    with pytest.raises(SpecError) as err:
        run(text, tmp_path)
    assert "netspec convert" in err.value.first.hint


def test_convert_a_state_dict_with_renames(tmp_path):
    net = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    pth = tmp_path / "net.pth"
    torch.save({"state_dict": net.state_dict(), "epoch": 3}, pth)
    out = tmp_path / "net.safetensors"
    result = CliRunner().invoke(main, ["convert", str(pth), "-o", str(out),
                                       "--map", "0.=stem.", "--map", "2.=head."])
    assert result.exit_code == 0, result.output
    assert "4 tensors, 2,410 values" in result.output
    got = load_file(str(out))
    assert torch.equal(got["stem.weight"], net[0].weight.detach())
    assert set(got) == {"stem.weight", "stem.bias", "head.weight", "head.bias"}
    # and the converted file starts a netspec run of the same layers, strictly
    spec = FINETUNE.replace("  threads: 1\n", f"  threads: 1\n  init: {{from: {out}, "
                            "strict: true}\n")
    r = run(spec, tmp_path, epochs=1, lr=1e-9)
    assert torch.allclose(r.model.state_dict()["head.bias"], net[2].bias.detach(), atol=1e-6)


class _Evil:
    def __reduce__(self):
        return (print, ("this ran",))


@pytest.mark.parametrize("content", [lambda: pickle.dumps(_Evil()), lambda: b"not a torch file",
                                     lambda: b""], ids=["a pickle that runs code", "text", "empty"])
def test_convert_refuses_what_is_not_a_plain_state_dict(tmp_path, content):
    pth = tmp_path / "x.pth"
    pth.write_bytes(content())
    result = CliRunner().invoke(main, ["convert", str(pth), "-o", str(tmp_path / "o.safetensors")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "not a PyTorch state dict" in result.output and "this ran" not in result.output
    assert not (tmp_path / "o.safetensors").exists()


def test_convert_refuses_non_tensor_entries_and_its_own_input(tmp_path):
    pth = tmp_path / "x.pth"
    torch.save({"w": torch.zeros(2), "step": 3}, pth)
    result = CliRunner().invoke(main, ["convert", str(pth), "-o", str(tmp_path / "o.safetensors")])
    assert result.exit_code == 1 and "not named tensors (step)" in result.output
    result = CliRunner().invoke(main, ["convert", str(pth), "-o", str(tmp_path / "o.txt")])
    assert result.exit_code == 2
