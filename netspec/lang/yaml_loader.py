"""Read a spec's YAML text into plain data that remembers where each piece was written.

The text is read with the YAML 1.2 core schema (`on`/`yes` are strings, `1e-3` is a float,
`010` is 10). PyYAML only scans, parses and composes nodes here; the nodes are turned into
values by this module, so none of PyYAML's constructors (python tags) ever runs. Every user
mistake, hostile input included, becomes one located SpecError.
"""

from __future__ import annotations

import math
import re

import yaml
from yaml.composer import Composer, ComposerError
from yaml.events import AliasEvent, MappingStartEvent, SequenceStartEvent
from yaml.nodes import MappingNode, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from netspec.errors import Location, SpecError
from netspec.lang.located import LDict, LList
from netspec.lang.yaml_errors import QUOTE_HINT, mark_location, syntax_error

MAX_BYTES = 10 * 1024 * 1024
MAX_SLOW_BYTES = 1024 * 1024     # a text only PyYAML's pure-Python reader reads
MAX_NODES = 100_000
MAX_DEPTH = 100

_T = "tag:yaml.org,2002:"
_NULL = re.compile(r"(?:~|null|Null|NULL|)\Z")
_BOOL = re.compile(r"(?:true|True|TRUE|false|False|FALSE)\Z")
_INT = re.compile(r"(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)\Z")
_FLOAT = re.compile(r"(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))\Z")
# a run of 101 opening brackets: refused before the scanner's per-bracket lookahead gets slow
_DEEP_OPENERS = re.compile(r"(?:[\[{][ \t\r\n]*){%d}" % (MAX_DEPTH + 1))

_SURROGATE = re.compile("[\ud800-\udfff]")

PLAIN_DATA_HINT = "a spec is plain data (mappings, lists, strings, numbers, true/false, null); remove the tag"


