"""Hostile inputs against the surfaces of round 2 (`netspec augment`, mosaic, `eval
--confusion`, `--global-batch`, init/freeze per network, `{spec:, params:}` networks, zoo
params, run directories of checkpoint format 2): each ends in its result or in one message
naming the value (exit 1, located where the spec is at fault; exit 2 for misuse), never a
traceback or a hang. One tiny run, trained once for the module, is copied for the cases that
damage it."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
from contextlib import contextmanager

import pytest

from adversarial import invoke

TINY = """name: tiny
input: [1, 8, 8]
layers:
  - flatten
  - linear: 10
train:
  data: {{name: digits, val: 0.2, test: 0.2}}
  epochs: 1
  batch_size: 64
{extra}"""

GAN = """name: two
params: {{z: 4, width: 4}}
networks:
  generator:
    input: [$z]
    layers: [{{linear: 64}}, {{reshape: [1, 8, 8]}}, sigmoid]
  discriminator: {discriminator}
train:
  task: gan
  data: {{name: digits}}
  epochs: 1
{extra}"""

INLINE_D = "{input: [1, 8, 8], layers: [flatten, {linear: $width}, {linear: 1}]}"
LOCATED = re.compile(r"\.yaml:\d+:\d+: error: ")


@contextmanager
def deadline(seconds: int = 30):
    """A hang (a read blocked on a FIFO) fails the test instead of stalling the suite."""
    def expire(*_):
        raise TimeoutError(f"no answer within {seconds} s: a hang")
    old = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def spec(tmp_path, text: str, name: str = "s.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The run directory of a finished one-epoch run of TINY."""
    root = tmp_path_factory.mktemp("round2")
    invoke(["train", spec(root, TINY.format(extra="")), "--out", root / "runs", "-q"])
    return root / "runs" / "tiny" / "1"


def copy_run(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "run")


# ---- netspec augment -------------------------------------------------------------------------

@pytest.mark.parametrize("flags", [["--seed", str(10**30)], ["--seed", "-" + str(10**30)],
                                   ["-o", "grid.jpeg"], ["-o", "grid"], ["--n", "0"],
                                   ["--n", str(10**15)], ["--columns", "0"]])
def test_augment_flags_out_of_range_are_usage_errors(tmp_path, flags):
    path = spec(tmp_path, TINY.format(extra="  augment: [hflip]\n"))
    args = ["augment", path, "-o", tmp_path / "g.png", *flags]
    result = invoke(args, root=tmp_path, codes=(2,))
    assert "Invalid value" in result.output, result.output


def test_augment_more_columns_than_images_draws_one_row(tmp_path):
    path = spec(tmp_path, TINY.format(extra="  augment: [hflip]\n"))
    invoke(["augment", path, "-o", tmp_path / "g.png", "--n", "3", "--columns", str(10**15)],
           root=tmp_path, allowed=("g.png",), codes=(0,))
    assert (tmp_path / "g.png").read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("mosaic", ["{p: 1, center: [0, 0]}", "{p: 1, center: [1, 1]}",
                                    "{p: 1, center: [0.5, 0.5]}",
                                    "{p: 1, fit: scale, center: [0, 1]}",
                                    "{p: 1, fit: scale, center: [1, 1]}"])
def test_mosaic_with_degenerate_centres_still_draws(tmp_path, mosaic):
    path = spec(tmp_path, TINY.format(extra=f"  augment: [{{mosaic: {mosaic}}}, mixup]\n"))
    result = invoke(["augment", path, "-o", tmp_path / "g.png", "--n", "4"],
                    root=tmp_path, allowed=("g.png",), codes=(0,))
    assert "mosaic" in result.output


@pytest.mark.parametrize("mosaic, named", [
    ("{center: [0.75, 0.25]}", "low <= high"), ("{center: [.nan, 0.5]}", "center[0]"),
    ("{center: [-1, 2]}", "center[0]"), ("{center: []}", "center"),
    ("{fit: squish}", "fit"), ("{p: .inf}", "p")])
