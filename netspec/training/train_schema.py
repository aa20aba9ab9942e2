"""The JSON Schema of the `train:` section, from the registries themselves (so a new optimizer,
loss, schedule, task or data source appears in it by being registered; metrics and
augmentations by shape only, as their modules import torch and `netspec schema` must not).
`netspec schema` puts it under the spec schema's `train` property; YAML editors complete and
check the section with it.

A registry choice is written `name`, `{name: scalar}` (the entry's main argument) or
`{name: {args}}`; its schema is the union of those three shapes, per entry.
"""

from __future__ import annotations

from typing import Any

PREFIX = "train_"            # the section's definitions beside the spec's own in `$defs`


def train_schema(defs: dict[str, Any]) -> dict:
    """The section's schema; the definitions it refers to are added to `defs` (the root's
    `$defs`)."""
    from netspec.training.config import TrainConfig
    from netspec.training.data import DATASETS
    from netspec.training.losses import LOSSES
    from netspec.training.optim import OPTIMIZERS, SCHEDULES
    from netspec.training.tasks import TASKS

    section = _model(TrainConfig, defs)
    props = section["properties"]
    props["optimizer"] = choice_schema(OPTIMIZERS, defs)
    props["schedule"] = choice_schema(SCHEDULES, defs)
    props["loss"] = choice_schema(LOSSES, defs)
    props["task"] = choice_schema(TASKS, defs)
    # the metric and augmentation registries import torch, which `netspec schema` must not:
    # their entries are described by shape only (and validated when training starts)
    props["metrics"] = _one_or_list(_any_choice("metric: `accuracy`, `{top_k: 5}`, ..."))
    props["augment"] = _one_or_list(_any_choice("augmentation: `hflip`, "
                                                "`{random_crop: {padding: 4}}`, ..."))
    props["data"] = _data_schema(DATASETS, defs, props.get("data", {}))
    if "optimizers" in props:       # one optimizer per network (several networks)
        props["optimizers"] = {"type": "object", "additionalProperties": props["optimizer"]}
    props["lr"] = {"type": "number", "minimum": 0,
                   "description": "the optimizer's learning rate (as `--lr`)"}
    section["description"] = "training configuration (`netspec train`)"
    return section


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
    from netspec.training.data.base import DataConfig

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


def _any_choice(what: str) -> dict:
    return {"anyOf": [{"type": "string"},
                      {"type": "object", "minProperties": 1, "propertyNames":
                       {"type": "string"}}], "description": f"one {what}"}


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
