"""Per-kind rules of the MAC conventions (`netspec.kinds.conventions`): how fvcore, thop and
ptflops count each layer netspec builds, read from the tools' sources.

A rule is `rule(ins, args, out, own) -> int` (the input shapes, the validated arguments, the
output shape, netspec's own count); counts are per sample (batch 1, the tools' own inputs), a
symbolic dim counting 1. A kind without a rule keeps netspec's count, which every tool shares
for convolutions and linear layers up to the differences written here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from netspec.kinds.base import Shape, numel, tuple_n

Rule = Callable[[list[Shape], Any, Shape, int], int]


def _n(d) -> int:
    return d if isinstance(d, int) else 1


def zero(ins, a, out, own) -> int:
    return 0


def per_input(k: int) -> Rule:
    """k operations per input element."""
    return lambda ins, a, out, own: k * numel(ins[0])


def per_output(k: int) -> Rule:
    """k operations per output element."""
    return lambda ins, a, out, own: k * numel(out)


def plus_bias(ins, a, out, own) -> int:
    """netspec's count plus one add per output element when the layer has a bias."""
    return own + (numel(out) if a.bias else 0)


def by_affine(plain: int, affine: int, flag: str = "affine") -> Rule:
    """`plain` or `affine` operations per input element, by the norm's affine flag."""
    return lambda ins, a, out, own: numel(ins[0]) * (affine if getattr(a, flag) else plain)


def _sizes(ins) -> tuple[int, int, int]:
    """(queries, keys, E) of an attention layer's inputs [seq, E] (and [seq_kv, E])."""
    s, e = _n(ins[0][0]), ins[0][-1]
    return s, (_n(ins[1][0]) if len(ins) > 1 else s), e


# ---- torchvision: its script's dispatch counter has formulas for mm/addmm/bmm/convolution --

TORCHVISION = {
    # a fused recurrent layer is one aten::lstm/gru/rnn_tanh op, which it has no formula for
    "rnn": zero, "lstm": zero, "gru": zero,
}


# ---- fvcore 0.1.5: fvcore/nn/flop_count.py _DEFAULT_SUPPORTED_OPS, fvcore/nn/jit_handles.py --

def fvcore_batchnorm(ins, a, out, own) -> int:
    """aten::batch_norm in eval: 1 per element, 2 with affine (batchnorm_flop_jit); without
    running stats torch normalises by the batch's statistics, which fvcore counts as training:
    4 per element, 5 with affine."""
    if a.track_running_stats:
        return numel(ins[0]) * (2 if a.affine else 1)
    return numel(ins[0]) * (5 if a.affine else 4)


def fvcore_attention(ins, a, out, own) -> int:
    """nn.MultiheadAttention traces to aten::linear projections, 2·seq·E² + 2·seq_kv·E²
    (counted), around aten::scaled_dot_product_attention (not a supported op: 0)."""
    s, t, e = _sizes(ins)
    return 2 * s * e * e + 2 * t * e * e


def fvcore_matmul(ins, a, out, own) -> int:
    """aten::matmul (matmul_flop_jit): numel(first input) * last dim of the second."""
    return numel(ins[0]) * _n(ins[1][-1])


def fvcore_adaptive(ins, a, out, own) -> int:
    """aten::adaptive_avg_pool2d: 1 per input element; the 1d and 3d ops are not supported."""
    return numel(ins[0]) if len(ins[0]) == 3 else 0


def fvcore_upsample(ins, a, out, own) -> int:
    """aten::upsample_nearest2d 1 per output element, upsample_bilinear2d 4; others 0."""
    per = {"nearest": 1, "bilinear": 4}.get(a.mode, 0) if len(out) == 3 else 0
    return per * numel(out)


FVCORE = {
    "attention": fvcore_attention,
    "batchnorm": fvcore_batchnorm,
    "layernorm": by_affine(4, 5),
    "groupnorm": by_affine(4, 5),
    "instancenorm": by_affine(4, 5),
    "adaptive_avgpool": fvcore_adaptive,
    "upsample": fvcore_upsample,
    "matmul": fvcore_matmul,
    "rnn": zero, "lstm": zero, "gru": zero,   # aten::lstm & co. are not supported ops
}


# ---- thop 0.1.1: thop/profile.py register_hooks, thop/vision/basic_hooks.py, calc_func.py, ---
# ---- thop/rnn_hooks.py -------------------------------------------------------------------------

