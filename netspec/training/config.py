"""The `train:` section of a spec: a pydantic schema, validated against the located YAML so every
mistake is reported at its `file:line:col`. Built only when training (`netspec check` never
imports this module).

    cfg = resolve(spec, epochs=3, lr=0.01)      # overrides win over the section
    cfg = task.complete(cfg)                    # the task's defaults (loss, metrics, monitor)
    cfg.to_json()                               # what train.json holds; `resolve` reads it back

`data` (its common keys: training.data.section.DataConfig; the source's own: its argument model),
`task`, `batch_size`, `global_batch`, `epochs`, `optimizer`, `schedule`, `loss`, `metrics`,
`augment`, `clip_grad_norm`, `clip_grad_value`, `l1`, `early_stopping`, `monitor`, `seed`,
`device`, `amp`, `output`, `init_from`, `init`, `freeze`, `checkpoint_every`, `threads`,
`name`, `out`: see the fields.
"""

from __future__ import annotations

import os
from typing import Annotated, Any, Literal, Optional, Union

from pydantic import BeforeValidator, Discriminator, Field, PrivateAttr, Tag, model_validator

from netspec.errors import Collector, Location, SpecError
from netspec.kinds.argtypes import Bool, Float, Frozen, Int
from netspec.lang import validation
from netspec.lang.located import LDict, LList
from netspec.safe_write import component_problem
from netspec.training.data.section import DataConfig, PositiveFloat, PositiveInt, source_args
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
    """`freeze: stem`, `freeze: [stem, 3]`: layer names (an entry without id is its position).
    With several networks a name starts with its network's, as checkpoints name parameters
    (`generator.0`, `"discriminator.*"`): a mapping by network is refused with that form."""
    if isinstance(v, dict):
        names = [f"{net}.{x}" for net, layers in v.items()
                 for x in (layers if isinstance(layers, list) else [layers])]
        raise ValueError("takes a list of names; name each layer with its network's name in "
                         f"front, as checkpoints do: `freeze: [{', '.join(map(str, names[:3]))}]`")
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


INIT_KEYS = ("from", "from_", "map", "strict")


def _init_form(v: Any) -> str:
    """`init: PATH` / `{from, map, strict}`: weights for the whole model; any other mapping
    (`{generator: PATH}`): weights per network of `networks:`."""
    # tags with a `-`: validation drops them from an error's path (`init.generator.map`)
    return "per-network" if isinstance(v, dict) and v and not set(v) & set(INIT_KEYS) \
        else "one-source"


def _inits(v: Any) -> Any:
    if _init_form(v) == "per-network":
        return {name: _weights_init(x) for name, x in v.items()}
    return _weights_init(v)


Inits = Annotated[Union[Annotated[WeightsInit, Tag("one-source")],
                        Annotated[dict[str, WeightsInit], Tag("per-network")]],
                  Discriminator(_init_form)]


class TrainConfig(Frozen):
    data: DataConfig
    task: Any = None                 # default: from the loss's targets, else from the data
    batch_size: PositiveInt = 64     # per process (under torchrun, each of N takes this many)
    global_batch: PositiveInt | None = None   # the batch per step over all processes:
    # each takes global_batch / N (training.distributed.fit_batch); not with batch_size
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
    init: Annotated[Optional[Inits], BeforeValidator(_inits)] = None
    # ^ the general form of init_from: a run or .safetensors file, renamed by `map`;
    # with several networks also {NAME: init} (training.weights)
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
            elif isinstance(value, dict) and value and \
                    all(hasattr(c, "model_dump") for c in value.values()):
                value = {n: c.model_dump(mode="json", exclude_none=True)
                         for n, c in value.items()}
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


