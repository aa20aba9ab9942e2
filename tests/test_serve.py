"""`netspec serve`: the API through Starlette's TestClient (check, draw, files, saving and its
conflicts, the paths it refuses, the body bound, the Host check), one request over real HTTP
to uvicorn, the page's own files, and the command's defaults."""

from __future__ import annotations

import json
import os
import re
import shutil
import textwrap
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from netspec.cli.main import main
from netspec.serve import checking
from netspec.serve.app import STATIC, create_app

with warnings.catch_warnings():     # starlette 1.x suggests httpx2; httpx works the same
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

SPECS = Path(__file__).resolve().parent.parent / "specs"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's `dot` program is not installed")

SMALL = """\
name: small
input: [1, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - relu
  - flatten
  - linear: 10
"""
TYPO = SMALL.replace("  - relu\n", "  - rleu\n")            # line 5, col 5


def client_for(root, open_file=None) -> TestClient:
    return TestClient(create_app(root, open_file), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def zoo() -> TestClient:
    return client_for(SPECS)


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "work"
    (root / "sub").mkdir(parents=True)
    (root / "net.yaml").write_text(SMALL)
    (root / "sub" / "other.yml").write_text(SMALL.replace("small", "other"))
    (root / "notes.txt").write_text("not a spec")
    (root / ".hidden").mkdir()
    (root / ".hidden" / "secret.yaml").write_text(SMALL)
    (tmp_path / "outside.yaml").write_text(SMALL)
    (root / "link.yaml").symlink_to(tmp_path / "outside.yaml")
    return root


def cli_json(*args) -> dict:
    result = CliRunner().invoke(main, ["check", *args, "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


# ---- check and draw --------------------------------------------------------------------------

@pytest.mark.parametrize("name,variant", [("lenet5.yaml", None), ("resnet.yaml", "resnet50")])
def test_check_answers_the_json_of_check_json(zoo, name, variant):
    params = {"path": name, **({"variant": variant} if variant else {})}
    r = zoo.post("/api/check", params=params, content=(SPECS / name).read_bytes())
    assert r.status_code == 200
    expected = cli_json(str(SPECS / name), *(["--variant", variant] if variant else []))
    assert r.json() == expected


def test_check_extras_add_the_folded_table_and_variants(zoo):
    r = zoo.post("/api/check", params={"path": "resnet.yaml", "depth": "0", "extras": "1"},
                 content=(SPECS / "resnet.yaml").read_bytes())
    body = r.json()
    assert r.status_code == 200 and "resnet50" in body["variants"]
    assert len(body["rows"]) < len(body["layers"])          # blocks folded at depth 0
    assert sum(row["params"] for row in body["rows"]) == body["params"]["total"]


def test_a_typo_is_422_with_its_line_and_column(zoo):
    r = zoo.post("/api/check", content=TYPO)
    assert r.status_code == 422
    (error,) = r.json()["errors"]
    assert (error["line"], error["col"]) == (5, 5)
    assert "rleu" in error["message"] and "relu" in error["hint"]


SHAPE_ERROR = """\
name: soft
input: [1, 4, 4]
layers:
  - conv: {out: 2, kernel: 3}
  - maxpool: {kernel: 4}
  - flatten
  - linear: 3
"""


def test_a_shape_error_keeps_the_layers_before_it(zoo):
    r = zoo.post("/api/check", params={"extras": "1"}, content=SHAPE_ERROR)
    assert r.status_code == 422
    body = r.json()
    assert (body["errors"][0]["line"], body["errors"][0]["col"]) == (5, 5)
    assert "kernel 4x4" in body["errors"][0]["message"]
    assert [layer["name"] for layer in body["layers"]] == ["0"]
    assert [row["failed"] for row in body["rows"]][-1] is True


@needs_dot
def test_a_shape_error_is_drawn_down_to_the_failing_layer(zoo):
    r = zoo.post("/api/draw", content=SHAPE_ERROR)
    assert r.status_code == 422 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text


def test_a_spec_of_several_networks_shows_the_one_chosen(zoo):
    text = (SPECS / "dcgan_digits.yaml").read_bytes()
    whole = zoo.post("/api/check", params={"path": "dcgan_digits.yaml"}, content=text)
    assert whole.status_code == 200
    assert whole.json() == cli_json(str(SPECS / "dcgan_digits.yaml"))
    names = list(whole.json()["networks"])
    second = zoo.post("/api/check", params={"path": "dcgan_digits.yaml", "extras": "1",
                                             "network": names[1]}, content=text).json()
    assert second["networks"] == names
    assert second["shown"]["params"] == whole.json()["networks"][names[1]]["params"]["total"]
    assert zoo.post("/api/check", params={"network": "nope", "extras": "1",
                                          "path": "dcgan_digits.yaml"},
                    content=text).status_code == 400


def test_an_error_inside_a_library_block_is_also_marked_where_it_is_used(zoo):
    # a 16x16 input: the fifth vgg_block's pool meets a 1x1 map
    text = re.sub(r"\bsize: 224\b", "size: 16", (SPECS / "vgg11.yaml").read_text(), count=1)
    assert text != (SPECS / "vgg11.yaml").read_text()
    r = zoo.post("/api/check", params={"path": "vgg11.yaml"}, content=text)
    (error,) = r.json()["errors"]
    assert r.status_code == 422 and error["file"].endswith("library.yaml")
    uses = [i for i, t in enumerate(text.splitlines(), 1) if t.startswith("  - vgg_block:")]
    line = uses[4]                                   # the fifth vgg_block, where 1x1 fails
    assert error["use"] == {"line": line, "col": 5}
    assert all("/" not in c.split("used at ")[-1] for c in error["chain"])


def test_includes_resolve_relative_to_the_edited_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "parts.yaml").write_text(textwrap.dedent("""\
        blocks:
          head:
            layers: [flatten, {linear: 10}]
        """))
    text = "include: parts.yaml\ninput: [1, 4, 4]\nlayers:\n  - head\n"
    client = client_for(tmp_path)
    ok = client.post("/api/check", params={"path": "sub/net.yaml"}, content=text)
    assert ok.status_code == 200 and ok.json()["outputs"] == {"output": [10]}
    lost = client.post("/api/check", content=text)          # read as untitled.yaml at the top
    assert lost.status_code == 422 and "parts.yaml" in lost.json()["errors"][0]["message"]


def test_a_variant_the_spec_lacks_is_400(zoo):
    r = zoo.post("/api/check", params={"path": "resnet.yaml", "variant": "resnet1000"},
                 content=(SPECS / "resnet.yaml").read_bytes())
    assert r.status_code == 400 and "resnet1000" in r.json()["errors"][0]["message"]
    bad_depth = zoo.post("/api/check", params={"depth": "-1"}, content=SMALL)
    assert bad_depth.status_code == 400 and "depth" in bad_depth.json()["errors"][0]["message"]


@needs_dot
def test_draw_answers_svg(zoo):
    r = zoo.post("/api/draw", params={"path": "lenet5.yaml", "depth": "1"},
                 content=(SPECS / "lenet5.yaml").read_bytes())
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in r.text and "lenet5" in r.text
    assert zoo.post("/api/draw", content=TYPO).status_code == 422


def test_draw_without_dot_is_503_saying_so(zoo, monkeypatch):
    monkeypatch.setenv("PATH", "")
    checking.svg_of.cache_clear()
    r = zoo.post("/api/draw", content=SMALL.replace("10", "11"))
    assert r.status_code == 503
    assert "Graphviz" in r.json()["errors"][0]["message"]
    assert "install" in r.json()["errors"][0]["hint"]


def test_the_body_is_bounded(zoo):
    r = zoo.post("/api/check", content=b"#" * (10 * 1024 * 1024 + 1))
    assert r.status_code == 413 and "10,485,760" in r.json()["errors"][0]["message"]


# ---- files -----------------------------------------------------------------------------------

def test_files_lists_the_folders_specs_only(folder):
    body = client_for(folder).get("/api/files").json()
    assert body["files"] == ["net.yaml", "sub/other.yml"]   # no .txt, hidden, link out


def test_read_then_save_atomically(folder):
    client = client_for(folder)
    opened = client.get("/api/file", params={"path": "net.yaml"}).json()
    assert opened["text"] == SMALL and opened["version"].count("-") == 2
    saved = client.put("/api/file", json={"path": "net.yaml", "text": TYPO,
                                          "version": opened["version"]})
    assert saved.status_code == 200 and saved.json()["version"] != opened["version"]
    assert (folder / "net.yaml").read_text() == TYPO
    assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]
    again = client.put("/api/file", json={"path": "net.yaml", "text": SMALL,
                                          "version": saved.json()["version"]})
    assert again.status_code == 200


def test_a_file_changed_on_disk_is_not_overwritten(folder):
    client = client_for(folder)
    opened = client.get("/api/file", params={"path": "net.yaml"}).json()
    (folder / "net.yaml").write_text(SMALL + "# edited elsewhere\n")
    r = client.put("/api/file", json={"path": "net.yaml", "text": TYPO,
                                      "version": opened["version"]})
    assert r.status_code == 409
    assert "changed on disk" in r.json()["errors"][0]["message"]
    assert (folder / "net.yaml").read_text().endswith("# edited elsewhere\n")
    now = client.get("/api/file", params={"path": "net.yaml"}).json()["version"]
    assert r.json()["current"] == now                        # the page may overwrite knowingly


def test_a_new_file_is_created_once(folder):
    client = client_for(folder)
    new = {"path": "sub/new.yaml", "text": SMALL, "version": None}
    assert client.put("/api/file", json=new).status_code == 200
    assert (folder / "sub" / "new.yaml").read_text() == SMALL
    assert client.put("/api/file", json=new).status_code == 409


@pytest.mark.parametrize("path", [
    "../outside.yaml", "sub/../../outside.yaml", "link.yaml", "notes.txt", ".hidden/secret.yaml",
    "ABSOLUTE", "sub", "fifo.yaml",
])
def test_paths_outside_the_folder_are_refused(folder, path):
    os.mkfifo(folder / "fifo.yaml")
    if path == "ABSOLUTE":
        path = str(folder.parent / "outside.yaml")
    client = client_for(folder)
    read = client.get("/api/file", params={"path": path})
    assert read.status_code == 403, read.json()
    write = client.put("/api/file", json={"path": path, "text": "x: 1\n", "version": None})
    assert write.status_code in (403, 409), write.json()
    assert (folder.parent / "outside.yaml").read_text() == SMALL
    checked = client.post("/api/check", params={"path": path}, content=SMALL)
    assert checked.status_code in (200, 403)                # a check reads no file but includes


def test_percent_encoded_dots_are_refused(folder):
    client = client_for(folder)
    r = client.get("/api/file?path=%2e%2e%2foutside.yaml")
    assert r.status_code == 403 and "`..`" in r.json()["errors"][0]["message"]
    assert client.get("/static/%2e%2e/app.py").status_code == 404
    assert client.get("/static/../app.py").status_code == 404


def test_a_save_must_be_json(folder):
    r = client_for(folder).put("/api/file", content=b"path=net.yaml",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415


def test_other_host_headers_are_refused(folder):
    client = TestClient(create_app(folder), base_url="http://attacker.example")
    assert client.get("/api/files").status_code == 400


# ---- the page and the command ----------------------------------------------------------------

def test_the_page_has_its_parts_and_nothing_from_elsewhere(folder):
    client = client_for(folder, "net.yaml")
    page = client.get("/")
    for part in ('id="editor"', 'id="report"', 'id="diagram"', 'id="errors"'):
        assert part in page.text
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/editor.js").status_code == 200
    for name in ("index.html", "page.js", "page.css"):
        text = (STATIC / name).read_text()
        assert "http://" not in text and "https://" not in text, name
    assert client.get("/api/session").json()["open"] == "net.yaml"


def test_real_http_through_uvicorn(folder):
    import httpx

    from netspec.serve.server import LiveServer

    server = LiveServer(create_app(folder), port=0).start_in_thread()
    try:
        r = httpx.post(server.url + "api/check", content=SMALL, timeout=10)
        assert r.status_code == 200 and r.json()["outputs"] == {"output": [10]}
    finally:
        server.stop()


def test_serve_binds_127_0_0_1_by_default(folder, monkeypatch):
    import netspec.serve.server as server

    seen = {}
    monkeypatch.setattr(server, "serve_forever",
                        lambda app, host, port, open_browser, say: seen.update(
                            host=host, port=port, browser=open_browser))
    result = CliRunner().invoke(main, ["serve", str(folder / "net.yaml"), "--no-browser"])
    assert result.exit_code == 0, result.output
    assert seen == {"host": "127.0.0.1", "port": 8000, "browser": False}


def test_serve_refuses_a_spec_linked_from_outside(folder):
    result = CliRunner().invoke(main, ["serve", str(folder / "link.yaml"), "--no-browser"])
    assert result.exit_code == 1 and "outside the served folder" in result.output
    assert "Traceback" not in result.output


def test_a_port_in_use_is_one_message(folder):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(main, ["serve", str(folder), "--port", str(port),
                                           "--no-browser"])
    assert result.exit_code == 1 and f"127.0.0.1:{port}" in result.output
    assert "--port 0" in result.output and "Traceback" not in result.output


def test_serve_help_teaches():
    out = CliRunner().invoke(main, ["serve", "--help"]).output
    assert "netspec serve specs/" in out and "--port" in out and "127.0.0.1" in out
    assert CliRunner().invoke(main, ["serve", "/no/such/folder"]).exit_code == 2
