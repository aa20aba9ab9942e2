"""Drawing's columns: where a long diagram wraps, and the clusters each column holds.

A network deeper than a page is cut into columns at points where one box feeds everything
that follows (nothing else crosses the cut), so the next column starts from one labelled
connector. A cut may fall inside a block: that block's cluster is then drawn once per column,
the later parts titled "(continued)" — a 400-layer DenseNet has one top-level block, and a
column of its three classifier layers beside the input reads as if they came first. Cuts
never fall inside one copy of a folded repeat (the copy is drawn once, for all N).
Torch- and graphviz-free.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from netspec.drawing.layout import OUT, Box, Diagram, folds
from netspec.graph.ir import Group

# a cut one cluster deeper must come this many boxes closer to the ideal depth to be chosen:
# columns that end between top-level entries read better than ones that split a block
LEVEL_COST = 2


@dataclass(frozen=True)
class Cut:
    """After box `tail` the diagram goes on in a new column; `rank` is the tail's depth in
    boxes (longest path from an input), `level` the clusters the cut splits."""

    tail: str
    rank: int
    level: int


def wrap_cuts(diagram: Diagram, columns: int | None, most: int, per_column: int,
              expand: bool = False) -> list[Cut]:
    """The cuts of a diagram into columns, in order. Without `columns`, a diagram deeper than
    `most` boxes wraps into columns about `per_column` deep; with it, into at most `columns`.
    Cut k goes where rank + LEVEL_COST × level is nearest k × depth / columns."""
    rank = _ranks(diagram)
    total = max(rank.values(), default=0)
    columns = columns or (1 if total <= most else math.ceil(total / per_column))
    if columns <= 1:
        return []
    candidates = [Cut(tail, rank[tail], level) for tail, level in _single_tail_cuts(diagram,
                                                                                   expand)]
    chosen: list[Cut] = []
    for k in range(1, columns):
        if not candidates:          # each column takes one: `--columns 10**9` ends here
            break
        best = min(candidates, key=lambda c: abs(c.rank - k * total / columns)
                   + LEVEL_COST * c.level)
        chosen.append(best)
        candidates = [c for c in candidates if c.rank > best.rank]
    return chosen


def _ranks(diagram: Diagram) -> dict[str, int]:
    ins: dict[str, list[str]] = {}
    for tail, head in diagram.edges:
        ins.setdefault(head, []).append(tail)
    rank: dict[str, int] = {}
    for key in [*diagram.graph.inputs, *diagram.boxes]:     # in execution order
        rank[key] = max((rank[t] + 1 for t in ins.get(key, ())), default=0)
    return rank


def _single_tail_cuts(diagram: Diagram, expand: bool) -> list[tuple[str, int]]:
    """(tail, level) for each gap between consecutive boxes (execution order) that only edges
    from one box cross, and that splits no folded repeat: one sweep over the gaps."""
    keys = list(diagram.boxes)
    pos = {k: i for i, k in enumerate(keys)}
    reach: dict[str, float] = {}            # tail -> position of its last head
    for tail, head in diagram.edges:
        end = math.inf if head.startswith(OUT) else pos.get(head, -1)
        reach[tail] = max(reach.get(tail, -1), end)
    leaving: dict[float, list[str]] = {}
    open_tails = set()
    for tail, end in reach.items():
        start = pos.get(tail, -1)           # a network input: before every box
        if end > start:
            if start < 0:
                open_tails.add(tail)
            leaving.setdefault(end, []).append(tail)
    out = []
    for i, key in enumerate(keys[:-1]):
        if reach.get(key, -1) > i:
            open_tails.add(key)
        open_tails.difference_update(leaving.get(i, ()))
        if len(open_tails) != 1 or key not in open_tails:
            continue
        shared = _shared_clusters(diagram.boxes[key], diagram.boxes[keys[i + 1]])
        if not any(folds(g, expand) for g in shared):
            out.append((key, len(shared)))
    return out


def _shared_clusters(a: Box, b: Box) -> list[Group]:
    shared = []
    for x, y in zip(a.clusters, b.clusters):
        if x.name != y.name:
            break
        shared.append(x)
    return shared


@dataclass
class Cluster:
    """A group drawn as a cluster (the root: None) and what it holds; `part` > 0 for the
    part of a block that goes on in a later column."""

    group: Group | None
    items: list = field(default_factory=list)     # boxes and clusters, in execution order
    part: int = 0


def cluster_tree(diagram: Diagram, cuts: list[Cut] = ()) -> Cluster:
    """The boxes nested in their clusters, outermost first, in execution order; a cluster
    that `cuts` split is one Cluster per column it spans."""
    root = Cluster(None)
    tails = {c.tail for c in cuts}
    column = 0
    first: dict[tuple[str, ...], int] = {}     # cluster path -> the column it starts in
    index: dict[tuple[str, ...], Cluster] = {(): root}
    for box in diagram.boxes.values():
        parent, path = root, ()
        for g in box.clusters:
            path += (g.name,)
            if path not in index:
                index[path] = Cluster(g, part=column - first.setdefault(path, column))
                parent.items.append(index[path])
            parent = index[path]
        parent.items.append(box)
        if box.key in tails:       # what follows goes into new clusters, in the next column
            column += 1
            index = {(): root}
    return root


__all__ = ["Cut", "wrap_cuts", "Cluster", "cluster_tree", "LEVEL_COST"]
