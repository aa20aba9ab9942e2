"""`netspec draw`'s marks: what a folded block keeps (its skip, its /2), columns that wrap at
lettered connectors and may split a block, no ×1 titles, and a shape error drawn down to the
failing layer in red (fail-soft)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.drawing.columns import wrap_cuts
from netspec.drawing.failure import FAILED, short_error
from netspec.drawing.folded import scale_of
from netspec.drawing.layout import WRAP, layout
from netspec.drawing.render import draw, draw_checked
from netspec.errors import SpecError

from dot_source import dot_of, parse_dot, text

ZOO = Path(__file__).resolve().parent.parent / "specs"


# ---- columns ---------------------------------------------------------------------------------

def test_a_deep_network_wraps_into_columns_at_lettered_connectors(tmp_path):
    deep = "input: [16]\nlayers:\n" + "  - linear: 16\n  - tanh\n  - dropout: 0.1\n" * 60
    dot = dot_of(tmp_path, deep)
    connectors = sorted(n for n in dot.nodes if n.startswith("wrap/"))
    assert connectors[:4] == ["wrap/A/from", "wrap/A/to", "wrap/B/from", "wrap/B/to"]
    assert all(dot.nodes[n] == n.split("/")[1] for n in connectors)      # labelled "A", "B"
    # the column ends in A; the next starts from its twin; nothing dashed runs across
    assert [h for t, h in dot.edges if h.startswith("wrap/A")] == ["wrap/A/from", "wrap/A/to"]
    assert dot.edges[("wrap/A/from", "wrap/A/to")]["style"] == "invis"
    assert any(t == "wrap/A/to" and h.startswith("layer/") for t, h in dot.edges)
    assert not any(a.get("style") == "dashed" for a in dot.edges.values())
    assert not any(n.startswith("wrap/") for n in dot_of(tmp_path, deep, columns=1).nodes)
    assert not any(n.startswith("wrap/") for n in dot_of(tmp_path).nodes)


# one top-level block holding nearly everything, then a short head: DenseNet's shape
ONE_BIG_BLOCK = ("input: [16]\nblocks:\n  body:\n    params: {}\n    layers:\n"
                 + "      - linear: 16\n      - tanh\n" * 50
                 + "layers:\n  - body: {}\n    id: features\n  - relu\n  - linear: 10\n"
                 "    id: classifier\n")


def test_a_wrap_may_split_a_block_so_the_head_ends_the_last_column(tmp_path):
    dot = dot_of(tmp_path, ONE_BIG_BLOCK)
    parts = [c for c in dot.clusters if c.split("~")[0] == "features"]
    assert len(parts) >= 3 and parts[0] == "features"
    assert all("(continued)" in text(dot.clusters[c]["label"]) for c in parts[1:])
    assert "(continued)" not in text(dot.clusters["features"]["label"])
    # the last column, from the last connector down, holds the block's end and then the head
    column, todo = set(), [max(n for n in dot.nodes if n.endswith("/to"))]
    while todo:
        node = todo.pop()
        column.add(node)
        todo += [h for t, h in dot.edges if t == node and h not in column]
    assert "layer/classifier" in column
    assert len([n for n in column if n.startswith("layer/features.")]) >= 5


def test_densenet121s_classifier_no_longer_lands_beside_its_input():
    graph = netspec.check(ZOO / "densenet121_tv.yaml").graph
    diagram = layout(graph)
    cuts = wrap_cuts(diagram, None, *WRAP["TB"])
    boxes = list(diagram.boxes)
    after_last = len(boxes) - 1 - boxes.index(cuts[-1].tail)
    assert len(cuts) >= 2 and after_last >= 8, (len(cuts), after_last)


def test_no_times_one_titles(tmp_path):
    spec = ("input: [3, 8, 8]\nblocks:\n  unit:\n    params: {}\n    layers:\n"
            "      - conv: {out: 4, kernel: 3, padding: 1}\n      - relu\n"
            "layers:\n  - unit: {}\n    id: a\n    repeat: 1\n  - flatten\n")
    for depth in (None, 0, 1):
        source = draw(spec, tmp_path / "one.dot", depth=depth).read_text()
        assert "×1" not in source and "unit" in source


# ---- what a folded block keeps: its skip and its /2 ------------------------------------------

def test_a_folded_residual_block_keeps_its_skip_arrow(tmp_path):
    dot = dot_of(tmp_path, depth=1)
    skip = dot.edges[("layer/stem", "layer/stage.0:skip")]
    assert skip["style"] == "bold" and ("layer/stem", "layer/stage.0") in dot.edges
    assert "+ skip → add" in text(dot.nodes["layer/stage.0"])
    # the parallel is no residual: two branches of one and two layers
    assert not any(h.endswith(":skip") for _, h in dot_of(tmp_path, depth=0).edges
                   if h.startswith("layer/mix"))


def test_resnet18_at_depth_1_has_a_skip_per_block_and_marks_downsampling(tmp_path):
    dot = dot_of(tmp_path, (ZOO / "resnet18_tv.yaml").read_text(), depth=1)
    blocks = [f"layer/layer{s}.{b}" for s in range(1, 5) for b in range(2)]
    skips = {h.removesuffix(":skip") for _, h in dot.edges if h.endswith(":skip")}
    assert skips == set(blocks)
    for name in blocks:
        label = text(dot.nodes[name])
        downsamples = name in ("layer/layer2.0", "layer/layer3.0", "layer/layer4.0")
        assert ("/2" in label) == downsamples, label
        assert ("via conv, batchnorm" in label) == downsamples, label     # the projection
    assert ("layer/maxpool", "layer/layer1.0:skip") in dot.edges
    assert ("layer/layer1.1", "layer/layer2.0:skip") in dot.edges


@pytest.mark.parametrize("before, after, k", [
    ((64, 56, 56), (128, 28, 28), 2), ((3, 7, 7), (8, 4, 4), 2), ((3, 7, 7), (8, 3, 3), 2),
    ((8, 32), (8, 8), 4), ((8, 8, 8), (8, 8, 8), None), ((8, 8, 8), (8, 16, 16), None),
    ((8, 9, 9), (8, 5, 3), None), ((512,), (10,), None), ((4, "seq"), (4, "seq"), None),
])
def test_scale_of_a_block(before, after, k):
    assert scale_of(before, after) == k


def test_a_pre_norm_transformer_block_chains_two_skips(tmp_path):
    spec = textwrap.dedent("""\
    input: [10, 16]
    blocks:
      unit:
        params: {}
        layers:
          - layernorm
          - linear: 16
            id: f
          - add: {}
            from: [input, f]
            id: r1
          - layernorm
          - linear: 32
          - gelu
          - linear: 16
            id: g
          - add: {}
            from: [r1, g]
    layers:
      - unit: {}
        id: block
      - linear: 4
    """)
    dot = dot_of(tmp_path, spec, depth=0)
    assert ("input/input", "layer/block:skip") in dot.edges
    assert "+ 2 skips → add" in text(dot.nodes["layer/block"])


# ---- fail-soft: drawn down to the failing layer ----------------------------------------------

BAD = "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n  - relu\n  - maxpool: 8\n" \
      "    id: pool\n  - flatten\n"


def test_a_shape_error_is_drawn_down_to_the_failing_layer_in_red(tmp_path):
    path, report = draw_checked(BAD, tmp_path / "bad.dot")
    assert report.failure.name == "pool"
    dot = parse_dot(path.read_text())
    assert "maxpool" in text(dot.nodes["failed/pool"]) and "layer/0" in dot.nodes
    assert "layer/3" not in dot.nodes                     # nothing after the failure
    edge = dot.edges[("layer/0", "failed/pool")]          # conv → relu box feeds the pool
    assert edge["color"] == FAILED and edge["fontcolor"] == FAILED
    assert text(edge["label"]).startswith("maxpool 'pool' gets a 6x6 feature map")
    assert "shape error at pool" in text(dot.graph["label"])
    with pytest.raises(SpecError, match="maxpool 'pool' gets a 6x6"):
        draw(BAD, tmp_path / "again.dot")
    assert (tmp_path / "again.dot").exists()


def test_short_error_wraps_and_cuts_a_long_message():
    err = SpecError("word " * 100)
    lines = short_error(err).splitlines()
    assert len(lines) == 4 and lines[-1].endswith("…") and all(len(x) <= 38 for x in lines)


def test_draw_of_a_shape_error_writes_the_file_prints_the_error_and_exits_1(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD)
    out = tmp_path / "bad.dot"
    check = CliRunner().invoke(main, ["check", str(spec)])
    drawn = CliRunner().invoke(main, ["draw", str(spec), "-o", str(out)])
    assert check.exit_code == drawn.exit_code == 1, drawn.output
    assert f"{spec}:5:5: error: maxpool 'pool' gets a 6x6 feature map" in drawn.stderr
    assert drawn.stderr == check.stderr and "Traceback" not in drawn.output
    assert f"wrote {out}, down to the layer that failed: pool" in drawn.stdout
    assert "failed/pool" in parse_dot(out.read_text()).nodes
