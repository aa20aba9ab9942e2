"""MAC conventions: the totals other tools report for a network, computed from the static graph.

Tools disagree on what is worth counting: bias adds, normalisation, activations, pools, the
basis of a transposed convolution (input or output positions), the matrix products inside
attention. A convention is one registry entry: a rule per layer kind where the tool counts
differently (`netspec.kinds.convention_rules`), every other kind keeping netspec's own count
(`LayerKind.macs`: the multiply-accumulates of conv, conv_transpose, linear, attention, matmul
and recurrent layers, nothing else). The rules follow each tool's source for the torch module
netspec builds, in inference (`model.eval()`), batch 1. Torch-free: `check --count` costs no
more than `check`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from netspec.kinds import convention_rules as rules
from netspec.kinds.base import Shape


@dataclass(frozen=True)
class Convention:
    """How one tool counts: `rules` by kind name; kinds without a rule keep netspec's count.

    name      the `--count` value
    tool      the call whose total this reproduces
    differs   one line: what this total adds to or drops from netspec's count
    """

    name: str
    tool: str
    differs: str
    rules: Mapping[str, rules.Rule] = field(default_factory=dict)

    def layer_macs(self, kind: str, ins: list[Shape], args: Any, out: Shape, own: int) -> int:
        """The layer's count in this convention (netspec's `own` where no rule is given)."""
        rule = self.rules.get(kind)
        return own if rule is None else int(rule(ins, args, out, own))

    def total(self, nodes: Iterable[Any]) -> int:
        """The sum over graph nodes (anything with kind, in_shapes, args, shape and macs)."""
        return sum(self.layer_macs(n.kind, list(n.in_shapes), n.args, n.shape, n.macs)
                   for n in nodes)


_CONVENTIONS: dict[str, Convention] = {}


def register_convention(convention: Convention) -> Convention:
    """Add a convention; a name registered twice is an error."""
    if convention.name in _CONVENTIONS:
        raise RuntimeError(f"MAC convention {convention.name!r} registered twice")
    _CONVENTIONS[convention.name] = convention
    return convention


def conventions() -> dict[str, Convention]:
    """Every registered convention by name, in registration order."""
    return _CONVENTIONS


# torchvision's "GFLOPS" (its model docs, `weights.meta["_ops"]`) come from the script in
# pytorch/vision PR #6936 ("Adding FLOPs and size to model metadata", Nov 2022), built on
# Chillee's torch-dispatch flop counter: aten mm/addmm/bmm/matmul and convolution, one
# multiply-add counted once, bias and every other op free. That is netspec's own convention:
# the published figures are MACs (ResNet-18 1.81, ViT-B/16 17.56 with its attention matmuls).
# torch.utils.flop_counter.FlopCounterMode, the counter's successor in torch, reports 2x this.
register_convention(Convention(
    name="torchvision",
    tool="torchvision's published GFLOPS (vision PR #6936) = FlopCounterMode total / 2",
    differs="the same products as netspec (conv, linear, attention, matmul), except fused "
            "recurrent layers (0); torchvision calls these MACs GFLOPS",
    rules=rules.TORCHVISION,
))

# fvcore/nn/flop_count.py: "We count one fused multiply-add as one flop"; conv, linear, matmul
# without bias; norms, adaptive_avg_pool2d and upsampling by their own rules; every other op
# (activations, pools, adds, scaled_dot_product_attention, lstm) ignored or unsupported: 0.
register_convention(Convention(
    name="fvcore",
    tool="fvcore 0.1.5 FlopCountAnalysis(model.eval(), x).total()",
    differs="+ batchnorm (1/elem, 2 affine), layer/group/instance norm (4-5/elem), adaptive "
            "pools, upsampling; attention without its QK^T/AV matmuls; recurrent layers 0",
    rules=rules.FVCORE,
))

# thop/profile.py `profile`: forward hooks per module type (exact type match), eval, no_grad.
register_convention(Convention(
    name="thop",
    tool="thop 0.1.1 profile(model, (x,))[0] (netspec's LSTM/GRU/RNN subclasses given thop's "
         "own hooks through custom_ops)",
    differs="+ batch/layer/instance norm (2/elem, 4 affine), avg pools, softmax, prelu, "
            "upsampling; transposed conv per output position (stride² x); attention, matmul "
            "and groupnorm 0; recurrent layers by thop's cell formulas",
    rules=rules.THOP,
))

# ptflops/flops_counter.py get_model_complexity_info: the code's default backend is `pytorch`
# (module hooks plus patched torch.nn.functional / tensor ops; its README says `aten`).
register_convention(Convention(
    name="ptflops",
    tool="ptflops 0.7.5 get_model_complexity_info(model, shape, as_strings=False) (default "
         "backend 'pytorch'; attention/recurrent subclasses given ptflops' own hooks)",
    differs="+ bias adds, norms (1/elem, 2 affine), activations and pools (twice where the "
            "module calls a patched F.* op), upsampling; attention by its MHA hook",
    rules=rules.PTFLOPS,
))


def find_convention(name: str) -> Convention:
    """The convention called `name`; a ValueError naming the choices (and the nearest) if none."""
    if name in _CONVENTIONS:
        return _CONVENTIONS[name]
    import difflib

    near = difflib.get_close_matches(name.lower(), list(_CONVENTIONS), n=1)
    also = f"; did you mean {near[0]!r}?" if near else ""
    raise ValueError(f"no MAC convention {name!r}: choose one of "
                     f"{', '.join(_CONVENTIONS)}{also}")


def count_summary(name: str, nodes: Iterable[Any]) -> dict[str, Any]:
    """`check --json`'s "count": {"convention", "macs", "note"} for the nodes of a graph."""
    convention = find_convention(name)
    return {"convention": convention.name, "macs": convention.total(nodes),
            "note": convention.differs}


def render_count(summary: dict[str, Any], own: int) -> str:
    """Two lines under the table: the total in the tool's convention beside netspec's, and
    what differs.

    >>> print(render_count({"convention": "thop", "macs": 1500, "note": "x"}, 1000))
    MACs (thop) 1,500 (+50.0% on netspec's 1,000)
      thop counts: x
    """
    macs, name = summary["macs"], summary["convention"]
    ratio = f"{(macs - own) / own:+.1%}" if own else "n/a"
    return (f"MACs ({name}) {macs:,} ({ratio} on netspec's {own:,})\n"
            f"  {name} counts: {summary['note']}")
