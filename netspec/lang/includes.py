"""`include:`: the blocks of the files a spec names, each file read once.

    include: [blocks/common.yaml, more.yaml]      # relative to the including file

The rules (DESIGN §9) keep a spec from reading what it should not, or reading forever:

- a path is relative, resolved from the including file's folder; it must stay inside the top
  spec's folder tree or netspec's built-in library (symlinks followed): an absolute path, or a
  `..` that leaves the tree, is refused;
- at most MAX_INCLUDE_DEPTH levels and MAX_INCLUDES includes in all; a loop is an error;
- every file is read and parsed once, however many files include it: a fan-out of 10 includes
  per file, 8 deep, is 80 reads, not 10**8.

A later include's block wins a name over an earlier one's; the including file's own blocks win
over all of them (the caller adds those).
"""

from __future__ import annotations

import os
from typing import Any

from netspec.errors import Collector, Diagnostic, Location, SpecError
from netspec.lang.files import read_text
from netspec.lang.library import LIBRARY
from netspec.lang.located import LDict, LList, key_location
from netspec.lang.yaml_loader import load_yaml

MAX_INCLUDE_DEPTH = 64
MAX_INCLUDES = 1000

RULE = ("includes are relative paths that stay inside the spec's folder (and its subfolders) "
        "or netspec's built-in library")


def included_blocks(root: LDict, file: str, errors: Collector) -> dict[str, tuple[Any, Location | None]]:
    """The blocks of every file `root` (the spec at `file`) includes, recursively: name ->
    (raw block, where its name is written). Mistakes go to `errors`."""
    found: dict[str, tuple[Any, Location | None]] = {}
    reader = _Includes(file, errors)
    with errors.guard():
        reader.collect(root, os.path.abspath(file), found, (os.path.realpath(file),))
    return found


def resolve_relative(item: str, loc: Location | None, file: str) -> tuple[str, str]:
    """The absolute and the real path of `item`, a path written at `loc` in the spec `file`
    (a network file of `networks:`), by the rule includes follow; a SpecError when it breaks
    it."""
    return _Includes(file, Collector()).resolve(item, loc, os.path.abspath(file))


class _Includes:
    """One spec's includes being read: the folders they may come from, the files read."""

    def __init__(self, file: str, errors: Collector):
        self.top = os.path.realpath(os.path.dirname(os.path.abspath(file)))
        self.roots = (self.top, os.path.realpath(LIBRARY.parent))
        self.errors = errors
        self.read: set[str] = set()     # real paths already read: their blocks are in `found`
        self.count = 0

    def collect(self, root: LDict, file: str, found: dict, stack: tuple[str, ...]) -> None:
        """Add the blocks of the files `root` (the file at `file`) includes to `found`;
        `stack` holds the real paths of the files including it, the top spec first."""
        includes = root.get("include") or []
        items = includes if isinstance(includes, list) else [includes]
        for i, item in enumerate(items):
            loc = (includes.item_locs[i] if isinstance(includes, LList)
                   else root.value_locs.get("include"))
            if not isinstance(item, str):
                self.errors.add(Diagnostic("`include` lists file paths", loc))
                continue
            self.count += 1
            if self.count > MAX_INCLUDES:   # stops every include: raised to the top
                raise SpecError(f"more than {MAX_INCLUDES} includes in all", loc,
                                hint="a spec includes a few files of blocks; merge them")
            with self.errors.guard():
                self.include(item, loc, file, found, stack)

    def include(self, item: str, loc: Location | None, file: str, found: dict,
                stack: tuple[str, ...]) -> None:
        """One `include:` item, written at `loc` in `file`."""
        path, real = self.resolve(item, loc, file)
        if real in stack:
            chain = " -> ".join(os.path.basename(s) for s in stack + (real,))
            raise SpecError(f"include loop: {chain}", loc,
                            hint="a file may not include itself, directly or not")
        if real in self.read:
            return
        if len(stack) > MAX_INCLUDE_DEPTH:
            raise SpecError(f"includes nest deeper than {MAX_INCLUDE_DEPTH} levels", loc,
                            hint="include the files of blocks from the spec itself")
        self.read.add(real)
        display = os.path.relpath(path)
        text = read_text(display, loc, "included file", (f"included at {loc}",) if loc else ())
        sub = load_yaml(text, display)
        if not isinstance(sub, LDict):
            raise SpecError(f"included file {item!r} is not a mapping with `blocks:`", loc)
        self.collect(sub, path, found, stack + (real,))
        blocks = sub.get("blocks")
        if isinstance(blocks, LDict):
            for name in blocks:
                found[name] = (blocks[name], key_location(blocks, name))
        elif blocks is not None:
            raise SpecError("`blocks:` of an included file maps block names to blocks",
                            sub.value_locs.get("blocks"), notes=(f"included at {loc}",))

    def resolve(self, item: str, loc: Location | None, file: str) -> tuple[str, str]:
        """The absolute and the real path `item` names, refused when it breaks the rule."""
        if "\0" in item:
            raise SpecError("an include path contains a NUL character", loc, hint=RULE)
        if os.path.isabs(item):
            raise SpecError(f"include `{item}` is an absolute path", loc, hint=RULE)
        path = os.path.abspath(os.path.join(os.path.dirname(file), item))
        real = os.path.realpath(path)
        if not any(real == r or real.startswith(r.rstrip(os.sep) + os.sep) for r in self.roots):
            folder = os.path.relpath(self.top)
            raise SpecError(f"include `{item}` leads outside the spec's folder "
                            f"`{folder}`", loc, hint=RULE)
        return path, real
