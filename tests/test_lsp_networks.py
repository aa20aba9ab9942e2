"""The language server on specs of several networks (`networks:`): hover over a layer of an
inline network, diagnostics at the right ranges (a shape error in one network, a mistake in a
network file, the task's wiring), completion inside a network's layers, and go-to-definition
of a network given by its spec file. In process (the features' functions), then once over
stdio as an editor drives it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from lsprotocol import types as lsp  # noqa: E402
from pygls.uris import from_fs_path  # noqa: E402

from netspec.serve.lsp_analysis import analyse  # noqa: E402
from netspec.serve.lsp_complete import complete  # noqa: E402
from netspec.serve.lsp_definition import definition  # noqa: E402
from netspec.serve.lsp_diagnostics import diagnostics  # noqa: E402
from netspec.serve.lsp_hover import hover  # noqa: E402

GAN = """\
name: tiny_gan
params: {z: 8}
networks:
  generator:
    input: [$z]
    layers:
      - reshape: [$z, 1, 1]
      - conv_transpose: {out: 16, kernel: 4, bias: false}
      - conv_transpose: {out: 1, kernel: 4, stride: 4}
      - tanh
  discriminator: nets/disc.yaml
train: {task: gan, data: {name: digits, size: 16}}
"""

DISC = """\
name: disc
input: [1, {side}, {side}]
layers:
  - conv: {{out: 8, kernel: {kernel}, stride: 2, padding: 1}}
  - leaky_relu: 0.2
  - flatten
  - linear: 1
