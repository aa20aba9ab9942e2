"""netspec.build against the static check and against plain torch (issue 5's acceptance).

- every layer kind (the table of tests/layer_cases.py) and every zoo spec (specs/*.yaml):
  the built module's parameter count and output shapes equal the static check, at batch 1
  and 3, layer by layer (fx ShapeProp), and one-layer modules compute what the torch
  reference computes with the same weights;
- hypothesis: generated specs (sequential, branching, user blocks with params and `if:`,
  repeats) compared with the static report layer by layer;
- build raises the check's located SpecError; the generated code is straight-line and the
  state_dict uses the spec's names; init schemes; several inputs/outputs; rebuilding.
(torch.compile, autocast, CUDA and DDP: tests/test_compile_runtime.py.)
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp

import netspec
from netspec.report import check as static_check
from layer_cases import CASES, Case, copy_reference_weights
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)
from spec_strategies import networks

# torch's own notes on cases the tables make on purpose (even kernels with `same`, empty maps)
pytestmark = pytest.mark.filterwarnings(
    "ignore:Using padding='same' with even kernel:UserWarning",
    "ignore:Initializing zero-element tensors:UserWarning",
    "ignore:TF32 acceleration on top of oneDNN:UserWarning")

ROOT = Path(__file__).resolve().parents[1]
ZOO = sorted((ROOT / "specs").glob("*.yaml"))


def _zoo_networks() -> list[tuple[Path, str | None]]:
    """Every network of the zoo: (spec file, its network's name, or None for a spec of one)."""
    out = []
    for path in ZOO:
        try:
            networks = netspec.load(path).networks
        except netspec.SpecError:
            networks = None         # the tests report it
        out += [(path, name) for name in networks] if networks else [(path, None)]
    return out


ZOO_NETWORKS = _zoo_networks()


def _load_network(path: Path, network: str | None):
    spec = netspec.load(path)
    return spec.network(network) if network else spec


def _net_id(path: Path, network: str | None) -> str:
    return f"{path.stem}.{network}" if network else path.stem


# ---- helpers ------------------------------------------------------------------------------

def example_inputs(graph, batch: int, seed: int = 0) -> list[torch.Tensor]:
    """Random inputs for an expanded graph (token ids below the smallest vocabulary)."""
    g = torch.Generator().manual_seed(seed)
    vocab = min((n.args.vocab for n in graph if n.kind == "embedding"), default=2)
    out = []
    for inp in graph.inputs.values():
        shape = (batch, *inp.shape)
        out.append(torch.randint(0, vocab, shape, generator=g) if inp.dtype == "long"
                   else torch.randn(shape, generator=g))
    return out


def real_shapes(model: fx.GraphModule, inputs: list[torch.Tensor]) -> dict[str, tuple]:
    """Every layer's real per-sample output shape, by layer name (fx ShapeProp)."""
    ShapeProp(model).propagate(*inputs)
    return {n.meta["netspec_layer"]: tuple(n.meta["tensor_meta"].shape[1:])
            for n in model.graph.nodes if "netspec_layer" in n.meta}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def assert_matches_check(model: fx.GraphModule, batches=(1, 3)) -> None:
    """Params, every layer's shape and the outputs of `model` equal its static graph."""
    graph = model.netspec_graph
    assert n_params(model) == graph.params
    static = {n.name: tuple(n.shape) for n in graph}
    model.eval()
    with torch.no_grad():
        for batch in batches:
            inputs = example_inputs(graph, batch)
            assert real_shapes(model, inputs) == static, f"batch {batch}"
            outs = model(*inputs)
            outs = outs if isinstance(outs, tuple) else (outs,)
            assert [tuple(o.shape) for o in outs] == \
                [(batch, *graph.nodes[n].shape) for n in graph.outputs.values()]


# ---- every layer kind ---------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_layer_kind_builds_as_checked_and_computes_like_torch(case: Case):
    model = netspec.build(case.spec_text())
    report = netspec.check(case.spec_text())
    assert n_params(model) == report.params
    assert_matches_check(model)
    # same weights in, same numbers out as the plain torch module
    torch.manual_seed(1)
    ref = case.ref().eval()
    copy_reference_weights(case, ref, model)
    xs = case.example(batch=3, seed=2)
    with torch.no_grad():
        torch.testing.assert_close(model(*xs), ref(*xs), rtol=1e-5, atol=1e-6)


def test_symbolic_dims_build_and_run_at_any_length():
    model = netspec.build('{"input": ["seq", 4], "layers": [{"lstm": {"hidden": 8, '
                          '"bidirectional": true}}, {"linear": 3}]}')
    for seq in (1, 5, 9):
        assert model(torch.randn(2, seq, 4)).shape == (2, seq, 3)
    bound = netspec.build(model.netspec_spec, bindings={"seq": 6})
    assert_matches_check(bound)


# ---- the zoo ------------------------------------------------------------------------------

def _symbolic(spec) -> set[str]:
    return {d for inp in spec.inputs.values() for d in inp.shape if isinstance(d, str)}


def quick_inputs(spec) -> dict:
    """build/check keywords that keep a zoo spec quick: symbolic dims bound to 8, and an
    image input larger than 64x64 reduced to the smallest of 32..128 the network accepts."""
    kw: dict = {"bindings": {d: 8 for d in _symbolic(spec)}}
    images = {n: i.shape for n, i in spec.inputs.items()
              if len(i.shape) == 3 and all(isinstance(d, int) and d > 64 for d in i.shape[1:])}
    for size in (32, 64, 96, 128):
        shapes = {n: (s[0], size, size) for n, s in images.items()}
        try:
            static_check(spec, shapes, kw["bindings"])
        except netspec.SpecError:
            continue
        return {**kw, "input_shapes": shapes}
    return kw


def _full_size_param(path: Path, network: str | None = None):
    """A full-size zoo run is marked slow when it would take more than about 5 s on two CPU
    cores in the whole suite (VGG-11, 133 M params: 3.5 s alone, 12 s beside other tests;
    ResNet-50, 4.1 GMACs: 1.5 s alone, 5 s beside others)."""
    try:
        spec = _load_network(path, network)
        report = static_check(spec, None, {d: 8 for d in _symbolic(spec)})
        heavy = report.macs > 10e9 or report.params > 100e6
    except netspec.SpecError:
        heavy = False          # the fast test reports the error
    return pytest.param(path, network, id=_net_id(path, network),
                        marks=[pytest.mark.slow] if heavy else [])


@pytest.mark.skipif(not ZOO, reason="no zoo specs in specs/ yet")
@pytest.mark.parametrize("path, network", ZOO_NETWORKS, ids=[_net_id(*p) for p in ZOO_NETWORKS])
def test_zoo_spec_builds_as_checked(path: Path, network: str | None):
    spec = _load_network(path, network)
    model = netspec.build(spec, **quick_inputs(spec))
    assert_matches_check(model)


@pytest.mark.skipif(not ZOO, reason="no zoo specs in specs/ yet")
@pytest.mark.parametrize("path, network", [_full_size_param(*p) for p in ZOO_NETWORKS])
def test_zoo_spec_full_size(path: Path, network: str | None):
    spec = _load_network(path, network)
    model = netspec.build(spec, bindings={d: 8 for d in _symbolic(spec)})
    assert n_params(model) == netspec.check(spec, bindings={d: 8 for d in _symbolic(spec)}).params
    assert_matches_check(model)


# ---- generated specs, layer by layer -------------------------------------------------------

@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks(max_steps=5, blocks=True))
def test_generated_specs_build_as_checked_layer_by_layer(net):
    model = netspec.build(net.spec_text())
    # oneDNN builds a kernel for every new conv shape, which costs more than these tiny
    # networks' whole forward: the reference kernels give the same shapes several times faster
    with torch.backends.mkldnn.flags(enabled=False):
        assert_matches_check(model, batches=(1, 3))


