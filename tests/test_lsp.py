"""`netspec lsp`: the language server, driven over stdio with real JSON-RPC framing
(Content-Length headers), as an editor drives it; and the position -> entry mapping it uses.

One server process serves the whole module; each test opens its own documents.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("pygls")

from netspec.serve.lsp_analysis import analyse  # noqa: E402
from netspec.serve.lsp_context import context_at  # noqa: E402
from netspec.serve.lsp_definition import definition  # noqa: E402
from netspec.serve.lsp_diagnostics import diagnostics  # noqa: E402
from netspec.serve.lsp_hover import hover  # noqa: E402
from netspec.serve.lsp_positions import Span, index_document  # noqa: E402

TIMEOUT = 20.0

SPEC = """\
name: tiny
input: [3, 32, 32]
include: [blocks.yaml]
blocks:
  conv_bn:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1, bias: false}
      - batchnorm
layers:
  - conv_bn: {out: 16}
    id: stem
  - conv: {out: 32, kernel: 3, stride: 2}
  - cbr: {out: 8}
  - residual: {out: 8}
  - flatten
  - linear: 10
"""

BLOCKS = """\
blocks:
  cbr:
    params: {out: null}
    layers:
      - conv: {out: $out, kernel: 3, padding: 1}
      - relu
"""


class Client:
    """A minimal LSP client: frames messages, matches responses to requests, and keeps
    the latest diagnostics published for each document."""

    def __init__(self, cwd: Path):
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "netspec", "lsp"], cwd=cwd,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, env=env)
        self.messages: queue.Queue = queue.Queue()
        self.diagnostics: dict[str, list] = {}
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        out = self.proc.stdout
        while True:
            headers = {}
            while True:
                line = out.readline()
                if not line:
                    return
                line = line.decode("ascii").strip()
                if not line:
                    break
                name, _, value = line.partition(":")
                headers[name.lower()] = value.strip()
            body = out.read(int(headers["content-length"]))
            self.messages.put(json.loads(body))

    def send(self, message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message}).encode("utf-8")
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()

    def notify(self, method: str, params: dict) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: dict):
        self.next_id += 1
        self.send({"id": self.next_id, "method": method, "params": params})
        deadline = time.monotonic() + TIMEOUT
        while True:
            message = self._next(deadline)
            if message.get("id") == self.next_id and "method" not in message:
                assert "error" not in message, message["error"]
                return message.get("result")

    def _next(self, deadline: float) -> dict:
        message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.01))
        if message.get("method") == "textDocument/publishDiagnostics":
            self.diagnostics[message["params"]["uri"]] = message["params"]["diagnostics"]
        return message

    def wait_diagnostics(self, uri: str, until) -> list:
        """The diagnostics published for `uri` once `until(diagnostics)` holds."""
        deadline = time.monotonic() + TIMEOUT
        while not (uri in self.diagnostics and until(self.diagnostics[uri])):
            self._next(deadline)
        return self.diagnostics[uri]

    def open(self, path: Path, text: str) -> str:
        uri = path.as_uri()
        self.diagnostics.pop(uri, None)
        self.notify("textDocument/didOpen", {"textDocument": {
            "uri": uri, "languageId": "yaml", "version": 1, "text": text}})
        return uri

    def change(self, uri: str, text: str, version: int) -> None:
        self.diagnostics.pop(uri, None)
        self.notify("textDocument/didChange", {"textDocument": {"uri": uri, "version": version},
                                                "contentChanges": [{"text": text}]})

    def at(self, method: str, uri: str, line: int, character: int):
        return self.request(method, {"textDocument": {"uri": uri},
                                     "position": {"line": line, "character": character}})

    def close(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.proc.wait(timeout=10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("lsp")
    (root / "blocks.yaml").write_text(BLOCKS, encoding="utf-8")
    return root


@pytest.fixture(scope="module")
def client(folder):
    c = Client(folder)
    result = c.request("initialize", {"processId": os.getpid(), "rootUri": folder.as_uri(),
                                      "capabilities": {}})
    caps = result["capabilities"]
    assert caps["hoverProvider"] and caps["definitionProvider"] and caps["completionProvider"]
    c.notify("initialized", {})
    yield c
    c.close()


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.split("\n")) if needle in line)


def test_an_error_is_published_at_its_yaml_node_and_cleared_when_fixed(client, folder):
    broken = SPEC.replace("{out: 32, kernel: 3, stride: 2}", "{out: 32, kernel: 0, stride: 2}")
    uri = client.open(folder / "net.yaml", broken)
    diags = client.wait_diagnostics(uri, lambda d: True)
    assert len(diags) == 1, diags
    (d,) = diags
    line = _line_of(broken, "kernel: 0")
    col = broken.split("\n")[line].index("kernel: 0") + len("kernel: ")
    assert d["range"] == {"start": {"line": line, "character": col},
                          "end": {"line": line, "character": col + 1}}
    assert d["severity"] == 1 and "`kernel`: must be at least 1, got 0" in d["message"]
    client.change(uri, SPEC, 2)          # fixed, unsaved: checked after the pause
    assert client.wait_diagnostics(uri, lambda d: True) == []


def test_independent_errors_and_a_shape_error_over_the_whole_entry(client, folder):
    text = SPEC.replace("input: [3, 32, 32]", "input: [3, 1, 1]").replace(
        "- flatten", "- flaten")
    uri = client.open(folder / "two.yaml", text)
    diags = client.wait_diagnostics(uri, lambda d: True)
    lines = {d["range"]["start"]["line"] for d in diags}
    assert _line_of(text, "- flaten") in lines, diags
    shape = [d for d in diags if "gets a 1x1" in d["message"] or "1x1" in d["message"]]
    assert shape, diags
    entry = _line_of(text, "{out: 32, kernel: 3, stride: 2}")
    start = text.split("\n")[entry].index("conv")
    assert shape[0]["range"] == {"start": {"line": entry, "character": start},
                                 "end": {"line": entry, "character": len(text.split("\n")[entry])}}


def test_an_error_in_an_included_file_shows_on_the_entry_that_uses_it(client, folder):
    bad = BLOCKS.replace("kernel: 3, padding: 1", "kernel: 64")
    (folder / "bad_blocks.yaml").write_text(bad, encoding="utf-8")
    # open, the file of blocks alone has no mistake: shapes come from the spec using it
    blocks_uri = client.open(folder / "bad_blocks.yaml", bad)
    assert client.wait_diagnostics(blocks_uri, lambda d: True) == []
    text = SPEC.replace("[blocks.yaml]", "[bad_blocks.yaml]")
    uri = client.open(folder / "inc.yaml", text)
    (d,) = client.wait_diagnostics(uri, lambda d: True)
    assert d["message"].startswith("in bad_blocks.yaml:5:9: conv '")
    assert d["range"]["start"] == {"line": _line_of(text, "- cbr:"), "character": 4}
    assert d["relatedInformation"][0]["location"]["uri"] == blocks_uri
    (there,) = client.wait_diagnostics(blocks_uri, lambda d: len(d) == 1)   # and in that file
    line = _line_of(bad, "kernel: 64")
    assert there["range"]["start"] == {"line": line, "character": bad.split("\n")[line].index("conv")}


def test_hover_gives_shape_params_and_macs(client, folder):
    uri = client.open(folder / "hover.yaml", SPEC)
    client.wait_diagnostics(uri, lambda d: True)
    line = _line_of(SPEC, "{out: 32, kernel: 3, stride: 2}")
    result = client.at("textDocument/hover", uri, line, 6)
    text = result["contents"]["value"]
    # conv 16 -> 32, 3x3, stride 2 on 32x32: 15x15; 32*16*9 + 32 params; MACs 32*16*9*225
    assert "output `[32, 15, 15]`" in text and "params 4,640" in text, text
    assert f"MACs {32 * 16 * 9 * 225:,}" in text
    assert "receptive field 5×5 (jump 2×2)" in text      # 3x3 then 3x3 stride 2
    stem = client.at("textDocument/hover", uri, _line_of(SPEC, "- conv_bn:"), 6)
    assert "`stem`: output `[16, 32, 32]`" in stem["contents"]["value"]
    assert f"params {16 * 3 * 9 + 2 * 16:,}" in stem["contents"]["value"]


def test_completion_after_a_dash_in_layers_offers_kinds_and_blocks(client, folder):
    text = SPEC.replace("  - linear: 10", "  - ")
    uri = client.open(folder / "complete.yaml", text)
    line = text.split("\n").index("  - ")
    result = client.at("textDocument/completion", uri, line, 4)
    labels = {item["label"] for item in result["items"]}
    assert {"conv", "linear", "relu", "parallel", "residual", "conv_bn", "cbr", "id"} <= labels
    conv = next(i for i in result["items"] if i["label"] == "conv")
    assert "kernel" in conv["documentation"]["value"]


def test_completion_of_a_kinds_arguments(client, folder):
    text = SPEC.replace("  - linear: 10", "  - conv: {out: 3, ")
    uri = client.open(folder / "args.yaml", text)
    line = len(text.split("\n")) - 2
    result = client.at("textDocument/completion", uri, line, len("  - conv: {out: 3, "))
    labels = [item["label"] for item in result["items"]]
    assert {"kernel", "stride", "padding", "groups"} <= set(labels)


def test_definition_from_a_block_use(client, folder):
    uri = client.open(folder / "defs.yaml", SPEC)
    own = client.at("textDocument/definition", uri, _line_of(SPEC, "- conv_bn:"), 6)
    assert own["uri"] == uri and own["range"]["start"] == {"line": 4, "character": 2}
    included = client.at("textDocument/definition", uri, _line_of(SPEC, "- cbr:"), 5)
    assert included["uri"] == (folder / "blocks.yaml").as_uri()
    assert included["range"]["start"] == {"line": 1, "character": 2}
    builtin = client.at("textDocument/definition", uri, _line_of(SPEC, "- residual:"), 6)
    assert builtin["uri"].endswith("/netspec/blocks/library.yaml")
    library = Path(builtin["uri"][len("file://"):]).read_text(encoding="utf-8").split("\n")
    assert library[builtin["range"]["start"]["line"]].strip() == "residual:"


def test_a_lint_is_a_warning_and_hover_names_where_inference_stopped(tmp_path):
    text = ("input: [10, 16]\nblocks:\n  mlp:\n    layers:\n      - linear: 32\n"
            "      - linear: $(in.channels)\nlayers:\n  - mlp\n")
    path = str(tmp_path / "seq.yaml")
    (d,) = diagnostics(analyse(text, path))[os.path.realpath(path)]
    assert d.severity == 2 and "`in.channels` in block `mlp` is 10" in d.message
    assert (d.range.start.line, d.range.start.character, d.range.end.character) == (5, 8, 30)
    (tmp_path / "blocks.yaml").write_text(BLOCKS, encoding="utf-8")
    small = analyse(SPEC.replace("[3, 32, 32]", "[3, 2, 2]"), str(tmp_path / "small.yaml"))
    above = hover(small, (_line_of(SPEC, "- conv_bn:"), 6))[0]
    assert "output `[16, 2, 2]`" in above        # the layers above the failing one still answer
    stopped = hover(small, (_line_of(SPEC, "{out: 32, kernel: 3, stride: 2}"), 6))[0]
    assert "shape inference stops here" in stopped and "2x2" in stopped


def test_definition_of_an_id_named_in_from_and_outputs(tmp_path):
    text = ("input: [3, 8, 8]\nlayers:\n  - conv: {out: 4, kernel: 1}\n    id: a\n  - relu\n"
            "  - {add: {}, from: [a, input]}\noutputs: [a]\n")
    analysis = analyse(text, str(tmp_path / "ids.yaml"))
    for line, col in [(5, 21), (6, 10)]:
        found = definition(analysis, (line, col))
        assert (found.range.start.line, found.range.start.character) == (2, 2)
    assert definition(analysis, (3, 8)) is None         # the `id:` itself


# ---- the position -> entry mapping, in process ----------------------------------------

NESTED = """\
input: [3, 8, 8]
blocks:
  pair:
    layers:
      - conv: {out: 4, kernel: 1}   # first
      - relu
