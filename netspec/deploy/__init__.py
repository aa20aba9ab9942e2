"""Deployment: ONNX export (export.py) and its verification on onnxruntime (verify.py), what is
exported (source.py), the metadata format both ends share (metadata.py), onnxruntime inference
(infer.py) and the reading of its inputs (inputs.py)."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str) -> ModuleType:
    """`module` (onnx, onnxruntime, PIL), imported; a SetupError that says how to install it
    when the machine lacks it."""
    from netspec.errors import SetupError

    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = {"PIL": "pillow"}.get(module, module)
        raise SetupError(f"{module} is not installed ({err})",
                         hint=f"install it with `pip install {package}`, or netspec's ONNX "
                              "extras with `pip install -e '.[onnx]'`") from None
