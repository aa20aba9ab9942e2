"""What names mean while one list of entries is expanded: the scope of `$name`, `in` and ids.

Inside a block, `$name` sees the block's parameters everywhere in its body (parallel branches
included), `in` is the block's own input, and ids are local to one use of the block; a
parallel branch sees the ids above it, and its own ids only inside it.
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
    env: dict[str, Any]                           # `$name` values, and `in`
    ids: dict[str, str]                           # id -> node name
    input: str | None                             # what `from: input` names
    chain: tuple[BlockUse, ...] = ()
    groups: tuple[Group, ...] = ()
    init: str | None = None
    pending: set[str] = field(default_factory=set)   # ids written further down this list
    defined: dict[str, Location | None] = field(default_factory=dict)  # ids present, where
    left_out: dict[str, str] = field(default_factory=dict)  # ids whose `if:` was false: the if
    using: frozenset[str] = frozenset()           # the blocks of `chain`: one may not use itself


def in_info(shape: tuple) -> dict[str, Any]:
    """What `in` means in an expression: `in.channels` and `in.shape` of a block's input."""
    return {"channels": shape[0] if shape else None, "shape": list(shape)}
