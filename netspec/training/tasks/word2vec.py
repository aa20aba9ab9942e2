"""`skipgram` and `cbow`: word embeddings by negative sampling (word2vec) on a text corpus
(`data: {text: FILE}`, see data/text.py). The spec's one network maps a word id (`input:
{shape: [1], dtype: long}`) to its embedding [D]; the task adds the output embedding [V, D]
(zeros, word2vec's syn1neg: it is the task's own state, optimised with the same optimizer
and learning rate as the network and checkpointed with the run) and the SGNS loss of
tasks/negative_sampling.py, whose gradients are written out: the network gets dloss/dvector
through its own backward (the trainer's `optimize`), the output table the rows a batch
touched, as a sparse gradient when the optimizer takes one (sgd, adagrad). A fresh run
starts the network's lookup table as word2vec does (uniform in ±0.5/D: `init_tables`).

Defaults are word2vec's: SGD at lr 0.025 (the pairs' losses summed, so it is the tool's own
per-pair step) decaying linearly to 0 per step (`schedule: {poly: {power: 1}}`), batches of
1024 corpus positions. Each epoch subsamples the corpus and draws the reduced windows from
(seed, epoch), each batch its noise words from (seed, epoch, batch): a resumed run draws the
very same.

At the end the run holds `embeddings.vec` (word2vec's text format: a `V D` line, then one
`word v_1 ... v_D` line per word, most frequent first), `vocab.txt` (`word count` lines) and,
in the summary, the nearest neighbours (cosine) of a few frequent words.
"""

from __future__ import annotations

from netspec.errors import SpecError
from netspec.training.tasks.base import TASKS, Task

DEFAULT_LR = 0.025              # word2vec's `alpha` (gensim's too, for both architectures)
DEFAULT_BATCH = 1024            # corpus positions per step
SHOWN_WORDS = 5                 # frequent words whose neighbours the summary shows
SHOWN_NEIGHBOURS = 5
MIN_SHOWN_LENGTH = 4            # shown words are at least this long: not `the`, `of`, `and`


def derive_seed(*parts: int) -> int:
    """A 63-bit seed from integers (numpy's SeedSequence: stable across runs and platforms)."""
    import numpy as np      # in the functions: `check` loads the task registry, never numpy

    state = np.random.SeedSequence([p % 2**63 for p in parts]).generate_state(1, np.uint64)
    return int(state[0]) >> 1


class PairLoss:
    """The epoch's loss per pair: sums [count, loss_sum] as metrics.Tracker keeps them."""

    def __init__(self):
        self.count, self.loss_sum = 0, 0.0

    def update(self, loss_sum, pairs: int) -> None:
        self.loss_sum = loss_sum.detach().double() + self.loss_sum
        self.count += pairs

    def state(self):
        import torch

        loss = torch.as_tensor(self.loss_sum, dtype=torch.float64).reshape(1).cpu()
        return torch.cat([torch.tensor([float(self.count)], dtype=torch.float64), loss]), []

    def load_state(self, flat, sizes) -> None:
        self.count, self.loss_sum = int(flat[0]), flat[1].clone()

    def result(self, flat=None) -> dict[str, float]:
        flat = self.state()[0] if flat is None else flat
        return {"loss": float(flat[1]) / max(float(flat[0]), 1.0)}


