"""The shape of the codebase (DESIGN §6): a folder per pipeline stage, imports that point down
the pipeline only, no import cycles, no module made callable, no re-export shims, and no code
outside a registry that branches on a registry entry's name.

Imports are read from the source (ast), including those inside functions: an import placed in a
function to dodge a cycle is still an arrow.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "netspec"

# lowest first: a module may import its own package or anything in a lower tier
TIERS = ["errors", "version", "safe_write", "kinds", "lang", "blocks", "graph", "report",
         "drawing", "compiler", "training", "deploy", "serve", "cli", "__init__", "__main__"]


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """The netspec modules `path` imports (a name imported from a package counts as its
    submodule when there is one)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_pkg = path.name == "__init__.py"
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "netspec"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if module.split(".")[0] != "netspec":
                continue
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                out.add(sub if sub in known else module)
    return {m for m in out if m in known and m != name}


def _graph() -> nx.DiGraph:
    modules = _modules()
    known = set(modules)
    g = nx.DiGraph()
    for name, path in modules.items():
        g.add_node(name)
        for target in _imports(path, name, known):
            g.add_edge(name, target)
    return g


def _tier(module: str) -> tuple[int, str]:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    if top not in TIERS:
        raise AssertionError(f"{module}: its stage {top!r} is not in the tier list of this test; "
                             f"add it where it belongs in the pipeline")
    return TIERS.index(top), top


def test_no_import_cycles():
    cycles = list(nx.simple_cycles(_graph()))
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c + [c[0]]) for c in cycles)


def test_imports_point_down_the_pipeline():
    upward = []
    for src, dst in _graph().edges:
        (ts, ps), (td, pd) = _tier(src), _tier(dst)
        if td > ts and src != "netspec.__main__":
            upward.append(f"{src} ({ps}) imports {dst} ({pd})")
    assert not upward, "imports pointing up the pipeline:\n" + "\n".join(sorted(upward))


def test_top_level_is_the_stages_only():
    flat = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert flat == ["__init__.py", "__main__.py", "errors.py", "report.py", "safe_write.py",
                    "version.py"], flat


def test_no_module_is_made_callable():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "__class__ =" not in text and "callable_module" not in text, path


def test_no_reexport_shims():
    """Outside the public API (netspec/__init__.py), nothing imports names only to pass them on."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path == PACKAGE / "__init__.py":
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^from .* import .*# noqa: F401", text, re.M) or "__all__" in text and \
                path.name == "__init__.py":
            offenders.append(str(path.relative_to(PACKAGE)))
    assert not offenders, offenders


def test_files_stay_small():
    big = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > 420}
    assert not big, big


# ---- nothing outside a registry branches on an entry's name -----------------------------------

def _kind_names() -> set[str]:
    from netspec.kinds import kinds

    return set(kinds())


def _loss_names() -> set[str]:
    from netspec.training.losses import LOSSES

    return set(LOSSES.names()) if hasattr(LOSSES, "names") else set(LOSSES)


# a comparison or membership test of a name-like variable against string literals
_BRANCH = re.compile(r"""(?:kind|\.name|loss|name)\s*(?:==|!=|in|not in)\s*[\(\[\{]?\s*["']([a-z_0-9]+)["']""")


@pytest.mark.parametrize("names,where", [
    (_kind_names, ("kinds",)),
])
def test_no_branching_on_kind_names_outside_the_registry(names, where):
    registry_names = names()
    hits = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] in where:
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.lstrip().startswith("#"):
                continue
            for m in _BRANCH.finditer(line):
                if m.group(1) in registry_names:
                    hits.append(f"{rel}:{i}: {line.strip()}")
    assert not hits, "branching on a kind's name outside kinds/:\n" + "\n".join(hits)


def test_no_branching_on_loss_names_outside_the_loss_registry():
    names = _loss_names()
    hits = []
    for path in (PACKAGE / "training").rglob("*.py"):
        if path.name == "losses.py":
            continue
        for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in _BRANCH.finditer(line):
                if m.group(1) in names:
                    hits.append(f"{path.relative_to(PACKAGE)}:{i}: {line.strip()}")
    for path in (PACKAGE / "deploy").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        assert "training.losses" not in text, f"{path}: deploy reads the loss registry"
    assert not hits, "branching on a loss's name outside losses.py:\n" + "\n".join(hits)


def test_no_sets_of_kind_names_outside_the_registry():
    """A literal collection of two or more kind names (`RELU_LIKE = {"relu", "gelu"}`) outside
    kinds/ is knowledge about kinds kept away from them: a new kind would silently miss it."""
    from netspec.kinds import kinds

    # a family (`conv`, `linear`, `pool`: a display category for drawing) may share a kind's name
    names = _kind_names() - {k.family for k in kinds().values()}
    hits = []
    for path in PACKAGE.rglob("*.py"):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "kinds":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            items = node.elts if isinstance(node, (ast.Set, ast.List, ast.Tuple)) else \
                node.keys if isinstance(node, ast.Dict) else []
            found = [e.value for e in items if isinstance(e, ast.Constant) and e.value in names]
            if len(found) >= 2:
                hits.append(f"{rel}:{node.lineno}: {found}")
    assert not hits, "kind names listed outside kinds/:\n" + "\n".join(hits)
