"""ONNX export of a spec (fresh init, seed 0) or of a run's best checkpoint, verified on
onnxruntime (DESIGN §7).

    result = export("runs/lenet5/latest", "exported/lenet5.onnx")
    result.path, result.diffs            # {1: 2.4e-07, 4: 3.6e-07}: max |onnxruntime - torch|

What the file holds: one self-contained .onnx (weights inside), a dynamic batch dim (traced
at batch 2), the spec's input and output names, and in `metadata_props` what inference needs
to preprocess as training did (`netspec.deploy.metadata.ModelInfo`: input shapes, labels,
scale, normalisation statistics, what each output is, target scaling) plus the spec's name,
YAML and netspec version. A run is read through the run reader, which verifies its
checkpoint's checksum and requires its data.json (netspec.deploy.source).

Symbolic dims (`seq`) are exported dynamic where torch's exporter keeps them so (lstm and gru
do); where it specialises one (`lstm_cell` loops over time in Python, torch unrolls nn.RNN) the
file holds the traced size, which the export reports.

Verification (netspec.deploy.verify): `onnx.checker`, then onnxruntime against torch on
random inputs; a file that fails is kept as `<path>.unverified` and VerificationError raised.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from netspec.deploy import require
from netspec.deploy.metadata import ModelInfo, fixed_dims, model_info
from netspec.deploy.source import build_model, network_source, resolve_source
from netspec.deploy.verify import (TOLERANCE, dim_sizes, example_inputs, limit_text,
                                   verify_file, vocabularies)
from netspec.errors import InputError
from netspec.lang.schema import Spec
from netspec.safe_write import atomic_path, check_output, path_component
from netspec.version import __version__

DEFAULT_DIR = Path("exported")
MIN_TORCH_OPSET = 18              # the oldest opset torch's dynamo exporter writes
TRACE_BATCH = 2                   # >= 2, or torch specialises the batch dim to 1


@dataclass(frozen=True)
class ExportResult:
    path: Path
    info: ModelInfo
    diffs: dict[int, float]               # verified batch size -> max abs difference
    opset: int
    weights_path: Path | None = None
    notes: tuple[str, ...] = ()
    limit: float = TOLERANCE              # the max abs difference allowed
    output_scale: float = 0.0             # the largest |output| torch gave while verifying

    def summary(self) -> str:
        b = "batch" if self.info.batch == "dynamic" else self.info.batch
        ins = ", ".join(f"{n} {_fmt([b, *i.shape])}" + (" token ids" if i.dtype == "long" else "")
                        for n, i in self.info.inputs.items())
        outs = ", ".join(f"{n} {_fmt([b, *o.shape])} {o.kind}"
                         for n, o in self.info.outputs.items())
        size = self.path.stat().st_size
        size = f"{size / 2**20:.1f} MiB" if size >= 2**20 else f"{size / 2**10:.0f} KiB"
        lines = [f"wrote {self.path} ({size}, opset {self.opset}) from "
                 f"{self.info.source}", f"  inputs: {ins}; outputs: {outs}"]
        if self.diffs:
            diffs = ", ".join(f"{d:.1e} at batch {b}" for b, d in self.diffs.items())
            lines.append(f"  verified: onnx.checker ok; onnxruntime vs torch max abs diff "
                         f"{diffs} (tolerance {limit_text(self.limit, self.output_scale)})")
        else:
            lines.append("  not verified (--no-verify)")
        lines += [f"  note: {n}" for n in self.notes]
        if self.weights_path:
            lines.append(f"  weights: {self.weights_path}")
        return "\n".join(lines)


# ---- export ---------------------------------------------------------------------------------

def export(source: Any, path: str | os.PathLike | None = None, *, opset: int | None = None,
           batch: str | int = "dynamic", verify: bool = True, weights: bool = False,
           bindings: dict[str, int] | None = None, tolerance: float = TOLERANCE,
           log: Callable[[str], None] | None = None,
           network: str | None = None) -> ExportResult:
    """Export `source` (a spec: path, YAML text or Spec, fresh init with seed 0; or a run
    directory: its best checkpoint) to one self-contained ONNX file, `exported/<name>.onnx`
    by default, and verify it on onnxruntime. `batch`: "dynamic" or a fixed size; `bindings`
    sizes symbolic dims (`{"seq": 50}`); `weights` also writes `<path stem>.safetensors`.

    Raises InputError for a bad source or option, SpecError for a mistake in a spec,
    SetupError without onnx or onnxruntime, VerificationError when the file fails
    verification. A spec (or run) of several networks exports the one `network` names, to
    `exported/<name>_<network>.onnx` by default (NetworkChoiceError without one)."""
    onnx = require("onnx")

    fixed_batch = _parse_batch(batch)
    src = resolve_source(source)
    default = src.spec.name + (f"_{network}" if src.spec.networks is not None else "")
    src = network_source(src, network)
    spec = src.spec
    if path is None:
        path = DEFAULT_DIR / f"{path_component(default, 'the spec name')}.onnx"
    inputs = _input_files(source)
    path = check_output(path, "the ONNX file", protect=inputs)
    if weights:
        check_output(path.with_suffix(".safetensors"), "the weights file", protect=inputs)
    sizes = dim_sizes(src, bindings)
    vocab = vocabularies(spec)
    model = build_model(src)
    if log:
        params = sum(p.numel() for p in model.parameters())
        log(f"exporting {spec.name} ({params:,} params) from {src.description} ...")
    args = example_inputs(spec, fixed_batch or TRACE_BATCH, sizes, 0, vocab)
    # torch writes opset 18 and newer itself; older ones are converted from what it writes
    torch_opset = opset if opset is None or opset >= MIN_TORCH_OPSET else None
    proto = _at_opset(_to_onnx(model, spec, args, fixed_batch, torch_opset), opset)
    fixed = fixed_dims(proto, spec, fixed_batch)
    info = model_info(src, fixed_batch, {d: sizes[d] for d in fixed if d in sizes})
    onnx.helper.set_model_props(proto, info.to_props())
    proto.doc_string = f"{spec.name}: exported by netspec {__version__} from {src.description}"
    notes = _notes(info, fixed, fixed_batch)
    diffs, limit, scale = {}, tolerance, 0.0
    with atomic_path(path) as tmp:
        _save(proto, tmp)
        if verify:
            diffs, limit, scale = verify_file(tmp, model, spec, sizes, fixed, fixed_batch,
                                              vocab, tolerance, path)
    weights_path = _write_weights(model, info, path) if weights else None
    return ExportResult(path, info, diffs, _opset(proto), weights_path, notes, limit, scale)


def _parse_batch(batch: str | int) -> int | None:
    if batch in ("dynamic", None):
        return None
    try:
        n = int(batch)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise InputError(f"batch must be `dynamic` or a positive size, got {batch!r}")
    return n


def _to_onnx(model, spec: Spec, args, fixed_batch: int | None, opset: int | None):
    """The ONNX ModelProto of `model` traced on `args`: dynamo exporter, weights inside.
    Symbolic dims are asked to stay dynamic; where torch refuses, they are traced fixed."""
    try:
        return _dynamo_export(model, spec, args, fixed_batch, opset, symbolic_dynamic=True)
    except InputError:
        if not any(isinstance(d, str) for i in spec.inputs.values() for d in i.shape):
            raise
    return _dynamo_export(model, spec, args, fixed_batch, opset, symbolic_dynamic=False)


def _dynamo_export(model, spec: Spec, args, fixed_batch: int | None, opset: int | None,
                   symbolic_dynamic: bool):
    from torch.export import Dim

    symbolic = {d for i in spec.inputs.values() for d in i.shape if isinstance(d, str)}
    dims = {d: Dim(d, min=1) for d in symbolic} if symbolic_dynamic else {}
    batch_dim = Dim("batch" if "batch" not in symbolic else "batch_size", min=1)
    dynamic = {name: {**({} if fixed_batch else {0: batch_dim}),
                      **{k + 1: dims[d] for k, d in enumerate(inp.shape) if d in dims}}
               for name, inp in spec.inputs.items()}
    with _quiet():
        try:
            program = torch.onnx.export(model, args, None, input_names=list(spec.inputs),
                                        output_names=list(_outputs(spec)),
                                        opset_version=opset, dynamic_shapes=dynamic,
                                        external_data=False, verbose=False)
        except Exception as err:      # the exporter's failures have many types
            raise InputError(f"torch could not export {spec.name} to ONNX: "
                            f"{_first_line(err)}",
                            hint="try --batch 1 or another --opset; if that fails too, "
                                 "please report it with the spec") from None
    return program.model_proto


def _opset(proto) -> int:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), 0)


def _at_opset(proto, opset: int | None):
    """`proto` at the requested opset: torch's exporter writes 18 or newer, so an older one
    goes through onnx's version converter, which reaches some opsets and not others."""
    if opset is None or _opset(proto) == opset:
        return proto
    version_converter = require("onnx.version_converter")
    try:
        return version_converter.convert_version(proto, opset)
    except Exception as err:          # the converter's C++ assertions come as RuntimeError
        why = _first_line(err).split("failed: ")[-1]
        raise InputError(f"cannot export at opset {opset}: torch writes opset "
                         f"{_opset(proto)}, and onnx's converter cannot go down to {opset} "
                         f"({why})", hint=f"use --opset {MIN_TORCH_OPSET} or newer (torch "
                                          f"writes those itself); below that, only what the "
                                          f"converter reaches") from None


