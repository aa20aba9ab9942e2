"""Go to definition: from a block's use to where the block is written, from an id named in
`from:` (or `outputs:`) to the entry that carries it, and from an `include:` item or a
network file (`discriminator: dcgan_discriminator.yaml` under `networks:`) to the file it
names.

    definition(analysis, (line, col))   # an lsprotocol Location, or None

A block's name under the cursor (the kind of an entry, `- residual: {out: 64}`, or a value
naming a block, `block: bottleneck`) leads to its `blocks:` entry: in this spec, in the
included file that defines it (the last include wins a name, and the spec's own blocks win
over all, as in the check), or in netspec's built-in library (netspec/blocks/library.yaml).
"""

from __future__ import annotations

import os

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from netspec.serve.lsp_analysis import Analysis, real_path
from netspec.serve.lsp_diagnostics import to_range
from netspec.serve.lsp_positions import Pos, Span


def definition(analysis: Analysis, pos: Pos) -> lsp.Location | None:
    """Where the block or included file under the cursor at `pos` is defined."""
    index = analysis.index
    for item, span in index.includes + index.network_files:
        if span.contains(pos):
            path = real_path(os.path.join(os.path.dirname(os.path.abspath(analysis.path)), item))
            return lsp.Location(from_fs_path(path), lsp.Range(lsp.Position(0, 0),
                                                              lsp.Position(0, 0)))
    word = index.word_at(pos)
    if word is None:
        return None
    name, _ = word
    carrier = _entry_with_id(analysis, name, pos)
    if carrier is not None:
        return lsp.Location(from_fs_path(real_path(analysis.path)),
                            to_range(index, carrier.span))
    block = analysis.blocks.get(name)
    if block is None or block.loc is None:
        return None
    file = real_path(block.loc.file)
    start = (block.loc.line - 1, block.loc.col - 1)
    span = Span(start, (start[0], start[1] + len(name)))
    if file == real_path(analysis.path):
        return lsp.Location(from_fs_path(file), to_range(index, span))
    return lsp.Location(from_fs_path(file), lsp.Range(lsp.Position(*span.start),
                                                      lsp.Position(*span.end)))


def _entry_with_id(analysis: Analysis, name: str, pos: Pos):
    """The entry above the cursor, in the same list of layers, whose `id:` is `name` (the
    last one: ids may repeat where their `if:` exclude each other); None on an `id:` itself."""
    here = analysis.index.entry_at(pos)
    if here is not None and here.id_span is not None and here.id_span.contains(pos):
        return None
    scope = here.scope if here is not None else ("layers",)
    found = [e for e in analysis.index.entries
             if e.id == name and e.scope == scope and e.span.start <= pos]
    return found[-1] if found else None
