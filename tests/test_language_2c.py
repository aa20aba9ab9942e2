"""The language constructs of round 2: conditional expressions and `ceil`/`floor`, `repeat: 0`,
kind-valued block parameters (`- $act`), declared parameter choices, multi-input blocks
(`inputs:`), `prev` and `.features`, and the `in.channels`-on-a-sequence lint.

Each construct: a spec that checks to the shapes and parameter counts plain torch gives (built
and run forward, weights copied into a hand-written torch module), and its mistakes as the
exact located message a user reads, exit 1 through the CLI, never a traceback.
"""

from __future__ import annotations

import textwrap

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.lang.jsonschema import json_schema
from netspec.lang.yaml_loader import load_yaml


def spec(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def report(text: str):
    return netspec.check(netspec.loads(spec(text), "net.yaml"))


def shapes(text: str) -> dict[str, tuple]:
    return {n.name: tuple(n.shape) for n in report(text).graph}


def error_of(text: str) -> str:
    with pytest.raises(SpecError) as info:
        report(text)
    return str(info.value)


def cli_check(tmp_path, text: str):
    path = tmp_path / "net.yaml"
    path.write_text(spec(text))
    return CliRunner().invoke(main, ["check", str(path)])


# ---- conditional expressions, ceil, floor -------------------------------------------------

CONDITIONAL = """
    input: [3, 16, 16]
    blocks:
      down:
        params: {out: null, stride: 1}
        layers:
          - conv: {out: $(out if stride == 1 else out * 2), kernel: 3, stride: $stride,
                   padding: $(ceil((3 - 1) / 2))}
          - maxpool: $(floor(in.shape[1] / 8) if in.shape[1] >= 16 else 1)
    layers:
      - down: {out: 4}
      - down: {out: 4, stride: 2}
    """


def test_conditional_and_ceil_floor_give_the_torch_shapes():
    torch = pytest.importorskip("torch")
    got = shapes(CONDITIONAL)
    assert got["0.0"] == (4, 16, 16) and got["0.1"] == (4, 8, 8)
    assert got["1.0"] == (8, 4, 4) and got["1.1"] == (8, 4, 4)
    model = netspec.build(spec(CONDITIONAL), seed=0)
    ref = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, 1, 1), torch.nn.MaxPool2d(2),
                              torch.nn.Conv2d(4, 8, 3, 2, 1), torch.nn.MaxPool2d(1))
    ref.load_state_dict(dict(zip(ref.state_dict(), model.state_dict().values())))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_arithmetic_on_a_bool_is_a_located_error():
    message = error_of("""
        input: [3, 8, 8]
        blocks:
          b:
            params: {bias: true}
            layers:
              - conv: {out: $(bias + 1), kernel: 1}
        layers: [b]
        """)
    assert message.startswith("net.yaml:6:28: error: in `$(bias + 1)`: cannot add bool and int: "
                              "true/false are not numbers\n")
    assert "hint: write 1 or 0, or choose a number with `a if condition else b`" in message


# ---- repeat: 0 ----------------------------------------------------------------------------

REPEAT_ZERO = """
    input: [8]
    blocks:
      mlp:
        params: {extra: 0}
        layers:
          - linear: 16
          - {linear: 16, repeat: $extra, id: more}
          - linear: 4
    layers:
      - mlp: {}
      - {mlp: {extra: 2}}
      - {relu: null, repeat: 0}
      - tanh
    """


