"""The shared argument types (netspec/kinds/argtypes.py), alone and across the whole registry.

- each type: what it accepts (normalised) and the one sentence it refuses with;
- every constrained argument of every layer kind (found by walking the argument models) fed
  0, -1, 10**12, NaN, inf, "x", true and null through `netspec.loads` + check: what its bound
  refuses is a SpecError located at file:line:col that names the argument, never another
  exception;
- every argument of every kind, fed the same values: a report or a located SpecError;
- the bugs that the constrained types fixed.
"""

from __future__ import annotations

import json
import math

import pytest
from pydantic import ValidationError

import netspec
from netspec.errors import SpecError
from netspec.kinds import kinds
from netspec.kinds.argtypes import (Args, Bool, Float, Int, IntOrInts, Ints, NonNegativeFloat,
                                    NonNegativeInt, NonNegativeIntOrInts, PositiveFloat,
                                    PositiveInt, PositiveIntOrInts, PositiveNumbers, Probability,
                                    bound_of)
from layer_cases import CASES

ODD = [0, -1, 10**12, math.nan, math.inf, "x", True, None]


def _model(tp):
    class M(Args):
        v: tp
    return M


def _refusal(tp, value) -> str:
    with pytest.raises(ValidationError) as err:
        _model(tp).model_validate({"v": value})
    return err.value.errors()[0]["msg"].removeprefix("Value error, ")


# ---- each type alone ------------------------------------------------------------------------

@pytest.mark.parametrize("tp, given, want", [
    (Int, 3, 3), (Int, 4.0, 4), (Int, -(10**9), -(10**9)),
    (Float, 2, 2.0), (Float, -1e-3, -1e-3),
    (Bool, False, False),
    (IntOrInts, [1, 2.0], (1, 2)), (Ints, [-1, 4], (-1, 4)),
    (PositiveInt, 1, 1), (NonNegativeInt, 0, 0),
    (PositiveIntOrInts, [3, 5], (3, 5)), (NonNegativeIntOrInts, 0, 0),
    (PositiveFloat, 1e-9, 1e-9), (NonNegativeFloat, 0, 0.0),
    (Probability, 0, 0.0), (Probability, 1, 1.0),
    (PositiveNumbers, 2, 2), (PositiveNumbers, 0.5, 0.5), (PositiveNumbers, [2, 1.5], (2, 1.5)),
])
def test_accepted_values_are_normalised(tp, given, want):
    got = _model(tp).model_validate({"v": given}).v
    assert got == want and type(got) is type(want)


@pytest.mark.parametrize("tp, given, sentence", [
    (Int, True, "expected an integer, got true"),
    (Int, "12", "expected an integer, got the string '12' (write it without quotes)"),
    (Int, 2.5, "expected an integer, got 2.5"),
    (Int, math.nan, "expected an integer, got nan"),
    (Int, 10**12, "1000000000000 is larger than netspec allows for a layer argument (10^9)"),
    (Int, 10**400, "an integer of 1329 bits is larger than netspec allows for a layer argument "
                   "(10^9)"),
    (Float, math.nan, "must be a finite number, got nan"),
    (Float, -math.inf, "must be a finite number, got -inf"),
    (Float, 10**400, "must be a finite number, got an integer of 1329 bits"),
    (Float, "x", "expected a number, got the string 'x'"),
    (Bool, "yes", "expected true or false, got the string 'yes' (YAML 1.2 reads yes/no/on/off "
                  "as strings)"),
    (PositiveInt, 0, "must be at least 1, got 0"),
    (NonNegativeInt, -1, "must be at least 0, got -1"),
    (PositiveIntOrInts, [3, 0], "must be at least 1, got 0"),
    (NonNegativeIntOrInts, [-2], "must be at least 0, got -2"),
    (PositiveFloat, 0, "must be positive, got 0.0"),
    (PositiveFloat, 1e12, "1000000000000.0 is larger than netspec allows for a layer argument "
                          "(10^9)"),
    (NonNegativeFloat, -0.5, "must be at least 0, got -0.5"),
    (Probability, 2, "must be a probability between 0 and 1, got 2.0"),
    (Probability, math.inf, "must be a finite number, got inf"),
    (PositiveNumbers, 0, "must be positive, got 0"),
    (PositiveNumbers, math.inf, "must be a finite number, got inf"),
])
def test_refusals_are_one_sentence_naming_the_value(tp, given, sentence):
    assert _refusal(tp, given) == sentence


# ---- every constrained argument of every kind ----------------------------------------------

def _yaml(value) -> str:
    """A value as YAML flow text (JSON, plus YAML's .nan and .inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else ".inf" if value > 0 else "-.inf"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_yaml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_yaml(v) for v in value) + "]"
    return json.dumps(value)


def _base_cases() -> dict[str, tuple[dict, dict]]:
    """Per kind: the top of a valid one-layer spec (input/inputs) and its entry as a mapping,
    from the first row of tests/layer_cases.py for the kind."""
    out = {}
    for case in CASES:
        if case.kind in out:
            continue
        spec = json.loads(case.spec_text())
        entry = spec["layers"][0]
        args = entry[case.kind]
        if not isinstance(args, dict):
            main = kinds()[case.kind].main
            args = {} if args is None else {main: args}
        top = {k: v for k, v in spec.items() if k in ("input", "inputs")}
        out[case.kind] = (top, {**entry, case.kind: args})
    return out


BASES = _base_cases()


def _spec_text(kind: str, key: str, value) -> str:
    """The kind's valid spec with argument `key` set to `value`, the entry on line 3."""
    top, entry = BASES[kind]
    entry = {**entry, kind: {**entry[kind], key: value}}
    head = "".join(f"{k}: {_yaml(v)}\n" for k, v in top.items())
    return f"{head}layers:\n  - {_yaml(entry)}\n"


