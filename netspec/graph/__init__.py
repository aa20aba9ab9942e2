"""The expanded graph: netspec's own DAG (`ir`), block expansion with shape inference
(`expand`: the walk over entries; `entry_kinds`, `substitute`, `scope`, `diagnose`), and
loading a spec with every mistake, the parser's and expansion's, reported together (`load`).

Never imports torch."""
