"""The expanded graph: netspec's own small DAG of primitive layers, shapes annotated.

Blocks, repeats and parallels are gone: every node is one layer kind with validated arguments,
named by its dotted path (`stage1.0.conv1`, also its state_dict prefix). Nodes are kept in
execution order (a node's inputs always come before it). networkx is not needed here (its
import alone costs more than a whole check); `to_networkx()` converts where it helps.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator

from netspec.errors import BlockUse, Diagnostic, Location, SpecError
from netspec.kinds.argtypes import Args
from netspec.kinds.base import Shape, numel

if TYPE_CHECKING:
    import networkx


@dataclass(frozen=True)
class Group:
    """An enclosing block use or repeat: what `--depth` folds and drawing clusters.

    name: the dotted prefix shared by its nodes; label: `residual`, `bottleneck ×3`;
    args: the arguments the spec gives it, summarised (`out=128, stride=2`)."""

    name: str
    label: str
    repeat: int = 0           # N for the group of a repeated entry, 0 otherwise
    args: str = ""            # the arguments given to the block: `out=128, stride=2`

    @property
    def title(self) -> str:
        """The label with its arguments, for tables: `bottleneck(out=128, stride=2)`,
        `bottleneck(out=128) ×3`; `repeat: 1` says nothing a reader needs: no `×1`."""
        head, sep, tail = self.label.partition(" ×")
        if tail == "1":
            sep = tail = ""
        return f"{head}({self.args}){sep}{tail}" if self.args else f"{head}{sep}{tail}"


@dataclass(frozen=True)
class Node:
    name: str
    kind: str
    args: Args
    inputs: tuple[str, ...]
    in_shapes: tuple[Shape, ...]
    shape: Shape
    params: int
    macs: int
    loc: Location | None = None
    chain: tuple[BlockUse, ...] = ()
    groups: tuple[Group, ...] = ()
    init: str | None = None
    # receptive field per spatial axis (netspec.graph.receptive); None: the output is not
    # spatial. jump and start are ints, or Fractions after an upsampling
    rf: tuple[int, ...] | None = None
    jump: tuple | None = None
    start: tuple | None = None


@dataclass(frozen=True)
class Failure:
    """Where shape inference stopped (`check(..., soft=True)`): the entry `name` (its dotted
    id) of kind `kind` refused the shapes of `sources` (nodes already inferred), with `error`."""

    name: str
    kind: str
    sources: tuple[str, ...]
    error: SpecError


@dataclass(frozen=True)
class InputNode:
    name: str
    shape: Shape
    dtype: str = "float"


@dataclass
class Graph:
    name: str
    inputs: dict[str, InputNode]
    nodes: dict[str, Node] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)   # output name -> node name
    init: str = "auto"
    warnings: list[Diagnostic] = field(default_factory=list)  # lints: valid, likely unmeant
    receptive: dict[str, Any] = field(default_factory=dict)   # node -> its footprint state
    failures: list[Failure] = field(default_factory=list)     # soft expansion: shape errors
    failed_at: dict[str, int] = field(default_factory=dict)   # failure -> nodes before it

    def add(self, node: Node) -> None:
        if node.name in self.nodes or node.name in self.inputs:
            raise ValueError(f"duplicate node name {node.name!r}")
        self.nodes[node.name] = node

    def fail(self, failure: Failure) -> None:
        """Record a layer whose shape inference failed, where it comes in execution order."""
        self.failures.append(failure)
        self.failed_at.setdefault(failure.name, len(self.nodes))

    def shape_of(self, name: str) -> Shape:
        return self.inputs[name].shape if name in self.inputs else self.nodes[name].shape

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())

    def successors(self) -> dict[str, list[str]]:
        succ: dict[str, list[str]] = {n: [] for n in (*self.inputs, *self.nodes)}
        for node in self.nodes.values():
            for src in node.inputs:
                succ[src].append(node.name)
        return succ

    @property
    def params(self) -> int:
        return sum(n.params for n in self.nodes.values())

    @property
    def macs(self) -> int:
        return sum(n.macs for n in self.nodes.values())

    @property
    def activation_elements(self) -> int:
        """Elements of all layer outputs for one sample (symbolic dims count 1)."""
        return sum(numel(n.shape) for n in self.nodes.values())

    def to_networkx(self) -> "networkx.DiGraph":
        import networkx as nx

        g = nx.DiGraph()
        for name, inp in self.inputs.items():
            g.add_node(name, kind="input", shape=inp.shape)
        for node in self.nodes.values():
            g.add_node(node.name, kind=node.kind, shape=node.shape, params=node.params)
            for src in node.inputs:
                g.add_edge(src, node.name, shape=self.shape_of(src))
        return g

    def describe(self) -> dict[str, Any]:
        """The JSON report's shape of the graph (DESIGN §3), without totals."""
        return {
            "name": self.name,
            "inputs": {n: list(i.shape) for n, i in self.inputs.items()},
            "outputs": {o: list(self.nodes[n].shape) for o, n in self.outputs.items()},
            "layers": [{"name": n.name, "kind": n.kind, "from": list(n.inputs),
                        "shape": list(n.shape), "params": n.params, "macs": n.macs}
                       for n in self.nodes.values()],
        }
