"""The JSON Schema (draft 2020-12) of the spec language, for YAML editors' completion and
checking (`netspec schema > netspec.schema.json`; VS Code's YAML extension reads it through
`# yaml-language-server: $schema=netspec.schema.json`).

It is generated from the same registries the loader uses: each layer kind's arguments come
from its pydantic model (`kind.args.model_json_schema()`), built-in blocks from their
`params:`. An editor sees what `netspec check` refuses only roughly: shapes, `$` references,
user blocks' parameters (any other name is taken for a user block) and ids are checked by
`netspec check` alone.

    entry    := bare kind name | {KIND: arguments, id?, from?, repeat?, if?, init?}
    KIND     := a layer kind | a block | `$act` (inside a block: the kind a parameter names)
    arguments := null (defaults) | the main argument (`linear: 10`) | a mapping
    anywhere a value goes, `$name` or `$(expr)` may stand instead (inside blocks)
"""

from __future__ import annotations

import copy
from typing import Any

from netspec.kinds import kinds
from netspec.lang.library import builtin_blocks
from netspec.lang.schema import DEFAULT_MERGE, INIT_SCHEMES, MAX_REPEAT, META_KEYS, merge_kinds

DRAFT = "https://json-schema.org/draft/2020-12/schema"
NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
REFERENCE = r"^\$([A-Za-z_][A-Za-z0-9_]*|\(.*\))$"
ID = r"^(?!input$)(?![0-9]+$)[A-Za-z0-9_\-]+$"


def json_schema() -> dict:
    """The JSON Schema of a spec file: top-level keys, entries, every kind's arguments."""
    registry = kinds()
    blocks = builtin_blocks()
    known = sorted({*registry, *blocks, "parallel"})
    defs: dict[str, Any] = {
        "reference": {"type": "string", "pattern": REFERENCE,
                      "description": "a block parameter `$name`, or an expression `$(...)`"},
        "dim": {"anyOf": [{"type": "integer", "minimum": 1, "maximum": 10**9},
                          {"type": "string", "pattern": NAME,
                           "description": "a symbolic size such as `seq`"},
                          {"$ref": "#/$defs/reference"}]},
        "shape": {"type": "array", "items": {"$ref": "#/$defs/dim"}, "minItems": 1,
                  "maxItems": 8, "description": "one sample's shape, channels first, no batch"},
        "input": {"anyOf": [
            {"$ref": "#/$defs/shape"},
            {"type": "object", "required": ["shape"], "additionalProperties": False,
             "properties": {"shape": {"$ref": "#/$defs/shape"},
                            "dtype": {"enum": ["float", "long"], "default": "float"}}}]},
        "layers": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/entry"},
                   "description": "layer entries, in execution order"},
        "block": _block_def(),
        "bare": _bare(registry, blocks, known),
        "parallel": _entry_of("parallel", _parallel_args()),
        "user_block_use": _user_block_use(),
        "network": _network(),
        "known_name": {"enum": known},
        **_meta_defs(),
    }
    alternatives = [{"$ref": "#/$defs/bare"}, {"$ref": "#/$defs/parallel"}]
    for name in sorted(registry):
        key = f"kind.{name}"
        defs[key] = _entry_of(name, _kind_args(registry[name], defs, key))
        alternatives.append({"$ref": f"#/$defs/{key}"})
    for name in sorted(blocks):
        key = f"block.{name}"
        defs[key] = _entry_of(name, _block_args(blocks[name]))
        alternatives.append({"$ref": f"#/$defs/{key}"})
    alternatives.append({"$ref": "#/$defs/user_block_use"})
    defs["entry"] = {"anyOf": alternatives}
    return {
        "$schema": DRAFT,
        "$id": "urn:netspec:spec",
        "title": "netspec spec",
        "description": "A network written as YAML: `input:` and `layers:`, optional `blocks:`; "
                       "or several under `networks:`.",
        "type": "object",
        "additionalProperties": False,
        "properties": _top_level(),
        "$defs": defs,
    }


