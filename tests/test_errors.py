"""Users' mistakes: each one a located SpecError in the compiler style, never a traceback.

One test per mistake of issue 3's "Errors" list, asserting the exact text a user reads
(`file:line:col: error: ...`, notes, `hint:`, the block chain); hostile input; exit codes of
the CLI; and a fuzz test: mutated valid specs give a report or a SpecError, nothing else.
"""

from __future__ import annotations

import copy
import textwrap
import time

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import netspec
from netspec.cli.main import main
from netspec.errors import SpecError


def spec(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def error_of(text: str, file: str = "net.yaml") -> str:
    """The whole message a user reads for spec `text` (load, then check)."""
    with pytest.raises(SpecError) as info:
        netspec.check(netspec.loads(spec(text), file))
    return str(info.value)


# ---- one test per mistake ----------------------------------------------------------------

MISTAKES = [
    ("unknown kind", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
          - rleu
        """, """
        net.yaml:4:5: error: unknown layer kind `rleu`
          hint: did you mean `relu`?"""),
    ("unknown kind with arguments", """
        input: [3, 32, 32]
        layers:
          - maxpol: 2
        """, """
        net.yaml:3:5: error: unknown layer kind `maxpol`
          hint: did you mean `maxpool`?"""),
    ("unknown argument", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernal: 3}
        """, """
        net.yaml:3:21: error: conv: unknown key `kernal`
          hint: did you mean `kernel`?"""),
    ("torch's argument name", """
        input: [3, 32, 32]
        layers:
          - conv: {out_channels: 16, kernel: 3}
        """, """
        net.yaml:3:12: error: conv: unknown key `out_channels`
          hint: torch's `out_channels` is `out` here"""),
    ("an input size netspec infers", """
        input: [16]
        layers:
          - linear: {in: 16, out: 10}
        """, """
        net.yaml:3:14: error: linear: unknown key `in`
          hint: netspec infers input sizes from the layer above; drop `in`"""),
    ("unknown entry key", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
            idd: c1
        """, """
        net.yaml:4:5: error: unknown key `idd` in a `conv` entry
          hint: did you mean `id`?"""),
    ("wrong type", """
        input: [3, 32, 32]
        layers:
          - conv: {out: "16", kernel: 3}
        """, """
        net.yaml:3:17: error: conv: `out`: expected an integer, got the string '16' (write it without quotes)"""),
    ("wrong type in the short form, located at the value", """
        input: [16]
        layers:
          - dropout: high
        """, """
        net.yaml:3:14: error: dropout: `p`: expected a number, got the string 'high'"""),
    ("YAML 1.1 boolean", """
        input: [seq, 8]
        layers:
          - lstm: {hidden: 16, bidirectional: yes}
        """, """
        net.yaml:3:39: error: lstm: `bidirectional`: expected true or false, got the string 'yes' (YAML 1.2 reads yes/no/on/off as strings)"""),
    ("missing required argument", """
        input: [3, 32, 32]
        layers:
          - conv: 64
        """, """
        net.yaml:3:11: error: conv: missing required argument `kernel`
          hint: write `conv: {out: ..., kernel: ...}`"""),
    ("input shape not a list", """
        input: 3, 32, 32
        layers: [relu]
        """, """
        net.yaml:1:8: error: input: an input shape is a non-empty list like [3, 224, 224] or [seq, 16], got '3, 32, 32'
          hint: write the shape in brackets: `input: [3, 32, 32]`"""),
    ("unknown $param", """
        input: [3, 32, 32]
        blocks:
          cbr:
            params: {out: null}
            layers:
              - conv: {out: $ot, kernel: 3}
              - relu
        layers:
          - cbr: {out: 8}
        """, """
        net.yaml:6:21: error: in `$ot`: unknown name `ot`; known: out, in
          hint: did you mean `out`?
          in block cbr (net.yaml:3:3), used at net.yaml:9:5"""),
    ("bad $(expr), the column inside it", """
        input: [3, 32, 32]
        blocks:
          cbr:
            params: {out: null}
            layers:
              - conv: {out: $(out * ), kernel: 3}
        layers:
          - cbr: {out: 8}
        """, """
        net.yaml:6:29: error: in `$(out * )`: unexpected `)` at column 9
          in block cbr (net.yaml:3:3), used at net.yaml:8:5"""),
    ("$(expr) dividing by zero, quoted", """
        input: [3, 32, 32]
        blocks:
          squeeze:
            params: {c: null}
            layers:
              - conv: {out: "$(max(1, c // 0))", kernel: 1}
        layers:
          - squeeze: {c: 8}
        """, """
        net.yaml:6:33: error: in `$(max(1, c // 0))`: division by zero
          hint: the right side of `//` is 0
          in block squeeze (net.yaml:3:3), used at net.yaml:8:5"""),
    ("from: an unknown id", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
            id: c1
          - relu
          - {add: {}, from: [c1, c2]}
        """, """
        net.yaml:6:26: error: `from: c2` names no entry above
          hint: known ids here: c1, input"""),
    ("from: positions instead of ids", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
          - {add: {}, from: [0, input]}
        """, """
        net.yaml:4:21: error: `from` names ids, not positions, got [0, 'input']; give the entries it reads an `id:`"""),
    ("a forward reference is a cycle", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
            from: r
          - relu:
            id: r
        """, """
        net.yaml:4:11: error: `from: r` names an entry at or below this one, which makes a cycle
          hint: `from:` may name only entries above it; the spec's order is the order layers run in"""),
    ("an entry reading itself", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
            id: c
            from: c
        """, """
        net.yaml:5:11: error: `from: c` names an entry at or below this one, which makes a cycle
          hint: `from:` may name only entries above it; the spec's order is the order layers run in"""),
    ("add of mismatched shapes shows both", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3, padding: 1}
            id: a
          - conv: {out: 32, kernel: 3, padding: 1}
            from: input
            id: b
          - {add: {}, from: [a, b]}
        """, """
        net.yaml:8:6: error: add '2' gets shapes that do not match: [16, 32, 32] and [32, 32, 32] (dim 1, counting the batch as 0: 16 vs 32; each must be equal or 1)
          from: a [16, 32, 32], b [32, 32, 32]
          hint: a shortcut needs a projection when channels or strides change (a 1x1 conv with the same stride); a per-channel factor is [C, 1, 1]"""),
    ("concat of mismatched shapes shows both", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3, padding: 1}
            id: a
          - conv: {out: 16, kernel: 3, stride: 2, padding: 1}
            from: input
            id: b
          - {concat: {dim: 1}, from: [a, b]}
        """, """
        net.yaml:8:6: error: concat '2' gets shapes that differ outside dim 1: [16, 32, 32] and [16, 16, 16]
          from: a [16, 32, 32], b [16, 16, 16]
          hint: concat joins along one dim; the others must be equal (check strides and padding of the branches)"""),
    ("a spatial size shrinking to 0: the arithmetic, how far the input was reduced", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3, padding: 1}
          - maxpool: 2
            repeat: 6
        """, """
        net.yaml:4:5: error: maxpool '1.5' gets a 1x1 feature map; kernel 2x2 needs at least 2x2
          shape here: [16, 1, 1] (input 32x32 halved 5 times)
          H: floor((1 + 2*0 - 1*(2-1) - 1)/2) + 1 = 0
          W: floor((1 + 2*0 - 1*(2-1) - 1)/2) + 1 = 0
          hint: the input may be too small for this many downsampling layers; try `input: [3, 64, 64]` or drop a downsampling layer"""),
    ("a conv kernel larger than its input: the formula's own negative value", """
        input: [1, 28, 28]
        layers:
          - conv: {out: 6, kernel: 5}
          - maxpool: 2
          - conv: {out: 16, kernel: 5}
          - maxpool: 2
          - conv: {out: 32, kernel: 7}
        """, """
        net.yaml:7:5: error: conv '4' gets a 4x4 feature map; kernel 7x7 needs at least 7x7
          shape here: [16, 4, 4] (input 28x28 reduced to 4x4)
          H: floor((4 + 2*0 - 1*(7-1) - 1)/1) + 1 = -2
          W: floor((4 + 2*0 - 1*(7-1) - 1)/1) + 1 = -2
          hint: the input may be too small for this many downsampling layers; try `input: [1, 56, 56]` or drop a downsampling layer"""),
    ("linear after an unflattened tensor", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
          - linear: 10
        """, """
        net.yaml:4:5: error: linear '1' gets a feature map [16, 30, 30]; linear maps the last dim of a vector [F] or a sequence [seq, F]
          shape here: [16, 30, 30]
          hint: flatten first: `- flatten` gives [14400], or `- global_avgpool` gives [16]; to map the last dim (30) at every position, write `linear: {out: ..., channels_last: true}`"""),
    ("groups not dividing the channels", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3, groups: 2}
        """, """
        net.yaml:3:5: error: conv '0' has groups=2, which does not divide its input channels 3
          shape here: [3, 32, 32]
          hint: groups must divide both channel counts (3 in, 16 out)"""),
    ("YAML syntax: an unclosed flow mapping", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3
          - relu
        """, """
        net.yaml:5:1: error: this `{…}` mapping expects `,` or `}` here, but the end of the file comes
          the `{` mapping starts at net.yaml:3:11
          hint: a bracket or quote opened earlier is never closed"""),
    ("YAML syntax: $( with a comma in a flow mapping", """
        input: [3, 32, 32]
        blocks:
          squeeze:
            params: {c: null}
            layers:
              - conv: {out: $(max(1, c // 4)), kernel: 1}
        layers:
          - squeeze: {c: 8}
        """, """
        net.yaml:6:21: error: unbalanced `$(` in `$(max(1`
          hint: quote the expression: `"$(max(1, c // 4))"` — inside {…}, a `$(…)` containing , [ ] { } must be quoted"""),
    ("YAML syntax: a bare kind followed by keys", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
          - batchnorm
            id: bn
        """, """
        net.yaml:5:7: error: unexpected `:` here (quote a value that contains `: `, or check the indentation)
          hint: a kind followed by keys needs a colon: write `- batchnorm:` on the line above"""),
    ("YAML syntax: keys after a `- {…}` entry", """
        input: [3, 32, 32]
        layers:
          - {conv: {out: 16, kernel: 3}}
            id: c
        """, """
        net.yaml:4:5: error: bad indentation or stray text: a new key here does not fit the block above
          the enclosing list starts at net.yaml:3:3
          hint: an entry written as `- {…}` ends at its `}`: move these keys inside the braces, e.g. `- {add: {}, from: [a, b], id: sum}`"""),
    ("several independent errors, all reported in file order", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernal: 3}
          - relu
          - lineer: 10
          - dropout: 2
        """, """
        net.yaml:3:21: error: conv: unknown key `kernal`
          hint: did you mean `kernel`?
        net.yaml:5:5: error: unknown layer kind `lineer`
          hint: did you mean `linear`?
        net.yaml:6:14: error: dropout: `p`: must be a probability between 0 and 1, got 2.0"""),
    ("a mistake inside nested user blocks shows the block chain", """
        input: [3, 32, 32]
        blocks:
          cbr:
            params: {out: null}
            layers:
              - conv: {out: $out, kernel: 3, groups: 5}
              - relu
          stage:
            params: {out: null}
            layers:
              - cbr: {out: $out}
        layers:
          - stage: {out: 16}
        """, """
        net.yaml:6:9: error: conv '0.0.0' has groups=5, which does not divide its input channels 3
          shape here: [3, 32, 32]
          hint: groups must divide both channel counts (3 in, 16 out)
          in block cbr (net.yaml:3:3), used at net.yaml:11:9
          in block stage (net.yaml:8:3), used at net.yaml:13:5"""),
    ("from: an entry its `if:` left out", """
        input: [3, 32, 32]
        blocks:
          res:
            params: {out: null}
            layers:
              - conv: {out: $out, kernel: 3, padding: 1}
                id: main
              - conv: {out: $out, kernel: 1}
                from: input
                id: proj
                if: $(in.channels != out)
              - {add: {}, from: [main, proj]}
        layers:
          - res: {out: 3}
        """, """
        net.yaml:12:32: error: `from: proj` names an entry left out here: its `if: $(in.channels != out)` is false
          hint: for the other case, add an entry with the opposite `if:` and the same `id: proj` (e.g. an `identity` with `from: input`)
          in block res (net.yaml:3:3), used at net.yaml:14:5"""),
    ("a duplicate id", """
        input: [3, 32, 32]
        layers:
          - conv: {out: 16, kernel: 3}
            id: a
          - relu:
            id: a
        """, """
        net.yaml:6:9: error: id `a` is already used by the entry at net.yaml:3:5
          hint: ids are unique in their scope; rename one (two entries may share an id only when their `if:` exclude each other)"""),
    ("`$name` outside a block", """
        input: [16]
        layers:
          - linear: $out
        """, """
        net.yaml:3:13: error: in `$out`: unknown name `out`; known: in
          hint: `$name` reads a block's parameters; outside a block, the spec's `params:`: declare it there, or write the value"""),
    ("a block given one value where it takes several", """
        input: [3, 32, 32]
        layers:
          - vgg_block: 64
        """, """
        net.yaml:3:5: error: block `vgg_block` takes named parameters (convs, out), not one value
          hint: write `vgg_block: {convs: ..., out: ...}`"""),
    ("`layers:` written as a mapping, reported once", """
        input: [3, 32, 32]
        layers:
          conv: {out: 8, kernel: 3}
        """, """
        net.yaml:3:3: error: `layers` expects a list, got a mapping"""),
    ("a block parameter not given", """
        input: [3, 32, 32]
        blocks:
          cbr:
            params: {out: null}
            layers: [{conv: {out: $out, kernel: 3}}]
        layers:
          - cbr: {}
        """, """
        net.yaml:7:5: error: block `cbr` needs parameter `out`
          hint: give it: `cbr: {out: ...}`"""),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _, t, e in MISTAKES],
                         ids=[name for name, _, _ in MISTAKES])
