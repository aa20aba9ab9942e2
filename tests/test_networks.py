"""Specs of several networks (DESIGN §5b, `networks:`): inline and by path, check (a report per
network, the task's wiring located), draw/build/export with `--network`, path networks
relative to their spec and bounded like includes, and the self-contained copy a run keeps."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.lang.inline import inline
from netspec.lang.schema import NetworkChoiceError
from netspec.report import MultiReport

GAN = """\
name: tiny_gan
params: {z: 8}
blocks:
  up:
    params: {out: null}
    layers:
      - conv_transpose: {out: $out, kernel: 4, stride: 2, padding: 1, bias: false}
      - batchnorm
      - relu
networks:
  generator:
    input: [$z]
    layers:
      - reshape: [$z, 1, 1]
      - conv_transpose: {out: 16, kernel: 4, bias: false}
      - up: {out: 8}
      - conv_transpose: {out: 1, kernel: 4, stride: 2, padding: 1}
      - tanh
  discriminator: nets/disc.yaml
train: {task: gan, data: {name: digits, size: 16}}
"""

DISC = """\
name: disc
input: [1, {side}, {side}]
layers:
  - conv: {{out: 8, kernel: 4, stride: 2, padding: 1}}
  - leaky_relu: 0.2
  - flatten
  - linear: {out}
