"""Built-in blocks (netspec/blocks/library.yaml) against hand-written torch references.

Each reference is written here from its paper / torchvision's code, with torchvision's
submodule names, so the netspec model's state_dict loads into it strictly (which also checks
the block's state_dict names). Batchnorm statistics and affine parameters are randomised first,
so every batchnorm must sit where the paper puts it; outputs must agree to float precision.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netspec
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)


def conv_bn(cin: int, out: int, kernel: int, stride: int = 1, padding: int = 0) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, out, kernel, stride, padding, bias=False),
                         nn.BatchNorm2d(out))


class BasicBlock(nn.Module):
    """He et al. 2015, Fig. 2 (torchvision's BasicBlock, projection shortcut option B)."""

    def __init__(self, cin: int, out: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = conv_bn(cin, out, 1, stride) if stride != 1 or cin != out else None

    def forward(self, x):
        y = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(y + (self.downsample(x) if self.downsample is not None else x))


class Bottleneck(nn.Module):
    """He et al. 2015, Fig. 5 right; torchvision's v1.5 (the stride in the 3x3 conv)."""

    def __init__(self, cin: int, width: int, stride: int = 1, expansion: int = 4):
        super().__init__()
        out = width * expansion
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, out, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out)
        self.downsample = conv_bn(cin, out, 1, stride) if stride != 1 or cin != out else None

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = torch.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return torch.relu(y + (self.downsample(x) if self.downsample is not None else x))


class BasicConv(nn.Module):
    """Conv + ReLU, or torchvision's BasicConv2d (conv without bias, batchnorm eps 1e-3, ReLU)."""

    def __init__(self, cin: int, out: int, kernel: int, padding: int = 0, bn: bool = False):
        super().__init__()
        self.conv = nn.Conv2d(cin, out, kernel, padding=padding, bias=not bn)
        self.bn = nn.BatchNorm2d(out, eps=1e-3) if bn else None

    def forward(self, x):
        x = self.conv(x)
        return torch.relu(self.bn(x) if self.bn is not None else x)


class Inception(nn.Module):
    """Szegedy et al. 2014, Fig. 2b; with bn/kernel3=3, torchvision's GoogLeNet Inception."""

    def __init__(self, cin, c1, c2, c3, c4, bn=False, kernel3=5):
        super().__init__()
        self.branch1 = BasicConv(cin, c1, 1, bn=bn)
        self.branch2 = nn.Sequential(BasicConv(cin, c2[0], 1, bn=bn),
                                     BasicConv(c2[0], c2[1], 3, 1, bn=bn))
        self.branch3 = nn.Sequential(BasicConv(cin, c3[0], 1, bn=bn),
                                     BasicConv(c3[0], c3[1], kernel3, kernel3 // 2, bn=bn))
        self.branch4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), BasicConv(cin, c4, 1, bn=bn))

    def forward(self, x):
        return torch.cat([self.branch1(x), self.branch2(x), self.branch3(x), self.branch4(x)], 1)


class DenseLayer(nn.Module):
    """Huang et al. 2016, Sec. 3 (torchvision's _DenseLayer with bn_size; plain BN-ReLU-conv3x3
    without)."""

    def __init__(self, cin: int, growth: int, bn_size: int, bias: bool):
        super().__init__()
        if bn_size:
            self.norm1 = nn.BatchNorm2d(cin)
            self.conv1 = nn.Conv2d(cin, bn_size * growth, 1, bias=bias)
        mid = bn_size * growth if bn_size else cin
        self.norm2 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, growth, 3, padding=1, bias=bias)
        self.bn_size = bn_size

    def forward(self, x):
        y = self.conv1(torch.relu(self.norm1(x))) if self.bn_size else x
        return torch.cat([x, self.conv2(torch.relu(self.norm2(y)))], 1)


class DenseBlock(nn.Module):
    def __init__(self, cin: int, layers: int, growth: int, bn_size: int = 0, bias: bool = False):
        super().__init__()
        self.denselayer = nn.ModuleList(DenseLayer(cin + i * growth, growth, bn_size, bias)
                                        for i in range(layers))

    def forward(self, x):
        for layer in self.denselayer:
            x = layer(x)
        return x


class Transition(nn.Module):
    def __init__(self, cin: int, out: int):
        super().__init__()
        self.norm, self.conv = nn.BatchNorm2d(cin), nn.Conv2d(cin, out, 1, bias=False)
        self.pool = nn.AvgPool2d(2, 2)

    def forward(self, x):
        return self.pool(self.conv(torch.relu(self.norm(x))))


