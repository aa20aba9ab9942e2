"""`netspec schema`: the JSON Schema of the spec language accepts every spec we ship and
refuses the usual mistakes.

Validation uses the `jsonschema` package when it is installed, and always a small validator
below that knows the keywords the schema uses (so the test needs no extra dependency)."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from netspec.lang.library import LIBRARY, builtin_blocks
from netspec.cli.main import main
from netspec.kinds import kinds
from netspec.lang.jsonschema import json_schema
from netspec.lang.schema import TopLevel
from netspec.lang.yaml_loader import load_yaml

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = json_schema()


# ---- a small validator for the keywords the schema uses ---------------------------------

KNOWN_KEYWORDS = {"$schema", "$id", "$ref", "$defs", "title", "description", "default", "type",
                  "enum", "const", "pattern", "minimum", "maximum", "properties", "required",
                  "additionalProperties", "propertyNames", "minProperties", "items", "minItems",
                  "maxItems", "anyOf", "not"}
TYPES = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None)}


def _is_type(value, name: str) -> bool:
    if name == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or \
            (isinstance(value, float) and value.is_integer())
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, TYPES[name])


def valid(value, schema: dict, root: dict = SCHEMA) -> bool:
    """Whether `value` satisfies `schema` (draft 2020-12, for the keywords above)."""
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        if not valid(value, target, root):
            return False
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, n) for n in names):
            return False
    if "enum" in schema and not any(value == e and type(value) is type(e) or
                                    (_is_type(value, "number") and value == e and
                                     not isinstance(e, (bool, str)))
                                    for e in schema["enum"]):
        return False
    if "const" in schema and value != schema["const"]:
        return False
    if isinstance(value, str) and "pattern" in schema and not re.search(schema["pattern"], value):
        return False
    if _is_type(value, "number"):
        if value < schema.get("minimum", value) or value > schema.get("maximum", value):
            return False
    if isinstance(value, dict):
        props = schema.get("properties", {})
        if any(k not in value for k in schema.get("required", ())):
            return False
        if len(value) < schema.get("minProperties", 0):
            return False
        for k, v in value.items():
            if "propertyNames" in schema and not valid(k, schema["propertyNames"], root):
                return False
            if k in props:
                if not valid(v, props[k], root):
                    return False
            elif schema.get("additionalProperties") is False:
                return False
            elif isinstance(schema.get("additionalProperties"), dict) and \
                    not valid(v, schema["additionalProperties"], root):
                return False
    if isinstance(value, list):
        if not schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", len(value)):
            return False
        if "items" in schema and not all(valid(v, schema["items"], root) for v in value):
            return False
    if "anyOf" in schema and not any(valid(value, s, root) for s in schema["anyOf"]):
        return False
    if "not" in schema and valid(value, schema["not"], root):
        return False
    return True


def accepts(data) -> bool:
    ours = valid(data, SCHEMA)
    try:
        import jsonschema
    except ImportError:
        return ours
    theirs = jsonschema.Draft202012Validator(SCHEMA).is_valid(data)
    assert ours == theirs, "the small validator and jsonschema disagree"
    return ours


def yaml_data(text: str):
    return load_yaml(textwrap.dedent(text).lstrip("\n"), "t.yaml")


# ---- structure ------------------------------------------------------------------------------

def test_schema_is_draft_2020_12_and_uses_only_known_keywords():
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    json.dumps(SCHEMA)      # plain JSON

    def walk(node, in_properties=False):
        if isinstance(node, dict):
            if not in_properties:
                assert set(node) <= KNOWN_KEYWORDS, set(node) - KNOWN_KEYWORDS
            for k, v in node.items():
                if k == "$ref":
                    path = v.removeprefix("#/").split("/")
                    assert path[0] == "$defs" and path[1] in SCHEMA["$defs"], v
                elif k in ("properties", "$defs") and not in_properties:
                    for sub in v.values():
                        walk(sub)
                elif k not in ("enum", "const", "default") or in_properties:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(SCHEMA)


def test_schema_covers_top_level_keys_kinds_blocks_and_parallel():
    assert set(SCHEMA["properties"]) == set(TopLevel.model_fields)
    defs = SCHEMA["$defs"]
    for name in kinds():
        assert f"kind.{name}" in defs
    for name in builtin_blocks():
        assert f"block.{name}" in defs
    assert "parallel" in defs and "user_block_use" in defs
    conv = defs["kind.conv"]["properties"]["conv"]
    assert {"id", "from", "repeat", "if", "init"} <= set(defs["kind.conv"]["properties"])
    mapping = conv["anyOf"][-1]
    assert mapping["required"] == ["out", "kernel"]
    assert {"out", "kernel", "stride", "padding", "dilation", "groups", "bias",
            "padding_mode"} == set(mapping["properties"])


def test_netspec_schema_prints_it():
    result = CliRunner().invoke(main, ["schema"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    # the train section comes from the training registries (tests/test_train_check.py)
    assert "epochs" in printed["properties"].pop("train")["properties"]
    printed["properties"]["train"] = SCHEMA["properties"]["train"]
    printed["$defs"] = {k: v for k, v in printed["$defs"].items() if not k.startswith("train_")}
    assert printed == SCHEMA


# ---- what it accepts and refuses ----------------------------------------------------------

SHIPPED = sorted((ROOT / "specs").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED + [LIBRARY], ids=lambda p: p.name)
def test_schema_accepts_every_shipped_spec(path):
    assert accepts(load_yaml(path.read_text(), str(path)))


OWN = {
    "everything": """
        name: everything
        input: [3, 32, 32]
        init: kaiming
        blocks:
          cbr:
            params: {out: null, stride: 1}
            doc: conv, batchnorm, relu
            layers:
              - conv: {out: $out, kernel: [3, $(2 + 1)], stride: $stride, padding: 1, bias: false}
              - batchnorm:
              - relu
              - conv: {out: $out, kernel: 1}
                from: input
                if: $(stride != 1)
                init: xavier
        layers:
          - cbr: {out: 16}
            id: stem
          - cbr: 16
            repeat: 2
          - vgg_block: {convs: 1, out: 16}
          - parallel:
              merge: add
              branches:
                - [{conv: {out: 16, kernel: 1}}, gelu]
                - identity
          - {concat: {dim: 1}, from: [stem, stem]}
          - maxpool: 2
          - flatten
          - linear: 10
          - log_softmax
        outputs: [stem]
        """,
    "tokens": """
        inputs:
          ids: {shape: [seq], dtype: long}
          extra: [seq, 4]
        layers:
          - embedding: {vocab: 100, dim: 12}
            from: ids
            id: emb
          - {concat: 2, from: [emb, extra]}
          - lstm: {hidden: 8, return: last}
          - linear: 2
        """,
    "library only": """
        blocks:
          pair:
            params: {c: null}
            layers: [{linear: $c}, relu]
        """,
}


@pytest.mark.parametrize("text", OWN.values(), ids=OWN.keys())
def test_schema_accepts_our_examples(text):
    assert accepts(yaml_data(text))


# (an unknown kind is not among them: the schema takes any other name for a user block, which
# it cannot see; `netspec check` says "did you mean `relu`?")
BAD = {
    "misspelt argument": "layers: [{conv: {out: 8, kernal: 3}}]",
    "missing argument": "layers: [{conv: {out: 8}}]",
    "string for an integer": "layers: [{linear: '10'}]",
    "bool for an integer": "layers: [{linear: true}]",
    "bad choice": "layers: [{conv: {out: 8, kernel: 3, padding: full}}]",
    "two kinds in one entry": "layers: [{conv: {out: 8, kernel: 3}, relu: null}]",
    "unknown entry key": "layers: [{relu: null, idd: r}]",
    "dotted id": "layers: [{relu: null, id: a.b}]",
    "all-digit id": "layers: [{relu: null, id: '12'}]",
    "negative repeat": "layers: [{relu: null, repeat: -1}]",
    "if not a condition": "layers: [{relu: null, if: maybe}]",
    "bare kind needing arguments": "layers: [conv]",
    "parallel with one branch": "layers: [{parallel: {branches: [[relu]]}}]",
    "unknown top-level key": "layerz: [relu]",
    "input as a string": "input: '3, 32, 32'",
    "input dim 0": "input: [3, 0, 8]",
    "block without layers": "blocks: {b: {params: {c: 1}}}",
    "unknown built-in block parameter": "layers: [{residual: {out: 64, strid: 2}}]",
    "entry of only an id": "layers: [{id: a}]",
}


@pytest.mark.parametrize("text", BAD.values(), ids=BAD.keys())
def test_schema_refuses_common_mistakes(text):
    assert not accepts(yaml_data(text))