"""


def write(tmp_path: Path, gan: str = GAN, side: int = 16, out: int = 1) -> Path:
    (tmp_path / "nets").mkdir(exist_ok=True)
    (tmp_path / "nets" / "disc.yaml").write_text(DISC.format(side=side, out=out))
    path = tmp_path / "gan.yaml"
    path.write_text(gan)
    return path


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_load_inline_and_path_networks(tmp_path, monkeypatch):
    path = write(tmp_path)
    monkeypatch.chdir("/")                      # a path network is relative to its spec file
    spec = netspec.load(path)
    assert list(spec.networks) == ["generator", "discriminator"]
    assert spec.inputs == {} and spec.layers == ()
    g, d = spec.network("generator"), spec.network("discriminator")
    assert g.name == "generator" and g.params == {"z": 8} and tuple(g.inputs["input"].shape) == (8,)
    assert d.path.endswith("disc.yaml")
    report = netspec.check(spec)
    assert isinstance(report, MultiReport)
    assert report.networks["generator"].outputs == {"output": (1, 16, 16)}
    assert report.params == sum(r.params for r in report.networks.values())
    assert netspec.check(g).outputs == {"output": (1, 16, 16)}


def test_one_network_spec_is_its_own_network(tmp_path):
    path = tmp_path / "one.yaml"
    path.write_text("input: [4]\nlayers: [linear: 2]\n")
    spec = netspec.load(path)
    assert spec.networks is None and spec.network() is spec
    with pytest.raises(NetworkChoiceError, match="holds one network"):
        spec.network("generator")


def test_check_cli_prints_each_network_and_json(tmp_path):
    path = write(tmp_path)
    out = cli("check", path)
    assert out.exit_code == 0, out.output
    assert "== generator ==" in out.stdout and "== discriminator ==" in out.stdout
    assert "tiny_gan: 2 networks (generator, discriminator)" in out.stdout
    data = json.loads(cli("check", path, "--json").stdout)
    assert data["name"] == "tiny_gan" and list(data["networks"]) == ["generator", "discriminator"]
    assert data["networks"]["discriminator"]["outputs"] == {"output": [1]}
    one = json.loads(cli("check", path, "--json", "--network", "generator").stdout)
    assert list(one["networks"]) == ["generator"]
    assert "== discriminator ==" not in cli("check", path, "--network", "generator").stdout
    bad = cli("check", path, "--network", "critic")
    assert bad.exit_code == 2 and "no network 'critic'" in bad.output
    assert "generator or discriminator" in bad.output


def test_wiring_shape_mismatch_is_located_at_the_discriminator_input(tmp_path):
    path = write(tmp_path, side=32)
    out = cli("check", path)
    assert out.exit_code == 1
    assert "disc.yaml:2:8: error: the generator makes [1, 16, 16] per sample, but the " \
        "discriminator takes [1, 32, 32]" in out.stderr.splitlines()[0]
    assert f"the generator's output is made at {path}:" in out.stderr
    assert "hint: make the discriminator's input [1, 16, 16]" in out.stderr
    with pytest.raises(SpecError, match="discriminator takes"):
        netspec.check(path)


def test_wiring_discriminator_must_score(tmp_path):
    path = write(tmp_path, out=10)
    with pytest.raises(SpecError) as err:
        netspec.check(path)
    d = err.value.diagnostics[0]
    assert "the discriminator outputs [10] per sample; it scores each sample with one value" \
        in d.message and d.loc.file.endswith("disc.yaml") and d.loc.line == 7


def test_wiring_needs_the_task_networks(tmp_path):
    path = write(tmp_path, GAN.replace("  discriminator: nets/disc.yaml\n", "  critic: "
                                       "nets/disc.yaml\n"))
    with pytest.raises(SpecError, match="the task `gan` trains the networks generator, "
                                        "discriminator; this spec has no `discriminator`") as e:
        netspec.check(path)
    assert e.value.diagnostics[0].loc.line == 10        # the `networks:` key
    # without a task, nothing is wired: both networks check on their own
    free = write(tmp_path, GAN.replace("task: gan, ", ""))
    assert netspec.check(free).params > 0


@pytest.mark.parametrize("value, message", [
    ("../outside.yaml", "leads outside the spec's folder"),
    ("/etc/passwd", "is an absolute path"),
    ("nets/missing.yaml", "no such network file"),
    ("nets", "is a directory"),
    ("nets/loop.yaml", "holds `networks:` itself"),
    ("[1, 2]", "is a mapping (`input:`, `layers:`, ...) or the path of a spec file, got a list"),
])
def test_path_networks_are_bounded_like_includes(tmp_path, value, message):
    (tmp_path / "outside.yaml").write_text(DISC.format(side=16, out=1))
    sub = tmp_path / "sub"
    sub.mkdir()
    path = write(sub, GAN.replace("nets/disc.yaml", value))
    (sub / "nets" / "loop.yaml").write_text("networks: {a: loop.yaml}\n")
    with pytest.raises(SpecError, match=message.replace("(", r"\(").replace(")", r"\)")) as e:
        netspec.load(path)
    assert e.value.diagnostics[0].loc.line == 19


@pytest.mark.parametrize("text, message, line", [
    ("input: [2]\nnetworks: {a: {input: [2], layers: [linear: 1]}}\n",
     "`input:` belongs to one network", 1),
    ("networks: {a: {input: [2], layers: [linear: 1], train: {}}}\n",
     "network `a`: `train` is not a key of a network", 1),
    ("networks: {a.b: {input: [2], layers: [linear: 1]}}\n", "must be an id", 1),
    ("networks: []\n", "`networks:` maps each network's name", 1),
    ("networks: {a: {input: [2]}}\n", "the spec has no `layers:`", 1),
])
def test_network_mistakes_are_located(text, message, line):
    with pytest.raises(SpecError, match=message.replace("(", r"\(")) as e:
        netspec.loads(text, "n.yaml")
    assert e.value.diagnostics[0].loc.line == line


def test_build_draw_pick_a_network(tmp_path):
    import torch

    path = write(tmp_path)
    g = netspec.build(path, network="generator")
    assert g(torch.randn(2, 8)).shape == (2, 1, 16, 16)
    with pytest.raises(NetworkChoiceError, match=r"holds 2 networks \(generator, discriminator\)"):
        netspec.build(path)
    out = cli("draw", path, "-o", tmp_path / "d.dot")
    assert out.exit_code == 2 and "give --network generator or discriminator" in out.output
    out = cli("draw", path, "-o", tmp_path / "d.dot", "--network", "discriminator")
    assert out.exit_code == 0 and (tmp_path / "d.dot").is_file()


@pytest.mark.slow              # the ONNX exporter takes tens of seconds on 2 busy cores
def test_export_a_network_of_a_spec(tmp_path):
    path = write(tmp_path)
    result = netspec.export(str(path), tmp_path / "g.onnx", network="generator")
    assert result.diffs and result.info.inputs["input"].shape == (8,)
    out = cli("export", path, "-o", tmp_path / "x.onnx")
    assert out.exit_code == 2 and "--network generator or discriminator" in out.output


def test_inline_copy_is_self_contained(tmp_path):
    spec = netspec.load(write(tmp_path))
    text = inline(spec)
    assert "disc.yaml" not in text.split("\n", 1)[1]     # the file is copied in
    again = netspec.loads(text, str(tmp_path / "elsewhere" / "spec.yaml"))
    assert netspec.check(again).to_json() == netspec.check(spec).to_json()
    chosen = netspec.load(write(tmp_path), set={"z": 4})
    assert netspec.check(netspec.loads(inline(chosen))).networks["generator"] \
        .graph.inputs["input"].shape == (4,)


# ---- params passed into a network file; a --set that no network reads ----------------------

WIDE_DISC = """\
name: disc
params: {width: 8, act: {default: leaky_relu, choices: [leaky_relu, relu]}}
input: [1, 16, 16]
layers:
  - conv: {out: $width, kernel: 4, stride: 2, padding: 1}
  - $act
  - flatten
  - linear: 1