BLOCKS = [
    ("residual", {"out": 8}, (8, 9, 9), lambda: BasicBlock(8, 8)),
    ("residual", {"out": 16, "stride": 2}, (8, 9, 9), lambda: BasicBlock(8, 16, 2)),
    ("residual", {"out": 12}, (8, 6, 6), lambda: BasicBlock(8, 12)),
    ("bottleneck", {"out": 4}, (16, 7, 7), lambda: Bottleneck(16, 4)),
    ("bottleneck", {"out": 4, "stride": 2}, (8, 7, 7), lambda: Bottleneck(8, 4, 2)),
    ("bottleneck", {"out": 6, "expansion": 2}, (8, 5, 5), lambda: Bottleneck(8, 6, 1, 2)),
    ("inception", {"c1": 4, "c2": [3, 5], "c3": [2, 3], "c4": 6}, (7, 8, 8),
     lambda: Inception(7, 4, (3, 5), (2, 3), 6)),
    ("inception", {"c1": 4, "c2": [3, 5], "c3": [2, 3], "c4": 6, "bn": True, "kernel3": 3},
     (7, 8, 8), lambda: Inception(7, 4, (3, 5), (2, 3), 6, bn=True, kernel3=3)),
    ("dense_block", {"layers": 3, "growth": 4}, (6, 5, 5), lambda: DenseBlock(6, 3, 4)),
    ("dense_block", {"layers": 2, "growth": 4, "bn_size": 4}, (6, 5, 5),
     lambda: DenseBlock(6, 2, 4, 4)),
    ("dense_block", {"layers": 2, "growth": 3, "bias": True}, (5, 4, 4),
     lambda: DenseBlock(5, 2, 3, 0, True)),
    ("transition", {"out": 4}, (8, 6, 6), lambda: Transition(8, 4)),
]


def _randomise_batchnorms(model: nn.Module) -> None:
    g = torch.Generator().manual_seed(5)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.num_features, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            if m.affine:
                m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
                m.bias.data.copy_(torch.randn(m.num_features, generator=g) * 0.1)


@pytest.mark.parametrize("block, args, shape, ref", BLOCKS,
                         ids=[f"{b}-{i}" for i, (b, *_) in enumerate(BLOCKS)])
def test_block_equals_hand_written_torch(block, args, shape, ref):
    import json

    spec = json.dumps({"input": list(shape), "layers": [{block: args, "id": "b"}]})
    model = netspec.build(spec, seed=0)
    with torch.no_grad():
        _randomise_batchnorms(model)
    reference = ref()
    state = {k.removeprefix("b."): v for k, v in model.state_dict().items()}
    reference.load_state_dict(state)       # strict: the same names, the same shapes
    assert netspec.check(spec).params == sum(p.numel() for p in reference.parameters())
    x = torch.randn(3, *shape)
    model.eval(), reference.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("block, args, make", [
    ("vgg_block", {"convs": 2, "out": 6},
     lambda: nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU(), nn.Conv2d(6, 6, 3, padding=1),
                           nn.ReLU(), nn.MaxPool2d(2, 2))),
    ("nin_block", {"out": 6, "kernel": 3, "stride": 2, "padding": 1},
     lambda: nn.Sequential(nn.Conv2d(3, 6, 3, 2, 1), nn.ReLU(), nn.Conv2d(6, 6, 1), nn.ReLU(),
                           nn.Conv2d(6, 6, 1), nn.ReLU())),
], ids=["vgg_block", "nin_block"])
def test_sequential_block_equals_torch(block, args, make):
    """Blocks that are plain sequences: weights copied in execution order."""
    import json

    model = netspec.build(json.dumps({"input": [3, 8, 8], "layers": [{block: args}]}), seed=0)
    reference = make()
    reference.load_state_dict(dict(zip(reference.state_dict(), model.state_dict().values())))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x))


@pytest.mark.parametrize("last", [False, True])
def test_lstm_cell_equals_torch_lstm_with_copied_weights(last):
    spec = ('{"input": [11, 5], "layers": [{"lstm_cell": {"hidden": 7, "return": "%s"}, '
            '"id": "cell"}]}' % ("last" if last else "sequence"))
    model = netspec.build(spec, seed=0)
    lstm = nn.LSTM(5, 7, batch_first=True)
    lstm.load_state_dict({"weight_ih_l0": model.cell.ih.weight, "weight_hh_l0": model.cell.hh.weight,
                          "bias_ih_l0": model.cell.ih.bias, "bias_hh_l0": model.cell.hh.bias})
    x = torch.randn(4, 11, 5)
    with torch.no_grad():
        out, (h, _) = lstm(x)
        torch.testing.assert_close(model(x), h[-1] if last else out, rtol=1e-5, atol=1e-6)
