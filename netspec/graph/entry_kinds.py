"""The three kinds of entry, each expanded into graph nodes: a primitive layer (one node, its
shape, params and MACs from the kind's rules), a block use (its body expanded in a new scope)
and a `parallel` (its branches from one input, then the merge node).

Each takes the expansion in progress (`Expanding`: the graph so far, the blocks, the dtypes of
the nodes, and a way to expand a list of entries) and returns the name of the entry's output.
"""

from __future__ import annotations

from typing import Any, Protocol

from netspec.errors import BlockUse, SpecError, did_you_mean
from netspec.graph.diagnose import entry_error, lint_in_channels, loc_of, shape_error
from netspec.graph.ir import Failure, Graph, Group, Node
from netspec.graph.scope import UNKNOWN, Scope, in_info
from netspec.graph.substitute import resolve
from netspec.kinds import kinds
from netspec.kinds.base import MAX_ELEMENTS, LayerKind, ShapeError, fmt_shape, numel
from netspec.lang import validation
from netspec.lang.entries import has_reference
from netspec.lang.located import LDict, key_location, value_location
from netspec.lang.schema import BlockDef, Entry, Parallel

MAX_BLOCK_DEPTH = 64


class Expanding(Protocol):
    """What an entry kind needs of the expansion in progress."""

    graph: Graph
    blocks: dict[str, BlockDef]
    dtypes: dict[str, str]                    # node name -> "float" or "long" (token ids)
    static_args: dict[int, Any]               # id(entry) -> its arguments, when they hold no `$`
    linted: set[tuple]                        # (location, block) of the lints given already

    def expand_list(self, entries: tuple[Entry, ...], scope: Scope, prev: str | None) -> str:
        ...