def test_mistake_message(text, expected):
    assert error_of(text) == spec(expected)


def test_entries_sharing_an_id_under_exclusive_ifs_are_fine():
    """The residual pattern: a projection or an identity, whichever the shapes need."""
    blocks = """
        input: [3, 8, 8]
        blocks:
          res:
            params: {out: null}
            layers:
              - conv: {out: $out, kernel: 3, padding: 1}
                id: main
              - conv: {out: $out, kernel: 1}
                from: input
                id: short
                if: $(in.channels != out)
              - identity:
                from: input
                id: short
                if: $(in.channels == out)
              - {add: {}, from: [main, short]}
        layers:
          - res: {out: 3}
          - res: {out: 5}
        """
    report = netspec.check(netspec.loads(spec(blocks)))
    assert [n.name for n in report.graph] == ["0.main", "0.short", "0.3", "1.main", "1.short",
                                              "1.3"]
    assert [n.kind for n in report.graph] == ["conv", "identity", "add", "conv", "conv", "add"]


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n"])
def test_empty_file(text):
    with pytest.raises(SpecError) as info:
        netspec.loads(text, "empty.yaml")
    assert str(info.value) == (
        "empty.yaml:1:1: error: the file is empty\n"
        "  hint: a minimal spec is `input: [3, 32, 32]` and `layers: [flatten, {linear: 10}]`, "
        "one key a line")


