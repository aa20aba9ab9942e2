"""Where things are written in a spec's text: the ranges of its YAML nodes and of its entries.

The located tree (netspec.lang.located) keeps where each node starts; an editor also wants
where it ends, and which entry a cursor is in. This module composes the text once more with
PyYAML (composition builds nodes with start and end marks and constructs no value) and keeps:

- `entries`: every layer entry (of `layers:`, a block's `layers:`, a `parallel`'s branches),
  with its path (`("layers", 2)`, `("blocks", "conv_bn", "layers", 0)`,
  `("layers", 1, "parallel", "branches", 0, 2)`), its range and where its kind is written;
- the ranges of the nodes and key-value pairs starting at each position, so that a
  diagnostic located at a node's start (`file:line:col`) is shown over that node;
- the document's own `blocks:` names, `include:` items and network files (`networks:`
  values that name a spec file: `d: d.yaml` or `d: {spec: d.yaml, ...}`), for
  go-to-definition.

Positions here are 0-based (line, column), columns in characters (code points), as a
Location minus one; `client_column` converts them to the columns the client counts in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from netspec.lang.schema import META_KEYS

Pos = tuple[int, int]          # (line, column), 0-based

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_COMMENT = re.compile(r"(?:^|\s+)#[^'\"]*$")     # a trailing comment (no quote in it)
_TOKEN = re.compile(r"[^\s,:\[\]{}#]+")
PARALLEL = "parallel"           # the short form of branches (lang.entries), not a layer kind


@dataclass(frozen=True)
class Span:
    """A range of text: `start` inclusive, `end` exclusive."""

    start: Pos
    end: Pos

    def contains(self, pos: Pos) -> bool:
        return self.start <= pos <= self.end

    @property
    def one_line(self) -> bool:
        return self.start[0] == self.end[0]


@dataclass(frozen=True)
class EntrySpan:
    """One layer entry as written: its path in the document, its range (from its `-`), and
    the kind or block it names, where that name is written and where its arguments are."""

    path: tuple
    span: Span
    kind: str | None
    kind_span: Span | None
    args_span: Span | None = None
    node_start: Pos = (0, 0)    # where its YAML node starts: its Location, less one
    id: str | None = None       # its `id:`, when it has one
    id_span: Span | None = None

    @property
    def scope(self) -> tuple:
        """The list its ids are known in: the top `layers:`, a block's or a network's."""
        return self.path[:3] if self.path[0] in ("blocks", "networks") else self.path[:1]


@dataclass
class DocumentIndex:
    """The ranges of one text's YAML; empty when the text is not one YAML document."""

    lines: list[str]
    entries: list[EntrySpan] = field(default_factory=list)
    starts: dict[Pos, list[Span]] = field(default_factory=dict)
    blocks: dict[str, Span] = field(default_factory=dict)       # the doc's `blocks:` names
    includes: list[tuple[str, Span]] = field(default_factory=list)
    network_files: list[tuple[str, Span]] = field(default_factory=list)     # path, its range
    parsed: bool = False
    encoding: str = "utf-16"        # how the client counts columns (client_column)

    def entry_at(self, pos: Pos) -> EntrySpan | None:
        """The innermost entry whose range holds `pos` (a branch's entry, not its parallel)."""
        best = None
        for entry in self.entries:
            if entry.span.contains(pos) and (best is None or entry.span.start >= best.span.start):
                best = entry
        return best

    def range_at(self, pos: Pos) -> Span:
        """The range to mark for a diagnostic located at `pos`: the largest node (or key with
        its value) starting there that stays on one line, else the smallest one; where no
        node starts (a position inside a scalar, a syntax error), the word at `pos`."""
        spans = sorted(self.starts.get(pos, ()), key=lambda s: s.end)
        one_line = [s for s in spans if s.one_line]
        if one_line:
            return one_line[-1]
        if spans:
            return spans[0]
        return self.word_range(pos)

    def word_range(self, pos: Pos) -> Span:
        """The token at `pos` (at least one character, clipped to the line)."""
        line, col = pos
        text = self.lines[line] if 0 <= line < len(self.lines) else ""
        col = min(max(col, 0), len(text))
        match = _TOKEN.match(text, col)
        end = match.end() if match else min(col + 1, len(text))
        return Span((line, col), (line, max(end, col)))

    def word_at(self, pos: Pos) -> tuple[str, Span] | None:
        """The word (a name: letters, digits, `_`, `-`, `.`, `/`) around `pos`."""
        line, col = pos
        if not 0 <= line < len(self.lines):
            return None
        text = self.lines[line]
        for m in re.finditer(r"[\w./-]+", text):
            if m.start() <= col <= m.end():
                return m.group(), Span((line, m.start()), (line, m.end()))
        return None


def index_document(text: str) -> DocumentIndex:
    """The DocumentIndex of `text`; one with no entries when it is not a single YAML document
    (the check reports why)."""
    index = DocumentIndex(text.split("\n"))
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except (yaml.YAMLError, RecursionError, ValueError):
        return index
    if root is None:
        return index
    _Walker(index).walk(root)
    index.parsed = True
    return index


