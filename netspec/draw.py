"""Drawing: the shape-annotated graph as a graphviz diagram (DESIGN §7). Never imports torch.

What a diagram shows, from the expanded graph of `check`:

- one box per layer: its name, kind, key arguments (those not at their default) and params,
  filled by the layer's family; a layer that keeps its input's shape and decorates the layer
  above (norm, activation, dropout: conv → batchnorm → relu) joins that layer's box as a row;
- blocks, repeats and parallels as labelled clusters; a repeated entry is folded into its first
  copy and marked `×N` (`expand=True` draws every copy); with `depth`, blocks nested deeper
  than `depth` fold into one box each, as `check --depth` folds its table;
- the shape each edge carries, the input(s) and outputs as dark boxes, and a title with totals.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ._callable import callable_module
from .check import Report, check, human
from .errors import SpecError
from .graph import Graph, Group, Node
from .layers import Shape, fmt_shape, kinds
from .spec import as_spec

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf", "dot")
RANKDIRS = ("TB", "LR")

FAMILY_COLOURS = {            # fills by layer family; merges in a strong colour to stand out
    "conv": "#aed6f1", "pool": "#a9dfbf", "norm": "#f9e79f", "activation": "#fad7a0",
    "linear": "#d7bde2", "recurrent": "#f5b7b1", "merge": "#f0965a", "shape": "#d5dbdb",
    "regularization": "#eaeded", "other": "#ffffff", "block": "#d6eaf8",
}
STACKED = {"norm", "activation", "regularization"}   # families that join the box above
QUIET_ARGS = {"bias", "eps", "momentum", "track_running_stats", "count_include_pad", "affine",
              "init"}                                # tuning details a diagram leaves out
SHORT_ARGS = {"padding": "pad", "output_padding": "out pad"}
INK, PALE, ACCENT = "#2c3e50", "#7f8c8d", "#c0392b"
# boxes on the longest path a diagram holds before it wraps, and then about how deep a column
# (a row, left to right, where boxes are wider than tall) is: the page stays near 4:3
WRAP = {"TB": (24, 14), "LR": (12, 8)}
_OUT = "\x00out:"            # edge heads that are the network's outputs


class GraphvizMissing(SpecError):
    """The `dot` program is needed for this format and is not installed. Exit status 1."""


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


# ---- from the graph to boxes and edges -----------------------------------------------------

def layout(graph: Graph, depth: int | None = None, expand: bool = False) -> Diagram:
    """Boxes, clusters and edges of the diagram of `graph` (no graphviz involved)."""
    units = {n.name: _unit(n, depth, expand) for n in graph}
    boxes: dict[str, Box] = {}
    for node in graph:
        u = units[node.name]
        box = boxes.get(u.key)
        if box is None:
            expected = math.prod(g.repeat for g in u.clusters if _folds(g, expand))
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
        edges[(units[name].key, _OUT + out)] = graph.nodes[name].shape
    diagram = Diagram(graph, boxes, edges, _group_params(graph))
    _mark_single_repeats(diagram, expand)
    _stack(diagram)
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
        if clusters and _folds(clusters[-1], expand) and name == clusters[-1].name + ".0":
            continue                       # a copy's own block: the repeat's cluster says it
        clusters.append(Group(name, g.label, g.repeat))
        if _folds(g, expand):
            coords.append((name, int(parts[n])))
            parts[n] = "0"
    if folded is not None:
        folded = Group(".".join(parts), folded.label, folded.repeat)
    return Unit(".".join(parts), tuple(clusters), folded, tuple(coords))


def _folds(group: Group, expand: bool) -> bool:
    return group.repeat > 1 and not expand


def _crosses_copies(a: Unit, b: Unit) -> bool:
    """An edge from one copy of a folded repeat to the next: folding hides it."""
    copy_of = dict(a.coords)
    return any(g in copy_of and copy_of[g] != c for g, c in b.coords)


def _add_member(box: Box, node: Node) -> None:
    if box.folded is None:
        kind = kinds()[node.kind]
        box.rows.append(Row(node.name, _layer_text(node), kind.family, node.params,
                            node.shape))
    elif not box.rows:
        box.rows.append(Row(box.key, f"<b>{_group_title(box.folded, True)}</b>", "block",
                            node.params, node.shape))
    else:
        box.rows[0].params += node.params
        box.rows[0].shape = node.shape


def _group_title(g: Group, accent: bool, size: int = 11) -> str:
    """A group's label ('bottleneck ×3'), the ×N in the accent colour when `accent`."""
    label, marker = g.label, f" ×{g.repeat}"
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
        if box.clusters and _folds(box.clusters[-1], expand) and \
                inside[box.clusters[-1].name] == 1:
            box.repeat = box.clusters[-1].repeat
            box.shown = box.clusters[-1].name
            box.clusters = box.clusters[:-1]


