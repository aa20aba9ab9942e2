"""Receptive fields: for every node with a spatial output, per spatial axis, the span of input
positions one output position reads (`rf`), the input distance between neighbouring output
positions (`jump`, the product of strides) and the input coordinate of the centre of output
position 0 (`start`; input pixel 0 is at 0).

Each kind says how its output positions read its input's (`netspec.kinds.footprint`); this
module follows those rules through the graph, branches and merges included. Along one axis, a
node's footprint is kept exactly: output position o reads input positions lo(o)..hi(o), with

    lo(o) = lo[o mod P] + (o div P) * step        (the same for hi)

P is 1 through convs and pools (the classic rf' = rf + (K-1)*jump), and grows through
upsampling and transposed convs, where the footprint changes from one position to the next; the
receptive field is then the largest footprint over the output's positions. Positions in the
padding count, as in torchvision's convention (ResNet-18's field is 435 on a 224 input).

A merge reads position o of each input, so its footprint is the union of theirs: the largest
field over all paths when the paths are centred alike (every network of the zoo), larger when
they are not. Its jump and start are those of that union; where the inputs' jumps differ (sizes
that floor differently on two paths) the union is not periodic, and the input with the largest
field gives rf, jump and start (DESIGN §3b's rule). An input broadcast along an axis (a
squeeze-and-excitation gate, [C, 1, 1]) and a non-spatial input (a global pool's output) read
a fixed interval for every position: it joins every later footprint.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction
from math import gcd
from typing import Any, Union

from netspec.graph.ir import Graph, Node
from netspec.kinds import kinds
from netspec.kinds.base import axis_names
from netspec.kinds.footprint import Along, Axes, Permute, Pointwise, Reads, Slide

MAX_PERIOD = 4096       # positions per period kept per axis; past it the footprint is dropped


@dataclass(frozen=True)
class AxisMap:
    """Output position o reads input positions lo(o)..hi(o) (see the module docstring), and
    also `fixed` (an interval every position reads), if any."""

    lo: tuple[int, ...]
    hi: tuple[int, ...]
    step: int
    fixed: tuple[int, int] | None = None

    @property
    def period(self) -> int:
        return len(self.lo)

    def lo_at(self, o: int) -> int:
        q, r = divmod(o, self.period)
        return self.lo[r] + q * self.step

    def hi_at(self, o: int) -> int:
        q, r = divmod(o, self.period)
        return self.hi[r] + q * self.step

    @property
    def slope(self) -> Fraction | int:
        p = len(self.lo)
        return self.step if p == 1 else Fraction(self.step, p)

    def span(self, o: int) -> tuple[int, int]:
        lo, hi = self.lo_at(o), self.hi_at(o)
        if self.fixed is not None:
            lo, hi = min(lo, self.fixed[0]), max(hi, self.fixed[1])
        return lo, hi

    def rf(self, size) -> int:
        """The largest footprint over the output's positions (one period if `size` is
        symbolic); lo and hi never decrease, so with `fixed` the ends are the extremes."""
        p = self.period
        if p == 1 and self.fixed is None:       # the common case, kept cheap
            return self.hi[0] - self.lo[0] + 1
        n = size if isinstance(size, int) else p
        positions = {*range(min(p, n)), *range(max(0, n - p), n)}
        return max(hi - lo + 1 for lo, hi in map(self.span, positions))

    def hull(self, size) -> tuple[int, int] | None:
        """Everything the positions 0..size-1 read (None for a symbolic size)."""
        if not isinstance(size, int):
            return None
        return self.span(0)[0], self.span(size - 1)[1]

    def then(self, reads: Reads) -> "AxisMap | None":
        """This footprint seen through `reads` (a layer's output positions reading ours)."""
        p = reads.period * (self.period // gcd(reads.shift, self.period))
        if p > MAX_PERIOD:
            return None
        lo = tuple(self.lo_at(reads.first(o)) for o in range(p))
        hi = tuple(self.hi_at(reads.last(o)) for o in range(p))
        # p output positions advance shift*p/period input positions: whole periods of ours
        step = self.step * (reads.shift * p // reads.period) // self.period
        return AxisMap(lo, hi, step, self.fixed)


IDENTITY = AxisMap((0,), (0,), 1)


@dataclass(frozen=True)
class Spatial:
    """A spatial output: the per-sample dims that are spatial axes, and each one's footprint."""

    axes: tuple[int, ...]
    maps: tuple[AxisMap, ...]


@dataclass(frozen=True)
class Flat:
    """A non-spatial output that read input intervals (per input axis; None: not known)."""

    hull: tuple[tuple[int, int] | None, ...]


State = Union[Spatial, Flat, None]      # None: reads no spatial input (a param, token ids)


# ---- the traversal ---------------------------------------------------------------------------

def annotate(graph: Graph) -> None:
    """Give every node its `rf`, `jump` and `start` (tuples per spatial axis, or None), and
    keep each node's footprint in `graph.receptive` (for `explain`)."""
    states: dict[str, State] = graph.receptive
    for name, inp in graph.inputs.items():
        states[name] = input_state(inp.shape, inp.dtype)
    seen: dict[tuple, dict] = {}      # a footprint passed on unchanged (relu, norm): its fields
    for name, node in list(graph.nodes.items()):
        state = node_state(node, [states[s] for s in node.inputs])
        states[name] = state
        if isinstance(state, Spatial):
            key = (id(state), tuple(node.shape[a] for a in state.axes))
            if key not in seen:
                seen[key] = fields(state, node.shape)
            graph.nodes[name] = replace(node, **seen[key])


def input_state(shape: tuple, dtype: str) -> State:
    """A float input [C, *S] with a known channel count is spatial along S (a `[seq, F]`
    sequence, whose first dim is symbolic, and token ids are not)."""
    if dtype != "float" or len(shape) < 2 or not isinstance(shape[0], int):
        return None
    return Spatial(tuple(range(1, len(shape))), (IDENTITY,) * (len(shape) - 1))


def fields(state: Spatial, shape: tuple) -> dict[str, tuple]:
    """Node fields rf, jump, start (jump and start are ints where whole, else Fractions)."""
    sizes = [shape[a] for a in state.axes]
    return {"rf": tuple(m.rf(n) for m, n in zip(state.maps, sizes)),
            "jump": tuple(_whole(m.slope) for m in state.maps),
            "start": tuple(_half(sum(m.span(0))) for m in state.maps)}


def node_state(node: Node, ins: list[State]) -> State:
    """The footprint of `node`'s output from its inputs' and its kind's rule."""
    kind = kinds()[node.kind]
    rule = kind.receptive(list(node.in_shapes), node.args) if kind.receptive else None
    if all(s is None for s in ins):
        return None
    if isinstance(rule, Pointwise):
        return _pointwise(rule, ins, node)
    first, shape = ins[0], node.in_shapes[0]
    if not isinstance(first, Spatial):
        return _flat(ins, node) if first is not None or len(ins) > 1 else None
    if isinstance(rule, Axes) and first.axes == tuple(range(1, len(shape))) \
            and len(rule.reads) == len(first.axes):
        maps = tuple(m.then(r) for m, r in zip(first.maps, rule.reads))
        return _flat(ins, node) if None in maps else Spatial(first.axes, maps)
    if isinstance(rule, Along):
        if rule.dim not in first.axes:
            return first
        i = first.axes.index(rule.dim)
        m = first.maps[i].then(rule.reads)
        return _flat(ins, node) if m is None else \
            Spatial(first.axes, (*first.maps[:i], m, *first.maps[i + 1:]))
    if isinstance(rule, Permute):
        moved = sorted((rule.order.index(a), m) for a, m in zip(first.axes, first.maps))
        return Spatial(tuple(a for a, _ in moved), tuple(m for _, m in moved))
    return _flat(ins, node)


def _pointwise(rule: Pointwise, ins: list[State], node: Node) -> State:
    """Output position p reads position p of every input: the union of their footprints."""
    rank = len(node.shape)
    if len(ins) == 1 and not rule.mixed and node.in_shapes[0] == node.shape:
        return ins[0]       # an activation, a norm: the footprint unchanged
    spatial: list[Spatial] = []
    fixed: list[Flat] = []
    for state, shape in zip(ins, node.in_shapes):
        if isinstance(state, Flat):
            fixed.append(state)
        elif isinstance(state, Spatial):
            lift = rank - len(shape)        # broadcasting aligns dims from the right
            axes = tuple(a + lift for a in state.axes)
            broadcast = [i for i, a in enumerate(state.axes)
                         if shape[a] == 1 and node.shape[a + lift] != 1]
            if broadcast or any(a in rule.mixed for a in axes):
                fixed.append(_flatten(state, shape))
            else:
                spatial.append(Spatial(axes, state.maps))
    if not spatial or len({s.axes for s in spatial}) > 1:
        return _flat(ins, node)
    maps = tuple(_union([s.maps[i] for s in spatial], node.shape[a])
                 for i, a in enumerate(spatial[0].axes))
    for flat in fixed:
        if len(flat.hull) == len(maps):
            maps = tuple(_join(m, h) for m, h in zip(maps, flat.hull))
    return Spatial(spatial[0].axes, maps)


def _union(maps: list[AxisMap], size) -> AxisMap:
    """Position o reads what o reads on every path; with differing jumps, the largest field."""
    if len({m.slope for m in maps}) > 1:
        return max(maps, key=lambda m: m.rf(size))
    if all(m == maps[0] for m in maps[1:]):    # paths alike (a residual's main and shortcut)
        return maps[0]
    p = maps[0].period
    for m in maps[1:]:
        p = p * m.period // gcd(p, m.period)
    if p > MAX_PERIOD:
        return max(maps, key=lambda m: m.rf(size))
    lo = tuple(min(m.lo_at(o) for m in maps) for o in range(p))
    hi = tuple(max(m.hi_at(o) for m in maps) for o in range(p))
    out = AxisMap(lo, hi, int(maps[0].slope * p))
    for m in maps:
        out = _join(out, m.fixed)
    return out


def _join(m: AxisMap, interval: tuple[int, int] | None) -> AxisMap:
    if interval is None:
        return m
    if m.fixed is not None:
        interval = (min(m.fixed[0], interval[0]), max(m.fixed[1], interval[1]))
    return replace(m, fixed=interval)


def _flatten(state: Spatial, shape: tuple) -> Flat:
    return Flat(tuple(m.hull(shape[a]) for a, m in zip(state.axes, state.maps)))


def _flat(ins: list[State], node: Node) -> State:
    """A non-spatial output: it read everything its inputs read."""
    hulls = [_flatten(s, shape) if isinstance(s, Spatial) else s
             for s, shape in zip(ins, node.in_shapes) if s is not None]
    if not hulls:
        return None
    n = len(hulls[0].hull)
    if any(len(h.hull) != n for h in hulls):
        return hulls[0]
    out = []
    for axis in zip(*(h.hull for h in hulls)):
        known = [iv for iv in axis if iv is not None]
        out.append((min(a for a, _ in known), max(b for _, b in known)) if known else None)
    return Flat(tuple(out))


def _whole(x: Fraction | int) -> Any:
    return x if isinstance(x, int) or x.denominator != 1 else x.numerator


def _half(x: int) -> Any:
    return x // 2 if x % 2 == 0 else Fraction(x, 2)


# ---- explanations ----------------------------------------------------------------------------

def explain(graph: Graph, node: Node) -> list[str]:
    """The arithmetic behind a node's receptive field: `rf: 46 + (4-1)*8 = 70` (one line for
    all axes when they agree), or what decided it (a merge, an upsampling)."""
    if node.rf is None:
        return []
    kind = kinds()[node.kind]
    rule = kind.receptive(list(node.in_shapes), node.args) if kind.receptive else None
    srcs = [graph.nodes.get(s) for s in node.inputs]
    spatial_in = [s for s in srcs if s is not None and s.rf is not None]
    inputs_rf = [s for s in node.inputs if s in graph.inputs
                 and isinstance(graph.receptive.get(s), Spatial)]
    if isinstance(rule, Pointwise):
        if len(spatial_in) + len(inputs_rf) > 1:
            fields_in = ", ".join(_size(s.rf) for s in spatial_in)
            return [f"rf: union of the inputs' ({fields_in}) = {_size(node.rf)}"]
        return []
    src = srcs[0] if srcs else None
    rf_in = src.rf if src is not None and src.rf is not None else (1,) * len(node.rf)
    jump_in = src.jump if src is not None and src.jump is not None else (1,) * len(node.rf)
    lines = []
    reads = rule.reads if isinstance(rule, Axes) else ()
    exact = src is None or all(m.period == 1 and m.fixed is None
                               for m in getattr(graph.receptive.get(src.name), "maps", ()))
    for r, ri, ji, ro, jo in zip(reads, rf_in, jump_in, node.rf, node.jump):
        formula = r.formula(ri, Fraction(ji)) if exact else None
        rf = f"{formula} = {ro}" if formula else f"{ro} (the largest over output positions)"
        step = f"{_n(ji)}*{r.stride}" if isinstance(r, Slide) else f"{_n(ji)}*{_n(r.scale())}"
        lines.append(f"rf: {rf}, jump: {step} = {_n(jo)}")
    if not lines:
        return [f"rf: {_size(node.rf)}, jump: {'x'.join(map(_n, node.jump))}"]
    if len(set(lines)) == 1:
        return lines[:1]
    names = axis_names(len(lines)) if len(lines) <= 3 else [str(i) for i in range(len(lines))]
    return [line.replace("rf:", f"rf {ax}:", 1) for ax, line in zip(names, lines)]


def _size(rf: tuple) -> str:
    return "x".join(str(x) for x in rf)


def _n(x) -> str:
    x = Fraction(x)
    return str(x.numerator) if x.denominator == 1 else f"{x.numerator}/{x.denominator}"


__all__ = ["annotate", "explain", "AxisMap", "Spatial", "Flat", "input_state", "node_state"]
