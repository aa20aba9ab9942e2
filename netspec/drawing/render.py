"""Drawing: the shape-annotated graph as a graphviz diagram (DESIGN §7). Never imports torch.

What a diagram shows, from the expanded graph of `check`:

- one box per layer: its name, kind, key arguments (those not at their default) and params,
  filled by the layer's family; a layer that keeps its input's shape and decorates the layer
  above (norm, activation, dropout: conv → batchnorm → relu) joins that layer's box as a row;
- blocks, repeats and parallels as labelled clusters; a repeated entry is folded into its first
  copy and marked `×N` (`expand=True` draws every copy); with `depth`, blocks nested deeper
  than `depth` fold into one box each, as `check --depth` folds its table;
- the shape each edge carries, the input(s) and outputs as dark boxes, and a title with totals;
- a block folded by `depth` keeps its skip (an edge into the box's "skip" port, bypassing it)
  and a "/k" when it shrinks the feature map k times;
- a long network wraps into columns; each wrap is a pair of connectors with one letter, at
  the bottom of one column and the top of the next;
- fail-soft: a spec with a shape error is drawn down to the failing layer, in red.

The layout (boxes, edges, folding) is `netspec.drawing.layout`, the columns and clusters
`netspec.drawing.columns`; this module turns them into graphviz and writes the file.
"""

from __future__ import annotations

import html
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from netspec.report import Report, check, human
from netspec.drawing.columns import Cluster, cluster_tree, wrap_cuts
from netspec.drawing.failure import FAILED, draw_failure
from netspec.drawing.layout import ACCENT, OUT, WRAP, Box, Diagram, folds, group_title, layout
from netspec.errors import InputError, SetupError
from netspec.graph.ir import Graph, Group
from netspec.kinds import Shape, fmt_shape
from netspec.graph.load import as_spec
from netspec.safe_write import atomic_write, check_output

if TYPE_CHECKING:
    import graphviz

FORMATS = ("svg", "png", "pdf", "dot")
DOT_SECONDS = 60               # `dot` on 20,000 branches runs for many minutes
DOT_MAX_LINES = 200_000        # of DOT source: beyond this, layout takes minutes and GiBs
RANKDIRS = ("TB", "LR")

FAMILY_COLOURS = {            # fills by layer family; merges in a strong colour to stand out
    "conv": "#aed6f1", "pool": "#a9dfbf", "norm": "#f9e79f", "activation": "#fad7a0",
    "linear": "#d7bde2", "recurrent": "#f5b7b1", "merge": "#f0965a", "shape": "#d5dbdb",
    "regularization": "#eaeded", "other": "#ffffff", "block": "#d6eaf8",
}
INK, PALE = "#2c3e50", "#7f8c8d"


class GraphvizMissing(SetupError):
    """The `dot` program is needed for this format and is not installed. Exit status 1."""


# ---- from boxes to graphviz ------------------------------------------------------------------

def to_graphviz(report: Report, *, depth: int | None = None, expand: bool = False,
                rankdir: str = "TB", shapes: bool = True,
                columns: int | None = None) -> "graphviz.Digraph":
    """The diagram of a checked spec as a `graphviz.Digraph` (its `.source` is the DOT).

    A long network is wrapped into `columns` side by side (rows with "LR") at points where
    one box feeds all that follows (`wrap_cuts`); None: by the depth in boxes (WRAP). A
    soft check's failures (`report.failures`) are drawn in red below what was inferred.
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
    cuts = wrap_cuts(diagram, columns, *WRAP[rankdir], expand=expand)
    _emit(dot, cluster_tree(diagram, cuts), diagram, expand, 0, across=rankdir == "TB")
    for out, node in graph.outputs.items():
        dot.node(_node_id(OUT + out, graph), _terminal(out, graph.shape_of(node)))
    starts = _connectors(dot, diagram, cuts, shapes)
    into: dict[str, int] = {}
    for _, head in diagram.edges:
        into[head] = into.get(head, 0) + 1
    for (tail, head), shape in diagram.edges.items():
        label = {"label": " " + fmt_shape(shape)} if shapes else {}
        start = starts.get(tail, _node_id(tail, graph))
        dot.edge(start, _node_id(head, graph), **label)
        box = diagram.boxes.get(head)
        if box is not None and box.skip is not None and into[head] == 1:
            # leaves the tail's side and comes in at the port, clear of the main edge; no
            # weight, so it does not pull the boxes off the straight line
            dot.edge(start + ":s",
                     _node_id(head, graph) + ":skip:e", style="bold", weight="0")
    for failure in report.failures:
        draw_failure(dot, failure, diagram, lambda key: _node_id(key, graph))
    return dot


def _connectors(dot, diagram: Diagram, cuts, shapes: bool) -> dict[str, str]:
    """Per cut, a lettered connector below the tail and its twin atop the next column; the
    node id each wrapped tail's edges start from."""
    starts = {}
    for i, cut in enumerate(cuts):
        letter = _letters(i)
        bottom, top = f"wrap/{letter}/from", f"wrap/{letter}/to"
        for key in (bottom, top):
            dot.node(key, letter, shape="circle", width="0.3", fixedsize="true",
                     fontsize="11", fontcolor="white", style="filled", fillcolor=INK,
                     color=INK)
        shape = diagram.boxes[cut.tail].rows[-1].shape
        label = {"label": " " + fmt_shape(shape)} if shapes else {}
        dot.edge(_node_id(cut.tail, diagram.graph), bottom, **label)
        dot.edge(bottom, top, style="invis", constraint="false")   # keeps the columns in order
        starts[cut.tail] = top
    return starts


