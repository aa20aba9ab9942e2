"""The `train:` section of a spec: a pydantic schema, validated against the located YAML so every
mistake is reported at its `file:line:col`. Built only when training (`netspec check` never
imports this module).

    cfg = resolve(spec, epochs=3, lr=0.01)      # overrides win over the section
    cfg = complete(cfg, data)                   # fill task-dependent defaults (loss, metrics)
    cfg.to_json()                               # what train.json holds; `resolve` reads it back

`data`, `batch_size`, `epochs`, `optimizer`, `schedule`, `loss`, `metrics`, `augment`,
`clip_grad_norm`, `clip_grad_value`, `l1`, `early_stopping`, `monitor`, `seed`, `device`, `amp`,
`output`, `init_from`, `freeze`, `checkpoint_every`, `threads`, `name`, `out`: see the fields.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, ConfigDict, PrivateAttr, model_validator

from netspec.errors import Location, SpecError
from netspec.kinds.base import Bool, Float, Int
from netspec.lang import validation
from netspec.lang.yaml_loader import LDict, LList
from netspec.training.registry import Args, Choice

SOURCES = ("name", "images", "csv", "npz", "idx")


class Frozen(Args):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True,
                              arbitrary_types_allowed=True)


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


class DataConfig(Frozen):
    """Where the data comes from (exactly one of `name`, `images`, `csv`, `npz`, `idx`), how it
    is split (fractions `val`/`test`, or `folds` for k-fold cross-validation, decided by
    `split_seed` alone so the split stays fixed across training seeds) and shaped."""

    name: str | None = None
    images: str | None = None
    csv: str | None = None
    npz: str | None = None
    idx: str | None = None
    target: str | int | None = None          # csv: the target column (name or index)
    task: Literal["classification", "regression"] | None = None
    val: Fraction = 0.1
    test: Fraction = 0.2
    folds: Int | None = None
    split_seed: Int = 0
    shuffle: Bool | None = None              # shuffle before splitting (sine: no, in time order)
    normalize: Bool | None = None            # per channel / feature, training split statistics
    size: PositiveInt | None = None          # digits / images: resize to size x size
    samples: PositiveInt | None = None       # synthetic sets: how many samples
    noise: Float | None = None               # synthetic sets: noise level
    features: PositiveInt | None = None      # blobs / regression: features per sample
    classes: PositiveInt | None = None       # blobs: number of clusters
    seq: PositiveInt | None = None           # sine: window length

    @model_validator(mode="after")
    def _one_source(self) -> "DataConfig":
        given = [s for s in SOURCES if getattr(self, s) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one data source: `name` (a built-in set) or one of "
                             "`images`, `csv`, `npz`, `idx`" +
                             (f"; got {', '.join(given)}" if given else ""))
        if self.val + self.test >= 1:
            raise ValueError(f"`val` + `test` must leave data to train on, got "
                             f"{self.val} + {self.test}")
        if self.folds is not None and self.folds < 2:
            raise ValueError(f"`folds` is 2 or more, got {self.folds}")
        return self

    @property
    def source(self) -> str:
        return next(s for s in SOURCES if getattr(self, s) is not None)


class EarlyStopping(Frozen):
    monitor: str = "val_loss"
    patience: PositiveInt = 5
    mode: Literal["auto", "min", "max"] = "auto"
    min_delta: Float = 0.0


def _early(v: Any) -> Any:
    if v is True:
        return {}
    if isinstance(v, int) and not isinstance(v, bool):
        return {"patience": v}
    return v


def _names(v: Any) -> Any:
    """`freeze: stem`, `freeze: [stem, 3]`: layer names (an entry without id is its position)."""
    items = v if isinstance(v, list) else [v]
    return [str(x) if isinstance(x, int) and not isinstance(x, bool) else x for x in items]


class TrainConfig(Frozen):
    data: DataConfig
    batch_size: PositiveInt = 64
    epochs: PositiveInt = 10
    optimizer: Any = "adam"
    schedule: Any = None
    loss: Any = None                 # default: cross_entropy (classification), mse (regression)
    metrics: Any = None              # default: accuracy / mae, r2
    augment: Any = ()
    clip_grad_norm: PositiveFloat | None = None
    clip_grad_value: PositiveFloat | None = None
    l1: Float = 0.0                  # L1 penalty on weights (not biases), added to the loss
    early_stopping: Annotated[EarlyStopping | None, BeforeValidator(_early)] = None
    monitor: str | None = None       # picks `best`; default: early stopping's, else val_loss
    seed: Int = 0
    device: str = "auto"
    amp: Bool | None = None          # mixed precision; default: on for CUDA
    output: str | None = None        # with several outputs: the one the loss uses
    init_from: str | None = None     # a run directory whose best weights start this run
    freeze: Annotated[tuple[str, ...], BeforeValidator(_names)] = ()
    checkpoint_every: PositiveInt | None = None   # also save `last` every N steps
    threads: PositiveInt | None = None   # torch.set_num_threads; default: the cores not busy
    name: str | None = None          # run name: runs/<name>/<n>; default: the spec's name
    out: str = "runs"
    _raw: Any = PrivateAttr(None)    # the located section, for messages found later

    @model_validator(mode="before")
    @classmethod
    def _data_short_form(cls, v: Any) -> Any:
        if isinstance(v, dict) and isinstance(v.get("data"), str):
            v = dict(v)
            v["data"] = {"name": v["data"]}
        return v

    def to_json(self) -> dict:
        """The resolved section as plain JSON data; `resolve` accepts it back."""
        out = {}
        for key in type(self).model_fields:
            value = getattr(self, key)
            if isinstance(value, Choice):
                value = value.to_json()
            elif isinstance(value, tuple) and value and isinstance(value[0], Choice):
                value = [c.to_json() for c in value]
            elif hasattr(value, "model_dump"):
                value = value.model_dump(mode="json", exclude_none=True)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    @property
    def lr(self) -> float:
        return self.optimizer.args.lr

    def where(self, *path: Any) -> Location | None:
        """Where `path` (keys and indices) is written in the train section, if it is."""
        from netspec.lang.yaml_loader import locate

        raw = self._raw
        return locate(raw, path) if isinstance(raw, (LDict, LList)) else None


def resolve(spec, **overrides: Any) -> TrainConfig:
    """The spec's train section, overrides applied, validated; raises a located SpecError."""
    raw = spec.train
    if raw is None and "train" not in overrides:
        where = spec.raw.loc if spec.raw is not None else Location(spec.path or "<spec>", 1, 1)
        raise SpecError("the spec has no `train:` section", where,
                        hint="add one, e.g. `train: {data: digits, epochs: 10}`")
    if "train" in overrides:
        raw = overrides.pop("train")
    if not isinstance(raw, dict):
        loc = spec.raw.value_locs.get("train") if isinstance(spec.raw, LDict) else None
        raise SpecError("`train:` is a mapping of training settings", loc,
                        hint="e.g. `train: {data: digits, epochs: 10}`")
    raw = _apply_overrides(raw, {k: v for k, v in overrides.items() if v is not None})
    base = os.path.dirname(os.path.abspath(spec.path)) if spec.path else os.getcwd()
    cfg = validation.validate(TrainConfig, raw, what="train: ")
    cfg = _parse_choices(cfg, raw, base)
    cfg._raw = raw
    return cfg


