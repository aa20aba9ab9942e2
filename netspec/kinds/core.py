"""The core layers: `linear`, `flatten`, `dropout`, `embedding`, `identity`."""

from __future__ import annotations

import math

from pydantic import Field, model_validator

from netspec.kinds.argtypes import Args, Bool, Int, PositiveInt, Probability
from netspec.kinds.base import ShapeError, fmt_shape, layer, numel
from netspec.kinds.footprint import mixing, pointwise


class LinearArgs(Args):
    out: PositiveInt = Field(description="output features")
    bias: Bool = Field(True, description="add a learnable bias")
    channels_last: Bool = Field(False, description="map the last dim of an input of any rank "
                                "([H, W, C] after a permute), not only [F] or [seq, F]")


def _in_features(ins, a: LinearArgs) -> int:
    shape = ins[0]
    if len(shape) >= 3 and not a.channels_last:
        raise ShapeError(f"gets a feature map {fmt_shape(shape)}; linear maps the last dim of "
                         f"a vector [F] or a sequence [seq, F]",
                         hint=f"flatten first: `- flatten` gives [{numel(shape)}], or "
                              f"`- global_avgpool` gives [{shape[0]}]; to map the last dim "
                              f"({shape[-1]}) at every position, write "
                              f"`linear: {{out: ..., channels_last: true}}`")
    if not shape:
        raise ShapeError("gets a scalar per sample; it needs features [F]")
    f = shape[-1]
    if not isinstance(f, int):
        raise ShapeError(f"needs a known feature count, got the symbolic dim {f!r}",
                         hint="put the features last: `input: [seq, 16]`")
    return f


@layer("linear", LinearArgs, main="out", family="linear", init_role="weighted")
class Linear:
    """Affine map of the last dim, as torch.nn.Linear: [*, F] -> [*, out]; on [F] and
    [seq, F], or any rank with `channels_last: true` (ConvNeXt's MLP after a permute).

    Params: F*out (+ out). MACs: F*out*prod(leading dims).
    """

    def shape(ins, a):
        _in_features(ins, a)
        return (*ins[0][:-1], a.out)

    def receptive(ins, a):
        return mixing(-1, len(ins[0]))     # the last dim is mixed; the others kept

    def params(ins, a):
        return _in_features(ins, a) * a.out + (a.out if a.bias else 0)

    def macs(ins, a, out):
        return _in_features(ins, a) * a.out * numel(ins[0][:-1])

    def build(ins, a):
        from torch import nn

        return nn.Linear(_in_features(ins, a), a.out, bias=a.bias)


class FlattenArgs(Args):
    start: Int = Field(1, description="first dim flattened, counting the batch as 0")
    end: Int = Field(-1, description="last dim flattened (-1: the last)")


def _flatten_range(ins, a: FlattenArgs) -> tuple[int, int]:
    """The flattened range as indices into the sample shape (batch excluded)."""
    rank = len(ins[0]) + 1
    start, end = a.start % rank, a.end % rank
    if not -rank <= a.start < rank or not -rank <= a.end < rank or start == 0 or end < start:
        raise ShapeError(f"has start {a.start}, end {a.end}: not a range of the sample dims "
                         f"1..{rank - 1} of {fmt_shape(ins[0])} (dims count the batch as 0)")
    return start - 1, end - 1


@layer("flatten", FlattenArgs, family="shape", input_dtype="any", keeps_dtype=True,
       init_role="transparent")
class Flatten:
    """Flatten dims start..end (default 1..-1: everything but the batch), as torch.nn.Flatten.

    [C, H, W] -> [C*H*W].
    """

    def shape(ins, a):
        s, e = _flatten_range(ins, a)
        dims = ins[0][s:e + 1]
        sym = [d for d in dims if not isinstance(d, int)]
        if sym and len(dims) > 1:
            raise ShapeError(f"would flatten the symbolic dim {sym[0]!r} of {fmt_shape(ins[0])}",
                             hint="bind it with `--input` or reduce it first (e.g. an lstm "
                                  "with `return: last`)")
        merged = dims[0] if len(dims) == 1 else math.prod(dims)
        return (*ins[0][:s], merged, *ins[0][e + 1:])

    def build(ins, a):
        from torch import nn

        return nn.Flatten(a.start, a.end)


class DropoutArgs(Args):
    p: Probability = Field(0.5, description="probability of zeroing each element while training "
                           "(the rest scaled by 1/(1-p))")


@layer("dropout", DropoutArgs, main="p", family="regularization", init_role="transparent")
class Dropout:
    """Zeroes elements with probability p while training, as torch.nn.Dropout. Shape unchanged."""

    def shape(ins, a):
        return ins[0]

    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.Dropout(a.p)


class EmbeddingArgs(Args):
    vocab: PositiveInt = Field(description="rows of the table: token ids run 0..vocab-1")
    dim: PositiveInt = Field(description="features of each row (the embedding's size)")
    padding_idx: Int | None = Field(None, description="an id whose row stays zero and gets no "
                                    "gradient (padding)")
    # row gradients (torch's sparse=True): a step costs the batch's rows, not the table's
    sparse: Bool = Field(False, description="gradients of only the rows looked up (torch's "
                         "sparse=True); needs optimizer sgd or adagrad, no clip_grad_*")

    @model_validator(mode="after")
    def _padding_in_vocab(self):
        if self.padding_idx is not None and not -self.vocab <= self.padding_idx < self.vocab:
            raise ValueError(f"padding_idx {self.padding_idx} is not a token id of a "
                             f"vocabulary of {self.vocab} (0..{self.vocab - 1}, or negative "
                             f"from the end)")
        return self


@layer("embedding", EmbeddingArgs, family="linear", input_dtype="long", init_role=None)
class Embedding:
    """Lookup table of token ids, as torch.nn.Embedding: [*] (ids) -> [*, dim].

    Params: vocab*dim.
    """

    def shape(ins, a):
        return (*ins[0], a.dim)

    def params(ins, a):
        return a.vocab * a.dim

    def build(ins, a):
        from torch import nn

        return nn.Embedding(a.vocab, a.dim, padding_idx=a.padding_idx, sparse=a.sparse)


@layer("identity", family="shape", input_dtype="any", keeps_dtype=True,
       init_role="transparent")
class Identity:
    """Returns its input, as torch.nn.Identity."""

    def shape(ins, a):
        return ins[0]

    receptive = pointwise

    def build(ins, a):
        from torch import nn

        return nn.Identity()
