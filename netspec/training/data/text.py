"""`text: FILE`: a corpus for word embeddings (the `skipgram` and `cbow` tasks). Each line of the
file is a sentence (a context window never crosses a line's end); a token is a run of
non-whitespace, lowercased (`lowercase`) with the punctuation at its two ends stripped
(`strip_punctuation`: `"homes."` -> `homes`, `south-west` stays). Words seen fewer than
`min_count` times are dropped before windows are taken, as word2vec does; `max_vocab` keeps the
most frequent words only.

The samples are the corpus' word positions: x [N] the word ids in corpus order, y [N, 2] each
position and its line (the task reads windows around them); `labels` is the vocabulary, most
frequent first. A corpus trains whole: no val/test split is taken from it.

Frequent words are subsampled each epoch with word2vec's formula (the C tool's and gensim's,
not the paper's `1 - sqrt(t / f)`): a word of count c among T words is kept with probability

    p(c) = min(1, (sqrt(c / (t·T)) + 1) · t·T / c)            t = `subsample` (1e-3; 0: off)

and negatives are drawn from the unigram distribution raised to 3/4: P(w) ∝ count(w)^0.75.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from netspec.errors import InputError, Location
from netspec.training import read_bounds as bounds
from netspec.training.data.base import Arrays
from netspec.training.data.files import missing
from netspec.training.data.sources import TextArgs

MAX_TEXT_BYTES = 2**28          # 256 MiB of text: ~45 M words, a few GiB as Python strings
UNIGRAM_POWER = 0.75


@dataclass(frozen=True)
class Corpus:
    """A tokenised, encoded corpus: `ids` [N] (int64, corpus order, out-of-vocabulary words
    dropped), `sentence` [N] (the line each word is on), `words` the vocabulary (most frequent
    first) and `counts` [V] their counts in `ids`."""

    ids: np.ndarray
    sentence: np.ndarray
    words: list[str]
    counts: np.ndarray


def text(a: TextArgs, shape: tuple, cfg) -> Arrays:
    """`text` (sources.py): the corpus' word ids in order, with each position and its line."""
    path = Path(a.text)
    if not path.exists():
        raise missing(str(path), "text file")
    corpus = encode(read_sentences(path, a.lowercase, a.strip_punctuation), a.min_count,
                    a.max_vocab, path)
    n = len(corpus.ids)
    where = np.stack([np.arange(n, dtype=np.int64), corpus.sentence], axis=1)
    return Arrays(corpus.ids, where, "tokens", corpus.words,
                  normalize=False, shuffle=False, whole=True,
                  hint="make the spec's input `{shape: [1], dtype: long}`: one word id")


def read_sentences(path: Path, lowercase: bool = True, strip: bool = True) -> list[list[str]]:
    """The file's lines as lists of tokens (module docstring), its size bounded and its text
    UTF-8; a byte that is not is reported at its line and column."""
    bounds.regular_file(path, "text file", MAX_TEXT_BYTES)
    raw = path.read_bytes()
    try:
        content = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(f"not UTF-8 text: byte {raw[e.start:e.start + 1]!r} at byte offset "
                         f"{e.start}", Location(str(path), line, col),
                         hint="save the corpus as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)"
                         ) from None
    seen: dict[str, str] = {}
    return [tokenise(line, lowercase, strip, seen) for line in content.splitlines()]


def tokenise(line: str, lowercase: bool = True, strip: bool = True,
             seen: dict[str, str] | None = None) -> list[str]:
    """`line`'s tokens: whitespace-separated, lowercased, edge punctuation stripped, empty ones
    dropped. `seen` keeps each raw token's result across lines: a corpus repeats its words,
    so most tokens are looked up instead of cleaned again (twice as fast on head500).

    >>> tokenise('He said: "Hill Top." (south-west)')
    ['he', 'said', 'hill', 'top', 'south-west']
    """
    seen = {} if seen is None else seen
    out = []
    for raw in line.split():
        token = seen.get(raw)
        if token is None:
            token = raw.lower() if lowercase else raw
            if strip:
                token = _strip_punctuation(token)
            seen[raw] = token
        if token:
            out.append(token)
    return out


def _strip_punctuation(token: str) -> str:
    start, end = 0, len(token)
    while start < end and unicodedata.category(token[start]).startswith("P"):
        start += 1
    while end > start and unicodedata.category(token[end - 1]).startswith("P"):
        end -= 1
    return token[start:end]


def encode(sentences: list[list[str]], min_count: int = 5, max_vocab: int | None = None,
           path: Path | str = "<text>") -> Corpus:
    """The vocabulary (count >= `min_count`, most frequent first, ties in alphabetical order,
    at most `max_vocab` words) and the corpus as its ids. An empty corpus, or one whose every
    word is rarer than `min_count`, is an InputError naming the file."""
    counts = Counter(w for s in sentences for w in s)
    if not counts:
        raise InputError(f"{path}: the corpus holds no words", None,
                         hint="give a text file with whitespace-separated words")
    kept = sorted((w for w, c in counts.items() if c >= min_count),
                  key=lambda w: (-counts[w], w))[:max_vocab]
    if not kept:
        top = max(counts.values())
        raise InputError(f"{path}: no word occurs `min_count: {min_count}` times or more (the "
                         f"most frequent occurs {top} times, in {sum(counts.values())} words)",
                         None, hint=f"lower `min_count` to at most {top}, or give a larger "
                                    "corpus")
    index = {w: i for i, w in enumerate(kept)}
    every = np.fromiter((index.get(w, -1) for s in sentences for w in s), dtype=np.int64)
    line = np.repeat(np.arange(len(sentences), dtype=np.int64), [len(s) for s in sentences])
    known = every >= 0                          # words rarer than min_count are dropped
    ids_arr = every[known]
    return Corpus(ids_arr, line[known], kept,
                  np.bincount(ids_arr, minlength=len(kept)).astype(np.int64))


def keep_probability(counts: np.ndarray, sample: float) -> np.ndarray:
    """[V] float64: the chance each word's occurrence survives subsampling (module docstring);
    all ones when `sample` is 0.

    >>> keep_probability(np.array([1000, 10, 1]), 1e-2).round(3).tolist()
    [0.111, 1.0, 1.0]
    """
    counts = np.asarray(counts, dtype=np.float64)
    if sample <= 0:
        return np.ones_like(counts)
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def noise_distribution(counts: np.ndarray, power: float = UNIGRAM_POWER) -> np.ndarray:
    """[V] float64: P(w) ∝ count(w)^power, the negatives' distribution."""
    weights = np.asarray(counts, dtype=np.float64) ** power
    return weights / weights.sum()
