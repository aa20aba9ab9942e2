"""Layer entries and blocks as written: located YAML -> frozen :class:`Entry` / :class:`BlockDef`.

    - relu                                  a bare kind
    - linear: 10                            a kind with its main argument
    - {conv: {out: 64, kernel: 3}, id: c1}  arguments, and the keys any entry may carry
    - parallel: {merge: add, branches: [...]}
    - $act                                  inside a block: the kind a parameter names, known
                                            only per use (expansion resolves and checks it)

A block is `params:` (a default each, null = required, or declared `{default, choices, doc}`),
optional `inputs:` (the names of several inputs) and `layers:`.

A kind's arguments stay raw here (`$refs` are substituted by block expansion); those that hold
no reference are checked now, so their mistakes are reported with every other one. A broken
entry is reported and kept as a placeholder, so the names of the entries below stay the same.
"""

from __future__ import annotations

from typing import Any

from netspec.errors import Collector, Diagnostic, Location, SpecError, did_you_mean
from netspec.kinds import kinds
from netspec.lang import validation
from netspec.lang.expr import is_reference
from netspec.lang.located import LDict, LList, key_location
from netspec.lang.schema import BROKEN, DEFAULT_MERGE, META_KEYS, BlockDef, Entry, Parallel

BLOCK_KEYS = ("params", "inputs", "layers", "doc")
DECLARATION_KEYS = ("default", "choices", "doc")     # `params: {act: {default: relu, ...}}`
RESERVED_NAMES = ("in", "prev", "input")   # what expressions and `from:` mean in any block
PARALLEL_KEYS = ("merge", "dim", "branches")


def parse_block(name: str, raw: Any, loc: Location | None, known: set[str],
                errors: Collector) -> BlockDef:
    """Block `name` as written (`params:`, `layers:`, `doc:`); `known` are the kind and block
    names its entries may use. Independent mistakes go to `errors`; a fatal one is raised."""
    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"a block's name is a word like `conv_bn`, got {name!r}", loc)
    if name in kinds():
        raise SpecError(f"block `{name}` has the name of a layer kind", loc,
                        hint="pick another name; layer kinds cannot be redefined")
    if not isinstance(raw, LDict):
        raise SpecError(f"block `{name}` must be a mapping with `params:` and `layers:`", loc)
    unknown = [k for k in raw if k not in BLOCK_KEYS]
    for key in unknown:
        errors.add(Diagnostic(f"unknown key `{key}` in block `{name}`", key_location(raw, key),
                              hint=did_you_mean(key, BLOCK_KEYS)
                              or "a block has `params:`, `layers:`, and optional `inputs:` "
                                 "and `doc:`"))
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise SpecError(f"`params` of block `{name}` maps names to defaults (null = required)",
                        raw.value_locs.get("params", loc))
    inputs = block_inputs(name, raw, loc, errors)
    bad = [p for p in params if not isinstance(p, str) or not p.isidentifier()
           or p in RESERVED_NAMES or p in inputs]
    for p in bad:
        taken = " (it names an input of the block)" if p in inputs else ""
        errors.add(Diagnostic(f"block parameter {p!r} must be a name, not `in`, `prev` or "
                              f"`input`{taken}",
                              key_location(params, p) if isinstance(params, LDict) else loc,
                              hint="a parameter is a word like `out`, read as `$out` in the "
                                   "block's layers"))
    declared = {p: declare_param(name, p, v, params, errors) for p, v in params.items()
                if p not in bad}    # the bad ones are reported: the rest is checked
    if "layers" not in raw:
        raise SpecError(f"block `{name}` has no `layers:`", loc)
    layers = parse_entries(raw["layers"], known, errors, raw, "layers")
    return BlockDef(name=name, params={p: d[0] for p, d in declared.items()},
                    choices={p: d[1] for p, d in declared.items() if d[1] is not None},
                    param_docs={p: d[2] for p, d in declared.items() if d[2]},
                    inputs=inputs, layers=layers, loc=loc, doc=str(raw.get("doc") or ""))


def is_declaration(value: Any) -> bool:
    """Whether a parameter's value in `params:` is the declaration form `{default: relu,
    choices: [...], doc: ...}` rather than a default: a mapping whose keys are all among
    DECLARATION_KEYS. (A mapping default with other keys stays a default; to default to a
    mapping with only those keys, declare it: `{default: {default: 1}}`.)"""
    return isinstance(value, dict) and bool(value) and all(k in DECLARATION_KEYS for k in value)