def _top_level() -> dict:
    names_or_list = {"anyOf": [{"type": "string"},
                               {"type": "array", "items": {"type": "string"}}]}
    return {
        "name": {"type": "string", "description": "the model's name (default: the file stem)"},
        "description": {"type": "string"},
        "input": {"$ref": "#/$defs/input"},
        "inputs": {"type": "object", "minProperties": 1,
                   "propertyNames": {"pattern": NAME, "not": {"const": "input"}},
                   "additionalProperties": {"$ref": "#/$defs/input"},
                   "description": "several inputs, by name"},
        "blocks": {"type": "object", "propertyNames": {"pattern": NAME},
                   "additionalProperties": {"$ref": "#/$defs/block"}},
        "layers": {"$ref": "#/$defs/layers"},
        "outputs": {**copy.deepcopy(names_or_list),
                    "description": "the ids that are the outputs, in order"},
        "include": {**copy.deepcopy(names_or_list),
                    "description": "YAML files whose `blocks:` are imported"},
        "init": {"enum": list(INIT_SCHEMES), "default": "auto"},
        "train": {"type": "object", "description": "training configuration (`netspec train`)"},
        "params": {"type": "object", "propertyNames": {"pattern": NAME},
                   "description": "spec-level parameters, `$name` in layers, input and train; "
                                  "a value or {default, choices}"},
        "variants": {"type": "object", "additionalProperties": {"type": "object"},
                     "description": "named sets of params (and dotted `train.*` keys): "
                                    "`--variant NAME`"},
        "networks": {"type": "object", "minProperties": 1,
                     "propertyNames": {"pattern": NAME},
                     "additionalProperties": {"anyOf": [
                         {"type": "string", "description": "a spec file, relative to this one"},
                         {"type": "object", "required": ["spec"], "additionalProperties": False,
                          "properties": {"spec": {"type": "string"}, "params": {
                              "type": "object", "propertyNames": {"pattern": NAME}}},
                          "description": "a spec file, its params set from this one "
                                         "(`$name` reads this spec's params)"},
                         {"$ref": "#/$defs/network"}]},
                     "description": "several networks by name (a GAN's generator and "
                                    "discriminator), each inline or a spec file"},
    }


def _network() -> dict:
    """An inline network of `networks:`: the network keys of a one-network spec."""
    top = _top_level()
    keys = ("input", "inputs", "blocks", "layers", "outputs", "init", "params")
    return {"type": "object", "additionalProperties": False,
            "properties": {k: top[k] for k in keys}}


def _meta() -> dict:
    """What any entry may carry besides its kind (each key's schema is in `$defs`)."""
    return {key: {"$ref": f"#/$defs/meta.{key}"} for key in META_KEYS}


def _meta_defs() -> dict:
    return {f"meta.{key}": schema for key, schema in {
        "id": {"type": "string", "pattern": ID,
               "description": "a name others refer to; also its state_dict prefix"},
        "from": {"anyOf": [{"type": "string"},
                           {"type": "array", "items": {"type": "string"}, "minItems": 1}],
                 "description": "its input(s): an id, `input`, or a list (default: the entry above)"},
        "repeat": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_REPEAT},
                             {"$ref": "#/$defs/reference"}],
                   "description": "the entry repeated in sequence; 0 leaves it out"},
        "if": {"anyOf": [{"type": "boolean"}, {"$ref": "#/$defs/reference"}],
               "description": "present only when true: `if: $(stride != 1)`"},
        "init": {"enum": list(INIT_SCHEMES)},
    }.items()}


def _entry_of(kind: str, arguments: dict) -> dict:
    """A one-kind mapping: `{kind: arguments, id?, from?, repeat?, if?, init?}`."""
    return {"type": "object", "required": [kind], "additionalProperties": False,
            "properties": {kind: arguments, **_meta()}}


def _with_reference(schema: dict) -> dict:
    return {"anyOf": [schema, {"$ref": "#/$defs/reference"}]}


def _allow_references(schema: Any) -> Any:
    """`schema` with `$name`/`$(expr)` accepted for every value it describes."""
    if not isinstance(schema, dict):
        return schema
    out = dict(schema)
    if "properties" in out:
        out["properties"] = {k: _with_reference(_allow_references(v))
                             for k, v in out["properties"].items()}
    if isinstance(out.get("items"), dict):
        out["items"] = _with_reference(_allow_references(out["items"]))
    if "anyOf" in out:
        out["anyOf"] = [_allow_references(s) for s in out["anyOf"]]
    return out


def _kind_args(kind, defs: dict, key: str) -> dict:
    """A layer kind's arguments: null, the main argument alone, or a mapping."""
    schema = _untitled(kind.args.model_json_schema())
    _hoist_defs(schema, defs, key)
    schema["description"] = kind.doc.splitlines()[0] if kind.doc else kind.name
    mapping = _allow_references(schema)
    forms = [mapping]
    if kind.main is not None:
        main = schema.get("properties", {}).get(kind.main)
        if main is not None:
            forms.insert(0, _with_reference(_allow_references(main)))
    if not schema.get("required"):
        forms.insert(0, {"type": "null"})
    return {"anyOf": forms}


