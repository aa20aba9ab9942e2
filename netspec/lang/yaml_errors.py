"""PyYAML's syntax errors, told in words a person understands, with the likeliest fix.

PyYAML words a problem from the parser's point of view (`expected <block end>, but found
'-'`); the rewrites here say the same in the spec writer's terms, and the hint looks at the
lines around the mark for the usual causes: an unquoted `$(…)` in a flow mapping, a missing
colon after a bare kind, keys after a `- {…}` entry, tabs.
"""

from __future__ import annotations

import re

import yaml

from netspec.errors import Location, SpecError

QUOTE_HINT = ('quote the expression: `"$(max(1, c // 4))"` — inside {…}, a `$(…)` containing '
              ", [ ] { } must be quoted")


def mark_location(file: str, mark) -> Location:
    """The Location of a PyYAML mark (which counts lines and columns from 0)."""
    return Location(file, mark.line + 1, mark.column + 1)


_TOKENS = {"<stream end>": "the end of the file", "<scalar>": "more text", "<block end>": "the end of a block",
           "<block mapping start>": "a new key", "<block sequence start>": "a list entry `-`",
           "-": "a list entry `-`", "<document start>": "`---`", "<document end>": "`...`"}
_REWRITES = [  # (pattern in context+problem, message; {0} is the group, {t} the group as a token)
    (r"expected ',' or '\}', but got '(.+)'", "this `{{…}}` mapping expects `,` or `}}` here, but {t} comes"),
    (r"expected ',' or '\]', but got '(.+)'", "this `[…]` list expects `,` or `]` here, but {t} comes"),
    (r"expected <block end>, but found '(.+)'", "bad indentation or stray text: {t} here does not fit the block above"),
    (r"mapping values are not allowed here", "unexpected `:` here (quote a value that contains `: `, "
                                             "or check the indentation)"),
    (r"found character '\\t' that cannot start any token", "a tab character where YAML expects spaces"),
    (r"found character '(.+)' that cannot start any token", "a value cannot start with `{0}`; quote it"),
    (r"could not find expected ':'", "expected `:` after a key (is a line missing its `key:`?)"),
    (r"found unexpected end of stream", "the file ends inside a quoted string (is a quote not closed?)"),
    (r"found undefined alias '(.+)'", "`*{0}` names no anchor: define `&{0}` above it"),
    (r"found duplicate anchor '(.+)'", "the anchor `&{0}` is defined twice"),
    (r"but found another document", "expected one YAML document, but a second one starts here"),
]
_CONTEXTS = {"while parsing a flow mapping": "the `{` mapping starts at", "while parsing a flow sequence":
             "the `[` list starts at", "while parsing a block mapping": "the enclosing mapping starts at",
             "while parsing a block collection": "the enclosing list starts at",
             "while scanning a quoted scalar": "the quoted string starts at",
             "while scanning a simple key": "the key starts at",
             "expected a single document in the stream": "the first document starts at"}


def syntax_error(err: yaml.MarkedYAMLError, file: str, text: str) -> SpecError:
    """One located SpecError for a YAML syntax error, in words a person understands."""
    mark = err.problem_mark or err.context_mark
    loc = mark_location(file, mark) if mark else Location(file, 1, 1)
    problem = (err.problem or err.context or "invalid YAML").strip()
    context = err.context or ""
    message = f"invalid YAML: {problem}" + (f" ({context})" if context and err.problem else "")
    for pattern, template in _REWRITES:
        found = re.search(pattern, f"{context}\n{problem}")
        if found:
            group = found.group(1) if found.groups() else ""
            message = template.format(group, t=_TOKENS.get(group, f"`{group}`"))
            break
    notes = ()
    if err.context_mark and err.problem_mark and context:
        if context.startswith("found duplicate anchor"):
            notes = (f"first defined at {mark_location(file, err.context_mark)}",)
        else:
            notes = (f"{_CONTEXTS.get(context, context)} {mark_location(file, err.context_mark)}",)
    return SpecError(message, loc, hint=_syntax_hint(err, problem, text), notes=notes)


def _bare_kind_above(err: yaml.MarkedYAMLError, lines: list[str]) -> str | None:
    """`batchnorm` when a `key:` line follows a bare `- batchnorm` (a missing colon)."""
    mark = err.problem_mark
    if mark is None or "mapping values are not allowed" not in (err.problem or ""):
        return None
    above = [ln for ln in lines[:mark.line] if ln.strip() and not ln.lstrip().startswith("#")]
    found = re.match(r"\s*-\s+([A-Za-z_][A-Za-z0-9_]*)\s*(#.*)?$", above[-1]) if above else None
    return found.group(1) if found else None


def _keys_after_flow_entry(err: yaml.MarkedYAMLError, lines: list[str]) -> bool:
    """Whether a `key:` line follows an entry written whole as `- {…}`."""
    mark = err.problem_mark
    if mark is None or "<block mapping start>" not in (err.problem or ""):
        return False
    above = [ln for ln in lines[:mark.line] if ln.strip() and not ln.lstrip().startswith("#")]
    return bool(above) and re.match(r"\s*-\s*\{.*\}\s*(#.*)?$", above[-1]) is not None


def _syntax_hint(err: yaml.MarkedYAMLError, problem: str, text: str) -> str:
    """The likeliest fix: quote a `$(…)`, indent with spaces, or look at the line."""
    lines = text.splitlines()
    in_flow = "flow" in (err.context or "")
    # the line of the problem, and the line where an enclosing `{`/`[` opened
    marks = [m for m in (err.problem_mark, err.context_mark if in_flow else None) if m]
    around = [lines[m.line] for m in marks if m.line < len(lines)]
    if any("$(" in line and (in_flow or re.search(r"[{\[].*\$\(", line)) for line in around):
        return QUOTE_HINT
    bare = _bare_kind_above(err, lines)
    if bare:
        return f"a kind followed by keys needs a colon: write `- {bare}:` on the line above"
    if _keys_after_flow_entry(err, lines):
        return ("an entry written as `- {…}` ends at its `}`: move these keys inside the braces, "
                "e.g. `- {add: {}, from: [a, b], id: sum}`")
    if "\\t" in problem or any("\t" in line[:len(line) - len(line.lstrip())] for line in around):
        return "indent with spaces: YAML does not allow tabs for indentation"
    if "another document" in problem:
        return "a spec is one document: remove the second `---` and what follows, or merge them"
    if "<stream end>" in problem or "end of stream" in problem:
        return "a bracket or quote opened earlier is never closed"
    return "check the indentation and the brackets on this line"
