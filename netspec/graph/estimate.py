"""Lower bounds on what expanding an entry costs, read from the spec alone.

Expansion is bounded (MAX_NODES layers, MAX_WORK entries visited), but reaching a bound by
expanding costs time in proportion to the bound: 100,000 layers take seconds. Blocks that use
blocks multiply, so the size of a use is known before any of it is expanded, from what is
written: a block's body, literal `repeat:` counts, parallels' branches. Anything that can make
an entry smaller (an `if:`, a `repeat:` from an expression, a kind named by `$act`) counts as
its smallest, so the figures are lower bounds: an entry refused on them would have crossed the
bound when expanded.

    nodes(e) = copies(e) * (1 for a layer | nodes(body) for a block | sum(branches) + 1)
    work(e)  = 1 + copies(e) * work(body)        # the entry itself, then what it expands to

copies(e) is its literal `repeat:` (1 without one), 0 when `if:` or `repeat:` is an expression.
"""

from __future__ import annotations

from netspec.lang.schema import BlockDef, Entry, Parallel


class Estimates:
    """Lower bounds for entries, the bodies of `blocks` computed once each (a block that uses
    itself counts 0 while it is being measured: recursion is reported by expansion)."""

    def __init__(self, blocks: dict[str, BlockDef], layer_kinds) -> None:
        self.blocks = blocks
        self.layer_kinds = layer_kinds
        self._body: dict[str, tuple[int, int]] = {}

    def entry(self, e: Entry) -> tuple[int, int]:
        """(nodes, work) at least, for one entry with all its copies."""
        copies = _copies(e)
        if copies == 0:
            return 0, 1
        nodes, work = self.one(e)
        return copies * nodes, 1 + copies * work

    def one(self, e: Entry) -> tuple[int, int]:
        """(nodes, work) at least, for one copy of the entry, what its `if:` and `repeat:`
        say aside; work counts the entries inside it, not the entry itself."""
        if isinstance(e.args, Parallel):
            nodes, work = 1, 0
            for branch in e.args.branches:
                n, w = self.entries(branch)
                nodes, work = nodes + n, work + w
            return nodes, work
        if e.kind in self.layer_kinds:
            return 1, 0
        if e.kind in self.blocks:
            return self.body(e.kind)
        return 0, 0                 # a kind named by `$act`, or unknown: reported elsewhere

    def entries(self, entries: tuple[Entry, ...]) -> tuple[int, int]:
        nodes = work = 0
        for e in entries:
            n, w = self.entry(e)
            nodes, work = nodes + n, work + w
        return nodes, work

    def body(self, name: str) -> tuple[int, int]:
        if name not in self._body:
            self._body[name] = (0, 0)            # in progress: a recursive use adds nothing
            self._body[name] = self.entries(self.blocks[name].layers)
        return self._body[name]


def _copies(e: Entry) -> int:
    """How many copies the entry surely makes: 0 when an expression may leave it out."""
    if e.if_ is not None and e.if_ is not True:
        return 0
    if e.repeat is None:
        return 1
    if isinstance(e.repeat, bool) or not isinstance(e.repeat, int):
        return 0
    return max(e.repeat, 0)
