"""netspec.safe_write: outputs refused before anything is written, names that stay one path
component, and writes that leave the old file or the new one, never half of one."""

from __future__ import annotations

import errno
import os

import pytest

from netspec.errors import InputError
from netspec.safe_write import atomic_path, atomic_write, check_output, path_component


def test_a_directory_a_fifo_and_a_protected_input_are_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "spec.yaml").write_text("x")
    with pytest.raises(InputError, match="is a directory"):
        check_output(tmp_path, "the ONNX file")
    with pytest.raises(InputError, match="not a regular file"):
        check_output(tmp_path / "pipe", "the ONNX file")
    with pytest.raises(InputError, match="is an input of this command"):
        check_output(tmp_path / "spec.yaml", "the ONNX file", protect=[tmp_path / "spec.yaml"])
    assert check_output(tmp_path / "new.onnx") == tmp_path / "new.onnx"


def test_a_file_inside_a_run_directory_is_refused(tmp_path):
    for name in ("spec.yaml", "train.json"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(InputError, match="inside the run directory"):
        check_output(tmp_path / "best.safetensors", "the weights file")


@pytest.mark.parametrize("name", ["../x", "a/b", ".hidden", "", "..", "a\0b", "x" * 201,
                                  "\ud800", "tab\there"])
def test_names_that_would_leave_their_folder_are_refused(name):
    with pytest.raises(InputError, match="the run name"):
        path_component(name, "the run name")


@pytest.mark.parametrize("name", ["lenet5", "resnet-18_v2", "café"])
def test_plain_names_pass(name):
    assert path_component(name, "the run name") == name


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "a.json"
    atomic_write(target, "old")

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(InputError, match=r"cannot write .*a\.json: No space left on device"):
        atomic_write(target, "new")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json"]


def test_a_writer_that_fails_leaves_nothing(tmp_path):
    with pytest.raises(ValueError):
        with atomic_path(tmp_path / "m.onnx") as tmp:
            tmp.write_bytes(b"half")
            raise ValueError("the exporter failed")
    assert list(tmp_path.iterdir()) == []
