"""Drawing's layout: the expanded graph of `check` as boxes, clusters and edges (DESIGN §7).

No graphviz and no torch here; `netspec.draw` turns a `Diagram` into graphviz.

- one box per layer (a `Row` each); a layer that keeps its input's shape and decorates the
  layer above (norm, activation, dropout: conv → batchnorm → relu) joins that layer's box;
- a repeated entry is folded into its first copy and marked `×N` (`expand=True` keeps every
  copy); with `depth`, blocks nested deeper than `depth` fold into one box each, which keeps
  the block's skip and its "/k" (`netspec.drawing.folded`);
- a long network wraps into columns (`netspec.drawing.columns`).
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field

from netspec.drawing.folded import Skip, scale_of, skip_of
from netspec.graph.ir import Graph, Group, Node
from netspec.kinds import Shape, kinds

ACCENT = "#c0392b"           # the ×N of a folded repeat
STACKED = {"norm", "activation", "regularization"}   # families that join the box above
QUIET_ARGS = {"bias", "eps", "momentum", "track_running_stats", "count_include_pad", "affine",
              "init"}                                # tuning details a diagram leaves out
SHORT_ARGS = {"padding": "pad", "output_padding": "out pad"}
# boxes on the longest path a diagram holds before it wraps, and then about how deep a column
# (a row, left to right, where boxes are wider than tall) is: the page stays near 4:3
WRAP = {"TB": (24, 14), "LR": (12, 8)}
OUT = "\x00out:"             # edge heads that are the network's outputs


@dataclass
class Row:
    """One layer inside a box (or a whole block folded by `depth`)."""

    name: str
    text: str              # kind and key arguments, HTML
    family: str
    params: int
    shape: Shape           # its output shape


@dataclass
class Box:
    """A drawn node: a layer, layers stacked on it, or a folded block."""

    key: str
    clusters: tuple[Group, ...]           # enclosing clusters, outermost first
    folded: Group | None = None           # the block folded into this box (`depth`)
    rows: list[Row] = field(default_factory=list)
    first: tuple[int, ...] | None = None  # copy coordinates of the members drawn
    copies: set = field(default_factory=set)
    expected: int = 1                     # copies a folded repeat holds
    repeat: int = 1                       # ×N on the box itself (a repeated single layer)
    shown: str | None = None              # the name drawn, when not its first row's
    members: list[str] = field(default_factory=list)   # a folded block's nodes (first copy)
    skip: Skip | None = None              # a folded block's bypass
    scale: int | None = None              # a folded block's spatial /k


@dataclass(frozen=True)
class Unit:
    """Where one graph node is drawn: its box's key, the clusters around it, which copy of
    each folded repeat it comes from."""

    key: str
    clusters: tuple[Group, ...]
    folded: Group | None
    coords: tuple[tuple[str, int], ...]   # (folded repeat group, copy index)


@dataclass
class Diagram:
    """Boxes in execution order and edges (tail key, head key) -> the shape carried."""

    graph: Graph
    boxes: dict[str, Box]
    edges: dict[tuple[str, str], Shape]
    group_params: dict[str, int]
    box_of: dict[str, str] = field(default_factory=dict)    # graph node -> its box's key


# ---- from the graph to boxes and edges -----------------------------------------------------

def layout(graph: Graph, depth: int | None = None, expand: bool = False) -> Diagram:
    """Boxes, clusters and edges of the diagram of `graph` (no graphviz involved)."""
    units = {n.name: _unit(n, depth, expand) for n in graph}
    boxes: dict[str, Box] = {}
    for node in graph:
        u = units[node.name]
        box = boxes.get(u.key)
        if box is None:
            expected = math.prod(g.repeat for g in u.clusters if folds(g, expand))
            box = boxes[u.key] = Box(u.key, u.clusters, u.folded, expected=expected)
        coords = tuple(c for _, c in u.coords)
        box.copies.add(coords)
        if box.first is None:
            box.first = coords
        if coords == box.first:         # later copies of a folded repeat are drawn by the first
            _add_member(box, node)
    edges: dict[tuple[str, str], Shape] = {}
    for node in graph:
        head = units[node.name]
        for src in node.inputs:
            tail = units.get(src)
            if tail is not None and (tail.key == head.key or _crosses_copies(tail, head)):
                continue
            edges.setdefault((tail.key if tail else src, head.key), graph.shape_of(src))
    for out, name in graph.outputs.items():
        edges[(units[name].key, OUT + out)] = graph.nodes[name].shape
    for box in boxes.values():
        if box.folded is not None:
            _mark_folded(box, graph)
    diagram = Diagram(graph, boxes, edges, _group_params(graph))
    _mark_single_repeats(diagram, expand)
    joined = _stack(diagram)
    for name, u in units.items():
        key = u.key
        while key in joined:
            key = joined[key]
        diagram.box_of[name] = key
    return diagram


def _unit(node: Node, depth: int | None, expand: bool) -> Unit:
    groups, folded = node.groups, None
    if depth is not None and len(groups) > depth:
        groups, folded = groups[:depth], groups[depth]
    parts = (folded.name if folded else node.name).split(".")
    clusters: list[Group] = []
    coords = []
    for g in groups:
        n = g.name.count(".") + 1          # a group's name is a prefix of its members' names
        name = ".".join(parts[:n])
        if clusters and folds(clusters[-1], expand) and name == clusters[-1].name + ".0":
            continue                       # a copy's own block: the repeat's cluster says it
        clusters.append(Group(name, g.label, g.repeat))
        if folds(g, expand):
            coords.append((name, int(parts[n])))
            parts[n] = "0"
    if folded is not None:
        folded = Group(".".join(parts), folded.label, folded.repeat)
    return Unit(".".join(parts), tuple(clusters), folded, tuple(coords))


def folds(group: Group, expand: bool) -> bool:
    return group.repeat > 1 and not expand


def _crosses_copies(a: Unit, b: Unit) -> bool:
    """An edge from one copy of a folded repeat to the next: folding hides it."""
    copy_of = dict(a.coords)
    return any(g in copy_of and copy_of[g] != c for g, c in b.coords)


def _mark_folded(box: Box, graph: Graph) -> None:
    box.skip = skip_of(graph, box.members)
    first = graph.nodes[box.members[0]]
    if first.in_shapes:
        box.scale = scale_of(first.in_shapes[0], box.rows[0].shape)


def _add_member(box: Box, node: Node) -> None:
    box.members.append(node.name)
    if box.folded is None:
        kind = kinds()[node.kind]
        box.rows.append(Row(node.name, _layer_text(node), kind.family, node.params,
                            node.shape))
    elif not box.rows:
        box.rows.append(Row(box.key, f"<b>{group_title(box.folded, True)}</b>", "block",
                            node.params, node.shape))
    else:
        box.rows[0].params += node.params
        box.rows[0].shape = node.shape


def group_title(g: Group, accent: bool, size: int = 11) -> str:
    """A group's label ('bottleneck ×3'), the ×N in the accent colour when `accent`; a
    `repeat: 1` says nothing a reader needs, so its ×1 is left out."""
    label, marker = g.label, f" ×{g.repeat}"
    if g.repeat == 1 and label.endswith(marker):
        label = label[:-len(marker)]
    if g.repeat > 1 and accent and label.endswith(marker):
        return (f'{html.escape(label[:-len(marker)])} <font color="{ACCENT}" '
                f'point-size="{size}"><b>×{g.repeat}</b></font>')
    return html.escape(label)


def _group_params(graph: Graph) -> dict[str, int]:
    out: dict[str, int] = {}
    for node in graph:
        for g in node.groups:
            out[g.name] = out.get(g.name, 0) + node.params
    return out


def _mark_single_repeats(diagram: Diagram, expand: bool) -> None:
    """A folded repeat whose cluster would hold one box: drop the cluster, mark the box ×N."""
    inside: dict[str, int] = {}
    for box in diagram.boxes.values():
        for g in box.clusters:
            inside[g.name] = inside.get(g.name, 0) + 1
    for box in diagram.boxes.values():
        if box.clusters and folds(box.clusters[-1], expand) and \
                inside[box.clusters[-1].name] == 1:
            box.repeat = box.clusters[-1].repeat
            box.shown = box.clusters[-1].name
            box.clusters = box.clusters[:-1]


def _stack(diagram: Diagram) -> dict[str, str]:
    """Join each norm/activation/dropout box to the box above when it is that box's only
    consumer and keeps its shape: one box per conv → batchnorm → relu. Returns the key of
    each box joined -> the key of the box it joined."""
    boxes, edges = diagram.boxes, diagram.edges
    joined: dict[str, str] = {}
    ins: dict[str, list[str]] = {k: [] for k in boxes}
    outs: dict[str, list[str]] = {k: [] for k in boxes}
    for tail, head in edges:
        if head in ins:
            ins[head].append(tail)
        if tail in outs:
            outs[tail].append(head)
    for key in list(boxes):
        box = boxes[key]
        if len(ins[key]) != 1 or not _stackable(box):
            continue
        above = boxes.get(ins[key][0])
        if above is None or len(outs[above.key]) != 1 or not _same_place(above, box) \
                or edges[(above.key, key)] != box.rows[0].shape:
            continue
        above.rows += box.rows
        del edges[(above.key, key)], boxes[key]
        joined[key] = above.key
        outs[above.key] = outs.pop(key)
        for head in outs[above.key]:
            edges[(above.key, head)] = edges.pop((key, head))
            if head in ins:
                ins[head] = [above.key if t == key else t for t in ins[head]]
    return joined


def _stackable(box: Box) -> bool:
    return box.folded is None and len(box.rows) == 1 and box.rows[0].family in STACKED


def _same_place(above: Box, box: Box) -> bool:
    return (above.folded is None and above.clusters == box.clusters and above.repeat == 1
            and box.repeat == 1 and len(above.copies) == len(box.copies))


def _layer_text(node: Node) -> str:
    """'<b>conv</b> 3×3, 64, stride 2': the kind, its kernel and main argument first, then the
    arguments not at their default (tuning details left out)."""
    kind = kinds()[node.kind]
    spatial = max(len(node.in_shapes[0]) - 1, 1) if node.in_shapes else 1
    first, rest = [], []
    for name, f in type(node.args).model_fields.items():
        key, value = f.alias or name, getattr(node.args, name)
        if key in QUIET_ARGS or (not f.is_required() and value == f.default):
            continue
        if key == "kernel" or (key == "size" and kind.family == "pool"):
            first.insert(0, _value(value, spatial))
        elif key == kind.main:
            first.append(_value(value, 1))
        elif isinstance(value, bool):
            rest.append(key if value else f"no {key}")
        else:
            rest.append(f"{SHORT_ARGS.get(key, key)} {_value(value, 1)}")
    args = ", ".join(first + rest)
    return f"<b>{html.escape(node.kind)}</b>" + (f" {html.escape(args)}" if args else "")


def _value(value, spatial: int) -> str:
    if isinstance(value, (tuple, list)):
        return "×".join(str(v) for v in value)
    if isinstance(value, int) and spatial > 1:
        return "×".join([str(value)] * spatial)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


__all__ = ["layout", "Diagram", "Box", "Row", "Unit", "folds", "group_title", "ACCENT", "WRAP",
           "OUT"]