def thop_conv_transpose(ins, a, out, own) -> int:
    """count_convNd for every conv: numel(output) * (C_in/groups) * prod(kernel) -- for a
    transposed convolution that is per *output* position, stride² times netspec's count."""
    kernel = math.prod(tuple_n(a.kernel, len(ins[0]) - 1, "kernel"))
    return numel(out) * (ins[0][0] // a.groups) * kernel


def thop_softmax(ins, a, out, own) -> int:
    """count_softmax: (exp + add + div) = 3n - 1 per row of n along the softmax dim."""
    n = _n(ins[0][a.dim - 1]) if a.dim > 0 else _n(ins[0][a.dim])
    return (numel(ins[0]) // n) * (3 * n - 1)


def thop_adaptive(ins, a, out, own) -> int:
    """count_adap_avgpool: (prod(input / output spatial sizes) + 1) per output element, in
    float64 as thop computes it, truncated."""
    kernel = 1.0
    for x, y in zip(ins[0][1:], out[1:]):
        kernel *= float(_n(x)) / float(_n(y))
    return int((kernel + 1) * numel(out))


_THOP_UPSAMPLE = {"nearest": 1, "linear": 5, "bilinear": 11, "bicubic": 259}


def thop_upsample(ins, a, out, own) -> int:
    """count_upsample: per output element 1 (nearest), 5 (linear), 11 (bilinear), 259
    (bicubic); trilinear is 'not implemented' (0)."""
    return _THOP_UPSAMPLE.get(a.mode, 0) * numel(out)


def _thop_cell(gates: int, width: int, h: int, bias: bool) -> int:
    """One step of one direction of one layer (rnn_hooks._count_*_cell)."""
    state = (width + h) * h + h + (2 * h if bias else 0)
    return {1: state, 3: 3 * state + 4 * h, 4: 4 * state + 4 * h}[gates]


def thop_recurrent(gates: int) -> Rule:
    """count_rnn/gru/lstm: cells of the first layer (input F) and the stacked ones (input
    H*directions), both directions, times the steps."""
    def rule(ins, a, out, own) -> int:
        dirs = 2 if getattr(a, "bidirectional", False) else 1
        h, layers = a.hidden, getattr(a, "layers", 1)
        per_step = dirs * _thop_cell(gates, ins[0][1], h, a.bias) + \
            (layers - 1) * dirs * _thop_cell(gates, h * dirs, h, a.bias)
        return _n(ins[0][0]) * per_step
    return rule


THOP = {
    "conv_transpose": thop_conv_transpose,
    "batchnorm": by_affine(2, 4),
    "layernorm": by_affine(2, 4),
    "instancenorm": by_affine(2, 4),
    "groupnorm": zero,                 # nn.GroupNorm has no hook
    "prelu": per_input(1),
    "softmax": thop_softmax,
    "avgpool": per_output(1),
    "adaptive_avgpool": thop_adaptive,
    "upsample": thop_upsample,
    "attention": zero,                 # no hook for nn.MultiheadAttention, nor its out_proj
    "matmul": zero,                    # functional calls are not modules
    "rnn": thop_recurrent(1), "lstm": thop_recurrent(4), "gru": thop_recurrent(3),
}


# ---- ptflops 0.7.5, its default `pytorch` backend: ptflops/pytorch_ops.py MODULES_MAPPING, ----
# ---- FUNCTIONAL_MAPPING, TENSOR_OPS_MAPPING; ptflops/pytorch_engine.py ----------------------
# Module hooks and patched functionals both fire when a module calls a patched function
# (nn.ReLU calls F.relu): those layers count twice.

def ptflops_attention(ins, a, out, own) -> int:
    """multihead_attention_counter_hook: q scaling seq·E, projections (seq + 2·seq_kv)·E²
    (+ (seq + 2·seq_kv)·E in-projection bias), per head QK^T, softmax and AV (seq·seq_kv·(2·E/h
    + 1)), out-projection seq·E·(E + 1) (its bias always counted)."""
    s, t, e = _sizes(ins)
    proj = (s + 2 * t) * e * e + ((s + 2 * t) * e if a.bias else 0)
    heads = a.heads * s * t * (2 * (e // a.heads) + 1)
    return s * e + proj + heads + s * e * (e + 1)


_PTFLOPS_GATE_EXTRA = {1: 1, 3: 7, 4: 10}   # rnn_flops: element-wise ops per hidden unit


def ptflops_recurrent(gates: int) -> Rule:
    """rnn_flops_counter_hook: per layer w_ih + w_hh sizes + element-wise gate ops (+ both
    biases), times the steps, times 2 for a bidirectional layer."""
    def rule(ins, a, out, own) -> int:
        dirs = 2 if getattr(a, "bidirectional", False) else 1
        h, g = a.hidden, gates
        total = 0
        for layer in range(getattr(a, "layers", 1)):
            width = ins[0][1] if layer == 0 else h * dirs
            total += g * h * width + g * h * h + _PTFLOPS_GATE_EXTRA[g] * h
            total += 2 * g * h if a.bias else 0
        return _n(ins[0][0]) * total * dirs
    return rule


def ptflops_lstm_cell(ins, a, out, own) -> int:
    """Two nn.Linear per step (input and hidden projections, 4H each): + both biases."""
    return own + (2 * _n(ins[0][0]) * 4 * a.hidden if a.bias else 0)


def ptflops_upsample(ins, a, out, own) -> int:
    """The module hook (numel(output)) and the patched F.interpolate (the same again)."""
    return 2 * numel(out)


PTFLOPS = {
    "conv": plus_bias,
    "conv_transpose": plus_bias,
    "linear": plus_bias,
    "attention": ptflops_attention,
    "relu": per_output(2),             # hook + patched F.relu
    "gelu": per_output(2),             # hook + patched F.gelu
    "elu": per_output(2),              # hook + patched F.elu
    "prelu": per_output(2),            # hook + patched F.prelu
    "relu6": per_output(1),            # nn.ReLU6 calls F.hardtanh (not patched)
    "leaky_relu": per_output(1),       # F.leaky_relu is not patched
    "silu": per_input(1),              # no module hook; patched F.silu
    "softmax": per_input(1),           # no module hook; patched F.softmax
    "maxpool": per_input(2),           # hook + patched F.max_pool*d
    "avgpool": per_input(2),           # hook + patched F.avg_pool*d
    "adaptive_avgpool": per_input(2),  # hook + patched F.adaptive_avg_pool*d
    "batchnorm": by_affine(1, 2),
    "instancenorm": by_affine(1, 2),
    "groupnorm": by_affine(1, 2),
    "layernorm": per_input(1),         # the hook reads `module.affine`, which LayerNorm lacks
    "upsample": ptflops_upsample,
    "rnn": ptflops_recurrent(1), "lstm": ptflops_recurrent(4), "gru": ptflops_recurrent(3),
    "lstm_cell": ptflops_lstm_cell,
}