def _untitled(schema: Any, in_properties: bool = False) -> Any:
    """A copy of pydantic's schema without its `title`s (`"title": "Out"` says nothing the
    key does not)."""
    if isinstance(schema, list):
        return [_untitled(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    return {k: _untitled(v, k in ("properties", "$defs") and not in_properties)
            for k, v in schema.items() if in_properties or k != "title"}


def _hoist_defs(schema: dict, defs: dict, key: str) -> None:
    """Move pydantic's own `$defs` under ours, renamed per kind, rewriting their refs."""
    local = schema.pop("$defs", None)
    if not local:
        return
    renames = {f"#/$defs/{n}": f"#/$defs/{key}.{n}" for n in local}

    def rewrite(node):
        if isinstance(node, dict):
            return {k: (renames.get(v, v) if k == "$ref" else rewrite(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [rewrite(v) for v in node]
        return node

    for name, sub in local.items():
        defs[f"{key}.{name}"] = rewrite(sub)
    schema.update(rewrite(schema))


def _block_args(block) -> dict:
    """A built-in block's parameters (null in `params:` = required); values are free."""
    required = [p for p, d in block.params.items() if d is None]
    props = {p: ({"description": "required"} if d is None else {"default": d})
             for p, d in block.params.items()}
    for p, allowed in block.choices.items():
        props[p] = _with_reference({**props[p], "enum": list(allowed)})
    mapping = {"type": "object", "additionalProperties": False, "properties": props,
               "description": block.doc.strip().splitlines()[0] if block.doc else block.name}
    if required:
        mapping["required"] = required
    forms = [mapping]
    if len(block.params) == 1 or len(required) == 1:    # `block: value` gives that parameter
        forms.append({"not": {"type": "object"}})
    if not required:
        forms.insert(0, {"type": "null"})
    return {"anyOf": forms}


def _parallel_args() -> dict:
    branch = {"anyOf": [{"$ref": "#/$defs/layers"}, {"$ref": "#/$defs/entry"}]}
    return {"type": "object", "required": ["branches"], "additionalProperties": False,
            "description": "branches with the same input, merged",
            "properties": {"merge": {"enum": list(merge_kinds()), "default": DEFAULT_MERGE},
                           "dim": {"type": "integer", "default": 1},
                           "branches": {"type": "array", "minItems": 2, "items": branch}}}


def _bare(registry: dict, blocks: dict, known: list[str]) -> dict:
    """A kind or block written alone (`- relu`): one that needs no argument, or a user block."""
    no_args = sorted(n for n, k in registry.items() if not k.args.model_json_schema().get("required"))
    no_params = sorted(n for n, b in blocks.items() if None not in b.params.values())
    return {"type": "string",
            "anyOf": [{"enum": no_args + no_params},
                      {"pattern": NAME, "not": {"$ref": "#/$defs/known_name"},
                       "description": "a block defined under `blocks:`"},
                      {"pattern": REFERENCE,
                       "description": "inside a block: the kind a parameter names (`- $act`)"}]}


def _user_block_use() -> dict:
    """A use of a block defined in this file (or an included one): its parameters are free."""
    return {"type": "object", "minProperties": 1,
            "properties": _meta(),
            "propertyNames": {"anyOf": [{"enum": list(META_KEYS)},
                                        {"pattern": NAME, "not": {"$ref": "#/$defs/known_name"}},
                                        {"pattern": REFERENCE}]},
            "not": {"propertyNames": {"enum": list(META_KEYS)}},
            "description": "a block defined under `blocks:`, with its parameters"}


def _block_def() -> dict:
    reserved = {"enum": ["in", "prev", "input"]}
    return {"type": "object", "required": ["layers"], "additionalProperties": False,
            "properties": {
                "params": {"type": ["object", "null"],
                           "propertyNames": {"pattern": NAME, "not": reserved},
                           "description": "parameter names and defaults (null = required); "
                                          "or declared, {default, choices, doc}: a mapping "
                                          "of only those keys"},
                "inputs": {"type": "array", "minItems": 1,
                           "items": {"type": "string", "pattern": NAME, "not": reserved},
                           "description": "a block with several inputs: their names, read "
                                          "as `from: skip` and `skip.channels` (`in` is the "
                                          "first)"},
                "layers": {"$ref": "#/$defs/layers"},
                "doc": {"type": "string"}}}


__all__ = ["json_schema"]
