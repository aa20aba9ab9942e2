"""Specs of several networks wherever a one-network spec works: `check --count TOOL` per
network (each table, each network's JSON), the fail-soft check (a shape error in one network
still prints every other network's table and the failing one down to the failure, then the
errors; exit 1), `draw --network NAME` of the failing network in red, and `netspec serve`'s
report and diagram per network."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError
from netspec.kinds.conventions import count_summary
from netspec.report import MultiReport, check
from netspec.serve.app import create_app

with warnings.catch_warnings():     # starlette 1.x suggests httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SPECS = Path(__file__).resolve().parent.parent / "specs"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's `dot` program is not installed")

GAN = """\
name: soft_gan
networks:
  generator:
    input: [8]
    layers:
      - reshape: [8, 1, 1]
      - conv_transpose: {out: 4, kernel: 4, stride: 4}
      - conv_transpose: {out: 1, kernel: 4, stride: 4}
      - tanh
  discriminator:
    input: [1, 16, 16]
    layers:
      - conv: {out: 8, kernel: 4, stride: 2, padding: 1}
      - leaky_relu: 0.2
      - conv: {out: 1, kernel: KERNEL}
      - flatten
train: {task: gan, data: {name: digits, size: 16}}
"""
FAILING_LINE = 15               # the discriminator's second conv


def cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write(tmp_path: Path, kernel: int = 9, text: str = GAN) -> Path:
    """The spec; its discriminator's last conv fails on the 8x8 map unless `kernel` <= 8."""
    path = tmp_path / "gan.yaml"
    path.write_text(text.replace("KERNEL", str(kernel)))
    return path


# ---- --count per network -----------------------------------------------------------------

@pytest.mark.parametrize("spec, tool", [("dcgan_digits.yaml", "thop"),
                                        ("cyclegan_small.yaml", "fvcore"),
                                        ("dcgan_digits.yaml", "torchvision"),
                                        ("cyclegan_small.yaml", "ptflops")])
def test_count_gives_each_networks_total_in_the_tools_convention(spec, tool):
    loaded = netspec.load(SPECS / spec)
    expected = {name: count_summary(tool, netspec.check(net).graph)
                for name, net in loaded.networks.items()}
    out = cli("check", SPECS / spec, "--count", tool)
    assert out.exit_code == 0, out.output
    tables = out.stdout.split("== ")[1:]
    assert [t.split(" ==")[0] for t in tables] == list(loaded.networks)
    for table, (name, summary) in zip(tables, expected.items()):
        assert f"MACs ({tool}) {summary['macs']:,} (" in table, (name, table)
    data = json.loads(cli("check", SPECS / spec, "--count", tool, "--json").stdout)
    assert {n: r["count"] for n, r in data["networks"].items()} == expected
    # the count differs from netspec's own where the convention says it does (norms, ...)
    assert any(s["macs"] != data["networks"][n]["macs"] for n, s in expected.items()) \
        or tool == "torchvision"


def test_count_of_one_network_and_a_network_file_agree(tmp_path):
    one = json.loads(cli("check", SPECS / "dcgan_digits.yaml", "--count", "thop", "--json",
                         "--network", "generator").stdout)
    assert list(one["networks"]) == ["generator"]
    # the zoo's DCGAN discriminator as a network file counts as when checked on its own
    gan = tmp_path / "gan.yaml"
    (tmp_path / "d.yaml").write_text((SPECS / "dcgan_discriminator.yaml").read_text())
    gan.write_text("networks: {d: d.yaml}\n")
    alone = json.loads(cli("check", SPECS / "dcgan_discriminator.yaml", "--count", "thop",
                           "--json").stdout)
    inside = json.loads(cli("check", gan, "--count", "thop", "--json").stdout)
    assert inside["networks"]["d"]["count"] == alone["count"]
    bad = cli("check", gan, "--count", "flopz")
    assert bad.exit_code == 2 and "no MAC convention 'flopz'" in bad.output


# ---- fail-soft ------------------------------------------------------------------------------

def test_a_shape_error_in_one_network_prints_every_table_then_the_error(tmp_path):
    path = write(tmp_path)
    out = cli("check", path)
    assert out.exit_code == 1 and "Traceback" not in out.output
    assert "== generator ==" in out.stdout and "generator: 4 layers; output output " \
        "[1, 16, 16]" in out.stdout
    disc = out.stdout.split("== discriminator ==")[1]
    assert "leaky_relu" in disc and "(error: below)" in disc and "flatten" not in disc
    assert "discriminator: 2 layers inferred; stopped by 1 shape error (below), at conv '2'" \
        in disc
    assert out.stderr.startswith(f"{path}:{FAILING_LINE}:9: error: conv '2' gets a 8x8 "
                                 f"feature map; kernel 9x9 needs at least 9x9")
    data = json.loads(cli("check", path, "--json").stdout)
    assert "errors" not in data["networks"]["generator"]
    (error,) = data["networks"]["discriminator"]["errors"]
    assert (error["name"], error["line"], error["col"]) == ("2", FAILING_LINE, 9)
    assert [layer["name"] for layer in data["networks"]["discriminator"]["layers"]] == ["0", "1"]
    # the healthy one's table alone; the spec is still wrong: its errors, exit 1
    one = cli("check", path, "--network", "generator")
    assert one.exit_code == 1 and "== discriminator ==" not in one.stdout
    assert "generator: 4 layers; output" in one.stdout and "conv '2'" in one.stderr


