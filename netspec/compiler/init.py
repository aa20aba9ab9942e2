"""Weight initialisation of a compiled network, by scheme.

`auto` (the default) looks at the activation each weight layer feeds and picks He (kaiming)
for relu-like activations, Xavier for saturating ones, torch's own default elsewhere; biases
start at 0. What a kind is to this choice is its `init_role` in the registry (weighted,
relu_like, saturating, transparent), so a new kind needs no change here.

    initialize(model, graph, "auto")      # an entry's own `init:` wins over the default
"""

from __future__ import annotations

import torch
from torch import nn

from netspec.graph.ir import Graph
from netspec.kinds import LayerKind, kinds

LOOKAHEAD = 8        # layers looked through between a weight layer and its activation


def initialize(model: nn.Module, graph: Graph, default: str = "auto") -> None:
    """Initialise the weights of every `weighted` layer by scheme (biases 0 unless the
    scheme is `default`).

    auto: kaiming before a relu-like activation, xavier_uniform before a saturating one,
    torch's default weights elsewhere. dcgan: weights N(0, 0.02), and the norm layers'
    scales N(1, 0.02), shifts 0. An entry's own `init:` wins over `default`.
    """
    nexts = next_activation(graph)
    for node in graph:
        scheme = node.init or default
        if scheme == "dcgan" and kinds()[node.kind].family == "norm":
            _dcgan_norm(model.get_submodule(node.name))
            continue
        if kinds()[node.kind].init_role != "weighted":
            continue
        module = model.get_submodule(node.name)
        act = nexts.get(node.name)
        if scheme == "auto":
            scheme = _auto(act)
            if scheme == "default":
                # auto keeps torch's default weights here, but biases start at 0 everywhere
                _zero_bias(module)
                continue
        _apply(module, scheme, act.init_gain if act is not None else 1.0)


def _auto(act: LayerKind | None) -> str:
    role = act.init_role if act is not None else None
    return {"relu_like": "kaiming", "saturating": "xavier_uniform"}.get(role, "default")


def _zero_bias(module: nn.Module) -> None:
    bias = getattr(module, "bias", None)
    if bias is not None:
        with torch.no_grad():
            nn.init.zeros_(bias)


def _apply(module: nn.Module, scheme: str, gain: float) -> None:
    """Scheme `scheme` on the module's weight; `gain` is Xavier's for the activation after it."""
    weight = getattr(module, "weight", None)
    if weight is None or scheme == "default":
        return
    with torch.no_grad():
        if scheme == "kaiming":
            nn.init.kaiming_normal_(weight, mode=_kaiming_mode(module, weight),
                                    nonlinearity="relu")
        elif scheme == "xavier":
            nn.init.xavier_normal_(weight, gain=gain)
        elif scheme == "xavier_uniform":
            nn.init.xavier_uniform_(weight, gain=gain)
        elif scheme == "normal":
            nn.init.normal_(weight, 0.0, 0.01)
        elif scheme == "dcgan":
            nn.init.normal_(weight, 0.0, 0.02)
    _zero_bias(module)


def _dcgan_norm(module: nn.Module) -> None:
    """DCGAN's (Radford et al. 2015) norm layers: scale N(1, 0.02), shift 0; a norm without
    affine parameters is left as it is."""
    weight = getattr(module, "weight", None)
    if weight is None:
        return
    with torch.no_grad():
        nn.init.normal_(weight, 1.0, 0.02)
    _zero_bias(module)


def _kaiming_mode(module: nn.Module, weight: torch.Tensor) -> str:
    """He's fan for `weight`: fan_in for linear layers; for convolutions fan_out, as
    torchvision's ResNets, except where the conv narrows (more input channels than output:
    the 1x1 reductions of inception and bottleneck blocks). There fan_out would multiply the
    variance by in / out at each such conv, and a net without batchnorm between them blows
    up (zoo GoogLeNet started at cross-entropy ~100 instead of ln 10); fan_in keeps it
    steady, so no conv amplifies what it reads. A transposed conv keeps fan_out, which for
    its weight's (in, out) axes is already the input side."""
    if weight.dim() <= 2:
        return "fan_in"
    narrows = weight.size(1) > weight.size(0) and not getattr(module, "transposed", False)
    return "fan_in" if narrows else "fan_out"


def next_activation(graph: Graph) -> dict[str, LayerKind]:
    """For each node, the kind of the first activation (relu_like or saturating) it feeds,
    looking through `transparent` kinds (norms, dropout, pools, reshapes), sole successors
    only."""
    succ = graph.successors()
    registry = kinds()
    out: dict[str, LayerKind] = {}
    for node in graph:
        here = node.name
        for _ in range(LOOKAHEAD):
            nxt = succ.get(here, [])
            if len(nxt) != 1:
                break
            kind = registry[graph.nodes[nxt[0]].kind]
            if kind.init_role == "transparent":
                here = nxt[0]
                continue
            if kind.init_role in ("relu_like", "saturating"):
                out[node.name] = kind
            break
    return out