class Word2Vec(Task):
    """What skip-gram and CBOW share; `update` is the one difference."""

    data_kind = "tokens"
    evaluates = False

    def __init__(self):
        self.ready = False

    # ---- before training ----------------------------------------------------------------

    def complete(self, cfg, has_val: bool = True):
        from netspec.training.optim import OPTIMIZERS, SCHEDULES

        cfg = super().complete(cfg, has_val=False)
        update = {}
        if not cfg.given("optimizer"):
            update["optimizer"] = OPTIMIZERS.choose("sgd", {"lr": DEFAULT_LR}, None, None, None)
        if cfg.schedule is None:
            update["schedule"] = SCHEDULES.choose("poly", {"power": 1.0}, None, None, None)
        if not cfg.given("batch_size"):
            update["batch_size"] = DEFAULT_BATCH
        return cfg.model_copy(update=update)

    def check(self, cfg, data, out_node) -> None:
        if data.task != self.data_kind:
            raise SpecError(f"the task `{self.name}` trains word embeddings on a text corpus, "
                            f"but `{data.name}` is a {data.task} set", cfg.where("task"),
                            hint="give `data: {text: FILE}`")
        if tuple(data.input_shape) != (1,):
            raise SpecError(f"the task `{self.name}` feeds the network one word id at a time, "
                            f"but its input is {list(data.input_shape)}",
                            cfg.where("task"), hint="make the input `{shape: [1], dtype: long}`")
        if len(out_node.shape) != 1:
            raise SpecError(f"the task `{self.name}` needs the network to map a word id to a "
                            f"vector [D]; it outputs {list(out_node.shape)} per word",
                            out_node.loc, hint="end the network with the embedding [D]")

    def tracker(self, cfg, data):
        return PairLoss()

    def metric_names(self, cfg) -> list[str]:
        return []

    # ---- training -----------------------------------------------------------------------

    def setup(self, t) -> None:
        """The corpus, noise distribution, output embedding and its optimizer (once)."""
        if self.ready:
            return
        import numpy as np
        import torch

        from netspec.training.data.section import source_args
        from netspec.training.data.text import keep_probability, noise_distribution
        from netspec.training.optim import build_optimizer, takes_sparse_gradients
        from netspec.training.tasks.negative_sampling import embeddings

        self.args = source_args(t.cfg.data)
        self.ids = t.train_x.reshape(-1).cpu().numpy()
        self.sentence = t.train_y[:, 1].cpu().numpy()
        vocab = len(t.data.labels)
        self.counts = np.bincount(self.ids, minlength=vocab)
        self.keep = keep_probability(self.counts, self.args.subsample)
        cdf = np.cumsum(noise_distribution(self.counts))
        self.cdf = torch.from_numpy(cdf).to(t.device)
        network = t.model
        try:
            dim = embeddings(network, vocab, t.device, batch=vocab).shape[1]
        except IndexError:
            raise SpecError(f"the corpus has {vocab} words (ids 0..{vocab - 1}), more than the "
                            f"network's embedding takes", t.spec.raw.value_locs.get("layers")
                            if t.spec.raw is not None else None,
                            hint=f"make the embedding's `vocab` at least {vocab}, or set "
                                 f"`max_vocab: N` under `data:`") from None
        self.output = torch.zeros(vocab, dim, device=t.device, requires_grad=True)
        self.opt = build_optimizer(t.cfg.optimizer, [self.output])
        self.sparse_output = takes_sparse_gradients(t.cfg.optimizer)
        # unchecked sparse tensors are torch's default; saying so spares a warning per run
        # from adagrad's sparse step
        torch.sparse.check_sparse_tensor_invariants.disable()
        self.plan_key, self.plan = None, None
        self.ready = True

    def start_diagnoses(self, t) -> list:
        # the hook before the first step of a fresh run (never of a resumed one)
        self.setup(t)          # a vocabulary the embedding cannot hold fails before any step
        self.init_tables(t)
        return []

    def init_tables(self, t) -> None:
        """word2vec's start for the input vectors: every [rows >= V, D] table of the network
        (its lookup table) uniform in ±0.5/D, from the run's seed. torch's N(0, 1) start gives
        vectors 100× larger than the updates lr 0.025 makes, and measured WordSim353 Spearman
        0.28 instead of 0.49 (docs/word2vec.md)."""
        import torch

        vocab, dim = self.output.shape
        gen = torch.Generator().manual_seed(derive_seed(t.cfg.seed, 4))
        with torch.no_grad():
            for p in t.model.parameters():
                if p.dim() == 2 and p.shape[0] >= vocab and p.shape[1] == dim:
                    p.copy_((torch.rand(p.shape, generator=gen) - 0.5) / dim)

    def step(self, t, x, y) -> None:
        import torch

        from netspec.training.tasks.negative_sampling import (SHARED_NOISE, draw_noise,
                                                              plan_epoch, windows)

        self.setup(t)
        if self.plan_key != t.epoch:
            self.plan = plan_epoch(self.ids, self.sentence, self.keep, self.args.window,
                                   derive_seed(t.cfg.seed, t.epoch, 2), t.device)
            self.plan_key = t.epoch
        centers, contexts, valid = windows(self.plan, y[:, 0], self.args.window)
        noise_gen = torch.Generator().manual_seed(derive_seed(t.cfg.seed, t.epoch, t.batch, 3))
        noise = draw_noise(self.cdf, (SHARED_NOISE,), noise_gen)
        update = self.update(t.model, self.output.detach(), centers, contexts, valid, noise,
                             self.args.negatives)
        if update is None:                 # no pair in the batch: nothing to learn from it
            return
        t.optimize(update.loss)            # the network's step; its backward is written out
        self.step_output(update.rows, update.grads, t.optimizer.param_groups[0]["lr"])
        t.tracker.update(update.loss, update.pairs)

    def step_output(self, rows, grads, lr: float) -> None:
        """The output table's step with the schedule's `lr`: its gradient as the touched
        rows (a sparse tensor) when the optimizer takes one, else dense."""
        import torch

        from netspec.training.tasks.negative_sampling import add_rows

        if self.sparse_output:
            self.output.grad = torch.sparse_coo_tensor(rows[None], grads, self.output.shape,
                                                       check_invariants=False)
        else:
            self.output.grad = add_rows(torch.zeros_like(self.output), rows, grads)
        for group in self.opt.param_groups:
            group["lr"] = lr
        self.opt.step()

    @staticmethod
    def update(network, output, centers, contexts, valid, noise, negatives):
        raise NotImplementedError

    # ---- checkpoints --------------------------------------------------------------------

    def state(self, t) -> tuple[dict, dict]:
        from netspec.training import checkpoint

        self.setup(t)
        tensors, opt_state = checkpoint.optimizer_tensors(self.opt)
        tensors = {k.replace(checkpoint.STATE_PREFIX, "", 1): v for k, v in tensors.items()}
        return {"output": self.output.detach(), **tensors}, {"optimizer": opt_state}

    def load_state(self, t, tensors: dict, state: dict) -> None:
        import torch

        from netspec.training import checkpoint

        self.setup(t)
        with torch.no_grad():
            self.output.copy_(tensors["output"])
        checkpoint.load_optimizer(self.opt, {f"{checkpoint.STATE_PREFIX}{k}": v
                                             for k, v in tensors.items() if k != "output"},
                                  state["optimizer"])

    # ---- what the run writes ------------------------------------------------------------

    def finish(self, t, summary: dict) -> None:
        """embeddings.vec, vocab.txt and the neighbours of a few frequent words."""
        from netspec.training.similarity import format_vec, neighbours
        from netspec.training.tasks.negative_sampling import embeddings

        if not t.history:
            return
        self.setup(t)
        words = list(t.data.labels)
        vectors = embeddings(t.model, len(words), t.device).numpy()
        shown = [w for w in words if len(w) >= MIN_SHOWN_LENGTH and w.isalpha()][:SHOWN_WORDS]
        near = neighbours(vectors, words, shown, SHOWN_NEIGHBOURS)
        summary["vocab"] = len(words)
        summary["dim"] = int(vectors.shape[1])
        summary["neighbours"] = near
        if t.run is not None:
            t.run.write_text("embeddings.vec", format_vec(words, vectors))
            t.run.write_text("vocab.txt", "".join(f"{w} {int(c)}\n"
                                                  for w, c in zip(words, self.counts)))
        for word, close in near.items():
            t.progress.note(f"nearest to {word!r}: " +
                            ", ".join(f"{w} {s:.2f}" for w, s in close))


@TASKS.add("skipgram", default_for="tokens")
class SkipGram(Word2Vec):
    """Skip-gram: each word's vector predicts the words around it."""

    @staticmethod
    def update(network, output, centers, contexts, valid, noise, negatives):
        from netspec.training.tasks.negative_sampling import skipgram_update

        return skipgram_update(network, output, centers, contexts, valid, noise, negatives)


@TASKS.add("cbow")
class CBOW(Word2Vec):
    """CBOW: the mean of the context words' vectors predicts the word between them."""

    @staticmethod
    def update(network, output, centers, contexts, valid, noise, negatives):
        from netspec.training.tasks.negative_sampling import cbow_update

        return cbow_update(network, output, centers, contexts, valid, noise, negatives)
