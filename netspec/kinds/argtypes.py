"""The argument types every registry's argument models share: strict numbers and booleans, and
the constrained sizes and rates built on them.

Arguments are strict: no booleans or strings for numbers. An integer argument accepts an
integral float (what `$(c / 2)` gives) but nothing else, and at most MAX_ARG in size. Every
float argument is finite: NaN and inf are refused where they enter, by the argument's name.

    class ConvArgs(Args):
        out: PositiveInt                    # "must be at least 1, got 0"
        padding: NonNegativeIntOrInts = 0   # one int, or one per spatial dim
        p: Probability = 0.5                # "must be a probability between 0 and 1, got 2.0"

Each constrained type carries a :class:`Bound` in its metadata: what it refuses, for tools and
tests that walk the argument models. One sentence shape per constraint: "must be ..., got V".
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict

MAX_ARG = 10**9              # as for input dims: anything larger is a typo, not a network


# ---- the base models --------------------------------------------------------------------

class Args(BaseModel):
    """Base of every argument model (layer kinds, losses, optimizers, ...): frozen, unknown
    keys refused."""

    # defer_build: a schema is built on first use, so `check` pays only for kinds it meets
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class NoArgs(Args):
    pass


class Frozen(Args):
    """Base of the spec's own validated objects: frozen, unknown keys refused, fields also
    settable by name where the YAML key is an alias (`from` -> `from_`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True,
                              populate_by_name=True, defer_build=True)


# ---- descriptions of what came ----------------------------------------------------------

def describe(v: Any) -> str:
    """A value as a message names it: `the string 'x'`, `true`, `nothing (null)`, `a list [1]`."""
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing (null)"
    if isinstance(v, (list, tuple)):
        return f"a list {list(v)!r}" if len(v) <= 16 else f"a list of {len(v)} items"
    if isinstance(v, dict):
        return "a mapping"
    if isinstance(v, int) and v.bit_length() > 64:
        return f"an integer of {v.bit_length()} bits"    # str() of a huge int is refused
    return repr(v)


def _unquote(v: Any) -> str:
    """' (write it without quotes)' for a number written as a string, like "16"."""
    if not isinstance(v, str):
        return ""
    try:
        float(v)
    except ValueError:
        return ""
    return " (write it without quotes)"


# ---- strict scalars ---------------------------------------------------------------------

def strict_int(v: Any) -> int:
    """An int from an int or an integral float; booleans, strings and floats with a fraction
    refused, and anything beyond MAX_ARG."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected an integer, got {describe(v)}{_unquote(v)}")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"expected an integer, got {v!r}")
        v = int(v)
    _at_most_max(v)
    return v


def _at_most_max(v: int | float) -> None:
    if abs(v) > MAX_ARG:
        raise ValueError(f"{describe(v)} is larger than netspec allows for a layer argument "
                         f"(10^9)")


def strict_float(v: Any) -> float:
    """A finite float from an int or a float; booleans, strings, NaN and inf refused."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {describe(v)}{_unquote(v)}")
    try:
        x = float(v)
    except OverflowError:
        raise ValueError(f"must be a finite number, got {describe(v)}") from None
    if not math.isfinite(x):
        raise ValueError(f"must be a finite number, got {x}")
    return x


def strict_bool(v: Any) -> bool:
    if not isinstance(v, bool):
        yaml11 = isinstance(v, str) and v.lower() in ("yes", "no", "on", "off", "y", "n")
        why = " (YAML 1.2 reads yes/no/on/off as strings)" if yaml11 else ""
        raise ValueError(f"expected true or false, got {describe(v)}{why}")
    return v


# ---- bounds -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Bound:
    """The range a constrained number accepts: low <= v (or low < v with `above`), v <= high.

    >>> Bound(low=1).refuses(0), Bound(low=0, above=True).refuses(0.5)
    (True, False)
    """

    low: float | None = None
    high: float | None = None
    above: bool = False          # strictly above `low`

    def refuses(self, v: float) -> bool:
        if self.low is not None and (v <= self.low if self.above else v < self.low):
            return True
        return self.high is not None and v > self.high


def _int_in(bound: Bound, sentence: str) -> Callable[[Any], int]:
    def check(v: Any) -> int:
        v = strict_int(v)
        if bound.refuses(v):
            raise ValueError(f"{sentence}, got {v}")
        return v
    return check


