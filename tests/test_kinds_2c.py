"""The layer kinds of DESIGN §2c against plain torch: `param`, broadcasting add/sub/mul/div,
`matmul`, `attention` (self, cross, causal, symbolic seq), `slice`, `select`, the shuffles,
`linear` with `channels_last`; their located errors; and a tiny ViT-like spec that checks,
builds and trains. Shapes/params/outputs of each kind's table rows are in tests/layer_cases.py
(run by test_layers_vs_torch.py and test_compile.py); here: what those rows cannot say."""

from __future__ import annotations

import json
import math

import pytest
import torch
from torch import nn

import netspec
from layer_cases import RefAttention
from layer_cases import one_torch_thread  # noqa: F401 (an autouse fixture)


def spec(layers, input_=(8,), **top) -> str:
    body = {"name": "t", **({"input": list(input_)} if "inputs" not in top else {}), **top,
            "layers": layers}
    return json.dumps(body)


def error_of(text: str) -> str:
    with pytest.raises(netspec.SpecError) as err:
        netspec.check(text)
    message = str(err.value)
    assert message.startswith("<spec>:") and "hint:" in message, message
    return message


def last_node(text: str):
    return list(netspec.check(text).graph)[-1]


# ---- located errors ---------------------------------------------------------------------

@pytest.mark.parametrize("text, words", [
    (spec([{"attention": 3}], (5, 10)), ["3 heads", "E = 10", "1, 2, 5, 10"]),
    (spec([{"attention": 2}], (4, 5, 10)), ["[seq, E]", "[4, 5, 10]"]),
    (spec([{"attention": 2, "from": ["q", "kv"]}], inputs={"q": [5, 8], "kv": [6, 4]}),
     ["E = 8", "E = 4", "linear: 8"]),
    (spec([{"attention": {"heads": 2, "causal": True}, "from": ["q", "kv"]}],
          inputs={"q": [5, 8], "kv": [6, 8]}), ["causal", "[5, 8] and [6, 8]"]),
    (spec([{"matmul": None, "from": ["a", "b"]}], inputs={"a": [3, 4], "b": [5, 2]}),
     ["[3, 4] @ [5, 2]", "4 vs 5", "permute"]),
    (spec([{"matmul": None, "from": ["a", "b"]}], inputs={"a": [2, 3, 4], "b": [5, 4, 2]}),
     ["2 vs 5"]),
    (spec([{"matmul": None, "from": ["a", "a", "a"]}], inputs={"a": [3, 3]}),
     ["takes 2 inputs", "got 3"]),
    (spec([{"add": None, "from": ["a", "b"]}], inputs={"a": [8, 4, 4], "b": [6, 1, 1]}),
     ["[8, 4, 4] and [6, 1, 1]", "8 vs 6"]),
    (spec([{"sub": None, "from": ["a", "b"]}], inputs={"a": [197, 768], "b": [768]}),
     ["[197, 768] and [768]", "batch", "[1, 768]"]),
    (spec([{"param": [1, 4], "from": "input"}]), ["takes no input", "drop `from:`"]),
    (spec([{"slice": {"dim": 0, "end": 2}}], (4, 5)), ["dim 0", "batch"]),
    (spec([{"slice": {"dim": 1, "start": 5}}], (4, 5)), ["size 4", "start 5"]),
    (spec([{"select": {"dim": 2, "index": 5}}], (4, 5)), ["index 5", "size 5"]),
    (spec([{"select": {"dim": 3, "index": 0}}], (4, 5)), ["dim 3", "1..2"]),
    (spec([{"channel_shuffle": 3}], (8, 4, 4)), ["3 groups", "8 channels"]),
    (spec([{"pixel_shuffle": 2}], (6, 4, 4)), ["6 channels", "2² = 4"]),
    (spec([{"pixel_unshuffle": 2}], (4, 5, 6)), ["5x6"]),
    (spec([{"linear": 4}], (3, 5, 6)), ["flatten first", "channels_last: true"]),
], ids=lambda v: v if isinstance(v, str) and not v.startswith("{") else "")
def test_mistakes_are_located_with_the_shapes_and_a_hint(text, words):
    message = error_of(text)
    for word in words:
        assert word in message, (word, message)


