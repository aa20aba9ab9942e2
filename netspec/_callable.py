"""`netspec.check(spec)` is both a function of the API and the module `netspec/check.py`.

Importing a submodule rebinds the package attribute to the module, so the module itself is made
callable: whichever one `netspec.check` is, calling it does the same thing."""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Callable


def callable_module(name: str, fn: Callable) -> None:
    """Make module `name` callable as `fn`."""
    module = sys.modules[name]
    module.__class__ = type(f"{type(module).__name__}Callable", (type(module),),
                            {"__call__": staticmethod(fn), "__doc__": fn.__doc__})