def _stack(diagram: Diagram) -> None:
    """Join each norm/activation/dropout box to the box above when it is that box's only
    consumer and keeps its shape: one box per conv → batchnorm → relu."""
    boxes, edges = diagram.boxes, diagram.edges
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
        outs[above.key] = outs.pop(key)
        for head in outs[above.key]:
            edges[(above.key, head)] = edges.pop((key, head))
            if head in ins:
                ins[head] = [above.key if t == key else t for t in ins[head]]


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


# ---- from boxes to graphviz ------------------------------------------------------------------

def to_graphviz(report: Report, *, depth: int | None = None, expand: bool = False,
                rankdir: str = "TB", shapes: bool = True,
                columns: int | None = None) -> "graphviz.Digraph":
    """The diagram of a checked spec as a `graphviz.Digraph` (its `.source` is the DOT).

    A long network is wrapped into `columns` side by side (rows with "LR") at top-level
    points where one layer feeds all that follows; None: by the depth in boxes (WRAP).
    """
    import graphviz

    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    diagram = layout(report.graph, depth, expand)
    graph, font = report.graph, "Helvetica"
    dot = graphviz.Digraph(
        report.name,
        graph_attr={"rankdir": rankdir, "fontname": font, "labelloc": "t", "newrank": "true",
                    "nodesep": "0.2", "ranksep": "0.3", "pad": "0.3",
                    "label": _title(report, diagram, expand)},
        node_attr={"shape": "plain", "fontname": font, "fontsize": "11", "fontcolor": INK},
        edge_attr={"fontname": font, "fontsize": "9", "fontcolor": PALE, "color": "#566573",
                   "arrowsize": "0.6"})
    for name, inp in graph.inputs.items():
        dot.node(_node_id(name, graph), _terminal(name, inp.shape))
    _emit(dot, _cluster_tree(diagram), diagram, expand, 0, across=rankdir == "TB")
    for out, node in graph.outputs.items():
        dot.node(_node_id(_OUT + out, graph), _terminal(out, graph.shape_of(node)))
    wraps, junctions = _wrap_points(diagram, columns, *WRAP[rankdir]), set()
    for (tail, head), shape in diagram.edges.items():
        label = {"label": " " + fmt_shape(shape)} if shapes else {}
        start = _node_id(tail, graph)
        if tail in wraps:     # the next column starts at a junction: one unconstrained edge
            start = "wrap/" + tail
            if start not in junctions:
                junctions.add(start)
                dot.node(start, "", shape="circle", width="0.12", style="filled",
                         fillcolor=INK, color=INK)
                dot.edge(_node_id(tail, graph), start, constraint="false", style="dashed",
                         **label)
        dot.edge(start, _node_id(head, graph), **label)
    return dot


def _node_id(key: str, graph: Graph) -> str:
    if key.startswith(_OUT):
        return "output/" + key[len(_OUT):]
    return ("input/" if key in graph.inputs else "layer/") + key


def _wrap_points(diagram: Diagram, columns: int | None, most: int,
                 per_column: int) -> set[str]:
    """Boxes after which the diagram goes on in a new column: between top-level entries, where
    one box feeds everything below, near equal depths. Without `columns`, a diagram deeper
    than `most` boxes wraps into columns about `per_column` deep."""
    ins: dict[str, list[str]] = {}
    for tail, head in diagram.edges:
        ins.setdefault(head, []).append(tail)
    rank: dict[str, int] = {}               # longest path from an input, in boxes
    for key in [*diagram.graph.inputs, *diagram.boxes]:     # in execution order
        rank[key] = max((rank[t] + 1 for t in ins.get(key, ())), default=0)
    total = max(rank.values(), default=0)
    columns = columns or (1 if total <= most else math.ceil(total / per_column))
    if columns <= 1:
        return set()
    entry: dict[str, int] = {}     # box -> index of its top-level entry (a box or a cluster)
    index: dict[str, int] = {}
    for key, box in diagram.boxes.items():
        top = box.clusters[0].name if box.clusters else "\x00" + key
        entry[key] = index.setdefault(top, len(index))
    candidates = []
    for cut in range(len(index) - 1):
        tails = {t for t, h in diagram.edges if _entry(t, entry) <= cut < _entry(h, entry)}
        if len(tails) == 1 and next(iter(tails)) in diagram.boxes:
            tail = tails.pop()
            candidates.append((rank[tail], tail))
    chosen = set()
    for k in range(1, columns):
        best = min(candidates, key=lambda c: abs(c[0] - k * total / columns), default=None)
        if best is not None:
            chosen.add(best[1])
            candidates = [c for c in candidates if c[0] > best[0]]
    return chosen


