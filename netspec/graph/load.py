"""Loading a spec: parse it, and when it has mistakes, expand what did parse to find the rest.

    spec = load("specs/resnet18.yaml")       # raises SpecError with every mistake, in file order
    spec = load("specs/resnet.yaml", variant="resnet34", settings=["layers=[3, 4, 6, 3]"])

A spec that parses cleanly is returned without expanding it (`check` and `build` expand it
anyway); one with mistakes is expanded as far as it parsed, so that shape, `$` reference and
id mistakes are reported together with the parser's. `variant` and `settings` (`--set`
strings, or a mapping {name: value}) choose the spec-level params (netspec.lang.overrides);
an unknown variant or param, or a value that does not suit it, raises OverrideError.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from netspec.graph.expand import expand
from netspec.lang.load import parse_spec, read_spec
from netspec.lang.settings import as_settings
from netspec.lang.schema import Spec

Settings = Mapping[str, Any] | Iterable[str] | None


def load(path: str | os.PathLike, *, variant: str | None = None,
         settings: Settings = None) -> Spec:
    """Parse and validate the spec file at `path`; raises SpecError for any mistake."""
    return loads(read_spec(path), str(path), variant=variant, settings=settings)


def loads(text: str, file: str = "<spec>", *, variant: str | None = None,
          settings: Settings = None) -> Spec:
    """Parse and validate spec text; `file` is the name used in error locations."""
    parsed = parse_spec(text, file, variant, as_settings(settings))
    if parsed.partial is not None:
        with parsed.errors.guard():
            expand(parsed.partial, after_errors=True)
    parsed.errors.raise_if_any()
    return parsed.spec


def as_spec(spec: Spec | str | os.PathLike, *, variant: str | None = None,
            settings: Settings = None) -> Spec:
    """A Spec from a Spec, a path to a spec file, or YAML text. With a variant or settings, a
    Spec is read again from its text with them (they choose from its `params:` as written)."""
    chosen = variant is not None or bool(settings)
    if isinstance(spec, Spec):
        if not chosen:
            return spec
        if spec.source is None:
            raise TypeError("this Spec has no source text to choose a variant from; load it "
                            "with variant=/settings= instead")
        return loads(spec.source, spec.path or "<spec>", variant=variant, settings=settings)
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and spec.endswith((".yaml", ".yml"))):
        return load(spec, variant=variant, settings=settings)
    if isinstance(spec, str):
        return loads(spec, variant=variant, settings=settings)
    raise TypeError(f"expected a Spec, a path or YAML text, got {type(spec).__name__}")
