"""Inference on an exported ONNX model with onnxruntime, numpy and PIL alone.

Importing torch here is a bug: `netspec infer` starts in about half a second because it never
pays for torch (a test proves it). This module also owns the metadata format that
`netspec export` writes into the ONNX file (`ModelInfo`), so the writer and the reader share
one definition without the reader importing the writer.

Inputs are preprocessed as training did (DESIGN §5, §7):

    image file        pixels / 255, resized to the model's H x W, grayscale or RGB per channels
    .npy, .csv, array raw values * scale (digits: 1/16)
    then              (x - mean) / std, with the training split's statistics

    results = infer("exported/lenet5.onnx", ["digit.png"], top_k=3)
    results[0].label, results[0].probability
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from ._callable import callable_module
from .errors import Location, SpecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm",
                  ".ppm", ".pbm"}
CLASS_KINDS = ("logits", "probabilities", "log_probabilities")
MODES = {1: "L", 3: "RGB", 4: "RGBA"}        # image channels -> PIL mode
CHUNK = 64                                   # samples per onnxruntime call (dynamic batch)


# ---- the metadata netspec writes into an ONNX file --------------------------------------------

@dataclass(frozen=True)
class InputInfo:
    """One model input: `shape` excludes the batch and holds a name where the ONNX dim is
    dynamic (`seq`); `spec_shape` is the shape as the spec wrote it."""

    shape: tuple
    dtype: str = "float"                # float | long
    spec_shape: tuple = ()


@dataclass(frozen=True)
class OutputInfo:
    """One model output: per-sample shape and what it holds (logits, probabilities,
    log_probabilities or values)."""

    shape: tuple
    kind: str = "values"


@dataclass(frozen=True)
class ModelInfo:
    """What `netspec export` stores in `metadata_props` (strings; lists and dicts as JSON)."""

    name: str
    inputs: dict[str, InputInfo]
    outputs: dict[str, OutputInfo]
    labels: tuple[str, ...] | None = None
    scale: float = 1.0
    normalize: dict | None = None            # {"mean": [...], "std": [...]}
    task: str | None = None                  # classification | regression
    batch: str = "dynamic"                   # or a fixed batch size, as text
    resample: str = "bilinear"               # how images are resized: bilinear | nearest
    fixed_dims: dict = field(default_factory=dict)   # symbolic dims fixed at export: {"seq": 16}
    spec: str | None = None                  # the spec's YAML text
    source: str | None = None                # what was exported: a spec file or a run's checkpoint
    netspec_version: str | None = None

    def to_props(self) -> dict[str, str]:
        props = {
            "name": self.name,
            "netspec_version": self.netspec_version or "",
            "inputs": json.dumps({n: {"shape": list(i.shape), "dtype": i.dtype,
                                      "spec_shape": list(i.spec_shape or i.shape)}
                                  for n, i in self.inputs.items()}),
            "outputs": json.dumps({n: {"shape": list(o.shape), "kind": o.kind}
                                   for n, o in self.outputs.items()}),
            "scale": repr(float(self.scale)),
            "batch": self.batch,
            "resample": self.resample,
            "fixed_dims": json.dumps(self.fixed_dims),
        }
        optional = {"labels": None if self.labels is None else json.dumps(list(self.labels)),
                    "normalize": None if self.normalize is None else json.dumps(self.normalize),
                    "task": self.task, "spec": self.spec, "source": self.source}
        props.update({k: v for k, v in optional.items() if v is not None})
        return props

    @classmethod
    def from_props(cls, props: dict[str, str]) -> "ModelInfo":
        """Read what `to_props` wrote; raises ValueError (a foreign file) or KeyError."""
        inputs = {n: InputInfo(tuple(i["shape"]), i.get("dtype", "float"),
                               tuple(i.get("spec_shape", i["shape"])))
                  for n, i in json.loads(props["inputs"]).items()}
        outputs = {n: OutputInfo(tuple(o["shape"]), o.get("kind", "values"))
                   for n, o in json.loads(props["outputs"]).items()}
        labels = json.loads(props["labels"]) if "labels" in props else None
        return cls(name=props["name"], inputs=inputs, outputs=outputs,
                   labels=None if labels is None else tuple(str(x) for x in labels),
                   scale=float(props.get("scale", 1.0)),
                   normalize=json.loads(props["normalize"]) if "normalize" in props else None,
                   task=props.get("task"), batch=props.get("batch", "dynamic"),
                   resample=props.get("resample", "bilinear"),
                   fixed_dims=json.loads(props.get("fixed_dims", "{}")), spec=props.get("spec"),
                   source=props.get("source"), netspec_version=props.get("netspec_version"))


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
        import onnxruntime as ort

        self.path = str(path)
        if not Path(path).is_file():
            raise SpecError(f"{path}: no such model file")
        try:
            self.session = ort.InferenceSession(self.path, providers=["CPUExecutionProvider"])
        except Exception as err:   # onnxruntime raises its own classes for every failure
            raise SpecError(f"{path}: not a model onnxruntime can load: {_first_line(err)}",
                            hint="give a file written by `netspec export` (a self-contained "
                                 ".onnx)") from None
        self.info = self._read_info()

    def _read_info(self) -> ModelInfo:
        props = self.session.get_modelmeta().custom_metadata_map
        try:
            return ModelInfo.from_props(props)
        except (KeyError, ValueError, TypeError, AttributeError):
            return self._foreign_info()

    def _foreign_info(self) -> ModelInfo:
        """An ONNX file netspec did not write: no labels or statistics; shapes from the graph."""
        def shape(dims):
            return tuple(d if isinstance(d, int) else (d or "dim") for d in dims[1:])
        inputs = {i.name: InputInfo(shape(i.shape), "long" if "int" in i.type else "float")
                  for i in self.session.get_inputs()}
        outputs = {o.name: OutputInfo(shape(o.shape), "values")
                   for o in self.session.get_outputs()}
        fixed = self.session.get_inputs()[0].shape[0]
        return ModelInfo(name=Path(self.path).stem, inputs=inputs, outputs=outputs,
                         batch=str(fixed) if isinstance(fixed, int) else "dynamic")

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
                raise SpecError(f"{self.path}: onnxruntime rejected the input: "
                                f"{_first_line(err)}") from None
            for name, out in zip(names, outs):
                parts[name].append(out[:m])
        return {name: np.concatenate(p) for name, p in parts.items()}


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__


# ---- reading inputs ---------------------------------------------------------------------------

def read_samples(source: Any, model: Model) -> Iterator[tuple[list[str], dict[str, np.ndarray]]]:
    """(names of the samples, model-ready arrays by input name) for one input source: a file
    path or a numpy array."""
    info = model.info
    if isinstance(source, np.ndarray):
        yield _from_arrays("array", {_only_input(info, "an array"): source}, info)
        return
    path = Path(source)
    if not path.is_file():
        raise SpecError(f"{source}: no such input file")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        name = _only_input(info, "an image")
        pixels = _read_image(path, info.inputs[name], info.resample)
        yield [str(source)], {name: _preprocess(pixels, info, name, image=True)}
    elif suffix == ".npy":
        yield _from_arrays(str(source), {_only_input(info, "a .npy file"): _load_npy(path)}, info)
    elif suffix == ".npz":
        yield _from_arrays(str(source), _load_npz(path, info), info)
    elif suffix == ".csv":
        yield _read_csv(path, info)
    else:
        raise SpecError(f"{source}: netspec infer reads images ({', '.join(sorted(IMAGE_SUFFIXES))}"
                        f"), .npy, .npz and .csv files, not {suffix or 'a file without suffix'}")


def _only_input(info: ModelInfo, what: str) -> str:
    if len(info.inputs) != 1:
        raise SpecError(f"model {info.name!r} has {len(info.inputs)} inputs "
                        f"({', '.join(info.inputs)}); {what} feeds only one",
                        hint="give a .npz file holding one array per input name")
    return next(iter(info.inputs))


def _read_image(path: Path, inp: InputInfo, resample: str = "bilinear") -> np.ndarray:
    """The image as a float array in the model's per-sample shape, pixels / 255."""
    from PIL import Image, UnidentifiedImageError

    shape = inp.shape
    if len(shape) >= 3 and all(isinstance(d, int) for d in shape[:3]):
        channels, size = shape[0], (shape[2], shape[1])             # PIL sizes are (W, H)
    elif len(shape) == 1 and isinstance(shape[0], int) and _square_image(shape[0]):
        channels, side = _square_image(shape[0])                    # an MLP over pixels
        size = (side, side)
    else:
        raise SpecError(f"{path}: the model's input {_fmt(shape)} is not an image "
                        f"[C, H, W]", hint="give a .npy or .csv file instead")
    if channels not in MODES:
        raise SpecError(f"{path}: the model takes {channels}-channel images; images have "
                        f"1 (grayscale), 3 (RGB) or 4 (RGBA) channels")
    try:
        with Image.open(path) as img:
            img = img.convert(MODES[channels])
            if img.size != size:
                img = img.resize(size, Image.NEAREST if resample == "nearest"
                                 else Image.BILINEAR)
            pixels = np.asarray(img, dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError) as err:
        raise SpecError(f"{path}: not an image PIL can read ({err})") from None
    pixels = pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)   # HWC -> CHW
    return pixels.reshape(shape)


