"""Receptive fields against an independent computation: the gradient footprint in torch.

Each network is built by netspec, then made "positive": conv and linear weights set to one
positive constant (biases 0), max pools replaced by average pools of the same window (a max
passes its gradient to one input only), batchnorm at identity statistics in eval mode, and
activations, softmax and the normalisations that mix positions (layer, group, instance norm;
receptive-field tables leave their statistics out) replaced by identities. Then every input
pixel that can reach an output position gets a non-zero gradient, and no other does: the
non-zero extent of d(output[:, p]) / d(input) is the footprint of position p.

netspec's footprint counts positions in the padding (torchvision's convention), so it is
compared clipped to the input: where an end of it lies inside the input, the gradient's
extent must end there exactly; where it lies outside, the gradient reaches the edge.
"""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from torch import nn  # noqa: E402

import netspec  # noqa: E402
from netspec.graph.receptive import Spatial  # noqa: E402
from netspec.kinds.footprint import Slide, Spread  # noqa: E402
from netspec.report import check  # noqa: E402

# kinds that mix positions only through statistics, or bend values: identities here
_IDENTITY = (nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm, nn.InstanceNorm1d,
             nn.InstanceNorm2d, nn.InstanceNorm3d, nn.Dropout, nn.Softmax, nn.LogSoftmax)
_MAX_TO_AVG = {nn.MaxPool1d: nn.AvgPool1d, nn.MaxPool2d: nn.AvgPool2d, nn.MaxPool3d: nn.AvgPool3d}


def _positive_module(mod: nn.Module) -> nn.Module:
    if isinstance(mod, (nn.modules.conv._ConvNd, nn.Linear)):
        with torch.no_grad():
            mod.weight.fill_(1.0 / mod.weight[0].numel())
            if mod.bias is not None:
                mod.bias.zero_()
        return mod
    if isinstance(mod, nn.modules.batchnorm._BatchNorm):
        mod.reset_parameters()          # mean 0, var 1, weight 1, bias 0
        return mod.eval()
    if type(mod) in _MAX_TO_AVG:
        return _MAX_TO_AVG[type(mod)](mod.kernel_size, mod.stride, mod.padding,
                                      ceil_mode=mod.ceil_mode)
    activation = type(mod).__module__ == "torch.nn.modules.activation" \
        and not isinstance(mod, nn.MultiheadAttention)
    return nn.Identity() if activation or isinstance(mod, _IDENTITY) else mod


def positive(model: nn.Module) -> nn.Module:
    for name, mod in list(model.named_modules()):
        if name:
            parent, _, leaf = name.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            setattr(owner, leaf, _positive_module(mod))
    return model.double().eval()


def gradient_extent(model: nn.Module, layer: str, shape: tuple, positions: list[tuple]):
    """Per position, per spatial axis, (first, last) input index with a non-zero gradient."""
    seen = {}
    hook = model.get_submodule(layer).register_forward_hook(
        lambda m, i, out: seen.setdefault("out", out))
    x = torch.ones((1, *shape), dtype=torch.float64, requires_grad=True)
    try:
        model(x)
    finally:
        hook.remove()
    out = seen["out"]
    extents = []
    for p in positions:
        (grad,) = torch.autograd.grad(out[(0, slice(None), *p)].sum(), x, retain_graph=True)
        reached = grad[0].abs().sum(0) > 0           # over channels: [*S]
        axes = []
        for axis in range(reached.dim()):
            other = tuple(a for a in range(reached.dim()) if a != axis)
            hit = reached.any(dim=other) if other else reached
            idx = hit.nonzero().flatten()
            axes.append((int(idx.min()), int(idx.max())) if len(idx) else None)
        extents.append(axes)
    return extents


