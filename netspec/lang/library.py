"""The built-in blocks, written in the spec language itself (`netspec/blocks/library.yaml`).

They are parsed once, on first use, with the same entry parser as users' specs, so a built-in
block is exactly what a user could have written; errors inside one point into its YAML file.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from netspec.errors import Collector
from netspec.kinds import kinds
from netspec.lang.entries import parse_block
from netspec.lang.located import key_location
from netspec.lang.schema import BlockDef
from netspec.lang.yaml_loader import load_yaml

LIBRARY = Path(__file__).parent.parent / "blocks" / "library.yaml"


@lru_cache(maxsize=1)
def builtin_blocks() -> dict[str, BlockDef]:
    """Every built-in block by name."""
    root = load_yaml(LIBRARY.read_text(encoding="utf-8"), _display_path())
    raw_blocks = root["blocks"]
    known = set(kinds()) | set(raw_blocks) | {"parallel"}
    errors = Collector()
    out = {name: parse_block(name, raw_blocks[name], key_location(raw_blocks, name), known,
                             errors)
           for name in raw_blocks}
    errors.raise_if_any()    # a broken library is our bug, but say where
    return out


def _display_path() -> str:
    try:
        return str(LIBRARY.relative_to(Path.cwd()))
    except ValueError:
        return f"<netspec>/blocks/{LIBRARY.name}"
