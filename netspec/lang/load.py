"""Parsing a spec: YAML text -> located tree -> validated, frozen :class:`Spec`.

Every independent mistake is collected, so a user sees all of them at once. Block expansion
finds more (shapes, `$` references, ids); `netspec.graph.load` runs it on what did parse and
reports both together. This module stays below the graph: it parses, never expands.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from netspec.errors import Collector, Diagnostic, Location, SpecError, did_you_mean
from netspec.kinds import kinds
from netspec.lang import validation
from netspec.lang.entries import parse_block, parse_entries
from netspec.lang.files import read_text
from netspec.lang.includes import included_blocks
from netspec.lang.library import builtin_blocks
from netspec.lang.located import LDict, key_location
from netspec.lang.overrides import choose
from netspec.lang.settings import Setting
from netspec.lang.schema import InputSpec, Spec, TopLevel
from netspec.lang.yaml_loader import load_yaml

@dataclass(frozen=True)
class Parsed:
    """What parsing found. Without mistakes, `spec` is the spec. With some, `errors` holds
    them and `partial` is the part that did parse (inputs, blocks, layers) when it is enough
    to expand, so that expansion can add its own mistakes; `spec` is then None."""

    spec: Spec | None
    errors: Collector
    partial: Spec | None = None


def read_spec(path: str | os.PathLike) -> str:
    """The text of the spec file at `path`: a regular UTF-8 file of at most 10 MiB; raises
    SpecError when it is not one or cannot be read."""
    return read_text(path)


def parse_spec(text: str, file: str = "<spec>", variant: str | None = None,
               settings: tuple[Setting, ...] = ()) -> Parsed:
    """Parse and validate spec text; `file` is the name used in error locations; `variant`
    and `settings` (`--set`) choose the params in effect (`overrides.choose`). A mistake
    that stops everything (not YAML, not a mapping) is raised; the others are collected;
    an unknown variant or param, or a bad `--set` value, raises OverrideError."""
    root = load_yaml(text, file)
    if not isinstance(root, LDict):
        raise SpecError("a spec is a mapping with `input:` and `layers:` at the top",
                        Location(file, 1, 1), hint="start with `input: [1, 28, 28]`, then "
                        "`layers:` and a list of layers")
    errors = Collector()
    root, choice = choose(root, file, variant, settings, errors)
    if "networks" in root:
        from netspec.lang.networks import parse_networks

        return Parsed(parse_networks(root, text, file, choice, errors, parse_network), errors)
    return parse_network(root, text, file, choice, errors)


def parse_network(root: LDict, text: str, file: str, choice, errors: Collector,
                  shared: dict | None = None) -> Parsed:
    """One network from its located tree (`root`, params chosen): a whole spec file, or one
    entry of `networks:`, which also sees the `shared` blocks (name -> (raw, location)) of
    the file that holds it."""
    top = _top_level(root, errors)
    blocks = {**(shared or {}), **_user_blocks(root, file, errors)}
    known = set(kinds()) | set(blocks) | set(builtin_blocks()) | {"parallel"}
    parsed_blocks = {}
    for name, (raw, loc) in blocks.items():
        with errors.guard():
            parsed_blocks[name] = parse_block(name, raw, loc, known, errors)
    inputs = _inputs(root, top, file, errors)
    layers = _layers(root, top, known, errors)
    name = (top.name if top else None) or Path(file).stem
    if errors.diagnostics:
        raw_inputs = root.get("inputs")
        all_inputs = not isinstance(raw_inputs, dict) or len(inputs) == len(raw_inputs)
        expandable = top is not None and inputs and layers and all_inputs
        partial = Spec(name=name, inputs=inputs, blocks=parsed_blocks, layers=layers,
                       init=top.init, params=choice.params) if expandable else None
        return Parsed(None, errors, partial)
    return Parsed(Spec(name=name, inputs=inputs, blocks=parsed_blocks, layers=layers,
                       outputs=top.outputs, init=top.init, train=root.get("train"),
                       path=file, params=choice.params, variants=choice.variants,
                       variant=choice.variant, settings=choice.settings,
                       source=text, raw=root), errors)


def _layers(root: LDict, top: TopLevel | None, known: set[str], errors: Collector) -> tuple:
    """The top-level `layers:` entries (none when the key is missing or of the wrong type)."""
    # `layers:` of the wrong type is reported by the top level already
    wrong_type = "layers" in root and root["layers"] is not None and top and top.layers is None
    misspelt = any(did_you_mean(k, ["layers"]) for k in root if k not in TopLevel.model_fields)
    if top is not None and "layers" not in root and not misspelt:
        errors.add(Diagnostic("the spec has no `layers:`", root.loc,
                              hint="add `layers:` with a list of layers, e.g. `- linear: 10`"))
    if top and "layers" in root and not wrong_type:
        return parse_entries(root["layers"], known, errors, root, "layers")
    return ()


def _top_level(root: LDict, errors: Collector) -> TopLevel | None:
    """The top-level keys; keys that fail are reported and dropped, so the rest is checked."""
    data = dict(root)
    for _ in range(len(root) + 1):
        try:
            return TopLevel.model_validate(data)
        except Exception as e:  # pydantic.ValidationError
            diags = validation.diagnostics(e, root, TopLevel)
            errors.diagnostics.extend(d for d in diags if d not in errors.diagnostics)
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            if not bad & set(data):
                return None
            for key in bad:
                data.pop(key, None)
    return None


def _user_blocks(root: LDict, file: str, errors: Collector) -> dict[str, tuple[Any, Location | None]]:
    """Blocks of this file and of its includes (recursively): name -> (raw, location)."""
    found = included_blocks(root, file, errors)
    own = root.get("blocks") if isinstance(root.get("blocks"), LDict) else {}
    for name in own:
        found[name] = (own[name], key_location(own, name))
    return found


def _inputs(root: LDict, top: TopLevel | None, file: str,
            errors: Collector) -> dict[str, InputSpec]:
    if "input" in root and "inputs" in root:
        errors.add(Diagnostic("give either `input:` or `inputs:`, not both",
                              key_location(root, "inputs")))
        return {}
    if "inputs" in root:
        raw = root["inputs"]
        if not isinstance(raw, LDict) or not raw:
            errors.add(Diagnostic("`inputs:` maps input names to shapes", root.value_locs["inputs"]))
            return {}
        out = {}
        for name in raw:
            with errors.guard():
                if name == "input" or not str(name).isidentifier():
                    raise SpecError(f"input name {name!r} must be a name other than `input`",
                                    key_location(raw, name))
                out[name] = _input_spec(raw[name], raw.value_locs[name], raw, name)
        return out
    if "input" not in root:
        # at the mapping that lacks it: an inline network of `networks:` is not at 1:1
        at = root.loc if isinstance(root, LDict) and root.loc is not None else None
        errors.add(Diagnostic("the spec has no `input:`", at or Location(file, 1, 1),
                              hint="give the shape of one sample without the batch dim, channels "
                                   "first: `input: [3, 224, 224]`, or `[16]` for features"))
        return {}
    with errors.guard():
        return {"input": _input_spec(root["input"], root.value_locs["input"], root, "input")}
    return {}


def _input_spec(raw: Any, loc: Location, parent: LDict, key: str) -> InputSpec:
    what = f"input `{key}`: " if key != "input" else "input: "
    if isinstance(raw, dict):
        return validation.validate(InputSpec, raw, fallback=loc, what=what)
    located = LDict(shape=raw)      # the short form `input: [3, 32, 32]` is the shape alone
    located.loc, located.key_locs, located.value_locs = loc, {"shape": loc}, {"shape": loc}
    try:
        return validation.validate(InputSpec, located, fallback=loc, what=what)
    except SpecError as err:
        hint = (f"write the shape in brackets: `{key}: [{raw}]`"
                if isinstance(raw, str) and "," in raw else None)
        raise SpecError([replace(d, message=re.sub(r"`shape(\[\d+\])?`: ", "", d.message, count=1),
                                 hint=d.hint or hint) for d in err.diagnostics]) from None
