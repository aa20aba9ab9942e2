"""The layer registry carries all of a kind's behaviour: a kind registered here, in this file
alone, is checked, built, initialised, listed and given a schema with no other file touched.

The example is `example_shuffle`, a pixel shuffle (as torch.nn.PixelShuffle) written the way a
kind file writes one; it declares no init role, so the default for a single-input kind without
parameters applies (transparent): a conv before it still gets He init from the relu after it.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.kinds import LayerKind, ShapeError, kinds, output_semantics, register, unregister
from netspec.kinds.argtypes import Args, NoArgs, PositiveInt
from netspec.kinds.base import channels, fmt_shape


class ShuffleArgs(Args):
    factor: PositiveInt = 2


def _shuffle_shape(ins, a: ShuffleArgs):
    """[C, H, W] -> [C / r^2, H * r, W * r].

    >>> _shuffle_shape([(8, 3, 5)], ShuffleArgs(factor=2))
    (2, 6, 10)
    """
    if len(ins[0]) != 3:
        raise ShapeError(f"needs a feature map [C, H, W], got {fmt_shape(ins[0])}")
    c, r = channels(ins, "example_shuffle"), a.factor
    if c % (r * r):
        raise ShapeError(f"has factor {r}, so its {c} channels must be a multiple of {r * r}")
    h, w = ins[0][1:]
    return (c // (r * r), h * r, w * r)


def _shuffle_build(ins, a: ShuffleArgs):
    return nn.PixelShuffle(a.factor)


EXAMPLE = LayerKind(name="example_shuffle", args=ShuffleArgs, shape=_shuffle_shape,
                    build=_shuffle_build, main="factor", family="shape",
                    doc="Rearranges [C*r*r, H, W] into [C, H*r, W*r], as torch.nn.PixelShuffle.")


@pytest.fixture
def example_kind():
    kind = register(EXAMPLE)
    yield kind
    unregister(kind)


SPEC = """\
input: [3, 8, 8]
layers:
  - conv: {out: 64, kernel: 3, padding: 1}
    id: c
  - example_shuffle: 2
  - relu
