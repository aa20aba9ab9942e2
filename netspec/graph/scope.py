"""What names mean while one list of entries is expanded: the scope of `$name`, `in`, `prev`
and ids.

Inside a block, `$name` sees the block's parameters everywhere in its body (parallel branches
included); `in` is the block's own (first) input, fixed for the whole body, and each input of
a multi-input block is also a name (`skip.channels`) and an id (`from: skip`); `prev` is the
entry's own input (the entry above, or the first of its `from:`), so it changes from entry to
entry. Ids are local to one use of the block; a parallel branch sees the ids above it, and its
own ids only inside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from netspec.errors import BlockUse, Location
from netspec.graph.ir import Group

UNKNOWN = "<unknown>"        # the output of an entry that failed: dependants are skipped


@dataclass
class Scope:
    """What names mean inside one list of entries."""

    prefix: str                                   # "" at the top, "stage1.0." in a block
    env: dict[str, Any]                           # `$name` values, `in`, `prev`
    ids: dict[str, str]                           # id -> node name
    input: str | None                             # what `from: input` names
    chain: tuple[BlockUse, ...] = ()
    groups: tuple[Group, ...] = ()
    init: str | None = None
    pending: set[str] = field(default_factory=set)   # ids written further down this list
    defined: dict[str, Location | None] = field(default_factory=dict)  # ids present, where
    left_out: dict[str, str] = field(default_factory=dict)  # ids left out: why, in words
    using: frozenset[str] = frozenset()           # the blocks of `chain`: one may not use itself


def in_info(shape: tuple) -> dict[str, Any]:
    """What an input means in an expression (`in`, `prev`, a block input `skip`), batch
    excluded: `.shape`; `.channels` = shape[0] (channels first: `[C, H, W]`, but the sequence
    length on `[seq, F]`); `.features` = shape[-1], the last dim (what `linear` maps)."""
    return {"channels": shape[0] if shape else None, "features": shape[-1] if shape else None,
            "shape": list(shape)}


def set_prev(scope: Scope, shape: tuple | None) -> None:
    """Make `prev` in `scope`'s expressions the input shape of the entry about to be expanded
    (no `prev` when that input is not known)."""
    if shape is None:
        scope.env.pop("prev", None)
    else:
        scope.env["prev"] = in_info(shape)
