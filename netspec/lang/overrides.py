"""Spec-level `params:` and `variants:`, and a command's `--variant` / `--set`: the one place
where the values in effect are chosen, before anything else reads the spec.

    params:   {depth: 18, width: 64, act: {default: relu, choices: [relu, gelu]}}
    variants: {resnet34: {depth: 34}, tiny: {width: 16, train.epochs: 1}}

Precedence, lowest first: the value in `params:` < the chosen variant < each `--set NAME=VALUE`
in the order given (so `--set` wins over `--variant`). A dotted name (`train.lr`,
`train.data.batch_size`) sets a key of the `train:` section instead of a param.

A value must suit the param it sets (`check_value`): of the declared value's type (an integer
param takes only integers, a float param any finite number, a string param a string), one of
its `choices:` when it declares some, and never NaN or infinity. `null` declares a param that
has no value until a variant or `--set` gives it one.

The params in effect are the root scope of the top-level `layers:` (arguments, `repeat:`,
`if:`, block arguments at their use sites) and are substituted here into `input:`/`inputs:` and
every value of `train:`. A block body sees only its own parameters: pass a spec param in as an
argument. Mistakes in the spec's own `params:`/`variants:` are located SpecErrors (exit 1);
an unknown variant or param, or a bad value, given by the caller is an OverrideError (the
command's misuse: exit 2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from netspec.errors import Collector, Diagnostic, Location, did_you_mean
from netspec.lang.expr import substitute
from netspec.lang.expr_syntax import ExprError
from netspec.lang.located import LDict, LList, key_location, text_location, value_location
from netspec.lang.settings import CommandLine, OverrideError, Setting
from netspec.lang.settings import plain as _plain

RESERVED = ("in", "prev")           # names expressions already give a meaning
SECTIONS = ("train",)               # what a dotted name may set a key of


@dataclass(frozen=True)
class Choice:
    """What a spec is loaded as: the params in effect, the variant, the settings given."""

    params: dict[str, Any] = field(default_factory=dict)
    variants: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def not_finite(name: str, value: Any) -> str | None:
    """Why `value` (a scalar, or a list or mapping of them) is refused for holding NaN or an
    infinity, as a number or spelt as a string; None when it holds none."""
    if isinstance(value, float) and not math.isfinite(value):
        return f"`{name}` takes a finite number, got {'NaN' if math.isnan(value) else value}"
    if isinstance(value, str) and value.lower().lstrip("+-") in ("nan", ".nan", "inf", ".inf"):
        return f"`{name}` takes no NaN or infinity, got {value!r}"
    inner = value.values() if isinstance(value, dict) else value if isinstance(value, list) else ()
    if any(not_finite(name, v) for v in inner):
        return f"`{name}` takes finite numbers, got {_plain(value)!r}"
    return None


def check_value(name: str, declared: Any, value: Any, choices: list | None = None) -> str | None:
    """Why `value` does not suit param `name` declared as `declared` (None when it does)."""
    problem = not_finite(name, value)
    if problem:
        return problem
    if isinstance(value, (dict, LDict)):
        return f"`{name}` takes a scalar or a list, got a mapping {_plain(value)!r}"
    if choices is not None:
        if value not in choices:
            close = did_you_mean(str(value), [str(c) for c in choices])
            return (f"`{name}` is one of {', '.join(map(repr, choices))}, got {value!r}"
                    + (f" ({close})" if close else ""))
        return None
    want = _kind(declared)
    if want is None or _kind(value) == want or (want == "a number" and _kind(value) == "an integer"):
        return None
    return f"`{name}` takes {want} (it is {declared!r} in `params:`), got {value!r}"


def _kind(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "a list" if isinstance(value, list) else None


def choose(root: LDict, file: str, variant: str | None, settings: tuple[Setting, ...],
           errors: Collector) -> tuple[LDict, Choice]:
    """The params in effect and `root` with them applied: train keys set, `$` values of
    `input:`/`inputs:`/`train:` substituted. Spec mistakes go to `errors`; the caller's
    raise OverrideError."""
    declared = _declared(root, errors)
    variants = _variants(root, declared, errors)
    values = {name: default for name, (default, _) in declared.items()}
    train_sets: list[tuple[tuple[str, ...], Any, Location | None]] = []
    if variant is not None:
        if variant not in variants and variant not in (root.get("variants") or {}):
            known = ", ".join(variants) or "none"
            close = did_you_mean(variant, list(variants))
            raise OverrideError(f"the spec has no variant {variant!r} (variants: {known})",
                                close or ("declare it under `variants:`" if not variants
                                          else None), option="--variant")
        for key, (value, loc) in variants.get(variant, {}).items():
            if "." in key:
                train_sets.append((tuple(key.split("."))[1:], value, loc))
            else:
                values[key] = value
    for s in settings:
        if len(s.path) > 1:
            train_sets.append((s.path[1:], s.value, _train_setting(s)))
        else:
            values[s.name] = _param_setting(s, declared, root)
    for name, value in values.items():
        if value is None:
            errors.add(Diagnostic(f"param `{name}` has no value (`null` leaves it to the caller)",
                                  key_location(root["params"], name),
                                  hint=f"give it one: `--set {name}=...`, a variant that sets it,"
                                       f" or a value under `params:`"))
    out = _applied(root, values, train_sets, errors)
    record = {s.name: s.value for s in settings}
    return out, Choice(values, {k: {n: v for n, (v, _) in b.items()} for k, b in variants.items()},
                       variant, record)


def _train_setting(s: Setting) -> Location:
    """Where a `--set train.KEY=VALUE` is written (for training's messages about it); raises
    OverrideError for another section or a NaN."""
    if s.path[0] not in SECTIONS:
        raise OverrideError(f"`--set {s.text}`: only keys of `train:` are set with a dotted "
                            f"name, not of `{s.path[0]}:`", "give the spec a param and use it "
                            "there: `input: [3, $size, $size]` with `--set size=64`")
    problem = not_finite(s.name, s.value)
    if problem:
        raise OverrideError(f"`--set {s.text}`: {problem}")
    return CommandLine(f"--set {s.text}", 1, 1)


def _param_setting(s: Setting, declared: dict, root: LDict) -> Any:
    """The value of a `--set NAME=VALUE` of a param; raises OverrideError when the spec
    declares no such param or the value does not suit it."""
    if s.name not in declared:
        raise OverrideError(_unknown_param(s.name, declared), _param_hint(s.name, root))
    problem = check_value(s.name, declared[s.name][0], s.value, declared[s.name][1])
    if problem:
        raise OverrideError(f"`--set {s.text}`: {problem}")
    return s.value


def _declared(root: LDict, errors: Collector) -> dict[str, tuple[Any, list | None]]:
    """`params:` as name -> (value, choices or None); bad entries reported and left out."""
    raw = root.get("params")
    if raw is None:
        return {}
    if not isinstance(raw, LDict):
        errors.add(Diagnostic("`params:` maps names to values", value_location(root, "params"),
                              hint="write e.g. `params: {depth: 18, width: 64}`"))
        return {}
    out = {}
    for name, value in raw.items():
        loc = key_location(raw, name)
        if not isinstance(name, str) or not name.isidentifier() or name in RESERVED:
            errors.add(Diagnostic(f"param {name!r} must be a name other than "
                                  f"{' and '.join(f'`{r}`' for r in RESERVED)}", loc,
                                  hint="use letters, digits and `_`, e.g. `depth`"))
            continue
        default, choices = value, None
        if isinstance(value, LDict):
            default, choices = _declared_form(name, value, errors)
            if default is _BAD:
                continue
        problem = "" if default is None else check_value(name, None, default, choices)
        if isinstance(default, str) and default.startswith("$"):
            problem = (f"`{name}` is a value, not an expression ({default!r}): params are "
                       f"given, expressions use them")
        if problem:
            errors.add(Diagnostic(problem, value_location(raw, name) or loc,
                                  hint="write a number, a string or a list"))
            continue
        out[name] = (default, choices)
    return out


_BAD = object()


def _declared_form(name: str, value: LDict, errors: Collector) -> tuple[Any, list | None]:
    """`{default: relu, choices: [relu, gelu]}` -> (default, choices); (_BAD, None) if wrong."""
    extra = [k for k in value if k not in ("default", "choices")]
    if extra:
        errors.add(Diagnostic(f"param `{name}` is declared with `default:` and `choices:`, "
                              f"not {extra[0]!r}", key_location(value, extra[0]),
                              hint=f"write `{name}: {{default: ..., choices: [...]}}`, or "
                                   f"just its value"))
        return _BAD, None
    choices = value.get("choices")
    if choices is not None and (not isinstance(choices, list) or not choices):
        errors.add(Diagnostic(f"the `choices:` of param `{name}` are a non-empty list",
                              value_location(value, "choices"),
                              hint="write e.g. `choices: [relu, gelu]`"))
        return _BAD, None
    default = value.get("default")
    if choices is not None and default is not None and default not in choices:
        errors.add(Diagnostic(f"the default {default!r} of param `{name}` is not one of its "
                              f"choices {_plain(choices)}", value_location(value, "default"),
                              hint="add it to `choices:` or pick one of them"))
        return _BAD, None
    return _plain(default), _plain(choices)


def _variants(root: LDict, declared: dict, errors: Collector) -> dict[str, dict]:
    """`variants:` as name -> {param or dotted train key: (value, location)}, each value
    checked as a `--set` of it would be; wrong entries reported and left out."""
    raw = root.get("variants")
    if raw is None:
        return {}
    if not isinstance(raw, LDict):
        errors.add(Diagnostic("`variants:` maps variant names to the params they set",
                              value_location(root, "variants"),
                              hint="write e.g. `variants: {resnet34: {depth: 34}}`"))
        return {}
    out = {}
    for vname, body in raw.items():
        if not isinstance(body, LDict):
            errors.add(Diagnostic(f"variant {vname!r} is a mapping of params to values",
                                  value_location(raw, vname) or key_location(raw, vname),
                                  hint=f"write e.g. `{vname}: {{depth: 34}}`"))
            continue
        out[str(vname)] = {}
        for key, value in body.items():
            if _variant_key_ok(str(vname), body, key, declared, errors):
                loc = value_location(body, key) or key_location(body, key)
                problem = not_finite(key, value) if "." in key else \
                    check_value(key, declared[key][0], value, declared[key][1])
                if problem:
                    errors.add(Diagnostic(f"variant {vname!r}: {problem}", loc,
                                          hint="give a value of the param's type"))
                    continue
                out[str(vname)][key] = (_plain(value), loc)
    return out


def _variant_key_ok(vname: str, body: LDict, key: Any, declared: dict,
                    errors: Collector) -> bool:
    loc = key_location(body, key)
    if isinstance(key, str) and "." in key:
        head = key.split(".")[0]
        if head in SECTIONS and all(p.isidentifier() for p in key.split(".")[1:]):
            return True
        errors.add(Diagnostic(f"variant {vname!r} sets {key!r}: a dotted name sets a key of "
                              f"`train:` (`train.epochs`)", loc,
                              hint="other sections take a param: `input: [3, $size, $size]`"))
        return False
    if key in declared:
        return True
    close = did_you_mean(str(key), list(declared))
    errors.add(Diagnostic(f"variant {vname!r} sets {key!r}, which is not a param of the spec "
                          f"(params: {', '.join(declared) or 'none'})", loc,
                          hint=close or f"declare it under `params:`: `params: {{{key}: ...}}`"))
    return False


def _unknown_param(name: str, declared: dict) -> str:
    return f"the spec has no param {name!r} (params: {', '.join(declared) or 'none'})"


def _param_hint(name: str, root: LDict) -> str | None:
    declared = root.get("params") if isinstance(root.get("params"), dict) else {}
    train = root.get("train") if isinstance(root.get("train"), dict) else {}
    return (did_you_mean(name, list(declared))
            or (f"`{name}` is a key of `train:`: write `--set train.{name}=...`"
                if name in train else None)
            or "declare it under `params:` in the spec, or set a train key as `train.NAME`")


def _applied(root: LDict, values: dict, train_sets: list, errors: Collector) -> LDict:
    """A copy of `root` with the dotted train keys set and the `$` values of `input:`,
    `inputs:` and `train:` substituted."""
    out = _copy(root)
    if train_sets and isinstance(root.get("train"), (LDict, type(None))):
        train = _copy(root["train"]) if root.get("train") is not None else _new(root)
        for path, value, loc in train_sets:
            node = train
            for step in path[:-1]:
                node[step] = _copy(node[step]) if isinstance(node.get(step), LDict) else _new(node)
                node.value_locs.setdefault(step, loc)
                node = node[step]
            node[path[-1]] = value
            node.value_locs[path[-1]] = loc
            node.key_locs.setdefault(path[-1], loc)
        out["train"] = train
        out.value_locs.setdefault("train", root.loc)
    for key in ("input", "inputs", "train"):
        if key in out:
            out[key] = _substituted(out[key], values, out, key, errors)
    return out


def _substituted(value: Any, env: dict, container: Any, key: Any, errors: Collector) -> Any:
    if isinstance(value, LDict):
        copy = _copy(value)
        for k, v in value.items():
            copy[k] = _substituted(v, env, value, k, errors)
        return copy
    if isinstance(value, LList):
        copy = LList(value)
        copy.loc, copy.item_locs, copy.quoted = value.loc, value.item_locs, value.quoted
        for i, v in enumerate(value):
            copy[i] = _substituted(v, env, value, i, errors)
        return copy
    if not (isinstance(value, str) and value.startswith("$")):
        return value
    try:
        return substitute(value, env)
    except ExprError as err:
        loc = (text_location(container, key, err.column) if err.column is not None else None) \
            or value_location(container, key)
        hint = err.hint
        if err.message.startswith("unknown name"):
            hint = "outside a block, `$name` reads the spec's `params:`; declare it there"
        errors.add(Diagnostic(f"in `{value}`: {err.message}", loc, hint=hint))
        return value


def _copy(d: LDict) -> LDict:
    out = LDict(d)
    out.loc, out.key_locs, out.value_locs = d.loc, dict(d.key_locs), dict(d.value_locs)
    if d.quoted:
        out.quoted = d.quoted
    return out


def _new(parent: LDict) -> LDict:
    out = LDict()
    out.loc = parent.loc
    return out
