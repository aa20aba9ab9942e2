"""The `train:` section of a spec: a pydantic schema, validated against the located YAML so every
mistake is reported at its `file:line:col`. Built only when training (`netspec check` never
imports this module).

    cfg = resolve(spec, epochs=3, lr=0.01)      # overrides win over the section
    cfg = task.complete(cfg)                    # the task's defaults (loss, metrics, monitor)
    cfg.to_json()                               # what train.json holds; `resolve` reads it back

`data` (its common keys: training.data.base.DataConfig; the source's own: its argument model),
`task`, `batch_size`, `epochs`, `optimizer`, `schedule`, `loss`, `metrics`, `augment`,
`clip_grad_norm`, `clip_grad_value`, `l1`, `early_stopping`, `monitor`, `seed`, `device`, `amp`,
`output`, `init_from`, `init`, `freeze`, `checkpoint_every`, `threads`, `name`, `out`: see the fields.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, PrivateAttr, model_validator

from netspec.errors import Location, SpecError
from netspec.kinds.argtypes import Bool, Float, Frozen, Int
from netspec.lang import validation
from netspec.lang.located import LDict, LList
from netspec.safe_write import component_problem
from netspec.training.data.base import DataConfig, PositiveFloat, PositiveInt
from netspec.training.data.load import source_args
from netspec.training.registry import Choice


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


MAX_THREADS = 1024               # torch aborts the process on absurd thread counts


def _threads(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool) and v > MAX_THREADS:
        raise ValueError(f"must be at most {MAX_THREADS}, got {v}")
    return v


def _run_name(v: Any) -> Any:
    problem = component_problem(v) if v is not None else None
    if problem:
        raise ValueError(problem)
    return v


class WeightsInit(Frozen):
    """`init: {from: RUN or FILE.safetensors, map: {old.: new.}, strict: false}`: weights that
    start the run (training.weights); `init: PATH` is the short form."""

    from_: str = Field(alias="from")
    map: dict[str, str] = Field(default_factory=dict)
    strict: Bool = False


def _weights_init(v: Any) -> Any:
    return {"from": v} if isinstance(v, str) else v


class TrainConfig(Frozen):
    data: DataConfig
    task: Any = None                 # default: from the loss's targets, else from the data
    batch_size: PositiveInt = 64
    epochs: PositiveInt = 10
    optimizer: Any = "adam"
    optimizers: dict[str, Any] | None = None   # per network of `networks:` (else `optimizer`)
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
    init: Annotated[WeightsInit | None, BeforeValidator(_weights_init)] = None
    # ^ the general form of init_from: a run or .safetensors file, renamed by `map`
    freeze: Annotated[tuple[str, ...], BeforeValidator(_names)] = ()
    checkpoint_every: PositiveInt | None = None   # also save `last` every N steps
    threads: Annotated[PositiveInt | None, BeforeValidator(_threads)] = None
    # ^ torch.set_num_threads; default: the cores not busy
    name: Annotated[str | None, BeforeValidator(_run_name)] = None
    # ^ run name: runs/<name>/<n> (one path component); default: the spec's name
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
            elif isinstance(value, dict) and all(isinstance(c, Choice) for c in value.values()):
                value = {name: c.to_json() for name, c in value.items()}
            elif hasattr(value, "model_dump"):
                value = value.model_dump(mode="json", exclude_none=True)
            elif isinstance(value, tuple):
                value = list(value)
            out[key] = value
        return out

    @property
    def lr(self) -> float:
        return self.optimizer.args.lr

    def optimizer_for(self, network: str) -> Choice:
        """The optimizer of network `network`: its entry of `optimizers:`, else `optimizer`."""
        return (self.optimizers or {}).get(network, self.optimizer)

    def given(self, key: str) -> bool:
        """Whether the user set `key` of the section (in the YAML or by an override)."""
        return isinstance(self._raw, dict) and key in self._raw

    def where(self, *path: Any) -> Location | None:
        """Where `path` (keys and indices) is written in the train section, if it is."""
        from netspec.lang.located import locate

        raw = self._raw
        return locate(raw, path) if isinstance(raw, (LDict, LList)) else None


def resolve(spec, *, static: bool = False, **overrides: Any) -> TrainConfig:
    """The spec's train section, overrides applied, validated; raises a located SpecError.
    `static` (what `netspec check` asks): every registry but the metrics and augmentations,
    whose modules import torch; those two stay as written."""
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
    if "lr" in raw:
        # `lr:` in the section (`--set train.lr=0.01`, a variant's `train.lr`) means what the
        # --lr flag does; the flag wins
        if overrides.get("lr") is None:
            overrides["lr"] = raw["lr"]
        raw = _apply_overrides(raw, {})
        del raw["lr"]
    raw = _apply_overrides(raw, {k: v for k, v in overrides.items() if v is not None})
    base = os.path.dirname(os.path.abspath(spec.path)) if spec.path else os.getcwd()
    cfg = validation.validate(TrainConfig, raw, what="train: ")
    cfg = _parse_choices(cfg, raw, base, static)
    cfg._raw = raw
    source_args(cfg.data, cfg.where)        # the source's own options, before anything loads
    return cfg


def _parse_choices(cfg: TrainConfig, raw: dict, base: str, static: bool = False) -> TrainConfig:
    from netspec.training.data import DATASETS
    from netspec.training.losses import LOSSES
    from netspec.training.optim import OPTIMIZERS, SCHEDULES
    from netspec.training.tasks import TASKS

    update: dict[str, Any] = {"optimizer": OPTIMIZERS.parse(cfg.optimizer, raw, "optimizer")}
    if cfg.task is not None:
        update["task"] = TASKS.parse(cfg.task, raw, "task")
    if cfg.optimizers is not None:
        per = raw["optimizers"]
        update["optimizers"] = {name: OPTIMIZERS.parse(per[name], per, name,
                                                       f"`optimizers.{name}`") for name in per}
    if cfg.schedule is not None:
        update["schedule"] = SCHEDULES.parse(cfg.schedule, raw, "schedule")
    if cfg.loss is not None:
        update["loss"] = LOSSES.parse(cfg.loss, raw, "loss")
    if not static:
        from netspec.training.augment import AUGMENTATIONS
        from netspec.training.metrics import METRICS

        if cfg.metrics is not None:
            update["metrics"] = METRICS.parse_list(cfg.metrics, raw, "metrics")
        update["augment"] = AUGMENTATIONS.parse_list(cfg.augment or None, raw, "augment")
    data = cfg.data
    data_raw = raw.get("data")
    if data.name is not None and data.name not in DATASETS:
        DATASETS.choose(data.name, {}, _loc(data_raw, "name", raw, "data"), None, None)
    key = data.source_key
    if DATASETS[data.source].meta.get("file") and isinstance(data.options[key], str):
        path = os.path.normpath(os.path.join(base, os.path.expanduser(data.options[key])))
        update["data"] = data.model_copy(update={key: path})
    if cfg.init_from is not None:
        update["init_from"] = os.path.normpath(os.path.join(base, cfg.init_from))
    if cfg.init is not None:
        given = os.path.normpath(os.path.join(base, os.path.expanduser(cfg.init.from_)))
        update["init"] = cfg.init.model_copy(update={"from_": given})
    if cfg.amp and not cfg.device.startswith(("cuda", "auto")):
        raise SpecError("`amp` (mixed precision) needs a CUDA device", _loc(raw, "amp"))
    if not (cfg.device in ("auto", "cpu", "cuda") or cfg.device.startswith("cuda:")):
        raise SpecError(f"`device` is auto, cpu, cuda or cuda:N, got {cfg.device!r}",
                        _loc(raw, "device"))
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


__all__ = ["TrainConfig", "DataConfig", "EarlyStopping", "resolve"]
