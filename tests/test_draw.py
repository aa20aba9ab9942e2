"""`netspec draw`: the DOT it writes (parsed, not compared whole), rendering with and without
Graphviz's `dot`, the CLI, and the promise that drawing never imports torch."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.drawing.render import GraphvizMissing, draw
from netspec.errors import SetupError, SpecError

from dot_source import SMALL, dot_of, parse_dot, shape_of, text

HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` program is not installed "
                                                   "(apt-get install graphviz)")

# every copy halves the size: the edge out of a folded repeat carries the last copy's shape
SHRINKING = """\
name: shrink
input: [4, 32, 32]
blocks:
  down:
    params: {}
    layers:
      - conv: {out: 4, kernel: 3, stride: 2, padding: 1}
      - relu
layers:
  - down: {}
    id: d
    repeat: 3
  - flatten
"""


# ---- what the diagram shows ----------------------------------------------------------------

def test_repeat_folds_into_its_first_copy_marked_times_n(tmp_path):
    dot = dot_of(tmp_path)
    layers = [n for n in dot.nodes if n.startswith("layer/stage.")]
    assert layers == ["layer/stage.0.c1", "layer/stage.0.c2", "layer/stage.0.4"]
    stage = dot.clusters["stage"]
    assert "×3" in text(stage["label"]) and "res" in text(stage["label"])
    assert stage["nodes"] == layers          # the copy's own block cluster merged into it
    assert stage["parent"] is None
    # copy 0 reads the stem; the hidden copies' chain edges are gone, no edge goes backwards
    assert ("layer/stem", "layer/stage.0.c1") in dot.edges
    assert ("layer/stem", "layer/stage.0.4") in dot.edges     # the shortcut into add
    assert ("layer/stage.0.4", "layer/stage.0.c1") not in dot.edges


def test_expand_draws_every_copy(tmp_path):
    dot = dot_of(tmp_path, expand=True)
    for k in range(3):
        assert f"layer/stage.{k}.c1" in dot.nodes
        assert dot.clusters[f"stage.{k}"]["parent"] == "stage"
    assert ("layer/stage.0.4", "layer/stage.1.c1") in dot.edges
    assert ("layer/stage.1.4", "layer/stage.2.4") in dot.edges     # shortcut of copy 2
    assert "layer/fc.0" in dot.nodes and "layer/fc.1" in dot.nodes


def test_a_repeated_single_layer_is_one_box_marked_times_n(tmp_path):
    dot = dot_of(tmp_path)
    assert "layer/fc.0" in dot.nodes and "layer/fc.1" not in dot.nodes
    assert "×2" in text(dot.nodes["layer/fc.0"])
    assert "fc" not in dot.clusters


def test_parallel_is_a_cluster_and_its_merge_takes_both_branches(tmp_path):
    dot = dot_of(tmp_path)
    mix = dot.clusters["mix"]
    assert "parallel (concat)" in text(mix["label"])
    assert set(mix["nodes"]) == {"layer/mix.0.0", "layer/mix.1.0", "layer/mix.merge"}
    into_merge = {t for (t, h) in dot.edges if h == "layer/mix.merge"}
    assert into_merge == {"layer/mix.0.0", "layer/mix.1.0"}
    assert "concat" in text(dot.nodes["layer/mix.merge"])
    assert "#f0965a" in dot.nodes["layer/mix.merge"]          # the merge colour


def test_norm_and_activation_join_the_box_above(tmp_path):
    dot = dot_of(tmp_path)
    stacked = text(dot.nodes["layer/stage.0.c1"])
    assert re.search(r"conv 3×3, 8, pad 1 batchnorm relu", stacked), stacked
    assert "layer/stage.0.1" not in dot.nodes and "layer/stage.0.2" not in dot.nodes
    assert "layer/mix.0.1" not in dot.nodes                   # relu joined its branch's conv


def test_every_edge_carries_its_shape(tmp_path):
    dot = dot_of(tmp_path)
    shapes = {edge: shape_of(attrs) for edge, attrs in dot.edges.items()}
    assert all(re.fullmatch(r"\[[\d, ]+\]", s) for s in shapes.values()), shapes
    assert shapes[("input/input", "layer/stem")] == "[3, 16, 16]"
    assert shapes[("layer/mix.0.0", "layer/mix.merge")] == "[4, 16, 16]"
    assert shapes[("layer/mix.merge", "layer/4")] == "[8, 16, 16]"
    assert shapes[("layer/7", "output/output")] == "[10]"
    assert not any(shape_of(a) for a in dot_of(tmp_path, shapes=False).edges.values())


def test_the_edge_out_of_a_folded_repeat_carries_the_last_copys_shape(tmp_path):
    dot = dot_of(tmp_path, SHRINKING)
    assert [n for n in dot.nodes if n.startswith("layer/d.")] == ["layer/d.0.0"]
    assert shape_of(dot.edges[("layer/d.0.0", "layer/1")]) == "[4, 4, 4]"


def test_nodes_show_kind_key_arguments_and_params(tmp_path):
    dot = dot_of(tmp_path)
    assert text(dot.nodes["layer/stem"]).startswith("conv 3×3, 8, pad 1 relu stem 224")
    assert text(dot.nodes["layer/4"]) == "maxpool 2×2 4"
    assert "input [3, 16, 16]" in text(dot.nodes["input/input"])
    assert "output [10]" in text(dot.nodes["output/output"])


def test_the_title_gives_the_totals(tmp_path):
    report = netspec.check(SMALL)
    title = text(dot_of(tmp_path).graph["label"])
    assert title.startswith("small")
    assert f"{len(report.graph.nodes)} layers" in title and "params" in title and "MACs" in title


@pytest.mark.parametrize("depth, boxes", [
    (0, ["layer/stem", "layer/stage", "layer/mix", "layer/4", "layer/5", "layer/fc",
         "layer/7"]),
    (1, ["layer/stem", "layer/stage.0", "layer/mix.0.0", "layer/mix.1.0", "layer/mix.merge",
         "layer/4", "layer/5", "layer/fc.0", "layer/7"]),
])
def test_depth_folds_blocks_like_check(tmp_path, depth, boxes):
    dot = dot_of(tmp_path, depth=depth)
    assert [n for n in dot.nodes if n.startswith("layer/")] == boxes
    if depth == 0:
        rows = {r.name: r for r in netspec.check(SMALL).rows(0)}
        folded = text(dot.nodes["layer/stage"])
        assert "res ×3" in folded and f"{rows['stage'].params / 1000:.2f} K" in folded


def test_a_copy_that_differs_is_noted(tmp_path):
    spec = """\
    input: [8, 8, 8]
    layers:
      - residual: {out: 16}
        repeat: 3
        id: stage
    """
    dot = dot_of(tmp_path, textwrap.dedent(spec))
    shortcut = [n for n in dot.nodes if "downsample" in n]
    assert shortcut and all("in 1 of 3 copies" in text(dot.nodes[n]) for n in shortcut)


def test_rankdir_lr(tmp_path):
    assert dot_of(tmp_path, rankdir="LR").graph["rankdir"] == "LR"
    with pytest.raises(ValueError, match="rankdir must be one of TB, LR"):
        dot_of(tmp_path, rankdir="BT")


# ---- files, errors, the CLI ------------------------------------------------------------------

@needs_dot
@pytest.mark.parametrize("suffix, magic", [(".svg", b"<svg"), (".png", b"\x89PNG"),
                                           (".pdf", b"%PDF")])
def test_renders_with_dot(tmp_path, suffix, magic):
    path = draw(SMALL, tmp_path / f"net{suffix}")
    assert magic in path.read_bytes()[:400]


def test_without_dot_the_dot_file_is_still_written(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))       # no `dot` anywhere
    assert draw(SMALL, tmp_path / "a.dot").read_text().startswith("digraph small {")
    with pytest.raises(GraphvizMissing, match=r"needs Graphviz's `dot` program") as info:
        draw(SMALL, tmp_path / "b.svg")
    # a missing program is the machine's, not the spec's: a SetupError, exit 1 all the same
    assert isinstance(info.value, SetupError) and not isinstance(info.value, SpecError)
    assert "apt-get install graphviz" in info.value.first.hint
    assert (tmp_path / "b.dot").read_text().startswith("digraph small {")
    assert not (tmp_path / "b.svg").exists()

    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    res = CliRunner().invoke(main, ["draw", str(spec), "-o", str(tmp_path / "c.png")])
    assert res.exit_code == 1, res.output
    assert "needs Graphviz's `dot` program" in res.stderr and "install Graphviz" in res.stderr
    assert "Traceback" not in res.output


def test_cli_writes_the_file(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "deep" / "net.dot"
    res = CliRunner().invoke(main, ["draw", str(spec), "-o", str(out), "--depth", "1",
                                    "--rankdir", "lr", "--no-shapes", "--expand"])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}" in res.stdout
    dot = parse_dot(out.read_text())
    assert dot.graph["rankdir"] == "LR" and "layer/stage.2" in dot.nodes


@pytest.mark.parametrize("args, message", [
    (["-o", "x.jpg"], "the suffix picks the format"),
    ([], "Missing option '-o'"),
    (["-o", "x.svg", "--rankdir", "BT"], "'BT' is not one of"),
    (["-o", "x.svg", "--depth", "-1"], "-1 is not in the range"),
])
def test_cli_misuse_is_exit_2(tmp_path, args, message):
    spec = tmp_path / "s.yaml"
    spec.write_text(SMALL)
    res = CliRunner().invoke(main, ["draw", str(spec), *args])
    assert res.exit_code == 2 and message in res.stderr, res.output


def test_help_has_examples():
    res = CliRunner().invoke(main, ["draw", "--help"])
    assert res.exit_code == 0
    assert "netspec draw specs/lenet5.yaml -o lenet5.svg" in res.output
    for flag in ("--depth", "--expand", "--rankdir", "--no-shapes", "-o, --output"):
        assert flag in res.output


def test_a_spec_error_is_the_same_located_error_as_check(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3, strid: 2}\n")
    check = CliRunner().invoke(main, ["check", str(spec)])
    drawn = CliRunner().invoke(main, ["draw", str(spec), "-o", str(tmp_path / "bad.dot")])
    assert check.exit_code == drawn.exit_code == 1
    assert drawn.stderr == check.stderr and f"{spec}:3:" in drawn.stderr
    assert not (tmp_path / "bad.dot").exists()      # not a shape error: nothing to draw
    with pytest.raises(SpecError) as info:
        draw(spec, tmp_path / "bad.dot")
    assert str(info.value) in check.stderr


def test_drawing_never_imports_torch_and_netspec_draw_stays_callable(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import netspec, netspec.drawing.render
        netspec.draw({SMALL!r}, {str(tmp_path / 'x.dot')!r}, depth=1)
        from netspec.drawing.render import draw
        draw({SMALL!r}, {str(tmp_path / 'y.dot')!r})
        assert "torch" not in sys.modules, "drawing imported torch"
    """)
    subprocess.run([sys.executable, "-c", code], check=True)
    assert (tmp_path / "x.dot").exists() and (tmp_path / "y.dot").exists()
