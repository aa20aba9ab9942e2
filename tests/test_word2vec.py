"""Word2Vec (`skipgram`, `cbow`): the text corpus (tokens, min_count, subsampling, the noise
table), the SGNS loss against its formula, Spearman against scipy, a short run whose
embeddings.vec gensim loads, `eval --similarity`, located errors for bad corpora, and resume
after a crash bit-identical."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from netspec.errors import InputError, SpecError
from netspec.training.data.text import (encode, keep_probability, noise_distribution,
                                        read_sentences, tokenise)
from netspec.training.similarity import (read_judgements, score_pairs, spearman)
from netspec.training.tasks import negative_sampling as ns

SPEC = """\
name: w2v
input: {{shape: [1], dtype: long}}
layers:
  - embedding: {{vocab: 64, dim: 8}}
  - flatten: {{}}
train:
  task: {task}
  data: {{text: corpus.txt, min_count: 2, window: 2, negatives: 3}}
  epochs: {epochs}
  batch_size: 32
  threads: 1
{extra}"""


def corpus_text(lines: int = 40, seed: int = 0) -> str:
    """Two topics whose words co-occur within a line: animals, and numbers."""
    rng = np.random.default_rng(seed)
    topics = [["cat", "dog", "horse", "cow", "sheep", "goat"],
              ["one", "two", "three", "four", "five", "six"]]
    out = []
    for i in range(lines):
        words = rng.choice(topics[i % 2], size=8)
        out.append(" ".join(words) + (" the end." if i % 3 == 0 else ""))
    return "\n".join(out) + "\n"


def write_spec(tmp_path: Path, task: str = "skipgram", epochs: int = 1, extra: str = "",
               text: str | None = None) -> Path:
    (tmp_path / "corpus.txt").write_text(corpus_text() if text is None else text)
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(task=task, epochs=epochs, extra=extra))
    return path


def cli(*args):
    from click.testing import CliRunner

    from netspec.cli.main import main

    return CliRunner().invoke(main, [str(a) for a in args])


# ---- the corpus ----------------------------------------------------------------------------

def test_tokenise_splits_lowercases_and_strips_edge_punctuation():
    assert tokenise('He said: "Hill Top." (south-west)') == \
        ["he", "said", "hill", "top", "south-west"]
    assert tokenise("A -- b", lowercase=False) == ["A", "b"]
    assert tokenise("Dr. x", strip=False) == ["dr.", "x"]


def test_min_count_and_max_vocab_order_the_vocabulary_by_frequency():
    sentences = [["b", "a", "b", "c"], ["a", "b", "d", "d"]]
    c = encode(sentences, min_count=2)
    assert c.words == ["b", "a", "d"]                 # b 3, then a and d 2 (alphabetical)
    assert c.counts.tolist() == [3, 2, 2]
    assert c.ids.tolist() == [0, 1, 0, 1, 0, 2, 2]    # the rare `c` dropped before windows
    assert c.sentence.tolist() == [0, 0, 0, 1, 1, 1, 1]
    assert encode(sentences, min_count=1, max_vocab=2).words == ["b", "a"]


def test_subsampling_is_word2vecs_formula():
    counts = np.array([5000, 300, 20, 1])
    t = 1e-3
    total = counts.sum()
    expected = np.minimum(1, (np.sqrt(counts / (t * total)) + 1) * (t * total) / counts)
    assert np.allclose(keep_probability(counts, t), expected)
    assert keep_probability(counts, t)[0] < 0.1 and keep_probability(counts, t)[-1] == 1
    assert (keep_probability(counts, 0.0) == 1).all()


def test_negatives_follow_the_unigram_distribution_to_the_three_quarters():
    counts = np.array([81, 16, 1])
    p = noise_distribution(counts)
    assert np.allclose(p, np.array([27, 8, 1]) / 36)
    drawn = ns.draw_noise(torch.from_numpy(np.cumsum(p)), (36000,),
                          torch.Generator().manual_seed(0))
    freq = np.bincount(drawn.numpy(), minlength=3) / 36000
    assert np.allclose(freq, p, atol=0.01)


def test_windows_stay_on_their_line_and_within_the_reduced_window():
    ids = np.arange(6)                     # one word per id: ids are positions
    sentence = np.array([0, 0, 0, 0, 1, 1])
    plan = ns.plan_epoch(ids, sentence, np.ones(6), 2, 0, "cpu")
    plan.reach[:] = 2                      # the whole window, to know the answer
    centers, contexts, valid = ns.windows(plan, torch.arange(6), 2)
    got = {int(c): sorted(int(x) for x, v in zip(ctx, ok) if v)
           for c, ctx, ok in zip(centers, contexts, valid)}
    assert got == {0: [1, 2], 1: [0, 2, 3], 2: [0, 1, 3], 3: [1, 2], 4: [5], 5: [4]}
    plan.reach[:] = 1
    _, _, valid = ns.windows(plan, torch.tensor([1]), 2)
    assert valid.sum() == 2


def test_shared_noise_loss_is_its_formula():
    g = torch.Generator().manual_seed(0)
    h, out = torch.randn(4, 3, generator=g), torch.randn(6, 3, generator=g)
    targets, noise, k = torch.tensor([0, 1, 2, 3]), torch.tensor([4, 5, 0]), 5
    sig = torch.sigmoid
    expected = sum(-torch.log(sig(out[t] @ h[i])) -
                   (k / 3) * sum(torch.log(sig(-out[n] @ h[i])) for n in noise)
                   for i, t in enumerate(targets))
    assert torch.allclose(ns.shared_sgns_loss(h, out, targets, noise, k), expected)


# ---- similarity ----------------------------------------------------------------------------

def test_spearman_agrees_with_scipy_on_ties():
    from scipy.stats import spearmanr

    rng = np.random.default_rng(1)
    a, b = rng.integers(0, 5, 40), rng.normal(size=40)
    assert spearman(a, b) == pytest.approx(spearmanr(a, b).statistic, abs=1e-12)


def test_judgements_skip_comments_headers_and_count_oov_pairs(tmp_path):
    tsv = tmp_path / "sim.tsv"
    tsv.write_text("# a comment\nWord 1\tWord 2\tHuman (mean)\ncat\tdog\t9\n"
                   "cat\tone\t1\none\ttwo\t8\ncat\tzebra\t5\n")
    pairs = read_judgements(tsv)
    assert pairs[0] == ("cat", "dog", 9.0) and len(pairs) == 4
    words = ["cat", "dog", "one", "two"]
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 0.9]])
    result = score_pairs(vectors, words, pairs)
    # cosines [0.994, 0, 0.994] rank 2.5, 1, 2.5; scores [9, 1, 8] rank 3, 1, 2: ρ = √3 / 2
    assert result == {"spearman": pytest.approx(np.sqrt(3) / 2), "pairs": 3, "oov_pairs": 1}
    tsv.write_text("cat\tdog\t9\ncat\tone\tmuch\n")
    with pytest.raises(InputError, match="the score 'much' is not a number"):
        read_judgements(tsv)


# ---- training ------------------------------------------------------------------------------

@pytest.mark.parametrize("task", ["skipgram", "cbow"])
def test_one_epoch_writes_embeddings_gensim_loads(tmp_path, task):
    from gensim.models import KeyedVectors

    import netspec

    run = netspec.train(str(write_spec(tmp_path, task)), out=str(tmp_path / "runs"),
                        quiet=True)
    assert run.ok
    kv = KeyedVectors.load_word2vec_format(str(run.path / "embeddings.vec"))
    vocab = [line.split()[0] for line in (run.path / "vocab.txt").read_text().splitlines()]
    assert list(kv.index_to_key) == vocab and kv.vector_size == 8
    counts = Counter(tokenise(" ".join(corpus_text().split())))
    assert vocab[0] == max(counts, key=counts.get)
    assert set(run.summary["neighbours"]) <= set(vocab)
    assert all(len(v) == 5 for v in run.summary["neighbours"].values())
    assert run.summary["vocab"] == len(vocab)


def test_eval_similarity_from_the_command_line(tmp_path):
    spec = write_spec(tmp_path, epochs=2)
    assert cli("train", spec, "--out", tmp_path / "runs", "-q").exit_code == 0
    tsv = tmp_path / "sim.tsv"
    tsv.write_text("cat\tdog\t9\ncat\tone\t1\nzebra\tcat\t3\n")
    out = cli("eval", tmp_path / "runs" / "w2v" / "latest", "--similarity", tsv, "--json")
    assert out.exit_code == 0, out.output
    result = json.loads(out.output)
    assert result["pairs"] == 2 and result["oov_pairs"] == 1
    assert result["spearman"] in (-1.0, 1.0)
    text = cli("eval", tmp_path / "runs" / "w2v" / "latest", "--similarity", tsv)
    assert "over 2 pairs (1 skipped" in text.output


def test_eval_similarity_of_a_classifier_run_says_what_it_needs(tmp_path):
    from netspec.training.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    (run.path / "spec.yaml").write_text("name: classifier\n")
    (tmp_path / "sim.tsv").write_text("a\tb\t1\n")
    out = cli("eval", run.path, "--similarity", tmp_path / "sim.tsv")
    assert out.exit_code == 1
    assert "holds no vocab.txt: it is not a finished skipgram or cbow run" in out.stderr


@pytest.mark.parametrize("text, message", [
    (b"cat dog\ncat \xff dog\n", r"corpus.txt:2:5: error: not UTF-8 text: byte b'\\xff'"),
    (b"  \n\n", "the corpus holds no words"),
    (b"cat dog horse\n", "no word occurs `min_count: 2` times or more"),
])
def test_bad_corpora_are_located_errors(tmp_path, text, message):
    spec = write_spec(tmp_path)
    (tmp_path / "corpus.txt").write_bytes(text)
    out = cli("train", spec, "--out", tmp_path / "runs")
    assert out.exit_code == 1, out.output
    assert message.replace("\\\\", "\\") in out.stderr or \
        __import__("re").search(message, out.stderr), out.stderr
    assert "Traceback" not in out.stderr


def test_a_vocabulary_larger_than_the_embedding_is_located(tmp_path):
    spec = write_spec(tmp_path, text=" ".join(f"w{i} w{i}" for i in range(80)) + "\n")
    import netspec

    with pytest.raises(SpecError, match="the corpus has 80 words .* more than the network's "
                                        "embedding takes"):
        netspec.train(str(spec), out=str(tmp_path / "runs"), quiet=True)


def test_text_from_a_folder_is_refused(tmp_path):
    (tmp_path / "dir").mkdir()
    with pytest.raises(InputError, match="is not a regular file"):
        read_sentences(tmp_path / "dir")


# ---- resume --------------------------------------------------------------------------------

def _wait_for(path: Path, ready, process, limit: float = 240.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be killed"
        try:
            if ready(json.loads(path.read_text())):
                return
        except (FileNotFoundError, json.JSONDecodeError):
            pass
        time.sleep(0.002)
    raise AssertionError("no checkpoint appeared")


@pytest.mark.slow
@pytest.mark.parametrize("task", ["skipgram", "cbow"])
def test_kill_9_then_resume_is_bit_identical(tmp_path, task):
    from safetensors.torch import load_file

    import netspec

    epochs = 40
    spec = write_spec(tmp_path, task, epochs, extra="  checkpoint_every: 3\n",
                      text=corpus_text(lines=120))
    assert netspec.train(str(spec), out=str(tmp_path / "whole"), quiet=True).ok
    run = tmp_path / "killed" / "w2v" / "1"
    process = subprocess.Popen([sys.executable, "-m", "netspec", "train", str(spec), "--out",
                                str(tmp_path / "killed"), "-q"], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        _wait_for(run / "last.json", lambda s: s["epoch"] >= 1 and s["batch"] > 0, process)
    finally:
        process.kill()
        process.wait()
    assert json.loads((run / "last.json").read_text())["epoch"] < epochs
    resumed = subprocess.run([sys.executable, "-m", "netspec", "train", "--resume", str(run),
                              "-q"], capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    whole = tmp_path / "whole" / "w2v" / "1"
    for name in ("last.safetensors", "last.state.safetensors"):
        a, b = load_file(whole / name), load_file(run / name)
        assert a.keys() == b.keys()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert (whole / "embeddings.vec").read_bytes() == (run / "embeddings.vec").read_bytes()


def test_interrupted_mid_epoch_then_resumed_is_bit_identical(tmp_path, monkeypatch):
    """A crash inside an epoch (the process dies between two steps, after a checkpoint):
    the resumed run ends with the uninterrupted run's weights, output embedding and rows."""
    from safetensors.torch import load_file

    import netspec
    from netspec.training.tasks.word2vec import Word2Vec

    spec = write_spec(tmp_path, "cbow", 3, extra="  checkpoint_every: 4\n",
                      text=corpus_text(lines=60))
    assert netspec.train(str(spec), out=str(tmp_path / "whole"), quiet=True).ok

    class Killed(BaseException):
        """Not an Exception: nothing on the way up handles it, as with kill -9."""

    step, calls = Word2Vec.step, {"n": 0}

    def dying_step(self, t, x, y):
        calls["n"] += 1
        if calls["n"] == 14:                      # after the checkpoint at step 12
            raise Killed
        step(self, t, x, y)

    monkeypatch.setattr(Word2Vec, "step", dying_step)
    with pytest.raises(Killed):
        netspec.train(str(spec), out=str(tmp_path / "killed"), quiet=True)
    monkeypatch.setattr(Word2Vec, "step", step)
    run = tmp_path / "killed" / "w2v" / "1"
    state = json.loads((run / "last.json").read_text())
    assert state["batch"] > 0                     # the checkpoint is inside an epoch
    assert netspec.train(resume=str(run), quiet=True).ok
    whole = tmp_path / "whole" / "w2v" / "1"
    a, b = load_file(whole / "last.state.safetensors"), load_file(run / "last.state.safetensors")
    assert a.keys() == b.keys() and "@task.output" in a
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert (whole / "metrics.csv").read_text().split("\n")[1].split(",")[:3] == \
        (run / "metrics.csv").read_text().split("\n")[1].split(",")[:3]
