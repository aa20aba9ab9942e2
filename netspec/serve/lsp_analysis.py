"""One check of an editor's text, as the language server keeps it: the report (or the
mistakes), the positions of the YAML, and the blocks the text can use.

    analysis = analyse(text, "/home/me/nets/resnet.yaml")   # the unsaved text, its path
    analysis.errors, analysis.warnings                       # netspec Diagnostics
    analysis.report                                          # None when the spec has errors

The text is checked exactly as `netspec check` checks a file (the network and its `train:`
section together: netspec.training.diagnostics_check.check_all), under the document's own
path, so includes resolve from its folder. A
file that holds only `blocks:` (what specs include) is checked as a library of blocks: its
YAML and its blocks' entries, since only a spec that uses a block gives it shapes.
"""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass, field
from typing import Any

from netspec.errors import Collector, Diagnostic, Location, NetspecError, SpecError
from netspec.kinds import kinds
from netspec.lang.entries import parse_block
from netspec.lang.includes import included_blocks
from netspec.lang.library import LIBRARY, builtin_blocks
from netspec.lang.located import LDict, key_location
from netspec.lang.yaml_loader import load_yaml
from netspec.report import Report
from netspec.serve.lsp_positions import PARALLEL, DocumentIndex, index_document
from netspec.training.diagnostics_check import check_all

SPEC_KEYS = ("layers", "input", "inputs", "networks")   # a file with none of them: blocks only


@dataclass(frozen=True)
class BlockInfo:
    """A block the text can use: where its name is written, its parameters (name -> default,
    None = required; or a declaration), its doc, and where it comes from."""

    name: str
    loc: Location | None
    params: dict
    doc: str
    origin: str             # "spec", "include" or "built-in"


@dataclass
class Analysis:
    """What one check of one version of a document found."""

    path: str                   # the file name the Locations carry
    text: str
    index: DocumentIndex
    report: Report | None = None    # a soft check's (or a MultiReport, for `networks:`)
    errors: list[Diagnostic] = field(default_factory=list)
    warnings: list[Diagnostic] = field(default_factory=list)
    blocks: dict[str, BlockInfo] = field(default_factory=dict)
    blocks_only: bool = False   # a library of blocks, not a spec
    bug: str | None = None      # netspec itself failed (not the user's mistake)

    @property
    def graphs(self) -> list:
        """The shape-annotated graphs: one per network (a soft check's holds the layers
        inferred before a shape error); none when the check stopped earlier."""
        if self.report is None:
            return []
        networks = getattr(self.report, "networks", None)     # a spec of several networks
        reports = list(networks.values()) if networks is not None else [self.report]
        return [r.graph for r in reports]


def analyse(text: str, path: str) -> Analysis:
    """Check `text` as the spec (or block library) at `path`; never raises for a user's
    mistake, and a netspec bug becomes `bug` instead of ending the server."""
    analysis = Analysis(path, text, index_document(text))
    collecting = gc.isenabled()
    gc.disable()        # as `netspec check` does: a check frees almost nothing it allocates
    try:
        root = _root(text, path)
        analysis.blocks = _blocks(root, path)
        analysis.blocks_only = isinstance(root, LDict) and "blocks" in root and \
            not any(k in root for k in SPEC_KEYS)
        if analysis.blocks_only:
            analysis.errors = _check_blocks(root, path)
        else:
            _check_spec(analysis, text, path)
    except NetspecError as err:
        analysis.errors = list(err.diagnostics)
    except Exception as err:    # noqa: BLE001 - an editor session outlives a netspec bug
        analysis.bug = f"{type(err).__name__}: {err}"
    finally:
        if collecting:
            gc.enable()
    return analysis


def _check_spec(analysis: Analysis, text: str, path: str) -> None:
    """The check of `netspec check`, soft: a shape error keeps the layers inferred before
    it, so hover still answers above the failing layer; `train:`'s mistakes come with the
    network's, even when the layers did not load."""
    checked = check_all(text, path)
    analysis.report = checked.report
    analysis.errors = list(checked.error.diagnostics) if checked.error is not None else []
    analysis.warnings = [w for g in analysis.graphs for w in g.warnings] + checked.warnings


def _root(text: str, path: str) -> Any:
    """The located tree of `text`, or None when it is not YAML (the check says why)."""
    try:
        return load_yaml(text, path)
    except SpecError:
        return None


def _check_blocks(root: LDict, path: str) -> list[Diagnostic]:
    """The mistakes of a file of blocks: its includes and each block as written."""
    errors = Collector()
    found = included_blocks(root, path, errors)
    own = root.get("blocks")
    if not isinstance(own, LDict):
        errors.add(Diagnostic("`blocks:` maps block names to blocks", root.value_locs.get("blocks"),
                              hint="write `blocks:` and, indented under it, `name:` with "
                                   "`params:` and `layers:`"))
        return errors.diagnostics
    known = set(kinds()) | set(found) | set(own) | set(builtin_blocks()) | {PARALLEL}
    for name in own:
        with errors.guard():
            parse_block(name, own[name], key_location(own, name), known, errors)
    return list(errors.diagnostics)


def _blocks(root: Any, path: str) -> dict[str, BlockInfo]:
    """Every block `root` can use, by name: built-in, then included, then its own (the later
    wins a name, as in the check)."""
    out = {name: BlockInfo(name, b.loc, b.written_params(), b.doc, "built-in")
           for name, b in builtin_blocks().items()}
    if not isinstance(root, LDict):
        return out
    sources = [("include", included_blocks(root, path, Collector()))]
    own = root.get("blocks")
    if isinstance(own, LDict):
        sources.append(("spec", {n: (own[n], key_location(own, n)) for n in own}))
    for origin, found in sources:
        for name, (raw, loc) in found.items():
            if not isinstance(name, str):
                continue
            params = raw.get("params") if isinstance(raw, dict) else None
            doc = raw.get("doc") if isinstance(raw, dict) else None
            out[name] = BlockInfo(name, loc, dict(params) if isinstance(params, dict) else {},
                                  doc if isinstance(doc, str) else "", origin)
    return out


def real_path(file: str) -> str:
    """The absolute path a Location's file names (includes are named relative to the
    server's folder; the built-in library may be `<netspec>/blocks/library.yaml`)."""
    if file.startswith("<netspec>/"):
        return str(LIBRARY.parent.parent / file[len("<netspec>/"):])
    return os.path.realpath(os.path.abspath(file))