"""


def write_passing(tmp_path: Path, passing: str = "{width: $(2 * width)}",
                  extra: str = "") -> Path:
    (tmp_path / "nets").mkdir(exist_ok=True)
    (tmp_path / "nets" / "disc.yaml").write_text(WIDE_DISC)
    text = GAN.replace("params: {z: 8}", "params: {z: 8, width: 4, lr: 0.001}").replace(
        "  discriminator: nets/disc.yaml\n",
        f"  discriminator: {{spec: nets/disc.yaml, params: {passing}{extra}}}\n")
    path = tmp_path / "gan.yaml"
    path.write_text(text)
    return path


def _conv_channels(spec) -> int:
    return netspec.check(spec).networks["discriminator"].graph.nodes["0"].shape[0]


def test_params_passed_into_a_network_file_follow_the_outer_params(tmp_path):
    path = write_passing(tmp_path)
    assert _conv_channels(netspec.load(path)) == 8                   # 2 * width 4
    assert _conv_channels(netspec.load(path, set={"width": 16})) == 32
    d = netspec.load(path, set={"width": 16}).network("discriminator")
    assert d.params == {"width": 32, "act": "leaky_relu"}
    out = cli("check", path, "--set", "width=3", "--network", "discriminator")
    assert out.exit_code == 0 and "[6, 8, 8]" in out.stdout
    chosen = netspec.load(path, set={"width": 16})
    again = netspec.loads(inline(chosen), str(tmp_path / "elsewhere" / "spec.yaml"))
    assert "disc.yaml" not in inline(chosen).split("\n", 1)[1] and _conv_channels(again) == 32
    # a plain path keeps the file's own params
    plain = write(tmp_path)
    assert netspec.load(plain).network("discriminator").params == {}


@pytest.mark.parametrize("passing, extra, message, at", [
    ("{widht: 3}", "", "network `discriminator`: nets/disc.yaml has no param `widht` "
     "(params: width, act)", "widht"),
    ("{width: 2.5}", "", "`width` takes an integer (it is 8 in `params:`), got 2.5 "
     "(nets/disc.yaml declares it)", "2.5"),
    ("{act: gelu}", "", "`act` is one of 'leaky_relu', 'relu', got 'gelu'", "gelu"),
    ("{width: $(2 * depth)}", "", "unknown name `depth`", "$("),
    ("[1]", "", "`params:` maps the network file's params to values, got a list", "[1]"),
    ("{}", ", layers: []", "a network file's entry takes `spec:` and `params:`, not `layers`",
     "layers"),
])
def test_params_passed_into_a_network_file_are_checked_and_located(tmp_path, passing, extra,
                                                                  message, at):
    path = write_passing(tmp_path, passing, extra)
    line = path.read_text().split("\n")[18]
    with pytest.raises(SpecError) as e:
        netspec.load(path)
    d = e.value.diagnostics[0]
    assert message in d.message, d.message
    assert (d.loc.line, d.loc.col) == (19, line.index(at) + 1), (d.message, d.loc)
    out = cli("check", path)
    assert out.exit_code == 1 and "Traceback" not in out.output
    if passing == "{widht: 3}":
        assert d.hint == "did you mean `width`?"


def test_a_set_that_no_network_reads_is_exit_2(tmp_path):
    # the network file keeps its own `width`; the inline generator does not use it
    path = write(tmp_path, GAN.replace("params: {z: 8}", "params: {z: 8, width: 4}"))
    out = cli("check", path, "--set", "width=16")
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "`--set width=16`: no network of the spec reads the param `width`" in out.output
    assert "discriminator: {spec: nets/disc.yaml, params: {width: $width}}" in out.output
    assert cli("check", path, "--set", "z=4").exit_code == 0         # the generator reads z
    assert cli("check", path).exit_code == 0                          # declared, unset: fine
    # read by `train:` only, or passed on to the file: read
    trained = write(tmp_path, GAN.replace("params: {z: 8}", "params: {z: 8, bs: 4}")
                    .replace("size: 16}", "size: 16}, batch_size: $bs"))
    assert netspec.load(trained, set={"bs": 8}).train["batch_size"] == 8
    assert netspec.load(write_passing(tmp_path), set={"width": 5}).params["width"] == 5
    # an inline network that declares its own `z` is not reached by `--set z`
    own = write(tmp_path, GAN.replace("    input: [$z]\n", "    params: {z: 8}\n"
                                      "    input: [$z]\n"))
    out = cli("check", own, "--set", "z=4")
    assert out.exit_code == 2 and "no network of the spec reads the param `z`" in out.output