def primitive(x: Expanding, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
    """One layer of a registered kind: node `name`, reading `srcs`."""
    kind = kinds()[e.kind]
    if kind.input_range[1] == 0 and e.from_ is None:
        srcs = []           # a tensor of its own (param): the entry above is not its input
    check_arity(kind, e, srcs, scope)
    # arguments without a `$` reference are the same in every use: validated once
    args = x.static_args.get(id(e))
    if args is None:
        args = layer_args(kind, e, scope)
        if not has_reference(e.args):
            x.static_args[id(e)] = args
    in_shapes = tuple(x.graph.shape_of(s) for s in srcs)
    try:        # the mistakes of inference, which a soft check reports with the graph so far
        check_dtype(x, kind, e, srcs, scope)
        shape, params, macs = _infer(x, kind, args, name, e, scope, in_shapes, srcs)
    except SpecError as err:
        x.graph.fail(Failure(name, kind.name, tuple(srcs), err))
        raise
    x.graph.add(Node(name, kind.name, args, tuple(srcs), in_shapes, shape, params, macs,
                     e.loc, scope.chain, scope.groups, e.init or scope.init))
    long_in = all(x.dtypes.get(s) == "long" for s in srcs)
    x.dtypes[name] = "long" if long_in and kind.keeps_dtype else "float"
    return name


def _infer(x: Expanding, kind: LayerKind, args, name: str, e: Entry, scope: Scope,
           in_shapes: tuple, srcs: list[str]) -> tuple:
    """(shape, params, MACs) of one layer, from its kind's rules; a located SpecError."""
    try:
        shape = kind.shape(list(in_shapes), args)
        params = kind.params(list(in_shapes), args)
        macs = kind.macs(list(in_shapes), args, shape)
    except ShapeError as err:
        raise shape_error(err, kind, name, e, scope, in_shapes, srcs, _first_input(x)) from None
    size = max(numel(shape), params)
    if size > MAX_ELEMENTS:
        what = "parameters" if params == size else "output elements per sample"
        raise entry_error(e, scope, f"{kind.name} '{name}' has {size:,} {what} "
                          f"(output {fmt_shape(shape)}), beyond any device's memory",
                          e.kind_loc, hint="check the sizes of this layer and the input "
                          "shape; netspec refuses layers above 1e11 elements")
    return shape, params, macs


def block(x: Expanding, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
    """A use of block `e.kind`: its body, in a scope of its own parameters and input."""
    bdef = x.blocks[e.kind]
    if len(srcs) != bdef.arity:
        names = f" ({', '.join(bdef.inputs)})" if bdef.inputs else ""
        raise entry_error(e, scope, f"block `{bdef.name}` takes {bdef.arity} input"
                          f"{'s' * (bdef.arity > 1)}{names}; `from:` gives {len(srcs)}",
                          loc_of(e, "from"),
                          hint=f"name {bdef.arity} entries, one for each of its inputs "
                          f"{', '.join(bdef.inputs)}: `from: [a, b]`"
                          if bdef.inputs else "merge them first with `add` or `concat`")
    if bdef.name in scope.using:
        raise entry_error(e, scope, f"block `{bdef.name}` uses itself", e.kind_loc,
                          hint="blocks may nest but not recurse")
    if len(scope.chain) >= MAX_BLOCK_DEPTH:
        raise entry_error(e, scope, f"blocks nest deeper than {MAX_BLOCK_DEPTH} levels here",
                          e.kind_loc, hint="a network needs a few levels of blocks; use "
                          "`repeat:` for a chain of the same block")
    params = block_params(bdef, e, scope)
    src = srcs[0]
    inputs = {n: in_info(x.graph.shape_of(s)) for n, s in zip(bdef.inputs, srcs)}
    env = {**params, **inputs, "in": in_info(x.graph.shape_of(src))}
    group = Group(name, bdef.name, args=args_summary(x, e, scope))
    use = BlockUse(bdef.name, bdef.loc, e.kind_loc)
    inner = Scope(name + ".", env, dict(zip(bdef.inputs, srcs)), src, scope.chain + (use,),
                  scope.groups + (group,), e.init or scope.init, using=scope.using | {bdef.name},
                  defined={n: f"the block's input `{n}`" for n in bdef.inputs})
    before = len(x.graph.nodes)
    out = x.expand_list(bdef.layers, inner, src)
    lint_in_channels(x, bdef, e, inner, x.graph.shape_of(src), before)
    return out


def parallel(x: Expanding, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
    """Branches `name.0`, `name.1`, ... from one input, merged by node `name.merge`."""
    p: Parallel = e.args
    if len(srcs) != 1:
        raise entry_error(e, scope, f"`parallel` takes one input, got {len(srcs)}",
                          loc_of(e, "from"))
    outs = []
    groups = scope.groups + (Group(name, f"parallel ({p.merge})"),)
    for k, branch in enumerate(p.branches):
        # its own env: `prev` changes entry by entry inside the branch
        inner = Scope(f"{name}.{k}.", dict(scope.env), dict(scope.ids), scope.input, scope.chain,
                      groups, e.init or scope.init, using=scope.using)
        outs.append(x.expand_list(branch, inner, srcs[0]))
    if UNKNOWN in outs:
        return UNKNOWN
    merge = kinds()[p.merge]
    # `dim` goes to the merges that take one (concat), as the kind's arguments declare
    args = _merge_args(merge, p, e, scope)
    in_shapes = tuple(x.graph.shape_of(s) for s in outs)
    merged = f"{name}.merge"
    try:
        shape = merge.shape(list(in_shapes), args)
    except ShapeError as err:
        error = shape_error(err, merge, merged, e, scope, in_shapes, outs, _first_input(x))
        x.graph.fail(Failure(merged, merge.name, tuple(outs), error))
        raise error from None
    x.graph.add(Node(merged, merge.name, args, tuple(outs), in_shapes, shape, 0, 0,
                     e.loc, scope.chain, groups))
    x.dtypes[merged] = "float"
    return merged


# ---- arguments and checks ---------------------------------------------------------------

def _merge_args(merge: LayerKind, p: Parallel, e: Entry, scope: Scope):
    """A parallel's merge arguments: its `dim:` goes to the merges that take one (concat)."""
    try:
        return merge.parse_args({"dim": p.dim} if "dim" in merge.args.model_fields else None)
    except ValueError as err:
        written = e.raw.get(e.kind) if isinstance(e.raw, LDict) else None
        root = written if isinstance(written, LDict) else {}
        if hasattr(err, "errors"):    # pydantic.ValidationError
            raise SpecError(validation.diagnostics(err, root, merge.args, "parallel: ",
                                                   e.kind_loc, scope.chain)) from None
        raise entry_error(e, scope, f"parallel: {err}", e.kind_loc) from None


def layer_args(kind: LayerKind, e: Entry, scope: Scope):
    """The entry's arguments, substituted and validated by the kind's argument model."""
    raw = resolve(e.args, scope, e, e.raw, e.kind)
    try:
        return kind.parse_args(raw)
    except ValueError as err:
        container = e.raw.get(e.kind) if isinstance(e.raw, LDict) else None
        root = container if isinstance(container, LDict) else {}
        where = (e.raw.value_locs.get(e.kind, e.kind_loc) if container is not None
                 and not root else e.kind_loc)
        if hasattr(err, "errors"):    # pydantic.ValidationError
            diags = validation.diagnostics(err, root, kind.args, f"{kind.name}: ",
                                           where, scope.chain, usage=kind.usage)
            raise SpecError(diags) from None
        raise entry_error(e, scope, str(err), e.kind_loc) from None


def block_params(bdef: BlockDef, e: Entry, scope: Scope) -> dict[str, Any]:
    """The values of `bdef`'s parameters in this use: given ones substituted, defaults."""
    container = e.raw.get(e.kind) if isinstance(e.raw, LDict) else None
    given = {} if e.args is None else e.args
    short = not isinstance(given, dict)         # `block: value` gives its one parameter
    if short:
        given = {_only_param(bdef, e, scope): given}
    values = {}
    for key, value in given.items():
        if key not in bdef.params:
            loc = key_location(container, key) if isinstance(container, LDict) else e.kind_loc
            raise entry_error(e, scope, f"block `{bdef.name}` has no parameter `{key}`", loc,
                              hint=did_you_mean(key, bdef.params) or
                              f"its parameters: {', '.join(bdef.params) or 'none'}")
        # a short-form value is written at the entry's kind key, a named one in the mapping
        where = (e.raw, e.kind) if short else (container, key)
        values[key] = resolve(value, scope, e, *where)
        _check_choice(bdef, key, values[key], e, scope, value_location(*where) or e.kind_loc)
    for key, default in bdef.params.items():
        if key not in values:
            if default is None:
                raise entry_error(e, scope, f"block `{bdef.name}` needs parameter `{key}`",
                                  e.kind_loc, hint=f"give it: `{bdef.name}: {{{key}: ...}}`")
            values[key] = default
    return values


def _check_choice(bdef: BlockDef, key: str, value: Any, e: Entry, scope: Scope,
                  loc) -> None:
    """A declared parameter takes one of its `choices:` (same value and type)."""
    allowed = bdef.choices.get(key)
    if allowed is None or any(type(value) is type(c) and value == c for c in allowed):
        return
    listed = ", ".join(_summary({None: c}) for c in allowed)
    close = did_you_mean(value, [c for c in allowed if isinstance(c, str)]) \
        if isinstance(value, str) else None
    raise entry_error(e, scope, f"block `{bdef.name}`: parameter `{key}` is "
                      f"{_summary({None: value})}, not one of its choices: {listed}", loc,
                      hint=close or f"pick one of {listed}, or add it to the block's "
                      f"`choices:`")


def _only_param(bdef: BlockDef, e: Entry, scope: Scope) -> str:
    """The parameter a single value gives: the block's only one, or its only required one."""
    required = [p for p, d in bdef.params.items() if d is None]
    if len(bdef.params) != 1 and len(required) != 1:
        raise entry_error(e, scope, f"block `{bdef.name}` takes named parameters "
                          f"({', '.join(bdef.params)}), not one value", e.kind_loc,
                          hint=f"write `{bdef.name}: {{" + ", ".join(
                              f"{p}: ..." for p in (required or bdef.params)) + "}`")
    return (required or list(bdef.params))[0]


def args_summary(x: Expanding, e: Entry, scope: Scope) -> str:
    """The arguments a block use gives, for folded table rows: `out=128, stride=2`."""
    if e.kind not in x.blocks or e.args is None:
        return ""
    given = e.args if isinstance(e.args, dict) else {None: e.args}
    try:
        values = {k: resolve(v, scope, e, e.args, k) for k, v in given.items()}
    except SpecError:
        return ""           # reported where the block itself is expanded
    return _summary(values)


def check_arity(kind: LayerKind, e: Entry, srcs: list[str], scope: Scope) -> None:
    """A merge takes two inputs or more; a single-input kind exactly one."""
    if kind.arity is None and len(srcs) < 2:
        raise entry_error(e, scope, f"{kind.name} merges two inputs or more; it got "
                          f"{len(srcs)}", e.kind_loc,
                          hint=f"name them: `- {{{kind.name}: {{}}, from: [a, b]}}`")
    if kind.arity == 1 and len(srcs) != 1:
        raise entry_error(e, scope, f"{kind.name} takes one input; `from:` gives "
                          f"{len(srcs)}", loc_of(e, "from"),
                          hint="merge them first with `add` or `concat`")
    low, high = kind.input_range
    if kind.arity not in (None, 1) and not low <= len(srcs) <= high:
        if high == 0:   # a tensor of its own (param): `from:`, or a repeat feeding it the copy above
            raise entry_error(e, scope, f"{kind.name} takes no input: it is a learnable tensor "
                              f"of its own", loc_of(e, "from"),
                              hint=f"drop `from:` (and `repeat:`); give it an `id:` and name it "
                                   f"in the `from:` of the layer that uses it")
        want = str(low) if low == high else f"{low} or {high}"
        raise entry_error(e, scope, f"{kind.name} takes {want} inputs; it got {len(srcs)}",
                          loc_of(e, "from"),
                          hint=f"name them: `- {{{kind.name}: ..., from: [a, b]}}`")


def check_dtype(x: Expanding, kind: LayerKind, e: Entry, srcs: list[str], scope: Scope) -> None:
    """Token ids (dtype long) go only where the kind takes them."""
    if kind.input_dtype == "any":
        return
    dtypes = {x.dtypes.get(s, "float") for s in srcs}
    if kind.input_dtype == "long" and dtypes != {"long"}:
        raise entry_error(e, scope, f"{kind.name} needs token ids (integers)", e.kind_loc,
                          hint="declare the input as ids: `input: {shape: [seq], dtype: long}`")
    if kind.input_dtype == "float" and "long" in dtypes:
        raise entry_error(e, scope, f"{kind.name} gets token ids (dtype long)", e.kind_loc,
                          hint="token ids go through an `embedding` first")


def _first_input(x: Expanding) -> tuple:
    return next(iter(x.graph.inputs.values())).shape


def _summary(values: dict, limit: int = 60) -> str:
    """`out=128, stride=2`, values spelled as in YAML (true, null, [96, 128]), cut at `limit`."""
    def fmt(v: Any) -> str:
        if isinstance(v, bool) or v is None:
            return {True: "true", False: "false", None: "null"}[v]
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(fmt(x) for x in v) + "]"
        return str(v)

    text = ", ".join(fmt(v) if k is None else f"{k}={fmt(v)}" for k, v in values.items())
    return text if len(text) <= limit else text[:limit - 1] + "…"
