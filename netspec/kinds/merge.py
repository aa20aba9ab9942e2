"""Merges of two inputs or more: `add`, `sub`, `mul`, `div` (element-wise, broadcasting) and
`concat`; and `matmul`, the matrix product of two inputs.

They have no parameters and compile to plain function calls (`torch.cat`, `+`, `-`, `*`, `/`,
`torch.matmul`)."""

from __future__ import annotations

from pydantic import Field

from netspec.kinds.argtypes import Args, Int
from netspec.kinds.base import LayerKind, ShapeError, fmt_shape, numel, register
from netspec.kinds.footprint import mixing, pointwise

# a merge hides which activation follows from the layers feeding it (init keeps torch's default)
MERGE = {"family": "merge", "arity": None, "init_role": None}

RANK_HINT = ("every input carries the batch as dim 0, so per-sample shapes broadcast only at "
             "the same rank: give the smaller one leading 1s (a param `shape: [1, 768]` "
             "beside [197, 768]), or reshape it")


def broadcast(ins, kind: str):
    """torch's broadcasting of the inputs' full shapes [batch, *sample]: dims aligned from the
    right, each pair equal or 1 on one side (the output takes the other).

    The batch dim is part of every input, and its size is any: a per-sample rank-1 [768]
    beside [197, 768] puts the batch of the first against the 197 of the second, which torch
    refuses for every batch but 1 (or 197). So per-sample ranks must match; the message says
    how torch lined the dims up.

    >>> broadcast([(64, 8, 8), (64, 1, 1)], "add")
    (64, 8, 8)
    >>> broadcast([(1, 4, 4), (8, 4, 1)], "mul")
    (8, 4, 4)
    """
    shapes = " and ".join(fmt_shape(s) for s in ins)
    ranks = sorted({len(s) for s in ins})
    if len(ranks) != 1:
        low = min(ins, key=len)
        high = max(ins, key=len)
        facing = high[len(high) - len(low) - 1]
        raise ShapeError(f"gets inputs of different ranks: {shapes}; with the batch dim, torch "
                         f"lines the batch of {fmt_shape(low)} up with the size {facing} of "
                         f"{fmt_shape(high)}, which holds for no batch size but that one",
                         hint=RANK_HINT)
    out = []
    for axis, dims in enumerate(zip(*ins), start=1):
        sizes = {d for d in dims if d != 1}
        if len(sizes) > 1:
            raise ShapeError(f"gets shapes that do not match: {shapes} (dim {axis}, "
                             f"counting the batch as 0: {' vs '.join(map(str, dims))}; each "
                             f"must be equal or 1)",
                             hint="a shortcut needs a projection when channels or strides "
                                  "change (a 1x1 conv with the same stride); a per-channel "
                                  "factor is [C, 1, 1]")
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)


def _elementwise(name: str, op_name: str, doc: str) -> None:
    def emit(graph, nodes, a, ins=None):
        import operator

        op = getattr(operator, op_name)
        acc = nodes[0]
        for node in nodes[1:]:        # left to right: sub and div take the first minus the rest
            acc = graph.call_function(op, (acc, node))
        return acc

    # element-wise ops count no MACs (as torchvision's and fvcore's counters)
    register(LayerKind(name=name, args=Args, shape=lambda ins, a: broadcast(ins, name),
                       build=None, doc=doc, emit=emit, receptive=pointwise, **MERGE))

_elementwise("add", "add", "Element-wise sum of its inputs, broadcasting per-sample shapes as "
             "torch does ([C, H, W] + [C, 1, 1]).")
_elementwise("sub", "sub", "Element-wise difference, first input minus the others in `from:` "
             "order, broadcasting as torch.")
_elementwise("mul", "mul", "Element-wise product of its inputs, broadcasting as torch "
             "([C, H, W] * [C, 1, 1]: squeeze-and-excitation, layer scale).")
_elementwise("div", "truediv", "Element-wise quotient, first input divided by the others in "
             "`from:` order, broadcasting as torch.")


class ConcatArgs(Args):
    dim: Int = Field(1, description="the dim joined along, counting the batch as 0 (1: channels)")


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


def _concat_emit(graph, nodes, a: ConcatArgs, ins=None):
    import torch

    return graph.call_function(torch.cat, (list(nodes), a.dim))


