"""docs/api.md's examples run as written (in order, in one namespace)."""

from __future__ import annotations

import re
from pathlib import Path

from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)

DOC = Path(__file__).resolve().parents[1] / "docs" / "api.md"


def test_api_examples_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 8
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for i, code in enumerate(blocks):
        exec(compile(code, f"{DOC.name}[python block {i}]", "exec"), namespace)
