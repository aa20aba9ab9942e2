"""Static check: the shape-annotated graph as a report (table, JSON, explanations).

Never imports torch: `netspec check` answers in a fraction of a second.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from netspec.graph.expand import expand
from netspec.graph.ir import Graph, Node
from netspec.graph.load import as_spec
from netspec.kinds import fmt_shape, kinds
from netspec.lang.schema import Spec

BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class Row:
    """One line of the table: a primitive layer, or a folded block (`--depth`)."""

    name: str
    kind: str
    shape: tuple
    params: int
    macs: int
    depth: int
    explain: tuple[str, ...] = ()
    header: bool = False      # an opened block's totals, above its own rows (not summed)


@dataclass(frozen=True)
class Report:
    graph: Graph
    trainable: int

    @property
    def name(self) -> str:
        return self.graph.name

    @property
    def params(self) -> int:
        return self.graph.params

    @property
    def macs(self) -> int:
        return self.graph.macs

    @property
    def param_bytes(self) -> int:
        return self.params * BYTES_PER_FLOAT

    @property
    def activation_bytes(self) -> int:
        return self.graph.activation_elements * BYTES_PER_FLOAT

    @property
    def outputs(self) -> dict[str, tuple]:
        return {o: self.graph.nodes[n].shape for o, n in self.graph.outputs.items()}

    def rows(self, depth: int | None = None, explain: bool = False) -> list[Row]:
        """Table rows; with `depth`, nodes inside blocks nested deeper are folded into one
        row per block (its last shape, its summed params and MACs), and every block that is
        opened gets a header row above its own rows (`header=True`, the same totals), so
        `--depth 1` reads like a paper's table: `layer2 stage(...)`, then `layer2.0 ...`."""
        rows: list[Row] = []
        folded: dict[str, int] = {}          # group name -> index in rows
        for node in self.graph:
            opened = node.groups[:depth] if depth is not None else ()
            for level, g in enumerate(opened):
                self._add_to(rows, folded, g, node, level, header=True)
            group = node.groups[depth] if depth is not None and len(node.groups) > depth else None
            if group is None:
                why = tuple(_explain(node)) if explain else ()
                rows.append(Row(node.name, node.kind, node.shape, node.params, node.macs,
                                len(node.groups), why))
            else:
                self._add_to(rows, folded, group, node, depth)
        return rows

    @staticmethod
    def _add_to(rows: list[Row], folded: dict[str, int], group, node: Node, level: int,
                header: bool = False) -> None:
        """Count `node` in the row of `group`, adding that row the first time."""
        if group.name not in folded:
            folded[group.name] = len(rows)
            rows.append(Row(group.name, group.title, node.shape, 0, 0, level, header=header))
        i = folded[group.name]
        r = rows[i]
        rows[i] = replace(r, shape=node.shape, params=r.params + node.params,
                          macs=r.macs + node.macs)

    def to_json(self) -> dict[str, Any]:
        """The JSON report of DESIGN §3."""
        out = self.graph.describe()
        out["params"] = {"total": self.params, "trainable": self.trainable}
        out["macs"] = self.macs     # exactly DESIGN §3's keys: memory is in the table only
        return out


def check(spec: Spec | str, input_shapes: dict[str, tuple] | None = None,
          bindings: dict[str, int] | None = None) -> Report:
    """Expand `spec` (a Spec, a path or YAML text) and infer every layer's shape, params and
    MACs; raises SpecError."""
    spec = as_spec(spec)
    graph = expand(spec, input_shapes, bindings)
    return Report(graph, graph.params - _frozen_params(spec, graph))


def _frozen_params(spec: Spec, graph: Graph) -> int:
    """Parameters of the layers `train.freeze` lists (by id path prefix)."""
    train = spec.train if isinstance(spec.train, dict) else {}
    frozen = train.get("freeze") or []
    if not isinstance(frozen, list):
        return 0
    prefixes = [str(f) for f in frozen]
    return sum(n.params for n in graph
               if any(n.name == p or n.name.startswith(p + ".") for p in prefixes))


def _explain(node: Node) -> list[str]:
    kind = kinds()[node.kind]
    if kind.explain is None:
        return []
    try:
        return kind.explain(list(node.in_shapes), node.args)
    except Exception:   # an explanation must never break a report
        return []


# ---- rendering ---------------------------------------------------------------------------

def human(n: float, unit: str = "") -> str:
    """12_345_678 -> '12.35 M' (powers of 1000; bytes use 1024 with unit 'B')."""
    step, names = (1024.0, ["B", "KiB", "MiB", "GiB", "TiB"]) if unit == "B" else \
        (1000.0, ["", "K", "M", "G", "T"])
    for name in names:
        if abs(n) < step or name == names[-1]:
            return f"{n:.0f} {name}".strip() if name in ("", "B") else f"{n:.2f} {name}"
        n /= step
    return str(n)


def render_table(report: Report, depth: int | None = None, explain: bool = False,
                 width: int | None = None) -> str:
    """A plain-text table people can read (no colour codes; rich is kept off this path
    because its import costs more than the rest of the check)."""
    rows = report.rows(depth, explain)
    header = ("layer", "kind", "output shape", "params", "MACs")
    body = [(("  " * min(r.depth, 8)) + r.name, r.kind, fmt_shape(r.shape), f"{r.params:,}",
             f"{r.macs:,}") for r in rows]
    inputs = [(name, "input", fmt_shape(i.shape), "", "") for name, i in
              report.graph.inputs.items()]
    cells = inputs + body
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    right = {3, 4}

    def line(cols):
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cols, widths))).rstrip()

    out = [line(header), "  ".join("-" * w for w in widths)]
    for cols, row in zip(cells, [None] * len(inputs) + rows):
        out.append(line(cols))
        if row is not None:
            out += [" " * (2 * min(row.depth, 8) + 4) + why for why in row.explain]
    out.append("  ".join("-" * w for w in widths))
    out += _totals(report)
    return "\n".join(out)


def _totals(report: Report) -> list[str]:
    outs = ", ".join(f"{n} {fmt_shape(s)}" for n, s in report.outputs.items())
    frozen = report.params - report.trainable
    trainable = f"{report.trainable:,} trainable" + (f", {frozen:,} frozen" if frozen else "")
    sym = any(isinstance(d, str) for n in report.graph for d in n.shape)
    per = " (per step of symbolic dims)" if sym else ""
    n = len(report.graph.nodes)
    return [f"{report.name}: {n} layer{'' if n == 1 else 's'}; output {outs}",
            f"params      {report.params:,} ({human(report.params)}; {trainable})",
            f"MACs        {report.macs:,} ({human(report.macs)}){per}",
            f"memory      params {human(report.param_bytes, 'B')}, activations "
            f"{human(report.activation_bytes, 'B')} per sample (float32){per}"]


def render_json(report: Report) -> str:
    return json.dumps(report.to_json(), indent=2)


__all__ = ["Report", "Row", "check", "render_table", "render_json", "human"]