"""


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n")) if needle in line)


@pytest.fixture
def folder(tmp_path) -> Path:
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "disc.yaml").write_text(DISC.format(side=16, kernel=4))
    return tmp_path


def _analyse(folder: Path, text: str):
    path = folder / "gan.yaml"
    path.write_text(text)
    return analyse(text, str(path))


def test_hover_over_a_layer_of_an_inline_network(folder):
    analysis = _analyse(folder, GAN)
    assert analysis.errors == [] and len(analysis.graphs) == 2
    line = _line_of(GAN, "{out: 16, kernel: 4, bias: false}")
    text, span = hover(analysis, (line, 8))
    # [8, 1, 1] -> 4x4 transposed conv to 16 channels: [16, 4, 4]; 8*16*16 weights, no bias,
    # each used once per input position (netspec counts a transposed conv per input, 1x1)
    assert "output `[16, 4, 4]`" in text and "params 2,048" in text, text
    assert "MACs 2,048" in text
    assert span.start == (line, 6)
    last = hover(analysis, (_line_of(GAN, "stride: 4"), 8))[0]
    assert "output `[1, 16, 16]`" in last and "params 257" in last


def test_hover_gives_the_receptive_field_in_an_inline_image_network(folder):
    inline = GAN.replace("  discriminator: nets/disc.yaml\n", "  discriminator:\n" + "".join(
        "    " + line + "\n" for line in DISC.format(side=16, kernel=4).splitlines()[1:]))
    analysis = _analyse(folder, inline)
    assert analysis.errors == []
    text, _ = hover(analysis, (_line_of(inline, "leaky_relu"), 8))
    # a 4x4 stride-2 conv on [1, 16, 16]: [8, 8, 8], each output seeing 4x4 pixels
    assert "output `[8, 8, 8]`" in text
    assert "receptive field 4×4 (jump 2×2)" in text, text


def test_a_shape_error_in_one_network_keeps_the_others_and_is_over_its_entry(folder):
    bad = GAN.replace("{out: 16, kernel: 4, bias: false}", "{out: 16, kernel: 4, bias: false}"
                      "\n      - conv: {out: 4, kernel: 7}")
    analysis = _analyse(folder, bad)
    (error,) = analysis.errors
    assert "kernel 7x7" in error.message
    line = _line_of(bad, "kernel: 7")
    (shown,) = diagnostics(analysis)[os.path.realpath(folder / "gan.yaml")]
    assert (shown.range.start.line, shown.range.start.character) == (line, 8)
    assert shown.range.end.line == line and shown.severity == lsp.DiagnosticSeverity.Error
    # the layers above the error, and the other network, still answer
    assert "output `[16, 4, 4]`" in hover(analysis, (line - 1, 8))[0]
    assert "shape inference stops here" in hover(analysis, (line, 8))[0]
    assert analysis.graphs[1].failures == [] and len(analysis.graphs[1].nodes) == 4


def test_a_mistake_in_a_network_file_shows_on_its_path(folder):
    (folder / "nets" / "disc.yaml").write_text(DISC.format(side=16, kernel=40))
    analysis = _analyse(folder, GAN)
    assert len(analysis.errors) == 1 and "kernel 40x40" in analysis.errors[0].message
    (shown,) = diagnostics(analysis)[os.path.realpath(folder / "gan.yaml")]
    line = _line_of(GAN, "nets/disc.yaml")
    start = GAN.split("\n")[line].index("nets/disc.yaml")
    assert (shown.range.start.line, shown.range.start.character) == (line, start)
    assert shown.range.end.character == start + len("nets/disc.yaml")
    assert shown.message.startswith("in nets/disc.yaml:4:")
    assert shown.related_information[0].location.uri == \
        from_fs_path(os.path.realpath(folder / "nets" / "disc.yaml"))


def test_a_wiring_mistake_is_shown_and_hover_still_answers(folder):
    (folder / "nets" / "disc.yaml").write_text(DISC.format(side=32, kernel=4))
    analysis = _analyse(folder, GAN)
    (error,) = analysis.errors
    assert "the generator makes [1, 16, 16] per sample, but the discriminator takes " \
        "[1, 32, 32]" in error.message
    (shown,) = diagnostics(analysis)[os.path.realpath(folder / "gan.yaml")]
    assert shown.range.start.line == _line_of(GAN, "nets/disc.yaml")
    assert "output `[16, 4, 4]`" in hover(analysis, (_line_of(GAN, "bias: false"), 8))[0]


def test_completion_inside_a_networks_layers(folder):
    text = GAN.replace("      - tanh\n", "      - \n")
    analysis = _analyse(folder, GAN)      # completion reads the text, the blocks of a check
    analysis.index = analyse(text, analysis.path).index
    line = text.split("\n").index("      - ")
    labels = {item.label for item in complete(analysis, (line, 8))}
    assert {"conv", "tanh", "parallel", "residual", "id", "from"} <= labels
    args = text.replace("      - \n", "      - conv: {out: 4, \n")
    analysis.index = analyse(args, analysis.path).index
    line = args.split("\n").index("      - conv: {out: 4, ")
    labels = {item.label for item in complete(analysis, (line, len("      - conv: {out: 4, ")))}
    assert {"kernel", "stride", "padding"} <= labels
    keys = GAN.replace("    input: [$z]\n", "    input: [$z]\n    \n")
    analysis.index = analyse(keys, analysis.path).index
    line = keys.split("\n").index("    ")
    assert {"layers", "outputs", "init", "params", "spec"} <= \
        {i.label for i in complete(analysis, (line, 4))}


@pytest.mark.parametrize("value", ["nets/disc.yaml", "{spec: nets/disc.yaml}"])
def test_definition_of_a_network_file(folder, value):
    text = GAN.replace("nets/disc.yaml", value)
    analysis = _analyse(folder, text)
    assert analysis.errors == []
    line = _line_of(text, "nets/disc.yaml")
    col = text.split("\n")[line].index("nets/disc.yaml") + 3
    found = definition(analysis, (line, col))
    assert found is not None
    assert found.uri == from_fs_path(os.path.realpath(folder / "nets" / "disc.yaml"))
    assert definition(analysis, (line, 2)) is None       # on the network's name: nothing


def test_over_stdio_hover_and_diagnostics_in_a_network(folder):
    from test_lsp import Client

    client = Client(folder)
    try:
        client.request("initialize", {"processId": os.getpid(), "rootUri": folder.as_uri(),
                                      "capabilities": {}})
        client.notify("initialized", {})
        bad = GAN.replace("stride: 4}", "stride: 4}\n      - maxpool: {kernel: 32}")
        uri = client.open(folder / "gan.yaml", bad)
        (shown,) = client.wait_diagnostics(uri, lambda d: len(d) > 0)
        assert shown["range"]["start"]["line"] == _line_of(bad, "maxpool")
        result = client.at("textDocument/hover", uri, _line_of(bad, "stride: 4"), 8)
        assert "output `[1, 16, 16]`" in result["contents"]["value"]
    finally:
        client.close()


def test_a_typo_in_a_network_and_a_passed_param_are_over_their_words(folder):
    (folder / "nets" / "disc.yaml").write_text("params: {side: 16}\n" + DISC.format(
        side="$side", kernel=4).replace("name: disc\n", ""))
    text = GAN.replace("- tanh", "- tanhh").replace(
        "discriminator: nets/disc.yaml", "discriminator: {spec: nets/disc.yaml, "
                                         "params: {sied: 16}}")
    analysis = _analyse(folder, text)
    shown = sorted(diagnostics(analysis)[os.path.realpath(folder / "gan.yaml")],
                   key=lambda d: d.range.start.line)
    assert len(shown) == 2, [d.message for d in shown]
    for d, word in zip(shown, ("tanhh", "sied")):
        line = _line_of(text, word)
        start = text.split("\n")[line].index(word)
        assert (d.range.start.line, d.range.start.character) == (line, start), d.message
        assert d.range.end.character >= start + len(word)
    assert "did you mean `tanh`?" in shown[0].message
    assert "has no param `sied`" in shown[1].message and "`side`" in shown[1].message