def test_missing_layers_reported_once_when_misspelt():
    assert error_of("""
        input: [16]
        layerz: [relu]
        """) == spec("""
        net.yaml:2:1: error: unknown key `layerz`
          hint: did you mean `layers`?""")


def test_a_file_that_is_not_utf8(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.yaml").write_bytes(b"input: [16]\nlayers: [relu]  # caf\xe9\n")
    with pytest.raises(SpecError) as info:
        netspec.load("net.yaml")
    assert str(info.value) == (
        "net.yaml:2:22: error: the file is not UTF-8 text: byte 0xe9 here\n"
        "  hint: a spec is YAML text saved as UTF-8; is this the right file?")


# ---- an expression's column: inside its quotes, from the text as it was read ---------------

QUOTED_BLOCK = """\
blocks:
  squeeze:
    params: {c: null}
    layers:
      - conv: {out: {quote}$(max(1, c // 0)){quote}, kernel: 1}
      - {conv: {out: 8, kernel: [1, "$(c +)"]}, from: input}
"""


@pytest.mark.parametrize("quote", ['"', "'"])
def test_expression_column_inside_quotes_with_a_load_error(quote):
    """Reported with a load error (expansion of a spec that did not load whole)."""
    text = "input: [3, 8, 8]\n" + QUOTED_BLOCK.replace("{quote}", quote) + \
        "layers:\n  - squeeze: {c: 8}\n  - rleu\n"
    with pytest.raises(SpecError) as info:
        netspec.loads(text, "never-on-disk.yaml")
    lines = [d.render().splitlines()[0] for d in info.value.diagnostics]
    assert lines == [
        "never-on-disk.yaml:6:33: error: in `$(max(1, c // 0))`: division by zero",
        "never-on-disk.yaml:7:43: error: in `$(c +)`: unexpected `)` at column 6",
        "never-on-disk.yaml:10:5: error: unknown layer kind `rleu`"]


def test_expression_column_in_an_include_edited_after_loading(tmp_path, monkeypatch):
    """The column comes from the located tree, not from reading the file again."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.yaml").write_text("include: [blocks.yaml]\ninput: [3, 8, 8]\n"
                                       "layers:\n  - squeeze: {c: 8}\n")
    (tmp_path / "blocks.yaml").write_text(QUOTED_BLOCK.replace("{quote}", '"'))
    loaded = netspec.load("net.yaml")
    (tmp_path / "blocks.yaml").write_text("# edited\n" * 10)
    with pytest.raises(SpecError) as info:
        netspec.check(loaded)
    assert info.value.first.render().splitlines()[0] == (
        "blocks.yaml:5:33: error: in `$(max(1, c // 0))`: division by zero")


# ---- hostile input: refused quickly, located -------------------------------------------

# Hostile input must be refused at once. The bound is a loose sanity check against a hang or a
# blow-up (seconds, not minutes), not a benchmark: a loaded 2-core CI machine runs ~3x slower.
SANITY_SECONDS = 5.0


def timed_error(text: str, file: str = "net.yaml") -> tuple[str, float]:
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        netspec.check(netspec.loads(text, file))
    return str(info.value), time.perf_counter() - start


def test_python_tags_are_refused():
    message, seconds = timed_error(spec("""
        input: !!python/object/apply:os.system ["echo owned"]
        layers: [relu]
        """))
    assert message == (
        "net.yaml:1:8: error: tag `!!python/object/apply:os.system` is not allowed\n"
        "  hint: a spec is plain data (mappings, lists, strings, numbers, true/false, null); "
        "remove the tag")
    assert seconds < SANITY_SECONDS


def test_alias_bomb_is_refused_quickly():
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 12):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    text = "\n".join(lines) + "\ninput: [3, 8, 8]\nlayers: [relu]\n"
    message, seconds = timed_error(text)
    assert message.startswith("net.yaml:6:10: error: the YAML expands to more than 100000 nodes")
    assert seconds < SANITY_SECONDS


def test_include_loop_is_reported(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "net.yaml").write_text("include: [more.yaml]\ninput: [3, 8, 8]\nlayers: [relu]\n")
    (tmp_path / "more.yaml").write_text("include: [net.yaml]\nblocks: {}\n")
    start = time.perf_counter()
    with pytest.raises(SpecError) as info:
        netspec.load("net.yaml")
    assert time.perf_counter() - start < SANITY_SECONDS
    assert str(info.value) == (
        "more.yaml:1:11: error: include loop: net.yaml -> more.yaml -> net.yaml\n"
        "  hint: a file may not include itself, directly or not")


def test_absurd_channel_count_is_reported():
    message, seconds = timed_error(spec("""
        input: [3, 32, 32]
        layers:
          - conv: {out: 1e12, kernel: 3}
        """))
    assert message == ("net.yaml:3:17: error: conv: `out`: 1000000000000 is larger than netspec "
                       "allows for a layer argument (10^9)")
    assert seconds < SANITY_SECONDS


def test_absurd_layer_size_is_reported():
    message, seconds = timed_error(spec("""
        input: [100000, 100000]
        layers:
          - conv: {out: 100000000, kernel: 3, padding: 1}
        """))
    assert message == (
        "net.yaml:3:5: error: conv '0' has 30,000,100,000,000 parameters (output "
        "[100000000, 100000]), beyond any device's memory\n"
        "  hint: check the sizes of this layer and the input shape; netspec refuses layers "
        "above 1e11 elements")
    assert seconds < SANITY_SECONDS


def test_huge_repeat_is_bounded():
    message, seconds = timed_error(spec("""
        input: [16]
        layers:
          - relu:
            repeat: 10001
        """))
    assert message == ("net.yaml:4:13: error: `repeat` must be between 1 and 10000, "
                       "got 10001")
    assert seconds < SANITY_SECONDS


# ---- the CLI's exit codes -----------------------------------------------------------------

VALID = "input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 3}\n  - flatten\n  - linear: 2\n"


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.yaml").write_text(VALID)
    (tmp_path / "bad.yaml").write_text(VALID.replace("kernel", "kernal").replace("linear",
                                                                                   "lineer"))
    return tmp_path


def test_exit_0_when_valid(runner, files):
    result = runner.invoke(main, ["check", "ok.yaml"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


def test_exit_1_for_spec_mistakes_message_on_stderr(runner, files):
    result = runner.invoke(main, ["check", "bad.yaml"])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "bad.yaml:3:20: error: conv: unknown key `kernal`\n"
        "  hint: did you mean `kernel`?\n"
        "bad.yaml:5:5: error: unknown layer kind `lineer`\n"
        "  hint: did you mean `linear`?\n"
        "2 errors\n")
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)


@pytest.mark.parametrize("args, usage", [
    (["check", "missing.yaml"], "'missing.yaml' does not exist"),
    (["check", "ok.yaml", "--no-such-flag"], "No such option '--no-such-flag'"),
    (["check", "ok.yaml", "--input", "3,x,8"], "Invalid value for --input"),
    (["check", "ok.yaml", "--input", "3,0,8"], "sizes must be positive"),
    (["check", "ok.yaml", "--input", "img=3,8,8"], "no input named 'img'"),
    (["check", "ok.yaml", "--depth", "-1"], "Invalid value for '--depth'"),
    (["chek", "ok.yaml"], "No such command 'chek'"),
])
def test_exit_2_for_command_misuse(runner, files, args, usage):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Usage:" in result.stderr
    assert usage in result.stderr
    assert "Traceback" not in result.output


def test_exit_1_for_an_input_override_the_network_cannot_take(runner, files):
    result = runner.invoke(main, ["check", "ok.yaml", "--input", "3,2,2"])
    assert result.exit_code == 1
    assert result.stderr.startswith("ok.yaml:3:5: error: conv '0' gets a 2x2 feature map; "
                                    "kernel 3x3 needs at least 3x3\n")


# ---- fuzz: mutated valid specs never end in another exception -------------------------

SEED_SPEC = spec("""
    name: fuzzy
    input: [3, 32, 32]
    blocks:
      cbr:
        params: {out: null, kernel: 3, stride: 1}
        layers:
          - conv: {out: $out, kernel: $kernel, stride: $stride, padding: $(kernel // 2), bias: false}
          - batchnorm
          - relu
      res:
        params: {out: null, stride: 1}
        layers:
          - cbr: {out: $out, stride: $stride}
          - conv: {out: $out, kernel: 3, padding: 1}
            id: main
          - conv: {out: $out, kernel: 1, stride: $stride}
            from: input
            id: short
            if: $(stride != 1 or in.channels != out)
          - identity:
            from: input
            id: short
            if: $(stride == 1 and in.channels == out)
          - {add: {}, from: [main, short]}
          - relu
    layers:
      - cbr: {out: 16}
        id: stem
      - res: {out: 16}
        repeat: 2
      - res: {out: 32, stride: 2}
      - parallel:
          merge: concat
          branches:
            - [{conv: {out: 8, kernel: 1}}, relu]
            - [{conv: {out: 8, kernel: 3, padding: 1}}, {maxpool: {kernel: 3, stride: 1, padding: 1}}]
      - {concat: {dim: 1}, from: [stem, stem], id: cat}
      - maxpool: {kernel: 2, stride: 2, ceil_mode: true}
      - flatten
      - linear: {out: 64, bias: true}
      - leaky_relu: 0.1
      - dropout: 0.1
      - linear: 10
      - log_softmax: {dim: 1}
    outputs: [cat]
    """)
SEQ_SPEC = spec("""
    input: {shape: [seq], dtype: long}
    layers:
      - embedding: {vocab: 100, dim: 16}
      - lstm: {hidden: 32, layers: 2, bidirectional: true}
      - gru: {hidden: 8, return: last}
      - linear: 4
      - softmax
    """)
ODD_VALUES = [None, True, False, 0, -1, 1, 2, 3.5, 1e12, "x", "$nope", "$(1 +", "$(in.channels)",
              "same", [], [1], [1, 2, 3], {}, {"a": 1}, "input", "seq", 10**9, -(10**9),
              float("nan"), float("inf"), "", "$out", "$(out // 0)", "$(in.shape[9])"]


def _paths(node, prefix=()):
    yield prefix
    items = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        yield from _paths(v, prefix + (k,))


def _mutate(data, draw) -> None:
    """One random edit in place: delete a key or item, misspell a key, swap a value's type,
    or duplicate a list item."""
    paths = [p for p in _paths(data) if p]
    if not paths:
        return
    path = draw(st.sampled_from(paths))
    parent = data
    for step in path[:-1]:
        parent = parent[step]
    key = path[-1]
    op = draw(st.sampled_from(["delete", "misspell", "swap", "duplicate"]))
    if op == "delete":
        del parent[key]
    elif op == "misspell" and isinstance(key, str) and key:
        i = draw(st.integers(0, len(key) - 1))
        parent[key[:i] + draw(st.sampled_from("aex_")) + key[i + 1:]] = parent.pop(key)
    elif op == "duplicate" and isinstance(parent, list):
        parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = copy.deepcopy(draw(st.sampled_from(ODD_VALUES)))


def _check_never_crashes(text: str) -> None:
    try:
        netspec.check(netspec.loads(text, "fuzz.yaml"))
    except SpecError as err:
        for d in err.diagnostics:
            assert d.loc is not None, f"unlocated: {d.render()}"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mutated_specs_give_a_report_or_a_located_spec_error(data):
    tree = yaml.safe_load(data.draw(st.sampled_from([SEED_SPEC, SEQ_SPEC])))
    for _ in range(data.draw(st.integers(1, 3))):
        _mutate(tree, data.draw)
    _check_never_crashes(yaml.safe_dump(tree, sort_keys=False))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_mangled_spec_text_gives_a_report_or_a_located_spec_error(data):
    text = data.draw(st.sampled_from([SEED_SPEC, SEQ_SPEC]))
    pieces = list(" :-{}[],$()'\"#&*!|>\n\t09az") + ["$(", "!!python/object ", "&a ", "*a "]
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(text) - 1))
        if data.draw(st.booleans()):
            text = text[:i] + text[i + 1:]
        else:
            text = text[:i] + data.draw(st.sampled_from(pieces)) + text[i:]
    _check_never_crashes(text)
