"""Hover: what an entry under the cursor computes, from the checked graph.

    text, span = hover(analysis, (line, col))    # markdown, and the entry's range; or None

Over a layer entry (of `layers:`, a block's body, a parallel's branch) the hover gives its
output shape, params, MACs and receptive field: of the one layer, or summed over the layers a
block use or a `repeat:` expands to (the shape and receptive field are of its last layer).
An entry in a block's body is computed once per use of the block; each use is listed.

The graph's nodes say which entry made them: a node's `loc` is where its entry starts, and
its chain of block uses says where each enclosing block was used (the kind's position).
"""

from __future__ import annotations

from dataclasses import dataclass

from netspec.errors import Location
from netspec.kinds import fmt_shape, kinds
from netspec.report import human
from netspec.serve.lsp_analysis import Analysis, BlockInfo
from netspec.serve.lsp_positions import PARALLEL, EntrySpan, Pos, Span

MAX_USES = 8        # uses of a block body's entry listed one by one


@dataclass(frozen=True)
class Instance:
    """The graph nodes one use of an entry expanded to, in execution order."""

    name: str
    nodes: tuple

    @property
    def out(self):
        return self.nodes[-1]

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes)

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes)


def hover(analysis: Analysis, pos: Pos) -> tuple[str, Span] | None:
    """The markdown for the cursor at `pos`, and the range it describes."""
    entry = analysis.index.entry_at(pos)
    if entry is None:
        return _block_name(analysis, pos)
    doc = _doc(analysis, entry.kind)
    parts = [_title(analysis, entry), _computed(analysis, entry)] + ([doc] if doc else [])
    return "\n\n".join(parts), entry.span


def _computed(analysis: Analysis, entry: EntrySpan) -> str:
    """What the graph says of the entry: one use, or a list of them (a block body's entry)."""
    if not analysis.graphs:
        return ("_not computed: the spec has errors (see the problems list)_" if analysis.errors
                else "_not computed: a file of blocks alone has no shapes; hover over a use "
                     "of the block_")
    uses = instances(analysis, entry)
    failed = _failure_at(analysis, entry)
    if not uses and failed:
        return f"**shape inference stops here**: {failed}"
    if not uses:
        return "_not computed: left out (`if:` false or `repeat: 0`), or after an error_"
    if len(uses) == 1:
        return f"`{uses[0].name}`: {describe(uses[0])}"
    lines = [f"used {len(uses)} time{'s' * (len(uses) > 1)}:", ""]
    lines += [f"- `{u.name}`: {describe(u)}" for u in uses[:MAX_USES]]
    if len(uses) > MAX_USES:
        lines.append(f"- … and {len(uses) - MAX_USES} more")
    return "\n".join(lines)


def _failure_at(analysis: Analysis, entry: EntrySpan) -> str | None:
    """The message of the shape error a soft check stopped at on this entry, if it did."""
    starts = {entry.node_start, entry.kind_span.start if entry.kind_span else None}
    for graph in analysis.graphs:
        for failure in graph.failures:
            for d in failure.error.diagnostics:
                if d.loc and d.loc.file == analysis.path and (d.loc.line - 1, d.loc.col - 1) \
                        in starts:
                    return d.message
    return None


def describe(use: Instance) -> str:
    """`output [64, 56, 56] · params 36,928 · MACs 115.61 M · receptive field 5×5 (jump 1×1)`"""
    out = use.out
    parts = [f"output `{fmt_shape(out.shape)}`", f"params {use.params:,}",
             f"MACs {use.macs:,}" + (f" ({human(use.macs)})" if use.macs >= 1000 else "")]
    if out.rf:          # None where the output is not spatial (netspec.graph.receptive)
        jump = f" (jump {_dims(out.jump)})" if out.jump else ""
        parts.append(f"receptive field {_dims(out.rf)}{jump}")
    if len(use.nodes) > 1:
        parts.append(f"{len(use.nodes)} layers")
    return " · ".join(parts)


