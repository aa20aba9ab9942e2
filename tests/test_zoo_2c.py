"""The round-2 zoo (issue 13) against its reference figures and torchvision's module names.

- every spec here: its parameter count equals the published figure (torchvision's model table
  for `*_tv`), counted statically by `netspec check`, and equals the plain-torch reference of
  tests/tv_reference.py counted by torch;
- where a spec claims a torchvision network, its state_dict keys are torchvision's: the
  reference's state_dict loads with `strict=True` and both compute the same outputs in eval;
- every spec draws.
torchvision is not installed here: tests/tv_reference.py ports its structure and names.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import netspec

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
sys.path.insert(0, str(Path(__file__).parent))

# spec -> (reference builder in tv_reference or None, published parameter count)
FIGURES = {
    "resnet18_tv": ("resnet18", 11_689_512),
    "resnet50_tv": ("resnet50", 25_557_032),
    "densenet121_tv": ("densenet121", 7_978_856),
    "mobilenet_v3_large_tv": ("mobilenet_v3_large", 5_483_032),
    "efficientnet_b0_tv": ("efficientnet_b0", 5_288_548),
    "vit_b_16": ("vit_b_16", 86_567_656),
    "shufflenet_v2_x1_0_tv": ("shufflenet_v2_x1_0", 2_278_604),
    "convnext_tiny": ("convnext_tiny", 28_589_128),
}
FIGURES = {k: v for k, v in FIGURES.items() if (SPECS / f"{k}.yaml").exists()}
# builds and forward passes over 10 s here (86 M parameters)
SLOW = {"vit_b_16"}


def _marked(names):
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in names]

# spec -> input size for the strict-load test: small, since the convolutional ones accept any
# size and the check is of names and arithmetic, not of the 224x224 figure (checked above)
STRICT = {"resnet18_tv": 64, "resnet50_tv": 64, "densenet121_tv": 64,
          "mobilenet_v3_large_tv": 64, "efficientnet_b0_tv": 64, "vit_b_16": 224,
          "shufflenet_v2_x1_0_tv": 64}
STRICT = {k: v for k, v in STRICT.items() if k in FIGURES}


def _reference(name: str, device: str = "cpu"):
    import torch
    import tv_reference

    torch.manual_seed(0)
    with torch.device(device):
        return tv_reference.NETWORKS[name]()


@pytest.mark.parametrize("name", FIGURES)
def test_params_equal_the_published_figure(name):
    report = netspec.check(netspec.load(SPECS / f"{name}.yaml"))
    assert report.params == report.trainable == FIGURES[name][1]


@pytest.mark.parametrize("name", _marked(FIGURES))
def test_params_equal_the_plain_torch_reference(name):
    ref = _reference(FIGURES[name][0], device="meta")
    assert sum(p.numel() for p in ref.parameters()) == FIGURES[name][1]


@pytest.mark.parametrize("name", _marked(STRICT))
def test_torchvision_names_load_strictly_and_compute_the_same(name):
    """The reference's weights load by name, strictly, into the netspec build; the running
    statistics are randomised first, so a batchnorm wired to the wrong layer shows."""
    torch = pytest.importorskip("torch")
    ref = _reference(FIGURES[name][0]).eval()
    with torch.no_grad():
        for m in ref.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
    ours = netspec.build(SPECS / f"{name}.yaml").eval()
    assert sorted(ours.state_dict()) == sorted(ref.state_dict())
    ours.load_state_dict(ref.state_dict(), strict=True)
    size = STRICT[name]
    x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("name", sorted(FIGURES) + ["unet", "resnet", "text_transformer"])
def test_draws(name, tmp_path):
    out = tmp_path / f"{name}.dot"
    netspec.draw(netspec.load(SPECS / f"{name}.yaml"), out)
    assert "digraph" in out.read_text(encoding="utf-8")


@pytest.mark.parametrize("dim, heads, mlp, seq", [(64, 4, 128, 10), (48, 3, 96, 1)])
def test_transformer_encoder_is_torchvisions_encoder_block(dim, heads, mlp, seq):
    """The built-in block: torchvision's EncoderBlock's parameter count, names and outputs."""
    torch = pytest.importorskip("torch")
    from tv_reference_2c import EncoderBlock

    torch.manual_seed(0)
    ref = EncoderBlock(heads, dim, mlp).eval()
    spec = netspec.loads(f"input: [seq, {dim}]\nlayers:\n  - transformer_encoder: "
                         f"{{heads: {heads}, mlp: {mlp}}}\n    id: block\n")
    report = netspec.check(spec, bindings={"seq": seq})
    assert report.params == sum(p.numel() for p in ref.parameters())
    ours = netspec.build(spec).eval()
    ours.load_state_dict({f"block.{k}": v for k, v in ref.state_dict().items()}, strict=True)
    x = torch.randn(3, seq, dim)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-5, atol=1e-5)


# ---- ConvNeXt: torchvision's keys but two, its weights in order ------------------------------

def _convnext_name(key: str) -> str:
    """torchvision's key -> netspec's: LayerNorm2d is a block here (its layer norm is child 1)."""
    for norm in ("features.0.1.", "features.2.0.", "features.4.0.", "features.6.0."):
        if key.startswith(norm):
            return norm + "1." + key[len(norm):]
    return key


def test_convnext_computes_what_the_reference_computes():
    """Every key is torchvision's but the channel norms' (one level deeper); layer scales carry
    a leading 1. The reference's weights, renamed and reshaped so, load strictly."""
    torch = pytest.importorskip("torch")
    ref = _reference("convnext_tiny").eval()
    with torch.no_grad():
        for name, p in ref.named_parameters():
            if name.endswith("layer_scale"):
                p.uniform_(0.5, 1.5)          # 1e-6 would hide a block wired wrongly
    ours = netspec.build(SPECS / "convnext_tiny.yaml").eval()
    mine = ours.state_dict()
    theirs = {_convnext_name(k): v for k, v in ref.state_dict().items()}
    assert sorted(theirs) == sorted(mine)
    ours.load_state_dict({k: v.reshape(mine[k].shape) for k, v in theirs.items()}, strict=True)
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


