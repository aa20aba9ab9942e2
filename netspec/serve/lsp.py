"""`netspec lsp`: a Language Server (LSP, over stdio or TCP) for spec files, built on pygls.

    server = create_server()
    server.start_io()                    # what `netspec lsp` runs; `--tcp 2087`: start_tcp

What it offers an editor:

- diagnostics: the text is checked as `netspec check` checks a file, when opened and after
  each pause in typing (DEBOUNCE_S), unsaved text included, includes resolved from the
  document's folder; every independent mistake, each over its YAML node; lints as warnings;
  a mistake in an included file shown on the entry or `include:` item it comes through, and
  in that file too when it is open (lsp_diagnostics);
- hover over an entry: its output shape, params, MACs and receptive field (lsp_hover);
- completion of kinds (with their arguments' docs), arguments, block names, entry, top-level
  and `train:` keys, and the few values an argument allows (lsp_complete);
- go to definition from a block's use to its `blocks:` entry (this spec, an included file,
  netspec's built-in library), from an id in `from:` to its entry, and from an `include:`
  item to its file (lsp_definition).

Files included by an open document are read from disk: a change to one counts once saved
(every open document is checked again on each save).
"""

from __future__ import annotations

import asyncio

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from netspec.serve.lsp_analysis import Analysis, analyse, real_path
from netspec.serve.lsp_complete import complete
from netspec.serve.lsp_definition import definition
from netspec.serve.lsp_diagnostics import diagnostics, to_range
from netspec.serve.lsp_hover import hover
from netspec.serve.lsp_positions import DocumentIndex, character_column, index_document
from netspec.version import __version__

DEBOUNCE_S = 0.2        # a pause in typing this long re-checks the text
TRIGGERS = ["-", " ", "{", ",", ":", "["]    # characters after which completion is offered


class NetspecLanguageServer(LanguageServer):
    """The server's state: each open document's latest check, and the diagnostics each
    check gave each file (a check of one file may show mistakes in another open file)."""

    def __init__(self, debounce: float = DEBOUNCE_S):
        super().__init__("netspec", __version__)
        self.debounce = debounce
        self.analyses: dict[str, tuple[int | None, Analysis]] = {}    # uri -> (version, check)
        self.shown: dict[str, dict[str, list[lsp.Diagnostic]]] = {}   # uri -> path -> diags
        self.pending: dict[str, asyncio.TimerHandle] = {}
        self.uris: dict[str, str] = {}                                # real path -> open uri

    # ---- checking ----------------------------------------------------------------------

    def current(self, uri: str) -> Analysis:
        """The check of the document's text as it is now (checked again when it changed)."""
        doc = self.workspace.get_text_document(uri)
        version, analysis = self.analyses.get(uri, (None, None))
        if analysis is None or version != doc.version or analysis.text != doc.source:
            analysis = self.check(uri)
        return analysis

    def text_view(self, uri: str) -> Analysis:
        """The text as it is now, with the blocks of its latest check, not checked again:
        what completion needs, keystroke after keystroke."""
        doc = self.workspace.get_text_document(uri)
        _, last = self.analyses.get(uri, (None, None))
        if last is None:
            return self.current(uri)
        if last.text == doc.source:
            return last
        index = index_document(doc.source)
        index.encoding = self.encoding
        return Analysis(last.path, doc.source, index, blocks=last.blocks)

    def check(self, uri: str) -> Analysis:
        """Check the document now and show what was found."""
        self._cancel(uri)
        doc = self.workspace.get_text_document(uri)
        path = document_path(uri)
        analysis = analyse(doc.source, path)
        analysis.index.encoding = self.encoding
        self.analyses[uri] = (doc.version, analysis)
        self.uris[real_path(path)] = uri
        self._show(uri, diagnostics(analysis, self._index_of))
        return analysis

    def check_later(self, uri: str) -> None:
        """Check after a pause: a new change within `debounce` seconds moves the check on."""
        self._cancel(uri)
        loop = asyncio.get_running_loop()
        self.pending[uri] = loop.call_later(self.debounce, self.check, uri)

    def forget(self, uri: str) -> None:
        """A document was closed: drop its check and what it showed."""
        self._cancel(uri)
        self.analyses.pop(uri, None)
        self.uris = {p: u for p, u in self.uris.items() if u != uri}
        self._show(uri, {})
        self.shown.pop(uri, None)
        self._publish(uri, [])

    @property
    def encoding(self) -> str:
        """How the client counts columns ("utf-16" unless it asked for another)."""
        encoding = self.workspace.position_encoding if self.workspace else None
        return str(getattr(encoding, "value", encoding) or "utf-16")

    def _cancel(self, uri: str) -> None:
        handle = self.pending.pop(uri, None)
        if handle is not None:
            handle.cancel()

    def _index_of(self, path: str) -> DocumentIndex | None:
        """The index of the open document at real path `path`, for its own diagnostics."""
        uri = self.uris.get(path)
        if uri is None:
            return None
        if uri in self.analyses:
            return self.analyses[uri][1].index
        index = index_document(self.workspace.get_text_document(uri).source)
        index.encoding = self.encoding
        return index

    def _show(self, uri: str, by_file: dict[str, list[lsp.Diagnostic]]) -> None:
        """Record what the check of `uri` found in each file; publish every open file whose
        diagnostics that changes (all the checks' findings for it together)."""
        before = self.shown.get(uri, {})
        self.shown[uri] = by_file
        for path in set(before) | set(by_file):
            target = self.uris.get(path)
            if target is None:
                continue
            found, seen = [], set()
            for contributed in self.shown.values():
                for d in contributed.get(path, ()):
                    key = (str(d.range), d.message)
                    if key not in seen:
                        seen.add(key)
                        found.append(d)
            self._publish(target, found)

    def _publish(self, uri: str, found: list[lsp.Diagnostic]) -> None:
        self.text_document_publish_diagnostics(lsp.PublishDiagnosticsParams(uri, found))

    # ---- positions ---------------------------------------------------------------------

    def position(self, analysis: Analysis, at: lsp.Position) -> tuple[int, int]:
        """An LSP position as a (line, character column) of the analysed text."""
        lines = analysis.index.lines
        line = min(at.line, max(len(lines) - 1, 0))
        return line, character_column(lines[line] if lines else "", at.character,
                                      analysis.index.encoding)


