"""The located tree: YAML mappings and sequences that remember where each piece was written.

The YAML loader builds it; everything after it (validation, entry parsing, block expansion)
turns a path into `file:line:col` with the helpers here, and never reads the file again.
"""

from __future__ import annotations

from collections.abc import Hashable

from netspec.errors import Location


class LDict(dict):
    """A YAML mapping that remembers where it starts, where each key is written, where each
    value starts, and which values are quoted scalars (their text starts one column on)."""

    quoted: frozenset | set = frozenset()   # shared while empty: most mappings quote nothing

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.loc: Location | None = None
        self.key_locs: dict = {}
        self.value_locs: dict = {}


class LList(list):
    """A YAML sequence that remembers where it starts, where each item starts, and which
    items are quoted scalars (by index)."""

    quoted: frozenset | set = frozenset()

    def __init__(self, *args):
        super().__init__(*args)
        self.loc: Location | None = None
        self.item_locs: list = []


def locate(root, path: tuple, default: Location | None = None) -> Location | None:
    """Where the deepest element of `path` (keys and indices, like a pydantic error `loc`)
    reachable from `root` is written; the walk stops at the first element that is not there."""
    where = getattr(root, "loc", None) or default
    node = root
    for step in path:
        if isinstance(node, LDict) and isinstance(step, Hashable) and step in node:
            where = node.value_locs.get(step, where)
        elif isinstance(node, LList) and isinstance(step, int) and not isinstance(step, bool) \
                and -len(node) <= step < len(node):
            where = node.item_locs[step]
        else:
            break
        node = node[step]
    return where


def key_location(d: LDict, key) -> Location:
    """Where `key` is written in mapping `d` (where the mapping starts if unknown)."""
    key_locs = getattr(d, "key_locs", {})
    return key_locs[key] if isinstance(key, Hashable) and key in key_locs else getattr(d, "loc", None)


def value_location(container, key) -> Location | None:
    """Where the value `container[key]` starts (its opening quote, if quoted); None when
    `container` is not located or has no such key."""
    if isinstance(container, LDict):
        return container.value_locs.get(key)
    if isinstance(container, LList) and isinstance(key, int) and 0 <= key < len(container.item_locs):
        return container.item_locs[key]
    return None


def text_location(container, key, offset: int = 0) -> Location | None:
    """Where character `offset` of the scalar text `container[key]` is written: inside its
    quotes when quoted. Columns only: a scalar is taken to be on one line."""
    loc = value_location(container, key)
    if loc is None:
        return None
    quoted = isinstance(key, Hashable) and key in container.quoted
    return Location(loc.file, loc.line, loc.col + offset + (1 if quoted else 0))
