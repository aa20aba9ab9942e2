"""The language front end: YAML with positions (`yaml_loader`, `located`), expressions
(`expr`), the pydantic schema (`schema`), entries and blocks as written (`entries`), the
built-in library (`library`) and the parser of a whole spec (`load`).

Never imports torch, and nothing from the graph: loading with expansion is `netspec.graph.load`.
"""
