"""What the page asks of a spec as it is typed: its check report (JSON) and its diagram (SVG).

    status, body = check_text(text, file, Choice(variant="resnet50"))
    # 200: exactly the JSON of `netspec check --json`; 422: {"errors": [{"line", "col",
    # "message", "hint", ...}]} (and "layers", the rows inferred before a shape error; for
    # a spec of several networks, those of the network shown, beside every network's report)
    status, svg_or_body = draw_text(text, file, Choice(depth=1))

Both run in process (no subprocess for the check: it answers in tens of milliseconds). The
text is read as the file `file` would be, so `include:` resolves relative to it. A choice of
variant or `--set` the spec does not declare is the caller's mistake: Refused(400).
"""

from __future__ import annotations

import functools
import gc
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspec.drawing.render import DOT_MAX_LINES, to_graphviz
from netspec.errors import Diagnostic, SpecError
from netspec.graph.diagnose import render_warning
from netspec.lang.settings import OverrideError
from netspec.report import MultiReport, Report
from netspec.serve.workspace import Refused
from netspec.training.diagnostics_check import Checked, check_all

SVG_SECONDS = 10        # a live page waits this long for `dot`, not drawing.DOT_SECONDS (60)
# a check allocates many small objects and frees almost none: the cyclic collector's passes
# over them cost a third of a large check; checks are CPU-bound under the GIL, so running one
# at a time costs nothing and keeps gc.disable/enable from interleaving across threads
_ONE_CHECK = threading.Lock()


@dataclass(frozen=True)
class Choice:
    """The query of a check or draw: `--variant`, `--set` (strings), `--depth`, and
    `--network` (which network of a spec of several the table and the diagram show)."""

    variant: str | None = None
    settings: tuple[str, ...] = ()
    depth: int | None = None
    network: str | None = None


def _shown(file: str | None, root: Path | None) -> str | None:
    """A file name as the page shows it: relative to the served folder when inside it."""
    if file and root is not None:
        try:
            return Path(file).resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return file


def diagnostic_json(d: Diagnostic, root: Path | None = None,
                    edited: str | None = None) -> dict[str, Any]:
    """One error as the page shows it. An error inside a block defined in another file (the
    built-in library, an include) also gets "use": where the edited file uses that block
    (the outermost use written in `edited`), so the editor can mark a line of its own."""
    use = None
    if edited is not None and d.loc is not None and d.loc.file != edited:
        use = next(({"line": c.used.line, "col": c.used.col} for c in d.chain
                    if c.used is not None and c.used.file == edited), None)
    return {"file": _shown(d.loc.file if d.loc else None, root),
            "line": d.loc.line if d.loc else None, "col": d.loc.col if d.loc else None,
            "message": d.message, "hint": d.hint, "notes": list(d.notes),
            "chain": [_relative_paths(str(c), root) for c in reversed(d.chain)], "use": use,
            "text": d.render()}


def _relative_paths(text: str, root: Path | None) -> str:
    """`text` with the served folder's absolute prefix dropped from the paths in it."""
    return text.replace(f"{root}/", "") if root is not None else text


def errors_json(err: SpecError, root: Path | None = None, edited: str | None = None,
                **extra) -> dict[str, Any]:
    return {"errors": [diagnostic_json(d, root, edited) for d in err.diagnostics], **extra}


def _checked(text: str, file: str, choice: Choice) -> Checked:
    """The check of `netspec check`: the network's mistakes and `train:`'s together; a
    shape error leaves `report.failure` set (a fail-soft check), and an error before any
    graph leaves `report` None. Several networks: each checked (a shape error stops its own
    network), then the wiring."""
    try:
        return check_all(text, file, variant=choice.variant, settings=choice.settings)
    except OverrideError as err:
        option = "variant" if err.option == "--variant" else "set"
        raise Refused(400, err.message, hint=err.hint or f"change ?{option}=") from None


def _one_network(report: Report | MultiReport, choice: Choice) -> Report:
    """The network the table and the diagram show: the one named, else the first."""
    if isinstance(report, Report):
        return report
    if choice.network is None:
        return next(iter(report.networks.values()))
    if choice.network not in report.networks:
        raise Refused(400, f"network={choice.network!r}: the spec's networks are "
                      f"{', '.join(report.networks)}", hint="pick one of them")
    return report.networks[choice.network]


