"""What the cursor is in, read from the text alone: the YAML path down to it, and whether a key
or a value is being typed there.

    context_at(lines, (3, 4))   # "  - co|" under `layers:` -> Context(("layers", "-"), "key", "co")

Completion runs while the text is half typed, when it is often not YAML yet (`- conv: {out: 3,`),
so this does not parse: it follows indentation up from the cursor (each line's leading `- `
items and its `key:`), then the flow brackets of the cursor's own line. The path holds keys
and `-` for a list item, from the top: `("layers", "-", "conv")` is inside the arguments of a
`conv` entry of `layers:`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netspec.serve.lsp_positions import Pos

ITEM = "-"
_KEY = re.compile(r"""([\w$.\-]+|"[^"]*"|'[^']*')\s*:(?=\s|$)""")
_WORD = re.compile(r"[\w$]*$")


@dataclass(frozen=True)
class Context:
    """`path` from the top to the cursor; `at` is "key" (a key or a bare item is typed) or
    "value" (after `key: `, `key` being the last element of `path`); `prefix` is the part
    of the word typed so far."""

    path: tuple
    at: str
    prefix: str = ""


def context_at(lines: list[str], pos: Pos) -> Context:
    """The context of the cursor at `pos` (0-based line, character column)."""
    line, col = pos
    text = lines[line][:col] if 0 <= line < len(lines) else ""
    prefix = _WORD.search(text).group()
    steps, rest_at = _line_steps(text)
    indent = _indent_of(text)
    outer = _ancestors(lines, line, indent, starts_with_item=bool(steps) and steps[0] == ITEM)
    return Context(tuple(outer + steps), rest_at, prefix)


def _indent_of(text: str) -> int:
    return len(text) - len(text.lstrip(" "))


def _tokens(text: str) -> list[tuple[int, str]]:
    """A line's leading structure: its `- ` items and its first `key:`, with their columns."""
    out = []
    i = _indent_of(text)
    while i < len(text) and text[i] == "-" and (i + 1 == len(text) or text[i + 1] == " "):
        out.append((i, ITEM))
        i += 1
        while i < len(text) and text[i] == " ":
            i += 1
    m = _KEY.match(text, i)
    if m:
        out.append((i, m.group(1).strip("\"'")))
    return out


def _ancestors(lines: list[str], line: int, col: int, starts_with_item: bool) -> list[str]:
    """The keys and items enclosing a line whose content starts at `col`, from the top."""
    chain: list[str] = []
    is_item = starts_with_item
    for above in range(line - 1, -1, -1):
        text = lines[above]
        if not text.strip() or text.lstrip().startswith("#"):
            continue
        # a list may sit at its key's own column (`layers:` then `- relu` below it)
        outer = [(c, t) for c, t in _tokens(text)
                 if c < col or (is_item and c == col and t != ITEM)]
        if not outer:
            continue
        chain[:0] = [t for _, t in outer]
        col, is_item = outer[0][0], outer[0][1] == ITEM
        if col == 0 and not is_item:
            break
    return chain


def _line_steps(text: str) -> tuple[list[str], str]:
    """The steps the cursor's own line adds (its items, its key, its open brackets) and
    whether a key or a value is typed at its end."""
    steps: list[str] = []
    i = _indent_of(text)
    while i < len(text) and text[i] == "-" and (i + 1 == len(text) or text[i + 1] == " "):
        steps.append(ITEM)
        i += 1
        while i < len(text) and text[i] == " ":
            i += 1
    rest = text[i:]
    m = _KEY.match(rest)
    if not m:
        return (steps, "key") if not rest.startswith(("{", "[")) else _flow(steps, rest)
    steps.append(m.group(1).strip("\"'"))
    value = rest[m.end():].lstrip()
    if value.startswith(("{", "[")):
        return _flow(steps, value)
    return steps, "value"


def _flow(steps: list[str], text: str) -> tuple[list[str], str]:
    """Follow `{...}` and `[...]` (quotes skipped) to the cursor at the end of `text`."""
    frames: list[tuple[str, int]] = []     # (bracket, len(steps) before it opened)
    key: str | None = None                  # the key of the mapping value being typed
    word = ""
    quote = None
    for ch in text:
        if quote:
            quote = None if ch == quote else quote
            continue
        if ch in "\"'":
            quote = ch
        elif ch in "{[":
            base = len(steps)
            if frames and frames[-1][0] == "[":
                steps.append(ITEM)
            elif frames and key is not None:
                steps.append(key)
            frames.append((ch, base))
            key, word = None, ""
        elif ch in "}]":
            if frames:
                del steps[frames.pop()[1]:]
            key, word = None, ""
        elif ch == ",":
            key, word = None, ""
        elif ch == ":" and frames and frames[-1][0] == "{":
            key, word = word.strip(), ""
        else:
            word += ch
    if not frames:
        return steps, "value"
    if frames[-1][0] == "[":
        return steps + [ITEM], "key"
    if key is not None:
        return steps + [key], "value"
    return steps, "key"
