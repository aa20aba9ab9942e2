"""The JSON Schema of the `train:` section, from the registries themselves (so a new optimizer,
loss, schedule, task, data source, metric or augmentation appears in it by being registered
or declared; none of them imports torch).
`netspec schema` puts it under the spec schema's `train` property; YAML editors complete and
check the section with it.

A registry choice is written `name`, `{name: scalar}` (the entry's main argument) or
`{name: {args}}`; its schema is the union of those three shapes, per entry.
"""

from __future__ import annotations

from typing import Any

from netspec.lang.jsonschema import REFERENCE

PREFIX = "train_"            # the section's definitions beside the spec's own in `$defs`


def train_schema(defs: dict[str, Any]) -> dict:
    """The section's schema; the definitions it refers to are added to `defs` (the root's
    `$defs`)."""
    from netspec.training.config import TrainConfig
    from netspec.training.data import DATASETS
    from netspec.training.losses import LOSSES
    from netspec.training.optim import OPTIMIZERS, SCHEDULES
    from netspec.training.tasks import TASKS
    from netspec.training.augment_args import AUGMENTATIONS
    from netspec.training.metric_args import METRICS

    section = _model(TrainConfig, defs)
    props = section["properties"]
    props["optimizer"] = choice_schema(OPTIMIZERS, defs)
    props["schedule"] = choice_schema(SCHEDULES, defs)
    props["loss"] = choice_schema(LOSSES, defs)
    props["task"] = choice_schema(TASKS, defs)
    # metrics and augmentations from their torch-free declarations
    props["metrics"] = _one_or_list(choice_schema(METRICS, defs))
    props["augment"] = _one_or_list(choice_schema(AUGMENTATIONS, defs))
    props["data"] = _data_schema(DATASETS, defs, props.get("data", {}))
    if "optimizers" in props:       # one optimizer per network (several networks)
        props["optimizers"] = {"type": "object", "additionalProperties": props["optimizer"]}
    props["lr"] = {"type": "number", "minimum": 0,
                   "description": "the optimizer's learning rate (as `--lr`)"}
    # `init: PATH` or {from, map, strict}; with several networks also {NAME: one of those}
    one = {"anyOf": [{"type": "string"}, {"$ref": f"#/$defs/{PREFIX}WeightsInit"}]}
    props["init"] = {"anyOf": [one, {"type": "object", "additionalProperties": one},
                               {"type": "null"}],
                     "description": "weights that start the run (a run or .safetensors file)"}
    section["description"] = "training configuration (`netspec train`)"
    # every value of `train:` may be a spec param `$name` or an expression `$(...)`
    defs.setdefault("reference", {"type": "string", "pattern": REFERENCE})
    _allow_references(section)
    for key in [k for k in defs if k.startswith(PREFIX)]:
        _allow_references(defs[key])
    return section


REF = {"$ref": "#/$defs/reference"}


def _allow_references(node: Any) -> None:
    """Each property's schema (at any depth) also accepts a `$` reference."""
    if isinstance(node, list):
        for value in node:
            _allow_references(value)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            for name, schema in value.items():
                _allow_references(schema)
                if not isinstance(schema, dict) or REF in schema.get("anyOf", []):
                    continue
                if list(schema) == ["anyOf"] or set(schema) == {"anyOf", "description"}:
                    schema["anyOf"].append(REF)         # one more alternative
                else:
                    value[name] = {"anyOf": [schema, REF]}
        else:
            _allow_references(value)


def choice_schema(registry, defs: dict[str, Any]) -> dict:
    """`name`, `{name: main}` or `{name: {args}}` for each entry of `registry`."""
    names = registry.names()
    shapes: list[dict] = [{"enum": names, "description": f"one {registry.concept}, by name"}]
    for name in names:
        entry = registry[name]
        args = _model(entry.args, defs)
        value: list[dict] = [args, {"type": "null"}]
        if entry.main is not None:
            value.append(args["properties"].get(entry.main, {}))
        shapes.append({"type": "object", "additionalProperties": False,
                       "properties": {name: {"anyOf": value}}, "required": [name],
                       "description": entry.doc.split("\n")[0]})
    return {"anyOf": shapes}


def _data_schema(datasets, defs: dict[str, Any], common: dict) -> dict:
    """`data:` as a name, or a mapping of the common keys, `name` or a file source's key, and
    the sources' own options (each source validates its own when the section is resolved)."""
    from netspec.training.data.section import DataConfig

    mapping = _model(DataConfig, defs)
    props = mapping["properties"]
    plain = [n for n, e in datasets.entries.items() if not e.meta.get("file")]
    props["name"] = {"enum": sorted(plain), "description": "a built-in data set"}
    for name, entry in sorted(datasets.entries.items()):
        if entry.meta.get("file"):
            # a file's path; a mapping where a task reads two sources (cyclegan's `a`, `b`)
            props[name] = {"anyOf": [{"type": "string"}, {"type": "object"}],
                           "description": entry.doc.split("\n")[0]}
        for key, schema in _model(entry.args, defs).get("properties", {}).items():
            props.setdefault(key, schema)
    # beyond the known keys only nested sources (`{a: ..., b: ...}`: cyclegan's two sets)
    mapping["additionalProperties"] = {"type": "object"}
    return {"anyOf": [{"enum": sorted(plain)}, mapping],
            "description": common.get("description", "where the data comes from")}


def _one_or_list(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "array", "items": schema}]}


def _model(model, defs: dict[str, Any]) -> dict:
    """A pydantic model's schema, its `$defs` hoisted into `defs` under PREFIX, in the
    keywords the spec schema uses (bounds as minimum/maximum, a tuple as items)."""
    schema = model.model_json_schema(ref_template="#/$defs/" + PREFIX + "{model}")
    for key, value in schema.pop("$defs", {}).items():
        defs[PREFIX + key] = _plain(value)
    schema = _plain(schema)
    schema.setdefault("properties", {})
    return schema


# pydantic's bound keywords -> the inclusive ones (an open bound reads as closed: the
# section's own validation refuses the bound itself, by name)
BOUNDS = {"ge": "minimum", "gt": "minimum", "exclusiveMinimum": "minimum",
          "le": "maximum", "lt": "maximum", "exclusiveMaximum": "maximum"}


def _plain(node: Any, in_properties: bool = False) -> Any:
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if not isinstance(node, dict):
        return node
    if in_properties:
        return {k: _plain(v) for k, v in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title":
            continue
        if key in BOUNDS:
            out[BOUNDS[key]] = value
        elif key == "prefixItems":
            out["items"] = {"anyOf": _plain(value)}
        elif key in ("enum", "const", "default"):
            out[key] = value
        else:
            out[key] = _plain(value, in_properties=key == "properties")
    return out