def _entry(key: str, entry: dict[str, int]) -> float:
    if key in entry:
        return entry[key]
    return math.inf if key.startswith(_OUT) else -1     # outputs after all, inputs before


@dataclass
class _Cluster:
    group: Group | None
    items: list = field(default_factory=list)     # boxes and clusters, in execution order


def _cluster_tree(diagram: Diagram) -> _Cluster:
    root = _Cluster(None)
    index: dict[tuple[str, ...], _Cluster] = {(): root}
    for box in diagram.boxes.values():
        parent, path = root, ()
        for g in box.clusters:
            path += (g.name,)
            if path not in index:
                index[path] = _Cluster(g)
                parent.items.append(index[path])
            parent = index[path]
        parent.items.append(box)
    return root


def _emit(dot, cluster: _Cluster, diagram: Diagram, expand: bool, level: int,
          across: bool) -> None:
    for item in cluster.items:
        if isinstance(item, Box):
            tooltip = r"\n".join(f"{r.name}  {fmt_shape(r.shape)}" for r in item.rows)
            dot.node(_node_id(item.key, diagram.graph), _box_label(item, expand, across),
                     tooltip=tooltip)
            continue
        name, parent = item.group.name, cluster.group
        labels = []
        while True:           # a block holding nothing but one block: one cluster, two titles
            labels.append(_cluster_label(item.group, parent, diagram, expand, not labels))
            if len(item.items) != 1 or not isinstance(item.items[0], _Cluster):
                break
            parent, item = item.group, item.items[0]
        folded = _folds(item.group, expand)
        with dot.subgraph(name="cluster_" + name) as sub:
            sub.attr(label="<" + '<br align="left"/>'.join(labels) + '<br align="left"/>>',
                     labeljust="l", fontsize="11",
                     style="rounded,filled" + (",bold" if folded else ""),
                     fillcolor="#f2f4f4" if level % 2 == 0 else "#fbfcfc",
                     color=ACCENT if folded else "#95a5a6", penwidth="1.5" if folded else "1")
            _emit(sub, item, diagram, expand, level + 1, across)


def _relative(name: str, parent: Group | None, expand: bool) -> str:
    """A name as drawn inside `parent`'s cluster: without the cluster's own prefix."""
    if parent is None:
        return name
    prefix = parent.name + (".0." if _folds(parent, expand) else ".")
    return name[len(prefix):] if name.startswith(prefix) else name


def _cluster_label(g: Group, parent: Group | None, diagram: Diagram, expand: bool,
                   with_params: bool = True) -> str:
    params = diagram.group_params.get(g.name, 0)      # a repeat's: all its copies
    extra = f'  <font color="{PALE}" point-size="9">{human(params)} params</font>' \
        if params and with_params else ""
    name = html.escape(_relative(g.name, parent, expand))
    return f"<b>{name}</b>  {_group_title(g, _folds(g, expand), 14)}{extra}"


