"""The live side of netspec: `netspec serve` (a local page that checks and draws a spec as it
is typed) and `netspec lsp` (a language server for editors)."""
