"""netspec's skipgram/cbow against gensim's Word2Vec on the same corpus, tokens, dims, window,
negatives, subsampling, min_count and epochs: Spearman on WordSim353 for both, wall and CPU
times, and their ratios. The corpora and WordSim353 come with gensim's wheel
(gensim/test/test_data/): head500.noblanks.cor (331 k words, stemmed Wikipedia; the default)
and lee_background.cor (60 k words, too small for WordSim353 to mean anything).

    nice -n 10 python bench/word2vec_vs_gensim.py                       # head500, both tasks
    python bench/word2vec_vs_gensim.py --corpus lee_background.cor --tasks skipgram

gensim runs with one worker thread, netspec with one torch thread (threads: 1). Both libraries
are imported before their clocks start (torch too); netspec's time is its whole `train` call
(corpus reading, run directory, checkpoints, curves, embeddings.vec), of which the training
steps alone are printed beside it. CPU time counts every thread of this process, so it moves
less than wall time when other jobs share the machine; the load average is printed at the
start and end of each task.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
MEANINGFUL = 0.2            # gensim's Spearman above which the ratio says something


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def timed(fn):
    """fn()'s result, wall seconds and CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="head500.noblanks.cor")
    parser.add_argument("--tasks", nargs="+", default=["skipgram", "cbow"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()

    import torch  # noqa: F401  (imported before the clock, as gensim is)
    from gensim.models import Word2Vec
    from gensim.test.utils import datapath

    import netspec
    from netspec.training.data.text import read_sentences
    from netspec.training.similarity import evaluate_similarity

    corpus, wordsim = Path(datapath(a.corpus)), datapath("wordsim353.tsv")
    sentences = read_sentences(corpus)           # the very tokens netspec trains on
    root = Path(__file__).resolve().parent.parent
    print(f"corpus {a.corpus}: {sum(map(len, sentences)):,} words; dim {a.dim}, window "
          f"{a.window}, negatives {a.negatives}, min_count {a.min_count}, epochs {a.epochs}")
    for task in a.tasks:
        print(f"{task:9} start    {load()}")
        model, gensim_s, gensim_cpu = timed(lambda: Word2Vec(
            sentences, vector_size=a.dim, window=a.window, negative=a.negatives,
            min_count=a.min_count, epochs=a.epochs, sg=int(task == "skipgram"), sample=1e-3,
            workers=1, seed=a.seed))
        pearson, rho, oov = model.wv.evaluate_word_pairs(wordsim)
        gensim_rho = float(rho.statistic)
        vocab = len(model.wv)
        with tempfile.TemporaryDirectory() as tmp:
            spec = netspec.load(root / "specs" / f"word2vec_{task}.yaml", set={
                "vocab": vocab, "dim": a.dim, "train.data.text": str(corpus),
                "train.data.window": a.window, "train.data.negatives": a.negatives,
                "train.data.min_count": a.min_count, "train.epochs": a.epochs,
                "train.seed": a.seed, "train.threads": 1})
            run, ours_s, ours_cpu = timed(lambda: netspec.train(spec, out=tmp, quiet=True))
            ours = evaluate_similarity(run.path, wordsim)
            positions = sum(int(line.split()[1]) for line in
                            (run.path / "vocab.txt").read_text().splitlines())
        steps_s = a.epochs * positions / run.summary["train_samples_per_s"]
        print(f"{task:9} gensim   Spearman {gensim_rho:+.3f}  ({oov:.0f} % pairs OOV, "
              f"vocab {vocab})  {gensim_s:6.1f} s wall  {gensim_cpu:6.1f} s CPU")
        print(f"{task:9} netspec  Spearman {ours['spearman']:+.3f}  ({ours['oov_pairs']} pairs "
              f"OOV, vocab {run.summary['vocab']})  {ours_s:6.1f} s wall  {ours_cpu:6.1f} s CPU"
              f"  (training steps {steps_s:.1f} s wall, {steps_s / a.epochs:.2f} s/epoch)")
        # a ratio of two correlations near 0 (a corpus too small for WordSim353) means nothing
        ratio = f"{ours['spearman'] / gensim_rho:.2f}x gensim's" if gensim_rho > MEANINGFUL \
            else f"not comparable (gensim's below {MEANINGFUL})"
        print(f"{task:9} ratio    Spearman {ratio}   time {ours_s / gensim_s:.1f}x gensim's "
              f"wall, {ours_cpu / gensim_cpu:.1f}x CPU")
        print(f"{task:9} end      {load()}")


if __name__ == "__main__":
    main()