def test_param_arguments_are_checked_by_name():
    def arg_error(entry) -> str:
        with pytest.raises(netspec.SpecError) as err:
            netspec.check(spec([entry]))
        assert str(err.value).startswith("<spec>:1:")
        return str(err.value)

    assert "`shape`: must list one size of at least 1" in arg_error({"param": {"shape": [0, 4]}})
    assert "low < high" in arg_error({"param": {"shape": [4], "init": "uniform", "low": 1,
                                                "high": 0}})
    assert "`std`" in arg_error({"param": {"shape": [4], "init": "normal", "std": -1}})
    assert "init" in arg_error({"param": {"shape": [4], "init": "xavier"}})


def test_torch_refuses_what_the_check_refuses():
    """The refusals above are torch's own (not netspec's inventions)."""
    with pytest.raises(RuntimeError):
        torch.randn(2, 197, 768) - torch.randn(2, 768)        # batch lines up with 197
    with pytest.raises(RuntimeError):
        nn.ChannelShuffle(3)(torch.randn(1, 8, 4, 4))
    with pytest.raises(RuntimeError):
        nn.PixelShuffle(2)(torch.randn(1, 6, 4, 4))
    with pytest.raises(RuntimeError):
        nn.PixelUnshuffle(2)(torch.randn(1, 4, 5, 6))
    with pytest.raises(AssertionError):
        nn.MultiheadAttention(10, 3)


# ---- param ------------------------------------------------------------------------------

def test_param_is_stored_at_its_name_and_expanded_over_the_batch():
    text = spec([{"param": {"shape": [1, 8], "init": "ones"}, "id": "cls_token"},
                 {"concat": 1, "from": ["cls_token", "input"]}], (5, 8))
    model = netspec.build(text)
    assert model.state_dict()["cls_token"].shape == (1, 1, 8)      # torchvision's class_token
    out = model(torch.zeros(3, 5, 8))
    assert out.shape == (3, 6, 8)
    torch.testing.assert_close(out[:, 0], torch.ones(3, 8))
    assert last_node(text).shape == (6, 8)


def test_param_in_a_block_is_keyed_by_the_block_path():
    text = json.dumps({"name": "t", "input": [4, 2, 2], "blocks": {"scaled": {
        "params": {}, "layers": [{"param": {"shape": [4, 1, 1], "init": {"constant": 0.5}},
                                  "id": "gamma"},
                                 {"mul": None, "from": ["input", "gamma"]}]}},
        "layers": [{"scaled": None, "id": "s"}]})
    model = netspec.build(text)
    assert list(model.state_dict()) == ["s.gamma"]
    x = torch.randn(2, 4, 2, 2)
    torch.testing.assert_close(model(x), x * 0.5)


@pytest.mark.parametrize("init, test", [
    ("zeros", lambda t: bool((t == 0).all())),
    ("ones", lambda t: bool((t == 1).all())),
    ({"constant": -2.5}, lambda t: bool((t == -2.5).all())),
    ("normal", lambda t: abs(t.std().item() - 0.02) < 0.002 and abs(t.mean().item()) < 0.002),
    ("trunc_normal", lambda t: abs(t.std().item() - 0.02) < 0.002 and t.abs().max() <= 2),
    ("uniform", lambda t: t.min() >= 0 and t.max() <= 1 and abs(t.mean().item() - 0.5) < 0.02),
])
@pytest.mark.parametrize("scheme", ["auto", "kaiming", "xavier"])
def test_param_init_is_as_declared_whatever_the_network_init(init, test, scheme):
    text = spec([{"param": {"shape": [100, 100], "init": init}}])
    model = netspec.build(text, init=scheme, seed=0)
    assert test(model.get_parameter("0").detach())


def test_param_std_and_seed():
    text = spec([{"param": {"shape": [200, 100], "init": "normal", "std": 0.5}}])
    a, b = netspec.build(text, seed=3), netspec.build(text, seed=3)
    assert abs(a.get_parameter("0").std().item() - 0.5) < 0.02
    torch.testing.assert_close(a.get_parameter("0"), b.get_parameter("0"))


