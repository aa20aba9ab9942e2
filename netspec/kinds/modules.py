"""The few torch modules netspec needs beyond torch.nn. Imported only when building."""

from __future__ import annotations

import torch
from torch import nn


class GlobalAvgPool(nn.Module):
    """Mean over all spatial dims: [B, C, *S] -> [B, C]."""

    def __init__(self, spatial_dims: int):
        super().__init__()
        self.dims = tuple(range(2, 2 + spatial_dims))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class RecurrentLayer:
    """torch's fused recurrent layers, batch-first, returning one tensor: the output sequence,
    or the top layer's final hidden state (both directions concatenated) with last=True.

    Subclasses of nn.RNN/LSTM/GRU, so state_dict keys stay torch's own (`weight_ih_l0`)."""

    @staticmethod
    def create(kind: str, features: int, hidden: int, layers: int, bias: bool, dropout: float,
               bidirectional: bool, last: bool, **extra) -> nn.Module:
        cls = {"rnn": RNNLayer, "lstm": LSTMLayer, "gru": GRULayer}[kind]
        module = cls(features, hidden, num_layers=layers, bias=bias, batch_first=True,
                     dropout=dropout, bidirectional=bidirectional, **extra)
        module.return_last = last
        return module


def _select(module: nn.Module, out: torch.Tensor, h_n: torch.Tensor) -> torch.Tensor:
    if not module.return_last:
        return out
    if module.bidirectional:
        return torch.cat([h_n[-2], h_n[-1]], dim=1)
    return h_n[-1]


class RNNLayer(nn.RNN):
    def forward(self, x):  # type: ignore[override]
        out, h_n = super().forward(x)
        return _select(self, out, h_n)


class GRULayer(nn.GRU):
    def forward(self, x):  # type: ignore[override]
        out, h_n = super().forward(x)
        return _select(self, out, h_n)


class LSTMLayer(nn.LSTM):
    def forward(self, x):  # type: ignore[override]
        out, (h_n, _) = super().forward(x)
        return _select(self, out, h_n)


class LSTMCellLoop(nn.Module):
    """An LSTM with the gates written out, looped over time (an fx leaf module).

    ih: Linear(F, 4H), hh: Linear(H, 4H), gates in torch's order i, f, g, o, so the weights
    load into a one-layer nn.LSTM as weight_ih_l0 = ih.weight, bias_ih_l0 = ih.bias, ...
    """

    def __init__(self, features: int, hidden: int, bias: bool = True, last: bool = False):
        super().__init__()
        self.hidden, self.return_last = hidden, last
        self.ih = nn.Linear(features, 4 * hidden, bias=bias)
        self.hh = nn.Linear(hidden, 4 * hidden, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.new_zeros(x.shape[0], self.hidden)
        c = x.new_zeros(x.shape[0], self.hidden)
        xs = self.ih(x)                      # all time steps' input projections at once
        outs = []
        for t in range(x.shape[1]):
            i, f, g, o = (xs[:, t] + self.hh(h)).chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs.append(h)
        return h if self.return_last else torch.stack(outs, dim=1)


class Attention(nn.MultiheadAttention):
    """nn.MultiheadAttention, batch-first, returning the attention output only.

    forward(x) is self-attention; forward(q, kv) cross-attention (keys and values both kv).
    A subclass, so state_dict keys stay torch's own (`in_proj_weight`, `out_proj.weight`).
    need_weights=False lets torch take its fused fast path at inference. `causal` masks
    position j > i for query i (a boolean upper triangle, built for the input's length, so a
    symbolic seq works and the mask exports to ONNX)."""

    def __init__(self, embed: int, heads: int, dropout: float, bias: bool, causal: bool):
        super().__init__(embed, heads, dropout=dropout, bias=bias, batch_first=True)
        self.causal = causal

    def forward(self, q: torch.Tensor, kv: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        kv = q if kv is None else kv
        if not self.causal:
            return super().forward(q, kv, kv, need_weights=False)[0]
        mask = torch.ones(q.shape[1], kv.shape[1], dtype=torch.bool, device=q.device).triu(1)
        return super().forward(q, kv, kv, need_weights=False, attn_mask=mask,
                               is_causal=True)[0]

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, causal={self.causal}"
