"""The `netspec` command line (DESIGN §1, §3): check's table, --depth, --explain, --json,
--input, `kinds`, `schema`, and `python -m netspec`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netspec.lang.library import builtin_blocks
from netspec.cli.main import main
from netspec.kinds import kinds

ROOT = Path(__file__).resolve().parents[1]

SMALL = """\
name: small
input: [3, 32, 32]
blocks:
  cbr:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1, bias: false}
      - batchnorm
      - relu
layers:
  - cbr: {out: 8}
    id: stem
  - cbr: {out: 16}
  - maxpool: 2
  - flatten
  - linear: 10
"""

SEQ = """\
name: seq
input: [seq, 16]
layers:
  - lstm: {hidden: 32}
  - linear: 4
"""

# name, kind, shape, params, MACs of SMALL's primitive layers (conv: out*C*9*H*W MACs)
SMALL_LAYERS = [
    ("stem.0", "conv", [8, 32, 32], 216, 8 * 3 * 9 * 32 * 32),
    ("stem.1", "batchnorm", [8, 32, 32], 16, 0),
    ("stem.2", "relu", [8, 32, 32], 0, 0),
    ("1.0", "conv", [16, 32, 32], 1152, 16 * 8 * 9 * 32 * 32),
    ("1.1", "batchnorm", [16, 32, 32], 32, 0),
    ("1.2", "relu", [16, 32, 32], 0, 0),
    ("2", "maxpool", [16, 16, 16], 0, 0),
    ("3", "flatten", [4096], 0, 0),
    ("4", "linear", [10], 40970, 40960),
]


@pytest.fixture
def specs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "small.yaml").write_text(SMALL)
    (tmp_path / "seq.yaml").write_text(SEQ)
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.stdout


def table_rows(text: str) -> list[list[str]]:
    """The table's rows split into cells (two spaces or more separate them)."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if set(line.replace(" ", "")) == {"-"}]
    return [re.split(r"\s{2,}", line.strip()) for line in lines[rules[0] + 1:rules[1]]]


# ---- check ----------------------------------------------------------------------------------

def test_check_table(specs):
    out = run("check", "small.yaml")
    assert re.split(r"\s{2,}", out.splitlines()[0].strip()) == [
        "layer", "kind", "output shape", "rf", "params", "MACs"]
    rows = table_rows(out)
    assert rows[0] == ["input", "input", "[3, 32, 32]"]
    # receptive fields: 3x3 convs (3, then 5), the 2x2 maxpool adds 1; none after flatten
    rf = ["3x3"] * 3 + ["5x5"] * 3 + ["6x6"]
    assert rows[1:] == [[n, k, "[" + ", ".join(map(str, s)) + "]", *rf[i:i + 1], f"{p:,}",
                         f"{m:,}"] for i, (n, k, s, p, m) in enumerate(SMALL_LAYERS)]
    assert out.splitlines()[-4:] == [
        "small: 9 layers; output output [10]",
        "params      42,386 (42.39 K; 42,386 trainable)",
        "MACs        1,441,792 (1.44 M)",
        "memory      params 165.57 KiB, activations 320.04 KiB per sample (float32)",
    ]


def test_check_depth_0_folds_every_block_into_one_row(specs):
    rows = table_rows(run("check", "small.yaml", "--depth", "0"))
    assert [r[0] for r in rows] == ["input", "stem", "1", "2", "3", "4"]
    stem, second = rows[1], rows[2]
    assert stem[1].startswith("cbr") and stem[2:] == ["[8, 32, 32]", "3x3", "232", "221,184"]
    assert second[1].startswith("cbr") and second[2:] == ["[16, 32, 32]", "5x5", "1,184",
                                                          "1,179,648"]


def test_check_depth_keeps_the_totals(specs):
    full = run("check", "small.yaml").splitlines()[-4:]
    assert run("check", "small.yaml", "--depth", "0").splitlines()[-4:] == full


