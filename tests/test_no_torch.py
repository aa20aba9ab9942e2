"""The static side never imports torch (nor networkx): `netspec check` answers in a fraction of
a second because it does not pay for them (DESIGN §3, §6).

Each check runs in a fresh interpreter, since this test process may have imported torch for
other tests."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "networkx")

# every family of kinds, a user block, a built-in block, parallel, repeat, if, a sequence
SPEC = """\
name: everything
input: [3, 32, 32]
blocks:
  cbr:
    params: {out: null, stride: 1}
    layers:
      - conv: {out: $out, kernel: 3, stride: $stride, padding: 1, bias: false}
      - batchnorm
      - relu
      - conv: {out: $out, kernel: 1}
        from: input
        if: $(stride != 1)
layers:
  - cbr: {out: 16}
  - vgg_block: {convs: 1, out: 16}
  - parallel:
      merge: add
      branches:
        - [{conv: {out: 16, kernel: 1}}, gelu]
        - [identity]
  - conv_transpose: {out: 8, kernel: 2, stride: 2}
  - groupnorm: 4
  - maxpool: 2
    repeat: 2
  - reshape: [8, 64]
  - lstm: {hidden: 8, bidirectional: true, return: last}
  - dropout: 0.1
  - linear: 10
  - log_softmax
"""


def modules_after(code: str) -> set[str]:
    """The top-level package names in sys.modules after running `code` in a fresh process."""
    script = code + "\nimport sys, json\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.fixture
def spec_file(tmp_path) -> Path:
    path = tmp_path / "everything.yaml"
    path.write_text(SPEC)
    return path


def test_python_api_check_imports_no_torch(spec_file):
    loaded = modules_after(f"import netspec\nreport = netspec.check(netspec.load({str(spec_file)!r}))\n"
                           f"assert report.outputs == {{'output': (10,)}}, report.outputs")
    assert not loaded & set(HEAVY)


@pytest.mark.parametrize("flags", [[], ["--json"], ["--explain", "--depth", "1"],
                                   ["--input", "3,32,32"]])
def test_cli_check_imports_no_torch(spec_file, flags):
    """The real command, as a user runs it: -X importtime lists every module it imports."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netspec", "check",
                           str(spec_file), *flags], capture_output=True, text=True, cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "netspec" in imported and "yaml" in imported     # the log is what we think it is
    assert not imported & set(HEAVY)


def test_cli_check_of_a_broken_spec_imports_no_torch(tmp_path):
    """The error path (messages, did-you-mean) stays light too."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernal: 3}\n  - lineer: 2\n")
    loaded = modules_after(
        "from click.testing import CliRunner\nfrom netspec.cli.main import main\n"
        f"result = CliRunner().invoke(main, ['check', {str(bad)!r}])\n"
        "assert result.exit_code == 1, result.output")
    assert not loaded & set(HEAVY)


@pytest.mark.parametrize("command", [["kinds"], ["schema"]])
def test_other_static_commands_import_no_torch(command):
    loaded = modules_after(
        "from click.testing import CliRunner\nfrom netspec.cli.main import main\n"
        f"result = CliRunner().invoke(main, {command!r})\n"
        "assert result.exit_code == 0, result.output")
    assert not loaded & set(HEAVY)


# ---- `train:` sections: validated without numpy (each source's loader is imported lazily) ----

TRAIN_HEAVY = (*HEAVY, "numpy", "PIL", "sklearn")


def data_sections() -> dict[str, str]:
    """A `data:` section for every registered source: `name: X`, or a file source's key."""
    from netspec.training.data import DATASETS

    out = {}
    for name, entry in DATASETS.entries.items():
        if name == "a":                                  # two unpaired domains (cyclegan)
            out[name] = "{a: {name: digits, size: 16}, b: {name: digits_ink, size: 16}}"
        elif entry.meta.get("file"):
            out[name] = f"{{{name}: not_loaded_by_check}}"
        else:
            out[name] = f"{{name: {name}}}"
    return out


def test_cli_check_of_lenet5_with_its_train_section_imports_no_torch_nor_numpy():
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "netspec", "check",
                           str(ROOT / "specs" / "lenet5.yaml")], capture_output=True, text=True,
                          cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    imported = {line.rsplit("|", 1)[-1].strip().split(".")[0]
                for line in done.stderr.splitlines() if line.startswith("import time:")}
    assert "netspec" in imported and "pydantic" in imported
    assert not imported & set(TRAIN_HEAVY)


def test_check_of_every_data_source_imports_no_torch_nor_numpy(tmp_path):
    sections = data_sections()
    assert {"digits", "shapes", "tokens", "csv", "images", "text", "a"} <= set(sections)
    paths = []
    for name, data in sections.items():
        path = tmp_path / f"{name}.yaml"
        path.write_text(f"input: [4]\nlayers: [{{linear: 3}}]\ntrain:\n  data: {data}\n"
                        "  epochs: 1\n  loss: cross_entropy\n")
        paths.append(str(path))
    paths.append(str(ROOT / "specs" / "resnet18.yaml"))
    loaded = modules_after(
        "from click.testing import CliRunner\nfrom netspec.cli.main import main\n"
        f"for path in {paths!r}:\n"
        "    result = CliRunner().invoke(main, ['check', path])\n"
        "    assert result.exit_code == 0, (path, result.output)")
    assert not loaded & set(TRAIN_HEAVY)


def test_check_of_a_shape_error_beside_a_train_typo_imports_no_numpy(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("input: [1, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n  - maxpool: 8\n"
                   "train:\n  data: {name: shapes, size: 8}\n  epcohs: 3\n")
    loaded = modules_after(
        "from click.testing import CliRunner\nfrom netspec.cli.main import main\n"
        f"result = CliRunner().invoke(main, ['check', {str(bad)!r}])\n"
        "assert result.exit_code == 1 and 'epcohs' in result.output, result.output")
    assert not loaded & set(TRAIN_HEAVY)
