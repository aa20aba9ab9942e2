"""Word2Vec (`skipgram`, `cbow`): the text corpus (tokens, min_count, subsampling, the noise
table), the SGNS loss against its formula and its written-out gradients against autograd,
Spearman against scipy, a short run whose embeddings.vec gensim loads, `eval --similarity`,
located errors for bad corpora, resume after a crash bit-identical, and `embedding: {sparse:
true}` (row gradients, and the optimizers and clipping that cannot take them)."""

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


def _reference_loss(h, out, targets, owners, noise, k):
    """The per-pair SGNS loss with shared noise, written out: Σ_p -log σ(u_t·h) - (K/S) Σ_s
    log σ(-u_s·h)."""
    sig = torch.sigmoid
    return sum(-torch.log(sig(out[t] @ h[o])) -
               (k / len(noise)) * sum(torch.log(sig(-out[n] @ h[o])) for n in noise)
               for t, o in zip(targets, owners))


def test_sgns_is_its_formula_and_its_gradients_are_autograds():
    g = torch.Generator().manual_seed(0)
    h = torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True)
    out = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    targets, owners = torch.tensor([0, 1, 2, 3, 5, 1]), torch.tensor([0, 0, 1, 2, 3, 3])
    noise, k = torch.tensor([4, 5, 0, 4]), 5               # a repeated noise word adds up
    expected = _reference_loss(h, out, targets, owners, noise, k)
    expected.backward()
    weights = torch.bincount(owners, minlength=4)           # pairs per row of h
    loss, grad_h, rows, grads = ns.sgns(h.detach(), out.detach(), targets, owners, weights,
                                        noise, k)
    assert torch.allclose(loss, expected)
    assert torch.allclose(grad_h, h.grad)
    dense = torch.zeros_like(out).index_add_(0, rows, grads)
    assert torch.allclose(dense, out.grad)


@pytest.mark.parametrize("task", ["skipgram", "cbow"])
def test_updates_give_the_network_and_the_output_table_the_losss_gradients(task):
    """The hand-written step against autograd of the loss the module docstring states: the
    sparse embedding's row gradients and the output table's rows."""
    from torch import nn

    g = torch.Generator().manual_seed(1)
    net = nn.Sequential(nn.Embedding(9, 4, sparse=True), nn.Flatten()).double()
    out = torch.randn(9, 4, generator=g, dtype=torch.float64, requires_grad=True)
    centers = torch.tensor([0, 3, 5, 7])
    contexts = torch.tensor([[1, 2, 4, 6], [0, 1, 2, 8], [3, 3, 4, 2], [1, 1, 1, 1]])
    valid = torch.tensor([[1, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0], [0, 0, 0, 0]]).bool()
    noise, k = torch.tensor([2, 8, 8]), 3
    update = (ns.skipgram_update if task == "skipgram" else ns.cbow_update)(
        net, out.detach(), centers, contexts, valid, noise, k)
    update.loss.backward()
    got = net[0].weight.grad
    assert got.is_sparse
    got = got.to_dense()
    net.zero_grad()
    rows, cols = valid.nonzero(as_tuple=True)
    if task == "skipgram":
        h = net(centers[:, None])
        expected = _reference_loss(h, out, contexts[rows, cols], rows, noise, k)
        assert update.pairs == len(rows)
    else:
        each = net(contexts.reshape(-1, 1)).reshape(4, 4, -1) * valid[:, :, None]
        some = valid.any(1)
        total, count = each.sum(1)[some], valid.sum(1, keepdim=True)[some]
        h = (total / count).detach() + (total - total.detach())   # the whole gradient
        expected = _reference_loss(h, out, centers[some], range(int(some.sum())), noise, k)
        assert update.pairs == int(some.sum())
    expected.backward()
    assert torch.allclose(update.loss, expected)
    assert torch.allclose(got, net[0].weight.grad.to_dense())
    dense = torch.zeros_like(out).index_add_(0, update.rows, update.grads)
    assert torch.allclose(dense, out.grad)


def test_a_batch_without_pairs_is_no_update():
    from torch import nn

    net = nn.Sequential(nn.Embedding(4, 2), nn.Flatten())
    none = torch.zeros(2, 2, dtype=torch.bool)
    for update in (ns.skipgram_update, ns.cbow_update):
        assert update(net, torch.zeros(4, 2), torch.tensor([0, 1]), torch.tensor([[1, 2], [0, 3]]),
                      none, torch.tensor([1]), 5) is None


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


@pytest.mark.parametrize("optimizer", ["{adam: 0.01}", "{adagrad: 0.1}"])
def test_the_output_table_trains_with_dense_or_row_gradients(tmp_path, optimizer):
    """adam takes no sparse gradient (the output table's is made dense), adagrad does."""
    from safetensors.torch import load_file

    import netspec

    spec = write_spec(tmp_path, "skipgram", extra=f"  optimizer: {optimizer}\n")
    run = netspec.train(str(spec), out=str(tmp_path / "runs"), quiet=True)
    assert run.ok and np.isfinite(run.summary["train"]["loss"])
    state = load_file(run.path / "last.state.safetensors")
    assert state["@task.output"].abs().sum() > 0          # it starts at zeros


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


# ---- sparse embeddings ---------------------------------------------------------------------

SPARSE = """\
name: bag
input: {shape: [4], dtype: long}
layers:
  - embedding: {vocab: 50, dim: 8, sparse: true}
  - flatten: {}
  - linear: 2
train:
  data: {name: tokens, vocab: 50, seq: 4, samples: 64}
  epochs: 1
  threads: 1
"""


def test_a_sparse_embedding_builds_row_gradients_with_the_same_parameters():
    import netspec

    from torch import nn

    def table(model):
        return next(m for m in model.modules() if isinstance(m, nn.Embedding))

    sparse = netspec.build(SPARSE)
    dense = netspec.build(SPARSE.replace(", sparse: true", ""))
    assert table(sparse).sparse and not table(dense).sparse
    assert sum(p.numel() for p in sparse.parameters()) == \
        sum(p.numel() for p in dense.parameters())
    sparse(torch.tensor([[1, 2, 2, 3]])).sum().backward()
    grad = table(sparse).weight.grad
    assert grad.is_sparse and set(grad.coalesce().indices()[0].tolist()) == {1, 2, 3}


@pytest.mark.parametrize("extra, message, line", [
    ("  optimizer: adam\n", "the optimizer `adam` cannot step on the row gradients of the "
                            "embedding", 11),
    ("  optimizer: {sgd: {lr: 0.1, weight_decay: 0.01}}\n", "the optimizer `sgd` with "
                                                           "weight_decay cannot step", 11),
    ("  optimizer: sgd\n  clip_grad_norm: 1.0\n", "`clip_grad_norm` cannot clip the row "
                                                 "gradients", 12),
])
def test_a_sparse_embedding_with_what_cannot_take_row_gradients_is_located(tmp_path, extra,
                                                                           message, line):
    spec = tmp_path / "bag.yaml"
    spec.write_text(SPARSE + extra)
    for command in (["check", spec], ["train", spec, "--out", tmp_path / "runs", "-q"]):
        out = cli(*command)
        assert out.exit_code == 1, out.output
        assert f"bag.yaml:{line}:" in out.stderr and message in out.stderr, out.stderr
        assert "hint:" in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "runs").exists()


def test_a_sparse_embedding_trains_with_sgd(tmp_path):
    import netspec

    spec = tmp_path / "bag.yaml"
    spec.write_text(SPARSE + "  optimizer: {sgd: 0.1}\n")
    assert netspec.train(str(spec), out=str(tmp_path / "runs"), quiet=True).ok
