"""Completion: what may be written at the cursor, from the registries and the spec itself.

- an item of `layers:` (or of a block's `layers:`, or of a parallel's branch): every layer kind
  (with its arguments and their docs), `parallel`, every block the spec can use (built-in,
  included, its own), and the keys any entry may carry (`id`, `from`, ...);
- inside a kind's arguments (`conv: {out: 64, |}`): that kind's arguments; inside a block
  use's: the block's parameters; inside `parallel:`: `merge`, `dim`, `branches`;
- after an argument's `key: `: its allowed values where they are few (`padding: same|valid`,
  `true`/`false`, a block parameter's `choices:`); after `merge: `, the merges; after
  `init: `, the init schemes;
- at the top: the spec's keys; under `train:`, the training keys; under a block's name, what
  a block has (`params`, `layers`, ...); under a network's name, what a network has.
"""

from __future__ import annotations

import typing
from functools import lru_cache

from lsprotocol import types as lsp

from netspec.kinds import kinds
from netspec.lang.entries import BLOCK_KEYS, PARALLEL_KEYS
from netspec.lang.schema import INIT_SCHEMES, TopLevel, merge_kinds
from netspec.serve.lsp_analysis import Analysis
from netspec.serve.lsp_context import ITEM, Context, context_at
from netspec.serve.lsp_hover import block_summary
from netspec.serve.lsp_positions import PARALLEL, Pos

# what each key any entry may carry means (DESIGN §2)
ENTRY_KEYS = {
    "id": "a name others refer to in `from:` (also its state_dict prefix)",
    "from": "its input(s): an id, `input`, or a list of them; default: the entry above",
    "repeat": "the entry repeated in sequence, N copies (0 leaves it out)",
    "if": "`$(expr)`: the entry is present only when true",
    "init": "weight init of this entry: " + ", ".join(INIT_SCHEMES),
}
# under a network's name: an inline network's keys, or `spec:` (a network file, its params
# set with `params:`)
NETWORK_KEYS = ("input", "inputs", "blocks", "layers", "outputs", "init", "params", "spec")
Kind = lsp.CompletionItemKind


def complete(analysis: Analysis, pos: Pos) -> list[lsp.CompletionItem]:
    """The completion items for the cursor at `pos` in the analysed text."""
    ctx = context_at(analysis.index.lines, pos)
    if ctx.at == "value":
        return _values(analysis, ctx)
    path = ctx.path
    if not path:
        return _keys(_top_keys(), Kind.Module)
    if path[-1] == ITEM and _is_entry_list(path[:-1]):
        return _entry_items(analysis, with_keys=True)
    if len(path) >= 2 and path[-2] == ITEM and _is_entry_list(path[:-2]):
        return _arguments(analysis, path[-1])
    if path == ("train",):
        return _keys(_train_keys(), Kind.Property)
    if len(path) == 2 and path[0] == "blocks":
        return _keys({k: "" for k in BLOCK_KEYS}, Kind.Property)
    if len(path) == 2 and path[0] == "networks":
        return _keys({k: "" for k in NETWORK_KEYS}, Kind.Property)
    return []


def _is_entry_list(path: tuple) -> bool:
    """Whether `path` leads to a list of entries: a `layers:`, or a branch of a parallel."""
    return (bool(path) and path[-1] == "layers") or path[-2:] == ("branches", ITEM)


def _entry_items(analysis: Analysis, with_keys: bool) -> list[lsp.CompletionItem]:
    """Every kind, `parallel`, every block in reach, and the entry keys."""
    items, seen = [], set()
    for name, kind in sorted(kinds().items()):
        alias = f"alias of `{kind.name}`; " if name != kind.name else ""
        items.append(lsp.CompletionItem(
            name, kind=Kind.Class, detail=f"layer {kind.usage.strip('`')}",
            documentation=_markdown(alias + _kind_doc(kind)), sort_text=f"1{name}"))
        seen.add(name)
    items.append(lsp.CompletionItem(PARALLEL, kind=Kind.Struct, detail="parallel branches, merged",
                                    documentation=_markdown(
                                        "branches from one input, merged: `merge` (" +
                                        ", ".join(merge_kinds()) + "), `dim`, `branches`"),
                                    sort_text=f"1{PARALLEL}"))
    for name, block in sorted(analysis.blocks.items()):
        if name not in seen:
            items.append(lsp.CompletionItem(
                name, kind=Kind.Module, detail=f"{block.origin} block",
                documentation=_markdown(block_summary(block)), sort_text=f"2{name}"))
    if with_keys:
        items += [lsp.CompletionItem(k, kind=Kind.Keyword, detail="entry key",
                                     documentation=_markdown(doc), insert_text=f"{k}: ",
                                     sort_text=f"3{k}") for k, doc in ENTRY_KEYS.items()]
    return items