def _letters(i: int) -> str:
    """0 -> A, 25 -> Z, 26 -> AA: a connector's name."""
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(ord("A") + r) + out
    return out


def _node_id(key: str, graph: Graph) -> str:
    if key.startswith(OUT):
        return "output/" + key[len(OUT):]
    return ("input/" if key in graph.inputs else "layer/") + key


def _emit(dot, cluster: Cluster, diagram: Diagram, expand: bool, level: int,
          across: bool) -> None:
    for item in cluster.items:
        if isinstance(item, Box):
            tooltip = r"\n".join(f"{r.name}  {fmt_shape(r.shape)}" for r in item.rows)
            dot.node(_node_id(item.key, diagram.graph), _box_label(item, expand, across),
                     tooltip=tooltip)
            continue
        name, parent = item.group.name, cluster.group
        if item.part:
            name += f"~{item.part}"
        labels = []
        while True:           # a block holding nothing but one block: one cluster, two titles
            labels.append(_cluster_label(item.group, parent, diagram, expand, not labels,
                                         item.part))
            if len(item.items) != 1 or not isinstance(item.items[0], Cluster):
                break
            parent, item = item.group, item.items[0]
        folded = folds(item.group, expand)
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
    prefix = parent.name + (".0." if folds(parent, expand) else ".")
    return name[len(prefix):] if name.startswith(prefix) else name


