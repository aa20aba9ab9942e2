"""Reading specs: located YAML, the pydantic schema, includes, and block expansion."""

from netspec.lang.load import load, loads
from netspec.lang.schema import BlockDef, Entry, InputSpec, Spec

__all__ = ["load", "loads", "as_spec", "Spec", "Entry", "BlockDef", "InputSpec"]


def as_spec(spec) -> Spec:
    """A Spec from a Spec, a path to a spec file, or YAML text."""
    import os

    if isinstance(spec, Spec):
        return spec
    if isinstance(spec, os.PathLike) or (isinstance(spec, str) and "\n" not in spec
                                         and spec.endswith((".yaml", ".yml"))):
        return load(spec)
    if isinstance(spec, str):
        return loads(spec)
    raise TypeError(f"expected a Spec, a path or YAML text, got {type(spec).__name__}")
