"""`attention`: multi-head attention as ONE fused torch module (nn.MultiheadAttention,
batch-first), self-attention on one input, cross-attention on `from: [q, kv]`."""

from __future__ import annotations

from pydantic import Field

from netspec.kinds.argtypes import Bool, Args, PositiveInt, Probability
from netspec.kinds.base import ShapeError, fmt_shape, layer


class AttentionArgs(Args):
    heads: PositiveInt = Field(description="attention heads; E (the input's last dim) must be "
                               "a multiple")
    dropout: Probability = Field(0.0, description="dropout on the attention weights while "
                                 "training")
    bias: Bool = Field(True, description="biases in the input and output projections")
    causal: Bool = Field(False, description="query i attends to keys 0..i only (a causal "
                         "mask; needs seq_kv = seq)")


def _dims(ins, a: AttentionArgs):
    """(seq, seq_kv, E) of the query [seq, E] and key/value [seq_kv, E] inputs."""
    q = ins[0]
    kv = ins[1] if len(ins) > 1 else q
    both = " and ".join(fmt_shape(s) for s in ins)
    for s in (q, kv):
        if len(s) != 2:
            raise ShapeError(f"needs sequences [seq, E], got {both}",
                             hint="flatten a feature map to tokens first: `flatten: {start: "
                                  "2}` then `permute: [0, 2, 1]` gives [H*W, C]")
    e = q[-1]
    if not isinstance(e, int):
        raise ShapeError(f"needs a known embedding size E (the last dim), got {e!r}",
                         hint="put the features last: `input: [seq, 64]`")
    if kv[-1] != e:
        raise ShapeError(f"gets a query of E = {e} and keys/values of E = {kv[-1]}: {both}",
                         hint="project the keys/values to the query's size first with "
                              f"`linear: {e}`")
    if e % a.heads:
        divisors = [h for h in range(1, min(e, 64) + 1) if e % h == 0]
        raise ShapeError(f"has {a.heads} heads, which do not divide E = {e}",
                         hint=f"E % heads must be 0; heads that fit: "
                              f"{', '.join(map(str, divisors[-6:]))}")
    if a.causal and q[0] != kv[0]:
        raise ShapeError(f"is causal, which needs queries and keys of one length: {both}",
                         hint="drop `causal: true` for cross-attention over another sequence")
    return q[0], kv[0], e


def _count(d) -> int:
    return d if isinstance(d, int) else 1


@layer("attention", AttentionArgs, main="heads", family="linear", arity=(1, 2),
       init_role=None)
class Attention:
    """Multi-head scaled dot-product attention, as nn.MultiheadAttention(E, heads,
    batch_first=True): [seq, E] (and [seq_kv, E]) -> [seq, E], the attention output only.

    Params: 4E² + 4E with bias (in-projection 3E² + 3E, out-projection E² + E), 4E² without.
    MACs: projections 2·seq·E² + 2·seq_kv·E², plus 2·seq·seq_kv·E (scores and weighted sum);
    a symbolic seq counts 1.
    """

    def shape(ins, a):
        seq, _, e = _dims(ins, a)
        return (seq, e)

    def params(ins, a):
        e = _dims(ins, a)[2]
        return 4 * e * e + (4 * e if a.bias else 0)

    def macs(ins, a, out):
        seq, seq_kv, e = _dims(ins, a)
        s, t = _count(seq), _count(seq_kv)
        return 2 * s * e * e + 2 * t * e * e + 2 * s * t * e

    def explain(ins, a):
        seq, seq_kv, e = _dims(ins, a)
        return [f"E = {e}, {a.heads} heads of {e // a.heads}; queries {seq}, keys {seq_kv}"]

    def build(ins, a):
        from netspec.kinds.modules import Attention as Module

        e = _dims(ins, a)[2]
        return Module(e, a.heads, a.dropout, a.bias, a.causal)