def assert_footprints_agree(spec, layer: str | None = None, positions=None, shape=None):
    """netspec's footprint of `layer` (default: the last spatial layer built as a module) at
    `positions` (default: the centre) against the gradient's, clipped to the input."""
    report = check(spec, {"input": shape} if shape else None)
    graph = report.graph
    model = positive(netspec.build(spec, input_shapes={"input": shape} if shape else None,
                                   seed=0))
    modules = dict(model.named_modules())
    if layer is None:
        layer = [n.name for n in graph if n.rf is not None and n.name in modules][-1]
    state = graph.receptive[layer]
    assert isinstance(state, Spatial)
    node = graph.nodes[layer]
    sizes = [node.shape[a] for a in state.axes]
    if positions is None:
        positions = [tuple(s // 2 for s in sizes)]
    in_sizes = graph.inputs["input"].shape[1:]
    got = gradient_extent(model, layer, graph.inputs["input"].shape, positions)
    for p, extent in zip(positions, got):
        for axis, (m, o, n, (first, last)) in enumerate(zip(state.maps, p, in_sizes, extent)):
            lo, hi = m.span(o)
            want = (max(lo, 0), min(hi, n - 1))
            where = f"{layer} position {p} axis {axis}: netspec {lo}..{hi} on {n}"
            assert first == want[0] if lo >= 0 else first >= 0, where + f", torch {first}"
            assert last == want[1] if hi <= n - 1 else last <= n - 1, where + f", torch {last}"
    return report, layer


# ---- the zoo ---------------------------------------------------------------------------------

def test_patchgan_is_70_and_its_footprint_is_the_gradients():
    report, layer = assert_footprints_agree("specs/patchgan_discriminator.yaml",
                                            shape=(6, 96, 96))
    assert report.graph.nodes["5"].rf == (70, 70)
    assert report.graph.nodes["5"].jump == (8, 8)


def test_lenet5():
    report, layer = assert_footprints_agree("specs/lenet5.yaml",
                                            positions=[(0, 0), (2, 2), (4, 3)])
    assert layer == "5" and report.graph.nodes["5"].rf == (16, 16)


@pytest.mark.slow
@pytest.mark.parametrize("name, shape, rf", [
    ("vgg11", (3, 160, 160), 150),
    ("resnet18_tv", (3, 512, 512), 435),      # 224 would clip it: 435 > 224
    ("googlenet", (3, 384, 384), 651),        # b5.1's pool branch (its concat, 715, is no module)
    ("unet", (1, 64, 64), 100),
])
def test_zoo_footprints(name, shape, rf):
    report, layer = assert_footprints_agree(f"specs/{name}.yaml", shape=shape)
    assert report.graph.nodes[layer].rf == (rf, rf)


# ---- branches, dilation, upsampling ------------------------------------------------------

DILATED = """
input: [2, 40, 40]
layers:
  - conv: {out: 3, kernel: 3, dilation: 4, padding: 4}
  - relu
  - conv: {out: 3, kernel: [3, 5], dilation: [2, 1]}
  - conv: {out: 3, kernel: 3, stride: 2}
"""


def test_dilated_convs():
    report, layer = assert_footprints_agree(DILATED, positions=[(0, 0), (7, 5), (15, 14)])
    # 1 + 4*2 = 9; then +2*2 and +4: 13 x 13; then +2: 15 x 15
    assert report.graph.nodes["1"].rf == (9, 9)
    assert report.graph.nodes["2"].rf == (13, 13)
    assert report.graph.nodes["3"].rf == (15, 15)
    assert report.graph.nodes["3"].jump == (2, 2)


UNET_LIKE = """
input: [1, 48, 48]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
    id: e1
  - conv: {out: 4, kernel: 3, stride: 2, padding: 1}
  - maxpool: 2
  - conv: {out: 4, kernel: 3, padding: 1}
    id: bottom
  - conv_transpose: {out: 4, kernel: 4, stride: 2, padding: 1}
  - upsample: {scale: 2, mode: bilinear}
    id: up
  - {concat: {dim: 1}, from: [e1, up]}
  - conv: {out: 4, kernel: 3, padding: 1}
  - upsample: 2
  - avgpool: 2
    id: down
  - add: {}
    from: [e1, down]
  - identity:             # a module, for the hook that reads its output
    id: out
"""


def test_unet_like_branches_every_position_of_a_period():
    positions = [(i, j) for i in range(20, 28) for j in (20, 23)]
    report, _ = assert_footprints_agree(UNET_LIKE, "out", positions)
    node = report.graph.nodes["out"]
    # the footprint varies with the position after the upsamplings: the largest is the rf
    assert node.jump == (1, 1) and node.rf[0] == node.rf[1] > 3


SQUEEZE = """
input: [3, 20, 20]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
    id: x
  - global_avgpool
  - linear: 4
  - reshape: [4, 1, 1]
    id: gate
  - {mul: {}, from: [x, gate]}
  - conv: {out: 4, kernel: 3, padding: 1}
"""


def test_a_gate_of_the_whole_map_reads_the_whole_input():
    report, layer = assert_footprints_agree(SQUEEZE, "5", [(0, 0), (10, 10)])
    assert report.graph.nodes["4"].rf == (22, 22)       # the 3x3 conv's padded footprint
    assert report.graph.nodes["gate"].rf is None        # a reshape ends the spatial map


# ---- generated chains ---------------------------------------------------------------------

@st.composite
def chains(draw):
    """A 1d chain of convs, pools, transposed convs and upsamplings with its input size."""
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["conv", "pool", "tconv", "up"]))
        k = draw(st.integers(1, 5))
        if op == "conv":
            s, d = draw(st.integers(1, 3)), draw(st.integers(1, 3))
            layers.append(f"conv: {{out: 2, kernel: {k}, stride: {s}, dilation: {d}, "
                          f"padding: {draw(st.integers(0, d * (k - 1) // 2))}}}")
        elif op == "pool":
            kind = draw(st.sampled_from(["maxpool", "avgpool"]))
            layers.append(f"{kind}: {{kernel: {k}, stride: {draw(st.integers(1, k))}, "
                          f"padding: {draw(st.integers(0, k // 2))}}}")
        elif op == "tconv":   # kernel >= stride: every output position is reached
            s = draw(st.integers(1, min(k, 3)))
            layers.append(f"conv_transpose: {{out: 2, kernel: {k}, stride: {s}, "
                          f"padding: {draw(st.integers(0, (k - 1) // 2))}}}")
        else:
            mode = draw(st.sampled_from(["nearest", "linear"]))
            layers.append(f"upsample: {{scale: {draw(st.integers(2, 3))}, mode: {mode}}}")
    return draw(st.integers(24, 60)), layers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_generated_chains_agree_at_every_position(chain):
    size, layers = chain
    text = f"input: [1, {size}]\nlayers:\n" + "".join(f"  - {layer}\n" for layer in layers)
    try:
        report = check(text)
    except netspec.SpecError:
        return                      # the input shrank to nothing: no network to compare
    last = list(report.graph.nodes)[-1]
    n = report.graph.nodes[last].shape[1]
    assert_footprints_agree(text, last, [(o,) for o in range(0, n, max(1, n // 24))])


# ---- the rules themselves ------------------------------------------------------------------

def test_transposed_conv_reads_at_most_ceil_kernel_over_stride_inputs():
    r = Spread(kernel=4, stride=2, padding=1)
    assert {r.last(o) - r.first(o) + 1 for o in range(8)} == {2}
    r = Spread(kernel=3, stride=2)
    assert {r.last(o) - r.first(o) + 1 for o in range(8)} == {1, 2}


def test_explain_shows_the_arithmetic():
    report = check("specs/patchgan_discriminator.yaml")
    rows = {r.name: r for r in report.rows(explain=True)}
    assert "rf: 46 + (4-1)*8 = 70, jump: 8*1 = 8" in rows["5"].explain
    assert Slide(3, 2, 1).formula(5, 4) == "5 + (3-1)*4"


def test_json_has_rf_jump_and_start_where_spatial():
    layers = {layer["name"]: layer for layer in check("specs/lenet5.yaml").to_json()["layers"]}
    assert layers["0"]["rf"] == [5, 5] and layers["0"]["jump"] == [1, 1]
    assert layers["0"]["start"] == [0, 0]          # padding 2 centres the 5x5 window
    assert layers["2"]["start"] == [0.5, 0.5]      # the 2x2 pool's centre
    assert "rf" not in layers["6"] and "jump" not in layers["6"]       # flatten
