"""Static check: the shape-annotated graph as a report (table, JSON, explanations).

Never imports torch: `netspec check` answers in a fraction of a second. A soft check
(`check(..., soft=True)`) stops at a shape error without raising: the report holds the layers
inferred before it and `report.failure`, so the table, the JSON and the drawing still show
the network down to the failing layer.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from fractions import Fraction
from typing import Any

from netspec.errors import SpecError
from netspec.graph import receptive
from netspec.graph.expand import expand
from netspec.graph.ir import Failure, Graph, Node
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
    rf: tuple[int, ...] | None = None     # receptive field per spatial axis (None: not spatial)
    failed: bool = False      # the layer a shape error stopped at (a soft check)


@dataclass(frozen=True)
class Report:
    graph: Graph
    trainable: int

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The layers shape inference refused (a soft check), in the order met."""
        return tuple(self.graph.failures)

    @property
    def failure(self) -> Failure | None:
        """The first layer shape inference refused (a soft check); None when all went well."""
        return self.graph.failures[0] if self.graph.failures else None

    @property
    def error(self) -> SpecError | None:
        """Every mistake of a soft check in one error (what `check` raises without soft)."""
        diags = list(dict.fromkeys(d for f in self.graph.failures for d in f.error.diagnostics))
        return SpecError(diags) if diags else None

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
        failed = self._failures_after()
        for i, node in enumerate(self.graph):
            rows += [self._failed_row(f, depth) for f in failed.get(i, ())]
            opened = node.groups[:depth] if depth is not None else ()
            for level, g in enumerate(opened):
                self._add_to(rows, folded, g, node, level, header=True)
            group = node.groups[depth] if depth is not None and len(node.groups) > depth else None
            if group is None:
                why = tuple(_explain(node) + receptive.explain(self.graph, node)) \
                    if explain else ()
                rows.append(Row(node.name, node.kind, node.shape, node.params, node.macs,
                                len(node.groups), why, rf=node.rf))
            else:
                self._add_to(rows, folded, group, node, depth)
        rows += [self._failed_row(f, depth) for f in failed.get(len(self.graph.nodes), ())]
        return rows

    def _failures_after(self) -> dict[int, list[Failure]]:
        """Failures by their place in execution order: the number of nodes inferred before."""
        at: dict[int, list[Failure]] = {}
        for f in self.graph.failures:
            at.setdefault(self.graph.failed_at.get(f.name, len(self.graph.nodes)), []).append(f)
        return at

    @staticmethod
    def _failed_row(f: Failure, depth: int | None) -> Row:
        """The row of a failing layer, indented as its dotted name is deep (at most `depth`)."""
        level = f.name.count(".")
        return Row(f.name, f.kind, (), 0, 0, level if depth is None else min(level, depth),
                   failed=True)

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
                          macs=r.macs + node.macs, rf=node.rf)

    def to_json(self) -> dict[str, Any]:
        """The JSON report of DESIGN §3; a layer with a spatial output also has "rf", "jump"
        and "start" per spatial axis (DESIGN §3b); a soft check's report adds "errors", one
        per failing layer (its name, kind, `from`, and the located message)."""
        out = self.graph.describe()
        for layer, node in zip(out["layers"], self.graph):
            if node.rf is not None:
                layer.update(rf=list(node.rf), jump=[_number(j) for j in node.jump],
                             start=[_number(s) for s in node.start])
        out["params"] = {"total": self.params, "trainable": self.trainable}
        out["macs"] = self.macs     # exactly DESIGN §3's keys: memory is in the table only
        if self.graph.failures:
            out["errors"] = [_failure_json(f) for f in self.graph.failures]
        return out


def _number(x: int | Fraction) -> int | float:
    return x if isinstance(x, int) else float(x)


def _failure_json(f: Failure) -> dict[str, Any]:
    return {"name": f.name, "kind": f.kind, "from": list(f.sources),
            **_diagnostic_json(f.error.first), "text": f.error.render()}


def _diagnostic_json(d) -> dict[str, Any]:
    """A located mistake as the JSON report gives it."""
    return {"file": d.loc.file if d.loc else None, "line": d.loc.line if d.loc else None,
            "col": d.loc.col if d.loc else None, "message": d.message, "hint": d.hint,
            "text": d.render()}


def check(spec: Spec | str, input_shapes: dict[str, tuple] | None = None,
          bindings: dict[str, int] | None = None, soft: bool = False) -> Report:
    """Expand `spec` (a Spec, a path or YAML text) and infer every layer's shape, params, MACs
    and receptive field; raises SpecError. With `soft`, a shape error (a layer refusing the
    shapes it gets) does not raise: the report holds the layers inferred and `failure`; other
    mistakes (YAML, schema, names, `from:`) still raise. A spec of several networks
    (`networks:`) gives a MultiReport, its task's wiring checked (graph/wiring.py);
    `input_shapes` then apply to each, and `soft` to each network and to the wiring
    (checked only when every network inferred to its end)."""
    spec = as_spec(spec)
    if spec.networks is not None:
        return check_networks(spec, input_shapes, bindings, soft=soft)
    graph = expand(spec, input_shapes, bindings, soft=soft)
    return Report(graph, graph.params - _frozen_params(spec, graph))


