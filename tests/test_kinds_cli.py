"""`netspec kinds`: every kind says what it is and what each argument means."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from netspec.cli.main import main
from netspec.kinds import kinds
from netspec.lang.library import builtin_blocks


def run(*args: str, code: int = 0) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == code, result.output
    return result.output


def unique_kinds():
    return sorted({k.name: k for k in kinds().values()}.values(), key=lambda k: k.name)


@pytest.mark.parametrize("kind", unique_kinds(), ids=lambda k: k.name)
def test_every_kind_documents_itself_and_each_argument(kind):
    assert kind.doc.strip(), f"{kind.name} has no docstring"
    missing = [f.alias or name for name, f in kind.args.model_fields.items() if not f.description]
    assert not missing, f"{kind.name}: arguments without a description: {missing}"


def test_the_list_gives_each_kind_a_summary_line():
    lines = run("kinds", "--no-blocks").splitlines()
    for kind in unique_kinds():
        at = next(i for i, line in enumerate(lines) if line.split()[0] == kind.name)
        summary = lines[at + 1]
        assert summary.startswith(" ") and summary.strip(), kind.name
    # defaults as a spec writes them, not as Python prints them
    conv = next(line for line in lines if line.startswith("conv "))
    assert "bias=true" in conv and "padding_mode=zeros" in conv
    # a citation's "et al." does not end the summary sentence
    out = run("kinds")
    residual = out.splitlines()[out.splitlines().index(
        next(line for line in out.splitlines() if line.startswith("residual "))) + 1]
    assert "He et al. 2015" in residual


def test_one_kind_in_full_shows_rules_and_arguments():
    out = run("kinds", "conv")
    assert out.startswith("conv: kind")
    assert "Shape: [C, *S] -> [out, *S']" in out
    assert "kernel" in out and "required; kernel size" in out
    assert "default zeros; what the padding holds" in out
    assert max(map(len, out.splitlines())) <= 99


def test_an_alias_and_a_block_by_name():
    assert run("kinds", "swish").startswith("silu (also swish): kind")
    out = run("kinds", "vgg_block")
    assert out.startswith("vgg_block: block") and "parameters:" in out and "convs" in out


def test_an_unknown_name_is_misuse_with_a_suggestion():
    out = run("kinds", "convv", code=2)
    assert "no layer kind or built-in block is called 'convv'" in out
    assert "did you mean `conv`?" in out


def test_json_lists_every_kind_and_block_once():
    entries = json.loads(run("kinds", "--json"))
    names = [e["name"] for e in entries]
    assert len(names) == len(set(names))
    assert {k.name for k in unique_kinds()} | set(builtin_blocks()) == set(names)
    conv = next(e for e in entries if e["name"] == "conv")
    stride = next(a for a in conv["args"] if a["name"] == "stride")
    assert stride == {"name": "stride", "required": False, "default": 1,
                      "description": "step of the kernel"}


def test_kinds_never_imports_torch():
    code = ("import sys; from click.testing import CliRunner; from netspec.cli.main import main; "
            "r = CliRunner().invoke(main, ['kinds', 'conv', '--json']); assert r.exit_code == 0; "
            "print('torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
