"""Fail-soft drawing: the layer a shape error stopped at, below everything inferred before it.

`check(spec, soft=True)` keeps the nodes inferred before a shape error and says which layer
failed and what fed it (`report.failure`); the diagram draws those nodes as usual, then the
failing layer as a red box, and the edges into it in red, labelled with the error's first
sentence (the full located error is printed by the command). Never imports torch.
"""

from __future__ import annotations

import html
import textwrap
from typing import Callable

from netspec.drawing.layout import Diagram

FAILED = "#d62728"                # the failing layer and the edges into it
FAILED_FILL = "#fde2e1"
LABEL_WIDTH = 38                  # characters per line of an edge's error label
LABEL_LINES = 4                   # lines at most: the rest is in the printed error


def short_error(error) -> str:
    """The first diagnostic's message, wrapped to LABEL_WIDTH columns and cut at LABEL_LINES
    lines (ending "…"): a label, not the located error the command prints."""
    lines = textwrap.wrap(error.first.message, LABEL_WIDTH)
    if len(lines) > LABEL_LINES:
        lines = lines[:LABEL_LINES]
        lines[-1] = lines[-1][:LABEL_WIDTH - 1].rstrip() + "…"
    return "\n".join(lines)


def failed_id(failure) -> str:
    return "failed/" + failure.name


def draw_failure(dot, failure, diagram: Diagram, node_id: Callable[[str], str]) -> None:
    """The failing layer (red box) and one red edge from each box feeding it; the first edge
    carries the error as its label."""
    small = f'<font point-size="9" color="{FAILED}">'
    dot.node(failed_id(failure),
             f'<<table border="2" cellborder="0" cellspacing="0" cellpadding="4" '
             f'color="{FAILED}" bgcolor="{FAILED_FILL}"><tr><td align="left">'
             f'<b>{html.escape(failure.kind)}</b>  {small}{html.escape(failure.name)}</font>'
             f'</td></tr><tr><td align="left">{small}<i>shape error: drawn down to here'
             f'</i></font></td></tr></table>>')
    label = "<" + "<br/>".join(html.escape(line, quote=False) for line in
                               short_error(failure.error).splitlines()) + '<br align="left"/>>'
    labelled = False
    for src in dict.fromkeys(failure.sources):
        key = src if src in diagram.graph.inputs else diagram.box_of.get(src)
        if key is None:
            continue
        extra = {} if labelled else {"label": label}
        labelled = True
        dot.edge(node_id(key), failed_id(failure), color=FAILED, fontcolor=FAILED,
                 penwidth="2", **extra)


__all__ = ["draw_failure", "short_error", "failed_id", "FAILED"]
