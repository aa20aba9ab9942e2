"""`netspec kinds [NAME...]`: what each layer kind and built-in block is, and its arguments.

Torch-free: everything shown comes from the kinds registry (each kind's docstring and its
pydantic argument model) and the built-in block library.
"""

from __future__ import annotations

import inspect
import json
import re
import textwrap
from typing import Any

import click

LINE = 99           # wrap width of the full view
# a sentence ends at ". " before a capital, not after "et al." or "e.g."
SENTENCE_END = re.compile(r"(?<!\bal)(?<!\be\.g)\.\s+(?=[A-Z`])")


@click.command("kinds")
@click.argument("names", nargs=-1, metavar="[NAME]...")
@click.option("--blocks/--no-blocks", default=True, help="Also list the built-in blocks.")
@click.option("--json", "as_json", is_flag=True, help="Print the kinds (and blocks) as JSON.")
def kinds_command(names: tuple[str, ...], blocks: bool, as_json: bool) -> None:
    """List every layer kind (and built-in block) with its arguments and what it does.

    With NAMEs, show each in full: the shape, parameter and MAC rules, and every argument with
    its default and meaning.

    \b
    Examples:
      netspec kinds                    # one entry per kind, then the built-in blocks
      netspec kinds conv maxpool       # the rules and arguments of two kinds
      netspec kinds vgg_block          # a built-in block: its parameters and layers
      netspec kinds --json             # the same, for tools
    """
    entries = _entries(blocks or bool(names))
    if names:
        unknown = [n for n in names if n not in entries]
        if unknown:
            raise click.BadParameter(_unknown(unknown[0], entries), param_hint="'NAME'")
        chosen = [entries[n] for n in names]
    else:
        chosen = [e for name, e in entries.items() if name == e["name"]]   # aliases once
    if as_json:
        click.echo(json.dumps(chosen, indent=2, default=repr))
        return
    width = max(len(e["name"]) for e in chosen)          # the name column
    for i, entry in enumerate(chosen):
        if names:
            click.echo(("\n" if i else "") + _full(entry))
        else:
            if entry["type"] == "block" and (i == 0 or chosen[i - 1]["type"] != "block"):
                click.echo("\nbuilt-in blocks:")
            click.echo(_brief(entry, width))


def _entries(with_blocks: bool) -> dict[str, dict[str, Any]]:
    """name (and alias) -> entry, kinds first, each group sorted."""
    from netspec.kinds import kinds

    out: dict[str, dict[str, Any]] = {}
    registry = kinds()
    for kind in sorted({k.name: k for k in registry.values()}.values(), key=lambda k: k.name):
        entry = _kind_entry(kind)
        out[kind.name] = entry
        for alias in kind.aliases:
            out.setdefault(alias, entry)
    if with_blocks:
        from netspec.lang.library import builtin_blocks

        for name, block in sorted(builtin_blocks().items()):
            out.setdefault(name, _block_entry(name, block))
    return out


def _kind_entry(kind) -> dict[str, Any]:
    args = []
    for fname, f in kind.args.model_fields.items():
        args.append({"name": f.alias or fname, "required": f.is_required(),
                     "default": None if f.is_required() else f.default,
                     "description": f.description or ""})
    doc = inspect.cleandoc(kind.doc) if kind.doc else ""
    return {"type": "kind", "name": kind.name, "aliases": list(kind.aliases),
            "summary": doc.split("\n\n")[0].replace("\n", " "), "doc": doc, "args": args}


def _block_entry(name: str, block) -> dict[str, Any]:
    doc = inspect.cleandoc(block.doc) if block.doc else ""
    args = [{"name": p, "required": d is None, "default": d,
             "description": block.param_docs.get(p, "")} for p, d in block.params.items()]
    return {"type": "block", "name": name, "aliases": [],
            "summary": doc.split("\n\n")[0].replace("\n", " "), "doc": doc, "args": args}


def _yaml(value: Any) -> str:
    """A default as it is written in a spec: true, null, zeros, [1, 2]."""
    return json.dumps(value) if not isinstance(value, str) else value


def _signature(entry) -> str:
    return ", ".join(a["name"] if a["required"] else f"{a['name']}={_yaml(a['default'])}"
                     for a in entry["args"])


def _brief(entry, width: int) -> str:
    alias = f" (also {', '.join(entry['aliases'])})" if entry["aliases"] else ""
    line = f"{entry['name']:<{width}}  {_signature(entry)}{alias}".rstrip()
    if entry["summary"]:
        line += f"\n{'':<{width + 4}}{_first_sentence(entry['summary'])}"
    return line


def _first_sentence(text: str, limit: int = 80) -> str:
    end = SENTENCE_END.search(text)
    sentence = text if end is None else text[:end.start() + 1]
    return sentence if len(sentence) <= limit else textwrap.shorten(sentence, limit,
                                                                    placeholder=" ...")


def _full(entry) -> str:
    alias = f" (also {', '.join(entry['aliases'])})" if entry["aliases"] else ""
    what = "block" if entry["type"] == "block" else "kind"
    lines = [f"{entry['name']}{alias}: {what}"]
    for para in entry["doc"].split("\n\n"):
        if lines[-1]:
            lines.append("")
        if max(map(len, para.splitlines())) + 2 > LINE:      # one long line: wrap it
            lines += textwrap.wrap(" ".join(para.split()), LINE, initial_indent="  ",
                                   subsequent_indent="  ")
        else:                                                # laid out by hand: keep it
            lines += ["  " + line.strip() for line in para.splitlines()]
    if entry["args"]:
        lines.append("")
        lines.append("  arguments:" if entry["type"] == "kind" else "  parameters:")
        width = max(len(a["name"]) for a in entry["args"])
        for a in entry["args"]:
            default = "required" if a["required"] else f"default {_yaml(a['default'])}"
            text = f"{a['name']:<{width}}  {default}"
            if a["description"]:
                text += f"; {a['description']}"
            lines += textwrap.wrap(text, LINE, initial_indent="    ",
                                   subsequent_indent=" " * (6 + width))
    return "\n".join(lines)


def _unknown(name: str, entries) -> str:
    from netspec.errors import did_you_mean

    hint = did_you_mean(name, entries)
    return f"no layer kind or built-in block is called {name!r}" + (f"; {hint}" if hint else
                                                                    "; `netspec kinds` lists them")