def _square_image(n: int) -> tuple[int, int] | None:
    """(channels, side) when n pixels make a square grayscale or RGB image."""
    for channels in (1, 3):
        side = math.isqrt(n // channels)
        if n % channels == 0 and side * side * channels == n:
            return channels, side
    return None


def _load_npy(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise SpecError(f"{path}: not a .npy array numpy can read ({err})") from None


def _load_npz(path: Path, info: ModelInfo) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError) as err:
        raise SpecError(f"{path}: not a .npz archive numpy can read ({err})") from None
    if len(info.inputs) == 1 and len(arrays) == 1:
        return {next(iter(info.inputs)): next(iter(arrays.values()))}
    missing = [n for n in info.inputs if n not in arrays]
    if missing:
        raise SpecError(f"{path}: no array named {', '.join(missing)} "
                        f"(it holds {', '.join(arrays) or 'nothing'})",
                        hint=f"the model's inputs are {', '.join(info.inputs)}")
    return {n: arrays[n] for n in info.inputs}


def _read_csv(path: Path, info: ModelInfo) -> tuple[list[str], dict[str, np.ndarray]]:
    """One sample per numeric row (a first row with a non-number is a header)."""
    name = _only_input(info, "a .csv file")
    inp = info.inputs[name]
    rows, names = [], []
    with open(path, newline="") as f:
        for line, row in enumerate(csv.reader(f), start=1):
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            try:
                values = [float(c) for c in cells]
            except ValueError:
                if not rows and not names:
                    continue                                     # the header
                raise SpecError(f"a row holds a value that is not a number: {row}",
                                loc=Location(str(path), line, 1)) from None
            rows.append(_row_shape(values, inp, Location(str(path), line, 1)))
            names.append(f"{path}:{line}")
    if not rows:
        raise SpecError(f"{path}: no rows of numbers")
    return names, {name: _preprocess(np.stack(rows), info, name, image=False)}


def _row_shape(values: list[float], inp: InputInfo, loc: Location) -> np.ndarray:
    known = math.prod(d for d in inp.shape if isinstance(d, int))
    free = [i for i, d in enumerate(inp.shape) if not isinstance(d, int)]
    if len(values) % known or (not free and len(values) != known) or len(free) > 1:
        raise SpecError(f"a row has {len(values)} values; the model's input {_fmt(inp.shape)} "
                        f"needs {known if not free else f'a multiple of {known}'}", loc=loc)
    shape = tuple(len(values) // known if i in free else d for i, d in enumerate(inp.shape))
    return np.asarray(values).reshape(shape)


def _from_arrays(source: str, arrays: dict[str, np.ndarray],
                 info: ModelInfo) -> tuple[list[str], dict[str, np.ndarray]]:
    """Raw arrays (one sample each, or a batch) -> sample names and model-ready arrays."""
    out, count = {}, None
    for name, arr in arrays.items():
        arr = _as_batch(np.asarray(arr), info.inputs[name].shape, f"{source}: array {name!r}")
        if count is not None and len(arr) != count:
            raise SpecError(f"{source}: the arrays hold different numbers of samples")
        count = len(arr)
        out[name] = _preprocess(arr, info, name, image=False)
    names = [source] if count == 1 else [f"{source}[{i}]" for i in range(count)]
    return names, out


def _as_batch(arr: np.ndarray, shape: tuple, what: str) -> np.ndarray:
    """`arr` as a batch of samples of `shape`: one sample or a batch of them; a
    single-channel input also takes arrays without their channel axis ([H, W], [N, H, W])."""
    def fits(have, want) -> bool:
        return len(have) == len(want) and all(not isinstance(w, int) or h == w
                                              for h, w in zip(have, want))
    if fits(arr.shape, shape):
        return arr[None]
    if fits(arr.shape[1:], shape):
        return arr
    if len(shape) >= 2 and shape[0] == 1:
        if fits(arr.shape, shape[1:]):
            return arr[None, None]
        if fits(arr.shape[1:], shape[1:]):
            return arr[:, None]
    raise SpecError(f"{what} has shape {list(arr.shape)}; the model takes {_fmt(shape)} per "
                    f"sample (or a batch of them)")


def _preprocess(x: np.ndarray, info: ModelInfo, name: str, image: bool) -> np.ndarray:
    """Scale (raw data only: images are already pixels / 255) and normalise as training did;
    a batch dim is added to a single sample. Token ids are only checked and cast."""
    inp = info.inputs[name]
    x = np.asarray(x)
    if x.ndim == len(inp.shape):
        x = x[None]
    for i, d in enumerate(inp.shape):
        if isinstance(d, int) and x.shape[i + 1] != d:
            raise SpecError(f"input {name!r} has shape {list(x.shape[1:])}; the model takes "
                            f"{_fmt(inp.shape)}")
    if inp.dtype == "long":
        if not np.all(np.mod(x, 1) == 0):
            raise SpecError(f"input {name!r} holds token ids: whole numbers, got fractions")
        return x.astype(np.int64)
    x = x.astype(np.float32)
    if not image:
        x = x * np.float32(info.scale)
    if info.normalize:
        mean = _broadcast(info.normalize["mean"], inp)
        std = _broadcast(info.normalize["std"], inp)
        x = (x - mean) / std
    return x.astype(np.float32)


def _broadcast(stats: Sequence[float] | float, inp: InputInfo) -> np.ndarray:
    """Statistics shaped to broadcast over a batch, along the axis training used: channels
    (axis 0) for images (rank >= 3), else the last axis (features, sequences [seq, F])."""
    s = np.asarray(stats, dtype=np.float32).ravel()
    shape = inp.shape
    rank = len(shape)
    if s.size == 1:
        return s.reshape((1,) * (rank + 1))
    axis = 0 if rank >= 3 else rank - 1
    if shape[axis] != s.size:
        raise SpecError(f"the model's normalisation statistics have {s.size} values; its input "
                        f"{_fmt(shape)} has {shape[axis]} along the axis they apply to")
    view = [1] * (rank + 1)
    view[axis + 1] = s.size
    return s.reshape(view)


def _fmt(shape: Iterable) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


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


def _output_results(out: np.ndarray, kind: str, labels, top_k: int) -> list[Output]:
    if kind not in CLASS_KINDS or out.ndim != 2:
        return [Output("values", values=row.tolist()) for row in out]
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
    only over logits); other outputs their values. Raises SpecError for a broken model file
    or an input that does not fit the model."""
    if top_k < 1:
        raise SpecError(f"top_k must be at least 1, got {top_k}")
    model = Model(model_path)
    sources = [inputs] if isinstance(inputs, (str, Path, np.ndarray)) else list(inputs)
    results: list[Result] = []
    for source in sources:
        for names, feeds in read_samples(source, model):
            outs = model.run(feeds)
            per_output = {n: _output_results(outs[n], model.info.outputs.get(
                n, OutputInfo(())).kind, model.info.labels, top_k) for n in outs}
            for i, name in enumerate(names):
                results.append(Result(name, {n: r[i] for n, r in per_output.items()}))
    return results


callable_module(__name__, infer)