def _fields(constrained: bool):
    rows = []
    for name, kind in sorted(kinds().items()):
        if name != kind.name:
            continue                          # an alias: the same model
        for field_name, field in kind.args.model_fields.items():
            bound = bound_of(field)
            if (bound is not None) == constrained:
                rows.append((name, field.alias or field_name, field, bound))
    return rows


CONSTRAINED = _fields(constrained=True)


def test_every_kind_has_a_base_case_and_the_walk_finds_bounds():
    assert set(BASES) >= {k.name for k in kinds().values()}
    found = {(kind, key) for kind, key, *_ in CONSTRAINED}
    assert {("conv", "out"), ("conv_transpose", "groups"), ("lstm_cell", "hidden"),
            ("dropout", "p"), ("batchnorm", "eps"), ("upsample", "scale")} <= found


def _refused_by(field, bound, value) -> bool:
    """What the declared bound and type refuse, said independently of the validators."""
    if value is None:
        return field.is_required() or field.default is not None
    if isinstance(value, (str, bool)) or isinstance(value, float) and not math.isfinite(value):
        return True
    return abs(value) > 10**9 or bound.refuses(value)


def _located_errors(text: str) -> list:
    try:
        netspec.check(netspec.loads(text, "case.yaml"))
    except SpecError as err:
        assert err.diagnostics and all(d.loc is not None for d in err.diagnostics), err.render()
        return err.diagnostics
    return []


@pytest.mark.parametrize("value", ODD, ids=repr)
@pytest.mark.parametrize("kind, key, field, bound", CONSTRAINED,
                         ids=[f"{k}.{a}" for k, a, *_ in CONSTRAINED])
def test_constrained_arguments_refuse_out_of_range_values_located(kind, key, field, bound,
                                                                  value):
    diags = _located_errors(_spec_text(kind, key, value))
    if not _refused_by(field, bound, value):
        return                 # in range: the shape rule may still refuse it, located
    assert diags, f"{kind}: {key}={value!r} was accepted"
    first = diags[0]
    assert (first.loc.file, first.loc.line) == ("case.yaml", 3), first.render()
    assert first.message.startswith(f"{kind}: `{key}`"), first.render()


@pytest.mark.parametrize("kind, key, field, bound", _fields(constrained=False),
                         ids=[f"{k}.{a}" for k, a, *_ in _fields(constrained=False)])
def test_every_other_argument_gives_a_report_or_a_located_error(kind, key, field, bound):
    for value in ODD:
        _located_errors(_spec_text(kind, key, value))


# ---- the bugs the types fixed ---------------------------------------------------------------

@pytest.mark.parametrize("text, message", [
    ("input: [4, 8, 8]\nlayers:\n  - conv_transpose: {out: 4, kernel: 2, groups: 0}\n",
     "conv_transpose: `groups`: must be at least 1, got 0"),
    ("input: [5, 4]\nlayers:\n  - lstm_cell: 0\n", "lstm_cell: `hidden`: must be at least 1, got 0"),
    ("input: [3, 4, 4]\nlayers:\n  - upsample: .inf\n",
     "upsample: `scale`: must be a finite number, got inf"),
    ("input: [3, 4, 4]\nlayers:\n  - batchnorm: {eps: .nan}\n",
     "batchnorm: `eps`: must be a finite number, got nan"),
    ("input: [3, 4, 4]\nlayers:\n  - conv: {out: 1000000000000, kernel: 3}\n",
     "conv: `out`: 1000000000000 is larger than netspec allows for a layer argument (10^9)"),
])
def test_fixed_refusals(text, message):
    with pytest.raises(SpecError) as err:
        netspec.check(netspec.loads(text, "net.yaml"))
    assert err.value.diagnostics[0].message == message
    assert str(err.value.diagnostics[0].loc).startswith("net.yaml:3:")


def test_upsample_refuses_token_ids_which_torch_cannot_interpolate():
    text = "input: {shape: [2, 8], dtype: long}\nlayers:\n  - upsample: 2\n"
    with pytest.raises(SpecError, match="upsample gets token ids"):
        netspec.check(netspec.loads(text))
    # shape operations pass ids through to an embedding
    ok = "input: {shape: [2, 8], dtype: long}\nlayers:\n  - flatten\n  - embedding: {vocab: 9, dim: 3}\n"
    assert netspec.check(netspec.loads(ok)).outputs["output"] == (16, 3)


def test_args_frozen_and_dim_are_defined_once():
    """One home for the argument base models and the dim type: the spec and training reuse them."""
    from netspec.kinds import argtypes
    from netspec.lang import schema
    from netspec.training import config, registry

    assert registry.Args is argtypes.Args and registry.NoArgs is argtypes.NoArgs
    assert schema.Frozen is argtypes.Frozen and config.Frozen is argtypes.Frozen
    assert schema.Dim is argtypes.Dim