def document_path(uri: str) -> str:
    """The file path a document's check uses (includes resolve from its folder)."""
    return to_fs_path(uri) or "<untitled>"


def create_server(debounce: float = DEBOUNCE_S) -> NetspecLanguageServer:
    """A server with every feature registered."""
    server = NetspecLanguageServer(debounce)

    @server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
    def did_open(ls: NetspecLanguageServer, params: lsp.DidOpenTextDocumentParams) -> None:
        ls.check(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
    def did_change(ls: NetspecLanguageServer, params: lsp.DidChangeTextDocumentParams) -> None:
        ls.check_later(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: NetspecLanguageServer, params: lsp.DidSaveTextDocumentParams) -> None:
        for uri in list(ls.analyses):      # a saved file may be included by the others
            ls.check(uri)

    @server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
    def did_close(ls: NetspecLanguageServer, params: lsp.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(lsp.TEXT_DOCUMENT_HOVER)
    def on_hover(ls: NetspecLanguageServer, params: lsp.HoverParams) -> lsp.Hover | None:
        analysis = ls.current(params.text_document.uri)
        found = hover(analysis, ls.position(analysis, params.position))
        if found is None:
            return None
        text, span = found
        return lsp.Hover(lsp.MarkupContent(lsp.MarkupKind.Markdown, text),
                         to_range(analysis.index, span))

    @server.feature(lsp.TEXT_DOCUMENT_COMPLETION,
                    lsp.CompletionOptions(trigger_characters=TRIGGERS))
    def on_completion(ls: NetspecLanguageServer,
                      params: lsp.CompletionParams) -> lsp.CompletionList:
        analysis = ls.text_view(params.text_document.uri)
        items = complete(analysis, ls.position(analysis, params.position))
        return lsp.CompletionList(is_incomplete=False, items=items)

    @server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
    def on_definition(ls: NetspecLanguageServer,
                      params: lsp.DefinitionParams) -> lsp.Location | None:
        analysis = ls.current(params.text_document.uri)
        return definition(analysis, ls.position(analysis, params.position))

    return server
