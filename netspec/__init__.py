"""netspec: write a network once as a YAML graph of layers and blocks; check its shapes,
parameters and MACs statically (without torch), compile it to a torch.fx GraphModule,
train it, draw it, export it to ONNX.

    import netspec
    spec   = netspec.load("specs/resnet18.yaml")   # parse + validate; raises netspec.SpecError
    report = netspec.check(spec)                   # static shapes/params/MACs, never imports torch
    model  = netspec.build(spec)                   # a torch.fx.GraphModule

Every function that reads a spec takes `variant=` (one of the spec's `variants:`) and `set=`
(a mapping {"depth": 34, "train.lr": 0.01}, or "NAME=VALUE" strings as `--set` takes them);
`set` wins over `variant`. An unknown variant or param raises OverrideError (a ValueError).
"""

from __future__ import annotations

from typing import Any

from netspec.errors import SpecError
from netspec.version import __version__

__all__ = ["SpecError", "load", "loads", "check", "build", "build_from_yaml", "draw", "train",
           "infer", "export", "__version__"]


def load(path, *, variant: str | None = None, set=None):
    """Parse and validate a spec file (a `Spec`); raises SpecError."""
    from netspec.graph.load import load as _load

    return _load(path, variant=variant, settings=set)


def loads(text: str, file: str = "<spec>", *, variant: str | None = None, set=None):
    """Parse and validate spec text; `file` names it in error locations."""
    from netspec.graph.load import loads as _loads

    return _loads(text, file, variant=variant, settings=set)


def check(spec, input_shapes=None, bindings=None, *, soft: bool = False,
          variant: str | None = None, set=None):
    """The static report (shapes, params, MACs, memory) of a spec; never imports torch.
    A spec of several networks gives a MultiReport (`.networks`: name -> Report). With
    `soft`, a shape error does not raise: the report holds the layers inferred before it,
    `report.failure` and `report.error` (every shape error in one SpecError)."""
    from netspec.report import check as _check

    return _check(_as_spec(spec, variant, set), input_shapes, bindings, soft=soft)


def build(spec, *, init: str | None = None, variant: str | None = None, set=None, **kw: Any):
    """A torch.fx.GraphModule computing the spec's network (with `networks:`, the one
    `network=NAME` names)."""
    from netspec.compiler.build import build as _build

    return _build(_as_spec(spec, variant, set), init=init, **kw)


def build_from_yaml(text_or_path, **kw: Any):
    """build() from YAML text or a path to a spec file."""
    return build(text_or_path, **kw)


def draw(spec, path, *, variant: str | None = None, set=None, network: str | None = None,
         **options: Any):
    """Draw the spec's network (with `networks:`, the one `network` names) to `path` (.svg,
    .png, .pdf or .dot)."""
    from netspec.drawing.render import draw as _draw

    return _draw(_as_spec(spec, variant, set).network(network), path, **options)


def train(spec=None, *, variant: str | None = None, set=None, **overrides: Any):
    """Train from the spec's `train:` section (overrides win); returns the run.
    With `resume=RUN_DIR` the spec may be left out."""
    from netspec.training.session import train as _train

    return _train(None if spec is None else _as_spec(spec, variant, set), **overrides)


def export(source, path=None, *, variant: str | None = None, set=None, **options: Any):
    """Export a spec or a run directory to a verified ONNX file."""
    from netspec.deploy.export import export as _export

    if variant is not None or set:
        source = _as_spec(source, variant, set)
    return _export(source, path, **options)


def infer(model_path, inputs, **options: Any):
    """Run an exported ONNX model on inputs with onnxruntime alone."""
    from netspec.deploy.infer import infer as _infer

    return _infer(model_path, inputs, **options)


def _as_spec(spec, variant: str | None = None, settings=None):
    from netspec.graph.load import as_spec

    return as_spec(spec, variant=variant, settings=settings)