def test_param_counts_prod_shape_and_the_next_entry_reads_it():
    report = netspec.check(spec([{"param": [3, 4, 5]}, {"linear": {"out": 2,
                                                                    "channels_last": True}}]))
    nodes = list(report.graph)
    assert nodes[0].params == 60 and nodes[0].inputs == ()
    assert nodes[1].inputs == ("0",) and nodes[1].shape == (3, 4, 2)


# ---- broadcasting and matmul ----------------------------------------------------------------

@pytest.mark.parametrize("kind, op", [("add", torch.add), ("sub", torch.sub),
                                      ("mul", torch.mul), ("div", torch.div)])
def test_elementwise_order_and_broadcast_follow_torch(kind, op):
    text = spec([{kind: None, "from": ["a", "b", "c"]}],
                inputs={"a": [6, 1, 5], "b": [6, 4, 1], "c": [1, 1, 5]})
    assert last_node(text).shape == (6, 4, 5)
    a, b, c = torch.randn(2, 6, 1, 5), torch.randn(2, 6, 4, 1), torch.rand(2, 1, 1, 5) + 0.5
    torch.testing.assert_close(netspec.build(text)(a, b, c), op(op(a, b), c))


def test_matmul_is_torch_matmul_of_each_sample():
    text = spec([{"matmul": None, "from": ["a", "b"]}], inputs={"a": [3, 5, 8], "b": [8, 4]})
    node = last_node(text)
    assert node.shape == (3, 5, 4) and node.macs == 3 * 5 * 4 * 8
    a, b = torch.randn(2, 3, 5, 8), torch.randn(2, 8, 4)
    want = torch.stack([torch.matmul(x, y) for x, y in zip(a, b)])
    torch.testing.assert_close(netspec.build(text)(a, b), want)


# ---- attention --------------------------------------------------------------------------

def test_attention_counts_as_torch_and_the_formula():
    for bias in (True, False):
        node = last_node(spec([{"attention": {"heads": 4, "bias": bias}}], (10, 32)))
        ref = nn.MultiheadAttention(32, 4, bias=bias)
        assert node.params == sum(p.numel() for p in ref.parameters())
        assert node.params == 4 * 32 * 32 + (4 * 32 if bias else 0)
    cross = last_node(spec([{"attention": 4, "from": ["q", "kv"]}],
                           inputs={"q": [10, 32], "kv": [7, 32]}))
    assert cross.shape == (10, 32)
    assert cross.macs == 2 * 10 * 32 ** 2 + 2 * 7 * 32 ** 2 + 2 * 10 * 7 * 32


def test_attention_keys_are_multihead_attention_keys_under_the_name():
    model = netspec.build(spec([{"attention": 2, "id": "self_attention"}], (4, 8)))
    assert sorted(model.state_dict()) == sorted(
        f"self_attention.{k}" for k in nn.MultiheadAttention(8, 2).state_dict())
    assert isinstance(model.get_submodule("self_attention"), nn.MultiheadAttention)


@pytest.mark.parametrize("causal", [False, True])
def test_attention_with_a_symbolic_seq_checks_builds_and_runs_at_any_length(causal):
    text = spec([{"attention": {"heads": 2, "causal": causal}}], ("seq", 8))
    assert last_node(text).shape == ("seq", 8)
    model = netspec.build(text).eval()
    ref = RefAttention(8, 2, causal).eval()
    ref.load_state_dict(model.get_submodule("0").state_dict())
    for n in (1, 3, 11):
        x = torch.randn(2, n, 8)
        with torch.no_grad():
            torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-6)


def test_causal_attention_does_not_see_the_future():
    model = netspec.build(spec([{"attention": {"heads": 2, "causal": True}}], (6, 8))).eval()
    x = torch.randn(1, 6, 8)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 8)
    with torch.no_grad():
        a, b = model(x), model(y)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])


def test_cross_attention_reads_keys_and_values_from_the_second_input():
    text = spec([{"attention": 4, "from": ["q", "kv"]}], inputs={"q": [5, 16], "kv": [9, 16]})
    model = netspec.build(text).eval()
    ref = RefAttention(16, 4).eval()
    ref.load_state_dict(model.get_submodule("0").state_dict())
    q, kv = torch.randn(3, 5, 16), torch.randn(3, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(q, kv), ref(q, kv), rtol=1e-5, atol=1e-6)


# ---- a tiny ViT -------------------------------------------------------------------------

