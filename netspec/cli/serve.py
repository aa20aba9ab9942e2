"""`netspec serve`: the live page, a spec checked and drawn as it is typed."""

from __future__ import annotations

from pathlib import Path

import click

from netspec.errors import InputError, SetupError


@click.command("serve")
@click.argument("target", metavar="[SPEC_OR_DIR]", default=".",
                type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="The port to listen on (0: any free one; the URL is printed).")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="The address to listen on. The default answers this machine only; "
                   "0.0.0.0 lets others on the network read and save the folder's specs.")
@click.option("--no-browser", is_flag=True, help="Do not open the page in a browser.")
def serve_command(target: str, port: int, host: str, no_browser: bool) -> None:
    """Edit specs in a local page that checks and draws them as you type.

    Serves the .yaml files of SPEC_OR_DIR (default: the current folder); a spec file opens
    that file, in its folder. The page has a code editor, the problems (click one to jump to
    its line), the layer table, the diagram (redrawn as you type; needs Graphviz's `dot`),
    the folder's specs, a variant and a depth choice. Ctrl-S saves atomically and refuses
    to overwrite a file changed on disk since it was opened. Nothing outside the folder is
    read or written; nothing is fetched from the internet (the page works offline).

    \b
      netspec serve specs/                      every spec of the zoo
      netspec serve specs/resnet.yaml           open one (its folder is served)
      netspec serve . --port 0 --no-browser     any free port; the URL is printed
    """
    try:
        from netspec.serve.app import LOCAL_HOSTS, create_app
        from netspec.serve.server import serve_forever
    except ModuleNotFoundError as err:       # the serve extra is not installed
        raise SetupError(f"`netspec serve` needs the package {err.name!r}, not installed",
                         hint="pip install 'netspec[serve]' (starlette, uvicorn)") from None
    path = Path(target)
    root, open_file = (path.parent, path.name) if path.is_file() else (path, None)
    if open_file is not None and path.suffix not in (".yaml", ".yml"):
        raise click.BadParameter(f"{target!r} is not a .yaml spec; give a spec file or a "
                                 f"folder", param_hint="SPEC_OR_DIR")
    from netspec.serve.workspace import Refused

    local = host in LOCAL_HOSTS
    try:
        app = create_app(root, open_file, allowed_hosts=LOCAL_HOSTS if local else ["*"])
    except Refused as refused:        # a link out of its folder, a FIFO named .yaml
        raise InputError(refused.message, hint=refused.hint) from None
    if not local:
        click.echo(f"note: listening on {host}: anyone who can reach it can read and save "
                   f"the specs in {root.resolve()}", err=True)
    serve_forever(app, host, port, open_browser=not no_browser, say=click.echo)