def _box_label(box: Box, expand: bool, across: bool) -> str:
    """An HTML table: per layer its kind and arguments, name and params, on its family's
    colour; `across` puts stacked layers side by side (top-to-bottom diagrams stay short)."""
    parent = box.clusters[-1] if box.clusters else None
    small = f'<font color="{PALE}" point-size="9">'
    cells = []
    for i, row in enumerate(box.rows):
        name = _relative(box.shown if (box.shown and i == 0) else row.name, parent, expand)
        text = row.text + (f' <font color="{ACCENT}"><b>×{box.repeat}</b></font>'
                           if i == 0 and box.repeat > 1 else "")
        params = f'<font point-size="9">{human(row.params)}</font>' if row.params else ""
        cells.append((f'bgcolor="{FAMILY_COLOURS.get(row.family, "#ffffff")}"',
                      f"{small}{html.escape(name)}</font>", text, params))
    if across:
        rows = ["".join(f'<td {c} align="left">{text}</td>' for c, _, text, _ in cells),
                "".join(f'<td {c} align="left">{name}  {params}</td>'
                        for c, name, _, params in cells)]
    else:
        rows = [f'<td {c} align="left">{name}</td><td {c} align="left">{text}</td>'
                f'<td {c} align="right">{params}</td>' for c, name, text, params in cells]
    if len(box.copies) < box.expected:
        rows.append(f'<td colspan="{len(cells) if across else 3}">{small}<i>in '
                    f'{len(box.copies)} of {box.expected} copies</i></font></td>')
    border = "2" if box.folded is not None else "1"
    return (f'<<table border="{border}" cellborder="0" cellspacing="0" cellpadding="3" '
            f'color="{INK}">' + "".join(f"<tr>{r}</tr>" for r in rows) + "</table>>")


def _terminal(name: str, shape: Shape) -> str:
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="5" '
            f'bgcolor="{INK}"><tr><td><font color="white"><b>{html.escape(name)}</b> '
            f'{html.escape(fmt_shape(shape))}</font></td></tr></table>>')


def _title(report: Report, diagram: Diagram, expand: bool) -> str:
    """The name, the totals, and a legend of the colours drawn."""
    families = list(dict.fromkeys(row.family for box in diagram.boxes.values()
                                  for row in box.rows))
    legend = "   ".join(f'<font color="{FAMILY_COLOURS.get(f, "#ffffff")}" point-size="14">'
                       f'■</font> {f}' for f in families)
    if any(b.repeat > 1 or any(_folds(g, expand) for g in b.clusters)
           for b in diagram.boxes.values()):
        legend += f'   <font color="{ACCENT}"><b>×N</b></font> one copy of a repeat drawn'
    per = " per step" if any(isinstance(d, str) for n in report.graph for d in n.shape) else ""
    totals = (f"{human(report.params)} params · {human(report.macs)} MACs{per} · "
              f"{len(report.graph.nodes)} layers")
    return (f'<<font point-size="18"><b>{html.escape(report.name)}</b></font><br/>{totals}'
            f'<br/><font point-size="10">{legend}</font><br/><font point-size="6"> </font>>')


# ---- the API ---------------------------------------------------------------------------------

def draw(spec, path, *, depth: int | None = None, expand: bool = False, rankdir: str = "TB",
         shapes: bool = True, columns: int | None = None) -> Path:
    """Draw the network of `spec` (a Spec, a path or YAML text) to `path`; the suffix picks
    the format: .svg, .png, .pdf or .dot. Returns the path written.

    depth: fold blocks nested deeper than `depth` into one box each (as `check --depth`);
    expand: draw every copy of a repeated entry instead of one marked ×N;
    rankdir: "TB" (top to bottom) or "LR"; shapes: label edges with the shapes they carry;
    columns: wrap into this many columns (rows with "LR"); None: deep networks wrap by
    themselves, 1: never.
    Raises SpecError for a wrong spec (the same located error as `check`), GraphvizMissing
    (a SpecError) when the format needs Graphviz's `dot` and it is not installed: the .dot
    file is written next to `path` then.
    """
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to {path.name!r}: the suffix picks the format, one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    dot = to_graphviz(check(as_spec(spec)), depth=depth, expand=expand, rankdir=rankdir,
                      shapes=shapes, columns=columns)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "dot":
        path.write_text(dot.source, encoding="utf-8")
        return path
    path.write_bytes(_render(dot, path, fmt))
    return path


def _render(dot: "graphviz.Digraph", path: Path, fmt: str) -> bytes:
    import graphviz

    try:
        return dot.pipe(format=fmt)
    except graphviz.ExecutableNotFound:
        fallback = path.with_suffix(".dot")
        fallback.write_text(dot.source, encoding="utf-8")
        raise GraphvizMissing(
            f"drawing {path.name} needs Graphviz's `dot` program, which is not installed; "
            f"wrote {fallback} instead",
            hint=f"install Graphviz (`apt-get install graphviz`, `brew install graphviz` or "
                 f"`conda install -c conda-forge graphviz`) and run again, or render the "
                 f".dot elsewhere: `dot -T{fmt} {fallback} -o {path}`") from None


__all__ = ["draw", "layout", "to_graphviz", "Diagram", "Box", "GraphvizMissing", "FORMATS"]

callable_module(__name__, draw)
