"""The checkpoint's checksum covers its JSON state as well as its tensors: an edit of the state
that stays valid JSON is refused (a VerifyError naming the file, exit 1 from eval, export and
resume), while a checkpoint of the earlier format (a digest of the tensors alone) still reads."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from safetensors.torch import save

from netspec.errors import InputError, VerifyError
from netspec.training import checkpoint

SPEC = """\
name: tiny
input: [4]
layers:
  - linear: 8
  - relu
  - linear: 3
train:
  data: iris
  epochs: 1
  batch_size: 16
  threads: 1
"""


def rewrite_header(path: Path, change) -> None:
    """The file with `change(metadata)` applied to its header metadata and the tensor bytes
    left as they are (the header's length prefix updated): a hand edit of the state."""
    raw = path.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    change(header["__metadata__"])
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)             # safetensors aligns the data on 8 bytes
    path.write_bytes(len(text).to_bytes(8, "little") + text + raw[8 + n:])


def edit_state(**values):
    def change(meta: dict) -> None:
        state = json.loads(meta["netspec"])
        state.update(values)
        meta["netspec"] = json.dumps(state)
    return change


@pytest.fixture
def ckpt(tmp_path) -> Path:
    path = tmp_path / "last.safetensors"
    checkpoint.write(path, {"w": torch.arange(6.0)}, {"epoch": 1, "best": {"val_loss": 0.5}})
    return path


def test_a_written_checkpoint_reads_back(ckpt):
    tensors, state = checkpoint.read(ckpt)
    assert state == {"epoch": 1, "best": {"val_loss": 0.5}}
    assert torch.equal(tensors["w"], torch.arange(6.0))


@pytest.mark.parametrize("change", [
    edit_state(epoch=7),                                    # same length, still JSON
    edit_state(best={"val_loss": 0.05}),                    # a better "best" than trained
    edit_state(extra=[1, 2, 3]),                            # a key added
])
def test_a_state_edited_in_valid_json_is_refused(ckpt, change):
    rewrite_header(ckpt, change)
    with pytest.raises(VerifyError, match=r"does not match the checksum in its header \(it "
                       r"covers the tensors and the run state\)") as err:
        checkpoint.read(ckpt)
    assert err.value.render().startswith(f"{ckpt}:1:1: error: checkpoint last.safetensors "
                                          "is damaged")


def test_a_tensor_byte_flipped_is_still_refused(ckpt):
    raw = ckpt.read_bytes()
    ckpt.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))
    with pytest.raises(VerifyError, match="does not match the checksum"):
        checkpoint.read(ckpt)


def test_the_digest_is_the_state_then_the_tensors(ckpt):
    """What the module docstring says format 2 stores, recomputed here from the file."""
    raw = ckpt.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    meta = json.loads(raw[8:8 + n])["__metadata__"]
    state = meta["netspec"].encode()
    expected = hashlib.sha256(len(state).to_bytes(8, "little") + state + raw[8 + n:])
    assert meta["format"] == "2" and meta["sha256"] == expected.hexdigest()


def test_a_format_1_checkpoint_still_reads(tmp_path):
    """The earlier format: the digest of the tensor data alone, the state outside it."""
    tensors = {"w": torch.arange(6.0)}
    payload = save(tensors)
    n = int.from_bytes(payload[:8], "little")
    meta = {"netspec": json.dumps({"epoch": 4}), "format": "1",
            "sha256": hashlib.sha256(payload[8 + n:]).hexdigest()}
    path = tmp_path / "old.safetensors"
    path.write_bytes(save(tensors, metadata=meta))
    loaded, state = checkpoint.read(path)
    assert state == {"epoch": 4} and torch.equal(loaded["w"], tensors["w"])
    raw = path.read_bytes()
    path.write_bytes(raw[:-1] + bytes([raw[-1] ^ 1]))       # its tensors are still covered
    with pytest.raises(VerifyError, match="its data does not match the checksum") as err:
        checkpoint.read(path)
    assert "run state" not in err.value.first.message


def test_a_format_to_come_is_named_not_misread(ckpt):
    rewrite_header(ckpt, lambda meta: meta.update(format="9"))
    with pytest.raises(InputError, match="has format '9'; this netspec reads formats 1, 2"):
        checkpoint.read(ckpt)


def cli(*args):
    from netspec.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    """One real run (one epoch of a small MLP on iris, about a second)."""
    root = tmp_path_factory.mktemp("runs")
    spec = root / "tiny.yaml"
    spec.write_text(SPEC)
    out = cli("train", spec, "--out", root / "runs", "-q")
    assert out.exit_code == 0, out.output
    return root / "runs" / "tiny" / "1"


@pytest.mark.parametrize("command, file", [
    (lambda run, tmp: ("eval", run), "best.safetensors"),
    (lambda run, tmp: ("export", run, "-o", tmp / "m.onnx"), "best.safetensors"),
    (lambda run, tmp: ("train", "--resume", run, "-q"), "last.state.safetensors"),
])
def test_eval_export_and_resume_refuse_an_edited_state(run, tmp_path, command, file):
    path = run / file
    original = path.read_bytes()
    try:
        rewrite_header(path, edit_state(epoch=99))
        out = cli(*command(run, tmp_path))
    finally:
        path.write_bytes(original)          # the run stays whole for the next command
    assert out.exit_code == 1, out.output
    assert out.stderr.startswith(f"{path}:1:1: error: checkpoint {file} is damaged: its data "
                                 "does not match the checksum in its header (it covers the "
                                 "tensors and the run state)"), out.stderr
    assert "hint: the file was truncated or altered" in out.stderr
    assert out.exception is None or isinstance(out.exception, SystemExit)
    assert not (tmp_path / "m.onnx").exists()
