"""Word embeddings judged and written: the word2vec text format, nearest neighbours by cosine,
and `netspec eval RUN --similarity FILE.tsv`, the Spearman rank correlation between the
embeddings' cosine similarities and human judgements (WordSim353's format).

A judgements file holds `word1<TAB>word2<TAB>score` lines; `#` lines and a first line whose
score is not a number (a header) are skipped; words are compared lowercased. A pair with a
word the vocabulary lacks is skipped and counted (`oov_pairs`), as gensim's
`evaluate_word_pairs` does.

Spearman's ρ is the Pearson correlation of the two lists' ranks, ties given their mean rank.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from netspec.errors import InputError, Location
from netspec.training import read_bounds as bounds

MAX_JUDGEMENTS_BYTES = 2**24        # 16 MiB: WordSim353 is 8 KiB, SimLex-999 40 KiB


def format_vec(words: list[str], vectors: np.ndarray) -> str:
    """word2vec's text format: `V D`, then `word v_1 ... v_D` per word (what gensim's
    `KeyedVectors.load_word2vec_format(path)` reads)."""
    lines = [f"{len(words)} {vectors.shape[1]}\n"]
    for word, row in zip(words, vectors):
        lines.append(word + " " + " ".join(f"{float(v):.6g}" for v in row) + "\n")
    return "".join(lines)


def unit_rows(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def neighbours(vectors: np.ndarray, words: list[str], queries: list[str],
               k: int = 5) -> dict[str, list[tuple[str, float]]]:
    """The `k` words nearest (cosine) to each query word, with their similarities."""
    unit = unit_rows(np.asarray(vectors, dtype=np.float64))
    index = {w: i for i, w in enumerate(words)}
    out = {}
    for q in queries:
        sims = unit @ unit[index[q]]
        sims[index[q]] = -np.inf
        best = np.argsort(-sims, kind="stable")[:k]
        out[q] = [(words[i], round(float(sims[i]), 4)) for i in best]
    return out


def ranks(values) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank.

    >>> ranks([10, 20, 20, 5]).tolist()
    [2.0, 3.5, 3.5, 1.0]
    """
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    out = np.empty(len(values))
    sorted_values = values[order]
    i = 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and sorted_values[j + 1] == sorted_values[i]:
            j += 1
        out[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(a, b) -> float:
    """Spearman's ρ of two equally long lists (NaN when either is constant or shorter than 2).

    >>> spearman([1, 2, 3, 4], [10, 20, 30, 40])
    1.0
    >>> spearman([1, 2, 3], [3, 2, 1])
    -1.0
    """
    if len(a) < 2:
        return math.nan
    ra, rb = ranks(a), ranks(b)
    ra, rb = ra - ra.mean(), rb - rb.mean()
    denom = math.sqrt(float((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / denom) if denom > 0 else math.nan


def read_judgements(path: Path) -> list[tuple[str, str, float]]:
    """(word1, word2, score) of a judgements file (module docstring); a malformed line is an
    InputError at its line."""
    bounds.regular_file(path, "similarity file", MAX_JUDGEMENTS_BYTES)
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise InputError(f"not UTF-8 text (byte {raw[e.start:e.start + 1]!r})",
                         Location(str(path), line, 1), hint="save the file as UTF-8") from None
    pairs = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.split("\t") if "\t" in line else line.split()
        if len(fields) < 3:
            raise InputError(f"expected `word1<TAB>word2<TAB>score`, got {line[:60]!r}",
                             Location(str(path), n, 1),
                             hint="WordSim353's format: two words and a number per line")
        try:
            score = float(fields[2])
        except ValueError:
            if not pairs and n == _first_content_line(text):
                continue            # a header: `Word 1  Word 2  Human (mean)`
            raise InputError(f"the score {fields[2][:30]!r} is not a number",
                             Location(str(path), n, len(fields[0]) + len(fields[1]) + 3)
                             ) from None
        if not math.isfinite(score):
            raise InputError(f"the score {fields[2]!r} is not a finite number",
                             Location(str(path), n, 1))
        pairs.append((fields[0].strip().lower(), fields[1].strip().lower(), score))
    if not pairs:
        raise InputError(f"{path}: no word pairs with scores", None,
                         hint="WordSim353's format: `word1<TAB>word2<TAB>score` lines")
    return pairs


def _first_content_line(text: str) -> int:
    for n, line in enumerate(text.splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith("#"):
            return n
    return 0


def score_pairs(vectors: np.ndarray, words: list[str], pairs) -> dict:
    """{"spearman", "pairs" (scored), "oov_pairs" (skipped)} of the embeddings on `pairs`."""
    unit = unit_rows(np.asarray(vectors, dtype=np.float64))
    index = {w.lower(): i for i, w in reversed(list(enumerate(words)))}
    ours, theirs, skipped = [], [], 0
    for a, b, score in pairs:
        if a not in index or b not in index:
            skipped += 1
            continue
        ours.append(float(unit[index[a]] @ unit[index[b]]))
        theirs.append(score)
    return {"spearman": spearman(ours, theirs), "pairs": len(ours), "oov_pairs": skipped}


def evaluate_similarity(run_path, judgements, checkpoint: str | None = "best",
                        device: str = "cpu") -> dict:
    """{"run", "file", "checkpoint", "spearman", "pairs", "oov_pairs"}: the run's embeddings
    (its network's output for every word of its vocab.txt, from the verified checkpoint) on
    the judgements file."""
    from netspec.compiler.build import build
    from netspec.training.distributed import pick_device
    from netspec.training.rundir import RunDir, resolve_run
    from netspec.training.tasks.negative_sampling import embeddings

    run = RunDir(resolve_run(run_path))
    words = read_vocab(run)
    pairs = read_judgements(Path(judgements))
    spec = run.read_spec()
    model = build(spec)
    name = run.checkpoint_name(checkpoint)
    try:
        model.load_state_dict(run.read_weights(name))
    except RuntimeError as err:
        raise InputError(f"{run.path}: the {name} checkpoint does not fit its spec.yaml: "
                         f"{str(err).strip().splitlines()[-1].strip()[:200]}", None,
                         hint="evaluate a run directory as training wrote it") from None
    dev = pick_device(device)
    vectors = embeddings(model.to(dev), len(words), dev).numpy()
    return {"run": str(run), "file": str(judgements), "checkpoint": name,
            **score_pairs(vectors, words, pairs)}


def read_vocab(run) -> list[str]:
    """The words of a word2vec run's vocab.txt (`word count` lines), in id order."""
    path = run.file("vocab.txt")
    if not path.is_file():
        raise InputError(f"{run.path} holds no vocab.txt: it is not a finished skipgram or "
                         f"cbow run", None, hint="--similarity scores word embeddings; train "
                         "a spec with `task: skipgram` (or cbow) first")
    bounds.regular_file(path, "vocabulary", bounds.MAX_DATA_BYTES)
    words = [line.rsplit(" ", 1)[0] for line in path.read_text(encoding="utf-8").splitlines()
             if line]
    if not words:
        raise InputError(f"{path} is empty", None, hint="the run's training did not finish")
    return words