register(LayerKind(name="concat", args=ConcatArgs, shape=_concat_shape, main="dim",
                   emit=_concat_emit, **MERGE,
                   receptive=lambda ins, a: mixing(a.dim, len(ins[0])),
                   doc="Concatenation of its inputs along `dim` (default 1, the channels), "
                       "as torch.cat."))


# ---- matmul -------------------------------------------------------------------------------

def _matmul_shape(ins, a):
    """torch.matmul of each sample's two tensors a @ b (the batch is dim 0 of both):

    [n] @ [n] -> []; [n] @ [*, n, m] -> [*, m]; [*, m, n] @ [n] -> [*, m];
    [*A, m, n] @ [*B, n, p] -> [broadcast(A, B), m, p], leading dims broadcast as torch
    (aligned from the right, equal or 1).

    >>> _matmul_shape([(12, 5, 64), (12, 64, 7)], None)
    (12, 5, 7)
    >>> _matmul_shape([(3, 1, 4, 6), (2, 6, 5)], None)
    (3, 2, 4, 5)
    """
    x, y = ins
    both = f"{fmt_shape(x)} @ {fmt_shape(y)}"
    if not x or not y:
        raise ShapeError(f"gets a scalar per sample: {both}; matmul needs a vector or a "
                         f"matrix on each side", hint="use `mul` to scale by a scalar")
    xm = (1, *x) if len(x) == 1 else x
    ym = (*y, 1) if len(y) == 1 else y
    if xm[-1] != ym[-2]:
        raise ShapeError(f"gets shapes whose inner dims differ: {both} ({xm[-1]} vs "
                         f"{ym[-2]}: the last dim of the first must equal the second-to-last "
                         f"of the second)",
                         hint="transpose one side with `permute` (dims count the batch as 0), "
                              "or project it with a linear layer")
    lead_x, lead_y = xm[:-2], ym[:-2]
    n = max(len(lead_x), len(lead_y))
    lead_x = (1,) * (n - len(lead_x)) + lead_x
    lead_y = (1,) * (n - len(lead_y)) + lead_y
    lead = []
    for dx, dy in zip(lead_x, lead_y):
        if dx != dy and 1 not in (dx, dy):
            raise ShapeError(f"gets leading dims that do not broadcast: {both} ({dx} vs {dy}; "
                             f"each must be equal or 1)",
                             hint="the dims before the last two pair up from the right "
                                  "(heads with heads); reshape one side so they match or are 1")
        lead.append(dy if dx == 1 else dx)
    out = [*lead]
    if len(x) > 1:
        out.append(xm[-2])
    if len(y) > 1:
        out.append(ym[-1])
    return tuple(out)


def _matmul_macs(ins, a, out):
    """One multiply-accumulate per output element and inner index."""
    inner = ins[0][-1]
    return numel(out) * (inner if isinstance(inner, int) else 1)


def _matmul_emit(graph, nodes, a, ins=None):
    import torch

    x, y = nodes
    rx, ry = (len(s) for s in ins)
    # per-sample semantics on batched tensors: vectors become matrices and the lower-rank side
    # gets 1s after the batch dim, so torch broadcasts the per-sample leading dims only
    if rx == 1:
        x = graph.call_method("unsqueeze", (x, -2))
    if ry == 1:
        y = graph.call_method("unsqueeze", (y, -1))
    mx, my = max(rx, 2), max(ry, 2)
    for _ in range(my - mx):
        x = graph.call_method("unsqueeze", (x, 1))
    for _ in range(mx - my):
        y = graph.call_method("unsqueeze", (y, 1))
    out = graph.call_function(torch.matmul, (x, y))
    if rx == 1:
        out = graph.call_method("squeeze", (out, -2))
    if ry == 1:
        out = graph.call_method("squeeze", (out, -1))
    return out


register(LayerKind(name="matmul", args=Args, shape=_matmul_shape, macs=_matmul_macs,
                   emit=_matmul_emit, family="merge", arity=2, init_role=None,
                   doc="Matrix product of two inputs per sample, as torch.matmul "
                       "(`from: [a, b]` gives a @ b; leading dims broadcast)."))