def test_check_explain_shows_the_arithmetic(specs):
    out = run("check", "small.yaml", "--explain").splitlines()
    conv = next(i for i, line in enumerate(out) if line.split()[:2] == ["stem.0", "conv"])
    assert out[conv + 1].strip() == "H: floor((32 + 2*1 - 1*(3-1) - 1)/1) + 1 = 32"
    assert out[conv + 2].strip() == "W: floor((32 + 2*1 - 1*(3-1) - 1)/1) + 1 = 32"
    pool = next(i for i, line in enumerate(out) if line.split()[:2] == ["2", "maxpool"])
    assert out[pool + 1].strip() == "H: floor((32 + 2*0 - 1*(2-1) - 1)/2) + 1 = 16"


def test_check_json_has_exactly_the_keys_of_design_section_3(specs):
    report = json.loads(run("check", "small.yaml", "--json"))
    assert set(report) == {"name", "inputs", "outputs", "layers", "params", "macs"}
    assert report["name"] == "small"
    assert report["inputs"] == {"input": [3, 32, 32]}
    assert report["outputs"] == {"output": [10]}
    assert set(report["params"]) == {"total", "trainable"}
    assert report["params"] == {"total": 42386, "trainable": 42386}
    assert report["macs"] == sum(m for *_, m in SMALL_LAYERS)
    for layer in report["layers"]:      # DESIGN §3b: receptive fields where spatial
        spatial = {"rf", "jump", "start"} if len(layer["shape"]) == 3 else set()
        assert set(layer) == {"name", "kind", "from", "shape", "params", "macs", *spatial}
    assert [(x["name"], x["kind"], x["shape"], x["params"], x["macs"])
            for x in report["layers"]] == [tuple(row) for row in SMALL_LAYERS]
    assert [x["from"] for x in report["layers"][:2]] == [["input"], ["stem.0"]]


def test_check_input_override(specs):
    report = json.loads(run("check", "small.yaml", "--input", "3,64,64", "--json"))
    assert report["inputs"] == {"input": [3, 64, 64]}
    shapes = {x["name"]: x["shape"] for x in report["layers"]}
    assert shapes["stem.0"] == [8, 64, 64]
    assert shapes["3"] == [16 * 32 * 32]
    assert report["params"]["total"] == 42386 - 40970 + (16 * 32 * 32 * 10 + 10)


def test_check_binds_a_symbolic_dim(specs):
    free = json.loads(run("check", "seq.yaml", "--json"))
    assert free["inputs"] == {"input": ["seq", 16]}
    assert free["outputs"] == {"output": ["seq", 4]}
    lstm = free["layers"][0]
    assert lstm["shape"] == ["seq", 32] and lstm["macs"] == 4 * 32 * (16 + 32)   # per step

    bound = json.loads(run("check", "seq.yaml", "--input", "seq=50", "--json"))
    assert bound["inputs"] == {"input": [50, 16]}
    assert bound["outputs"] == {"output": [50, 4]}
    assert bound["layers"][0]["macs"] == 50 * lstm["macs"]
    assert bound["params"] == free["params"]


def test_check_table_says_macs_are_per_step(specs):
    assert "MACs        6,272 (6.27 K) (per step of symbolic dims)" in run("check", "seq.yaml")


# ---- kinds, schema, python -m ---------------------------------------------------------------

def test_kinds_lists_every_kind_and_block():
    out = run("kinds")
    listed = {line.split()[0] for line in out.splitlines() if line.strip()}
    names = {k.name for k in kinds().values()}
    assert names <= listed
    assert set(builtin_blocks()) <= listed
    conv = next(line for line in out.splitlines() if line.startswith("conv "))
    assert "out, kernel, stride=1, padding=0" in conv
    assert "silu" in out and "(also swish)" in out


def test_kinds_without_blocks():
    out = run("kinds", "--no-blocks")
    assert "built-in blocks" not in out
    assert not {line.split()[0] for line in out.splitlines() if line.strip()} & \
        set(builtin_blocks())


def test_schema_prints_the_json_schema():
    schema = json.loads(run("schema"))
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "kind.conv" in schema["$defs"]


def test_python_dash_m_netspec_help():
    done = subprocess.run([sys.executable, "-m", "netspec", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Usage: python -m netspec [OPTIONS] COMMAND [ARGS]...")
    for command in ("check", "kinds", "schema"):
        assert re.search(rf"^\s+{command}\s", done.stdout, re.M), command


def test_check_help_documents_the_flags():
    out = run("check", "--help")
    for flag in ("--depth", "--explain", "--json", "--input"):
        assert flag in out
