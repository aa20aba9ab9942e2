"""Located errors of block expansion: an entry's mistake, pointed at its YAML, with the chain of
blocks it came from; and a shape rule's refusal, told with the shapes that led to it.

    net.yaml:31:7: error: maxpool 'b5.pool' gets a 1x1 feature map; kernel 2 needs at least 2x2
      shape here: [512, 1, 1] (input 16x16 halved 4 times)
      hint: the input may be too small for this many downsampling layers; try `input: [3, 32, 32]`
"""

from __future__ import annotations

from netspec.errors import Location, SpecError
from netspec.graph.scope import Scope
from netspec.kinds.base import LayerKind, ShapeError, fmt_shape
from netspec.lang.located import LDict
from netspec.lang.schema import Entry


def entry_error(e: Entry, scope: Scope, message: str, loc: Location | None = None,
                hint: str | None = None, notes: tuple = ()) -> SpecError:
    """A mistake of entry `e`, at `loc` (default: where the entry starts), inside `scope`'s blocks."""
    return SpecError(message, loc or e.loc, hint, notes, scope.chain)


def loc_of(e: Entry, key: str) -> Location | None:
    """Where the value of `e`'s key `key` (`from`, `repeat`, ...) is written, else the entry."""
    if isinstance(e.raw, LDict) and key in e.raw:
        return e.raw.value_locs.get(key)
    return e.loc


def shape_error(err: ShapeError, kind: LayerKind, name: str, e: Entry, scope: Scope,
                in_shapes: tuple, srcs: list[str], first_input: tuple) -> SpecError:
    """Layer `name`'s shape rule refused `in_shapes`: the message with the shapes here; for a
    map too small, how far the layers above shrank `first_input` and how big it should be."""
    shape_here = f"shape here: {' and '.join(fmt_shape(s) for s in in_shapes)}"
    hint = err.hint
    if err.too_small:
        shape_here += _reduction(first_input[1:], in_shapes[0][1:])
        scale = _scale_needed(err.need, in_shapes[0][1:])
        bigger = [first_input[0],
                  *(d * scale if isinstance(d, int) else d for d in first_input[1:])]
        hint = hint or (f"the input may be too small for this many downsampling layers; "
                        f"try `input: {bigger}` or drop a downsampling layer")
    if kind.arity is None and len(srcs) == len(in_shapes):     # a merge: whose shapes
        shape_here = "from: " + ", ".join(f"{s} {fmt_shape(x)}"
                                           for s, x in zip(srcs, in_shapes))
    notes = [shape_here, *err.notes]
    return entry_error(e, scope, f"{kind.name} '{name}' {err.message}", e.kind_loc, hint,
                       tuple(notes))


def _reduction(first: tuple, now: tuple) -> str:
    """' (input 32x32 halved 5 times)': how far the layers above shrank the input."""
    if len(first) != len(now) or not all(isinstance(d, int) for d in (*first, *now)):
        return ""
    size = "x".join(map(str, first))
    ratios = {a / b for a, b in zip(first, now)}
    if len(ratios) == 1:
        r = ratios.pop()
        if r > 1 and r.is_integer() and int(r) & (int(r) - 1) == 0:
            n = int(r).bit_length() - 1
            return f" (input {size} halved {n} time{'s' if n > 1 else ''})"
    return f" (input {size} reduced to {'x'.join(map(str, now))})"


def _scale_needed(need: tuple, now: tuple) -> int:
    """The power of 2 by which the input must grow for this layer to fit (at least 2)."""
    ratio = max((n / d for n, d in zip(need, now) if isinstance(d, int) and d > 0), default=2)
    scale = 2
    while scale < ratio:
        scale *= 2
    return scale
