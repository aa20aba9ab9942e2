"""What the box of a folded block still says about its inside: its skip and its scale.

A block folded by `depth` hides its layers, but a reader of a ResNet figure expects two facts
about each block: whether its input also bypasses it (the residual arrow), and whether it
shrinks the feature map (the "/2" of a downsampling block). Torch- and graphviz-free.

- skip: the block has one source S outside it and ends in residual units: its last merge (a
  kind taking two or more inputs) takes exactly two inputs whose chains of single-input
  layers lead back to the same fork, one through fewer than half as many layers as the other
  (zero: an identity skip `add(x, f(x))`; conv + batchnorm: a projection). The fork is S, or
  an earlier merge that is itself such a unit, and so on back to S: a pre-norm transformer
  block (`x + attn(x)`, then `+ mlp`) has 2 skips, a stage of 2 residual blocks 2.
- scale: the block's spatial output is its input's divided by one integer k ≥ 2 on every axis,
  rounding up or down (`ceil(H/k)` or `floor(H/k)`): "/k".
"""

from __future__ import annotations

from dataclasses import dataclass

from netspec.graph.ir import Graph
from netspec.kinds import Shape, kinds


@dataclass(frozen=True)
class Skip:
    """The bypass of a folded block: the merge it joins, the layers on the skip that leaves
    the block's input (none: identity), and how many residual units the block chains."""

    source: str
    merge: str
    via: tuple[str, ...] = ()
    count: int = 1


def skip_of(graph: Graph, members: list[str]) -> Skip | None:
    """The skip of the block whose nodes are `members` (execution order), or None."""
    inside = set(members)
    sources = list(dict.fromkeys(s for m in members for s in graph.nodes[m].inputs
                                 if s not in inside))
    merges = [m for m in members if kinds()[graph.nodes[m].kind].arity is None]
    if len(sources) != 1 or not merges:
        return None
    merge, count = merges[-1], 0
    while True:
        unit = _residual(graph, inside, merge)
        if unit is None:
            return None
        fork, via = unit
        count += 1
        if fork == sources[0]:
            return Skip(fork, graph.nodes[merges[-1]].kind, via, count)
        merge = fork        # an earlier merge: it must be a residual unit too


def _residual(graph: Graph, inside: set[str], merge: str) -> tuple[str, tuple[str, ...]] | None:
    """(fork, kinds on the skip) when `merge` adds a short path to a long one from one fork."""
    node = graph.nodes[merge]
    if len(node.inputs) != 2 or kinds()[node.kind].arity is not None:
        return None
    (fork_a, a), (fork_b, b) = (_trail(graph, inside, s) for s in node.inputs)
    if fork_a != fork_b:        # an inside fork is checked as a merge by the caller
        return None
    short, long = sorted((a, b), key=len)
    if 2 * len(short) >= len(long):
        return None
    return fork_a, tuple(graph.nodes[n].kind for n in reversed(short))


def _trail(graph: Graph, inside: set[str], name: str) -> tuple[str, list[str]]:
    """Back from `name` through single-input layers of the block that are not merges: the
    node it stops at (a merge, or outside the block) and the layers passed."""
    passed = []
    while name in inside:
        node = graph.nodes[name]
        if kinds()[node.kind].arity is None or len(node.inputs) != 1:
            break
        passed.append(name)
        name = node.inputs[0]
    return name, passed


def scale_of(before: Shape, after: Shape) -> int | None:
    """k when `after`'s spatial axes are `before`'s divided by k ≥ 2 (rounded either way):
    [64, 56, 56] -> [128, 28, 28] is 2; channels (the first axis) are not looked at."""
    if len(before) != len(after) or len(before) < 2:
        return None
    pairs = list(zip(before[1:], after[1:]))
    if not all(isinstance(a, int) and isinstance(b, int) and b > 0 for a, b in pairs):
        return None
    k = round(pairs[0][0] / pairs[0][1])
    if k < 2:
        return None
    if all(b in (a // k, -(-a // k)) for a, b in pairs):
        return k
    return None


__all__ = ["Skip", "skip_of", "scale_of"]
