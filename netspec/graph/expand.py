"""Block expansion: a validated Spec -> the expanded, shape-annotated Graph.

Expansion and shape inference go together, because a block's parameters may read its input's
shape (`in.channels`) and an `if:` may depend on it. Entries are visited in spec order, which
is also execution order: `from:` may only name entries above.

An error in one entry is recorded and the entry's output marked unknown; entries that depend
on it are skipped quietly, independent ones are still checked, so a user sees every mistake.
This module walks the lists (names, `if:`, `repeat:`, `from:`, ids, outputs); what each kind
of entry becomes is in `entry_kinds`, `$` substitution in `substitute`, errors in `diagnose`.
"""

from __future__ import annotations

from dataclasses import replace

from netspec.errors import Collector, Location, SpecError, did_you_mean
from netspec.graph import entry_kinds
from netspec.graph.diagnose import entry_error, loc_of
from netspec.graph.estimate import Estimates
from netspec.graph.ir import Graph, Group, InputNode
from netspec.graph.receptive import annotate
from netspec.graph.scope import UNKNOWN, Scope, in_info, set_prev
from netspec.graph.substitute import resolve_scalar
from netspec.kinds import kinds
from netspec.lang.library import builtin_blocks
from netspec.lang.expr import is_reference
from netspec.lang.located import LDict, LList, value_location
from netspec.lang.schema import BROKEN, MAX_REPEAT, BlockDef, Entry, Parallel, Spec

MAX_NODES = 100_000          # layers of the expanded network
# entries visited, those left out by `if:` included (the copies of a repeated layer are
# bounded by MAX_NODES): what bounds the time of a check when blocks use blocks many times
# (2**40 uses of an `if: false` entry); a block use costs about 20 µs
MAX_WORK = 50_000


class _Abandoned(Exception):
    """Expansion stopped at a bound after a mistake was found: the mistakes already found are
    the report (the bound would only be hit by work done on a spec known to be wrong)."""


def expand(spec: Spec, input_shapes: dict[str, tuple] | None = None,
           bindings: dict[str, int] | None = None, *, after_errors: bool = False,
           soft: bool = False) -> Graph:
    """The expanded graph of `spec`. `input_shapes` overrides input shapes by name;
    `bindings` gives symbolic dims a size (`seq=50`). Raises SpecError with every mistake.
    `after_errors`: mistakes were found already (a spec that did not parse whole), so a bound
    of the expansion ends it quietly, leaving those mistakes as the report.
    `soft`: when every mistake is one of shape inference, return the graph of the layers
    inferred, with the mistakes in `graph.failures`, instead of raising."""
    expander = _Expander(spec, input_shapes or {}, bindings or {})
    expander.after_errors = after_errors
    graph = expander.run(soft)
    annotate(graph)
    return graph