@contextlib.contextmanager
def _quiet():
    """Keep torch's exporter from printing warnings and log lines meant for its developers
    (`torchvision is not installed`, deprecations) into a user's terminal."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        logger.setLevel(level)


def _outputs(spec: Spec) -> dict[str, str]:
    from netspec.report import check

    return check(spec).graph.outputs


def _notes(info: ModelInfo, fixed: set[str], fixed_batch: int | None) -> tuple[str, ...]:
    notes = []
    for dim, size in info.fixed_dims.items():
        notes.append(f"`{dim}` is fixed at {size} in the ONNX file: torch's exporter could "
                     f"not keep it dynamic (lstm_cell and rnn step through time one by one); "
                     f"export with --input {dim}=N for another size")
    if "batch" in fixed and fixed_batch is None:
        notes.append("torch fixed the batch dim while tracing: the file takes batch "
                     f"{TRACE_BATCH} only")
    return tuple(notes)


# ---- writing and verifying ----------------------------------------------------------------

def _save(proto, path: Path) -> None:
    onnx = require("onnx")
    try:
        onnx.save_model(proto, str(path))
    except ValueError as err:        # protobuf's 2 GiB limit
        raise InputError(f"cannot write {path} as one file: {_first_line(err)}",
                         hint="models over 2 GiB need ONNX external data, which netspec "
                              "export does not write") from None


def _write_weights(model, info: ModelInfo, path: Path) -> Path:
    """The state_dict as safetensors next to the ONNX file, with the spec in its metadata."""
    from safetensors.torch import save_file

    out = path.with_suffix(".safetensors")
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    meta = {"name": info.name, "netspec_version": __version__, "source": info.source or ""}
    if info.spec:
        meta["spec"] = info.spec
    with atomic_path(out) as tmp:
        save_file(state, str(tmp), metadata=meta)
    return out


def _input_files(source: Any) -> list[Path]:
    """The files this export reads (the spec, or the run's files): never its output."""
    if not isinstance(source, (str, os.PathLike)) or (isinstance(source, str)
                                                       and "\n" in source):
        return []
    path = Path(source)
    if path.is_dir():
        return [p for p in path.iterdir() if p.is_file()]
    return [path]


def _first_line(err: Exception) -> str:
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()]
    return lines[0] if lines else type(err).__name__


def _fmt(shape) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"
