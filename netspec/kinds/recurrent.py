"""Recurrent layers: `rnn`, `lstm`, `gru` (torch's fused layers) and `lstm_cell` (the gates
written out, looped over time). All batch-first: [seq, F] -> [seq, H*dirs], or [H*dirs] with
`return: last`. States start at zero."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netspec.kinds.argtypes import Args, Bool, PositiveInt, Probability
from netspec.kinds.base import ShapeError, fmt_shape, layer

GATES = {"rnn": 1, "lstm": 4, "gru": 3, "lstm_cell": 4}


class RecurrentArgs(Args):
    hidden: PositiveInt = Field(description="features of the hidden state")
    layers: PositiveInt = Field(1, description="stacked layers")
    bidirectional: Bool = Field(False, description="also read the sequence backwards (the output "
                                "has 2 x hidden features)")
    dropout: Probability = Field(0.0, description="dropout between stacked layers while training")
    bias: Bool = Field(True, description="learnable biases in the gates")
    # `return` is a Python keyword: the YAML key is `return`, the field `return_`
    return_: Literal["sequence", "last"] = Field(
        "sequence", alias="return",
        description="`sequence`: every step's output [seq, H]; `last`: the last step's [H]")


class RNNArgs(RecurrentArgs):
    nonlinearity: Literal["tanh", "relu"] = Field("tanh", description="the activation of the "
                                                  "hidden state")


def _features(ins, kind: str) -> int:
    shape = ins[0]
    if len(shape) != 2:
        raise ShapeError(f"needs a sequence [seq, features] (batch-first), got {fmt_shape(shape)}",
                         hint="feature maps must be reshaped into a sequence first, e.g. "
                              "`permute` then `reshape`")
    if not isinstance(shape[1], int):
        raise ShapeError(f"needs a known feature count, got the symbolic dim {shape[1]!r}")
    return shape[1]


def _directions(a) -> int:
    return 2 if getattr(a, "bidirectional", False) else 1


def _shape(kind: str):
    def shape(ins, a):
        _features(ins, kind)
        width = a.hidden * _directions(a)
        return (width,) if a.return_ == "last" else (ins[0][0], width)
    return shape


def _layer_widths(features: int, a, dirs: int) -> list[tuple[int, int]]:
    """(number of layers, input width) pairs: the first layer, then the stacked ones."""
    layers = getattr(a, "layers", 1)
    return [(1, features), (layers - 1, a.hidden * dirs)]


def _params(kind: str):
    def params(ins, a):
        """Per layer and direction: gates*H*(in + H) weights + 2*gates*H biases."""
        g, h, dirs = GATES[kind], a.hidden, _directions(a)
        bias = 2 * g * h if a.bias else 0
        # the first layer reads the features, the others the previous layer's h*dirs
        return sum(n * dirs * (g * h * (width + h) + bias)
                   for n, width in _layer_widths(_features(ins, kind), a, dirs))
    return params


def _macs(kind: str):
    def macs(ins, a, out):
        """seq * directions * gates * H * (in + H), summed over layers (seq counts 1 if symbolic)."""
        seq = ins[0][0] if isinstance(ins[0][0], int) else 1
        g, h, dirs = GATES[kind], a.hidden, _directions(a)
        return sum(n * seq * dirs * g * h * (width + h)
                   for n, width in _layer_widths(_features(ins, kind), a, dirs))
    return macs


def _build(kind: str):
    def build(ins, a):
        from netspec.kinds.modules import RecurrentLayer

        # what a subclass of RecurrentArgs adds (rnn's nonlinearity) goes to torch as it is
        extra = a.model_dump(exclude=set(RecurrentArgs.model_fields))
        return RecurrentLayer.create(kind, _features(ins, kind), a.hidden, a.layers, a.bias,
                                     a.dropout, a.bidirectional, a.return_ == "last", **extra)
    return build


for _kind, _args, _doc in (("rnn", RNNArgs, "Elman RNN, as torch.nn.RNN (batch_first)."),
                           ("lstm", RecurrentArgs, "LSTM, as torch.nn.LSTM (batch_first)."),
                           ("gru", RecurrentArgs, "GRU, as torch.nn.GRU (batch_first).")):
    layer(_kind, _args, main="hidden", family="recurrent", init_role=None)(
        type(_kind, (), {"__doc__": _doc, "shape": _shape(_kind), "params": _params(_kind),
                         "macs": _macs(_kind), "build": _build(_kind)}))


class LSTMCellArgs(Args):
    hidden: PositiveInt = Field(description="features of the hidden state")
    return_: Literal["sequence", "last"] = Field(
        "sequence", alias="return",
        description="`sequence`: every step's output [seq, H]; `last`: the last step's [H]")
    bias: Bool = Field(True, description="learnable biases in the gates")


@layer("lstm_cell", LSTMCellArgs, main="hidden", family="recurrent", init_role=None)
class LSTMCell:
    """An LSTM with its gates written out: an input linear `ih` and a hidden linear `hh`
    (i, f, g, o), looped over time inside one module. Same parameter count as a one-layer
    torch.nn.LSTM: 4*H*(F + H) + 8*H.

        i, f, g, o = split(ih(x_t) + hh(h)); c = sigmoid(f)*c + sigmoid(i)*tanh(g)
        h = sigmoid(o) * tanh(c)
    """

    shape = _shape("lstm_cell")
    params = _params("lstm_cell")
    macs = _macs("lstm_cell")

    def build(ins, a):
        from netspec.kinds.modules import LSTMCellLoop

        return LSTMCellLoop(_features(ins, "lstm_cell"), a.hidden, a.bias, a.return_ == "last")