def test_the_soft_check_in_python(tmp_path):
    path = write(tmp_path)
    with pytest.raises(SpecError, match="conv '2'"):
        netspec.check(path)
    report = check(path, soft=True)
    assert isinstance(report, MultiReport)
    assert report.failed_networks == ["discriminator"] and report.failure.name == "2"
    assert report.networks["generator"].error is None
    assert report.error.diagnostics[0].loc.line == FAILING_LINE
    assert check(write(tmp_path, kernel=8), soft=True).error is None


def test_a_wiring_mistake_still_prints_the_tables(tmp_path):
    path = write(tmp_path, kernel=8, text=GAN.replace("[1, 16, 16]", "[1, 32, 32]"))
    out = cli("check", path)
    assert out.exit_code == 1
    assert "== generator ==" in out.stdout and "== discriminator ==" in out.stdout
    assert "the generator makes [1, 16, 16] per sample, but the discriminator takes " \
        "[1, 32, 32]" in out.stderr
    report = check(path, soft=True)
    assert report.wiring_error is not None and report.failures == ()
    assert "discriminator takes" in report.to_json()["errors"][0]["message"]
    with pytest.raises(SpecError, match="discriminator takes"):
        netspec.check(path)


def test_draw_of_the_failing_network_is_red_down_to_the_failure(tmp_path):
    path = write(tmp_path)
    out = cli("draw", path, "--network", "discriminator", "-o", tmp_path / "d.dot")
    assert out.exit_code == 1, out.output
    assert "down to the layer that failed: 2" in out.stdout
    assert f"{path}:{FAILING_LINE}:9: error: conv '2'" in out.stderr
    dot = (tmp_path / "d.dot").read_text()
    assert '"failed/2"' in dot and "#d62728" in dot and '"layer/3"' not in dot
    fine = cli("draw", path, "--network", "generator", "-o", tmp_path / "g.dot")
    assert fine.exit_code == 0 and "failed/" not in (tmp_path / "g.dot").read_text()


# ---- netspec serve ------------------------------------------------------------------------

@pytest.fixture
def served(tmp_path) -> TestClient:
    write(tmp_path)
    return TestClient(create_app(tmp_path), base_url="http://127.0.0.1")


def test_serve_shows_each_network_and_the_failing_ones_errors(served, tmp_path):
    text = (tmp_path / "gan.yaml").read_bytes()
    query = {"path": "gan.yaml", "extras": "1"}
    g = served.post("/api/check", params={**query, "network": "generator"}, content=text)
    assert g.status_code == 422                     # the spec has an error, in the other one
    body = g.json()
    assert body["networks"] == ["generator", "discriminator"]
    assert (body["errors"][0]["line"], body["errors"][0]["col"]) == (FAILING_LINE, 9)
    assert [r["name"] for r in body["rows"]] == ["0", "1", "2", "3"]
    assert not any(r["failed"] for r in body["rows"])
    d = served.post("/api/check", params={**query, "network": "discriminator"}, content=text)
    rows = d.json()["rows"]
    assert [r["name"] for r in rows] == ["0", "1", "2"] and rows[-1]["failed"] is True
    assert d.json()["shown"]["params"] == 8 * 16 + 8
    plain = served.post("/api/check", params={"path": "gan.yaml"}, content=text).json()
    assert plain["networks"]["generator"]["params"]["total"] > 0
    assert [layer["name"] for layer in plain["layers"]] == ["0", "1", "2", "3"]


@needs_dot
def test_serve_draws_each_network_the_failing_one_in_red(served, tmp_path):
    text = (tmp_path / "gan.yaml").read_bytes()
    d = served.post("/api/draw", params={"path": "gan.yaml", "network": "discriminator"},
                    content=text)
    assert d.status_code == 422 and "<svg" in d.text and "#d62728" in d.text
    g = served.post("/api/draw", params={"path": "gan.yaml", "network": "generator"},
                    content=text)
    assert g.status_code == 200 and "#d62728" not in g.text


def test_serve_refuses_a_set_that_no_network_reads(served, tmp_path):
    (tmp_path / "d.yaml").write_text("params: {width: 4}\ninput: [1, 16, 16]\nlayers:\n"
                                     "  - conv: {out: $width, kernel: 16}\n  - flatten\n")
    text = "params: {width: 4}\nnetworks: {d: d.yaml}\n"
    r = served.post("/api/check", params={"path": "two.yaml", "set": "width=8"}, content=text)
    assert r.status_code == 400 and "no network of the spec reads the param `width`" \
        in r.text
    passed = text.replace("d: d.yaml", "d: {spec: d.yaml, params: {width: $width}}")
    r = served.post("/api/check", params={"path": "two.yaml", "set": "width=8"},
                    content=passed)
    assert r.status_code == 200 and r.json()["networks"]["d"]["layers"][0]["shape"] == [8, 1, 1]
