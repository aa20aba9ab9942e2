"""What a layer kind is, and the registry that holds every one of them.

A layer kind lives in one place: its argument model (pydantic, frozen), its shape rule (a pure
function of the input shapes and the arguments), its parameter and MAC counts, its torch
builder, and its semantics (init role, what its output is, its dtype rule). Nothing else in
netspec branches on a kind's name. Argument types live in `netspec.kinds.argtypes`. torch is imported only inside
`build` functions, so the static check never pays for it.

Shapes exclude the batch dimension: a tuple of ints, where a dimension may also be a string,
a symbolic size such as ``"seq"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Sequence

from netspec.kinds.argtypes import Args, Dim, NoArgs

Shape = tuple[Dim, ...]


class ShapeError(Exception):
    """A shape rule's refusal: what is wrong, facts about it, and how to fix it.

    The graph turns it into a located SpecError naming the layer."""

    def __init__(self, message: str, hint: str | None = None, notes: Sequence[str] = (),
                 too_small: bool = False, need: Sequence[int] = ()):
        super().__init__(message)
        self.message = message      # a predicate: the graph prefixes "conv 'stage1.0'"
        self.hint = hint
        self.notes = tuple(notes)
        self.too_small = too_small  # the input was reduced too far: the graph says how
        self.need = tuple(need)     # with too_small: the spatial sizes this layer needs


MAX_ELEMENTS = 10**11        # per layer output or parameter count: 400 GB in float32


# ---- the registry ---------------------------------------------------------------------------

ShapeRule = Callable[[list[Shape], Any], Shape]


def _zero(*_: Any) -> int:
    return 0


INIT_ROLES = ("weighted", "relu_like", "saturating", "transparent", None)
OUTPUTS = ("probabilities", "log_probabilities", None)
DTYPES = ("float", "long", "any")
_UNSET: Any = object()      # init_role not given: decided from the kind's other fields


@dataclass(frozen=True)
class LayerKind:
    """One layer kind: arguments, shape rule, counts, torch builder, semantics.

    shape(ins, args) -> Shape        pure, raises ShapeError
    params(ins, args) -> int         module.parameters() count
    macs(ins, args, out) -> int      multiply-accumulates per sample (symbolic dims count 1)
    explain(ins, args) -> [str]      the arithmetic behind the shape (for `check --explain`)
    receptive(ins, args) -> rule     how output positions read input positions, for receptive
                                     fields (`netspec.kinds.footprint`); None: the output is
                                     not spatial (it reads all of its input)
    build(ins, args) -> nn.Module    imports torch; a module whose forward takes the inputs
    emit(graph, nodes, args, ins)    instead of build, for parameter-free function calls
                                     (`ins`: the input shapes, as for build)

    Semantics, so that nothing outside the registry branches on a kind's name:

    init_role     what weight init (`init: auto`) needs to know: "weighted" (the layer that is
                  initialised), "relu_like" / "saturating" (the activation that picks He or
                  Xavier), "transparent" (looked through between the two: norms, pools,
                  reshapes), None (hides what follows). Not given: "transparent" for a
                  single-input kind without parameters (a new reshaping kind between a conv and
                  its relu keeps He init), else None.
    init_gain     Xavier's gain for the layer this activation follows (5/3 for tanh)
    output        what the layer's output is when it ends a network: "probabilities",
                  "log_probabilities", or None (values; "logits" is the loss's word)
    input_dtype   "float", "long" (token ids) or "any"
    keeps_dtype   its output has its input's dtype (ids pass through a reshape); else float
    family        a display category (the diagram's colours), never a rule
    """

    name: str
    args: type[Args]
    shape: ShapeRule
    params: Callable[..., int] = _zero
    macs: Callable[..., int] = _zero
    explain: Callable[..., list[str]] | None = None
    receptive: Callable[..., Any] | None = None
    build: Callable[..., Any] | None = None
    emit: Callable[..., Any] | None = None   # (fx graph, input nodes, args, ins) -> fx node:
                                             # kinds that compile to a function call
    family: str = "other"
    main: str | None = None          # the argument the scalar short form gives (`linear: 10`)
    arity: int | tuple[int, int] | None = 1   # inputs taken: exactly n (0: a learnable
                                     # tensor, no input), (low, high), None: a merge (2 or more)
    input_dtype: str = "float"
    keeps_dtype: bool = False
    init_role: str | None = _UNSET
    init_gain: float = 1.0
    output: str | None = None
    doc: str = ""
    aliases: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.init_role is _UNSET:
            shape_only = self.arity == 1 and self.params is _zero
            object.__setattr__(self, "init_role", "transparent" if shape_only else None)
        for field, value, allowed in (("init_role", self.init_role, INIT_ROLES),
                                      ("output", self.output, OUTPUTS),
                                      ("input_dtype", self.input_dtype, DTYPES)):
            if value not in allowed:
                raise ValueError(f"layer kind {self.name!r}: {field} must be one of "
                                 f"{allowed}, got {value!r}")

    @property
    def input_range(self) -> tuple[int, int | None]:
        """(fewest, most) inputs the kind takes; most None for a merge (no limit)."""
        if self.arity is None:
            return (2, None)
        if isinstance(self.arity, tuple):
            return self.arity
        return (self.arity, self.arity)

    @property
    def usage(self) -> str:
        """The kind written with its required arguments: `conv: {out: ..., kernel: ...}`."""
        required = [f.alias or n for n, f in self.args.model_fields.items() if f.is_required()]
        if not required:
            return f"`{self.name}`"
        return f"`{self.name}: {{{', '.join(f'{r}: ...' for r in required)}}}`"

    def parse_args(self, raw: Any) -> Args:
        """The validated argument object from a YAML value: None, a scalar (short form) or
        a mapping. Raises pydantic.ValidationError or ValueError."""
        if raw is None:
            raw = {}
        elif not isinstance(raw, dict):
            if self.main is None:
                raise ValueError(f"`{self.name}` takes no short-form argument; write its "
                                 f"arguments as a mapping")
            raw = {self.main: raw}
        return self.args.model_validate(dict(raw))


_KINDS: dict[str, LayerKind] = {}


def register(kind: LayerKind) -> LayerKind:
    """Add `kind` (and its aliases) to the registry; a name registered twice is an error."""
    names = (kind.name, *kind.aliases)
    taken = [n for n in names if n in _KINDS]
    if taken:
        raise RuntimeError(f"layer kind {taken[0]!r} registered twice")
    for name in names:
        _KINDS[name] = kind
    return kind


def unregister(kind: LayerKind) -> None:
    """Remove `kind` and its aliases (for tests that register a kind of their own)."""
    for name in (kind.name, *kind.aliases):
        if _KINDS.get(name) is kind:
            del _KINDS[name]


def layer(name: str, args: type[Args] = NoArgs, **meta: Any) -> Callable[[type], LayerKind]:
    """Class decorator: the class body is a namespace holding shape/params/macs/explain/build."""

    def wrap(ns: type) -> LayerKind:
        parts = {k: ns.__dict__[k] for k in ("shape", "params", "macs", "explain", "receptive",
                                              "build")
                 if k in ns.__dict__}
        return register(LayerKind(name=name, args=args, doc=(ns.__doc__ or "").strip(),
                                  **parts, **meta))

    return wrap


def kinds() -> dict[str, LayerKind]:
    """Every registered kind by name (aliases included)."""
    return _KINDS


def output_semantics(kind_name: str | None) -> str:
    """What a network ending in `kind_name` outputs: "probabilities", "log_probabilities" or
    "values" (whether values are logits is the loss's to say, not the kind's).

    >>> output_semantics("softmax"), output_semantics("sigmoid"), output_semantics("linear")
    ('probabilities', 'probabilities', 'values')
    """
    kind = _KINDS.get(kind_name or "")
    return (kind.output if kind is not None else None) or "values"


# ---- shape helpers shared by several kinds --------------------------------------------------

def numel(shape: Sequence[Dim]) -> int:
    """Product of the dims; a symbolic dim counts 1 (MACs and memory are per step)."""
    return math.prod(d if isinstance(d, int) else 1 for d in shape)


def fmt_shape(shape: Sequence[Dim]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def tuple_n(value: int | tuple[int, ...], n: int, what: str) -> tuple[int, ...]:
    """An int or a list of ints normalised to n spatial dims, as torch's _ntuple does."""
    if isinstance(value, int):
        return (value,) * n
    if len(value) != n:
        raise ShapeError(f"has {len(value)} {what} values but its input has {n} spatial "
                         f"dim{'s' if n != 1 else ''}",
                         hint=f"give one number, or a list of {n}")
    return tuple(value)


def spatial_rank(ins: list[Shape], kind: str) -> int:
    """Number of spatial dims of a channels-first input ([C, L] -> 1, [C, H, W] -> 2, ...)."""
    shape = ins[0]
    if len(shape) < 2 or len(shape) > 4:
        what = "a feature vector" if len(shape) == 1 else f"a rank-{len(shape)} tensor"
        raise ShapeError(f"needs a channels-first input [C, L], [C, H, W] or "
                         f"[C, D, H, W], got {what} {fmt_shape(shape)}",
                         hint="conv, pool and norm layers work on feature maps; for features "
                              "use linear, or reshape them first")
    return len(shape) - 1


def channels(ins: list[Shape], kind: str) -> int:
    c = ins[0][0]
    if not isinstance(c, int):
        raise ShapeError(f"needs a known channel count, got the symbolic dim {c!r}",
                         hint="put the channels first: `input: [C, seq]` for 1d convolutions")
    return c


@dataclass(frozen=True)
class Window:
    """A sliding window along one dim (conv, pool): the PyTorch output-size rule.

    out = floor((size + 2*padding - dilation*(kernel-1) - 1) / stride) + 1
    (ceil instead of floor with ceil_mode, dropping a last window that would start in the
    right padding, as torch does).
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1
    ceil_mode: bool = False
    axis_names: ClassVar[tuple[str, ...]] = ("D", "H", "W")

    def out(self, size: Dim) -> Dim:
        """The output size over an input of `size`.

        >>> Window(kernel=3, stride=1, padding=1).out(32)
        32
        >>> Window(kernel=2, stride=2, ceil_mode=True).out(5)
        3
        >>> Window(kernel=2, stride=2, ceil_mode=True).out(1)   # a window over the edge
        1
        """
        if not isinstance(size, int):
            return self._symbolic(size)
        span = size + 2 * self.padding - self.dilation * (self.kernel - 1) - 1
        if self.ceil_mode:
            # torch: ceil(span / stride) + 1, which is 1 for a span in (-stride, 0]
            n = -(-span // self.stride) + 1
            if (n - 1) * self.stride >= size + self.padding:
                n -= 1
            return max(n, 0)
        if span < 0:
            return 0
        return span // self.stride + 1

    def formula(self, size: Dim, axis: str) -> str:
        rnd = "ceil" if self.ceil_mode else "floor"
        span = size + 2 * self.padding - self.dilation * (self.kernel - 1) - 1 \
            if isinstance(size, int) else 0
        # a window that does not fit shows the formula's own (non-positive) value
        rounded = -(-span // self.stride) if self.ceil_mode else span // self.stride
        value = rounded + 1 if isinstance(size, int) and span < 0 else self.out(size)
        return (f"{axis}: {rnd}(({size} + 2*{self.padding} - {self.dilation}*({self.kernel}-1)"
                f" - 1)/{self.stride}) + 1 = {value}")

    def _symbolic(self, size: str) -> str:
        if self.stride == 1 and 2 * self.padding == self.dilation * (self.kernel - 1):
            return size
        shift = 2 * self.padding - self.dilation * (self.kernel - 1)
        inner = f"{size}{shift:+d}" if shift else size
        return inner if self.stride == 1 else f"({inner}-1)//{self.stride}+1"


def windows_out(sizes: Sequence[Dim], windows: Sequence[Window]) -> tuple[Dim, ...]:
    """Output sizes of sliding windows over `sizes`; a too-small input is a ShapeError
    saying how big it needed to be."""
    outs = tuple(w.out(x) for x, w in zip(sizes, windows))
    if any(isinstance(o, int) and o <= 0 for o in outs):
        need = [w.dilation * (w.kernel - 1) + 1 - 2 * w.padding
                - (w.stride - 1 if w.ceil_mode else 0) for w in windows]
        k = "x".join(str(w.kernel) for w in windows)
        pad = [w.padding for w in windows]
        with_pad = f" with padding {pad[0] if len(set(pad)) == 1 else pad}" if any(pad) else ""
        need = [max(n, 1) for n in need]
        arithmetic = [w.formula(x, ax) for x, w, o, ax in
                      zip(sizes, windows, outs, axis_names(len(windows))) if o <= 0]
        raise ShapeError(f"gets a {'x'.join(map(str, sizes))} feature map; kernel {k}{with_pad} "
                         f"needs at least {'x'.join(map(str, need))}", notes=arithmetic,
                         too_small=True, need=need)
    return outs


def axis_names(n: int) -> tuple[str, ...]:
    return {1: ("L",), 2: ("H", "W"), 3: ("D", "H", "W")}[n]

