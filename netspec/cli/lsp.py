"""`netspec lsp`: the language server for editors (netspec.serve.lsp), over stdio or TCP."""

from __future__ import annotations

import click

from netspec.errors import SetupError


@click.command("lsp")
@click.option("--tcp", "port", type=click.IntRange(1, 65535), default=None, metavar="PORT",
              help="Listen on 127.0.0.1:PORT instead of talking over stdin/stdout.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="With --tcp: the address to listen on.")
def lsp_command(port: int | None, host: str) -> None:
    """Run a Language Server for spec files: diagnostics, hover, completion, go to definition.

    An editor starts it and talks to it over stdin/stdout (Language Server Protocol). It checks
    the text as you type (unsaved text too, includes resolved from the file's folder), marks
    each mistake at its YAML node, shows an entry's output shape, params, MACs and receptive
    field on hover, completes kinds, arguments and block names, and goes from a block's use
    to its definition.

    \b
    Neovim (0.10+), in init.lua:
      vim.api.nvim_create_autocmd("FileType", { pattern = "yaml", callback = function(a)
        vim.lsp.start({ name = "netspec", cmd = { "netspec", "lsp" },
                        root_dir = vim.fs.root(a.buf, { ".git", "specs" }) })
      end })
    VS Code, with the Generic LSP Client (v2) extension (zsol.vscode-glspc), settings.json:
      "glspc.server.command": "netspec", "glspc.server.commandArguments": ["lsp"],
      "glspc.server.languageId": ["yaml"]
    docs/editors.md has a minimal extension of your own and nvim-lspconfig.
    Debug over TCP: netspec lsp --tcp 2087, and point the client at 127.0.0.1:2087.
    """
    try:
        from netspec.serve.lsp import create_server
    except ImportError as err:
        raise SetupError(f"`netspec lsp` needs pygls and lsprotocol ({err.name} is missing)",
                         hint='install them with `pip install -e ".[serve]"` (or '
                              '`pip install pygls lsprotocol`)') from None
    server = create_server()
    if port is None:
        server.start_io()
    else:
        click.echo(f"netspec lsp: listening on {host}:{port}", err=True)
        server.start_tcp(host, port)