class CoreResolver(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema, plus `<<` merge keys."""


for _tag, _regexp, _first in [("null", _NULL, ["~", "n", "N", ""]), ("bool", _BOOL, list("tTfF")),
                              ("int", _INT, list("-+0123456789")),  # before float: `1` is an int
                              ("float", _FLOAT, list("-+.0123456789")),
                              ("merge", re.compile(r"<<\Z"), ["<"])]:
    CoreResolver.add_implicit_resolver(_T + _tag, _regexp, _first)
del _tag, _regexp, _first


class _Alias:
    """An alias as written (`*name` at `start_mark`), pointing at the anchored node; kept so
    that a value written as an alias is located at the alias, not at the anchor."""

    __slots__ = ("node", "name", "start_mark")

    def __init__(self, node, name, start_mark):
        self.node, self.name, self.start_mark = node, name, start_mark


class _Composing(Composer):
    """PyYAML's composer, keeping aliases as written and bounding the nesting depth."""

    def compose_node(self, parent, index):
        if self.check_event(AliasEvent):
            event = self.get_event()
            if event.anchor not in self.anchors:
                raise ComposerError(None, None, f"found undefined alias {event.anchor!r}", event.start_mark)
            return _Alias(self.anchors[event.anchor], event.anchor, event.start_mark)
        # libyaml's check_event compares classes exactly: name both, not their base class
        if not self.check_event(SequenceStartEvent, MappingStartEvent):
            event = self.peek_event()
            if getattr(event, "tag", None) == "!":  # `! 12` is the string "12" (PyYAML resolves it)
                event.implicit = (False, False)
            if getattr(event, "style", None) == "":     # libyaml's plain style; PyYAML's is None
                event.style = None
            return super().compose_node(parent, index)
        # bound the composer's recursion before Python's limit does it for us
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise _too_deep(mark_location(self.file, self.peek_event().start_mark))
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Loader(Reader, Scanner, Parser, _Composing, CoreResolver):
    """PyYAML's reading stages with the core resolver; composes nodes, constructs nothing."""

    def __init__(self, text: str, file: str):
        Reader.__init__(self, text)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        CoreResolver.__init__(self)
        self.file, self.depth = file, 0


try:    # libyaml scans and parses ~20x faster than PyYAML's pure-Python stages
    from yaml._yaml import CParser
except ImportError:     # pragma: no cover - PyYAML built without libyaml
    CParser = None

if CParser is not None:
    class _FastLoader(_Composing, CParser, CoreResolver):
        """libyaml's events, composed by the same Python composer as `_Loader`."""

        def __init__(self, text: str, file: str):
            CParser.__init__(self, text)
            Composer.__init__(self)
            CoreResolver.__init__(self)
            self.file, self.depth = file, 0


_READER_CHARS = re.compile("[\t\ufeff?!]")
# a comment starts with `#` at a line's start or after a blank
_COMMENT_START = re.compile(r"(?m)(?:^|[ \t])#")


def _where_readers_may_differ(text: str) -> int | None:
    """The offset of the first tab, BOM, `?` or tag outside comments, or None. A comment
    cannot change what either reader reads, so a spec of commented-out lines with tabs in them
    still takes the fast reader."""
    # one scan for the few characters that matter, then a look at each one's line: a pattern
    # that tests every position (a tag's context, a comment's start) takes ~1 s on 9 MiB
    for found in _READER_CHARS.finditer(text):
        pos = found.start()
        line_start = text.rfind("\n", 0, pos) + 1
        if _COMMENT_START.search(text, line_start, pos):
            continue
        if text[pos] == "!" and (pos > line_start and text[pos - 1] not in " \t\r[{,"
                                 or text.startswith("!=", pos)):
            continue
        return pos
    return None


def _compose(text: str, file: str):
    """The document's root node. libyaml reads it when it can; a text it refuses is read
    again by PyYAML, whose errors are the ones this module words for people."""
    # tabs, a BOM, `?` and tags (`!` starting a token; `!=` is fine) are where the readers
    # disagree (libyaml accepts some that PyYAML refuses, `{a?: 1}`): PyYAML alone reads those
    differ = _where_readers_may_differ(text)
    if differ is not None and len(text) > MAX_SLOW_BYTES:
        # PyYAML's pure-Python stages read about 1 MB a second: bounded, a check stays fast
        char = {"\t": "a tab", "\ufeff": "a byte-order mark", "?": "`?`"}.get(text[differ], "a tag")
        raise SpecError(f"{char} here needs the full YAML reader, which reads files of at "
                        f"most {MAX_SLOW_BYTES // 2**20} MB; this one is "
                        f"{len(text) / 2**20:.1f} MB", _offset_loc(file, text, differ),
                        hint="indent with spaces, not tabs (or split the spec with `include:`)")
    if CParser is not None and differ is None:
        Reader(text)    # the same refusal of unprintable characters as the slow path
        loader = _FastLoader(text, file)
        try:
            return loader.get_single_node()
        except yaml.YAMLError:
            if len(text) > MAX_SLOW_BYTES:      # libyaml's own words: the other reader is slow
                raise
        finally:
            loader.dispose()
    loader = _Loader(text, file)
    try:
        return loader.get_single_node()
    finally:
        loader.dispose()


def load_yaml(text: str, file: str) -> object:
    """The one YAML document in `text` as LDict / LList / scalars; raises SpecError."""
    start = Location(file, 1, 1)
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        raise SpecError(f"the file is larger than {MAX_BYTES // (1024 * 1024)} MB", start,
                        hint="a spec is a small text file; is this the right file?")
    # (counting first: the pattern costs ~0.1 s a MiB, and needs that many brackets to match)
    deep = _DEEP_OPENERS.search(text) if text.count("[") + text.count("{") > MAX_DEPTH \
        else None
    if deep:
        raise _too_deep(_offset_loc(file, text, deep.end() - 1))
    try:
        node = _compose(text, file)  # the reader checks the characters first
    except ReaderError as err:
        code = ord(err.character) if isinstance(err.character, str) else err.character
        raise SpecError(f"the file contains the character #x{code:04x}, which YAML does not allow",
                        _offset_loc(file, text, err.position), hint="remove it, or write it as an escape "
                        "inside a double-quoted string") from None
    except yaml.MarkedYAMLError as err:
        raise syntax_error(err, file, text) from None
    except yaml.YAMLError as err:
        raise SpecError(f"the file cannot be read as YAML: {err}", start) from None
    if node is None or (isinstance(node, ScalarNode) and node.value == "" and node.style is None):
        raise SpecError("the file is empty", start, hint="a minimal spec is "
                        "`input: [3, 32, 32]` and `layers: [flatten, {linear: 10}]`, one key a line")
    _check_dollars(node, file)
    return _Converter(file).value(node, 0)


class _Converter:
    """Turns composed nodes into located values, refusing tags, bombs and cycles."""

    def __init__(self, file: str):
        self.file = file
        self.count = 0
        self.active: set[int] = set()  # collections being converted: an alias to one is a cycle
        self.aliases: list[_Alias] = []  # aliases being expanded, outermost first

    def loc(self, node) -> Location:
        return mark_location(self.file, node.start_mark)

    def value(self, node, depth: int):
        """The value of `node` (an alias expands to a fresh copy of its anchor's value)."""
        if isinstance(node, _Alias):
            if id(node.node) in self.active:
                raise SpecError(f"the alias `*{node.name}` is used inside its own anchor `&{node.name}`",
                                self.loc(node), hint="a spec cannot refer to itself; copy the part you need")
            self.aliases.append(node)
            try:
                return self.value(node.node, depth)
            finally:
                self.aliases.pop()
        self.count += 1
        if self.count > MAX_NODES:
            raise SpecError(f"the YAML expands to more than {MAX_NODES} nodes (aliases used as a bomb?)",
                            self.loc(self.aliases[0] if self.aliases else node))
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if depth >= MAX_DEPTH:
            raise _too_deep(self.loc(node))
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return self.sequence(node, depth + 1)
            return self.mapping(node, depth + 1)
        finally:
            self.active.discard(id(node))

    def check_tag(self, node, wanted: str, what: str) -> None:
        if node.tag == _T + wanted:
            return
        if node.tag.startswith(_T) and node.tag[len(_T):] in _CORE_TAGS:
            raise SpecError(f"tag `{_show_tag(node.tag)}` does not fit {what}", self.loc(node),
                            hint="remove the tag")
        raise SpecError(f"tag `{_show_tag(node.tag)}` is not allowed", self.loc(node), hint=PLAIN_DATA_HINT)

    def scalar(self, node: ScalarNode):
        # only a double-quoted escape (`"\ud800"`) makes one: such text cannot be printed
        # nor written to a file, so it goes no further
        if node.style == '"' and _SURROGATE.search(node.value):
            raise SpecError("this string holds a lone surrogate (an escape such as `\\ud800`), "
                            "which is not a character", self.loc(node),
                            hint="write the character itself, or a `\\U0001xxxx` escape for "
                                 "one beyond \\uffff")
        kind = node.tag[len(_T):] if node.tag.startswith(_T) else None
        if kind in ("str", "merge"):  # `<<` outside a key is just text
            return node.value
        if kind not in _SCALAR_KINDS:
            self.check_tag(node, "str", "a scalar")
        try:
            return _parse(kind, node.value)
        except ValueError:
            raise SpecError(f"`{node.value}` is not a valid `!!{kind}`", self.loc(node),
                            hint="remove the tag, or write the value in the tag's form") from None

    def sequence(self, node: SequenceNode, depth: int) -> LList:
        self.check_tag(node, "seq", "a list")
        out = LList()
        out.loc = self.loc(node)
        quoted = []
        for i, item in enumerate(node.value):
            out.append(self.value(item, depth))
            out.item_locs.append(self.loc(item))
            if _is_quoted(item):
                quoted.append(i)
        if quoted:
            out.quoted = set(quoted)
        return out

    def mapping(self, node: MappingNode, depth: int) -> LDict:
        self.check_tag(node, "map", "a mapping")
        out = LDict()
        out.loc = self.loc(node)
        entries, written = [], {}
        for key_node, value_node in node.value:
            is_merge = isinstance(key_node, ScalarNode) and key_node.tag == _T + "merge"
            key = "<<" if is_merge else self.key(key_node)
            if key in written:
                raise SpecError(f"duplicate key `{key}` in this mapping", self.loc(key_node),
                                notes=(f"first written at {written[key]}",),
                                hint="a key may appear only once; remove or rename one")
            written[key] = self.loc(key_node)
            entries.append((is_merge, key, key_node, value_node))
        quoted = set()
        for is_merge, key, key_node, value_node in entries:
            if not is_merge:
                out[key] = self.value(value_node, depth)
                out.key_locs[key], out.value_locs[key] = self.loc(key_node), self.loc(value_node)
                if _is_quoted(value_node):
                    quoted.add(key)
                continue
            # merged keys go where `<<` is written; explicit keys, and earlier merges, win
            for source in self.merge_sources(value_node, depth):
                for k, v in source.items():
                    if k not in written and k not in out:
                        out[k] = v
                        out.key_locs[k], out.value_locs[k] = source.key_locs[k], source.value_locs[k]
                        if k in source.quoted:
                            quoted.add(k)
        if quoted:
            out.quoted = quoted
        return out

    def key(self, key_node):
        """A mapping key's value: a scalar, never a list or mapping."""
        target = key_node.node if isinstance(key_node, _Alias) else key_node
        if not isinstance(target, ScalarNode):
            raise SpecError("a mapping key must be a plain value, not a list or mapping", self.loc(key_node))
        return self.value(key_node, 0)

    def merge_sources(self, value_node, depth: int) -> list[LDict]:
        """The mappings a `<<` merges, in order: a mapping, or a list of mappings."""
        target = value_node.node if isinstance(value_node, _Alias) else value_node
        items = target.value if isinstance(target, SequenceNode) else [value_node]
        sources = [self.value(item, depth) for item in items]
        if not all(isinstance(s, LDict) for s in sources):
            raise SpecError("`<<` merges a mapping or a list of mappings", self.loc(value_node),
                            hint="write `<<: *name` where `&name` marks a mapping")
        return sources


def _parse(kind: str, text: str):
    """`text` read as the core-schema `kind` (null, bool, int, float); ValueError if it is not."""
    if kind == "null" and _NULL.match(text):
        return None
    if kind == "bool" and _BOOL.match(text):
        return text.lower() == "true"
    if kind in ("int", "float") and _INT.match(text):
        # `010` is 10 in YAML 1.2, as for int()
        value = int(text[2:], 8 if text[1] == "o" else 16) if text.startswith(("0o", "0x")) else int(text)
        return value if kind == "int" else float(value)
    if kind == "float" and _FLOAT.match(text):
        special = text.lstrip("+-").lower()
        if special == ".inf":
            return -math.inf if text.startswith("-") else math.inf
        return math.nan if special == ".nan" else float(text)
    raise ValueError(text)


def _is_quoted(node) -> bool:
    """Whether `node` is a scalar written in quotes (an alias is located at its `*`)."""
    return isinstance(node, ScalarNode) and node.style in ("'", '"')


_SCALAR_KINDS = {"null", "bool", "int", "float"}
_CORE_TAGS = {"str", "int", "float", "bool", "null", "map", "seq"}


def _show_tag(tag: str) -> str:
    return "!!" + tag[len(_T):] if tag.startswith(_T) else tag


def _unbalanced_dollar(text: str) -> bool:
    """Whether some `$(` in `text` is never closed."""
    start = text.find("$(")
    while start != -1:
        depth = 0
        for ch in text[start + 1:]:
            depth += (ch == "(") - (ch == ")")
            if depth == 0:
                break
        if depth > 0:
            return True
        start = text.find("$(", start + 2)
    return False


def _check_dollars(root, file: str) -> None:
    """Refuse the first `$(` (in document order) whose parentheses do not close: YAML split
    the expression at a comma, so this goes before any other complaint about the pieces."""
    stack, seen = [root], set()
    while stack:
        node = stack.pop()
        node = node.node if isinstance(node, _Alias) else node
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, ScalarNode):
            if "$(" in node.value and _unbalanced_dollar(node.value):
                plain = node.style is None
                raise SpecError(f"unbalanced `$(` in `{node.value}`", mark_location(file, node.start_mark),
                                hint=QUOTE_HINT if plain else "close every `(` of the expression")
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
        else:
            stack.extend(n for pair in reversed(node.value) for n in reversed(pair))


def _offset_loc(file: str, text: str, offset: int) -> Location:
    line_start = text.rfind("\n", 0, offset) + 1
    return Location(file, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _too_deep(loc: Location) -> SpecError:
    return SpecError(f"the YAML nests deeper than {MAX_DEPTH} levels", loc,
                     hint="a spec needs only a few levels; use blocks to structure it")
