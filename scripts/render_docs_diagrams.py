"""Regenerate the diagrams docs/ shows from the zoo's specs, exactly as `netspec draw` draws them.

    .venv/bin/python scripts/render_docs_diagrams.py

Needs Graphviz's `dot` (`make graphviz`). Writes docs/lenet5.png and docs/resnet18_tv.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))          # this checkout's netspec, installed or not

import netspec  # noqa: E402

DIAGRAMS = {                           # spec in specs/ -> options of netspec.draw
    "lenet5": {},
    "resnet18_tv": {},
}


def main() -> int:
    for name, options in DIAGRAMS.items():
        try:
            out = netspec.draw(ROOT / "specs" / f"{name}.yaml", ROOT / "docs" / f"{name}.png",
                               **options)
        except netspec.SpecError as err:
            print(err.render(), file=sys.stderr)
            return 1
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