def _parse_choices(cfg: TrainConfig, raw: dict, base: str) -> TrainConfig:
    from netspec.training.augment import AUGMENTATIONS
    from netspec.training.data import DATASETS
    from netspec.training.losses import LOSSES
    from netspec.training.metrics import METRICS
    from netspec.training.optim import OPTIMIZERS, SCHEDULES

    update: dict[str, Any] = {"optimizer": OPTIMIZERS.parse(cfg.optimizer, raw, "optimizer")}
    if cfg.schedule is not None:
        update["schedule"] = SCHEDULES.parse(cfg.schedule, raw, "schedule")
    if cfg.loss is not None:
        update["loss"] = LOSSES.parse(cfg.loss, raw, "loss")
    if cfg.metrics is not None:
        update["metrics"] = METRICS.parse_list(cfg.metrics, raw, "metrics")
    update["augment"] = AUGMENTATIONS.parse_list(cfg.augment or None, raw, "augment")
    data = cfg.data
    data_raw = raw.get("data")
    if data.name is not None and data.name not in DATASETS:
        DATASETS.choose(data.name, {}, _loc(data_raw, "name", raw, "data"), None, None)
    paths = {s: os.path.normpath(os.path.join(base, os.path.expanduser(getattr(data, s))))
             for s in SOURCES[1:] if getattr(data, s) is not None}
    update["data"] = data.model_copy(update=paths)
    if cfg.init_from is not None:
        update["init_from"] = os.path.normpath(os.path.join(base, cfg.init_from))
    if cfg.amp and not cfg.device.startswith(("cuda", "auto")):
        raise SpecError("`amp` (mixed precision) needs a CUDA device", _loc(raw, "amp"))
    if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise SpecError(f"`device` is auto, cpu, cuda or cuda:N, got {cfg.device!r}",
                        _loc(raw, "device"))
    return cfg.model_copy(update=update)