def test_mosaic_arguments_are_refused_at_check_time(tmp_path, mosaic, named):
    path = spec(tmp_path, TINY.format(extra=f"  augment: [{{mosaic: {mosaic}}}]\n"))
    for command in (["check", path], ["augment", path, "-o", tmp_path / "g.png"]):
        result = invoke(command, root=tmp_path, codes=(1,))
        assert LOCATED.search(result.output) and named in result.output, result.output


def test_augment_refuses_to_overwrite_its_spec(tmp_path):
    path = spec(tmp_path, TINY.format(extra="  augment: [hflip]\n"), name="s.png")
    invoke(["augment", path, "-o", path], root=tmp_path, codes=(1, 2))


# ---- eval --confusion and damaged run directories ----------------------------------------------

@pytest.mark.parametrize("target", ["c.jpeg", "c", "RUN/spec.yaml", "RUN/best.safetensors"])
def test_confusion_paths_that_are_misuse(trained, tmp_path, target):
    run = copy_run(trained, tmp_path)
    out = str(run) + target[3:] if target.startswith("RUN") else tmp_path / target
    invoke(["eval", run, "--confusion", out], root=tmp_path, codes=(2,))


@pytest.mark.parametrize("name", ["train.json", "best.safetensors"])
def test_a_fifo_in_the_run_is_refused_not_waited_on(trained, tmp_path, name):
    run = copy_run(trained, tmp_path)
    (run / name).unlink()
    os.mkfifo(run / name)
    with deadline():
        result = invoke(["eval", run], codes=(1,))
    assert "not a regular file" in result.output and "hint:" in result.output, result.output