def _cluster_label(g: Group, parent: Group | None, diagram: Diagram, expand: bool,
                   with_params: bool = True, part: int = 0) -> str:
    params = diagram.group_params.get(g.name, 0)      # a repeat's: all its copies
    extra = f'  <font color="{PALE}" point-size="9">{human(params)} params</font>' \
        if params and with_params and not part else ""
    if part:                  # the block goes on from the column before
        extra += f'  <font color="{PALE}" point-size="9"><i>(continued)</i></font>'
    name = _relative(g.name, parent, expand)
    title = group_title(g, folds(g, expand), 14)
    if title == html.escape(name):        # `features: features`: the name says it once
        return f"<b>{title}</b>{extra}"
    return f"<b>{html.escape(name)}</b>  {title}{extra}"


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
        if i == 0 and box.scale:       # the block shrinks the feature map k times
            text += f'  <font color="{ACCENT}"><b>/{box.scale}</b></font>'

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
    span = len(cells) if across else 3
    if len(box.copies) < box.expected:
        rows.append(f'<td colspan="{span}">{small}<i>in '
                    f'{len(box.copies)} of {box.expected} copies</i></font></td>')
    if box.skip is not None:           # the port the bypassing edge comes into
        skip = box.skip
        what = f"{skip.count} skips" if skip.count > 1 else "skip"
        via = f" via {', '.join(skip.via)}" if skip.via else ""
        rows.append(f'<td colspan="{span}" port="skip" align="right">{small}<i>+ {what}{via} '
                    f'→ {html.escape(skip.merge)}</i></font></td>')
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
    if any(b.repeat > 1 or any(folds(g, expand) for g in b.clusters)
           for b in diagram.boxes.values()):
        legend += f'   <font color="{ACCENT}"><b>×N</b></font> one copy of a repeat drawn'
    per = " per step" if any(isinstance(d, str) for n in report.graph for d in n.shape) else ""
    totals = (f"{human(report.params)} params · {human(report.macs)} MACs{per} · "
              f"{len(report.graph.nodes)} layers")
    if report.failure is not None:     # the totals are of the layers before it
        totals += (f'<br/><font color="{FAILED}"><b>shape error at '
                   f'{html.escape(report.failure.name)}</b>: drawn down to it</font>')
    # Graphviz refuses an empty <font></font>: a shape error at the first layer draws no family
    legend = f'<br/><font point-size="10">{legend}</font>' if legend else ""
    return (f'<<font point-size="18"><b>{html.escape(report.name)}</b></font><br/>{totals}'
            f'{legend}<br/><font point-size="6"> </font>>')


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
    Raises SpecError for a wrong spec (the same located error as `check`); for a shape error
    only after writing the drawing down to the failing layer (fail-soft, DESIGN §3b).
    GraphvizMissing (a SetupError) when the format needs Graphviz's `dot` and it is not
    installed: the .dot file is written next to `path` then.
    """
    path, report = draw_checked(spec, path, depth=depth, expand=expand, rankdir=rankdir,
                                shapes=shapes, columns=columns)
    if report.error is not None:
        raise report.error
    return path


def draw_checked(spec, path, **options) -> tuple[Path, Report]:
    """As `draw`, but a shape error does not raise: the file shows the network down to the
    failing layer, and the report's `failure`/`error` say what failed. Returns the path
    written and the report (other mistakes in the spec still raise SpecError)."""
    path = Path(path)
    fmt = path.suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise ValueError(f"cannot draw to {path.name!r}: the suffix picks the format, one of "
                         f"{', '.join('.' + f for f in FORMATS)}")
    spec = as_spec(spec)
    check_output(path, "the drawing", protect=[spec.path] if spec.path else [])
    report = check(spec, soft=True)
    dot = to_graphviz(report, **options)
    if fmt == "dot":
        atomic_write(path, dot.source, durable=False)
    else:
        atomic_write(path, _render(dot, path, fmt), durable=False)
    return path, report


def _render(dot: "graphviz.Digraph", path: Path, fmt: str) -> bytes:
    """The diagram rendered by Graphviz's `dot`, within DOT_SECONDS and for at most
    DOT_MAX_LINES of DOT; past either, the .dot is written instead and the message says so."""
    fallback = path.with_suffix(".dot")

    def keep_dot() -> None:
        atomic_write(check_output(fallback, "the drawing"), dot.source, durable=False)
    again = f"render the .dot yourself: `dot -T{fmt} {fallback} -o {path}`"
    lines = dot.source.count("\n")
    if lines > DOT_MAX_LINES:
        keep_dot()
        raise InputError(f"the diagram has {lines:,} lines of DOT, above the {DOT_MAX_LINES:,} "
                         f"that `dot` lays out in reasonable time; wrote {fallback} instead",
                         hint=f"draw fewer boxes with --depth N (or without --expand), or "
                              f"{again}")
    try:
        done = subprocess.run(["dot", f"-T{fmt}"], input=dot.source.encode("utf-8"),
                              capture_output=True, timeout=DOT_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        keep_dot()
        raise InputError(f"`dot` took more than {DOT_SECONDS} s to lay out {path.name}; "
                         f"wrote {fallback} instead",
                         hint=f"draw fewer boxes with --depth N, or {again}") from None
    except FileNotFoundError:
        keep_dot()
        raise GraphvizMissing(
            f"drawing {path.name} needs Graphviz's `dot` program, which is not installed; "
            f"wrote {fallback} instead",
            hint=f"install Graphviz (`apt-get install graphviz`, `brew install graphviz` or "
                 f"`conda install -c conda-forge graphviz`) and run again, or render the "
                 f".dot elsewhere: `dot -T{fmt} {fallback} -o {path}`") from None
    if done.returncode != 0:
        keep_dot()
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise InputError(f"`dot` could not render {path.name}"
                         f"{': ' + why[0][:200] if why else ''}; wrote {fallback} instead",
                         hint=again)
    return done.stdout


__all__ = ["draw", "draw_checked", "layout", "to_graphviz", "Diagram", "Box", "GraphvizMissing",
           "FORMATS"]