def complete(cfg: TrainConfig, task: str, has_val: bool = True) -> TrainConfig:
    """Task-dependent defaults filled in: the loss (cross_entropy / mse), the metrics
    (accuracy / mae, r2) and the monitored quantity (val_loss, or train_loss without a
    validation split)."""
    from netspec.training.losses import LOSSES
    from netspec.training.metrics import METRICS

    update: dict[str, Any] = {}
    loss = cfg.loss or LOSSES.choose("cross_entropy" if task == "classification" else "mse",
                                     {}, None, None, None)
    metrics = cfg.metrics
    if metrics is None:
        names = ["accuracy"] if task == "classification" else ["mae", "r2"]
        metrics = tuple(METRICS.choose(n, {}, None, None, None) for n in names)
    update.update(loss=loss, metrics=metrics)
    if cfg.monitor is None:
        update["monitor"] = cfg.early_stopping.monitor if cfg.early_stopping \
            else "val_loss" if has_val else "train_loss"
    return cfg.model_copy(update=update)


def _apply_overrides(raw: dict, overrides: dict) -> dict:
    """A copy of the located section with `overrides` in place. An overridden value has no
    location in the YAML, so messages about it name the flag instead."""
    out = LDict(raw)
    out.loc = getattr(raw, "loc", None)
    out.key_locs = dict(getattr(raw, "key_locs", {}))
    out.value_locs = dict(getattr(raw, "value_locs", {}))
    for key, value in overrides.items():
        if key == "lr":
            out["optimizer"] = _with_lr(out.get("optimizer", "adam"), value)
            continue
        out[key] = value
        out.value_locs[key] = None          # not written in the YAML: messages stay unlocated
    return out


def _with_lr(optimizer: Any, lr: float) -> Any:
    if isinstance(optimizer, str):
        return {optimizer: {"lr": lr}}
    if isinstance(optimizer, dict) and len(optimizer) == 1:
        (name, args), = optimizer.items()
        new = LDict(args if isinstance(args, dict) else {})
        if isinstance(args, LDict):
            new.loc, new.key_locs, new.value_locs = args.loc, dict(args.key_locs), \
                dict(args.value_locs)
        new["lr"] = lr
        new.value_locs["lr"] = None
        wrapped = LDict({name: new})
        if isinstance(optimizer, LDict):
            wrapped.loc, wrapped.key_locs, wrapped.value_locs = optimizer.loc, \
                dict(optimizer.key_locs), dict(optimizer.value_locs)
        return wrapped
    return optimizer       # malformed: validation reports it where it is written


def _loc(node: Any, key: Any, parent: Any = None, parent_key: Any = None) -> Location | None:
    if isinstance(node, LDict) and key in node:
        return node.value_locs.get(key)
    if isinstance(parent, LDict):
        return parent.value_locs.get(parent_key, parent.loc)
    return getattr(node, "loc", None)


__all__ = ["TrainConfig", "DataConfig", "EarlyStopping", "resolve", "complete"]
