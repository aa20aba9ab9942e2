"""Located errors of block expansion: an entry's mistake, pointed at its YAML, with the chain of
blocks it came from; and a shape rule's refusal, told with the shapes that led to it.

    net.yaml:31:7: error: maxpool 'b5.pool' gets a 1x1 feature map; kernel 2 needs at least 2x2
      shape here: [512, 1, 1] (input 16x16 halved 4 times)
      hint: the input may be too small for this many downsampling layers; try `input: [3, 32, 32]`

And the lints: a warning for a spec that is valid but very likely not what was meant.
"""

from __future__ import annotations

import re
from typing import Any

from netspec.errors import Diagnostic, Location, SpecError
from netspec.graph.scope import Scope
from netspec.kinds.base import LayerKind, ShapeError, fmt_shape
from netspec.lang.located import LDict
from netspec.lang.schema import BlockDef, Entry, Parallel


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
    if tuple(first) == tuple(now):
        return ""
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


# ---- lints -------------------------------------------------------------------------------

_IN_CHANNELS = re.compile(r"\bin\s*(?:\.\s*channels\b|\[\s*['\"]channels['\"]\s*\])")


def render_warning(d: Diagnostic) -> str:
    """A lint in the compiler style: `file:line:col: warning: ...`, its hint and block chain."""
    return d.render().replace("error: ", "warning: ", 1)


def lint_in_channels(x: Any, bdef: BlockDef, e: Entry, inner: Scope, in_shape: tuple,
                     before: int) -> None:
    """Warn where a block body reads `in.channels` of a `[seq, F]` input: that is shape[0],
    the sequence length, where `in.features` (the last dim) was almost surely meant. A rank-2
    input is taken for a sequence when its first dim is symbolic (`seq`), or when the block
    holds a per-step linear map of a rank-2 input (a node keeping the leading dims, with
    F·O or F·O + O parameters for F features in, O out: what `linear` is)."""
    if len(in_shape) != 2:
        return
    users = [u for u in _entries(bdef.layers) if _reads_in_channels(u)]
    if not users or not (isinstance(in_shape[0], str) or _per_step_linear(x, before)):
        return
    for user in users:
        key = (user.loc, bdef.name)
        if key in x.linted:
            continue
        x.linted.add(key)
        x.graph.warnings.append(Diagnostic(
            f"`in.channels` in block `{bdef.name}` is {in_shape[0]}, the first dim of its "
            f"input {fmt_shape(in_shape)}: on a sequence that is its length, not its features",
            user.loc, "for the last dim write `in.features`; for the output of the layer "
            "above, `prev.features`", (), inner.chain))


def _entries(entries: tuple) -> list[Entry]:
    """The entries of a block body, parallel branches included (not the blocks it uses)."""
    out = []
    for entry in entries:
        out.append(entry)
        if isinstance(entry.args, Parallel):
            for branch in entry.args.branches:
                out += _entries(branch)
    return out


def _reads_in_channels(entry: Entry) -> bool:
    values = [entry.args, entry.if_, entry.repeat, *(entry.from_ or ())]
    while values:
        v = values.pop()
        if isinstance(v, str) and v.startswith("$") and _IN_CHANNELS.search(v):
            return True
        if isinstance(v, dict):
            values.extend(v.values())
        elif isinstance(v, (list, tuple)):
            values.extend(v)
    return False


def _per_step_linear(x: Any, before: int) -> bool:
    """Whether a node added since node number `before` maps the last dim of a rank-2 input."""
    for node in list(x.graph.nodes.values())[before:]:
        if len(node.in_shapes) != 1 or len(node.in_shapes[0]) != 2 or len(node.shape) != 2:
            continue
        (lead, f), (lead_out, o) = node.in_shapes[0], node.shape
        if lead == lead_out and isinstance(f, int) and isinstance(o, int) \
                and node.params in (f * o, f * o + o) and node.params:
            return True
    return False
