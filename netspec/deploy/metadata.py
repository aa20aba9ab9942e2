"""The metadata netspec writes into an ONNX file's `metadata_props` and reads back from it:
one definition shared by `netspec export` (the writer) and `netspec infer` (the reader).

Importing torch here is a bug: `netspec infer` imports this module and never pays for torch.

What an exported file holds in `metadata_props` (strings; lists and dicts as JSON) is what
inference needs to preprocess as training did and to read the outputs (`ModelInfo`): input
shapes, labels, scale, normalisation statistics, what each output is (and, for a regression
trained on standardised targets, the target's mean and std to bring values back to its
units), plus the spec's name, YAML and netspec version.

What an output is comes from the run (data.json's `output`: the run records it); for a bare
spec, from the final layer kind's declared output, else `logits` for the trained output when
it is a vector of 2 or more classes, else `values`.

    info = model_info(src, None, {})           # writing: from a spec and its run's data.json
    onnx.helper.set_model_props(proto, info.to_props())
    info = read_info(session, path)            # reading: from an onnxruntime session
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from netspec.errors import InputError
from netspec.kinds import output_semantics
from netspec.training.rundir import CLASS_OUTPUTS, OUTPUT_KINDS, finite_number, is_statistics
from netspec.version import __version__

if TYPE_CHECKING:
    from netspec.lang.schema import Spec

# what metadata may promise: beyond these a file is damaged or hostile, not a model
MAX_BATCH = 4096
MAX_DIM = 10**6
MAX_RANK = 8
MAX_ELEMENTS = 2**28                 # values in one sample (1 GiB of float32)
MAX_LABELS = 10**6

# how training resized images of a built-in data set (PIL's filter); image folders: bilinear
RESAMPLE = {"digits": "nearest"}


# ---- the format -------------------------------------------------------------------------------

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
    log_probabilities or values); `target` ({"mean": [...], "std": [...]}): the values are
    standardised targets, `value * std + mean` in the target's units."""

    shape: tuple
    kind: str = "values"
    target: dict | None = None


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
            "outputs": json.dumps({n: {"shape": list(o.shape), "kind": o.kind,
                                       **({"target": o.target} if o.target else {})}
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
        outputs = {n: OutputInfo(tuple(o["shape"]), o.get("kind", "values"), o.get("target"))
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



# ---- reading ----------------------------------------------------------------------------------

def read_info(session, path: str | Path) -> ModelInfo:
    """The netspec metadata of the file onnxruntime `session` has loaded from `path`: checked
    against the bounds below (a file's metadata is input like any other: a batch of 10^8 or a
    dim of 10^12 would allocate without end), each mistake an InputError naming its key."""
    props = session.get_modelmeta().custom_metadata_map
    if "inputs" not in props or "outputs" not in props:
        return check_info(_foreign_info(session, path), path)
    try:
        info = ModelInfo.from_props(props)
    except (KeyError, ValueError, TypeError, AttributeError, RecursionError) as e:
        raise InputError(f"{path}: its netspec metadata is damaged ({type(e).__name__}: "
                         f"{str(e)[:80]})", hint="export the model again with `netspec "
                         "export`") from None
    return check_info(info, path)


def check_info(info: ModelInfo, path: str | Path) -> ModelInfo:
    """Refuse metadata that would make inference allocate without bound or read outputs
    wrongly, naming the key and the bound."""
    def bad(key: str, why: str) -> InputError:
        return InputError(f"{path}: metadata `{key}` {why}", hint="export the model again "
                          "with `netspec export`; the file was altered or is not netspec's")
    if not (info.batch == "dynamic" or (info.batch.isdigit() and
                                        1 <= int(info.batch) <= MAX_BATCH)):
        raise bad("batch", f"must be `dynamic` or a size from 1 to {MAX_BATCH}, got "
                           f"{info.batch[:40]!r}")
    for group, items in (("inputs", info.inputs), ("outputs", info.outputs)):
        for name, item in items.items():
            _check_shape(item.shape, f"{group}.{name}.shape", bad)
    for name, i in info.inputs.items():
        if i.dtype not in ("float", "long"):
            raise bad(f"inputs.{name}.dtype", f"must be float or long, got {i.dtype!r}")
    for name, o in info.outputs.items():
        if not isinstance(o.kind, str) or o.kind not in OUTPUT_KINDS:
            raise bad(f"outputs.{name}.kind", f"must be one of {', '.join(OUTPUT_KINDS)}, "
                                              f"got {o.kind!r}")
        if o.target is not None and not is_statistics(o.target):
            raise bad(f"outputs.{name}.target", "must be {\"mean\": [...], \"std\": [...]} "
                                               "with finite means and positive stds")
    if not (finite_number(info.scale) and info.scale > 0):
        raise bad("scale", f"must be a positive finite number, got {info.scale!r}")
    if info.normalize is not None and not is_statistics(info.normalize):
        raise bad("normalize", "must be {\"mean\": [...], \"std\": [...]} with finite means "
                               "and positive stds")
    if info.labels is not None and len(info.labels) > MAX_LABELS:
        raise bad("labels", f"holds {len(info.labels)} labels, above the bound {MAX_LABELS}")
    if info.resample not in ("bilinear", "nearest"):
        raise bad("resample", f"must be bilinear or nearest, got {info.resample!r}")
    if not isinstance(info.fixed_dims, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_DIM
            for v in info.fixed_dims.values()):
        raise bad("fixed_dims", f"must map dims to sizes from 1 to {MAX_DIM}")
    return info


def _check_shape(shape: tuple, key: str, bad) -> None:
    """Each dim a size from 1 to MAX_DIM or a name; at most MAX_ELEMENTS values a sample."""
    if len(shape) > MAX_RANK:
        raise bad(key, f"has {len(shape)} dims, above the bound {MAX_RANK}")
    for d in shape:
        if isinstance(d, bool) or not (isinstance(d, str) or (isinstance(d, int)
                                                              and 1 <= d <= MAX_DIM)):
            raise bad(key, f"must hold sizes from 1 to {MAX_DIM} or names, got {d!r}")
    fixed = math.prod(d for d in shape if isinstance(d, int))
    if fixed > MAX_ELEMENTS:
        raise bad(key, f"promises {fixed:,} values a sample, above the bound {MAX_ELEMENTS:,}")


def _foreign_info(session, path: str | Path) -> ModelInfo:
    """An ONNX file netspec did not write: no labels or statistics; shapes from the graph."""
    def shape(dims):
        return tuple(d if isinstance(d, int) else (d or "dim") for d in dims[1:])
    inputs = {i.name: InputInfo(shape(i.shape), "long" if "int" in i.type else "float")
              for i in session.get_inputs()}
    outputs = {o.name: OutputInfo(shape(o.shape), "values")
               for o in session.get_outputs()}
    if not session.get_inputs():
        raise InputError(f"{path}: the model has no inputs")
    fixed = session.get_inputs()[0].shape[0] if session.get_inputs()[0].shape else None
    return ModelInfo(name=Path(path).stem, inputs=inputs, outputs=outputs,
                     batch=str(fixed) if isinstance(fixed, int) else "dynamic")


# ---- writing ----------------------------------------------------------------------------------

def fixed_dims(proto, spec: Spec, fixed_batch: int | None) -> set[str]:
    """The symbolic dims the exported graph holds at a fixed size (traced away)."""
    fixed = set()
    shapes = {i.name: i.type.tensor_type.shape.dim for i in proto.graph.input}
    for name, inp in spec.inputs.items():
        dims = shapes[name]
        for k, d in enumerate(inp.shape):
            if isinstance(d, str) and not dims[k + 1].dim_param:
                fixed.add(d)
        if fixed_batch is None and not dims[0].dim_param:
            fixed.add("batch")
    return fixed


def model_info(src, fixed_batch: int | None, fixed: dict[str, int]) -> ModelInfo:
    """The metadata to store: shapes (fixed dims substituted), labels, statistics, kinds.
    `src` is an export Source: its spec, its run's data.json and a description."""
    from netspec.report import check

    spec, data = src.spec, src.data
    graph = check(spec, None, fixed).graph
    primary = _trained_output(spec, graph)
    kinds = _output_kinds(src, graph, primary)
    target = data.get("target") if kinds[primary] == "values" else None
    labels = data.get("labels")
    return ModelInfo(
        name=spec.name,
        inputs={n: InputInfo(tuple(fixed.get(d, d) for d in i.shape), i.dtype, tuple(i.shape))
                for n, i in spec.inputs.items()},
        outputs={o: OutputInfo(tuple(graph.nodes[n].shape), kinds[o],
                               _target(target, o, graph.nodes[n].shape) if o == primary
                               else None)
                 for o, n in graph.outputs.items()},
        labels=None if labels is None else tuple(str(x) for x in labels),
        scale=float(data.get("scale") or 1.0), normalize=data.get("normalize"),
        task=data.get("task") or ("classification" if any(k in CLASS_OUTPUTS for k in
                                                          kinds.values()) else "regression"),
        batch="dynamic" if fixed_batch is None else str(fixed_batch),
        resample=RESAMPLE.get(str(data.get("name")), "bilinear"),
        fixed_dims=fixed, spec=spec.source, source=src.description,
        netspec_version=__version__)


def _trained_output(spec: Spec, graph) -> str:
    """The output the loss trained: the spec's `train.output`, else the first."""
    train = spec.train if isinstance(spec.train, dict) else {}
    names = list(graph.outputs)
    return train.get("output") if train.get("output") in names else names[0]


def _output_kinds(src, graph, primary: str) -> dict[str, str]:
    """What each output holds: the run's data.json says it for the trained output; else the
    final layer kind's declared output, else logits for a trained vector of classes."""
    kinds = {}
    for out, node_name in graph.outputs.items():
        node = graph.nodes[node_name]
        kind = output_semantics(node.kind)
        if out == primary:
            if src.data.get("output"):
                kind = src.data["output"]
            elif kind == "values" and len(node.shape) == 1 and node.shape[0] != 1:
                kind = "logits"         # a bare spec: one unit is more often a value
        kinds[out] = kind
    return kinds


def _target(target: dict | None, out: str, shape: tuple) -> dict | None:
    """The trained output's target scaling (data.json's `target`, checked against the
    output's width); None for runs that did not standardise their targets."""
    if not target:
        return None
    mean, std = (list(v) if isinstance(v, list) else [v] for v in (target["mean"], target["std"]))
    if tuple(shape) != (len(mean),) and len(mean) != 1:
        raise InputError(f"the run's data.json scales {len(mean)} target values, but output "
                         f"{out!r} has shape {list(shape)}",
                         hint="was the run directory altered? export it as training wrote it")
    return {"mean": mean, "std": std}
