"""Block expansion: a validated Spec -> the expanded, shape-annotated Graph.

Expansion and shape inference go together, because a block's parameters may read its input's
shape (`in.channels`) and an `if:` may depend on it. Entries are visited in spec order, which
is also execution order: `from:` may only name entries above.

An error in one entry is recorded and the entry's output marked unknown; entries that depend
on it are skipped quietly, independent ones are still checked, so a user sees every mistake.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from netspec.errors import BlockUse, Collector, Location, SpecError, did_you_mean
from netspec.graph.ir import Graph, Group, InputNode, Node
from netspec.kinds import kinds
from netspec.kinds.base import MAX_ELEMENTS, LayerKind, ShapeError, fmt_shape, numel
from netspec.lang import validation
from netspec.lang.expr import ExprError, substitute
from netspec.lang.schema import BROKEN, BlockDef, Entry, Parallel, Spec
from netspec.lang.yaml_loader import LDict, LList, key_location

UNKNOWN = "<unknown>"        # the output of an entry that failed: dependants are skipped
MAX_BLOCK_DEPTH = 64
MAX_NODES = 200_000


@dataclass
class Scope:
    """What names mean inside one list of entries."""

    prefix: str                                   # "" at the top, "stage1.0." in a block
    env: dict[str, Any]                           # `$name` values, and `in`
    ids: dict[str, str]                           # id -> node name
    input: str | None                             # what `from: input` names
    chain: tuple[BlockUse, ...] = ()
    groups: tuple[Group, ...] = ()
    init: str | None = None
    pending: set[str] = field(default_factory=set)   # ids written further down this list
    defined: dict[str, Location | None] = field(default_factory=dict)  # ids present, where
    left_out: dict[str, str] = field(default_factory=dict)  # ids whose `if:` was false: the if


def expand(spec: Spec, input_shapes: dict[str, tuple] | None = None,
           bindings: dict[str, int] | None = None) -> Graph:
    """The expanded graph of `spec`. `input_shapes` overrides input shapes by name;
    `bindings` gives symbolic dims a size (`seq=50`). Raises SpecError with every mistake."""
    return _Expander(spec, input_shapes or {}, bindings or {}).run()


class _Expander:
    def __init__(self, spec: Spec, input_shapes: dict, bindings: dict):
        from netspec.blocks import builtin_blocks

        self.spec = spec
        self.blocks: dict[str, BlockDef] = {**builtin_blocks(), **spec.blocks}
        self.errors = Collector()
        self.dtypes: dict[str, str] = {}
        inputs = {}
        for name, inp in spec.inputs.items():
            shape = tuple(input_shapes.get(name, inp.shape))
            shape = tuple(bindings.get(d, d) if isinstance(d, str) else d for d in shape)
            inputs[name] = InputNode(name, shape, inp.dtype)
            self.dtypes[name] = inp.dtype
        self.graph = Graph(spec.name, inputs, init=spec.init)
        # source lines by file, to place a column inside a quoted value
        self.texts: dict[str, list[str]] = (
            {spec.path or "<spec>": spec.source.splitlines()} if spec.source else {})

    def run(self) -> Graph:
        single = self.spec.single_input
        ids = {} if single else {n: n for n in self.spec.inputs}
        env = {"in": _in_info(self.graph.inputs["input"].shape)} if single else {}
        scope = Scope("", env, ids, "input" if single else None)
        last = self.expand_list(self.spec.layers, scope, "input" if single else None)
        with self.errors.guard():
            self._outputs(scope, last)
        self.errors.raise_if_any()
        return self.graph

    # ---- lists and entries -------------------------------------------------------------

    def expand_list(self, entries: tuple[Entry, ...], scope: Scope, prev: str | None) -> str:
        scope.pending = {e.id for e in entries if e.id}
        for e in entries:
            try:
                prev = self.expand_entry(e, scope, prev)
            except SpecError as err:
                self.errors.add(err)
                prev = UNKNOWN
                if e.id:
                    scope.ids[e.id] = UNKNOWN
            if e.id:
                scope.pending.discard(e.id)
        return prev if prev is not None else UNKNOWN

    def expand_entry(self, e: Entry, scope: Scope, prev: str | None) -> str | None:
        if e.if_ is not None:
            cond = self.value(e.if_, scope, e, e.raw, "if")
            if not isinstance(cond, bool):
                raise self.error(e, scope, f"`if` must give true or false, got {cond!r}",
                                 self.loc_of(e, "if"))
            if not cond:
                if e.id and e.id not in scope.defined:
                    scope.left_out[e.id] = str(e.if_)
                return prev
        if e.id and (e.id in scope.defined or (not scope.prefix and e.id in self.graph.inputs)):
            where = scope.defined.get(e.id) or "an input's name"
            raise self.error(e, scope, f"id `{e.id}` is already used" +
                             (f" by the entry at {where}" if isinstance(where, Location) else
                              f" as {where}"),
                             self.loc_of(e, "id"),
                             hint="ids are unique in their scope; rename one (two entries may "
                                  "share an id only when their `if:` exclude each other)")
        if e.id:
            scope.defined[e.id] = e.loc
            scope.left_out.pop(e.id, None)
        name = scope.prefix + (e.id or str(e.index))
        srcs = self.sources(e, scope, prev)
        count = None if e.repeat is None else self.value(e.repeat, scope, e, e.raw, "repeat")
        if count is None:
            out = self.expand_one(e, name, srcs, scope)
        else:
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise self.error(e, scope, f"`repeat` must be a count of 1 or more, got "
                                 f"{count!r}", self.loc_of(e, "repeat"))
            group = Group(name, f"{e.kind} ×{count}", repeat=count,
                          args=self.args_summary(e, scope))
            inner = replace(scope, groups=scope.groups + (group,))
            out = None
            for k in range(count):
                out = self.expand_one(e, f"{name}.{k}", srcs, inner)
                srcs = [out]
        if e.id:
            scope.ids[e.id] = out
        return out

    def expand_one(self, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
        if len(self.graph.nodes) > MAX_NODES:
            raise self.error(e, scope, f"the network expands to more than {MAX_NODES} layers",
                             hint="check `repeat:` counts")
        if UNKNOWN in srcs or e.kind == BROKEN:
            return UNKNOWN
        if e.kind == "parallel":
            return self.parallel(e, name, srcs, scope)
        if e.kind in kinds():
            return self.primitive(e, name, srcs, scope)
        if e.kind not in self.blocks:     # a block that failed to parse: already reported
            return UNKNOWN
        return self.block(e, name, srcs, scope)

    def sources(self, e: Entry, scope: Scope, prev: str | None) -> list[str]:
        if e.from_ is None:
            if prev is None:
                names = ", ".join(self.spec.inputs)
                raise self.error(e, scope, "this entry has no input: with several `inputs:`, "
                                 "the first entry names one in `from:`",
                                 hint=f"add `from: {next(iter(self.spec.inputs))}` (inputs: "
                                      f"{names})")
            return [prev]
        out = []
        written = e.raw.get("from") if isinstance(e.raw, LDict) else None
        for i, ref in enumerate(e.from_):
            container, key = (written, i) if isinstance(written, LList) else (e.raw, "from")
            ref = self.value(ref, scope, e, container, key)
            out.append(self.lookup(str(ref), e, scope, _value_loc(container, key)))
        return out

    def lookup(self, ref: str, e: Entry, scope: Scope, loc: Location | None = None) -> str:
        if ref == "input" and scope.input is not None:
            return scope.input
        if ref in scope.ids:
            return scope.ids[ref]
        loc = loc or self.loc_of(e, "from")
        if ref in scope.left_out:
            raise self.error(e, scope, f"`from: {ref}` names an entry left out here: its "
                             f"`if: {scope.left_out[ref]}` is false", loc,
                             hint=f"for the other case, add an entry with the opposite `if:` "
                                  f"and the same `id: {ref}` (e.g. an `identity` with "
                                  f"`from: input`)")
        if ref == e.id or ref in scope.pending:
            raise self.error(e, scope, f"`from: {ref}` names an entry at or below this one, "
                             f"which makes a cycle", loc,
                             hint="`from:` may name only entries above it; the spec's order is "
                                  "the order layers run in")
        known = sorted(scope.ids) + (["input"] if scope.input else [])
        raise self.error(e, scope, f"`from: {ref}` names no entry above", loc,
                         hint=did_you_mean(ref, known) or
                         f"known ids here: {', '.join(known) or 'none'}")

    # ---- the three kinds of entry --------------------------------------------------------

    def primitive(self, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
        kind = kinds()[e.kind]
        self.check_arity(kind, e, srcs, scope)
        args = self.layer_args(kind, e, scope)
        in_shapes = tuple(self.graph.shape_of(s) for s in srcs)
        self.check_dtype(kind, e, srcs, scope)
        try:
            shape = kind.shape(list(in_shapes), args)
            params = kind.params(list(in_shapes), args)
            macs = kind.macs(list(in_shapes), args, shape)
        except ShapeError as err:
            raise self.shape_error(err, kind, name, e, scope, in_shapes, srcs) from None
        size = max(numel(shape), params)
        if size > MAX_ELEMENTS:
            what = "parameters" if params == size else "output elements per sample"
            raise self.error(e, scope, f"{kind.name} '{name}' has {size:,} {what} "
                             f"(output {fmt_shape(shape)}), beyond any device's memory",
                             e.kind_loc, hint="check the sizes of this layer and the input "
                             "shape; netspec refuses layers above 1e11 elements")
        self.graph.add(Node(name, kind.name, args, tuple(srcs), in_shapes, shape, params, macs,
                            e.loc, scope.chain, scope.groups, e.init or scope.init))
        long_in = all(self.dtypes.get(s) == "long" for s in srcs)
        self.dtypes[name] = "long" if long_in and kind.family == "shape" else "float"
        return name

    def block(self, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
        bdef = self.blocks[e.kind]
        if len(srcs) != 1:
            raise self.error(e, scope, f"block `{bdef.name}` takes one input, got {len(srcs)}",
                             self.loc_of(e, "from"))
        if len(scope.chain) >= MAX_BLOCK_DEPTH or any(u.name == bdef.name for u in scope.chain):
            raise self.error(e, scope, f"block `{bdef.name}` uses itself", e.kind_loc,
                             hint="blocks may nest but not recurse")
        params = self.block_params(bdef, e, scope)
        src = srcs[0]
        env = {**params, "in": _in_info(self.graph.shape_of(src))}
        group = Group(name, bdef.name, args=self.args_summary(e, scope))
        inner = Scope(name + ".", env, {}, src, scope.chain + (BlockUse(bdef.name, bdef.loc,
                                                                         e.kind_loc),),
                      scope.groups + (group,), e.init or scope.init)
        return self.expand_list(bdef.layers, inner, src)

    def parallel(self, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
        p: Parallel = e.args
        if len(srcs) != 1:
            raise self.error(e, scope, f"`parallel` takes one input, got {len(srcs)}",
                             self.loc_of(e, "from"))
        outs = []
        groups = scope.groups + (Group(name, f"parallel ({p.merge})"),)
        for k, branch in enumerate(p.branches):
            inner = Scope(f"{name}.{k}.", scope.env, dict(scope.ids), scope.input, scope.chain,
                          groups, e.init or scope.init)
            outs.append(self.expand_list(branch, inner, srcs[0]))
        if UNKNOWN in outs:
            return UNKNOWN
        merge = kinds()[p.merge]
        args = merge.parse_args({"dim": p.dim} if p.merge == "concat" else None)
        in_shapes = tuple(self.graph.shape_of(s) for s in outs)
        try:
            shape = merge.shape(list(in_shapes), args)
        except ShapeError as err:
            raise self.shape_error(err, merge, f"{name}.merge", e, scope, in_shapes,
                                   outs) from None
        merged = f"{name}.merge"
        self.graph.add(Node(merged, merge.name, args, tuple(outs), in_shapes, shape, 0, 0,
                            e.loc, scope.chain, groups))
        self.dtypes[merged] = "float"
        return merged

    # ---- arguments ---------------------------------------------------------------------

    def layer_args(self, kind: LayerKind, e: Entry, scope: Scope):
        raw = self.resolve(e.args, scope, e, e.raw, e.kind)
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
            raise self.error(e, scope, str(err), e.kind_loc) from None

    def block_params(self, bdef: BlockDef, e: Entry, scope: Scope) -> dict[str, Any]:
        given = e.args
        if given is None:
            given = {}
        elif not isinstance(given, dict):
            required = [p for p, d in bdef.params.items() if d is None]
            if len(bdef.params) != 1 and len(required) != 1:
                raise self.error(e, scope, f"block `{bdef.name}` takes named parameters "
                                 f"({', '.join(bdef.params)}), not one value", e.kind_loc,
                                 hint=f"write `{bdef.name}: {{" + ", ".join(
                                     f"{p}: ..." for p in (required or bdef.params)) + "}`")
            given = {(required or list(bdef.params))[0]: given}
        container = e.raw.get(e.kind) if isinstance(e.raw, LDict) else None
        values = {}
        for key, value in given.items():
            if key not in bdef.params:
                loc = key_location(container, key) if isinstance(container, LDict) else e.kind_loc
                raise self.error(e, scope, f"block `{bdef.name}` has no parameter `{key}`", loc,
                                 hint=did_you_mean(key, bdef.params) or
                                 f"its parameters: {', '.join(bdef.params) or 'none'}")
            values[key] = self.resolve(value, scope, e, container, key)
        for key, default in bdef.params.items():
            if key not in values:
                if default is None:
                    raise self.error(e, scope, f"block `{bdef.name}` needs parameter `{key}`",
                                     e.kind_loc, hint=f"give it: `{bdef.name}: {{{key}: ...}}`")
                values[key] = default
        return values

    def args_summary(self, e: Entry, scope: Scope) -> str:
        """The arguments a block use gives, for folded table rows: `out=128, stride=2`."""
        if e.kind not in self.blocks or e.args is None:
            return ""
        given = e.args if isinstance(e.args, dict) else {None: e.args}
        try:
            values = {k: self.resolve(v, scope, e, e.args, k) for k, v in given.items()}
        except SpecError:
            return ""           # reported where the block itself is expanded
        return _summary(values)

    def resolve(self, value: Any, scope: Scope, e: Entry, container: Any, key: Any) -> Any:
        """`value` with every `$name`/`$(expr)` inside it substituted (containers walked)."""
        if isinstance(value, dict):
            return {k: self.resolve(v, scope, e, value, k) for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, scope, e, value, i) for i, v in enumerate(value)]
        return self.value(value, scope, e, container, key)

    def value(self, value: Any, scope: Scope, e: Entry, container: Any, key: Any) -> Any:
        # every `$...` string goes through substitute(), which refuses malformed references
        if not (isinstance(value, str) and value.startswith("$")):
            return value
        try:
            return substitute(value, scope.env)
        except ExprError as err:
            loc = _value_loc(container, key) or e.loc
            if err.column is not None and loc is not None and isinstance(value, str):
                # columns count from the `$`; a quoted value starts one further on
                shift = 1 if self.char_at(loc) in ("'", '"') else 0
                loc = Location(loc.file, loc.line, loc.col + shift + err.column)
            hint = err.hint
            if not scope.chain and err.message.startswith("unknown name"):
                hint = "`$name` reads a block's parameters; outside a block, write the value"
            raise self.error(e, scope, f"in `{value}`: {err.message}", loc, hint=hint) from None

    # ---- checks and errors ---------------------------------------------------------------

    def char_at(self, loc: Location) -> str:
        """The character written at `loc` ("" when the text is not at hand)."""
        if loc.file not in self.texts:
            try:
                from pathlib import Path
                self.texts[loc.file] = Path(loc.file).read_text(encoding="utf-8").splitlines()
            except (OSError, UnicodeDecodeError):
                self.texts[loc.file] = []
        lines = self.texts[loc.file]
        line = lines[loc.line - 1] if 0 < loc.line <= len(lines) else ""
        return line[loc.col - 1] if 0 < loc.col <= len(line) else ""

    def check_arity(self, kind: LayerKind, e: Entry, srcs: list[str], scope: Scope) -> None:
        if kind.arity is None and len(srcs) < 2:
            raise self.error(e, scope, f"{kind.name} merges two inputs or more; it got "
                             f"{len(srcs)}", e.kind_loc,
                             hint=f"name them: `- {{{kind.name}: {{}}, from: [a, b]}}`")
        if kind.arity == 1 and len(srcs) != 1:
            raise self.error(e, scope, f"{kind.name} takes one input; `from:` gives "
                             f"{len(srcs)}", self.loc_of(e, "from"),
                             hint="merge them first with `add` or `concat`")

    def check_dtype(self, kind: LayerKind, e: Entry, srcs: list[str], scope: Scope) -> None:
        dtypes = {self.dtypes.get(s, "float") for s in srcs}
        if kind.input_dtype == "long" and dtypes != {"long"}:
            raise self.error(e, scope, f"{kind.name} needs token ids (integers)", e.kind_loc,
                             hint="declare the input as ids: `input: {shape: [seq], dtype: long}`")
        if kind.input_dtype != "long" and "long" in dtypes and kind.family != "shape":
            raise self.error(e, scope, f"{kind.name} gets token ids (dtype long)", e.kind_loc,
                             hint="token ids go through an `embedding` first")

    def shape_error(self, err: ShapeError, kind: LayerKind, name: str, e: Entry, scope: Scope,
                    in_shapes: tuple, srcs: list[str] = ()) -> SpecError:
        shape_here = f"shape here: {' and '.join(fmt_shape(s) for s in in_shapes)}"
        hint = err.hint
        if err.too_small:
            first = next(iter(self.graph.inputs.values())).shape
            shape_here += _reduction(first[1:], in_shapes[0][1:])
            scale = _scale_needed(err.need, in_shapes[0][1:])
            bigger = [first[0], *(d * scale if isinstance(d, int) else d for d in first[1:])]
            hint = hint or (f"the input may be too small for this many downsampling layers; "
                            f"try `input: {bigger}` or drop a downsampling layer")
        if kind.arity is None and len(srcs) == len(in_shapes):     # a merge: whose shapes
            shape_here = "from: " + ", ".join(f"{s} {fmt_shape(x)}"
                                               for s, x in zip(srcs, in_shapes))
        notes = [shape_here, *err.notes]
        return self.error(e, scope, f"{kind.name} '{name}' {err.message}", e.kind_loc, hint,
                          tuple(notes))

    def error(self, e: Entry, scope: Scope, message: str, loc: Location | None = None,
              hint: str | None = None, notes: tuple = ()) -> SpecError:
        return SpecError(message, loc or e.loc, hint, notes, scope.chain)

    def loc_of(self, e: Entry, key: str) -> Location | None:
        if isinstance(e.raw, LDict) and key in e.raw:
            return e.raw.value_locs.get(key)
        return e.loc

    def _outputs(self, scope: Scope, last: str) -> None:
        if not self.spec.outputs:
            if last != UNKNOWN:
                self.graph.outputs["output"] = last
            return
        raw = self.spec.raw
        locs = raw.get("outputs") if isinstance(raw, LDict) else None
        for i, ref in enumerate(self.spec.outputs):
            node = scope.ids.get(ref) or (ref if ref in self.graph.nodes else None)
            if node is None:
                loc = locs.item_locs[i] if isinstance(locs, LList) else (
                    raw.value_locs.get("outputs") if isinstance(raw, LDict) else None)
                raise SpecError(f"`outputs` names `{ref}`, which is no id of the network", loc,
                                hint=did_you_mean(ref, scope.ids) or "give an entry an `id:`")
            if node != UNKNOWN:
                self.graph.outputs[ref] = node


def _reduction(first: tuple, now: tuple) -> str:
    """' (input 32x32 halved 5 times)': how far the layers above shrank the input."""
    if len(first) != len(now) or not all(isinstance(d, int) for d in (*first, *now)):
        return ""
    size = "x".join(map(str, first))
    ratios = {a / b for a, b in zip(first, now)}
    if len(ratios) == 1:
        r = ratios.pop()
        if r > 1 and r.is_integer() and int(r) & (int(r) - 1) == 0:
            n = int(r).bit_length() - 1
            return f" (input {size} halved {n} time{'s' if n > 1 else ''})"
    return f" (input {size} reduced to {'x'.join(map(str, now))})"


def _scale_needed(need: tuple, now: tuple) -> int:
    """The power of 2 by which the input must grow for this layer to fit (at least 2)."""
    ratio = max((n / d for n, d in zip(need, now) if isinstance(d, int) and d > 0), default=2)
    scale = 2
    while scale < ratio:
        scale *= 2
    return scale


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


def _in_info(shape: tuple) -> dict[str, Any]:
    return {"channels": shape[0] if shape else None, "shape": list(shape)}


def _value_loc(container: Any, key: Any) -> Location | None:
    if isinstance(container, LDict):
        return container.value_locs.get(key)
    if isinstance(container, LList) and isinstance(key, int) and key < len(container.item_locs):
        return container.item_locs[key]
    return None