def _float_in(bound: Bound, sentence: str) -> Callable[[Any], float]:
    """A finite float within `bound`, and at most MAX_ARG in size like every bounded number."""
    def check(v: Any) -> float:
        x = strict_float(v)
        if bound.refuses(x):
            raise ValueError(f"{sentence}, got {x}")
        _at_most_max(x)
        return x
    return check


def _number_in(bound: Bound, sentence: str) -> Callable[[Any], int | float]:
    """As _float_in, but an int stays an int (`scale: 2` prints as 2)."""
    def check(v: Any) -> int | float:
        x = strict_float(v)
        if bound.refuses(x):
            raise ValueError(f"{sentence}, got {v}")
        _at_most_max(v)
        return v if isinstance(v, int) else x
    return check


def _one_or_list(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """One value, or a list of them (a tuple after validation): kernel 3 or [3, 5]."""
    def each(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return tuple(check(x) for x in v)
        return check(v)
    return each


def _list_of(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def each(v: Any) -> Any:
        if isinstance(v, (list, tuple)):
            return tuple(check(x) for x in v)
        return v          # pydantic names the type mistake: "expects a list"
    return each


AT_LEAST_1 = Bound(low=1)
AT_LEAST_0 = Bound(low=0)
ABOVE_0 = Bound(low=0, above=True)
UNIT = Bound(low=0, high=1)

Int = Annotated[int, BeforeValidator(strict_int)]
Float = Annotated[float, BeforeValidator(strict_float)]      # finite
FiniteFloat = Float
Bool = Annotated[bool, BeforeValidator(strict_bool)]
IntOrInts = Annotated[int | tuple[int, ...], BeforeValidator(_one_or_list(strict_int))]
Ints = Annotated[tuple[int, ...], BeforeValidator(_list_of(strict_int))]

_positive_int = _int_in(AT_LEAST_1, "must be at least 1")
_non_negative_int = _int_in(AT_LEAST_0, "must be at least 0")
PositiveInt = Annotated[int, BeforeValidator(_positive_int), AT_LEAST_1]
NonNegativeInt = Annotated[int, BeforeValidator(_non_negative_int), AT_LEAST_0]
PositiveIntOrInts = Annotated[int | tuple[int, ...], BeforeValidator(_one_or_list(_positive_int)),
                              AT_LEAST_1]
NonNegativeIntOrInts = Annotated[int | tuple[int, ...],
                                 BeforeValidator(_one_or_list(_non_negative_int)), AT_LEAST_0]

PositiveFloat = Annotated[float, BeforeValidator(_float_in(ABOVE_0, "must be positive")),
                          ABOVE_0]
NonNegativeFloat = Annotated[float, BeforeValidator(_float_in(AT_LEAST_0, "must be at least 0")),
                             AT_LEAST_0]
Probability = Annotated[float, BeforeValidator(
    _float_in(UNIT, "must be a probability between 0 and 1")), UNIT]
# a positive int or float, or a list of them (upsample's scale)
PositiveNumbers = Annotated[int | float | tuple[int | float, ...],
                            BeforeValidator(_one_or_list(_number_in(ABOVE_0, "must be positive"))),
                            ABOVE_0]




def _dim(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, str)):
        raise ValueError(f"a dim is a positive integer or a symbolic name like `seq`, got {v!r}")
    if isinstance(v, int) and not 1 <= v <= MAX_ARG:
        raise ValueError(f"a dim must be between 1 and 10^9, got {describe(v)}")
    if isinstance(v, str) and not v.isidentifier():
        raise ValueError(f"a symbolic dim must be a name like `seq`, got {v!r}")
    return v


# one dim of a shape without the batch: a size, or a symbolic name such as "seq"
Dim = Annotated[int | str, BeforeValidator(_dim)]


def bound_of(field: Any) -> Bound | None:
    """The Bound of a pydantic field (`Model.model_fields[name]`), looking inside `X | None`."""
    found = [m for m in field.metadata if isinstance(m, Bound)]
    todo = [field.annotation]
    while todo and not found:
        tp = todo.pop()
        found = [m for m in getattr(tp, "__metadata__", ()) if isinstance(m, Bound)]
        todo.extend(get_args(tp))
    return found[0] if found else None