# ---- errors ---------------------------------------------------------------------------------

BAD_SPECS = {
    "too small": "input: [3, 8, 8]\nlayers:\n  - maxpool: 2\n  - maxpool: 2\n  - maxpool: 2\n"
                 "  - maxpool: 2\n",
    "linear on a feature map": "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n"
                               "  - linear: 10\n",
    "groups": "input: [6, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3, groups: 4}\n",
    "reshape": "input: [12]\nlayers:\n  - reshape: [5, -1]\n",
    "mismatched add in a block": (
        "input: [3, 8, 8]\nblocks:\n  res:\n    params: {out: null}\n    layers:\n"
        "      - conv: {out: $out, kernel: 3, padding: 1}\n        id: c\n"
        "      - {add: {}, from: [c, input]}\nlayers:\n  - res: {out: 4}\n"),
    "unknown kind": "input: [3, 8, 8]\nlayers:\n  - convv: {out: 4, kernel: 3}\n",
    "same padding with stride": "input: [3, 8, 8]\nlayers:\n"
                                "  - conv: {out: 4, kernel: 3, stride: 2, padding: same}\n",
}


@pytest.mark.parametrize("text", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_build_raises_the_checks_located_spec_error(text):
    with pytest.raises(netspec.SpecError) as checked:
        netspec.check(text)
    with pytest.raises(netspec.SpecError) as built:
        netspec.build(text)
    assert str(built.value) == str(checked.value)
    assert str(built.value).startswith("<spec>:")      # located in the YAML


# ---- code and names -------------------------------------------------------------------------

NAMES = """\
name: names demo
input: [3, 16, 16]
blocks:
  cbr:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1, bias: false}
        id: conv
      - batchnorm:
        id: bn
      - relu
layers:
  - cbr: {out: 8}
    id: stem
  - residual: {out: 16, stride: 2}
    id: stage1
    repeat: 2
  - parallel:
      merge: concat
      branches:
        - [{conv: {out: 4, kernel: 1}}]
        - [{conv: {out: 4, kernel: 3, padding: 1}}, relu]
  - global_avgpool
  - linear: 10
    id: fc
"""


def test_forward_is_straight_line_code_with_spec_names():
    model = netspec.build(NAMES)
    code = model.code
    assert not any(word in code for word in ("for ", "while ", "netspec_graph", "kinds("))
    assert type(model).__name__ == "NamesDemo"
    ops = {n.op for n in model.graph.nodes}
    assert ops <= {"placeholder", "call_module", "call_function", "call_method", "output"}
    layer_names = {n.name for n in model.netspec_graph}
    assert {n.target for n in model.graph.nodes if n.op == "call_module"} <= layer_names
    # one line of code per layer (plus the input's copy and the return)
    assert code.count("= ") >= len(layer_names)


def test_state_dict_keys_are_spec_names():
    keys = set(netspec.build(NAMES).state_dict())
    for key in ("stem.conv.weight", "stem.bn.weight", "stem.bn.running_mean",
                "stage1.0.conv1.weight", "stage1.0.bn2.bias", "stage1.0.downsample.0.weight",
                "stage1.0.downsample.1.running_var", "stage1.1.conv2.weight",
                "2.0.0.weight", "2.1.0.bias", "fc.weight", "fc.bias"):
        assert key in keys
    assert "stem.conv.bias" not in keys
    graph_names = {n.name for n in netspec.check(NAMES).graph}
    assert all(k.rsplit(".", 1)[0] in graph_names for k in keys)


# ---- init -----------------------------------------------------------------------------------

def _std(t: torch.Tensor) -> float:
    return t.detach().float().std().item()


INIT = """\
input: [16, 12, 12]
layers:
  - conv: {out: 128, kernel: 3, padding: 1}
    id: relu_conv
  - batchnorm
  - relu
  - conv: {out: 32, kernel: 3}
    id: tanh_conv
  - tanh
  - flatten
  - linear: 256
    id: relu_fc
  - relu
  - linear: 128
    id: sigmoid_fc
  - sigmoid
  - linear: 64
    id: normal_fc
    init: normal
  - linear: 10
    id: head
"""


def test_auto_init_is_kaiming_for_relu_and_xavier_for_tanh_biases_zero():
    m = netspec.build(INIT, seed=0)
    tanh = nn.init.calculate_gain("tanh")
    # kaiming: sqrt(2 / fan), fan_out for convolutions (as torchvision), fan_in for linear
    assert _std(m.relu_conv.weight) == pytest.approx(math.sqrt(2 / (128 * 9)), rel=0.05)
    assert _std(m.relu_fc.weight) == pytest.approx(math.sqrt(2 / (32 * 10 * 10)), rel=0.05)
    # xavier: gain * sqrt(2 / (fan_in + fan_out)), with tanh's gain 5/3
    assert _std(m.tanh_conv.weight) == pytest.approx(
        tanh * math.sqrt(2 / (128 * 9 + 32 * 9)), rel=0.05)
    assert _std(m.sigmoid_fc.weight) == pytest.approx(math.sqrt(2 / (256 + 128)), rel=0.05)
    for name in ("relu_conv", "tanh_conv", "relu_fc", "sigmoid_fc", "normal_fc"):
        assert torch.count_nonzero(m.get_submodule(name).bias) == 0, name
    # an entry's own `init:` wins
    assert _std(m.normal_fc.weight) == pytest.approx(0.01, rel=0.1)
    # torch's default for a layer that feeds no activation (kaiming_uniform, a=sqrt(5))
    assert _std(m.head.weight) == pytest.approx(1 / math.sqrt(3 * 64), rel=0.15)


def test_spec_and_build_init_override_auto():
    xavier = netspec.build(INIT.replace("layers:", "init: xavier\nlayers:"), seed=0)
    assert _std(xavier.relu_fc.weight) == pytest.approx(math.sqrt(2 / (3200 + 256)), rel=0.05)
    assert _std(xavier.normal_fc.weight) == pytest.approx(0.01, rel=0.1)   # the entry still wins
    default = netspec.build(INIT, init="default", seed=0)
    bound = 1 / math.sqrt(16 * 9)
    assert _std(default.relu_conv.weight) == pytest.approx(bound / math.sqrt(3), rel=0.05)
    assert torch.count_nonzero(default.relu_conv.bias) > 0
    kaiming = netspec.build(INIT, init="kaiming", seed=0)
    assert _std(kaiming.head.weight) == pytest.approx(math.sqrt(2 / 64), rel=0.1)


def test_init_on_a_block_use_reaches_its_layers():
    m = netspec.build("input: [8, 6, 6]\nlayers:\n  - residual: {out: 64}\n    id: b\n"
                      "    init: normal\n  - conv: {out: 64, kernel: 3}\n    id: c\n  - relu\n",
                      seed=0)
    assert _std(m.b.conv1.weight) == pytest.approx(0.01, rel=0.1)
    assert _std(m.b.downsample.get_submodule("0").weight) == pytest.approx(0.01, rel=0.1)
    assert _std(m.c.weight) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)


