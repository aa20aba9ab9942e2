"""What `netspec export` exports, resolved to a `Source`: a spec (fresh init, seed 0), or a run
directory read through the run reader (`netspec.training.rundir`: its self-contained spec,
the checksum-verified weights of its best checkpoint, its data.json); and the model built
from it.

    src = resolve_source("runs/lenet5/latest")     # or a spec file, YAML text, a Spec
    model = build_model(src)                       # eval mode, the run's weights loaded
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import InputError
from netspec.graph.load import as_spec, load
from netspec.lang.schema import Spec
from netspec.training.rundir import LATEST, read_run

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Source:
    """What is exported: a spec, with the weights and data.json of its run when from one."""

    spec: Spec
    state: dict | None = None
    data: dict = field(default_factory=dict)
    description: str = ""


def resolve_source(source: Any) -> Source:
    """A Spec, YAML text, a spec file, or a run directory (`runs/x/3`, `runs/x/latest`,
    `runs/x`) -> what to export. A run must be whole: spec, a verified checkpoint (best,
    else last) and data.json (its normalisation statistics go into the file)."""
    if isinstance(source, Spec):
        return Source(source, description=f"spec {source.path or source.name} (fresh init, seed 0)")
    if isinstance(source, str) and "\n" in source:
        return resolve_source(as_spec(source))
    path = Path(source)
    if path.is_dir() or path.name == LATEST:
        run = read_run(path, checkpoint=None)
        return Source(run.spec, run.weights, run.data,
                      description=f"run {run.path} ({run.checkpoint}.safetensors)")
    if path.is_file():
        return resolve_source(load(path))
    raise InputError(f"{source}: no such spec file or run directory")


def network_source(src: Source, network: str | None) -> Source:
    """The one network `network` names of a Source whose spec holds several (`networks:`):
    its spec, its weights (the run's `NAME.` keys, prefix dropped) and what data.json says of
    it (`networks.NAME`: input shape, output kind, statistics); a one-network Source itself.
    A spec of several with no name, or a name it lacks, raises NetworkChoiceError."""
    net = src.spec.network(network)
    if src.spec.networks is None:
        return src
    state = None if src.state is None else \
        {k[len(network) + 1:]: v for k, v in src.state.items() if k.startswith(f"{network}.")}
    data = {k: v for k, v in src.data.items() if k not in ("networks", "labels", "task")}
    data.update((src.data.get("networks") or {}).get(network, {}))
    return Source(net, state, data, f"{src.description}, network {network}")


def build_model(src: Source) -> torch.nn.Module:
    """The built model in eval mode, with the run's weights when there are some."""
    from netspec.compiler.build import build

    model = build(src.spec, seed=0)
    if src.state is not None:
        own = set(model.state_dict())
        missing, unexpected = sorted(own - set(src.state)), sorted(set(src.state) - own)
        if missing or unexpected:
            raise InputError(f"the checkpoint of {src.description} does not fit its spec.yaml: "
                             + "; ".join(x for x in (_few("missing", missing),
                                                     _few("unexpected", unexpected)) if x))
        try:
            model.load_state_dict(src.state)
        except RuntimeError as err:        # a shape that differs
            raise InputError(f"the checkpoint of {src.description} does not fit its spec.yaml: "
                             f"{str(err).splitlines()[-1].strip()}") from None
    return model.eval()


def _few(what: str, keys: list, n: int = 4) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return f"{what} {', '.join(keys[:n])}{more}"
