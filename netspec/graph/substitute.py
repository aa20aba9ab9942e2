"""`$name` and `$(expr)` values of an entry, substituted in its scope, with located errors.

An expression's mistake is pointed at the very character of the YAML where it is: the
expression's column plus where the value is written, one further on when it is quoted (the
located tree records that; no file is read again).
"""

from __future__ import annotations

from typing import Any

from netspec.errors import SpecError
from netspec.graph.diagnose import entry_error
from netspec.graph.scope import Scope
from netspec.lang.expr import substitute
from netspec.lang.expr_syntax import ExprError
from netspec.lang.located import text_location, value_location
from netspec.lang.schema import Entry


def resolve(value: Any, scope: Scope, e: Entry, container: Any, key: Any) -> Any:
    """`value` (`container[key]`) with every `$name`/`$(expr)` inside it substituted
    (mappings and lists walked)."""
    if isinstance(value, dict):
        return {k: resolve(v, scope, e, value, k) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve(v, scope, e, value, i) for i, v in enumerate(value)]
    return resolve_scalar(value, scope, e, container, key)


def resolve_scalar(value: Any, scope: Scope, e: Entry, container: Any, key: Any) -> Any:
    """One value, `container[key]`: a `$...` string substituted, anything else as is."""
    # every `$...` string goes through substitute(), which refuses malformed references
    if not (isinstance(value, str) and value.startswith("$")):
        return value
    try:
        return substitute(value, scope.env)
    except ExprError as err:
        raise _located(err, value, scope, e, container, key) from None


def _located(err: ExprError, value: str, scope: Scope, e: Entry, container: Any,
             key: Any) -> SpecError:
    # columns count from the `$`; text_location steps over an opening quote
    loc = (text_location(container, key, err.column) if err.column is not None else None) \
        or value_location(container, key) or e.loc
    hint = err.hint
    if not scope.chain and err.message.startswith("unknown name"):
        hint = ("`$name` reads a block's parameters; outside a block, the spec's `params:`: "
                "declare it there, or write the value")
    return entry_error(e, scope, f"in `{value}`: {err.message}", loc, hint=hint)
