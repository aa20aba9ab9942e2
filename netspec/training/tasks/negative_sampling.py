"""The arithmetic of word2vec with negative sampling (Mikolov et al. 2013, "Distributed
Representations of Words and Phrases"), batched for torch: each epoch's subsampled corpus and
reduced windows, noise words, and the SGNS loss of skip-gram and CBOW against the output
embedding `output` [V, D] with its gradients written out by hand.

For an input vector h and an output word o with K noise words n_1..n_K drawn from P(w) ∝
count^0.75, the loss of one pair is

    -log σ(u_o · h) - Σ_k log σ(-u_{n_k} · h)

summed (not averaged) over a batch's pairs, so plain SGD at lr 0.025 makes word2vec's own
per-pair step (`alpha`). Skip-gram: h = net(center), o each context word. CBOW: h = mean of
net(context words), o the center; the context words receive the whole gradient of h, not a
1/n share (what word2vec's C tool and gensim do with `cbow_mean`).

Why by hand: autograd through the loss builds dense [V, D] gradients of the output table and
gathers each touched row twice; the formulas below touch only the batch's rows (`sgns`), so a
step costs what the batch's words cost, not what the vocabulary does. Only the network's part
(word ids -> h) goes through autograd, so any network the spec builds trains; its embedding
takes `sparse: true` to get row gradients too.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

SHARED_NOISE = 128          # noise words drawn per batch, shared by its pairs


def vectors(network: nn.Module, ids: torch.Tensor) -> torch.Tensor:
    """The network's output [B, D] for word ids [B] (its first output, if several), each id fed
    as the network's input [1]."""
    out = network(ids.reshape(-1, 1))
    return out[0] if isinstance(out, (tuple, list)) else out


@dataclass
class Epoch:
    """One epoch's view of the corpus, a function of (seed, epoch) alone so a resumed run
    draws the same: `ids`/`sentence` [K] the words kept by subsampling, `rank` [N] each
    position's index among them (-1: dropped), `reach` [N] its reduced window (uniform in
    1..window, as word2vec draws `b`)."""

    ids: torch.Tensor
    sentence: torch.Tensor
    rank: torch.Tensor
    reach: torch.Tensor


def plan_epoch(ids: np.ndarray, sentence: np.ndarray, keep: np.ndarray, window: int,
               seed: int, device) -> Epoch:
    """Subsample the corpus `ids` [N] (each word kept with probability `keep[id]`) and draw
    every position's reduced window, from generator `seed`."""
    rng = np.random.default_rng(seed)
    kept = rng.random(len(ids)) < keep[ids]
    positions = np.flatnonzero(kept)
    rank = np.full(len(ids), -1, dtype=np.int64)
    rank[positions] = np.arange(len(positions))
    reach = rng.integers(1, window + 1, size=len(ids))

    def t(a):
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)).to(device)

    return Epoch(t(ids[positions]), t(sentence[positions]), t(rank), t(reach))


