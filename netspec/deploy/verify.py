"""Verification of an exported ONNX file (DESIGN §7, §9), and the example inputs that export
traces with and verification runs on.

`onnx.checker`, then onnxruntime against torch on random inputs (N(0, 1) floats; token ids
below the vocabulary of the embeddings that read them) at batch 1 and 4, or at the fixed
batch. The tolerance is relative to the outputs' scale, as float32 round-off is:
`max|onnxruntime - torch| <= tolerance * max|torch|` with tolerance 1e-4 (a fresh GoogLeNet's
logits reach ~150, a softmax stays below 1). Beyond that the file is not written at its path
but kept beside it as `<path>.unverified` for inspection, and VerificationError is raised;
the message prints the difference and the scale.

A model not worth shipping is refused the same way: an output holding NaN or inf on random
inputs (a diverged run), or outputs that are all the same for every input (the network
ignores its input).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from netspec.deploy import require
from netspec.deploy.source import Source
from netspec.errors import VerifyError
from netspec.lang.schema import Spec

TOLERANCE = 1e-4                  # of the largest |output|: max|a - b| <= 1e-4 * max|b|
VERIFY_BATCHES = (1, 4)
DEFAULT_DIM = 16                  # the size of a symbolic dim nobody bound


class VerificationError(VerifyError):
    """The exported file failed onnx.checker or differs from torch; `kept` is where it lies."""

    def __init__(self, message: str, kept: Path | None, hint: str | None = None):
        super().__init__(message, hint=hint)
        self.kept = kept


# ---- example inputs -----------------------------------------------------------------------

def dim_sizes(src: Source, bindings: dict | None) -> dict[str, int]:
    """A size for every symbolic dim: given > the run's input_shape > DEFAULT_DIM."""
    sizes: dict[str, int] = {}
    run_shape = src.data.get("input_shape")
    single = len(src.spec.inputs) == 1
    for inp in src.spec.inputs.values():
        for i, d in enumerate(inp.shape):
            if not isinstance(d, str):
                continue
            from_run = run_shape[i] if single and isinstance(run_shape, list) and \
                len(run_shape) == len(inp.shape) and isinstance(run_shape[i], int) else None
            sizes[d] = int((bindings or {}).get(d) or from_run or sizes.get(d) or DEFAULT_DIM)
    return sizes


def vocabularies(spec: Spec) -> dict[str, int]:
    """For each token-id input, the smallest vocabulary of the embeddings that read it."""
    from netspec.report import check

    graph = check(spec).graph
    vocab: dict[str, int] = {}
    for node in graph:
        for src in node.inputs:
            size = getattr(node.args, "vocab", None)
            if src in graph.inputs and size is not None:
                vocab[src] = min(vocab.get(src, size), size)
    return vocab


def example_inputs(spec: Spec, batch: int, sizes: dict[str, int], seed: int,
                   vocab: dict[str, int]) -> tuple[torch.Tensor, ...]:
    """Random inputs in `spec.inputs` order: N(0, 1) floats, token ids below the vocabulary."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for name, inp in spec.inputs.items():
        shape = (batch, *(sizes[d] if isinstance(d, str) else d for d in inp.shape))
        if inp.dtype == "long":
            out.append(torch.randint(0, vocab.get(name, 2), shape, generator=gen))
        else:
            out.append(torch.randn(shape, generator=gen))
    return tuple(out)


# ---- verifying ---------------------------------------------------------------------------

def verify_file(tmp: Path, model, spec: Spec, sizes: dict, fixed: set, fixed_batch: int | None,
                vocab: dict, tolerance: float, path: Path) -> tuple[dict, float, float]:
    """onnx.checker, then onnxruntime vs torch at batch 1 and 4 (or the fixed batch); dynamic
    symbolic dims get another length at the second batch. Returns (batch -> max abs diff,
    the limit applied, the largest |output|)."""
    onnx = require("onnx")
    ort = require("onnxruntime")
    try:
        onnx.checker.check_model(str(tmp), full_check=True)
        session = ort.InferenceSession(str(tmp), providers=["CPUExecutionProvider"])
    except Exception as err:
        raise _failed(tmp, path, f"{path} is not a valid model: {_first_line(err)}")
    diffs, scale = {}, 0.0
    for k, batch in enumerate((fixed_batch,) if fixed_batch else VERIFY_BATCHES):
        at = {d: s + k if d not in fixed else s for d, s in sizes.items()}
        args = example_inputs(spec, batch, at, 100 + k, vocab)
        with torch.no_grad():
            expected = model(*args)
        expected = expected if isinstance(expected, tuple) else (expected,)
        degenerate = _degenerate(spec, expected, batch)
        if degenerate:
            raise _failed(tmp, path, degenerate)
        try:
            got = session.run(None, {n: a.numpy() for n, a in zip(spec.inputs, args)})
        except Exception as err:
            raise _failed(tmp, path, f"onnxruntime cannot run {path} at batch {batch}: "
                                     f"{_first_line(err)}")
        diffs[batch] = max(_max_abs_diff(g, e.numpy()) for g, e in zip(got, expected))
        scale = max([scale, *(_largest(e) for e in expected)])
    limit = tolerance * scale
    if not all(d <= limit for d in diffs.values()):
        shown = ", ".join(f"{d:.2e} at batch {b}" for b, d in diffs.items())
        raise _failed(tmp, path, f"onnxruntime and torch differ in {path}: max abs diff "
                                 f"{shown}, above the tolerance {limit_text(limit, scale)}")
    return diffs, limit, scale


def _degenerate(spec: Spec, outputs: tuple[torch.Tensor, ...], batch: int) -> str | None:
    """Why torch's `outputs` on `batch` random inputs are not worth exporting, or None."""
    from netspec.report import check

    names = list(check(spec).graph.outputs)
    for name, out in zip(names, outputs):
        if out.is_floating_point() and not bool(torch.isfinite(out).all()):
            return (f"the model's output {name!r} holds NaN or inf on random inputs: "
                    f"there is nothing to export (did its training diverge?)")
    if batch > 1 and all(o.numel() and bool((o == o[:1]).all()) for o in outputs):
        return (f"the model's output is the same for each of {batch} random inputs: the "
                f"network ignores its input, and an export of it would too")
    return None


def _largest(t: torch.Tensor) -> float:
    """max |t| over its finite values (0 for an empty tensor)."""
    finite = t.detach().float().abs().nan_to_num(nan=0.0, posinf=0.0)
    return float(finite.max()) if finite.numel() else 0.0


def _max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    if a.shape != b.shape:
        return float("inf")
    d = np.abs(a.astype(np.float64) - b.astype(np.float64))
    d[np.isnan(a) & np.isnan(b)] = 0.0          # NaN in both is agreement
    return float(np.nan_to_num(d, nan=np.inf).max(initial=0.0))


def _failed(tmp: Path, path: Path, message: str) -> VerificationError:
    kept = path.with_name(path.name + ".unverified")
    os.replace(tmp, kept)
    return VerificationError(message, kept, hint=f"{path} was not written; the failing file "
                             f"is kept as {kept} for inspection")


def limit_text(limit: float, scale: float) -> str:
    """The tolerance applied and the scale it is relative to, as the summary and the failure
    print them: `3.2e-04: 1e-04 of the largest output, 3.2`."""
    return f"{limit:.1e}: {TOLERANCE:.0e} of the largest output, {scale:.3g}"


def _first_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__