@dataclass(frozen=True)
class MultiReport:
    """The report of a spec of several networks: one Report per network, in spec order."""

    name: str
    networks: dict[str, Report]
    wiring_error: SpecError | None = None     # a soft check's: the networks do not connect

    @property
    def params(self) -> int:
        return sum(r.params for r in self.networks.values())

    @property
    def failures(self) -> tuple[Failure, ...]:
        """The layers shape inference refused (a soft check), network after network."""
        return tuple(f for r in self.networks.values() for f in r.failures)

    @property
    def failure(self) -> Failure | None:
        return next(iter(self.failures), None)

    @property
    def failed_networks(self) -> list[str]:
        """The networks a soft check's shape errors stopped, in spec order."""
        return [n for n, r in self.networks.items() if r.failures]

    @property
    def error(self) -> SpecError | None:
        """Every mistake of a soft check in one error: each network's, then the wiring's."""
        diags = [d for r in self.networks.values() if r.error for d in r.error.diagnostics]
        diags += list(self.wiring_error.diagnostics) if self.wiring_error else []
        return SpecError(list(dict.fromkeys(diags))) if diags else None

    def to_json(self) -> dict[str, Any]:
        """`{"name", "networks": {NAME: <one network's check JSON>}}`; a soft check whose
        networks do not connect adds "errors" (the wiring's, located)."""
        out = {"name": self.name, "networks": {n: r.to_json() for n, r in self.networks.items()}}
        if self.wiring_error is not None:
            out["errors"] = [_diagnostic_json(d) for d in self.wiring_error.diagnostics]
        return out


def check_networks(spec: Spec, input_shapes=None, bindings=None,
                   soft: bool = False) -> MultiReport:
    """Every network of `spec` checked, then the wiring its `train.task` needs. With `soft`,
    a network's shape error stops that network only (the others are checked in full), and
    a wiring mistake is kept in `wiring_error`; the wiring is checked only when every
    network inferred to its end (a half network has no output to compare)."""
    from netspec.graph.wiring import check_wiring

    reports = {}
    for name, net in spec.networks.items():
        shapes = {k: v for k, v in (input_shapes or {}).items() if k in net.inputs} or None
        report = check(net, shapes, bindings, soft=soft)
        frozen = _frozen_params(spec, report.graph, network=name)
        reports[name] = Report(report.graph, report.trainable - frozen) if frozen else report
    if any(r.failures for r in reports.values()):
        return MultiReport(spec.name, reports)
    try:
        check_wiring(spec, {n: r.graph for n, r in reports.items()})
    except SpecError as err:
        if not soft:
            raise
        return MultiReport(spec.name, reports, wiring_error=err)
    return MultiReport(spec.name, reports)


def _frozen_params(spec: Spec, graph: Graph, network: str | None = None) -> int:
    """Parameters of the layers `train.freeze` lists (by id path prefix); of `network`'s
    graph, the names that start with it (`generator.1`; `generator` alone: all of it)."""
    train = spec.train if isinstance(spec.train, dict) else {}
    frozen = train.get("freeze") or []
    if not isinstance(frozen, list):
        return 0
    prefixes = [str(f) for f in frozen]
    if network is not None:
        if network in prefixes:
            return graph.params
        prefixes = [p[len(network) + 1:] for p in prefixes if p.startswith(network + ".")]
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
    header = ("layer", "kind", "output shape", "rf", "params", "MACs")
    body = [(("  " * min(r.depth, 8)) + r.name, r.kind, "(error: below)", "", "", "")
            if r.failed else
            (("  " * min(r.depth, 8)) + r.name, r.kind, fmt_shape(r.shape), _rf(r.rf),
             f"{r.params:,}", f"{r.macs:,}") for r in rows]
    inputs = [(name, "input", fmt_shape(i.shape), "", "", "") for name, i in
              report.graph.inputs.items()]
    cells = inputs + body
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(header)]
    right = {4, 5}

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


def _rf(rf: tuple[int, ...] | None) -> str:
    return "" if rf is None else "x".join(str(x) for x in rf)


def _totals(report: Report) -> list[str]:
    outs = ", ".join(f"{n} {fmt_shape(s)}" for n, s in report.outputs.items())
    frozen = report.params - report.trainable
    trainable = f"{report.trainable:,} trainable" + (f", {frozen:,} frozen" if frozen else "")
    sym = any(isinstance(d, str) for n in report.graph for d in n.shape)
    per = " (per step of symbolic dims)" if sym else ""
    n = len(report.graph.nodes)
    if report.graph.failures:       # a soft check: the totals are those of the layers inferred
        k = len(report.graph.failures)
        first = (f"{report.name}: {n} layer{'' if n == 1 else 's'} inferred; stopped by "
                 f"{k} shape error{'' if k == 1 else 's'} (below), at "
                 + ", ".join(f"{f.kind} '{f.name}'" for f in report.graph.failures))
    else:
        first = f"{report.name}: {n} layer{'' if n == 1 else 's'}; output {outs}"
    return [first,
            f"params      {report.params:,} ({human(report.params)}; {trainable})",
            f"MACs        {report.macs:,} ({human(report.macs)}){per}",
            f"memory      params {human(report.param_bytes, 'B')}, activations "
            f"{human(report.activation_bytes, 'B')} per sample (float32){per}"]


def render_json(report: Report | MultiReport) -> str:
    return json.dumps(report.to_json(), indent=2)


def render_networks(report: MultiReport, depth: int | None = None, explain: bool = False,
                    under: dict[str, str] | None = None) -> str:
    """Each network's table under a heading `== NAME ==` (and `under[NAME]` below it, when
    given), then the total parameters."""
    under = under or {}
    parts = [f"== {name} ==\n{render_table(r, depth, explain)}"
             + (f"\n{under[name]}" if name in under else "")
             for name, r in report.networks.items()]
    parts.append(f"{report.name}: {len(report.networks)} networks "
                 f"({', '.join(report.networks)}); params {report.params:,} in all")
    return "\n\n".join(parts)


__all__ = ["Report", "MultiReport", "Row", "check", "render_table", "render_json",
           "render_networks", "human"]