# ---- U-Net against a plain-torch U-Net with the same layer names -----------------------------

def _plain_unet():
    from torch import nn

    def double(cin, cout):
        return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm2d(cout),
                             nn.ReLU(), nn.Conv2d(cout, cout, 3, padding=1, bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU())

    class Up(nn.Module):
        def __init__(self, cin, cout):
            super().__init__()
            self.upsample = nn.ConvTranspose2d(cin, cout, 2, 2)
            self.conv = double(2 * cout, cout)

        def forward(self, x, skip):
            import torch
            return self.conv(torch.cat([skip, self.upsample(x)], 1))

    class UNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc1, self.enc2, self.enc3 = double(1, 16), double(16, 32), double(32, 64)
            self.bottom = double(64, 128)
            self.dec3, self.dec2, self.dec1 = Up(128, 64), Up(64, 32), Up(32, 16)
            self.head = nn.Conv2d(16, 2, 1)
            self.pool = nn.MaxPool2d(2)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(self.pool(e1))
            e3 = self.enc3(self.pool(e2))
            b = self.bottom(self.pool(e3))
            return self.head(self.dec1(self.dec2(self.dec3(b, e3), e2), e1))

    return UNet()


def test_unet_is_the_plain_torch_unet():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = _plain_unet().eval()
    report = netspec.check(netspec.load(SPECS / "unet.yaml"))
    assert report.params == sum(p.numel() for p in ref.parameters()) == 482_466
    assert [list(s) for s in report.outputs.values()] == [[2, 64, 64]]
    ours = netspec.build(SPECS / "unet.yaml").eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(2, 1, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-5)


# ---- one ResNet spec, three depths ------------------------------------------------------------

VARIANTS = {"resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032}


@pytest.mark.parametrize("variant", VARIANTS)
def test_resnet_variants_give_torchvisions_counts(variant):
    report = netspec.check(netspec.load(SPECS / "resnet.yaml", variant=variant))
    assert report.params == VARIANTS[variant]
    assert sum(p.numel() for p in _reference(variant, device="meta").parameters()) == \
        VARIANTS[variant]


def test_resnet_defaults_to_resnet18():
    assert netspec.check(netspec.load(SPECS / "resnet.yaml")).params == VARIANTS["resnet18"]


@pytest.mark.parametrize("variant", ["resnet34", "resnet50"])
def test_resnet_variants_load_torchvision_names_strictly(variant):
    torch = pytest.importorskip("torch")
    ref = _reference(variant).eval()
    ours = netspec.build(SPECS / "resnet.yaml", variant=variant).eval()
    ours.load_state_dict(ref.state_dict(), strict=True)
    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(ours(x), ref(x), rtol=1e-4, atol=1e-4)


# ---- the small transformer text classifier trains on the built-in `tokens` task ---------------

def test_text_transformer_learns_which_marker_comes_first(tmp_path):
    """3 epochs from its own `train:` section: well above the 50 % a bag of words gets."""
    spec = netspec.load(SPECS / "text_transformer.yaml")
    run = netspec.train(spec, epochs=3, out=str(tmp_path), quiet=True, threads=1)
    assert run.status == "completed", run.diagnoses
    assert run.summary["test"]["accuracy"] > 0.8
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]