def _kind_doc(kind) -> str:
    """A kind's doc and its arguments, one a line: `- kernel (required): ...`."""
    lines = [kind.doc.split("\n\n")[0].strip(), ""]
    for name, f in kind.args.model_fields.items():
        key = f.alias or name
        default = "required" if f.is_required() else f"default `{_yaml(f.default)}`"
        lines.append(f"- `{key}` ({default})" + (f": {f.description}" if f.description else ""))
    return "\n".join(lines).strip()


def _arguments(analysis: Analysis, owner: str) -> list[lsp.CompletionItem]:
    """The arguments of kind `owner`, the parameters of block `owner`, a parallel's keys."""
    if owner == PARALLEL:
        return _keys({k: "" for k in PARALLEL_KEYS}, Kind.Property)
    if owner in kinds():
        fields = kinds()[owner].args.model_fields
        return [lsp.CompletionItem(
            f.alias or name, kind=Kind.Property,
            detail="required" if f.is_required() else f"default {_yaml(f.default)}",
            documentation=_markdown(f.description) if f.description else None,
            insert_text=f"{f.alias or name}: ", sort_text=f"{0 if f.is_required() else 1}{i:03}")
            for i, (name, f) in enumerate(fields.items())]
    block = analysis.blocks.get(owner)
    if block is None:
        return []
    return [lsp.CompletionItem(p, kind=Kind.Property, detail=_param_detail(d),
                               documentation=_markdown(_param_doc(d)) if _param_doc(d) else None,
                               insert_text=f"{p}: ") for p, d in block.params.items()]


def _values(analysis: Analysis, ctx: Context) -> list[lsp.CompletionItem]:
    """The allowed values of the key being given a value, where there are few of them."""
    key, parent = ctx.path[-1], ctx.path[:-1]
    if key == "init":
        return _choices(INIT_SCHEMES)
    if key == "merge" and parent[-1:] == (PARALLEL,):
        return _choices(merge_kinds())
    if len(parent) >= 3 and parent[-2] == ITEM and _is_entry_list(parent[:-2]):
        owner = parent[-1]
        if owner in kinds():
            field = {f.alias or n: f for n, f in kinds()[owner].args.model_fields.items()}.get(key)
            return _choices(_literals(field.annotation)) if field else []
        block = analysis.blocks.get(owner)
        declared = block.params.get(key) if block else None
        if isinstance(declared, dict) and isinstance(declared.get("choices"), list):
            return _choices(declared["choices"])
    return []


def _literals(annotation) -> list:
    """The values a type allows when it is a few literals (or a bool), through unions."""
    if annotation is bool:
        return [True, False]
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return list(typing.get_args(annotation))
    if origin is typing.Annotated:
        return _literals(typing.get_args(annotation)[0])
    out = []
    for arg in typing.get_args(annotation) if origin is not None else ():
        out += [v for v in _literals(arg) if v not in out]
    return out


def _choices(values) -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(_yaml(v), kind=Kind.EnumMember, sort_text=f"{i:03}")
            for i, v in enumerate(values)]


def _keys(docs: dict[str, str], kind) -> list[lsp.CompletionItem]:
    return [lsp.CompletionItem(k, kind=kind, documentation=_markdown(d) if d else None,
                               insert_text=f"{k}: ") for k, d in docs.items()]


@lru_cache(maxsize=1)
def _top_keys() -> dict[str, str]:
    """The spec's top-level keys, with the JSON Schema's descriptions."""
    from netspec.lang.jsonschema import json_schema

    described = json_schema().get("properties", {})
    return {(f.alias or k): described.get(f.alias or k, {}).get("description", "")
            for k, f in TopLevel.model_fields.items()}


@lru_cache(maxsize=1)
def _train_keys() -> dict[str, str]:
    """The keys of `train:` (read from the training schema, which loads without torch)."""
    from netspec.training.config import TrainConfig

    return {(f.alias or k): "" if f.is_required() else f"default: {_yaml(f.default)}"
            for k, f in TrainConfig.model_fields.items()}


def _param_detail(declared) -> str:
    default = declared.get("default") if isinstance(declared, dict) else declared
    return "required" if default is None else f"default {_yaml(default)}"


def _param_doc(declared) -> str:
    if not isinstance(declared, dict):
        return ""
    doc = declared.get("doc") or ""
    choices = declared.get("choices")
    if isinstance(choices, list):
        doc += ("\n\n" if doc else "") + "one of " + ", ".join(f"`{_yaml(c)}`" for c in choices)
    return doc


def _yaml(value) -> str:
    """A value spelled as in YAML: true, null, [1, 2]."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return str(value)


def _markdown(text: str) -> lsp.MarkupContent:
    return lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text)

