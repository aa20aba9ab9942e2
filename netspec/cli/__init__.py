"""The `netspec` command: thin click commands, one module per command family."""
