"""A check's mistakes and lints as LSP diagnostics, each over the YAML node it is located at.

    by_file = diagnostics(analysis, index_of)     # real path -> [lsprotocol Diagnostic]

A netspec Diagnostic carries `file:line:col` where a node starts; the range shown is that
node's (DocumentIndex.range_at), so `kernel: 0` underlines the `0` and a shape error the
whole `- conv: {...}` entry. The message is what `netspec check` prints: the sentence, then
its notes, its hint and the chain of blocks, one a line.

A mistake located in another file (an included file of blocks, the built-in library) is shown
on this document where that file comes in: the innermost use of a block written in this
document, else the `include:` item that leads to the file, else the network file's path
under `networks:` (a network given by its spec file); its own location travels as related
information. When that file is open too (`index_of` gives its index), the mistake
is also shown there, at its own range.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from lsprotocol import types as lsp
from pygls.uris import from_fs_path

from netspec.errors import Diagnostic, Location
from netspec.lang.files import read_text
from netspec.lang.includes import MAX_INCLUDE_DEPTH
from netspec.lang.yaml_loader import load_yaml
from netspec.serve.lsp_analysis import Analysis, real_path
from netspec.serve.lsp_positions import DocumentIndex, Pos, Span, client_column

SOURCE = "netspec"
IndexOf = Callable[[str], "DocumentIndex | None"]


def to_range(index: DocumentIndex, span: Span) -> lsp.Range:
    """`span` in the client's columns (the index's encoding)."""
    return lsp.Range(_position(index, span.start), _position(index, span.end))


def _position(index: DocumentIndex, pos: Pos) -> lsp.Position:
    line, col = pos
    text = index.lines[line] if 0 <= line < len(index.lines) else ""
    return lsp.Position(line=max(line, 0), character=client_column(text, col, index.encoding))


def message_of(d: Diagnostic) -> str:
    """The diagnostic as `netspec check` prints it, without its `file:line:col: error:` head."""
    lines = d.render().split("\n")
    return "\n".join([d.message, *(line.strip() for line in lines[1:])])


def diagnostics(analysis: Analysis, index_of: IndexOf = lambda path: None
                ) -> dict[str, list[lsp.Diagnostic]]:
    """Every diagnostic of `analysis`, by the real path of the file it is shown in (this
    document's always present, maybe empty)."""
    own = real_path(analysis.path)
    out: dict[str, list[lsp.Diagnostic]] = {own: []}
    severities = [(d, lsp.DiagnosticSeverity.Error) for d in analysis.errors]
    severities += [(d, lsp.DiagnosticSeverity.Warning) for d in analysis.warnings]
    for d, severity in severities:
        file = real_path(d.loc.file) if d.loc else own
        if file == own:
            out[own].append(_here(analysis.index, d, severity, own))
            continue
        out[own].append(_from_elsewhere(analysis, d, severity, file, own))
        other = index_of(file)
        if other is not None:
            out.setdefault(file, []).append(_here(other, d, severity, file))
    if analysis.bug:
        out[own].append(lsp.Diagnostic(
            to_range(analysis.index, Span((0, 0), (0, 0))),
            f"netspec failed on this text, which is a bug in netspec: {analysis.bug}",
            severity=lsp.DiagnosticSeverity.Error, source=SOURCE))
    return out


def _here(index: DocumentIndex, d: Diagnostic, severity, file: str) -> lsp.Diagnostic:
    """`d` in the file it is located in."""
    span = index.range_at(_pos(d.loc)) if d.loc else Span((0, 0), (0, 0))
    related = [lsp.DiagnosticRelatedInformation(_location(use.used), f"in block {use.name}, "
                                                                      f"used here")
               for use in d.chain if use.used is not None and real_path(use.used.file) != file]
    return lsp.Diagnostic(to_range(index, span), message_of(d), severity=severity,
                          source=SOURCE, related_information=related or None)


def _from_elsewhere(analysis: Analysis, d: Diagnostic, severity, file: str,
                    own: str) -> lsp.Diagnostic:
    """`d`, located in `file`, shown in this document where `file` comes in."""
    index = analysis.index
    span = _use_in(index, d, own) or _include_of(analysis, file) or Span((0, 0), (0, 0))
    where = os.path.relpath(file, os.path.dirname(own) or ".")
    text = f"in {where}:{d.loc.line}:{d.loc.col}: {message_of(d)}"
    return lsp.Diagnostic(to_range(index, span), text, severity=severity, source=SOURCE,
                          related_information=[lsp.DiagnosticRelatedInformation(
                              _location(d.loc), d.message)])


def _use_in(index: DocumentIndex, d: Diagnostic, own: str) -> Span | None:
    """The innermost block use written in this document that the mistake came through."""
    for use in reversed(d.chain):
        if use.used is not None and real_path(use.used.file) == own:
            return index.range_at(_pos(use.used))
    return None


def _include_of(analysis: Analysis, target: str) -> Span | None:
    """The `include:` item or network file of this document that leads to `target` (it, or
    a file it includes)."""
    folder = os.path.dirname(os.path.abspath(analysis.path))
    for item, span in analysis.index.includes + analysis.index.network_files:
        path = real_path(os.path.join(folder, item))
        if path == target or _leads_to(path, target, set(), 0):
            return span
    return None


def _leads_to(path: str, target: str, seen: set[str], depth: int) -> bool:
    """Whether the file at `path` includes `target`, directly or not (read errors: no)."""
    if path in seen or depth > MAX_INCLUDE_DEPTH:
        return False
    seen.add(path)
    try:
        root = load_yaml(read_text(path), path)
    except Exception:   # noqa: BLE001 - the check reports that file's own mistakes
        return False
    items = root.get("include") if isinstance(root, dict) else None
    items = items if isinstance(items, list) else [items] if isinstance(items, str) else []
    folder = os.path.dirname(path)
    for item in items:
        if not isinstance(item, str) or "\0" in item:
            continue
        sub = real_path(os.path.join(folder, item))
        if sub == target or _leads_to(sub, target, seen, depth + 1):
            return True
    return False


def _pos(loc: Location) -> Pos:
    return loc.line - 1, loc.col - 1


def _location(loc: Location) -> lsp.Location:
    """An LSP location for a netspec one, the file not being open: its line, columns as
    written (a file read from disk is taken to be ASCII up to there)."""
    start = lsp.Position(loc.line - 1, loc.col - 1)
    return lsp.Location(from_fs_path(real_path(loc.file)), lsp.Range(start, start))