def test_repeat_zero_leaves_the_entry_out_like_if_false():
    torch = pytest.importorskip("torch")
    got = shapes(REPEAT_ZERO)
    assert list(got) == ["0.0", "0.2", "1.0", "1.more.0", "1.more.1", "1.2", "3"]
    model = netspec.build(spec(REPEAT_ZERO), seed=0)
    L = torch.nn.Linear
    ref = torch.nn.Sequential(L(8, 16), L(16, 4), L(4, 16), L(16, 16), L(16, 16), L(16, 4),
                              torch.nn.Tanh())
    ref.load_state_dict(dict(zip(ref.state_dict(), model.state_dict().values())))
    assert report(REPEAT_ZERO).params == sum(p.numel() for p in ref.parameters())
    x = torch.randn(3, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_naming_a_repeat_zero_entry_in_from_says_so():
    assert error_of("""
        input: [8]
        layers:
          - {linear: 4, repeat: 0, id: skip}
          - {relu: null, from: skip}
        """) == ("net.yaml:4:24: error: `from: skip` names an entry left out here: its "
                 "`repeat:` is 0\n  hint: name the entry above it instead, or add an entry "
                 "with the same `id: skip` and `if: $(n == 0)` for that case (e.g. an "
                 "`identity`)")


def test_naming_a_repeat_zero_entry_in_outputs_says_so():
    message = error_of("""
        input: [8]
        layers:
          - linear: 4
          - {linear: 4, repeat: 0, id: head}
        outputs: [head]
        """)
    assert message.startswith("net.yaml:5:11: error: `outputs` names `head`, an entry left "
                              "out: its `repeat:` is 0\n")


def test_a_negative_repeat_is_an_error():
    assert error_of("""
        input: [8]
        layers:
          - {relu: null, repeat: -1}
        """) == ("net.yaml:3:26: error: `repeat` is a count (0 or more; 0 leaves the entry "
                 "out), got -1")


# ---- kind-valued block parameters ---------------------------------------------------------

KIND_PARAM = """
    input: [3, 8, 8]
    blocks:
      conv_act:
        params: {out: null, act: relu}
        layers:
          - conv: {out: $out, kernel: 3, padding: 1}
          - $act
      act_twice:
        params: {act: leaky_relu, inner: conv_act}
        layers:
          - $inner: {out: 4, act: $act}
          - $act: {}
    layers:
      - conv_act: {out: 6, act: hardswish}
      - act_twice: {}
    """


def test_a_parameter_may_name_a_layer_kind_or_a_block():
    torch = pytest.importorskip("torch")
    graph = report(KIND_PARAM).graph
    assert [(n.name, n.kind) for n in graph] == [
        ("0.0", "conv"), ("0.1", "hardswish"), ("1.0.0", "conv"), ("1.0.1", "leaky_relu"),
        ("1.1", "leaky_relu")]
    model = netspec.build(spec(KIND_PARAM), seed=0)
    nn = torch.nn
    ref = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.Hardswish(),
                        nn.Conv2d(6, 4, 3, padding=1), nn.LeakyReLU(0.01), nn.LeakyReLU(0.01))
    ref.load_state_dict(dict(zip(ref.state_dict(), model.state_dict().values())))
    x = torch.randn(2, 3, 8, 8)
    with torch.no_grad():
        torch.testing.assert_close(model(x), ref(x))


def test_an_unknown_kind_parameter_is_reported_at_the_use():
    assert error_of("""
        input: [3, 8, 8]
        blocks:
          conv_act:
            params: {act: relu}
            layers:
              - conv: {out: 4, kernel: 1}
              - $act
        layers:
          - conv_act: {act: rleu}
        """) == ("net.yaml:7:9: error: unknown layer kind `rleu` (the value of `$act`)\n"
                 "  hint: did you mean `relu`?\n"
                 "  in block conv_act (net.yaml:3:3), used at net.yaml:9:5")


def test_a_kind_parameter_that_is_no_name_is_an_error():
    message = error_of("""
        input: [8]
        blocks:
          b:
            params: {act: null}
            layers: [$act]
        layers:
          - b: 3
        """)
    assert message.startswith("net.yaml:5:14: error: `$act` gives 3, not the name of a layer "
                              "kind or a block\n  hint: a kind-valued parameter is a name")


# ---- declared parameter choices -----------------------------------------------------------

CHOICES = """
    input: [3, 8, 8]
    blocks:
      conv_act:
        params:
          out: null
          act: {default: relu, choices: [relu, hardswish], doc: the activation}
          mode: {default: null, choices: [a, b]}
          pad: {default: 1}
        layers:
          - conv: {out: $out, kernel: 3, padding: $pad}
          - $act
    layers:
      - conv_act: {out: 4, act: {act}, mode: a}
    """


def test_declared_choices_accept_their_values():
    graph = report(CHOICES.replace("{act}", "hardswish")).graph
    assert [n.kind for n in graph] == ["conv", "hardswish"]
    block = netspec.loads(spec(CHOICES.replace("{act}", "relu"))).blocks["conv_act"]
    assert block.params == {"out": None, "act": "relu", "mode": None, "pad": 1}
    assert block.choices == {"act": ("relu", "hardswish"), "mode": ("a", "b")}


def test_a_value_outside_the_choices_lists_them():
    assert error_of(CHOICES.replace("{act}", "hardswich")) == (
        "net.yaml:13:29: error: block `conv_act`: parameter `act` is hardswich, not one of its "
        "choices: relu, hardswish\n  hint: did you mean `hardswish`?")


def test_a_required_parameter_with_choices_is_still_required():
    message = error_of(CHOICES.replace("{act}", "relu").replace(", mode: a", ""))
    assert message.startswith("net.yaml:13:5: error: block `conv_act` needs parameter `mode`")