def resolve(spec, **overrides: Any) -> TrainConfig:
    """The spec's train section, overrides applied, validated; raises a located SpecError.
    Torch-free (what `netspec check` asks too): a choice's function, where it needs torch, is
    imported when it is first called."""
    raw = spec.train
    if raw is None and "train" not in overrides:
        where = spec.raw.loc if spec.raw is not None else Location(spec.path or "<spec>", 1, 1)
        raise SpecError("the spec has no `train:` section", where,
                        hint="add one, e.g. `train: {data: digits, epochs: 10}`")
    resolved = "train" in overrides      # train.json: batch_size already from global_batch
    if resolved:
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
    given = {k: v for k, v in overrides.items() if v is not None}
    raw = _apply_overrides(raw, given)
    # a flag wins over the section: --global-batch over `batch_size:`, and the other way
    for flag, other in (("global_batch", "batch_size"), ("batch_size", "global_batch")):
        if flag in given and other not in given:
            raw.pop(other, None)
    base = os.path.dirname(os.path.abspath(spec.path)) if spec.path else os.getcwd()
    found = Collector()         # independent mistakes of the section, reported together
    cfg = None
    with found.guard():
        cfg = validation.validate(TrainConfig, raw, what="train: ")
    if cfg is None:             # a key or a type is wrong: the choices are still checked
        _check_choices(raw, found)
        found.raise_if_any()
    cfg._raw = raw              # `cfg.where` locates the source's own options
    cfg = _parse_choices(cfg, raw, base, found)
    cfg._raw = raw
    if not resolved and cfg.global_batch is not None and raw.get("batch_size") is not None:
        raise SpecError("`batch_size` and `global_batch` are both set; one decides the other",
                        _loc(raw, "global_batch"),
                        hint="keep `global_batch` (the batch of one step over all processes: "
                             "each takes global_batch / processes) or `batch_size` (per "
                             "process)")
    return cfg


def _choice_registries() -> dict[str, Any]:
    """The section's keys that name a registry entry (one, or a list for metrics/augment)."""
    from netspec.training.augment_args import AUGMENTATIONS
    from netspec.training.losses import LOSSES
    from netspec.training.metric_args import METRICS
    from netspec.training.optim import OPTIMIZERS, SCHEDULES
    from netspec.training.tasks import TASKS

    return {"optimizer": OPTIMIZERS, "task": TASKS, "schedule": SCHEDULES, "loss": LOSSES,
            "metrics": METRICS, "augment": AUGMENTATIONS}


LISTS = ("metrics", "augment")


def _check_choices(raw: dict, found: Collector) -> None:
    """Each choice of a section that failed validation, checked on its own (an unknown key
    must not hide `optimizer: adma`)."""
    for key, registry in _choice_registries().items():
        if raw.get(key) is not None:
            with found.guard():
                (registry.parse_list if key in LISTS else registry.parse)(raw[key], raw, key)
    data = raw.get("data")
    if isinstance(data, dict):      # the data source and its own options
        from netspec.lang.located import locate
        from netspec.training.data import DATASETS

        with found.guard():
            config = validation.validate(DataConfig, data, what="train: data: ")
            if config.name is not None and config.name not in DATASETS:
                DATASETS.choose(config.name, {}, _loc(data, "name", raw, "data"), None, None)
            source_args(config, lambda *path: locate(raw, path)
                        if isinstance(raw, (LDict, LList)) else None)


def _parse_choices(cfg: TrainConfig, raw: dict, base: str, found: Collector) -> TrainConfig:
    from netspec.training.data import DATASETS

    update: dict[str, Any] = {}
    for key, registry in _choice_registries().items():
        value = getattr(cfg, key)
        if key == "augment":
            value = value or None
        if value is None and key not in ("optimizer", "augment"):
            continue
        with found.guard():         # each choice is independent of the others
            update[key] = (registry.parse_list if key in LISTS else registry.parse)(
                value, raw, key)
    if cfg.optimizers is not None:
        per = raw["optimizers"]
        optimizers = _choice_registries()["optimizer"]
        with found.guard():
            update["optimizers"] = {name: optimizers.parse(per[name], per, name,
                                                           f"`optimizers.{name}`")
                                    for name in per}
    data = cfg.data
    data_raw = raw.get("data")
    with found.guard():
        if data.name is not None and data.name not in DATASETS:
            DATASETS.choose(data.name, {}, _loc(data_raw, "name", raw, "data"), None, None)
        key = data.source_key
        if DATASETS[data.source].meta.get("file") and isinstance(data.options[key], str):
            path = os.path.normpath(os.path.join(base, os.path.expanduser(data.options[key])))
            update["data"] = data.model_copy(update={key: path})
        source_args(data, cfg.where)         # the source's own options, before anything loads
    found.raise_if_any()
    if cfg.init_from is not None:
        update["init_from"] = os.path.normpath(os.path.join(base, cfg.init_from))
    if cfg.init is not None:
        def here(init: WeightsInit) -> WeightsInit:
            path = os.path.normpath(os.path.join(base, os.path.expanduser(init.from_)))
            return init.model_copy(update={"from_": path})

        update["init"] = {n: here(i) for n, i in cfg.init.items()} \
            if isinstance(cfg.init, dict) else here(cfg.init)

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
