"""Inference on an exported ONNX model with onnxruntime, numpy and PIL alone.

Importing torch here is a bug: `netspec infer` starts in about half a second because it never
pays for torch (a test proves it). The metadata format that `netspec export` writes into
the ONNX file (`ModelInfo`) lives in netspec.deploy.metadata, so the writer and the reader
share one definition without the reader importing the writer; reading inputs lives in
netspec.deploy.inputs.

Inputs are preprocessed as training did (DESIGN §5, §7):

    image file        pixels / 255, resized to the model's H x W, grayscale or RGB per channels
    .npy, .csv, array raw values * scale (digits: 1/16)
    then              (x - mean) / std, with the training split's statistics

Outputs are read as the metadata says: softmax only over logits; the values of a regression
trained on standardised targets are brought back to the target's units (value * std + mean).

    results = infer("exported/lenet5.onnx", ["digit.png"], top_k=3)
    results[0].label, results[0].probability
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from netspec.deploy import require
from netspec.deploy.inputs import read_samples
from netspec.deploy.metadata import OutputInfo, read_info
from netspec.errors import InputError
from netspec.training.rundir import CLASS_OUTPUTS

CHUNK = 64                                   # samples per onnxruntime call (dynamic batch)


# ---- results --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Prediction:
    label: str
    index: int
    probability: float


@dataclass(frozen=True)
class Output:
    """One output for one sample: the top-k classes (classification outputs of per-sample
    rank 1), or the raw values."""

    kind: str
    top: tuple[Prediction, ...] = ()
    values: Any = None


@dataclass(frozen=True)
class Result:
    """The model's answer for one sample (`source`: `digit.png`, `rows.csv:3`, `x.npy[2]`)."""

    source: str
    outputs: dict[str, Output]

    @property
    def primary(self) -> Output:
        """The first classification output, else the first output."""
        outs = list(self.outputs.values())
        return next((o for o in outs if o.top), outs[0])

    @property
    def top(self) -> tuple[Prediction, ...]:
        return self.primary.top

    @property
    def label(self) -> str | None:
        return self.top[0].label if self.top else None

    @property
    def probability(self) -> float | None:
        return self.top[0].probability if self.top else None

    def to_json(self) -> dict[str, Any]:
        outs = {}
        for name, o in self.outputs.items():
            outs[name] = {"kind": o.kind}
            if o.top:
                outs[name]["top_k"] = [{"label": p.label, "index": p.index,
                                        "probability": p.probability} for p in o.top]
            else:
                outs[name]["values"] = o.values
        return {"input": self.source, "outputs": outs}

    def render(self) -> str:
        parts = []
        for name, o in self.outputs.items():
            prefix = f"{name}: " if len(self.outputs) > 1 else ""
            if o.top:
                parts.append(prefix + "  ".join(f"{p.label} ({p.probability:.3f})" for p in o.top))
            else:
                parts.append(prefix + _render_values(o.values))
        return f"{self.source}  " + "   ".join(parts)


def _render_values(values: Any, limit: int = 8) -> str:
    flat = np.asarray(values, dtype=np.float64).ravel()
    shown = ", ".join(f"{v:.4g}" for v in flat[:limit])
    if flat.size == 1:
        return shown
    more = f", ... ({flat.size} values)" if flat.size > limit else ""
    return f"[{shown}{more}]"


# ---- the model --------------------------------------------------------------------------------