def test_a_default_outside_its_choices_is_an_error_of_the_block():
    message = error_of("""
        input: [8]
        blocks:
          b:
            params: {act: {default: tanh, choices: [relu, gelu]}}
            layers: [$act]
        layers: [b]
        """)
    assert message.startswith("net.yaml:4:29: error: the default 'tanh' of parameter `act` in "
                              "block `b` is not one of its choices (relu, gelu)")


def test_a_mapping_default_with_other_keys_stays_a_default():
    block = netspec.loads(spec("""
        input: [8]
        blocks:
          b:
            params: {cfg: {hidden: 4}, wrapped: {default: {default: 1}}}
            layers: [{linear: $(cfg.hidden)}]
        layers: [b]
        """)).blocks["b"]
    assert block.params == {"cfg": {"hidden": 4}, "wrapped": {"default": 1}}
    assert block.choices == {}


# ---- multi-input blocks -------------------------------------------------------------------

UNET = """
    input: [3, 16, 16]
    blocks:
      up:
        inputs: [x, skip]
        params: {out: null}
        layers:
          - upsample: 2
          - {conv: {out: $(skip.channels), kernel: 1}, id: conv1x1}
          - {concat: {}, from: [skip, conv1x1], id: cat}
          - conv: {out: $out, kernel: 3, padding: "$(x.shape[1] // x.shape[1])"}
    layers:
      - {conv: {out: 4, kernel: 3, padding: 1}, id: e1}
      - {maxpool: 2, id: d1}
      - {conv: {out: 8, kernel: 3, padding: 1}, id: mid}
      - {up: {out: 5}, from: [mid, e1]}
    """


def test_a_block_with_two_inputs_reads_each_by_name():
    torch = pytest.importorskip("torch")
    text = UNET
    got = shapes(text)
    assert got["3.0"] == (8, 16, 16) and got["3.conv1x1"] == (4, 16, 16)
    assert got["3.cat"] == (8, 16, 16) and got["3.3"] == (5, 16, 16)
    model = netspec.build(spec(text), seed=0)
    nn = torch.nn
    convs = [nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 8, 3, padding=1), nn.Conv2d(8, 4, 1),
             nn.Conv2d(8, 5, 3, padding=1)]
    holder = nn.ModuleList(convs)
    holder.load_state_dict(dict(zip(holder.state_dict(), model.state_dict().values())))
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        e1 = convs[0](x)
        mid = convs[1](nn.functional.max_pool2d(e1, 2))
        up = convs[2](nn.functional.interpolate(mid, scale_factor=2.0, mode="nearest"))
        torch.testing.assert_close(model(x), convs[3](torch.cat([e1, up], 1)))


def test_a_block_given_the_wrong_number_of_inputs_says_how_many_it_takes(tmp_path):
    result = cli_check(tmp_path, UNET.replace("from: [mid, e1]", "from: mid"))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "net.yaml:15:26: error: block `up` takes 2 inputs (x, skip); `from:` gives 1" in \
        result.output
    assert "hint: name 2 entries, one for each of its inputs x, skip: `from: [a, b]`" in \
        result.output


def test_a_block_input_name_cannot_be_reused_as_an_id():
    message = error_of(UNET.replace("id: cat", "id: skip"))
    assert "error: id `skip` is already used as the block's input `skip`" in message


# ---- prev, in.features, and the lint ------------------------------------------------------

PREV = """
    input: [3, 8, 8]
    blocks:
      widen:
        layers:
          - conv: {out: $(in.channels * 2), kernel: 1}
          - conv: {out: $(prev.channels * 2), kernel: 1}
          - conv: {out: $(in.channels), kernel: 1}
          - {conv: {out: $(prev.channels + 1), kernel: 1}, from: input}
    layers:
      - widen
      - flatten
      - linear: $(prev.features // 4)
    """


def test_prev_is_the_entry_s_own_input_and_in_the_block_s():
    got = shapes(PREV)
    assert [got[n][0] for n in ("0.0", "0.1", "0.2", "0.3")] == [6, 12, 3, 4]
    assert got["2"] == (64,)    # prev.features of the flattened [256]


SEQUENCE_MLP = """
    input: [10, 64]
    blocks:
      mlp:
        layers:
          - linear: $(in.{field} * 2)
          - gelu
          - linear: $(in.{field})
    layers: [mlp]
    """