def declare_param(block: str, param: str, value: Any, params: Any,
                  errors: Collector) -> tuple[Any, tuple | None, str]:
    """(default, choices or None, doc) of one parameter as `params:` writes it."""
    if not is_declaration(value):
        return value, None, ""
    where = value.value_locs if isinstance(value, LDict) else {}
    default, choices, doc = value.get("default"), value.get("choices"), value.get("doc") or ""
    if choices is not None:
        if not isinstance(choices, list) or not choices or any(
                isinstance(c, (dict, list)) for c in choices):
            errors.add(Diagnostic(f"`choices` of parameter `{param}` in block `{block}` is a "
                                  f"non-empty list of values, got {choices!r}",
                                  where.get("choices"), hint="e.g. `choices: [relu, hardswish]`"))
            choices = None
        elif default is not None and not any(_same(default, c) for c in choices):
            errors.add(Diagnostic(f"the default {default!r} of parameter `{param}` in block "
                                  f"`{block}` is not one of its choices "
                                  f"({', '.join(map(str, choices))})", where.get("default"),
                                  hint="add it to `choices:`, or pick a default among them"))
    if not isinstance(doc, str):
        errors.add(Diagnostic(f"`doc` of parameter `{param}` in block `{block}` is text",
                              where.get("doc")))
        doc = ""
    return default, None if choices is None else tuple(choices), doc


def _same(a: Any, b: Any) -> bool:
    """Equal and of the same type: `true` is no choice among `[1, 2]`."""
    return type(a) is type(b) and a == b


def block_inputs(block: str, raw: Any, loc: Location | None, errors: Collector) -> tuple:
    """The names of a block's inputs (`inputs: [x, skip]`); () when it has one input."""
    names = raw.get("inputs")
    if names is None:
        return ()
    where = raw.value_locs.get("inputs", loc)
    if not isinstance(names, list) or not names:
        errors.add(Diagnostic(f"`inputs` of block `{block}` lists its input names, got "
                              f"{names!r}", where, hint="e.g. `inputs: [x, skip]`"))
        return ()
    out = []
    for i, n in enumerate(names):
        at = names.item_locs[i] if isinstance(names, LList) else where
        if not isinstance(n, str) or not n.isidentifier() or n in RESERVED_NAMES or n in out:
            errors.add(Diagnostic(f"input {n!r} of block `{block}` must be a name, not `in`, "
                                  f"`prev`, `input` or a repeated one", at,
                                  hint="e.g. `inputs: [x, skip]`; `from: skip` reads it"))
            continue
        out.append(n)
    return tuple(out)


def parse_entries(raw: Any, known: set[str], errors: Collector, parent: Any,
                  key: Any) -> tuple[Entry, ...]:
    """Parse a list of layer entries; each broken entry is reported, the rest still parsed."""
    loc = parent.value_locs.get(key) if isinstance(parent, LDict) else None
    if isinstance(parent, LList) and isinstance(key, int) and key < len(parent.item_locs):
        loc = parent.item_locs[key]         # a parallel's branch
    if not isinstance(raw, LList) or not raw:
        errors.add(Diagnostic("`layers` must be a non-empty list of layer entries", loc,
                              hint="write each layer on its own line: `- conv: {out: 6, "
                                   "kernel: 5}`"))
        return ()
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(parse_entry(item, i, raw.item_locs[i], known, errors))
        except SpecError as err:
            # keep a placeholder, so positions (names) of the entries below stay the same and
            # expansion can still check the entries that do not depend on this one
            errors.add(err)
            out.append(_broken_entry(item, i, raw.item_locs[i]))
    return tuple(out)


def _broken_entry(raw: Any, index: int, loc: Location) -> Entry:
    ident = raw.get("id") if isinstance(raw, LDict) else None
    try:
        return Entry(kind=BROKEN, index=index, loc=loc, id=ident, raw=raw)
    except ValueError:
        return Entry(kind=BROKEN, index=index, loc=loc, raw=raw)


def parse_entry(raw: Any, index: int, loc: Location, known: set[str],
                errors: Collector) -> Entry:
    """One entry: `relu`, `{linear: 10}`, or `{conv: {...}, id: .., from: ..}`."""
    if isinstance(raw, str):
        kind, args, kind_loc, meta = raw, None, loc, {}
    elif isinstance(raw, LDict):
        kind = _kind_key(raw, known, loc, errors)
        args, kind_loc = raw[kind], key_location(raw, kind)
        meta = {k: raw[k] for k in META_KEYS if k in raw}
    else:
        raise SpecError(f"a layer entry is a kind (`- relu`) or a mapping (`- linear: 10`), "
                        f"got {raw!r}", loc)
    if is_reference(kind):      # `- $act`: the kind a block parameter names, known per use
        pass
    elif kind not in known:
        raise SpecError(f"unknown layer kind `{kind}`", kind_loc,
                        hint=errors.suggest(kind, known) or "`netspec kinds` lists them all")
    if kind == "parallel":
        args = _parallel(raw[kind] if isinstance(raw, LDict) else None, kind_loc, known, errors)
    else:
        _check_static_args(kind, args, raw, kind_loc)
    data = {"kind": kind, "args": args, **meta, "index": index, "loc": loc,
            "kind_loc": kind_loc, "raw": raw}
    return validation.validate(Entry, raw if isinstance(raw, LDict) else {}, fallback=loc,
                               what="", data=data)