@pytest.mark.parametrize("between", ["upsample: 2", "adaptive_avgpool: 4",
                                     "{permute: [0, 2, 3, 1]}", "{reshape: [64, 36]}", "identity"])
def test_auto_init_looks_through_shape_only_layers(between):
    """Weight init reads each kind's init_role: a layer that only moves or resamples values
    between a conv and its relu keeps the conv's He init."""
    m = netspec.build(f"input: [8, 6, 6]\nlayers:\n  - conv: {{out: 64, kernel: 3, padding: 1}}\n"
                      f"    id: c\n  - {between}\n  - relu\n", seed=0)
    assert _std(m.c.weight) == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)


def test_auto_init_stops_at_a_merge():
    m = netspec.build("input: [8, 6, 6]\nlayers:\n  - conv: {out: 8, kernel: 3, padding: 1}\n"
                      "    id: c\n  - {add: {}, from: [c, input]}\n  - relu\n", seed=0)
    assert _std(m.c.weight) == pytest.approx(1 / math.sqrt(3 * 8 * 9), rel=0.15)   # torch's


def test_seed_makes_weights_reproducible():
    a, b = netspec.build(INIT, seed=3).state_dict(), netspec.build(INIT, seed=3).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


# a tiny network for the quick tests here and in test_compile_runtime.py
TINY = """\
input: [3, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
    id: c
  - relu
  - parallel:
      merge: add
      branches:
        - [{conv: {out: 4, kernel: 1}}]
        - [identity]
  - global_avgpool
  - linear: 2
"""


