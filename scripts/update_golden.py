"""Regenerate the golden reports of the zoo: tests/golden/<spec>.json = `netspec check --json
specs/<spec>.yaml`, which tests/test_zoo.py compares exactly.

    .venv/bin/python scripts/update_golden.py            # rewrite every golden file
    .venv/bin/python scripts/update_golden.py resnet18   # only these specs
    .venv/bin/python scripts/update_golden.py --check    # exit 1 when any is stale

Run it after a deliberate change to shape inference, parameter or MAC counting, or a zoo spec,
and review the diff: it is the point of the golden tests that every change shows up there.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
GOLDEN = ROOT / "tests" / "golden"


def report_json(path: Path) -> str:
    """What `netspec check --json PATH` prints, with a final newline."""
    from netspec.cli.main import _report_text
    from netspec.report import check
    from netspec.graph.load import load

    spec = load(path)
    # the CLI's own rendering: a spec with `params:` adds its `variant` key to the report
    return _report_text(check(spec), spec, True, None, False) + "\n"


def main(argv: list[str]) -> int:
    check_only = "--check" in argv
    names = [a for a in argv if not a.startswith("--")]
    paths = [SPECS / f"{n}.yaml" for n in names] if names else sorted(SPECS.glob("*.yaml"))
    GOLDEN.mkdir(parents=True, exist_ok=True)
    stale = []
    for path in paths:
        target = GOLDEN / f"{path.stem}.json"
        text = report_json(path)
        if target.exists() and target.read_text(encoding="utf-8") == text:
            continue
        stale.append(target)
        if not check_only:
            target.write_text(text, encoding="utf-8")
    verb = "stale" if check_only else "written"
    for target in stale:
        print(f"{verb}: {target.relative_to(ROOT)}")
    if not stale:
        print(f"all {len(paths)} golden reports are up to date")
    return 1 if check_only and stale else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main(sys.argv[1:]))