def test_in_channels_on_a_sequence_is_linted_and_in_features_is_not(tmp_path):
    result = cli_check(tmp_path, SEQUENCE_MLP.replace("{field}", "channels"))
    assert result.exit_code == 0
    assert ("net.yaml:5:9: warning: `in.channels` in block `mlp` is 10, the first dim of its "
            "input [10, 64]: on a sequence that is its length, not its features\n"
            "  hint: for the last dim write `in.features`; for the output of the layer above, "
            "`prev.features`") in result.output
    graph = report(SEQUENCE_MLP.replace("{field}", "features")).graph
    assert graph.warnings == [] and graph.nodes["0.2"].shape == (10, 64)


def test_in_channels_of_an_image_is_not_linted():
    assert report(PREV).graph.warnings == []
    assert report(UNET).graph.warnings == []


# ---- the JSON schema describes the new forms ---------------------------------------------

def _schema_accepts(text: str) -> bool:
    from test_jsonschema import valid     # the suite's own draft 2020-12 validator

    return valid(load_yaml(spec(text), "t.yaml"), json_schema())


@pytest.mark.parametrize("text", [KIND_PARAM, CHOICES.replace("{act}", "relu"), UNET,
                                  REPEAT_ZERO, PREV])
def test_the_json_schema_accepts_every_construct(text):
    assert _schema_accepts(text)


# ---- property: conditional repeat counts agree with the expanded graph ---------------------

@settings(max_examples=40, deadline=None)
@given(st.integers(0, 4), st.integers(0, 6))
def test_conditional_repeat_counts_match_the_graph(n, limit):
    text = f"""
        input: [4]
        blocks:
          stack:
            params: {{n: {n}, limit: {limit}}}
            layers:
              - linear: 4
              - {{relu: null, repeat: "$(n if n <= limit else limit)"}}
        layers: [stack]
        """
    relus = [node for node in report(text).graph if node.kind == "relu"]
    assert len(relus) == min(n, limit)


# ---- the reference's examples run --------------------------------------------------------

def _doc_specs() -> list[str]:
    """Every ```yaml example of docs/language.md that is a whole spec (`input:` and `layers:`)."""
    import re
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "language.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.DOTALL)
    return [b for b in blocks if re.search(r"^input:", b, re.M) and re.search(r"^layers:", b, re.M)]


def test_the_reference_has_an_example_of_each_construct():
    joined = "\n".join(_doc_specs())
    for construct in ("- $act", "$unit:", "choices:", "inputs: [x, skip]", "prev.channels", "repeat: $hidden",
                      " if ", "ceil(", "from: [d1, e1]"):
        assert construct in joined, construct


@pytest.mark.parametrize("text", _doc_specs())
def test_every_example_of_the_reference_checks(text):
    graph = netspec.check(netspec.loads(text, "example.yaml")).graph
    assert graph.nodes and graph.warnings == []


def test_the_scope_example_gives_what_the_reference_says():
    squeeze = next(t for t in _doc_specs() if "squeeze" in t)
    got = {n.name: n.shape for n in netspec.check(netspec.loads(squeeze)).graph}
    assert got["0.1"][0] == 32 and got["0.2"][0] == 3


# ---- every construct's mistake through the CLI: exit 1, located, a hint, no traceback -------

CLI_MISTAKES = {
    "bool arithmetic": """
        input: [8]
        blocks:
          b:
            params: {wide: true}
            layers: [{linear: $(wide * 2)}]
        layers: [b]
        """,
    "conditional without else": """
        input: [8]
        blocks:
          b:
            params: {n: 2}
            layers: [{linear: $(n if n > 1)}]
        layers: [b]
        """,
    "from a repeat-0 entry": """
        input: [8]
        layers:
          - {linear: 4, repeat: 0, id: a}
          - {relu: null, from: a}
        """,
    "unknown kind parameter": """
        input: [8]
        blocks:
          b:
            params: {act: relu}
            layers: [$act]
        layers: [{b: {act: gleu}}]
        """,
    "value outside the choices": """
        input: [8]
        blocks:
          b:
            params: {act: {default: relu, choices: [relu, gelu]}}
            layers: [$act]
        layers: [{b: {act: tanh}}]
        """,
    "wrong number of block inputs": """
        input: [8]
        blocks:
          pair:
            inputs: [a, b]
            layers: [{add: {}, from: [a, b]}]
        layers:
          - {linear: 8, id: l}
          - {pair: {}, from: [l, l, input]}
        """,
}


@pytest.mark.parametrize("text", CLI_MISTAKES.values(), ids=CLI_MISTAKES.keys())
def test_each_construct_s_mistake_exits_1_with_a_located_hint(tmp_path, text):
    result = cli_check(tmp_path, text)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = result.output.splitlines()[0]
    assert first.startswith(str(tmp_path / "net.yaml") + ":") and ": error: " in first
    assert "\n  hint: " in result.output