class _Expander:
    """One expansion in progress: the graph so far, the blocks in reach, every node's dtype,
    and the mistakes found (it is the `entry_kinds.Expanding` the entry kinds extend)."""

    def __init__(self, spec: Spec, input_shapes: dict, bindings: dict):
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
        self.work = 0           # entries visited
        self.present = 0        # entries whose `if:` held
        self.after_errors = False
        self.static_args: dict[int, object] = {}
        self.kinds_named: dict[tuple[int, str], Entry] = {}   # (id(entry), kind) -> the copy
        self.linted: set[tuple] = set()     # (location, block) of the lints given once
        self.estimates = Estimates(self.blocks, kinds())

    def run(self, soft: bool = False) -> Graph:
        single = self.spec.single_input
        ids = {} if single else {n: n for n in self.spec.inputs}
        env = {"in": in_info(self.graph.inputs["input"].shape)} if single else {}
        # the spec's `params:` in effect are the root scope; block bodies see only their own
        scope = Scope("", {**self.spec.params, **env}, ids, "input" if single else None)
        try:
            last = self.expand_list(self.spec.layers, scope, "input" if single else None)
            with self.errors.guard():
                self._outputs(scope, last)
        except _Abandoned:
            pass
        inferring = {d for f in self.graph.failures for d in f.error.diagnostics}
        if not (soft and inferring and all(d in inferring for d in self.errors.diagnostics)):
            self.errors.raise_if_any()
        return self.graph

    def bound(self, e: Entry, scope: Scope, message: str, hint: str) -> None:
        """Stop at a bound: a located error when it is the first mistake, else quietly with
        the mistakes found (raised out of every list, so no more work is done)."""
        if self.errors.diagnostics or self.after_errors:
            raise _Abandoned()
        self.errors.add(entry_error(e, scope, message, hint=hint))
        raise _Abandoned()

    # ---- lists and entries -------------------------------------------------------------

    def expand_list(self, entries: tuple[Entry, ...], scope: Scope, prev: str | None) -> str:
        """Expand `entries` in order, the first reading `prev`; the name of the last output."""
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
        """One entry (its copies, with `repeat:`); `prev` itself when it is left out (`if:`
        false, or `repeat: 0`)."""
        self.work += 1
        if self.work > MAX_WORK:
            self.bound(e, scope, f"the network takes more than {MAX_WORK:,} entries to "
                       f"expand", "blocks that use blocks many times multiply; check them, "
                       "and the `repeat:` counts")
        srcs = None
        if e.from_ is None:
            srcs = None if prev is None else [prev]
        elif _reads_prev(e.if_) or _reads_prev(e.repeat):   # `prev` there is its `from:`
            srcs = self.sources(e, scope, prev)
        if srcs and UNKNOWN in srcs and (_reads_prev(e.if_) or _reads_prev(e.repeat)):
            return UNKNOWN      # depends on an entry that failed: reported there
        self._set_prev(scope, srcs)
        if not self._present(e, scope):
            return prev
        count = None if e.repeat is None else resolve_scalar(e.repeat, scope, e, e.raw, "repeat")
        if count is not None:
            self._repeat_count(e, scope, count)
        if count == 0:
            if e.id and e.id not in scope.defined:
                scope.left_out[e.id] = "its `repeat:` is 0"
            return prev
        self.present += 1
        self._claim_id(e, scope)
        name = scope.prefix + (e.id or str(e.index))
        if srcs is None or e.from_ is not None:
            srcs = self.sources(e, scope, prev)
        if UNKNOWN not in srcs:     # else skipped: its input failed
            e = self._kind_named(e, scope)
            self._within_bounds(e, scope, 1 if count is None else count)
        if count is None:
            out = self.expand_one(e, name, srcs, scope)
        elif UNKNOWN in srcs:   # copies of an entry whose input failed: nothing to check
            out = UNKNOWN
        else:
            group = Group(name, f"{e.kind} ×{count}", repeat=count,
                          args=entry_kinds.args_summary(self, e, scope))
            inner = replace(scope, groups=scope.groups + (group,))
            out = None
            for k in range(count):       # `from:` feeds the first copy; each feeds the next
                out = self.expand_one(e, f"{name}.{k}", srcs, inner)
                if out == UNKNOWN:
                    break
                srcs = [out]
        if e.id:
            scope.ids[e.id] = out
        return out

    def _within_bounds(self, e: Entry, scope: Scope, copies: int) -> None:
        """Refuse an entry whose copies would surely cross a bound, before expanding any of
        them: reaching the bound by expanding costs time in proportion to it."""
        nodes, work = self.estimates.one(e)
        if self.work + copies * work > MAX_WORK:
            self.bound(e, scope, f"the network takes more than {MAX_WORK:,} entries to "
                       f"expand", "blocks that use blocks many times multiply; check them, "
                       "and the `repeat:` counts")
        if len(self.graph.nodes) + copies * nodes > MAX_NODES:
            self.bound(e, scope, f"the network expands to more than {MAX_NODES:,} layers",
                       "check `repeat:` counts")

    def _repeat_count(self, e: Entry, scope: Scope, count) -> None:
        """A count of copies: an int from 0 (the entry is left out) to MAX_REPEAT."""
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise entry_error(e, scope, f"`repeat` must be a count of 0 or more, got "
                              f"{count!r}", loc_of(e, "repeat"),
                              hint="`repeat: 0` leaves the entry out; 1 or more repeats it")
        if count > MAX_REPEAT:
            raise entry_error(e, scope, f"`repeat` must be between 1 and {MAX_REPEAT}, got "
                              f"{count}", loc_of(e, "repeat"),
                              hint="check the expression: a network repeats an entry a few "
                                   "times, or a few hundred")

    def _present(self, e: Entry, scope: Scope) -> bool:
        """Whether the entry's `if:` holds; a left-out id is remembered, to say so if named."""
        if e.if_ is None:
            return True
        cond = resolve_scalar(e.if_, scope, e, e.raw, "if")
        if not isinstance(cond, bool):
            raise entry_error(e, scope, f"`if` must give true or false, got {cond!r}",
                              loc_of(e, "if"))
        if not cond and e.id and e.id not in scope.defined:
            scope.left_out[e.id] = f"its `if: {e.if_}` is false"
        return cond

    def _set_prev(self, scope: Scope, srcs: list[str] | None) -> None:
        """`prev` for the entry about to be expanded: the first node it reads."""
        known = srcs and srcs[0] != UNKNOWN
        set_prev(scope, self.graph.shape_of(srcs[0]) if known else None)

    def _kind_named(self, e: Entry, scope: Scope) -> Entry:
        """The entry with the kind its `$act` names in this scope (itself when its kind is
        written out): a layer kind or a block; another value is the unknown-kind error."""
        if not is_reference(e.kind):
            return e
        kind = resolve_scalar(e.kind, scope, e, None, None)
        known = {*kinds(), *self.blocks}
        if not isinstance(kind, str):
            raise entry_error(e, scope, f"`{e.kind}` gives {kind!r}, not the name of a layer "
                              f"kind or a block", e.kind_loc,
                              hint="a kind-valued parameter is a name: `act: relu`")
        if kind not in known:
            raise entry_error(e, scope, f"unknown layer kind `{kind}` (the value of "
                              f"`{e.kind}`)", e.kind_loc,
                              hint=did_you_mean(kind, known) or "a kind-valued parameter names "
                              "a layer kind or a block; `netspec kinds` lists them all")
        key = (id(e), kind)
        if key not in self.kinds_named:     # kept: an id-keyed cache needs the copy alive
            self.kinds_named[key] = e.model_copy(update={"kind": kind})
        return self.kinds_named[key]

    def _claim_id(self, e: Entry, scope: Scope) -> None:
        """Record the entry's id in its scope; one already used there is an error."""
        if not e.id:
            return
        if e.id in scope.defined or (not scope.prefix and e.id in self.graph.inputs):
            where = scope.defined.get(e.id) or "an input's name"
            raise entry_error(e, scope, f"id `{e.id}` is already used" +
                              (f" by the entry at {where}" if isinstance(where, Location) else
                               f" as {where}"),
                              loc_of(e, "id"),
                              hint="ids are unique in their scope; rename one (two entries may "
                                   "share an id only when their `if:` exclude each other)")
        scope.defined[e.id] = e.loc
        scope.left_out.pop(e.id, None)

    def expand_one(self, e: Entry, name: str, srcs: list[str], scope: Scope) -> str:
        """One copy of the entry, named `name`, reading `srcs`."""
        if UNKNOWN in srcs or e.kind == BROKEN:
            return UNKNOWN
        self._set_prev(scope, srcs)
        if len(self.graph.nodes) >= MAX_NODES:
            self.bound(e, scope, f"the network expands to more than {MAX_NODES:,} layers",
                       "check `repeat:` counts")
        if isinstance(e.args, Parallel):
            return entry_kinds.parallel(self, e, name, srcs, scope)
        if e.kind in kinds():
            return entry_kinds.primitive(self, e, name, srcs, scope)
        if e.kind not in self.blocks:     # a block that failed to parse: already reported
            return UNKNOWN
        return entry_kinds.block(self, e, name, srcs, scope)

    # ---- references --------------------------------------------------------------------

    def sources(self, e: Entry, scope: Scope, prev: str | None) -> list[str]:
        """The node names the entry reads: its `from:`, or the entry above."""
        if e.from_ is None:
            if prev is None:
                names = ", ".join(self.spec.inputs)
                raise entry_error(e, scope, "this entry has no input: with several `inputs:`, "
                                  "the first entry names one in `from:`",
                                  hint=f"add `from: {next(iter(self.spec.inputs))}` (inputs: "
                                       f"{names})")
            return [prev]
        out = []
        written = e.raw.get("from") if isinstance(e.raw, LDict) else None
        for i, ref in enumerate(e.from_):
            container, key = (written, i) if isinstance(written, LList) else (e.raw, "from")
            ref = resolve_scalar(ref, scope, e, container, key)
            out.append(self.lookup(str(ref), e, scope, value_location(container, key)))
        return out

    def lookup(self, ref: str, e: Entry, scope: Scope, loc: Location | None = None) -> str:
        """The node an id (or `input`) names here; a name not above is a located error."""
        if ref == "input" and scope.input is not None:
            return scope.input
        if ref in scope.ids:
            return scope.ids[ref]
        loc = loc or loc_of(e, "from")
        if ref in scope.left_out:
            raise entry_error(e, scope, f"`from: {ref}` names an entry left out here: "
                              f"{scope.left_out[ref]}", loc,
                              hint=_left_out_hint(ref, scope.left_out[ref]))
        if ref == e.id or ref in scope.pending:
            raise entry_error(e, scope, f"`from: {ref}` names an entry at or below this one, "
                              f"which makes a cycle", loc,
                              hint="`from:` may name only entries above it; the spec's order "
                                   "is the order layers run in")
        known = sorted(scope.ids) + (["input"] if scope.input else [])
        raise entry_error(e, scope, f"`from: {ref}` names no entry above", loc,
                          hint=did_you_mean(ref, known) or
                          f"known ids here: {', '.join(known) or 'none'}")

    def _outputs(self, scope: Scope, last: str) -> None:
        """The network's outputs: `outputs:` by id, else the last entry's, named `output`."""
        if not self.spec.outputs:
            # with several inputs and every entry left out, nothing is `last`: also no layers
            if last in self.graph.inputs or (last == UNKNOWN and not self.present):
                raise SpecError("the network has no layers: every entry of `layers:` is left "
                                "out", self._layers_loc(), hint="an entry whose `if:` is false, "
                                "or with `repeat: 0`, is left out; keep at least one")
            if last != UNKNOWN:
                self.graph.outputs["output"] = last
            return
        raw = self.spec.raw
        locs = raw.get("outputs") if isinstance(raw, LDict) else None
        for i, ref in enumerate(self.spec.outputs):
            node = scope.ids.get(ref) or (ref if ref in self.graph.nodes else None)
            loc = locs.item_locs[i] if isinstance(locs, LList) else (
                raw.value_locs.get("outputs") if isinstance(raw, LDict) else None)
            if node is None and ref in scope.left_out:
                raise SpecError(f"`outputs` names `{ref}`, an entry left out: "
                                f"{scope.left_out[ref]}", loc,
                              hint=_left_out_hint(ref, scope.left_out[ref]))
            if node is None:
                raise SpecError(f"`outputs` names `{ref}`, which is no id of the network", loc,
                                hint=did_you_mean(ref, scope.ids) or "give an entry an `id:`")
            if node in self.graph.inputs:
                loc = locs.item_locs[i] if isinstance(locs, LList) else None
                raise SpecError(f"`outputs` names the input `{ref}`; an output is a layer's",
                                loc or self._layers_loc(), hint="give the layer an `id:` and "
                                "name that, e.g. an `identity` reading the input")
            if node != UNKNOWN:
                self.graph.outputs[ref] = node

    def _layers_loc(self) -> Location | None:
        """Where `layers:` is written (the first entry's location when not known)."""
        raw = self.spec.raw
        if isinstance(raw, LDict) and "layers" in raw:
            return raw.key_locs.get("layers")
        return self.spec.layers[0].loc if self.spec.layers else None


def _reads_prev(value) -> bool:
    """Whether an `if:`/`repeat:` value may read `prev` (then it needs the entry's input)."""
    return isinstance(value, str) and "prev" in value


def _left_out_hint(ref: str, reason: str) -> str:
    if reason.startswith("its `if:"):
        return (f"for the other case, add an entry with the opposite `if:` and the same "
                f"`id: {ref}` (e.g. an `identity` with `from: input`)")
    return (f"name the entry above it instead, or add an entry with the same `id: {ref}` and "
            f"`if: $(n == 0)` for that case (e.g. an `identity`)")
