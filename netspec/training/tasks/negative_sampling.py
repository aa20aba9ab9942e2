"""The arithmetic of word2vec with negative sampling (Mikolov et al. 2013, "Distributed
Representations of Words and Phrases"), batched for torch: each epoch's subsampled corpus and
reduced windows, noise words, and the SGNS loss of skip-gram and CBOW against the output
embedding `output` [V, D].

For an input vector h and an output word o with K noise words n_1..n_K drawn from P(w) ∝
count^0.75, the loss of one pair is

    -log σ(u_o · h) - Σ_k log σ(-u_{n_k} · h)

summed (not averaged) over a batch's pairs, so plain SGD at lr 0.025 makes word2vec's own
per-pair step (`alpha`). Skip-gram: h = net(center), o each context word. CBOW: h = mean of
net(context words), o the center; the context words receive the whole gradient of h, not a
1/n share (what word2vec's C tool and gensim do with `cbow_mean`).
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


def windows(plan: Epoch, positions: torch.Tensor, window: int):
    """(center ids [B'], context ids [B', 2·window], valid [B', 2·window]) for the batch's
    corpus `positions` that survived subsampling: the kept words at most `reach` kept words
    away on the same line."""
    rank = plan.rank[positions]
    alive = rank >= 0
    rank, reach = rank[alive], plan.reach[positions][alive]
    offsets = torch.cat([torch.arange(-window, 0), torch.arange(1, window + 1)]).to(rank.device)
    at = rank[:, None] + offsets[None, :]
    inside = (at >= 0) & (at < len(plan.ids))
    at = at.clamp(0, max(len(plan.ids) - 1, 0))
    valid = inside & (offsets.abs()[None, :] <= reach[:, None]) & \
        (plan.sentence[at] == plan.sentence[rank][:, None])
    return plan.ids[rank], plan.ids[at], valid


def draw_noise(cdf: torch.Tensor, shape: tuple, generator: torch.Generator) -> torch.Tensor:
    """Word ids [*shape] drawn from the noise distribution whose cumulative sum is `cdf`."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    return torch.searchsorted(cdf, u.to(cdf.device)).clamp_(max=len(cdf) - 1)


def sgns_loss(h: torch.Tensor, output: torch.Tensor, targets: torch.Tensor,
              noise: torch.Tensor) -> torch.Tensor:
    """Σ over rows of -log σ(u_t·h) - Σ_k log σ(-u_{n_k}·h): h [P, D], targets [P], noise
    [P, K] ids into `output` [V, D]."""
    words = torch.cat([targets[:, None], noise], dim=1)
    u = output[words]                                       # [P, 1 + K, D]
    # a product and a sum: bmm of [P, 1 + K, D] by [P, D, 1] is many tiny matmuls, 10x slower
    scores = (u * h[:, None, :]).sum(-1)                    # [P, 1 + K]
    sign = torch.ones_like(scores)
    sign[:, 1:] = -1
    return -F.logsigmoid(scores * sign).sum()


def shared_sgns_loss(h: torch.Tensor, output: torch.Tensor, targets: torch.Tensor,
                     noise: torch.Tensor, negatives: int) -> torch.Tensor:
    """The SGNS loss with one set of S noise words `noise` [S] shared by the batch's rows,
    each weighted K/S (K = `negatives`), so its gradient has the expectation of K noise words
    drawn per row: Σ_rows -log σ(u_t·h) - (K/S) Σ_s log σ(-u_s·h). Two matrix products
    instead of P·(1 + K) gathered rows."""
    positive = (output[targets] * h).sum(-1)                # [P]
    scores = h @ output[noise].t()                          # [P, S]
    return -F.logsigmoid(positive).sum() - \
        (negatives / len(noise)) * F.logsigmoid(-scores).sum()


def skipgram_loss(network: nn.Module, output: torch.Tensor, centers, contexts, valid, cdf,
                  negatives: int, generator) -> tuple[torch.Tensor, int]:
    """(summed loss, pairs): each center's vector against each valid context word."""
    rows, cols = valid.nonzero(as_tuple=True)
    if len(rows) == 0:
        return output.sum() * 0.0, 0
    h = vectors(network, centers)
    noise = draw_noise(cdf, (SHARED_NOISE,), generator)
    return shared_sgns_loss(h[rows], output, contexts[rows, cols], noise, negatives), \
        len(rows)


def cbow_loss(network: nn.Module, output: torch.Tensor, centers, contexts, valid, cdf,
              negatives: int, generator) -> tuple[torch.Tensor, int]:
    """(summed loss, pairs): the mean of each window's context vectors against its center."""
    some = valid.any(dim=1)
    centers, contexts, valid = centers[some], contexts[some], valid[some]
    if len(centers) == 0:
        return output.sum() * 0.0, 0
    b, width = contexts.shape
    each = vectors(network, contexts.reshape(-1)).reshape(b, width, -1)
    mask = valid.to(each.dtype)[:, :, None]
    total = (each * mask).sum(dim=1)
    count = mask.sum(dim=1)
    # forward: the mean; backward: the whole gradient to every context word (module docstring)
    h = (total / count).detach() + (total - total.detach())
    noise = draw_noise(cdf, (SHARED_NOISE,), generator)
    return shared_sgns_loss(h, output, centers, noise, negatives), b


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