class _Walker:
    """Records node ranges and finds the entries of `layers:`, `blocks:` and `networks:`."""

    def __init__(self, index: DocumentIndex):
        self.index = index
        self.seen: set[int] = set()

    def span(self, node) -> Span:
        return Span(_pos(node.start_mark), self.trimmed(_pos(node.end_mark)))

    def trimmed(self, end: Pos) -> Pos:
        """`end` moved back over blank and comment-only lines: a block collection ends
        where the next token starts, often lines below its last character."""
        lines = self.index.lines
        line, col = end
        while line > 0 and (col == 0 or not lines[line][:col].strip()
                            or lines[line][:col].lstrip().startswith("#")):
            line -= 1
            col = len(_COMMENT.sub("", lines[line]).rstrip())
        return line, col

    def walk(self, node, path: tuple = ()) -> None:
        """Record the ranges of `node` and everything under it."""
        if id(node) in self.seen:       # an alias: its anchor is recorded once
            return
        self.seen.add(id(node))
        self.add(self.span(node))
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                self.walk(item, path + (i,))
        elif isinstance(node, MappingNode):
            for key, value in node.value:
                self.walk(key)
                self.walk(value, path + (_scalar(key),))
                self.add(Span(_pos(key.start_mark), self.span(value).end))
        if isinstance(node, MappingNode):
            self.structure(node, path)

    def add(self, span: Span) -> None:
        self.index.starts.setdefault(span.start, []).append(span)

    def structure(self, node: MappingNode, path: tuple) -> None:
        """The entries, blocks and includes a mapping holds, by where it is in the document."""
        pairs = {_scalar(k): v for k, v in node.value}
        top = path == () or (len(path) == 2 and path[0] == "networks")
        in_block = len(path) >= 2 and path[-2] == "blocks"
        if top or in_block:
            layers = pairs.get("layers")
            if isinstance(layers, SequenceNode):
                self.entries(layers, path + ("layers",))
        if top:
            blocks = pairs.get("blocks")
            if isinstance(blocks, MappingNode) and path == ():
                self.index.blocks = {_scalar(k): self.span(k) for k, _ in blocks.value
                                     if isinstance(k, ScalarNode)}
            include = pairs.get("include")
            items = include.value if isinstance(include, SequenceNode) else [include]
            if path == ():
                self.index.includes = [(i.value, self.span(i)) for i in items
                                       if isinstance(i, ScalarNode) and i.value]
                self.network_files(pairs.get("networks"))

    def network_files(self, networks) -> None:
        """The values of `networks:` that name a spec file, and where each is written."""
        if not isinstance(networks, MappingNode):
            return
        for _, value in networks.value:
            if isinstance(value, MappingNode):
                value = {_scalar(k): v for k, v in value.value}.get("spec")
            if isinstance(value, ScalarNode) and value.value:
                self.index.network_files.append((value.value, self.span(value)))

    def entries(self, seq: SequenceNode, path: tuple) -> None:
        for i, item in enumerate(seq.value):
            self.entry(item, path + (i,))

    def entry(self, item, path: tuple) -> None:
        """One entry: a bare kind, or a mapping whose first key that is not `id`/`from`/...
        is the kind; a parallel's branches are entries too."""
        span = self.span(item)
        start = self.with_dash(span.start)
        kind = kind_span = args_span = value = ident = None
        if isinstance(item, ScalarNode):
            kind, kind_span = item.value, span
        elif isinstance(item, MappingNode):
            ident = next((v for k, v in item.value if _scalar(k) == "id"
                          and isinstance(v, ScalarNode)), None)
            for key, val in item.value:
                if isinstance(key, ScalarNode) and key.value not in META_KEYS:
                    kind, kind_span, value = key.value, self.span(key), val
                    args_span = self.span(val)
                    break
        self.index.entries.append(EntrySpan(path, Span(start, span.end), kind, kind_span,
                                            args_span, node_start=span.start,
                                            id=ident.value if ident else None,
                                            id_span=self.span(ident) if ident else None))
        if kind == PARALLEL and isinstance(value, MappingNode):
            branches = {_scalar(k): v for k, v in value.value}.get("branches")
            if isinstance(branches, SequenceNode):
                for b, branch in enumerate(branches.value):
                    if isinstance(branch, SequenceNode):
                        self.entries(branch, path + (kind, "branches", b))

    def with_dash(self, start: Pos) -> Pos:
        """The start of a block sequence item moved back onto its `- `."""
        line, col = start
        text = self.index.lines[line] if line < len(self.index.lines) else ""
        before = text[:col].rstrip()
        return (line, len(before) - 1) if before.endswith("-") else start


def _pos(mark) -> Pos:
    return mark.line, mark.column


def _scalar(node):
    return node.value if isinstance(node, ScalarNode) else None



def client_column(line: str, col: int, encoding: str = "utf-16") -> int:
    """Character column `col` of `line` in the client's units: UTF-16 code units (LSP's
    default), UTF-8 bytes, or characters ("utf-32")."""
    if encoding == "utf-32":
        return col
    if encoding == "utf-8":
        return len(line[:col].encode("utf-8", "surrogatepass"))
    return len(line[:col].encode("utf-16-le", "surrogatepass")) // 2


def character_column(line: str, units: int, encoding: str = "utf-16") -> int:
    """The character column at offset `units` (client units) of `line`: client_column's inverse."""
    if encoding == "utf-32":
        return min(units, len(line))
    count = 0
    for i, ch in enumerate(line):
        if count >= units:
            return i
        count += len(ch.encode("utf-8", "surrogatepass")) if encoding == "utf-8" else \
            (2 if ord(ch) > 0xFFFF else 1)
    return len(line)
