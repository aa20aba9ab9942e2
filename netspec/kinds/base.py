"""What a layer kind is, and the registry that holds every one of them.

A layer kind lives in one place: its argument model (pydantic, frozen), its shape rule (a pure
function of the input shapes and the arguments), its parameter and MAC counts, and its torch
builder. Nothing else in netspec branches on a kind's name. torch is imported only inside
`build` functions, so the static check never pays for it.

Shapes exclude the batch dimension: a tuple of ints, where a dimension may also be a string,
a symbolic size such as ``"seq"``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any, Callable, ClassVar, Sequence

from pydantic import BaseModel, BeforeValidator, ConfigDict

Dim = int | str
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


# ---- argument types -------------------------------------------------------------------------
# Arguments are strict: no booleans or strings for numbers. An integer argument accepts an
# integral float (what `$(c / 2)` gives) but nothing else.

MAX_ARG = 10**9              # as for input dims: anything larger is a typo, not a network
MAX_ELEMENTS = 10**11        # per layer output or parameter count: 400 GB in float32


def _strict_int(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected an integer, got {_describe(v)}{_unquote(v)}")
    if isinstance(v, float):
        if not v.is_integer():
            raise ValueError(f"expected an integer, got {v!r}")
        v = int(v)
    if abs(v) > MAX_ARG:
        raise ValueError(f"{v} is larger than netspec allows for a layer argument (10^9)")
    return v


def _strict_float(v: Any) -> Any:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"expected a number, got {_describe(v)}{_unquote(v)}")
    return float(v)


def _strict_bool(v: Any) -> Any:
    if not isinstance(v, bool):
        yaml11 = isinstance(v, str) and v.lower() in ("yes", "no", "on", "off", "y", "n")
        why = " (YAML 1.2 reads yes/no/on/off as strings)" if yaml11 else ""
        raise ValueError(f"expected true or false, got {_describe(v)}{why}")
    return v


def _unquote(v: Any) -> str:
    """' (write it without quotes)' for a number written as a string, like "16"."""
    try:
        float(v) if isinstance(v, str) else None
    except ValueError:
        return ""
    return " (write it without quotes)" if isinstance(v, str) else ""


def _int_or_ints(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_strict_int(x) for x in v)
    return _strict_int(v)


def _describe(v: Any) -> str:
    if isinstance(v, str):
        return f"the string {v!r}"
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "nothing (null)"
    if isinstance(v, (list, tuple)):
        return f"a list {list(v)!r}"
    if isinstance(v, dict):
        return "a mapping"
    return repr(v)


Int = Annotated[int, BeforeValidator(_strict_int)]
Float = Annotated[float, BeforeValidator(_strict_float)]
Bool = Annotated[bool, BeforeValidator(_strict_bool)]
IntOrInts = Annotated[int | tuple[int, ...], BeforeValidator(_int_or_ints)]
Ints = Annotated[tuple[int, ...], BeforeValidator(lambda v: _int_or_ints(list(v))
                                                  if isinstance(v, (list, tuple)) else v)]


class Args(BaseModel):
    """Base of every kind's argument model: frozen, unknown keys refused."""

    # defer_build: a schema is built on first use, so `check` pays only for kinds it meets
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class NoArgs(Args):
    pass


# ---- the registry ---------------------------------------------------------------------------

ShapeRule = Callable[[list[Shape], Any], Shape]


def _zero(*_: Any) -> int:
    return 0


@dataclass(frozen=True)
class LayerKind:
    """One layer kind: arguments, shape rule, counts, torch builder.

    shape(ins, args) -> Shape        pure, raises ShapeError
    params(ins, args) -> int         module.parameters() count
    macs(ins, args, out) -> int      multiply-accumulates per sample (symbolic dims count 1)
    explain(ins, args) -> [str]      the arithmetic behind the shape (for `check --explain`)
    build(ins, args) -> nn.Module    imports torch; a module whose forward takes the inputs
    emit(graph, nodes, args)         instead of build, for parameter-free function calls
    """

    name: str
    args: type[Args]
    shape: ShapeRule
    params: Callable[..., int] = _zero
    macs: Callable[..., int] = _zero
    explain: Callable[..., list[str]] | None = None
    build: Callable[..., Any] | None = None
    emit: Callable[..., Any] | None = None   # (fx graph, input nodes, args) -> fx node: kinds
                                             # that compile to a function call, not a module
    family: str = "other"
    main: str | None = None          # the argument the scalar short form gives (`linear: 10`)
    arity: int | None = 1            # None: a merge, two inputs or more
    input_dtype: str = "float"       # "long" for token ids
    doc: str = ""
    aliases: tuple[str, ...] = ()

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
    for name in (kind.name, *kind.aliases):
        if name in _KINDS:
            raise RuntimeError(f"layer kind {name!r} registered twice")
        _KINDS[name] = kind
    return kind


def layer(name: str, args: type[Args] = NoArgs, **meta: Any) -> Callable[[type], LayerKind]:
    """Class decorator: the class body is a namespace holding shape/params/macs/explain/build."""

    def wrap(ns: type) -> LayerKind:
        parts = {k: ns.__dict__[k] for k in ("shape", "params", "macs", "explain", "build")
                 if k in ns.__dict__}
        return register(LayerKind(name=name, args=args, doc=(ns.__doc__ or "").strip(),
                                  **parts, **meta))

    return wrap


def kinds() -> dict[str, LayerKind]:
    """Every registered kind by name (aliases included)."""
    return _KINDS


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