# ---- several inputs and outputs ------------------------------------------------------------

MULTI = """\
inputs: {image: [3, 8, 8], meta: [5]}
layers:
  - conv: {out: 4, kernel: 3}
    from: image
    id: conv
  - global_avgpool:
    id: feat
  - linear: 6
    from: meta
    id: m
  - concat: {}
    from: [feat, m]
    id: joint
  - linear: 2
    id: logits
  - linear: 1
    from: joint
    id: value
outputs: [value, logits]
"""


def test_several_inputs_and_outputs_follow_the_spec_order():
    model = netspec.build(MULTI).eval()
    assert [n.name for n in model.graph.nodes if n.op == "placeholder"] == ["image", "meta"]
    image, meta = torch.randn(3, 3, 8, 8), torch.randn(3, 5)
    value, logits = model(image, meta)
    joint = torch.cat([model.conv(image).mean((2, 3)), model.m(meta)], 1)
    torch.testing.assert_close(value, model.value(joint))
    torch.testing.assert_close(logits, model.logits(joint))
    assert_matches_check(model)
    # the forward's positional order is the `inputs:` order
    swapped = netspec.build(MULTI.replace("{image: [3, 8, 8], meta: [5]}",
                                          "{meta: [5], image: [3, 8, 8]}"))
    swapped.load_state_dict(model.state_dict())
    torch.testing.assert_close(swapped.eval()(meta, image)[0], value)


def test_one_output_is_a_tensor_not_a_tuple():
    out = netspec.build(TINY)(torch.randn(1, 3, 8, 8))
    assert isinstance(out, torch.Tensor) and out.shape == (1, 2)


# ---- rebuilding from the spec a model carries --------------------------------------------

def test_model_rebuilds_from_its_spec_source(tmp_path):
    model = netspec.build_from_yaml(NAMES)
    assert model.netspec_spec.source == NAMES
    again = netspec.build(netspec.loads(model.netspec_spec.source))
    again.load_state_dict(model.state_dict())
    x = torch.randn(2, 3, 16, 16)
    torch.testing.assert_close(again.eval()(x), model.eval()(x))
    path = tmp_path / "names.yaml"
    path.write_text(NAMES)
    from_path = netspec.build_from_yaml(path)
    from_path.load_state_dict(model.state_dict())
    assert from_path.netspec_spec.source == NAMES