TINY_VIT = """\
name: tiny_vit
input: [1, 8, 8]
layers:
  - conv: {out: 16, kernel: 2, stride: 2}
    id: conv_proj
  - flatten: {start: 2}
  - permute: [0, 2, 1]
    id: patches
  - param: {shape: [1, 16], init: zeros}
    id: class_token
  - {concat: 1, from: [class_token, patches], id: tokens}
  - param: {shape: [17, 16], init: normal}
    id: pos_embedding
  - {add: null, from: [tokens, pos_embedding], id: x}
  - layernorm
  - attention: {heads: 4}
    id: self_attention
  - {add: null, from: [x, self_attention], id: y}
  - layernorm
  - linear: 32
  - gelu
  - linear: 16
    id: mlp
  - {add: null, from: [y, mlp]}
  - select: {dim: 1, index: 0}
  - linear: 10
train:
  data: {name: digits}
  epochs: 1
  batch_size: 64
  optimizer: {adam: {lr: 1.0e-3}}
  loss: cross_entropy
"""


def vit_reference():
    """The same network in plain torch, torchvision's ViT style."""
    class Vit(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_proj = nn.Conv2d(1, 16, 2, 2)
            self.class_token = nn.Parameter(torch.zeros(1, 1, 16))
            self.pos_embedding = nn.Parameter(torch.randn(1, 17, 16) * 0.02)
            self.ln1, self.ln2 = nn.LayerNorm(16), nn.LayerNorm(16)
            self.attn = nn.MultiheadAttention(16, 4, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(16, 32), nn.GELU(), nn.Linear(32, 16))
            self.head = nn.Linear(16, 10)

        def forward(self, img):
            x = self.conv_proj(img).flatten(2).transpose(1, 2)
            x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], 1)
            x = x + self.pos_embedding
            h = self.ln1(x)
            y = x + self.attn(h, h, h, need_weights=False)[0]
            y = y + self.mlp(self.ln2(y))
            return self.head(y[:, 0])

    return Vit()


def test_tiny_vit_checks_builds_matches_torch_and_trains_a_step():
    report = netspec.check(TINY_VIT)
    ref = vit_reference()
    assert report.params == sum(p.numel() for p in ref.parameters())
    model = netspec.build(TINY_VIT, seed=0)
    names = {"conv_proj": "conv_proj", "class_token": "class_token",
             "pos_embedding": "pos_embedding", "7": "ln1", "self_attention": "attn",
             "10": "ln2", "11": "mlp.0", "mlp": "mlp.2", "16": "head"}
    mine = {v: k for k, v in names.items()}
    state = {}
    for key, value in ref.state_dict().items():
        for theirs, ours in sorted(mine.items(), key=lambda kv: -len(kv[0])):
            if key == theirs or key.startswith(theirs + "."):
                state[ours + key[len(theirs):]] = value
                break
    model.load_state_dict(state)           # strict: every key maps, shapes equal
    x = torch.randn(4, 1, 8, 8)
    model.eval(), ref.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x), rtol=1e-5, atol=1e-5)
    # one optimiser step lowers the loss on a fixed batch
    model.train()
    target = torch.randint(0, 10, (4,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    losses = []
    for _ in range(2):
        loss = nn.functional.cross_entropy(model(x), target)
        opt.zero_grad()
        loss.backward()
        assert model.class_token.grad is not None and model.class_token.grad.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert math.isfinite(losses[0]) and losses[1] < losses[0]


@pytest.mark.slow
def test_tiny_vit_trains_an_epoch_on_digits(tmp_path):
    run = netspec.train(netspec.loads(TINY_VIT, str(tmp_path / "vit.yaml")),
                        out=str(tmp_path / "runs"), quiet=True, seed=0)
    assert run.ok and len(run.history) == 1
    assert math.isfinite(run.history[0]["train_loss"])
    assert (run.path / "metrics.csv").exists()


def test_kinds_command_describes_every_new_argument():
    from netspec.kinds import kinds

    for name in ("param", "attention", "slice", "select", "channel_shuffle", "pixel_shuffle",
                 "pixel_unshuffle", "linear"):
        for field, info in kinds()[name].args.model_fields.items():
            assert info.description, f"{name}.{field} has no description"
