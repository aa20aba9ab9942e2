"""`tokens`: a built-in sequence classification task for small text classifiers (transformers,
recurrent nets), generated from `split_seed`; no download.

The rule ("which marker comes first"): a sequence holds `seq` token ids below `vocab`. Id 0
is never used (free for padding), ids 1 and 2 are the markers A and B, ids 3.. are filler. Every
sequence holds exactly one A and one B at two distinct random positions; every other position
is a filler drawn uniformly. The label is 1 ("A first") when A comes before B, else 0 ("B
first"); the two classes are equally frequent.

Both classes have the same token counts, so a bag-of-words model (any function of the counts:
mean-pooled embeddings, a linear layer on counts, attention without position information) is
at chance, 50 %. A network that sees positions solves it exactly: one self-attention layer with
a position embedding (a `param` added to the token embedding) or a recurrent layer.
"""

from __future__ import annotations

import numpy as np

from netspec.errors import SpecError
from netspec.training.data.base import Arrays
from netspec.training.data.sources import FIRST_FILLER, MARKER_A, MARKER_B, MAX_TOKENS, TokensArgs

LABELS = ["B first", "A first"]


def tokens(a: TokensArgs, shape: tuple, cfg) -> Arrays:
    """Which marker comes first: `seq` token ids below `vocab` (16) holding one A (id 1) and one
    B (id 2) among uniform fillers (ids 3..); label 1 when A precedes B. Token counts are equal
    in both classes, so a bag-of-words model stays at 50 %: the network must see positions.
    seq: the spec's when it is a number, else 24; samples 4000. Input `{shape: [seq], dtype:
    long}`; the embedding's `vocab` must be at least this `vocab`."""
    seq = a.seq or (shape[0] if len(shape) == 1 and isinstance(shape[0], int) else 24)
    if a.samples * seq > MAX_TOKENS:
        raise SpecError(f"the data set `tokens` is bounded to samples × seq <= {MAX_TOKENS:,} "
                        f"token ids; got {a.samples:,} × {seq} = {a.samples * seq:,}", None,
                        hint=f"lower `samples` (at most {MAX_TOKENS // seq:,} at seq {seq}), "
                             f"or set a shorter `seq:`")
    x, y = marker_order(a.samples, seq, a.vocab, cfg.split_seed)
    return Arrays(x, y, "classification", list(LABELS), normalize=False,
                  hint=f"make the spec's input `{{shape: [{seq}], dtype: long}}` (or [seq]), "
                       f"or set `seq:` in `data:` to the spec's length")


def marker_order(samples: int, seq: int, vocab: int, seed: int = 0):
    """(x [N, seq] int64, y [N] int64): the rule of the module docstring. Sequence i has label
    i mod 2, so the classes are balanced; the markers' positions are a random pair of distinct
    positions, ordered as the label says."""
    rng = np.random.default_rng([seed, 2])
    x = rng.integers(FIRST_FILLER, vocab, size=(samples, seq), dtype=np.int64)
    first = rng.integers(0, seq, size=samples)
    # the second position uniformly among the other seq - 1: distinct from the first
    second = (first + rng.integers(1, seq, size=samples)) % seq
    early, late = np.minimum(first, second), np.maximum(first, second)
    y = (np.arange(samples) % 2).astype(np.int64)
    rows = np.arange(samples)
    x[rows, early] = np.where(y == 1, MARKER_A, MARKER_B)
    x[rows, late] = np.where(y == 1, MARKER_B, MARKER_A)
    return x, y