def take(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """`table[ids]` for ids of any shape, by index_select: on CPU several times faster than
    advanced indexing, which is most of what a step does."""
    return table.index_select(0, ids.reshape(-1)).reshape(*ids.shape, *table.shape[1:])


def add_rows(into: torch.Tensor, rows: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """`into[rows] += values`, repeated rows adding up, in place: as a sparse tensor added to a
    dense one, which on CPU is faster than index_add_ and adds in the same order."""
    into.add_(torch.sparse_coo_tensor(rows[None], values, into.shape, check_invariants=False))
    return into


def windows(plan: Epoch, positions: torch.Tensor, window: int):
    """(center ids [B'], context ids [B', 2·window], valid [B', 2·window]) for the batch's
    corpus `positions` that survived subsampling: the kept words at most `reach` kept words
    away on the same line."""
    rank = take(plan.rank, positions)
    alive = (rank >= 0).nonzero().squeeze(1)
    rank, reach = take(rank, alive), take(take(plan.reach, positions), alive)
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(rank.device)
    at = rank[:, None] + offsets[None, :]
    inside = (at >= 0) & (at < len(plan.ids))
    at = at.clamp(0, max(len(plan.ids) - 1, 0))
    valid = inside & (offsets.abs()[None, :] <= reach[:, None]) & \
        (take(plan.sentence, at) == take(plan.sentence, rank)[:, None])
    return take(plan.ids, rank), take(plan.ids, at), valid


def draw_noise(cdf: torch.Tensor, shape: tuple, generator: torch.Generator) -> torch.Tensor:
    """Word ids [*shape] drawn from the noise distribution whose cumulative sum is `cdf`."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cdf, u.to(cdf.device)).clamp_(max=len(cdf) - 1)


@dataclass
class Update:
    """One batch's work: `loss` the summed SGNS loss, a scalar whose backward hands the
    network the loss's gradient (`with_gradient`); `rows` [R] and `grads` [R, D] the output
    table's gradient as rows (repeats add up); `pairs` the pairs it scored."""

    loss: torch.Tensor
    rows: torch.Tensor
    grads: torch.Tensor
    pairs: int


class _WithGradient(torch.autograd.Function):
    """The value `loss`, whose gradient with respect to `out` is `grad` (already known)."""

    @staticmethod
    def forward(ctx, out, grad, loss):
        ctx.save_for_backward(grad)
        return loss.clone()

    @staticmethod
    def backward(ctx, upstream):
        (grad,) = ctx.saved_tensors
        # upstream is 1 unless a loss scaler scaled the loss: skip the multiply then
        return (grad if bool(upstream == 1) else grad * upstream), None, None


def with_gradient(loss: torch.Tensor, out: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """`loss` (no graph) joined to the network's output `out`, so that backward from it runs
    the network's backward with dloss/dout = `grad`: the trainer's own backward, clipping
    and step then do the rest."""
    return _WithGradient.apply(out, grad, loss)


def sgns(h: torch.Tensor, output: torch.Tensor, targets: torch.Tensor,
         owners: torch.Tensor | None, weights: torch.Tensor | None, noise: torch.Tensor,
         negatives: int):
    """The SGNS loss and its gradients, without autograd. h [B, D] the input vectors;
    targets [P] the positive words, `owners` [P] the row of h each pairs with (None: row p,
    P = B); one set of S noise words `noise` [S] shared by the batch, each weighted K/S
    (K = `negatives`) so the gradient has the expectation of K noise words drawn per pair;
    `weights` [B] the pairs each row of h stands for (its noise term is the same for each of
    them; None: one):

        loss = Σ_p -log σ(u_{t_p}·h_{o_p}) - (K/S) Σ_b weights_b Σ_s log σ(-u_s·h_b)

    Returns (loss, dloss/dh [B, D], output rows [P + S], dloss/d those rows [P + S, D]).
    Grouping the noise term by row of h makes skip-gram's noise work B·S, not P·S."""
    u_pos = take(output, targets)                          # [P, D]
    h_pos = h if owners is None else take(h, owners)       # [P, D]
    pos = (u_pos * h_pos).sum(-1)                          # [P]
    u_noise = take(output, noise)                          # [S, D]
    neg = h @ u_noise.t()                                  # [B, S]
    scale = negatives / len(noise)
    if weights is not None:
        scale = (weights.to(h.dtype) * scale)[:, None]
    loss = -F.logsigmoid(pos).sum() - (scale * F.logsigmoid(-neg)).sum()
    g_pos = (torch.sigmoid(pos) - 1)[:, None]              # dloss/dpos  [P, 1]
    g_neg = torch.sigmoid(neg).mul_(scale)                 # dloss/dneg  [B, S]
    grad_h = g_neg @ u_noise
    if owners is None:
        grad_h.addcmul_(g_pos, u_pos)
    else:
        add_rows(grad_h, owners, g_pos * u_pos)
    grads = h.new_empty(len(targets) + len(noise), h.shape[1])
    torch.mul(g_pos, h_pos, out=grads[:len(targets)])
    torch.mm(g_neg.t(), h, out=grads[len(targets):])
    return loss, grad_h, torch.cat([targets, noise]), grads


def _with_context(centers, contexts, valid):
    """The windows that hold a valid context word, and those words: (centers [B],
    valid [B, W], rows [N] (the window of each), words [N])."""
    some = valid.any(dim=1).nonzero().squeeze(1)
    centers, contexts, valid = take(centers, some), take(contexts, some), take(valid, some)
    flat = valid.reshape(-1).nonzero().squeeze(1)
    return centers, valid, flat // valid.shape[1], take(contexts.reshape(-1), flat)


def skipgram_update(network: nn.Module, output: torch.Tensor, centers, contexts, valid,
                    noise, negatives: int) -> Update | None:
    """Each center's vector against each of its valid context words (None: no pair)."""
    centers, valid, rows, words = _with_context(centers, contexts, valid)
    if len(rows) == 0:
        return None
    vec = vectors(network, centers)                        # [B, D], through the network
    with torch.no_grad():
        loss, grad_h, out_rows, grads = sgns(vec.detach(), output, words, rows,
                                             valid.sum(dim=1), noise, negatives)
    return Update(with_gradient(loss, vec, grad_h), out_rows, grads, len(rows))


def cbow_update(network: nn.Module, output: torch.Tensor, centers, contexts, valid, noise,
                negatives: int) -> Update | None:
    """The mean of each window's valid context vectors against its center (None: no
    window has a context word)."""
    centers, valid, rows, words = _with_context(centers, contexts, valid)
    if len(rows) == 0:
        return None
    vec = vectors(network, words)                          # [N, D]: the valid context words
    with torch.no_grad():
        count = valid.sum(dim=1, keepdim=True).to(vec.dtype)
        h = add_rows(vec.new_zeros(len(centers), vec.shape[1]), rows, vec.detach()) / count
        loss, grad_h, out_rows, grads = sgns(h, output, centers, None, None, noise, negatives)
        # the whole gradient of h to every context word (module docstring)
        grad_vec = take(grad_h, rows)
    return Update(with_gradient(loss, vec, grad_vec), out_rows, grads, len(centers))


def embeddings(network: nn.Module, vocab: int, device, batch: int = 4096) -> torch.Tensor:
    """[V, D] float32: the network's output for every word id, in eval mode."""
    was = network.training
    network.eval()
    try:
        with torch.no_grad():
            parts = []
            for start in range(0, vocab, batch):
                ids = torch.arange(start, min(start + batch, vocab), device=device)
                parts.append(vectors(network, ids).float().cpu())
            return torch.cat(parts)
    finally:
        network.train(was)
