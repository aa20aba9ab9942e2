"""The `data:` section without the data: the registry of sources, the keys every source takes
(:class:`DataConfig`) and each source's own options validated (:func:`source_args`). Nothing
here imports numpy, so `netspec check` validates a `train:` section at the cost of pydantic
alone; the arrays (`base`) and the loading (`load`) come in when training does.

A source is one registry entry: its name, its frozen argument model, and its loader, named
"module:function" and imported on its first call (`sources.py` declares every built-in one):

    DATASETS.declare("tiny", TinyArgs, loader="mypackage.tiny:load", doc="Four samples.")
    DATASETS.declare("csv", CsvArgs, loader="netspec.training.data.csvfile:table", doc="...",
                     file=True)

`file=True` marks a file source, selected by its own key (`data: {csv: FILE}`) rather than by
`name`. A function registered directly (`@DATASETS.add("tiny", TinyArgs)`) is a source too.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, model_validator

from netspec.errors import SpecError
from netspec.kinds.argtypes import Bool, Float, Int
from netspec.lang import validation
from netspec.lang.located import LDict
from netspec.training.registry import Args, Registry

DATASETS = Registry("data set")

# the keys every source takes, besides its own (the hint of a misplaced option lists them)
MAX_FOLDS = 100             # each fold is a whole training run: more is a typo
COMMON = ("val", "test", "folds", "split_seed", "shuffle", "normalize")


def _positive(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and v <= 0:
        raise ValueError(f"must be positive, got {v}")
    return v


def _fraction(v: Any) -> Any:
    if isinstance(v, (int, float)) and not isinstance(v, bool) and not 0 <= v < 1:
        raise ValueError(f"is a fraction of the data between 0 and 1, got {v}")
    return v


PositiveInt = Annotated[Int, BeforeValidator(_positive)]
PositiveFloat = Annotated[Float, BeforeValidator(_positive)]
Fraction = Annotated[Float, BeforeValidator(_fraction)]


class DataArgs(Args):
    """Base of a source's own argument model (frozen, unknown keys refused)."""


def file_sources() -> list[str]:
    """The keys that name a file source (`images`, `csv`, `npz`, `idx`, ...)."""
    return [n for n, e in DATASETS.entries.items() if e.meta.get("file")]


class DataConfig(Args):
    """Where the data comes from (exactly one of `name` or a file source's key), how it is split
    (fractions `val`/`test`, or `folds` for k-fold cross-validation, decided by `split_seed`
    alone so the split stays fixed across training seeds) and shaped. The source's own options
    (`size`, `samples`, `target`, ...) stay in `options` for its argument model."""

    model_config = ConfigDict(frozen=True, extra="allow", defer_build=True)

    name: str | None = None
    task: Literal["classification", "regression"] | None = None
    val: Fraction = 0.1
    test: Fraction = 0.2
    folds: Int | None = None
    split_seed: Int = 0
    shuffle: Bool | None = None              # shuffle before splitting (sine: no, in time order)
    normalize: Bool | None = None            # per channel / feature, training split statistics
    normalize_target: Bool = False           # regression: standardise targets for the loss

    @model_validator(mode="after")
    def _one_source(self) -> "DataConfig":
        files = file_sources()
        given = (["name"] if self.name is not None else []) + \
            [s for s in files if self.options.get(s) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one data source: `name` (a built-in set) or one of "
                             f"{', '.join(f'`{s}`' for s in files)}" +
                             (f"; got {', '.join(given)}" if given else ""))
        if self.val + self.test >= 1:
            raise ValueError(f"`val` + `test` must leave data to train on, got "
                             f"{self.val} + {self.test}")
        if self.folds is not None and not 2 <= self.folds <= MAX_FOLDS:
            raise ValueError(f"`folds` is between 2 and {MAX_FOLDS}, got {self.folds}")
        return self

    @property
    def options(self) -> dict:
        """The keys not common to every source: the source's own arguments."""
        return dict(self.model_extra or {})

    @property
    def source(self) -> str:
        """The registered source: the built-in set's name, or the file source's key."""
        if self.name is not None:
            return self.name
        return next(s for s in file_sources() if self.options.get(s) is not None)

    @property
    def source_key(self) -> str:
        """The key of `data:` that selects the source (`name`, `csv`, ...)."""
        return "name" if self.name is not None else self.source


def source_args(cfg: DataConfig, where=lambda *path: None) -> Any:
    """The source's own options validated by its argument model; a key it does not take is
    reported where it is written. `where(*path)` locates keys of the train section."""
    entry = DATASETS[cfg.source]
    options = cfg.options
    fields = entry.args.model_fields
    for key, value in options.items():
        if key not in fields and value is not None:
            takes = [k for k in fields if k != entry.name] or ["no options"]
            raise SpecError(f"`{key}` does not apply to the data set `{entry.name}`",
                            where("data", key),
                            hint=f"{entry.name} takes: {', '.join(takes)} besides "
                                 f"{', '.join(COMMON)}")
    raw = LDict({k: v for k, v in options.items() if v is not None})
    raw.value_locs = {k: where("data", k) for k in raw}
    raw.key_locs = dict(raw.value_locs)
    raw.loc = where("data")
    return validation.validate(entry.args, raw, what=f"data set {entry.name}: ",
                               fallback=where("data"))


__all__ = ["DATASETS", "DataConfig", "DataArgs", "source_args", "COMMON",
           "MAX_FOLDS", "PositiveInt", "PositiveFloat", "Fraction", "file_sources"]
