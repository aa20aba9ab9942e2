"""netspec's skipgram/cbow against gensim's Word2Vec on the same corpus, tokens, dims, window,
negatives, subsampling, min_count and epochs: Spearman on WordSim353 for both, wall times, and
their ratios. The corpora and WordSim353 come with gensim's wheel (gensim/test/test_data/):
lee_background.cor (60 k words) and head500.noblanks.cor (331 k words, stemmed Wikipedia).

    nice -n 10 python bench/word2vec_vs_gensim.py                       # lee, both tasks
    python bench/word2vec_vs_gensim.py --corpus head500.noblanks.cor --tasks skipgram

gensim runs with one worker thread, netspec with one torch thread (threads: 1).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
MEANINGFUL = 0.2            # gensim's Spearman above which the ratio says something


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", default="lee_background.cor")
    parser.add_argument("--tasks", nargs="+", default=["skipgram", "cbow"])
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--dim", type=int, default=100)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negatives", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    a = parser.parse_args()

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
        started = time.perf_counter()
        model = Word2Vec(sentences, vector_size=a.dim, window=a.window, negative=a.negatives,
                         min_count=a.min_count, epochs=a.epochs, sg=int(task == "skipgram"),
                         sample=1e-3, workers=1, seed=a.seed)
        gensim_s = time.perf_counter() - started
        pearson, rho, oov = model.wv.evaluate_word_pairs(wordsim)
        gensim_rho = float(rho.statistic)
        vocab = len(model.wv)
        with tempfile.TemporaryDirectory() as tmp:
            spec = netspec.load(root / "specs" / f"word2vec_{task}.yaml", set={
                "vocab": vocab, "dim": a.dim, "train.data.text": str(corpus),
                "train.data.window": a.window, "train.data.negatives": a.negatives,
                "train.data.min_count": a.min_count, "train.epochs": a.epochs,
                "train.seed": a.seed, "train.threads": 1})
            started = time.perf_counter()
            run = netspec.train(spec, out=tmp, quiet=True)
            ours_s = time.perf_counter() - started
            ours = evaluate_similarity(run.path, wordsim)
        print(f"{task:9} gensim   Spearman {gensim_rho:+.3f}  ({oov:.0f} % pairs OOV, "
              f"vocab {vocab})  {gensim_s:6.1f} s")
        print(f"{task:9} netspec  Spearman {ours['spearman']:+.3f}  ({ours['oov_pairs']} pairs "
              f"OOV, vocab {run.summary['vocab']})  {ours_s:6.1f} s")
        # a ratio of two correlations near 0 (a corpus too small for WordSim353) means nothing
        ratio = f"{ours['spearman'] / gensim_rho:.2f}x gensim's" if gensim_rho > MEANINGFUL \
            else f"not comparable (gensim's below {MEANINGFUL})"
        print(f"{task:9} ratio    Spearman {ratio}   time {ours_s / gensim_s:.1f}x gensim's")


if __name__ == "__main__":
    main()
