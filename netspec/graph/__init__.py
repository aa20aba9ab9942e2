"""The expanded graph: netspec's own DAG (the IR), block expansion and shape inference.

Never imports torch."""