def _check_static_args(kind: str, args: Any, raw: Any, kind_loc: Location) -> None:
    """Arguments that hold no `$` reference are checked now, so their mistakes are reported
    with the others even when expansion cannot reach them."""
    layer = kinds().get(kind)
    if layer is None or has_reference(args):
        return
    container = raw.get(kind) if isinstance(raw, LDict) else None
    root = container if isinstance(container, LDict) else {}
    # a short-form value (`dropout: high`) is located at the value, not at the kind
    where = raw.value_locs.get(kind, kind_loc) if container is not None and not root else kind_loc
    try:
        layer.parse_args(args)
    except ValueError as err:
        if hasattr(err, "errors"):
            raise SpecError(validation.diagnostics(err, root, layer.args, f"{layer.name}: ",
                                                   where, usage=layer.usage)) from None
        raise SpecError(str(err), kind_loc) from None


def has_reference(value: Any) -> bool:
    """Whether `value` (a YAML value, walked) holds a `$name` or `$(expr)` string."""
    if isinstance(value, str):
        return value.startswith("$")
    if isinstance(value, dict):
        return any(has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(has_reference(v) for v in value)
    return False


def _kind_key(raw: LDict, known: set[str], loc: Location, errors: Collector) -> str:
    candidates = [k for k in raw if k not in META_KEYS]
    if not candidates:
        raise SpecError("this entry names no layer kind", loc,
                        hint="an entry is `- kind: arguments`, e.g. `- conv: {out: 64, kernel: 3}`")
    if len(candidates) == 1:
        return candidates[0]
    named = [k for k in candidates if k in known or is_reference(k)]
    strays = [k for k in candidates if k not in named]
    if len(named) == 1:
        key = strays[0]
        raise SpecError(f"unknown key `{key}` in a `{named[0]}` entry", key_location(raw, key),
                        hint=errors.suggest(key, META_KEYS) or
                        f"an entry's keys are its kind and {', '.join(META_KEYS)}; arguments go "
                        f"inside: `{named[0]}: {{{key}: ...}}`")
    if len(named) > 1:
        raise SpecError(f"one entry names two kinds, `{named[0]}` and `{named[1]}`",
                        key_location(raw, named[1]), hint="start a new entry with `- ` for each")
    raise SpecError(f"unknown layer kind `{strays[0]}`", key_location(raw, strays[0]),
                    hint=errors.suggest(strays[0], known) or "`netspec kinds` lists them all")


def _parallel(raw: Any, loc: Location, known: set[str], errors: Collector) -> Parallel:
    if not isinstance(raw, LDict) or "branches" not in raw:
        raise SpecError("`parallel` needs `branches:`, a list of layer lists", loc,
                        hint="parallel: {merge: concat, branches: [[conv...], [conv...]]}")
    extra = [k for k in raw if k not in PARALLEL_KEYS]
    if extra:
        raise SpecError(f"unknown key `{extra[0]}` in `parallel`", key_location(raw, extra[0]),
                        hint=did_you_mean(extra[0], PARALLEL_KEYS))
    branches_raw = raw["branches"]
    if not isinstance(branches_raw, LList) or len(branches_raw) < 2:
        raise SpecError("`branches` lists two branches or more, each a list of layers",
                        raw.value_locs["branches"])
    branches = []
    for k, branch in enumerate(branches_raw):
        if isinstance(branch, LList):
            branches.append(parse_entries(branch, known, errors, branches_raw, k))
        else:   # a single entry is a one-layer branch
            where = branches_raw.item_locs[k]
            try:
                branches.append((parse_entry(branch, 0, where, known, errors),))
            except SpecError as err:    # reported; the branch stays, unknown, in its place
                errors.add(err)
                branches.append((_broken_entry(branch, 0, where),))
    data = {"merge": raw.get("merge", DEFAULT_MERGE), "dim": raw.get("dim", 1),
            "branches": tuple(branches)}
    return validation.validate(Parallel, raw, fallback=loc, data=data, what="parallel: ")