def _locked_check(text: str, file: str, choice: Choice) -> Checked:
    with _ONE_CHECK:
        collecting = gc.isenabled()
        gc.disable()
        try:
            return _checked(text, file, choice)
        finally:
            if collecting:
                gc.enable()


def check_text(text: str, file: str, choice: Choice, root: Path | None = None,
               extras: bool = False) -> tuple[int, dict[str, Any]]:
    """(200, the `check --json` report) or (422, the errors). `extras` adds what the page
    shows beside it: "rows" (the table folded at `choice.depth`), "warnings" (lints) and
    "variants" (the names in the spec's `variants:`)."""
    checked = _locked_check(text, file, choice)
    spec, report = checked.spec, checked.report
    if report is None:                      # no graph: the errors alone (train:'s among them)
        return 422, errors_json(checked.error, root, file)
    if checked.error is not None:
        whole = report.to_json() if isinstance(report, MultiReport) else {}
        whole.pop("errors", None)           # the wiring's: among the errors below
        shown = _one_network(report, choice).to_json()["layers"]
        body = errors_json(checked.error, root, file, **whole, layers=shown)
        if extras:
            body.update(_extras(spec, report, choice))
        return 422, body
    out = report.to_json()
    if spec.params or spec.variants:       # as `check --json` prints it
        out["variant"] = {"name": spec.variant, "params": spec.params, "set": spec.settings}
    if extras:
        out.update(_extras(spec, report, choice, checked.warnings))
    return 200, out


def _extras(spec, report: Report | MultiReport, choice: Choice,
            train_warnings=()) -> dict[str, Any]:
    networks = list(report.networks) if isinstance(report, MultiReport) else []
    report = _one_network(report, choice)
    rows = [{"name": r.name, "kind": r.kind, "shape": list(r.shape), "params": r.params,
             "macs": r.macs, "depth": r.depth, "header": r.header,
             "rf": list(r.rf) if r.rf is not None else None, "failed": r.failed}
            for r in report.rows(choice.depth)]
    warnings = [{**diagnostic_json(w, edited=spec.path), "text": render_warning(w)}
                for w in [*report.graph.warnings, *train_warnings]]
    return {"rows": rows, "warnings": warnings, "variants": list(spec.variants),
            "networks": networks, "shown": {
                "params": report.params, "trainable": report.trainable, "macs": report.macs,
                "param_bytes": report.param_bytes, "activation_bytes": report.activation_bytes}}


def draw_text(text: str, file: str, choice: Choice,
              root: Path | None = None) -> tuple[int, str | dict[str, Any]]:
    """(200, SVG), or (422, SVG of the graph down to a shape error), or (422, the errors)
    when nothing can be drawn; Refused(503) without Graphviz, (504) past SVG_SECONDS."""
    checked = _locked_check(text, file, choice)
    if checked.report is None:
        return 422, errors_json(checked.error, root, file)
    report = _one_network(checked.report, choice)
    source = to_graphviz(report, depth=choice.depth).source
    status = 200 if report.failure is None else 422
    return status, svg_of(source)


@functools.lru_cache(maxsize=16)    # an edit to a comment or a blank line redraws nothing
def svg_of(source: str) -> str:
    """DOT source rendered to SVG by Graphviz's `dot`, within SVG_SECONDS."""
    lines = source.count("\n")
    if lines > DOT_MAX_LINES:
        raise Refused(413, f"the diagram has {lines:,} lines of DOT, above the "
                      f"{DOT_MAX_LINES:,} that `dot` lays out in reasonable time",
                      hint="draw fewer boxes: lower the depth")
    try:
        done = subprocess.run(["dot", "-Tsvg"], input=source.encode("utf-8"),
                              capture_output=True, timeout=SVG_SECONDS, check=False)
    except FileNotFoundError:
        raise Refused(503, "drawing needs Graphviz's `dot` program, which is not installed "
                      "on the machine running `netspec serve`",
                      hint="install Graphviz (`apt-get install graphviz`, `brew install "
                           "graphviz`) and reload; the check works without it") from None
    except subprocess.TimeoutExpired:
        raise Refused(504, f"`dot` took more than {SVG_SECONDS} s to lay out the diagram",
                      hint="draw fewer boxes: lower the depth") from None
    if done.returncode != 0:
        why = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise Refused(500, "`dot` could not render the diagram" +
                      (f": {why[0][:200]}" if why else ""))
    return done.stdout.decode("utf-8", "replace")
