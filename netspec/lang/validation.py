"""pydantic's validation errors, told as located netspec diagnostics.

pydantic reports a `loc` path of keys and indices; the located YAML tree turns that path into
`file:line:col`, and the error type into one plain sentence (what was expected, what came).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from netspec.errors import Diagnostic, Location, SpecError, did_you_mean
from netspec.lang.located import LDict, key_location, locate


def _real_path(root: Any, loc: tuple) -> tuple:
    """The part of pydantic's loc that exists in the YAML (drops union/validator tags)."""
    path, node = [], root
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and ("[" in part or "-" in part or part.startswith("function")):
            continue                    # a union member's tag: look further along the path
        else:
            path.append(part)
            break
    return tuple(path)


# torch's argument names that netspec spells differently, and the sizes netspec infers
TORCH_NAMES = {"out_channels": "out", "out_features": "out", "kernel_size": "kernel",
               "hidden_size": "hidden", "num_layers": "layers", "negative_slope": "slope",
               "num_groups": "groups", "num_embeddings": "vocab", "embedding_dim": "dim",
               "scale_factor": "scale", "output_size": "size", "padding_idx": "padding_idx"}
INFERRED = {"in", "in_channels", "in_features", "input_size", "num_features", "num_channels",
            "normalized_shape", "input_dim", "in_ch", "cin"}


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return f"a list {list(value)!r}" if len(repr(value)) < 40 else "a list"
    return repr(value)


def _sentence(err: dict, field: str, allowed: list[str]) -> tuple[str, str | None]:
    kind, msg = err["type"], err["msg"]
    value = err.get("input")
    if kind == "missing":
        return f"missing required argument `{field}`", None
    if kind == "extra_forbidden":
        if field in INFERRED and allowed:
            return (f"unknown key `{field}`", f"netspec infers input sizes from the layer above; "
                    f"drop `{field}`")
        if TORCH_NAMES.get(field) in allowed:
            return f"unknown key `{field}`", f"torch's `{field}` is `{TORCH_NAMES[field]}` here"
        hint = did_you_mean(field, allowed)
        known = ", ".join(f"`{a}`" for a in allowed) if allowed else "none"
        return f"unknown key `{field}`", hint or f"known keys: {known}"
    if kind == "literal_error":
        expected = err.get("ctx", {}).get("expected", "")
        choices = [c.strip().strip("'") for c in expected.replace(" or ", ",").split(",")]
        hint = did_you_mean(str(value), choices) if isinstance(value, str) else None
        return f"`{field}` must be {expected}, got {_describe(value)}", hint
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        if not field or text.startswith(f"`{field}`"):
            return text, None
        return f"`{field}`: {text}", None
    if kind.endswith("_type") or kind.endswith("_parsing"):
        want = kind.split("_")[0]
        noun = {"string": "a string", "dict": "a mapping", "list": "a list", "tuple": "a list",
                "int": "an integer", "float": "a number", "bool": "true or false",
                "model": "a mapping"}.get(want, want)
        return f"`{field}` expects {noun}, got {_describe(value)}", None
    return f"`{field}`: {msg[0].lower() + msg[1:]}", None


def diagnostics(error: ValidationError, root: Any, model: type[BaseModel] | None = None,
                what: str = "", fallback: Location | None = None,
                chain: tuple = (), usage: str | None = None) -> list[Diagnostic]:
    """Located diagnostics for a ValidationError raised validating `root` (a located tree).

    `what` prefixes each message (e.g. "conv '3': "); union members' duplicate errors are
    merged into the first one per location. `usage` (`conv: {out: ..., kernel: ...}`) is the
    hint of a missing argument."""
    out: list[Diagnostic] = []
    seen: set[tuple] = set()
    errs = error.errors(include_url=False)
    typos = _typo_targets(errs, model)
    for err in errs:
        if err["type"] == "missing" and tuple(err["loc"]) in typos:
            continue       # "unknown key `kernl`, did you mean `kernel`" says it already
        path = _real_path(root, tuple(err["loc"]))
        if path in seen:
            continue
        seen.add(path)
        field = _field_name(path)
        allowed = _allowed_keys(model, root, path)
        message, hint = _sentence(err, field, allowed)
        if err["type"] == "missing" and usage:
            hint = f"write {usage}"
        loc = _location(root, path, err["type"]) or fallback
        out.append(Diagnostic(what + message, loc, hint, (), chain))
    return out


def _field_name(path: tuple) -> str:
    """The key a message names: `kernel`, or `shape[1]` for an item of a list."""
    keys = [i for i, p in enumerate(path) if isinstance(p, str)]
    if not keys:
        return "".join(f"[{p}]" for p in path)
    j = keys[-1]
    return str(path[j]) + "".join(f"[{p}]" for p in path[j + 1:])


def _typo_targets(errs: list[dict], model: type[BaseModel] | None) -> set[tuple]:
    """Paths of missing keys that an unknown key in the same mapping is a typo of."""
    import difflib      # only a mistake needs it: kept off the import path of `netspec check`

    out = set()
    missing = {tuple(e["loc"]) for e in errs if e["type"] == "missing"}
    for e in errs:
        if e["type"] != "extra_forbidden" or not e["loc"]:
            continue
        parent, key = tuple(e["loc"][:-1]), str(e["loc"][-1])
        names = [m[-1] for m in missing if m[:-1] == parent and isinstance(m[-1], str)]
        for close in difflib.get_close_matches(key, names, n=1, cutoff=0.6):
            out.add(parent + (close,))
        if TORCH_NAMES.get(key) in names:
            out.add(parent + (TORCH_NAMES[key],))
    return out


def _allowed_keys(model: type[BaseModel] | None, root: Any, path: tuple) -> list[str]:
    if model is None or len(path) != 1:
        return []
    return [f.alias or name for name, f in model.model_fields.items()
            if not f.exclude and name not in ("kind", "args", "index", "loc", "kind_loc", "raw")]


def _location(root: Any, path: tuple, kind: str) -> Location | None:
    if kind == "extra_forbidden" and path:
        parent = locate_node(root, path[:-1])
        if isinstance(parent, LDict):
            return key_location(parent, path[-1])
    if kind == "missing":
        parent = locate_node(root, path[:-1])
        return getattr(parent, "loc", None) or locate(root, path[:-1])
    return locate(root, path)


def locate_node(root: Any, path: tuple) -> Any:
    node = root
    for part in path:
        if isinstance(node, (dict, list)):
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                return node
    return node


def validate(model: type[BaseModel], raw: Any, what: str = "", fallback: Location | None = None,
             chain: tuple = (), data: Any = None) -> Any:
    """model.model_validate(data or raw), with failures raised as a located SpecError."""
    try:
        return model.model_validate(raw if data is None else data)
    except ValidationError as e:
        raise SpecError(diagnostics(e, raw, model, what, fallback, chain)) from None


__all__ = ["diagnostics", "validate", "locate_node"]
