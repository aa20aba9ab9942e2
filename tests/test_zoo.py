"""The model zoo (specs/*.yaml) against the figures of its references (issue 4).

- every figure of the issue's table: parameters exactly, output shape, the listed intermediate
  shapes, MACs within 0.5% where the table gives them;
- `netspec check specs/<each>.yaml` exits 0, and its `--json` equals tests/golden/<spec>.json
  exactly (regenerate after a deliberate change: `.venv/bin/python scripts/update_golden.py`,
  then review the diff);
- docs/zoo.md and docs/blocks.md are what scripts/gen_zoo_docs.py generates;
- the torchvision variants compute what torchvision computes, given its weights (skipped when
  torchvision is not installed: it is not beside our torch here).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
GOLDEN = ROOT / "tests" / "golden"
ZOO = sorted(p.stem for p in SPECS.glob("*.yaml"))

# spec -> (input, output, params, MACs or None); figures from the table. The reference
# figures of the *_tv networks are torchvision's (sum of parameters(); MACs as its docs' GFLOPS).
FIGURES = {
    "lenet5": ([1, 28, 28], [10], 61_706, None),
    "alexnet": ([1, 224, 224], [10], 46_764_746, None),
    "alexnet_tv": ([3, 224, 224], [1000], 61_100_840, 0.714e9),
    "vgg11": ([1, 224, 224], [10], 128_806_154, None),
    "vgg11_tv": ([3, 224, 224], [1000], 132_863_336, 7.609e9),
    "nin": ([1, 224, 224], [10], 1_992_166, None),
    "googlenet": ([1, 96, 96], [10], 5_977_530, None),
    "googlenet_tv": ([3, 224, 224], [1000], 6_624_904, 1.498e9),
    "resnet18": ([1, 96, 96], [10], 11_178_378, None),
    "resnet18_tv": ([3, 224, 224], [1000], 11_689_512, 1.814e9),
    "resnet50_tv": ([3, 224, 224], [1000], 25_557_032, 4.089e9),
    "densenet": ([1, 96, 96], [10], 758_226, None),
    "densenet121_tv": ([3, 224, 224], [1000], 7_978_856, 2.834e9),
    # round 2 (issue 13); torchvision's docs round these GFLOPS to 2 digits: MACs for ViT only
    "mobilenet_v3_large_tv": ([3, 224, 224], [1000], 5_483_032, None),
    "efficientnet_b0_tv": ([3, 224, 224], [1000], 5_288_548, None),
    "vit_b_16": ([3, 224, 224], [1000], 86_567_656, 17.56e9),
    "shufflenet_v2_x1_0_tv": ([3, 224, 224], [1000], 2_278_604, None),
    "convnext_tiny": ([3, 224, 224], [1000], 28_589_128, 4.46e9),
    # computed from the layers (tests/test_zoo_2c.py checks it against a plain-torch U-Net)
    "unet": ([1, 64, 64], [2, 64, 64], 482_466, None),
    # its default variant; test_zoo_2c.py checks resnet34 and resnet50 too
    "resnet": ([3, 224, 224], [1000], 11_689_512, 1.814e9),
    # 16*32 + 32 + 25*32 + 2 * (4*32*32 + 4*32 + 2*32*64 + 64 + 32 + 4*32) + 2*32 + 32*2 + 2
    "text_transformer": ([24], [2], 18_562, None),
    # computed: 64*256 + 256 + 256*10 + 10; 64*10 + 10; 8 + 1
    "mlp": ([64], [10], 19_210, None),
    "softmax_regression": ([64], [10], 650, None),
    "linear_regression": ([8], [1], 9, None),
    # an LSTM (1 -> 32) as torch.nn.LSTM counts it, 4*32*(1 + 32) + 8*32, then a linear 32 -> 1
    "lstm_seq": (["seq", 1], [1], 4 * 32 * 33 + 8 * 32 + 33, None),
    "lstm_cell_seq": (["seq", 1], [1], 4 * 32 * 33 + 8 * 32 + 33, None),
    # PyTorch's DCGAN tutorial prints these counts; PatchGAN's is computed from pix2pix's layers
    "dcgan_generator": ([100, 1, 1], [3, 64, 64], 3_576_704, None),
    "dcgan_discriminator": ([3, 64, 64], [1], 2_765_568, None),
    "patchgan_discriminator": ([6, 256, 256], [1, 30, 30], 2_768_705, None),
    # one word id -> its vector: a vocab x dim table (20000 x 100)
    "word2vec_skipgram": ([1], [100], 20_000 * 100, None),
    "word2vec_cbow": ([1], [100], 20_000 * 100, None),
}

# specs of several networks (`networks:`): per network, as FIGURES
NETWORK_FIGURES = {
    # 100*128*16 + 256 + 128*64*16 + 128 + 64*32*16 + 64 + 32*16 (bias-free transposed convs)
    # and 16*32 + 32*64*16 + 128 + 64*128*16 + 256 + 128*16
    "dcgan_digits": {"generator": ([100, 1, 1], [1, 32, 32], 369_600, None),
                     "discriminator": ([1, 32, 32], [1], 166_784, None)},
    # a ResNet generator (c7s1-8, d16, 2 residual blocks, u8, c7s1-1) and a 3-layer PatchGAN
    "cyclegan_small": {"g_ab": ([1, 32, 32], [1, 32, 32], 12_401, None),
                       "g_ba": ([1, 32, 32], [1, 32, 32], 12_401, None),
                       "d_a": ([1, 32, 32], [1, 7, 7], 9_009, None),
                       "d_b": ([1, 32, 32], [1, 7, 7], 9_009, None)},
}

# Intermediate shapes listed in the issue, in order: they must appear among the layers' output
# shapes in this order (`×2` in the issue is written twice).
SHAPES = {
    "lenet5": [[6, 28, 28], [6, 14, 14], [16, 10, 10], [16, 5, 5], [400], [120], [84], [10]],
    "alexnet": [[96, 54, 54], [96, 26, 26], [256, 26, 26], [256, 12, 12], [384, 12, 12],
                [384, 12, 12], [256, 12, 12], [256, 5, 5], [6400], [4096], [4096], [10]],
    "nin": [[96, 54, 54], [96, 26, 26], [256, 26, 26], [256, 12, 12], [384, 12, 12],
            [384, 5, 5], [10, 5, 5], [10, 1, 1], [10]],
    "vgg11": [[64, 112, 112], [128, 56, 56], [256, 28, 28], [512, 14, 14], [512, 7, 7],
              [25088], [4096], [4096], [10]],
}

# Outputs of named blocks (the top-level rows of `check --depth 0`).
STAGES = {
    "googlenet": {"b1": [64, 24, 24], "b2": [192, 12, 12], "b3": [480, 6, 6],
                  "b4": [832, 3, 3], "b5": [1024]},
    "resnet18": {"4": [64, 24, 24], "5": [128, 12, 12], "6": [256, 6, 6], "7": [512, 3, 3]},
    "resnet18_tv": {"maxpool": [64, 56, 56], "layer1": [64, 56, 56], "layer2": [128, 28, 28],
                    "layer3": [256, 14, 14], "layer4": [512, 7, 7]},
    "resnet50_tv": {"layer1": [256, 56, 56], "layer2": [512, 28, 28], "layer3": [1024, 14, 14],
                    "layer4": [2048, 7, 7]},
    "densenet": {"4": [192, 24, 24], "5": [96, 12, 12], "10": [248, 3, 3]},
    "densenet121_tv": {"features": [1024, 7, 7]},
    "googlenet_tv": {"inception3a": [256, 28, 28], "inception4e": [832, 14, 14],
                     "inception5b": [1024, 7, 7]},
}


def report(name: str):
    return netspec.check(netspec.load(SPECS / f"{name}.yaml"))


def test_the_zoo_is_complete():
    assert sorted([*FIGURES, *NETWORK_FIGURES]) == ZOO


@pytest.mark.parametrize("name, network", [(n, k) for n, nets in NETWORK_FIGURES.items()
                                           for k in nets])
def test_network_figures(name, network):
    r = report(name)
    assert list(r.networks) == list(NETWORK_FIGURES[name])
    _figures(r.networks[network], *NETWORK_FIGURES[name][network])


@pytest.mark.parametrize("name", FIGURES)
def test_figures(name):
    _figures(report(name), *FIGURES[name])


def _figures(r, shape_in, shape_out, params, macs):
    assert [list(i.shape) for i in r.graph.inputs.values()] == [shape_in]
    assert [list(s) for s in r.outputs.values()] == [shape_out]
    assert r.params == r.trainable == params
    if macs is not None:
        assert r.macs == pytest.approx(macs, rel=0.005)


def _is_subsequence(wanted: list, seen: list) -> bool:
    it = iter(seen)
    return all(any(w == s for s in it) for w in wanted)


@pytest.mark.parametrize("name", SHAPES)
def test_intermediate_shapes(name):
    seen = [list(n.shape) for n in report(name).graph]
    assert _is_subsequence(SHAPES[name], seen), seen


@pytest.mark.parametrize("name", STAGES)
def test_stage_shapes(name):
    rows = {r.name: list(r.shape) for r in report(name).rows(depth=0)}
    assert {k: rows[k] for k in STAGES[name]} == STAGES[name]


def test_patchgan_sees_70x70_patches():
    """Each of the 30x30 outputs at 256x256 reads a 70x70 patch: the receptive field of
    k4 s2, k4 s2, k4 s2, k4 s1, k4 s1 is 1 + 3*(1 + 2 + 4 + 8 + 8) = 70."""
    r = report("patchgan_discriminator")
    field, jump = 1, 1
    for node in r.graph:
        if node.kind == "conv":
            field += (node.args.kernel - 1) * jump
            jump *= node.args.stride
    assert field == 70


def test_lstm_specs_count_like_torch():
    torch = pytest.importorskip("torch")
    fused = sum(p.numel() for p in torch.nn.LSTM(1, 32, batch_first=True).parameters())
    for name in ("lstm_seq", "lstm_cell_seq"):
        assert next(iter(report(name).graph)).params == fused


@pytest.mark.parametrize("name", ZOO)
def test_check_cli_exits_0_and_matches_golden(name):
    result = CliRunner().invoke(main, ["check", "--json", str(SPECS / f"{name}.yaml")])
    assert result.exit_code == 0, result.output
    golden = GOLDEN / f"{name}.json"
    assert golden.exists(), "run `.venv/bin/python scripts/update_golden.py`"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert json.loads(result.output) == expected, (
        f"check --json of specs/{name}.yaml changed; if that is intended, run "
        f"`.venv/bin/python scripts/update_golden.py {name}` and review the diff")


@pytest.mark.parametrize("name", ["resnet50_tv", "googlenet"])
def test_check_table_cli_exits_0(name):
    result = CliRunner().invoke(main, ["check", "--depth", "1", str(SPECS / f"{name}.yaml")])
    assert result.exit_code == 0, result.output


def test_resnet50_depth_1_reads_like_the_papers_table():
    rows = [(r.name, r.kind, list(r.shape)) for r in report("resnet50_tv").rows(depth=1)]
    assert rows[4:7] == [
        ("layer1", "stage(out=64, blocks=3)", [256, 56, 56]),
        ("layer1.0", "bottleneck(out=64, stride=1)", [256, 56, 56]),
        ("layer1.1", "bottleneck(out=64)", [256, 56, 56]),
    ]
    assert ("layer3.5", "bottleneck(out=256)", [1024, 14, 14]) in rows
    headers = [r for r in report("resnet50_tv").rows(depth=1) if r.header]
    assert [h.name for h in headers] == ["layer1", "layer2", "layer3", "layer4"]


def test_docs_are_generated_from_the_specs():
    spec = importlib.util.spec_from_file_location("gen_zoo_docs",
                                                  ROOT / "scripts" / "gen_zoo_docs.py")
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    for path, text in gen.render_all().items():
        assert path.read_text(encoding="utf-8") == text, (
            f"{path.relative_to(ROOT)} is stale: run `.venv/bin/python scripts/gen_zoo_docs.py`")


# ---- the torchvision variants against torchvision itself ----------------------------------

TORCHVISION = {"alexnet_tv": ("alexnet", {}), "vgg11_tv": ("vgg11", {}),
               "googlenet_tv": ("googlenet", {"aux_logits": False, "transform_input": False,
                                              "init_weights": True}),
               "resnet18_tv": ("resnet18", {}), "resnet50_tv": ("resnet50", {}),
               "densenet121_tv": ("densenet121", {})}
SAME_KEYS = {"alexnet_tv", "vgg11_tv", "googlenet_tv", "resnet18_tv", "resnet50_tv",
             "densenet121_tv"}


@pytest.mark.slow
@pytest.mark.parametrize("name", TORCHVISION)
def test_torchvision_variant_computes_what_torchvision_computes(name):
    """torchvision's weights, loaded in order (the shapes must agree one by one), give the same
    outputs; where the names agree too, they load strictly by name."""
    torch = pytest.importorskip("torch")
    models = pytest.importorskip("torchvision.models")
    fn, kwargs = TORCHVISION[name]
    torch.manual_seed(0)
    ref = getattr(models, fn)(weights=None, **kwargs).eval()
    ours = netspec.build(SPECS / f"{name}.yaml").eval()
    theirs, mine = ref.state_dict(), ours.state_dict()
    assert [v.shape for v in mine.values()] == [v.shape for v in theirs.values()]
    if name in SAME_KEYS:
        ours.load_state_dict(theirs, strict=True)
    else:
        ours.load_state_dict(dict(zip(mine, theirs.values())))
    x = torch.randn(2, 3, 224, 224)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)