def test_a_regression_loss_written_into_train_json_is_named(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    train = json.loads((run / "train.json").read_text())
    train["loss"] = {"mse": {}}
    (run / "train.json").write_text(json.dumps(train))
    result = invoke(["eval", run, "--confusion", tmp_path / "c.png"], codes=(1,))
    assert "`mse` is for regression" in result.output, result.output
    assert not (tmp_path / "c.png").exists()


def test_resume_of_a_run_whose_spec_grew_a_layer(trained, tmp_path):
    run = copy_run(trained, tmp_path)
    text = (run / "spec.yaml").read_text().replace("  - linear: 10\n",
                                                   "  - linear: 10\n  - linear: 10\n")
    (run / "spec.yaml").write_text(text)
    result = invoke(["train", "--resume", run, "-q", "--epochs", "2"], codes=(1,))
    assert "does not fit" in result.output and "2.weight" in result.output, result.output


# ---- --global-batch ------------------------------------------------------------------------------

@pytest.mark.parametrize("line, named", [("  global_batch: 0", "global_batch"),
                                         ("  global_batch: .nan", "global_batch"),
                                         ("  global_batch: [8]", "global_batch"),
                                         ("  global_batch: 32\n  batch_size: 8", "both")])
def test_global_batch_values_are_located(tmp_path, line, named):
    text = TINY.format(extra=line + "\n").replace("  batch_size: 64\n", "")
    result = invoke(["check", spec(tmp_path, text)], codes=(1,))
    assert LOCATED.search(result.output) and named in result.output, result.output


def test_global_batch_flag_beyond_the_bound(tmp_path):
    path = spec(tmp_path, TINY.format(extra=""))
    result = invoke(["train", path, "--out", tmp_path / "runs", "-q",
                     "--global-batch", str(10**15)], root=tmp_path, codes=(1, 2))
    assert "global" in result.output and not (tmp_path / "runs").exists(), result.output


# ---- several networks: init, freeze, {spec:, params:} ---------------------------------------------

@pytest.mark.parametrize("line, named", [
    ("  init: 5", "`init`"), ("  init: [a, b]", "`init`"), ("  init: {}", "`from`"),
    ("  init: {generator: {from: x.safetensors, map: 5}}", "`map`"),
    ("  init: {generator: {from: x.safetensors, strict: maybe}}", "`strict`"),
    ("  freeze: [null]", "freeze"), ("  freeze: {generator: 1}", "freeze")])
def test_init_and_freeze_mistakes_name_the_spec_key(tmp_path, line, named):
    text = GAN.format(discriminator=INLINE_D, extra=line + "\n")
    result = invoke(["check", spec(tmp_path, text)], codes=(1,))
    assert LOCATED.search(result.output) and named in result.output, result.output
    assert "per_network" not in result.output and "`one`" not in result.output, result.output


def test_freeze_of_every_trainable_layer_of_a_network(tmp_path):
    text = GAN.format(discriminator=INLINE_D, extra='  freeze: ["discriminator.*"]\n')
    result = invoke(["train", spec(tmp_path, text), "--out", tmp_path / "runs", "-q"],
                    root=tmp_path, allowed=("runs/",), codes=(1,))
    assert "leaves no parameter of the network `discriminator`" in result.output


def test_init_from_a_fifo_is_refused(tmp_path):
    os.mkfifo(tmp_path / "w.safetensors")
    text = GAN.format(discriminator=INLINE_D,
                      extra=f"  init: {{generator: {tmp_path / 'w.safetensors'}}}\n")
    with deadline():
        result = invoke(["train", spec(tmp_path, text), "--out", tmp_path / "runs", "-q"],
                        codes=(1,))
    assert "not a regular file" in result.output, result.output


@pytest.mark.parametrize("entry, message, line", [
    ("{params: {width: 3}}", "no `input:`", 7), ("{spec: null}", "got null", 7),
    ("{spec: d.yaml, params: 5}", "`params:` maps", 7), ("{spec: ../../etc/passwd}", "outside", 7),
    ("{spec: f.yaml}", "FIFO", 7), ("{spec: s.yaml}", "holds `networks:` itself", 7)])
def test_network_file_entries_are_located_at_the_entry(tmp_path, entry, message, line):
    (tmp_path / "d.yaml").write_text("name: d\nparams: {width: 4}\ninput: [1, 8, 8]\n"
                                     "layers: [flatten, {linear: $width}, {linear: 1}]\n")
    os.mkfifo(tmp_path / "f.yaml")
    with deadline():
        result = invoke(["check", spec(tmp_path, GAN.format(discriminator=entry, extra=""))],
                        codes=(1,))
    assert f"s.yaml:{line}:" in result.output and message in result.output, result.output


def test_a_set_that_no_network_reads_is_misuse(tmp_path):
    (tmp_path / "d.yaml").write_text("name: d\nparams: {width: 4}\ninput: [1, 8, 8]\n"
                                     "layers: [flatten, {linear: $width}, {linear: 1}]\n")
    text = GAN.format(discriminator="d.yaml", extra="").replace("params: {z: 4, width: 4}",
                                                                "params: {z: 4, depth: 4}")
    invoke(["check", spec(tmp_path, text), "--set", "depth=3"], codes=(2,))


# ---- the zoo's params -------------------------------------------------------------------------------

ZOO = os.path.join(os.path.dirname(__file__), "..", "specs")


@pytest.mark.parametrize("name", ["alexnet", "nin", "vgg11", "densenet"])
def test_a_zoo_size_too_small_is_located_and_still_drawn(tmp_path, name):
    path = os.path.join(ZOO, f"{name}.yaml")
    result = invoke(["check", path, "--variant", "cpu", "--set", "size=7"], codes=(1,))
    assert LOCATED.search(result.output) and "hint:" in result.output, result.output
    if shutil.which("dot"):        # down to the failing layer, even the first
        out = tmp_path / "x.svg"
        result = invoke(["draw", path, "--set", "size=7", "-o", out], codes=(1,))
        assert out.exists() and "could not render" not in result.output, result.output


@pytest.mark.parametrize("value", ["0", "-1", str(10**15), ".nan", "big", "64.5", "[1, 2]"])
def test_a_zoo_size_of_the_wrong_kind(value):
    path = os.path.join(ZOO, "resnet18.yaml")
    invoke(["check", path, "--set", f"size={value}"], codes=(1, 2))


# ---- data sources ----------------------------------------------------------------------------------

def test_digits_upsampled_beyond_memory_is_refused_at_check_time(tmp_path):
    text = TINY.format(extra="").replace("name: digits,", "name: digits, size: 1000000,")
    result = invoke(["check", spec(tmp_path, text)], codes=(1,))
    assert LOCATED.search(result.output) and "at most 512" in result.output, result.output
