"""The validated, frozen spec objects (pydantic v2).

    Spec            the whole file: inputs, blocks, layers, outputs, init, train (raw)
    InputSpec       one input: shape without the batch dim, dtype
    BlockDef        a user or built-in block: params (None = required), choices, inputs, layers
    Entry           one layer entry: kind, raw arguments, id/from/repeat/if/init

A kind's arguments stay raw (as written, `$refs` included) until block expansion substitutes
and validates them with the kind's own argument model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, field_validator

from netspec.errors import Location
from netspec.kinds import kinds
from netspec.kinds.argtypes import Dim, Frozen

INIT_SCHEMES = ("auto", "kaiming", "xavier", "xavier_uniform", "normal", "dcgan", "default")
META_KEYS = ("id", "from", "repeat", "if", "init")
BROKEN = "<error>"      # the kind of an entry that failed to parse (already reported)
ID_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]*$|^(?![0-9]+$)[A-Za-z0-9_\-]+$")

DEFAULT_MERGE = "concat"
MAX_REPEAT = 10_000     # copies of one repeated entry (DESIGN §9)


def merge_kinds() -> tuple[str, ...]:
    """The kinds a `parallel` may merge its branches with: those that take any number of
    inputs (the registry's merges), the default first."""
    names = [name for name, kind in kinds().items() if kind.arity is None]
    return tuple(sorted(names, key=lambda name: name != DEFAULT_MERGE))


InitScheme = Literal["auto", "kaiming", "xavier", "xavier_uniform", "normal", "dcgan",
                     "default"]


class InputSpec(Frozen):
    shape: tuple[Dim, ...]
    dtype: Literal["float", "long"] = "float"

    @field_validator("shape", mode="before")
    @classmethod
    def _list(cls, v: Any) -> Any:
        if not isinstance(v, (list, tuple)) or not v:
            raise ValueError(f"an input shape is a non-empty list like [3, 224, 224] or "
                             f"[seq, 16], got {v!r}")
        if len(v) > 8:
            raise ValueError(f"an input of rank {len(v)} is beyond what netspec supports (≤ 8)")
        return v


def _check_id(v: Any) -> Any:
    if not isinstance(v, str) or isinstance(v, bool):
        raise ValueError(f"an id is a name, got {v!r}")
    if "." in v:
        raise ValueError(f"an id contains no `.` (dots join the names of nested blocks): {v!r}")
    if v.isdigit():
        raise ValueError(f"an id is not all digits (those name entries by position): {v!r}")
    if v == "input":
        raise ValueError("`input` is reserved for the input of the network or block")
    if not ID_PATTERN.match(v):
        raise ValueError(f"an id uses letters, digits, `_` and `-`: {v!r}")
    return v


Id = Annotated[str, BeforeValidator(_check_id)]


def _is_ref(v: Any) -> bool:
    return isinstance(v, str) and v.startswith("$")


def _repeat(v: Any) -> Any:
    if _is_ref(v):
        return v
    if isinstance(v, bool) or not isinstance(v, int):
        raise ValueError(f"`repeat` is a count (0 or more; 0 leaves the entry out), got {v!r}")
    if v < 0:
        raise ValueError(f"`repeat` is a count (0 or more; 0 leaves the entry out), got {v}")
    if v > MAX_REPEAT:
        raise ValueError(f"`repeat` must be between 1 and {MAX_REPEAT}, got {v}")
    return v


def _condition(v: Any) -> Any:
    if isinstance(v, bool) or _is_ref(v):
        return v
    raise ValueError(f"`if` takes true, false or an expression `$(...)`, got {v!r}")


def _sources(v: Any) -> Any:
    if isinstance(v, str):
        return (v,)
    if isinstance(v, (list, tuple)) and v and all(isinstance(x, str) for x in v):
        return tuple(v)
    if isinstance(v, int) or (isinstance(v, (list, tuple)) and any(isinstance(x, int) for x in v)):
        raise ValueError(f"`from` names ids, not positions, got {v!r}; give the entries it "
                         f"reads an `id:`")
    raise ValueError(f"`from` names an id, `input`, or a list of them, got {v!r}")


class Entry(Frozen):
    """One layer entry as written. `kind` is a layer kind, a block, or `parallel`."""

    kind: str                               # `$act` inside a block: named by a parameter
    args: Any = None
    id: Id | None = None
    from_: Annotated[tuple[str, ...] | None, BeforeValidator(_sources)] = Field(None, alias="from")
    repeat: Annotated[int | str | None, BeforeValidator(_repeat)] = None
    if_: Annotated[bool | str | None, BeforeValidator(_condition)] = Field(None, alias="if")
    init: InitScheme | None = None
    index: int = 0                          # position in its list: its name when it has no id
    loc: Location | None = None             # where the entry starts
    kind_loc: Location | None = None        # where the kind is written
    raw: Any = Field(None, exclude=True)    # the YAML node, for locating argument errors


class Parallel(Frozen):
    """The arguments of a `parallel` entry, its branches already parsed."""

    merge: Literal[merge_kinds()] = DEFAULT_MERGE     # as the kinds registered at import
    dim: int = 1
    branches: tuple[tuple[Entry, ...], ...]


class BlockDef(Frozen):
    """A block: `params` maps each parameter to its default (None = required), `choices` the
    declared ones to their allowed values, `inputs` names its inputs (empty: one input)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    choices: dict[str, tuple] = Field(default_factory=dict)
    param_docs: dict[str, str] = Field(default_factory=dict)
    inputs: tuple[str, ...] = ()
    layers: tuple[Entry, ...]
    doc: str = ""
    loc: Location | None = None

    @property
    def arity(self) -> int:
        """How many inputs a use of the block takes (`from:` entries)."""
        return len(self.inputs) or 1

    def written_params(self) -> dict[str, Any]:
        """`params:` as it is written: the declaration form for a parameter with choices or a
        doc, `{default: ..., choices: [...]}`, the plain default otherwise."""
        out = {}
        for name, default in self.params.items():
            extra = {"choices": list(self.choices[name])} if name in self.choices else {}
            if name in self.param_docs:
                extra["doc"] = self.param_docs[name]
            out[name] = {"default": default, **extra} if extra else default
        return out


class Spec(Frozen):
    """A validated spec. `train` stays raw here: the train schema is built when training."""

    name: str
    inputs: dict[str, InputSpec]
    blocks: dict[str, BlockDef] = Field(default_factory=dict)
    layers: tuple[Entry, ...]
    outputs: tuple[str, ...] | None = None
    init: InitScheme = "auto"
    train: Any = None
    path: str | None = None
    # the spec-level params in effect (`params:` < the variant < `--set`: lang/overrides.py),
    # the declared variants, the variant chosen and the `--set` values given
    params: dict[str, Any] = Field(default_factory=dict)
    variants: dict[str, Any] = Field(default_factory=dict)
    variant: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict)
    source: str | None = Field(None, exclude=True, repr=False)   # the YAML text, for run dirs
    raw: Any = Field(None, exclude=True, repr=False)
    # a spec of several networks (`networks:`): each one a Spec of its own, by name; the
    # spec itself then has no inputs and no layers (lang/networks.py)
    networks: dict[str, Spec] | None = None

    @property
    def single_input(self) -> bool:
        return list(self.inputs) == ["input"]

    def network(self, name: str | None = None) -> Spec:
        """The network `name` of a spec of several (`networks:`); a one-network spec is its
        own network (`name` None or its name). Raises NetworkChoiceError (a ValueError) that
        lists the names."""
        if self.networks is None:
            if name is None or name == self.name:
                return self
            raise NetworkChoiceError(f"{self.path or self.name} holds one network (no "
                                     f"`networks:`); leave out the network name {name!r}",
                                     [self.name])
        names = list(self.networks)
        if name is None:
            raise NetworkChoiceError(f"{self.path or self.name} holds {len(names)} networks "
                                     f"({', '.join(names)}): say which one", names)
        if name not in self.networks:
            raise NetworkChoiceError(f"{self.path or self.name} has no network {name!r} "
                                     f"(networks: {', '.join(names)})", names)
        return self.networks[name]


class NetworkChoiceError(ValueError):
    """A network name that a spec of several networks does not hold, or none where one is
    needed: a misuse of the command or call (the CLI exits 2), not a mistake in the spec."""

    def __init__(self, message: str, names: list[str]):
        super().__init__(message)
        self.names = names


def _model_name(v: Any) -> Any:
    """A spec's `name` names its run directory and files: one path component, printable."""
    if not isinstance(v, str):
        return v                # the type is pydantic's to refuse
    if not v.strip() or v in (".", "..") or any(c in v for c in "/\\") \
            or not v.isprintable() or len(v.encode("utf-8")) > 200:
        raise ValueError(f"`name` becomes a folder name: a short printable name without `/`, "
                         f"got {v[:60]!r}{'…' if len(v) > 60 else ''}")
    return v


class TopLevel(Frozen):
    """The top-level keys of a spec file, before entries are parsed."""

    name: Annotated[str | None, BeforeValidator(_model_name)] = None
    input: Any = None
    inputs: dict[str, Any] | None = None
    blocks: dict[str, Any] | None = None
    layers: list[Any] | None = None
    outputs: Annotated[tuple[str, ...] | None, BeforeValidator(
        lambda v: (v,) if isinstance(v, str) else v)] = None
    include: Annotated[tuple[str, ...], BeforeValidator(
        lambda v: () if v is None else (v,) if isinstance(v, str) else v)] = ()
    init: InitScheme = "auto"
    train: dict[str, Any] | None = None
    params: dict[str, Any] | None = None        # checked by lang/overrides.py
    variants: dict[str, Any] | None = None
    description: str | None = None
    networks: dict[str, Any] | None = None      # read by lang/networks.py
