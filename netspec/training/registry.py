"""One small registry type for every training concept: datasets, optimizers, schedules, losses,
metrics, augmentations. Each entry is a name, a frozen pydantic argument model and a function;
a YAML value `name`, `{name: scalar}` (the entry's main argument) or `{name: {args}}` becomes a
:class:`Choice`, with every mistake reported as a located SpecError.

    OPTIMIZERS = Registry("optimizer", requires=("typical_lr",))   # what each entry declares

    @OPTIMIZERS.add("sgd", SGDArgs, main="lr", typical_lr=(1e-4, 1.0))
    def sgd(params, a): ...

    OPTIMIZERS.parse({"sgd": {"lr": 0.1}}, parent, "optimizer")   # -> Choice("sgd", SGDArgs(...))

An entry whose function needs what `check` must not import (torch, numpy, PIL) is declared
instead, in a torch-free module: its function is named "module:function" and imported on its
first call, so `check` validates the entry's arguments without loading any of it:

    AUGMENTATIONS = Registry("augmentation", implementations="netspec.training.augment")
    AUGMENTATIONS.declare("hflip", FlipArgs, main="p", doc="...", image=True)  # augment:hflip
    DATASETS.declare("csv", CsvArgs, doc="...", loader="netspec.training.data.csvfile:table")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from netspec.errors import Location, SpecError, did_you_mean
from netspec.kinds.argtypes import Args, NoArgs
from netspec.lang import validation
from netspec.lang.located import LDict, LList, key_location


@dataclass(frozen=True)
class Entry:
    """One registered thing. `meta` holds what the concept needs to know about it (a loss's
    expected output and target encoding, a metric's needs and direction, an augmentation's
    needs, an optimizer's typical learning rates)."""

    name: str
    args: type[Args]
    fn: Callable               # a declared entry's: a LazyFunction
    main: str | None = None
    doc: str = ""
    meta: dict = field(default_factory=dict)


class LazyFunction:
    """A declared entry's function, "module:function", imported on its first call (or by
    `resolve`): what it needs to run stays out of what validates its arguments."""

    def __init__(self, target: str):
        module, _, name = target.partition(":")
        if not module or not name:
            raise RuntimeError(f"a loader is \"module:function\", got {target!r}")
        self.target = target
        self._fn: Callable | None = None

    def resolve(self) -> Callable:
        """The function itself; a target that does not exist is our bug, said as such."""
        if self._fn is None:
            module, name = self.target.split(":")
            fn = getattr(importlib.import_module(module), name, None)
            if not callable(fn):
                raise RuntimeError(f"{self.target} names no function")
            self._fn = fn
        return self._fn

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.resolve()(*args, **kwargs)

    def __repr__(self) -> str:
        return f"LazyFunction({self.target!r})"


@dataclass(frozen=True)
class Choice:
    """A registered thing picked in a spec, with its validated arguments."""

    entry: Entry
    args: Args

    @property
    def name(self) -> str:
        return self.entry.name

    def to_json(self) -> dict:
        return {self.name: self.args.model_dump(mode="json", by_alias=True)}

    def __getattr__(self, key: str) -> Any:
        # `choice.lr` reads the argument; meta through `choice.entry.meta`
        if key.startswith("__"):
            raise AttributeError(key)
        return getattr(self.args, key)


class Registry:
    """Entries of one concept by name. `requires` names the meta keys every entry must declare
    (a loss its `expects` and `target`), so an incomplete entry fails where it is registered;
    `implementations` is the module where `declare` finds an entry's function by default."""

    def __init__(self, concept: str, requires: tuple[str, ...] = (),
                 implementations: str | None = None):
        self.concept = concept
        self.requires = requires
        self.implementations = implementations
        self.entries: dict[str, Entry] = {}

    def add(self, name: str, args: type[Args] = NoArgs, main: str | None = None,
            **meta: Any) -> Callable[[Callable], Callable]:
        """Decorator registering `fn` under `name`; a duplicate name is our bug."""

        def wrap(fn: Callable) -> Callable:
            if name in self.entries:
                raise RuntimeError(f"{self.concept} {name!r} registered twice")
            lacking = [k for k in self.requires if k not in meta]
            if lacking:
                raise RuntimeError(f"{self.concept} {name!r} does not declare "
                                   f"{', '.join(lacking)}")
            self.entries[name] = Entry(name, args, fn, main, (fn.__doc__ or "").strip(), meta)
            return fn

        return wrap

    def declare(self, name: str, args: type[Args] = NoArgs, main: str | None = None, *,
                doc: str, loader: str | None = None, **meta: Any) -> None:
        """Register `name` with its function named, not imported: `loader` "module:function",
        by default the function `name` of the registry's `implementations` module."""
        if loader is None:
            if self.implementations is None:
                raise RuntimeError(f"{self.concept} {name!r} is declared without a loader")
            loader = f"{self.implementations}:{name}"
        self.add(name, args, main, **meta)(LazyFunction(loader))
        self.entries[name] = replace(self.entries[name], doc=doc.strip())

    def remove(self, name: str) -> None:
        """Take an entry out again (tests that register their own)."""
        del self.entries[name]

    def __getitem__(self, name: str) -> Entry:
        return self.entries[name]

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def names(self) -> list[str]:
        return sorted(self.entries)

    def parse(self, raw: Any, parent: Any, key: Any, where: str | None = None) -> Choice:
        """`raw` (found at parent[key]) as a Choice. `where` names the value in messages."""
        where = where or f"`{self.concept}`"
        loc = _value_loc(parent, key)
        if isinstance(raw, str):
            return self.choose(raw, {}, loc, loc, None)
        if isinstance(raw, dict) and len(raw) == 1:
            (name, args), = raw.items()
            name_loc = key_location(raw, name) if isinstance(raw, LDict) else loc
            return self.choose(str(name), args, name_loc, _value_loc(raw, name) or loc, raw)
        known = ", ".join(self.names())
        raise SpecError(f"{where} names one {self.concept}, as `name` or `{{name: {{args}}}}`, "
                        f"got {_describe(raw)}", loc, hint=f"known: {known}")

    def choose(self, name: str, args: Any, name_loc: Location | None,
               args_loc: Location | None, parent: Any) -> Choice:
        if name not in self.entries:
            hint = did_you_mean(name, self.entries) or f"known: {', '.join(self.names())}"
            raise SpecError(f"unknown {self.concept} `{name}`", name_loc, hint=hint)
        entry = self.entries[name]
        if args is None:
            args = {}
        if not isinstance(args, dict):
            if entry.main is None:
                raise SpecError(f"{self.concept} `{name}` takes its arguments as a mapping, "
                                f"got {_describe(args)}", args_loc,
                                hint=f"write `{name}: {{...}}`" + _fields(entry))
            args = {entry.main: args}
            root = LDict(args)
            root.value_locs = {entry.main: args_loc}
            root.loc = args_loc
        else:
            root = args
        parsed = validation.validate(entry.args, root, what=f"{self.concept} {name}: ",
                                     fallback=args_loc, data=dict(args))
        return Choice(entry, parsed)

    def parse_list(self, raw: Any, parent: Any, key: Any) -> tuple[Choice, ...]:
        """A list of choices (`metrics: [accuracy, {top_k: 5}]`); a single one is a list of one."""
        if raw is None:
            return ()
        if not isinstance(raw, list):
            return (self.parse(raw, parent, key),)
        return tuple(self.parse(item, raw, i) for i, item in enumerate(raw))


def _value_loc(parent: Any, key: Any) -> Location | None:
    if isinstance(parent, LDict):
        return parent.value_locs.get(key, parent.loc)
    if isinstance(parent, LList) and isinstance(key, int) and 0 <= key < len(parent.item_locs):
        return parent.item_locs[key]
    return getattr(parent, "loc", None)


def _fields(entry: Entry) -> str:
    names = [f.alias or n for n, f in entry.args.model_fields.items()]
    return f" (arguments: {', '.join(names)})" if names else ""


def _describe(value: Any) -> str:
    if isinstance(value, dict):
        return f"a mapping with {len(value)} keys" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)