def instances(analysis: Analysis, entry: EntrySpan) -> list[Instance]:
    """The uses of `entry` in the graph: nodes it made itself, or through the block it uses,
    grouped by the chain of block uses around it."""
    path = analysis.path
    at = Location(path, entry.node_start[0] + 1, entry.node_start[1] + 1)
    kind_at = (Location(path, entry.kind_span.start[0] + 1, entry.kind_span.start[1] + 1)
               if entry.kind_span else None)
    found = []
    for graph in analysis.graphs:       # one per network; locations tell the entries apart
        found += _instances(graph, entry, at, kind_at)
    return found


def _instances(graph, entry: EntrySpan, at: Location, kind_at: Location | None) -> list[Instance]:
    groups: dict[tuple, list] = {}
    prefixes: dict[tuple, set[str]] = {}
    for node in graph:
        key = None
        if node.loc == at:
            key = node.chain
            if entry.kind == PARALLEL:      # its merge: the branches are named under it
                prefixes.setdefault(key, set()).add(node.name.rpartition(".")[0] + ".")
        elif kind_at is not None:
            key = next((node.chain[:i] for i, use in enumerate(node.chain) if use.used == kind_at),
                       None)
        if key is not None:
            groups.setdefault(key, []).append(node)
    for key, starts in prefixes.items():     # a parallel's branches come before its merge
        branch = [n for n in graph if n.name.startswith(tuple(starts))]
        groups[key] = sorted({*branch, *groups[key]}, key=_order(graph))
    return [Instance(_common_name(nodes), tuple(nodes)) for nodes in groups.values()]


def _order(graph):
    order = {name: i for i, name in enumerate(graph.nodes)}
    return lambda node: order[node.name]


def _common_name(nodes) -> str:
    """The dotted prefix all `nodes` share (`stage1.0` for its conv, bn and relu)."""
    parts = [n.name.split(".") for n in nodes]
    common = []
    for column in zip(*parts):
        if len(set(column)) != 1:
            break
        common.append(column[0])
    return ".".join(common) or nodes[-1].name


def _title(analysis: Analysis, entry: EntrySpan) -> str:
    what = "parallel branches" if entry.kind == PARALLEL else \
        "block" if entry.kind in analysis.blocks else "layer" if entry.kind in kinds() else None
    name = entry.kind or "(empty entry)"
    return f"**{name}**" + (f" ({what})" if what else "")


def _doc(analysis: Analysis, kind: str | None) -> str:
    """The first paragraph of the kind's doc, or the block's doc and parameters."""
    if kind in kinds():
        return kinds()[kind].doc.split("\n\n")[0].strip()
    block = analysis.blocks.get(kind or "")
    return block_summary(block) if block else ""


def block_summary(block: BlockInfo) -> str:
    """`conv_bn(out, kernel=3)` and its doc: what a block takes, as markdown."""
    params = ", ".join(p if d is None else f"{p}={_default(d)}" for p, d in block.params.items())
    where = f" ({block.origin}, {block.loc})" if block.loc else f" ({block.origin})"
    doc = block.doc.strip()
    return f"`{block.name}({params})`{where}" + (f"\n\n{doc}" if doc else "")


def _default(value) -> str:
    if isinstance(value, dict) and "default" in value:     # a declared parameter
        value = value["default"]
    if isinstance(value, bool):
        return "true" if value else "false"
    return "required" if value is None else str(value)


def _block_name(analysis: Analysis, pos: Pos) -> tuple[str, Span] | None:
    """Over a block's name in `blocks:`, what it takes and how often it is used."""
    for name, span in analysis.index.blocks.items():
        if span.contains(pos) and name in analysis.blocks:
            return block_summary(analysis.blocks[name]), span
    return None


def _dims(values) -> str:
    return "×".join(str(v) for v in values) if isinstance(values, (list, tuple)) else str(values)
