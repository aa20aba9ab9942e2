"""Hostile input (DESIGN §9): every spec, however made, ends `netspec check` with a report or a
located `file:line:col: error:` message and exit 1 — never a traceback, a hang, or a blow-up.

Most cases run in this process through click's runner; the ones that could hang or take the
memory (a FIFO, /dev/zero, expansion bombs) run in a fresh interpreter with a generous
timeout, so a regression fails the test instead of stalling the suite. No timing is asserted
tightly: the bounds are sanity checks against a hang (seconds, not minutes).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from netspec.cli.main import main

ROOT = Path(__file__).resolve().parents[1]
LOCATED = re.compile(r"^\S+:\d+:\d+: error: ", re.M)
B = "input: [3, 8, 8]\n"          # a valid first line for cases about other keys


def _write(folder: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")


def check_in_process(folder: Path, spec: str = "spec.yaml") -> str:
    """stderr of `netspec check SPEC` run in `folder`, asserting a located exit 1."""
    old = os.getcwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(main, ["check", spec])
    finally:
        os.chdir(old)
    assert "Traceback" not in result.output
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    assert LOCATED.match(result.stderr), result.stderr
    return result.stderr


def check_in_subprocess(folder: Path, spec: str = "spec.yaml", timeout: float = 20) -> str:
    """stderr of `python -m netspec check SPEC` in a fresh interpreter (a hang fails it)."""
    done = subprocess.run([sys.executable, "-m", "netspec", "check", spec], cwd=folder,
                          capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode == 1, done.stderr
    assert LOCATED.match(done.stderr), done.stderr
    return done.stderr


# ---- reading: regular files of at most 10 MiB, UTF-8 -------------------------------------

def test_a_fifo_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "spec.yaml")
    err = check_in_subprocess(tmp_path)
    assert err.startswith("spec.yaml:1:1: error: spec.yaml is a FIFO (named pipe), not a "
                          "regular file\n  hint: a spec file is a YAML text file of at most 10 MB")


def test_an_included_fifo_is_refused_without_waiting(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: pipe.yaml\n" + B + "layers: [relu]\n"})
    os.mkfifo(tmp_path / "pipe.yaml")
    err = check_in_subprocess(tmp_path)
    assert err.startswith("spec.yaml:1:10: error: pipe.yaml is a FIFO (named pipe), not a "
                          "regular file\n  hint: an included file is a YAML text file")


def test_a_device_is_refused_without_reading_it(tmp_path):
    err = check_in_subprocess(tmp_path, "/dev/zero")
    assert err.startswith("/dev/zero:1:1: error: /dev/zero is a device, not a regular file\n"
                          "  hint: ")


def test_a_file_over_10_mib_is_refused_before_it_is_read(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: big.yaml\n" + B + "layers: [relu]\n",
                      "big.yaml": "#" * (10 * 1024 * 1024 + 1)})
    assert check_in_process(tmp_path) == (
        "spec.yaml:1:10: error: big.yaml is larger than 10 MB\n"
        "  hint: an included file is a small text file; is this the right file?\n")


def test_a_non_utf8_include_is_located_in_it(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: [more.yaml]\n" + B + "layers: [relu]\n",
                      "more.yaml": b"blocks:\n  b: {layers: [relu]}  # caf\xe9\n"})
    assert check_in_process(tmp_path) == (
        "more.yaml:2:29: error: the file is not UTF-8 text: byte 0xe9 here\n"
        "  included at spec.yaml:1:11\n"
        "  hint: a spec is YAML text saved as UTF-8; is this the right file?\n")


READING = {
    "a directory included": ({"spec.yaml": "include: sub\n" + B + "layers: [relu]\n",
                              "sub/x.yaml": "blocks: {}\n"},
                             "spec.yaml:1:10: error: sub is a directory, not an included file"),
    "a NUL byte": ({"spec.yaml": b"input: [4]\x00\nlayers: [relu]\n"},
                   "spec.yaml:1:11: error: the file contains the character #x0000"),
    "random bytes": ({"spec.yaml": bytes((i * 7919 + 13) % 256 for i in range(4000))},
                     "spec.yaml:1:2: error: the file is not UTF-8 text: byte 0xfc here"),
    "latin-1 text": ({"spec.yaml": b"name: caf\xe9\n" + B.encode() + b"layers: [relu]\n"},
                     "spec.yaml:1:10: error: the file is not UTF-8 text: byte 0xe9 here"),
}


@pytest.mark.parametrize("files, first", READING.values(), ids=READING.keys())
def test_unreadable_files_are_located(tmp_path, files, first):
    _write(tmp_path, files)
    err = check_in_process(tmp_path)
    assert err.splitlines()[0].startswith(first), err
    assert "  hint: " in err


# ---- includes: inside the spec's folder tree, bounded, each file read once ----------------

def test_an_absolute_include_is_refused_naming_the_rule(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: /etc/passwd\n" + B + "layers: [relu]\n"})
    assert check_in_process(tmp_path) == (
        "spec.yaml:1:10: error: include `/etc/passwd` is an absolute path\n"
        "  hint: includes are relative paths that stay inside the spec's folder (and its "
        "subfolders) or netspec's built-in library\n")


def test_an_include_leaving_the_folder_is_refused(tmp_path):
    _write(tmp_path, {"net/spec.yaml": "include: [ok.yaml, ../secret.yaml]\n" + B +
                      "layers: [relu]\n", "net/ok.yaml": "blocks: {}\n",
                      "secret.yaml": "blocks: {}\n"})
    assert check_in_process(tmp_path, "net/spec.yaml").splitlines()[0] == (
        "net/spec.yaml:1:20: error: include `../secret.yaml` leads outside the spec's folder "
        "`net`")


def test_a_symlink_out_of_the_folder_is_refused(tmp_path):
    _write(tmp_path, {"net/spec.yaml": "include: link.yaml\n" + B + "layers: [relu]\n",
                      "outside.yaml": "blocks: {}\n"})
    (tmp_path / "net" / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    assert "leads outside the spec's folder" in check_in_process(tmp_path, "net/spec.yaml")


def test_includes_in_subfolders_and_back_are_fine(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: lib/a.yaml\n" + B + "layers: [b, c]\n",
                      "lib/a.yaml": "include: ../c.yaml\nblocks: {b: {layers: [relu]}}\n",
                      "c.yaml": "blocks: {c: {layers: [relu]}}\n"})
    old = os.getcwd()
    os.chdir(tmp_path)
    try:
        result = CliRunner().invoke(main, ["check", "spec.yaml"])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output


def test_include_depth_is_bounded(tmp_path):
    files = {f"c{i}.yaml": f"include: c{i + 1}.yaml\nblocks: {{}}\n" for i in range(80)}
    files["spec.yaml"] = "include: c0.yaml\n" + B + "layers: [relu]\n"
    _write(tmp_path, files)
    assert check_in_process(tmp_path) == (
        "c63.yaml:1:10: error: includes nest deeper than 64 levels\n"
        "  hint: include the files of blocks from the spec itself\n")


def test_include_count_is_bounded(tmp_path):
    names = [f"m{i}.yaml" for i in range(1001)]
    files = {n: "blocks: {}\n" for n in names}
    files["spec.yaml"] = "include: [" + ", ".join(names) + "]\n" + B + "layers: [relu]\n"
    _write(tmp_path, files)
    err = check_in_process(tmp_path)
    assert re.match(r"spec\.yaml:1:\d+: error: more than 1000 includes in all\n  hint: ", err)


def test_an_include_fan_out_reads_each_file_once(tmp_path):
    """10 files per level, each including the 10 of the next, 8 levels: 80 reads, not 10**8."""
    files = {}
    for level in range(8):
        below = [f"l{level + 1}_{k}.yaml" for k in range(10)] if level < 7 else []
        for j in range(10):
            files[f"l{level}_{j}.yaml"] = (f"include: [{', '.join(below)}]\n" if below else "") \
                + f"blocks: {{b{level}_{j}: {{layers: [relu]}}}}\n"
    files["spec.yaml"] = ("include: [" + ", ".join(f"l0_{k}.yaml" for k in range(10)) + "]\n"
                          + B + "layers: [b7_3, nosuch]\n")
    _write(tmp_path, files)
    err = check_in_subprocess(tmp_path)
    assert "unknown layer kind `nosuch`" in err


def test_an_include_loop_through_a_diamond_is_reported_once(tmp_path):
    _write(tmp_path, {"spec.yaml": "include: [a.yaml, b.yaml]\n" + B + "layers: [relu]\n",
                      "a.yaml": "include: c.yaml\nblocks: {}\n",
                      "b.yaml": "include: c.yaml\nblocks: {}\n",
                      "c.yaml": "include: a.yaml\nblocks: {}\n"})
    assert check_in_process(tmp_path) == (
        "c.yaml:1:10: error: include loop: spec.yaml -> a.yaml -> c.yaml -> a.yaml\n"
        "  hint: a file may not include itself, directly or not\n")


# ---- expansion: bounded nodes, repeats, nesting, values, and total work -------------------

def _chain(prefix: str, depth: int, body: str, params: str = "") -> str:
    """Blocks p0 .. p{depth}: each uses the next (`body` formats with the next's name)."""
    text = "blocks:\n"
    for i in range(depth):
        text += f"  {prefix}{i}:\n{params}    layers:\n" + body.format(n=f"{prefix}{i + 1}")
    return text + f"  {prefix}{depth}:\n{params}    layers: [relu]\n"


BOMBS = {
    # 2**40 uses of an entry that is left out: bounded by the work, not the node count
    "2^40 fan-out of if: false": (
        B + _chain("f", 40, "      - {n}\n      - {n}\n").replace(
            "  f40:\n    layers: [relu]\n",
            "  f40:\n    layers:\n      - {relu: null, if: false}\n      - identity\n")
        + "layers: [f0]\n",
        "error: the network takes more than 50,000 entries to expand"),
    "2^20 nodes": (B + _chain("w", 20, "      - {n}\n      - {n}\n") + "layers: [w0]\n",
                   "entries to expand"),
    "a repeat past 10,000 from an expression": (
        B + "blocks:\n  b:\n    params: {n: null}\n    layers:\n"
        "      - {relu: null, repeat: $(n * 1000)}\nlayers: [{b: {n: 1000000000000}}]\n",
        "error: `repeat` must be between 1 and 10000, got 1000000000000000"),
    "a huge repeat after the first error": (
        B + "blocks:\n  b:\n    params: {n: null}\n    layers:\n      - linear: {out: -1}\n"
        "      - {relu: null, repeat: $n}\nlayers: [{b: {n: 1000000000000000}}]\n",
        "error: linear: `out`: must be at least 1, got -1"),
    "nodes past 100,000": (B + "blocks:\n  b:\n    layers: [{relu: null, repeat: 10000}]\n"
                           "layers: [{b: null, repeat: 11}]\n",
                           "error: the network expands to more than 100,000 layers"),
    "blocks nested 70 deep": (B + _chain("n", 70, "      - {n}\n") + "layers: [n0]\n",
                              "error: blocks nest deeper than 64 levels here"),
    "a string doubled through 60 blocks": (
        B + _chain("d", 60, "      - {n}: {{s: $(s + s)}}\n", "    params: {s: null}\n")
        + "layers: [{d0: {s: ab}}]\n",
        "error: in `$(s + s)`: the value has more than 10,000 characters"),
    "a list nested through 60 blocks": (
        B + _chain("d", 60, "      - {n}: {{s: \"$([s, s])\"}}\n", "    params: {s: null}\n")
        + "layers: [{d0: {s: [1]}}]\n",
        "error: in `$([s, s])`: the value has more than 10,000 elements"),
}


@pytest.mark.parametrize("text, wanted", BOMBS.values(), ids=BOMBS.keys())
def test_expansion_bombs_end_fast_with_a_located_error(tmp_path, text, wanted):
    _write(tmp_path, {"spec.yaml": text})
    err = check_in_subprocess(tmp_path)
    assert wanted in err.splitlines()[0], err
    assert "  hint: " in err


def test_check_stays_within_its_memory(tmp_path):
    """The largest bomb above stays far below 200 MiB (ru_maxrss of the child, in KiB)."""
    _write(tmp_path, {"spec.yaml": BOMBS["2^20 nodes"][0]})
    code = ("import resource, subprocess, sys\n"
            "subprocess.run([sys.executable, '-m', 'netspec', 'check', 'spec.yaml'],"
            " capture_output=True, timeout=60)\n"
            "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=90, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert int(done.stdout.split()[-1]) < 200 * 1024


# ---- tracebacks an adversary found: each one a located message -----------------------------

HOSTILE = {
    "every entry if: false": (B + "layers:\n  - {linear: 3, if: false}\n",
                              "spec.yaml:2:1: error: the network has no layers: every entry of "
                              "`layers:` is left out"),
    "several inputs, every entry left out": (
        "inputs: {a: [4], b: [4]}\nlayers: [{relu: null, from: a, if: false}]\n",
        "spec.yaml:2:1: error: the network has no layers"),
    "outputs naming an input": (
        "inputs: {a: [4], b: [4]}\noutputs: [a]\nlayers: [{add: {}, from: [a, b], id: s}]\n",
        "spec.yaml:2:11: error: `outputs` names the input `a`; an output is a layer's"),
    "an int block parameter": (B + "blocks:\n  b:\n    params: {1: 5}\n    layers: [relu]\n"
                               "layers: [b]\n",
                               "spec.yaml:4:14: error: block parameter 1 must be a name"),
    "a lone surrogate": ('name: "\\ud800"\n' + B + "layers: [relu]\n",
                         "spec.yaml:1:7: error: this string holds a lone surrogate"),
    "a lone surrogate in an include path": ('include: "\\udc80.yaml"\n' + B + "layers: [relu]\n",
                                            "spec.yaml:1:10: error: this string holds a lone"),
    "deep block-style YAML": (B + "layers: [relu]\nx:\n" +
                              "".join("  " * i + "-\n" for i in range(1, 400)),
                              "spec.yaml:103:201: error: the YAML nests deeper than 100 levels"),
    "deep flow YAML": (B + "layers: [relu]\nx: " + "[" * 5000 + "]" * 5000 + "\n",
                       "spec.yaml:3:104: error: the YAML nests deeper than 100 levels"),
    "deep indented mappings": (B + "layers: [relu]\nx:\n" +
                               "".join(" " * i + f"a{i}:\n" for i in range(1, 2000)),
                               "spec.yaml:103:101: error: the YAML nests deeper than 100 levels"),
    "10^15 in the input shape": ("input: [1000000000000000]\nlayers: [relu]\n",
                                 "spec.yaml:1:9: error: input: a dim must be between 1 and 10^9"),
    "NaN in the input shape": ("input: [.nan]\nlayers: [relu]\n",
                               "spec.yaml:1:9: error: input: a dim is a positive integer"),
    "a huge dim in a parallel": (B + "layers: [{parallel: {dim: 1000000000000000000000, "
                                 "branches: [[relu], [relu]]}}]\n",
                                 "spec.yaml:2:27: error: parallel: `dim`: an integer of 70 bits"),
    "a name that is a path": ("name: ../../etc\n" + B + "layers: [relu]\n",
                              "spec.yaml:1:7: error: `name` becomes a folder name"),
    "a name with a NUL": ('name: "a\\0b"\n' + B + "layers: [relu]\n",
                          "spec.yaml:1:7: error: `name` becomes a folder name"),
    "a name with a terminal escape": ('name: "\\e[31mred"\n' + B + "layers: [relu]\n",
                                      "spec.yaml:1:7: error: `name` becomes a folder name"),
    "an include path with a NUL": ('include: "a\\0.yaml"\n' + B + "layers: [relu]\n",
                                   "spec.yaml:1:10: error: an include path contains a NUL"),
    "an included file whose blocks are a number": (
        {"spec.yaml": "include: s.yaml\n" + B + "layers: [relu]\n", "s.yaml": "blocks: 5\n"},
        "s.yaml:1:9: error: `blocks:` of an included file maps block names to blocks"),
    "a block using itself through another": (
        B + "blocks: {a: {layers: [b]}, b: {layers: [a]}}\nlayers: [a]\n",
        "spec.yaml:2:41: error: block `a` uses itself"),
    "an expression 500 parentheses deep": (
        B + "blocks: {b: {layers: [{conv: {out: \"$(" + "(" * 500 + "1" + ")" * 500 +
        ")\", kernel: 1}}]}}\nlayers: [b]\n", "error: in `$(((("),
    "a long chain of fields": (B + "blocks: {b: {layers: [{conv: {out: \"$(in" +
                               ".shape" * 300 + ")\", kernel: 1}}]}}\nlayers: [b]\n",
                               "error: in `$(in.shape.shape"),
    "a string grown inside one expression": (
        B + "blocks: {b: {params: {s: null}, layers: [{conv: {out: \"$(len(s + s + s + s + s + "
        "s + s + s + s + s + s))\", kernel: 1}}]}}\nlayers: [{b: {s: " + "x" * 1000 + "}}]\n",
        "the value has more than 10,000 characters"),
    "a Python dunder field": (B + "blocks: {b: {layers: [{conv: {out: \"$(in.__class__)\", "
                              "kernel: 1}}]}}\nlayers: [b]\n",
                              "error: in `$(in.__class__)`: `in` has no field `__class__`"),
    "int() of infinity": (B + "blocks: {b: {params: {x: null}, layers: [{conv: {out: "
                          "$(int(x)), kernel: 1}}]}}\nlayers: [{b: {x: .inf}}]\n",
                          "error: in `$(int(x))`: int() of inf: not a finite number"),
    "an integer of 4400 digits": (B + "layers: [{conv: {out: " + "9" * 4400 + ", kernel: 1}}]\n",
                                  "spec.yaml:2:23: error: "),
    "an alias bomb": ("a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{k}: &{k} [" + ", ".join([f"*{p}"] * 10) + "]\n" for p, k in zip("abcde", "bcdef"))
        + B + "layers: [relu]\n", "error: the YAML expands to more than 100000 nodes"),
    "an alias inside its own anchor": ("a: &a [*a]\n" + B + "layers: [relu]\n",
                                       "spec.yaml:1:8: error: the alias `*a` is used inside its"),
    "a python tag behind a %TAG directive": (
        "%TAG ! tag:yaml.org,2002:python/\n---\n" + B + "layers: [!object relu]\n",
        "spec.yaml:4:10: error: tag `!!python/object` is not allowed"),
    "two documents": (B + "layers: [relu]\n---\na: 1\n",
                      "spec.yaml:3:1: error: expected one YAML document"),
    "a merge of a number": (B + "layers: [relu]\nx:\n  <<: 5\n",
                            "spec.yaml:4:7: error: `<<` merges a mapping or a list of mappings"),
    "a list as a mapping key": (B + "layers: [relu]\n? [a, b]\n: 1\n",
                                "spec.yaml:3:3: error: a mapping key must be a plain value"),
    "an unknown YAML version": ("%YAML 9.9\n---\n" + B + "layers: [relu]\n",
                                "spec.yaml:1:1: error: invalid YAML"),
    "a bool as a kind": (B + "layers: [{true: 2}]\n", "spec.yaml:2:11: error: unknown layer kind"),
    "from an empty list": (B + "layers: [relu, {relu: null, from: []}]\n",
                           "spec.yaml:2:35: error: `from` names an id"),
    "a static repeat past 10,000": (B + "layers:\n  - relu:\n    repeat: 50000\n",
                                    "spec.yaml:4:13: error: `repeat` must be between 1 and 10000"),
    "an upsample beyond memory": (B + "layers: [{upsample: 100000}]\n",
                                  "error: upsample '0' has 1,920,000,000,000 output elements"),
}


@pytest.mark.parametrize("text, first", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_specs_give_a_located_error(tmp_path, text, first):
    _write(tmp_path, text if isinstance(text, dict) else {"spec.yaml": text})
    err = check_in_process(tmp_path)
    assert first in err.splitlines()[0], err


def test_no_bound_is_reached_by_work_after_the_first_error(tmp_path):
    """A mistake, then a bomb that does not depend on it: the mistake alone is the report,
    and the bomb's work stops at the bound instead of running on."""
    fan_out = BOMBS["2^40 fan-out of if: false"][0].replace("layers: [f0]\n", "")
    for first in ("  - rleu\n", "  - {linear: 5}\n"):      # a parse error, a shape error
        _write(tmp_path, {"spec.yaml": fan_out + "layers:\n" + first +
                          "  - {f0: null, from: input}\n  - {relu: null, repeat: 10000}\n"})
        err = check_in_subprocess(tmp_path)
        assert len(LOCATED.findall(err)) == 1, err
        assert "entries to expand" not in err


# ---- bounds reached without doing the work ------------------------------------------------

def test_a_bound_is_known_before_any_copy_is_expanded():
    """Blocks that use blocks multiply: the size of a use is read from the spec (a lower
    bound), so a use that would cross MAX_NODES is refused before it is expanded."""
    from netspec.graph.estimate import Estimates
    from netspec.graph.load import loads
    from netspec.kinds import kinds

    spec = loads(BOMBS["2^20 nodes"][0].replace("layers: [w0]", "layers: [relu]"))
    est = Estimates({**spec.blocks}, kinds())
    # layers: the 2**20 leaves; work: every entry visited, the leaves' relu entries included
    assert est.body("w0") == (2 ** 20, 3 * 2 ** 20 - 2)
    assert est.body("w19") == (2, 4)


def test_what_may_be_left_out_counts_as_nothing():
    """`if:`, a `repeat:` from an expression and a kind named by `$act` may make nothing:
    the estimate is a lower bound, so it counts them 0 and refuses no spec that fits."""
    from netspec.graph.estimate import Estimates
    from netspec.graph.load import loads
    from netspec.kinds import kinds

    spec = loads(B + "blocks:\n  b:\n    params: {n: 2, act: relu}\n    layers:\n"
                 "      - {relu: null, if: $(n > 1)}\n      - {relu: null, repeat: $n}\n"
                 "      - $act\n      - {tanh: null, repeat: 3}\nlayers: [b]\n")
    assert Estimates(spec.blocks, kinds()).body("b") == (3, 4)


def test_a_large_spec_that_needs_the_slow_reader_is_refused_at_its_tab(tmp_path):
    big = B + "layers: [relu]\n" + ("# " + "x" * 77 + "\n") * (2 * 2 ** 20 // 80)
    _write(tmp_path, {"spec.yaml": big + "x:\t1\n"})
    err = check_in_subprocess(tmp_path)
    line = big.count("\n") + 1
    assert err.startswith(f"spec.yaml:{line}:3: error: a tab here needs the full YAML reader")
    assert "indent with spaces" in err


def test_tabs_in_comments_of_a_large_spec_keep_the_fast_reader(tmp_path):
    big = B + "layers: [relu]\n" + ("#\t" + "x" * 77 + "\n") * (2 * 2 ** 20 // 80)
    _write(tmp_path, {"spec.yaml": big})
    done = subprocess.run([sys.executable, "-m", "netspec", "check", "spec.yaml"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr


def test_thousands_of_misspellings_are_all_reported(tmp_path):
    """Every one is reported; the first 200 carry a "did you mean" (each costs ~1 ms)."""
    _write(tmp_path, {"spec.yaml": B + "layers:\n" +
                      "".join(f"  - relux{i}\n" for i in range(1000))})
    err = check_in_subprocess(tmp_path)
    assert err.count("error: unknown layer kind") == 1000
    assert err.count("hint: did you mean") == 200
    assert "1000 errors" in err
