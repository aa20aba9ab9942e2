"""`--set NAME=VALUE` as data: a `Setting` is a dotted name and a YAML value, read from the
text a command line gives, or from an API mapping {name: value}.

    parse_setting("depth=34")          # Setting(path=("depth",), value=34)
    parse_setting("train.lr=1e-3")     # Setting(path=("train", "lr"), value=0.001)

What a setting may set, and whether its value suits, is `netspec.lang.overrides`'.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netspec.errors import Location, SpecError
from netspec.lang.yaml_loader import load_yaml


class OverrideError(ValueError):
    """A variant or `--set` the spec does not declare, or a value that does not suit its
    param: the caller's mistake (a CLI prints it as a usage error, exit 2)."""

    def __init__(self, message: str, hint: str | None = None, option: str = "--set"):
        super().__init__(message + (f"; {hint}" if hint else ""))
        self.message, self.hint, self.option = message, hint, option


class CommandLine(Location):
    """Where a `--set` value was written: the flag itself, which has no line or column."""

    __slots__ = ()

    def __str__(self) -> str:
        return self.file


@dataclass(frozen=True)
class Setting:
    """One `--set NAME=VALUE`: `path` is NAME split at dots, `value` the parsed YAML value."""

    path: tuple[str, ...]
    value: Any
    text: str

    @property
    def name(self) -> str:
        return ".".join(self.path)


def parse_setting(text: str) -> Setting:
    """`NAME=VALUE` -> a Setting; VALUE is read as YAML 1.2 (`34`, `0.01`, `relu`, `[3, 64]`)."""
    name, eq, raw = str(text).partition("=")
    name = name.strip()
    if not eq or not name:
        raise OverrideError(f"{text!r} is not NAME=VALUE", "write e.g. `--set depth=34` or "
                            "`--set train.lr=0.01`")
    path = tuple(name.split("."))
    if not all(p.isidentifier() for p in path):
        raise OverrideError(f"{name!r} in {text!r} is not a name (or dotted names)",
                            "param names are like `depth`; train keys like `train.lr`")
    if not raw.strip():
        raise OverrideError(f"{text!r} gives no value after `=`", f"write e.g. `{name}=34`")
    try:
        value = plain(load_yaml(raw, f"--set {name}"))
    except SpecError as err:
        raise OverrideError(f"the value of {text!r} is not YAML: {err.diagnostics[0].message}",
                            "quote a string with spaces or `:`; a list is `[3, 64, 64]`") from None
    return Setting(path, value, str(text))


def as_settings(values: Mapping[str, Any] | Iterable[str] | None) -> tuple[Setting, ...]:
    """Settings from `--set` strings, or from an API mapping {name: value} (values as is)."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = (values,)
    if isinstance(values, Mapping):
        # the path is checked as a `--set` would be; the value is taken as given
        return tuple(Setting(parse_setting(f"{name}=0").path, value, f"{name}={value!r}")
                     for name, value in values.items())
    return tuple(v if isinstance(v, Setting) else parse_setting(v) for v in values)


def plain(value: Any) -> Any:
    """Located YAML values (LDict, LList) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value
