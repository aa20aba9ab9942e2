"""Merges of two inputs or more: `add`, `mul` (element-wise, broadcasting) and `concat`.

They have no parameters and compile to plain function calls (`torch.cat`, `+`, `*`)."""

from __future__ import annotations

from netspec.kinds.argtypes import Args, Int
from netspec.kinds.base import LayerKind, ShapeError, fmt_shape, register

# a merge hides which activation follows from the layers feeding it (init keeps torch's default)
MERGE = {"family": "merge", "arity": None, "init_role": None}


def _broadcast(ins, kind: str):
    """torch's broadcasting over the per-sample shapes (the batch dim is shared, so ranks must
    match): each dim equal, or 1 on one side.

    >>> _broadcast([(64, 8, 8), (64, 1, 1)], "add")
    (64, 8, 8)
    """
    ranks = {len(s) for s in ins}
    shapes = " and ".join(fmt_shape(s) for s in ins)
    if len(ranks) != 1:
        raise ShapeError(f"gets inputs of different ranks: {shapes}",
                         hint="reshape one input so both have the same number of dims")
    out = []
    for dims in zip(*ins):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ShapeError(f"gets shapes that do not match: {shapes}",
                             hint="a shortcut needs a projection when channels or strides "
                                  "change (a 1x1 conv with the same stride)")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _elementwise(name: str, op_name: str, doc: str) -> None:
    def emit(graph, nodes, a):
        import operator

        op = getattr(operator, op_name)
        acc = nodes[0]
        for node in nodes[1:]:
            acc = graph.call_function(op, (acc, node))
        return acc

    register(LayerKind(name=name, args=Args, shape=lambda ins, a: _broadcast(ins, name),
                       build=None, doc=doc, emit=emit, **MERGE))


_elementwise("add", "add", "Element-wise sum of its inputs (broadcasting as torch).")
_elementwise("mul", "mul", "Element-wise product of its inputs (broadcasting as torch).")


class ConcatArgs(Args):
    dim: Int = 1


def _concat_shape(ins, a: ConcatArgs):
    """All inputs agree except along `dim` (counted with the batch as 0), where sizes add up.

    >>> _concat_shape([(64, 8, 8), (32, 8, 8)], ConcatArgs())
    (96, 8, 8)
    """
    rank = len(ins[0])
    shapes = " and ".join(fmt_shape(s) for s in ins)
    if any(len(s) != rank for s in ins):
        raise ShapeError(f"gets inputs of different ranks: {shapes}")
    if not -(rank + 1) <= a.dim <= rank or a.dim % (rank + 1) == 0:
        raise ShapeError(f"has dim {a.dim}, outside the sample dims 1..{rank} "
                         f"(dims count the batch as 0)", hint="dim 1 is channels")
    d = a.dim % (rank + 1) - 1
    for i in range(rank):
        if i != d and len({s[i] for s in ins}) > 1:
            raise ShapeError(f"gets shapes that differ outside dim {a.dim}: {shapes}",
                             hint="concat joins along one dim; the others must be equal "
                                  "(check strides and padding of the branches)")
    sizes = [s[d] for s in ins]
    joined = sum(sizes) if all(isinstance(x, int) for x in sizes) else "+".join(map(str, sizes))
    return (*ins[0][:d], joined, *ins[0][d + 1:])


def _concat_emit(graph, nodes, a: ConcatArgs):
    import torch

    return graph.call_function(torch.cat, (list(nodes), a.dim))


register(LayerKind(name="concat", args=ConcatArgs, shape=_concat_shape, main="dim",
                   emit=_concat_emit, **MERGE,
                   doc="Concatenation of its inputs along `dim` (default 1, the channels), "
                       "as torch.cat."))
