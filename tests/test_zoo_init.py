"""Every classifier of the zoo starts near a uniform guess: built with seed 0 under its own
`init:` (`auto` unless it says otherwise), its mean cross-entropy on normalised inputs is within
1 nat of ln(classes), in eval mode and with batch norms on batch statistics (as the trainer's
start-up check and the first step see it), and the start-up check finds no activations
vanishing or exploding through depth.

The classifiers are found, not listed: every one-network spec of specs/ whose output is a class
vector [C] (C >= 2) and whose `train:` (if any) is not another task (word2vec's [100] vectors
are embeddings, task skipgram). A spec with a `cpu` variant is checked there; the 224x224
torchvision nets at batch 2.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import netspec

torch = pytest.importorskip("torch")

SPECS = Path(__file__).resolve().parents[1] / "specs"
SLOW = {"vgg11_tv", "vit_b_16"}          # > 2 s each on one CPU core at batch 2
TOLERANCE = 1.0                          # nats from ln(classes)


def classifiers() -> list[str]:
    found = []
    for path in sorted(SPECS.glob("*.yaml")):
        spec = netspec.load(path)
        if getattr(spec, "networks", None) or (spec.train or {}).get("task") not in (
                None, "classify"):
            continue
        report = netspec.check(spec, variant="cpu" if "cpu" in (spec.variants or {}) else None)
        outputs = list(report.outputs.values())
        if len(outputs) == 1 and len(outputs[0]) == 1 and outputs[0][0] >= 2:
            found.append(path.stem)
    return found


CLASSIFIERS = classifiers()


def _batch(report, n: int):
    """n normalised inputs (N(0, 1); token ids below the smallest embedding's vocabulary)."""
    g = torch.Generator().manual_seed(0)
    (inp,) = report.graph.inputs.values()
    shape = [int(d) for d in inp.shape]
    if inp.dtype == "long":
        vocab = min(node.args.vocab for node in report.graph if node.kind == "embedding")
        return torch.randint(0, vocab, (n, *shape), generator=g)
    return torch.randn(n, *shape, generator=g)


def test_the_zoo_classifiers_are_found():
    # the spot checks of the rule: the classic nets, the torchvision ones, an MLP, a token
    # classifier; no regression or embedding net
    for name in ("lenet5", "alexnet", "googlenet", "densenet", "resnet50_tv", "vit_b_16",
                 "mlp", "text_transformer"):
        assert name in CLASSIFIERS
    for name in ("lstm_seq", "linear_regression", "word2vec_skipgram", "unet",
                 "dcgan_discriminator"):
        assert name not in CLASSIFIERS


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n
                                  for n in CLASSIFIERS])
def test_a_zoo_classifier_starts_near_ln_classes(name):
    from netspec.training.diagnostics_start import activation_depth, probe_start

    variant = "cpu" if "cpu" in (netspec.load(SPECS / f"{name}.yaml").variants or {}) else None
    spec = netspec.load(SPECS / f"{name}.yaml", variant=variant)
    report = netspec.check(spec)
    (out,) = report.outputs.values()
    classes = out[0]
    x = _batch(report, 2 if math.prod(x for x in next(iter(report.graph.inputs.values())).shape
                                      if isinstance(x, int)) > 50_000 else 16)
    y = torch.randint(0, classes, (len(x),), generator=torch.Generator().manual_seed(1))
    model = netspec.build(spec, seed=0).eval()
    with torch.no_grad():
        eval_loss = float(torch.nn.functional.cross_entropy(model(x), y))
    batch_loss, _, stds = probe_start(model, x, y, torch.nn.functional.cross_entropy, 0)
    chance = math.log(classes)
    assert abs(eval_loss - chance) < TOLERANCE, (eval_loss, chance)
    assert abs(batch_loss - chance) < TOLERANCE, (batch_loss, chance)
    assert activation_depth(stds) is None


# ---- the rule behind it ------------------------------------------------------------------------

def test_a_narrowing_conv_before_a_relu_keeps_the_variance_forward():
    """He init reads fan_out for a conv (as torchvision), but a conv with more input channels
    than output would then multiply the variance by in/out: GoogLeNet's 1x1 reductions took the
    zoo net to cross-entropy ~100. A narrowing conv reads fan_in; a widening one fan_out."""
    m = netspec.build("input: [256, 8, 8]\nlayers:\n"
                      "  - conv: {out: 16, kernel: 1}\n    id: narrow\n  - relu\n"
                      "  - conv: {out: 64, kernel: 3, padding: 1}\n    id: wide\n  - relu\n",
                      seed=0)
    assert m.narrow.weight.std().item() == pytest.approx(math.sqrt(2 / 256), rel=0.05)
    assert m.wide.weight.std().item() == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)


def test_the_start_probe_normalises_with_batch_statistics_and_restores_them():
    """A fresh batchnorm's running statistics (0 and 1) would pass activations through
    unscaled in eval mode; the probe uses the batch's, as the first step does, and leaves the
    buffers as they were."""
    import copy

    from netspec.training.diagnostics_start import probe_start

    model = netspec.build("input: [3, 8, 8]\nlayers:\n  - conv: {out: 8, kernel: 3}\n"
                          "  - batchnorm:\n    id: bn\n  - relu\n  - global_avgpool\n"
                          "  - linear: 4\n", seed=0)
    before = {k: v.clone() for k, v in model.bn.state_dict().items()}
    x = 50 + 10 * torch.randn(32, 3, 8, 8)            # far from the fresh running mean 0, var 1
    _, out, _ = probe_start(model, x, torch.zeros(32, dtype=torch.long),
                            torch.nn.functional.cross_entropy, 0)
    batch_stats = copy.deepcopy(model).eval()
    batch_stats.bn.train()
    with torch.no_grad():
        torch.testing.assert_close(out, batch_stats(x))
        assert not torch.allclose(out, model.eval()(x))
    for key, value in model.bn.state_dict().items():
        assert torch.equal(value, before[key]), key