"""


def test_registered_kind_checks_with_its_shape_rule(example_kind):
    report = netspec.check(netspec.loads(SPEC))
    node = report.graph.nodes["1"]
    assert (node.kind, node.shape, node.params) == ("example_shuffle", (16, 16, 16), 0)
    with pytest.raises(SpecError, match=r"example_shuffle '1' has factor 3, so its 64 channels"):
        netspec.check(netspec.loads(SPEC.replace("example_shuffle: 2", "example_shuffle: 3")))
    with pytest.raises(SpecError, match=r"example_shuffle: `factor`: must be at least 1, got 0"):
        netspec.check(netspec.loads(SPEC.replace("example_shuffle: 2", "example_shuffle: 0")))


def test_registered_kind_builds_and_computes_what_torch_does(example_kind):
    model = netspec.build(SPEC, seed=0)
    x = torch.randn(2, 3, 8, 8)
    want = torch.relu(nn.PixelShuffle(2)(model.c(x)))
    assert torch.equal(model(x), want)


def test_a_shape_only_kind_keeps_kaiming_init_on_the_conv_before_it(example_kind):
    assert example_kind.init_role == "transparent"        # the default: declared nowhere
    model = netspec.build(SPEC, seed=0)
    # kaiming normal, fan_out: sqrt(2 / (out * k * k))
    std = model.c.weight.detach().std().item()
    assert std == pytest.approx(math.sqrt(2 / (64 * 9)), rel=0.05)
    assert torch.count_nonzero(model.c.bias) == 0


def test_registered_kind_is_listed_and_in_the_schema(example_kind):
    listed = CliRunner().invoke(main, ["kinds", "--no-blocks"])
    assert listed.exit_code == 0
    assert re.search(r"^example_shuffle +factor=2$", listed.output, re.M), listed.output
    schema = CliRunner().invoke(main, ["schema"])
    assert schema.exit_code == 0 and "example_shuffle" in schema.output
    assert output_semantics("example_shuffle") == "values"


def test_unregistering_leaves_the_registry_as_it_was():
    before = dict(kinds())
    kind = register(EXAMPLE)
    with pytest.raises(RuntimeError, match="registered twice"):
        register(EXAMPLE)
    unregister(kind)
    assert kinds() == before
    with pytest.raises(SpecError, match="unknown layer kind `example_shuffle`"):
        netspec.check(netspec.loads(SPEC))


def test_init_role_defaults():
    """A single-input kind without parameters is looked through by init; one with parameters
    or several inputs hides what follows, unless it says otherwise."""
    def same(ins, a):
        return ins[0]

    assert LayerKind("a", NoArgs, same).init_role == "transparent"
    assert LayerKind("b", NoArgs, same, params=lambda ins, a: 1).init_role is None
    assert LayerKind("c", NoArgs, same, arity=None).init_role is None
    assert LayerKind("d", NoArgs, same, init_role="relu_like").init_role == "relu_like"
    with pytest.raises(ValueError, match="init_role must be one of"):
        LayerKind("e", NoArgs, same, init_role="relu")


@pytest.mark.parametrize("name, role", [
    ("conv", "weighted"), ("conv_transpose", "weighted"), ("linear", "weighted"),
    ("relu", "relu_like"), ("swish", "relu_like"), ("prelu", "relu_like"), ("gelu", "relu_like"),
    ("tanh", "saturating"), ("softmax", "saturating"), ("hardsigmoid", "saturating"),
    ("batchnorm", "transparent"), ("dropout", "transparent"), ("maxpool", "transparent"),
    ("reshape", "transparent"), ("permute", "transparent"), ("upsample", "transparent"),
    ("add", None), ("concat", None), ("lstm", None), ("embedding", None),
])
def test_builtin_init_roles(name, role):
    assert kinds()[name].init_role == role


@pytest.mark.parametrize("name, output", [
    ("softmax", "probabilities"), ("sigmoid", "probabilities"),
    ("log_softmax", "log_probabilities"), ("linear", "values"), ("tanh", "values"),
    (None, "values"), ("no_such_kind", "values"),
])
def test_output_semantics(name, output):
    assert output_semantics(name) == output


def test_every_kind_declares_dtype_rules_the_graph_can_read():
    for kind in kinds().values():
        assert kind.input_dtype in ("float", "long", "any"), kind.name
        assert isinstance(kind.keeps_dtype, bool), kind.name
    ids = json.dumps({"input": {"shape": [4, 3], "dtype": "long"},
                      "layers": [{"permute": [0, 2, 1]}, {"reshape": [12]},
                                 {"embedding": {"vocab": 5, "dim": 2}}]})
    assert netspec.check(netspec.loads(ids)).outputs["output"] == (12, 2)


def test_training_and_export_read_the_declared_output():
    """What a final kind outputs is declared on the kind; training's softmax warning and the
    export metadata read it (a final sigmoid included), and a regression loss takes any."""
    from netspec.training.diagnostics import output_mismatch

    assert output_mismatch("cross_entropy", "logits", "sigmoid").message.startswith(
        "the network ends with sigmoid (it outputs probabilities)")
    assert output_mismatch("bce", "probabilities", "sigmoid") is None
    assert output_mismatch("mse", "values", "sigmoid") is None
    assert output_mismatch("cross_entropy", "logits", "linear") is None

    from types import SimpleNamespace

    from netspec.deploy.metadata import _output_kinds

    graph = netspec.check(netspec.loads("input: [4]\nlayers:\n  - linear: 3\n  - sigmoid\n")).graph
    assert _output_kinds(SimpleNamespace(data={}), graph, "output") == {"output": "probabilities"}
