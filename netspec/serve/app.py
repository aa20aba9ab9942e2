"""The `netspec serve` web app: a Starlette application (an ASGI app uvicorn serves).

Starlette is a small, real ASGI toolkit (routing, static files, a test client) and uvicorn a
production ASGI server; eight routes need nothing more (no FastAPI: no models to validate,
no generated API docs to serve).

    GET  /                      the page (static/index.html)
    GET  /static/...            its script, styles and the bundled editor (from the package)
    GET  /api/session           {"root", "open": the file to open first, "dot": bool}
    GET  /api/files             {"root", "files": [the folder's *.yaml, relative], "truncated"}
    GET  /api/file?path=P       {"path", "text", "version"}
    PUT  /api/file              body {"path", "text", "version"}: atomic save, 409 on conflict
    POST /api/check?path=P&variant=V&depth=N&set=K=V&network=N   body: YAML -> 200 check JSON / 422
    POST /api/draw?...          body: YAML -> SVG (200; 422 drawn down to a shape error)

Every path comes from the page relative to the served folder and goes through
`Workspace.resolve` (nothing outside it is read or written). Request bodies are bounded like
spec files (10 MiB, 413 past it). Only Host headers naming this machine are answered unless
the server listens elsewhere (a web page elsewhere cannot reach it by DNS rebinding), and a
save must be JSON (a cross-site form cannot send it without a preflight this app refuses).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from netspec.lang.files import MAX_BYTES
from netspec.serve.checking import Choice, check_text, draw_text
from netspec.serve.headers import SecurityHeaders
from netspec.serve.workspace import Refused, Workspace

STATIC = Path(__file__).resolve().parent / "static"
LOCAL_HOSTS = ("127.0.0.1", "localhost")
UNTITLED = "untitled.yaml"     # the name an unsaved text is checked as


def refused_response(request: Request, exc: Refused) -> JSONResponse:
    error = {"file": None, "line": None, "col": None, "message": exc.message,
             "hint": exc.hint, "notes": [], "chain": [],
             "text": f"error: {exc.message}" + (f"\n  hint: {exc.hint}" if exc.hint else "")}
    return JSONResponse({"errors": [error], **exc.extra}, status_code=exc.status)


async def read_body(request: Request, limit: int = MAX_BYTES) -> bytes:
    """The request body, refused (413) past `limit` bytes before more is read."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise Refused(413, f"the request body has {int(declared):,} bytes, above the "
                      f"{limit:,} a spec may have", hint="split the spec with `include:`")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise Refused(413, f"the request body is above the {limit:,} bytes a spec may "
                          f"have", hint="split the spec with `include:`")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_text_body(request: Request) -> str:
    try:
        return (await read_body(request)).decode("utf-8")
    except UnicodeDecodeError as err:
        raise Refused(400, f"the body is not UTF-8 text (byte {err.start})",
                      hint="send the spec's YAML as UTF-8") from None


def parse_choice(request: Request) -> Choice:
    """?variant=, ?set= (repeatable), ?depth= (empty: every layer) and ?network= of a check
    or draw."""
    q = request.query_params
    depth = q.get("depth", "")
    if depth and not (depth.isdigit() and len(depth) < 4):
        raise Refused(400, f"depth={depth!r}: give a whole number 0..999, or leave it empty "
                      f"for every layer", hint="?depth=1 folds blocks below the top level")
    return Choice(variant=q.get("variant") or None,
                  settings=tuple(s for s in q.getlist("set") if s),
                  depth=int(depth) if depth else None, network=q.get("network") or None)


class ServeApp:
    """The routes over one Workspace; `open_file` is shown first (relative, or None)."""

    def __init__(self, workspace: Workspace, open_file: str | None = None):
        self.workspace, self.open_file = workspace, open_file

    def spec_file(self, request: Request) -> str:
        """The file a text is checked as: the edited file's real path (includes resolve
        from its folder), or an untitled file in the served folder."""
        rel = request.query_params.get("path")
        if not rel:
            return str(self.workspace.root / UNTITLED)
        return str(self.workspace.resolve(rel, must_exist=False))

    async def page(self, request: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-store"})

    async def session(self, request: Request) -> Response:
        return JSONResponse({"root": str(self.workspace.root), "name": self.workspace.root.name,
                             "open": self.open_file, "dot": shutil.which("dot") is not None})

    async def files(self, request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(self.workspace.files))

    async def read_file(self, request: Request) -> Response:
        opened = await run_in_threadpool(self.workspace.read, request.query_params.get("path"))
        return JSONResponse({"path": opened.path, "text": opened.text,
                             "version": opened.version})

    async def save_file(self, request: Request) -> Response:
        if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
            raise Refused(415, "a save is a JSON body {\"path\", \"text\", \"version\"} sent "
                          "as application/json", hint="set Content-Type: application/json")
        try:
            body = json.loads(await read_body(request, MAX_BYTES + 65536))
        except ValueError:
            raise Refused(400, "the save body is not JSON",
                          hint='send {"path": ..., "text": ..., "version": ...}') from None
        if not isinstance(body, dict) or not isinstance(body.get("text"), str) \
                or not isinstance(body.get("version"), (str, type(None))):
            raise Refused(400, 'a save needs "path", "text" (a string) and "version" (the '
                          'token the file was opened with, or null for a new file)',
                          hint="read the file with GET /api/file first")
        saved = await run_in_threadpool(self.workspace.save, body.get("path"), body["text"],
                                        body["version"])
        return JSONResponse({"path": saved.path, "version": saved.version})

    async def check(self, request: Request) -> Response:
        text, choice, file = await read_text_body(request), parse_choice(request), \
            self.spec_file(request)
        extras = request.query_params.get("extras") == "1"
        status, body = await run_in_threadpool(check_text, text, file, choice,
                                               self.workspace.root, extras)
        return JSONResponse(body, status_code=status)

    async def draw(self, request: Request) -> Response:
        text, choice, file = await read_text_body(request), parse_choice(request), \
            self.spec_file(request)
        status, body = await run_in_threadpool(draw_text, text, file, choice,
                                               self.workspace.root)
        if isinstance(body, dict):
            return JSONResponse(body, status_code=status)
        return Response(body, status_code=status, media_type="image/svg+xml")

    def routes(self) -> list:
        return [
            Route("/", self.page),
            Route("/api/session", self.session),
            Route("/api/files", self.files),
            Route("/api/file", self.read_file, methods=["GET"]),
            Route("/api/file", self.save_file, methods=["PUT"]),
            Route("/api/check", self.check, methods=["POST"]),
            Route("/api/draw", self.draw, methods=["POST"]),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]


def create_app(root: str | Path, open_file: str | None = None,
               allowed_hosts: tuple[str, ...] | list[str] = LOCAL_HOSTS) -> Starlette:
    """The app serving folder `root`; `open_file` (relative to it) is opened first;
    `allowed_hosts`: the Host headers answered ("*": any, for --host beyond this machine)."""
    workspace = Workspace(root)
    if open_file is not None:
        open_file = workspace.relative(workspace.resolve(open_file))
    app = ServeApp(workspace, open_file)
    return Starlette(routes=app.routes(),
                     middleware=[Middleware(TrustedHostMiddleware,
                                            allowed_hosts=list(allowed_hosts)),
                                 Middleware(SecurityHeaders)],
                     exception_handlers={Refused: refused_response})
