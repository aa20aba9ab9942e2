"""Loading a spec: parse it, and when it has mistakes, expand what did parse to find the rest.

    spec = load("specs/resnet18.yaml")       # raises SpecError with every mistake, in file order

A spec that parses cleanly is returned without expanding it (`check` and `build` expand it
anyway); one with mistakes is expanded as far as it parsed, so that shape, `$` reference and
id mistakes are reported together with the parser's.
"""

from __future__ import annotations

import os

from netspec.graph.expand import expand
from netspec.lang.load import parse_spec, read_spec
from netspec.lang.schema import Spec


def load(path: str | os.PathLike) -> Spec:
    """Parse and validate the spec file at `path`; raises SpecError for any mistake."""
    return loads(read_spec(path), str(path))


def loads(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate spec text; `file` is the name used in error locations."""
    parsed = parse_spec(text, file)
    if parsed.partial is not None:
        with parsed.errors.guard():
            expand(parsed.partial, after_errors=True)
    parsed.errors.raise_if_any()
    return parsed.spec


def as_spec(spec: Spec | str | os.PathLike) -> Spec:
    """A Spec from a Spec, a path to a spec file, or YAML text."""
    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and spec.endswith((".yaml", ".yml"))):
        return load(spec)
    if isinstance(spec, str):
        return loads(spec)
    raise TypeError(f"expected a Spec, a path or YAML text, got {type(spec).__name__}")