layers:
  - pair:
    id: p
  - parallel:
      merge: add
      branches:
        - [{conv: {out: 4, kernel: 1}}, relu]
        - - identity
  - flatten
"""


@pytest.mark.parametrize("line,col,path,kind", [
    (4, 10, ("blocks", "pair", "layers", 0), "conv"),
    (5, 8, ("blocks", "pair", "layers", 1), "relu"),
    (7, 4, ("layers", 0), "pair"),
    (8, 6, ("layers", 0), "pair"),         # the entry's `id:` line is the entry too
    (10, 8, ("layers", 1), "parallel"),
    (12, 14, ("layers", 1, "parallel", "branches", 0, 0), "conv"),
    (12, 41, ("layers", 1, "parallel", "branches", 0, 1), "relu"),
    (13, 14, ("layers", 1, "parallel", "branches", 1, 0), "identity"),
    (14, 2, ("layers", 2), "flatten"),
])
def test_entry_at_a_position(line, col, path, kind):
    entry = index_document(NESTED).entry_at((line, col))
    assert entry is not None and entry.path == path and entry.kind == kind


def test_no_entry_outside_the_lists_and_ranges_end_before_comments():
    index = index_document(NESTED)
    assert index.entry_at((0, 3)) is None and index.entry_at((2, 3)) is None
    first = index.entry_at((4, 10))
    assert first.span.end == (4, 33)       # the trailing `# first` is not part of it
    assert index.range_at((4, 8)) == Span((4, 8), (4, 33))     # `conv: {...}` at its key
    assert index.range_at((4, 31)) == Span((4, 31), (4, 32))   # the `1` of kernel


def test_a_text_that_is_not_yaml_has_no_entries_but_still_ranges_words():
    index = index_document("layers: [relu\n  - {")
    assert not index.parsed and index.entries == []
    assert index.range_at((0, 9)) == Span((0, 9), (0, 13))


@pytest.mark.parametrize("text,path,at", [
    ("layers:\n  - ", ("layers", "-"), "key"),
    ("layers:\n- co", ("layers", "-"), "key"),
    ("layers:\n  - conv:\n      ou", ("layers", "-", "conv"), "key"),
    ("layers:\n  - {conv: {out: 3, ke", ("layers", "-", "conv"), "key"),
    ("layers:\n  - conv: {padding: sa", ("layers", "-", "conv", "padding"), "value"),
    ("layers:\n  - parallel:\n      branches:\n        - [relu, ", ("layers", "-", "parallel",
                                                                    "branches", "-", "-"), "key"),
    ("train:\n  epo", ("train",), "key"),
    ("na", (), "key"),
])
def test_context_at_the_cursor(text, path, at):
    lines = text.split("\n")
    ctx = context_at(lines, (len(lines) - 1, len(lines[-1])))
    assert (ctx.path, ctx.at) == (path, at)