class Model:
    """An onnxruntime session and the netspec metadata of its file."""

    def __init__(self, path: str | Path):
        ort = require("onnxruntime")
        self.path = str(path)
        if not Path(path).is_file():
            raise InputError(f"{path}: no such model file")
        try:
            self.session = ort.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        except Exception as err:   # onnxruntime raises its own classes for every failure
            raise InputError(f"{path}: not a model onnxruntime can load: {_first_line(err)}",
                             hint="give a file written by `netspec export` (a self-contained "
                                  ".onnx)") from None
        self.info = read_info(self.session, self.path)

    def run(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Outputs by name for a batch of any size (chunked or padded to the model's batch)."""
        n = len(next(iter(feeds.values())))
        step = int(self.info.batch) if self.info.batch.isdigit() else CHUNK
        names = [o.name for o in self.session.get_outputs()]
        parts: dict[str, list] = {name: [] for name in names}
        for start in range(0, n, step):
            chunk = {k: v[start:start + step] for k, v in feeds.items()}
            m = len(next(iter(chunk.values())))
            if self.info.batch.isdigit() and m < step:     # pad a fixed-batch model's last chunk
                chunk = {k: np.concatenate([v, np.zeros((step - m, *v.shape[1:]), v.dtype)])
                         for k, v in chunk.items()}
            try:
                outs = self.session.run(names, chunk)
            except Exception as err:
                raise InputError(f"{self.path}: onnxruntime rejected the input: "
                                 f"{_first_line(err)}") from None
            for name, out in zip(names, outs):
                parts[name].append(out[:m])
        return {name: np.concatenate(p) for name, p in parts.items()}


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# ---- results from outputs -------------------------------------------------------------------

def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _probabilities(out: np.ndarray, kind: str) -> np.ndarray:
    """Softmax only over logits; probabilities as they are; exp of log-probabilities. A single
    unit is a binary classifier: sigmoid of its logit, classes [0, 1]."""
    out = out.astype(np.float64)
    if out.shape[1] == 1:
        p = 1 / (1 + np.exp(-out)) if kind == "logits" else np.exp(out) \
            if kind == "log_probabilities" else out
        return np.concatenate([1 - p, p], axis=1)
    if kind == "logits":
        return _softmax(out)
    if kind == "log_probabilities":
        return np.exp(out)
    return out


def _in_target_units(out: np.ndarray, target: dict | None) -> np.ndarray:
    """Standardised values [N, d] back in the target's units: value * std + mean."""
    if not target or out.ndim != 2:
        return out
    mean = np.asarray(target["mean"], dtype=np.float64)
    std = np.asarray(target["std"], dtype=np.float64)
    return out.astype(np.float64) * std + mean


def _output_results(out: np.ndarray, info: OutputInfo, labels, top_k: int) -> list[Output]:
    kind = info.kind
    if kind not in CLASS_OUTPUTS or out.ndim != 2:
        return [Output("values", values=row.tolist())
                for row in _in_target_units(out, info.target)]
    probs = _probabilities(out, kind)
    k = min(top_k, probs.shape[1])
    results = []
    for row in probs:
        best = np.argsort(-row, kind="stable")[:k]
        top = tuple(Prediction(labels[i] if labels and i < len(labels) else str(i), int(i),
                               float(row[i])) for i in best)
        results.append(Output(kind, top=top))
    return results


def infer(model_path: str | Path, inputs: Any, *, top_k: int = 5) -> list[Result]:
    """Run the ONNX model `model_path` on `inputs` (a path or array, or a list of them:
    images, .npy, .npz, .csv) with onnxruntime; one Result per sample, in order.

    Classification outputs give the `top_k` classes with labels and probabilities (softmax
    only over logits); other outputs their values, in the target's units. Raises InputError
    for a broken model file or an input that does not fit the model, SetupError without
    onnxruntime."""
    if top_k < 1:
        raise InputError(f"top_k must be at least 1, got {top_k}")
    model = Model(model_path)
    sources = [inputs] if isinstance(inputs, (str, Path, np.ndarray)) else list(inputs)
    results: list[Result] = []
    for source in sources:
        for names, feeds in read_samples(source, model.info):
            outs = model.run(feeds)
            per_output = {n: _output_results(outs[n], model.info.outputs.get(n, OutputInfo(())),
                                             model.info.labels, top_k) for n in outs}
            for i, name in enumerate(names):
                results.append(Result(name, {n: r[i] for n, r in per_output.items()}))
    return results
