"""The DOT the drawing tests read: a small spec with every construct, and a parser for the
DOT the graphviz package writes (parsed, not compared whole)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from netspec.drawing.render import draw

# a block used with `repeat`, a parallel merged by concat, a plain repeat, a merge by add
SMALL = """\
name: small
input: [3, 16, 16]
blocks:
  res:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1, bias: false}
        id: c1
      - batchnorm
      - relu
      - conv: {out: $out, kernel: 3, padding: 1}
        id: c2
      - add: {}
        from: [input, c2]
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
    id: stem
  - relu
  - res: {out: 8}
    id: stage
    repeat: 3
  - parallel:
      merge: concat
      branches:
        - [{conv: {out: 4, kernel: 1}}, relu]
        - [{conv: {out: 4, kernel: 3, padding: 1}}]
    id: mix
  - maxpool: 2
  - flatten
  - linear: 8
    repeat: 2
    id: fc
  - linear: 10
"""

# every copy halves the size: the edge out of a folded repeat carries the last copy's shape

@dataclass
class Dot:
    nodes: dict[str, str] = field(default_factory=dict)                  # id -> label
    edges: dict[tuple[str, str], dict] = field(default_factory=dict)     # -> attributes
    clusters: dict[str, dict] = field(default_factory=dict)   # name -> label, parent, nodes
    graph: dict[str, str] = field(default_factory=dict)       # top-level graph attributes


_ID = r'"((?:[^"\\]|\\.)*)"|([\w./]+)'
_ATTR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|<.*?>(?= \w+=|$)|[^ \]]+)')


def _attrs(text: str) -> dict[str, str]:
    """`key=value` pairs; an HTML value `<...>` without its outer brackets."""
    return {k: v[1:-1] if v[:1] in '"<' else v for k, v in _ATTR.findall(text)}


def parse_dot(source: str) -> Dot:
    dot, stack = Dot(), []
    for line in source.splitlines():
        line = line.strip()
        if m := re.match(rf"subgraph (?:{_ID}) \{{$", line):
            name = (m[1] or m[2]).removeprefix("cluster_")
            dot.clusters[name] = {"parent": stack[-1] if stack else None, "nodes": [],
                                  "label": ""}
            stack.append(name)
        elif line == "}":
            if stack:
                stack.pop()
        elif m := re.match(rf"(?:{_ID})(?::\w+)? -> (?:{_ID})(:\w+)?(?::\w+)?(?: \[(.*)\])?$",
                           line):
            # a head's port stays on its name ("layer/b:skip": the skip into box b); the
            # compass point a tail leaves from is dropped
            dot.edges[(m[1] or m[2], (m[3] or m[4]) + (m[5] or ""))] = _attrs(m[6] or "")
        elif m := re.match(r"graph \[(.*)\]$", line):
            dot.graph.update(_attrs(m[1]))
        elif stack and re.match(r"\w+=", line):          # a cluster's own attributes
            dot.clusters[stack[-1]].update(_attrs(line))
        elif m := re.match(rf"(?:{_ID}) \[(.*)\]$", line):
            node = m[1] or m[2]
            if node not in ("node", "edge", "graph"):
                dot.nodes[node] = _attrs(m[3]).get("label", "")
                if stack:
                    dot.clusters[stack[-1]]["nodes"].append(node)
        elif not re.match(r"(digraph .*\{)?$", line):
            raise AssertionError(f"unexpected DOT line: {line[:120]}")
    return dot


def dot_of(tmp_path: Path, text: str = SMALL, **options) -> Dot:
    path = draw(text, tmp_path / "net.dot", **options)
    return parse_dot(path.read_text(encoding="utf-8"))


def text(label: str) -> str:
    """A node's HTML label as plain text."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]*>", " ", label)).strip()


def shape_of(edge: dict) -> str:
    return edge.get("label", "").strip()
