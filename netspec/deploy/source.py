"""What `netspec export` exports: a spec (fresh init, seed 0) or a run directory's best
checkpoint and data.json, resolved to a `Source`, and the model built from it.

    src = resolve_source("runs/lenet5/latest")     # or a spec file, YAML text, a Spec
    model = build_model(src)                       # eval mode, the run's weights loaded
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from netspec.errors import SpecError
from netspec.deploy.metadata import read_data_json
from netspec.lang import Spec, as_spec, load

CHECKPOINTS = ("best.safetensors", "last.safetensors")


@dataclass(frozen=True)
class Source:
    """What is exported: a spec, with a checkpoint and its run's data.json when from a run."""

    spec: Spec
    state: dict | None = None
    data: dict = field(default_factory=dict)
    description: str = ""


# ---- what to export -------------------------------------------------------------------------

def resolve_source(source: Any) -> Source:
    """A Spec, YAML text, a spec file, or a run directory (`runs/x/3`, `runs/x/latest`,
    `runs/x`) -> what to export."""
    if isinstance(source, Spec):
        return Source(source, description=f"spec {source.path or source.name} (fresh init, seed 0)")
    if isinstance(source, str) and "\n" in source:
        return resolve_source(as_spec(source))
    path = Path(source)
    if path.is_dir() or (path.is_file() and path.name == "latest"):
        return load_run(find_run(path))
    if path.is_file():
        return resolve_source(load(path))
    raise SpecError(f"{source}: no such spec file or run directory")


def find_run(path: Path, hops: int = 0) -> Path:
    """The run directory `path` names: itself, or what a `latest` link or text file points at."""
    if hops > 4:
        raise SpecError(f"{path}: `latest` points in a circle")
    if path.is_symlink():                           # name the run itself, not `latest`
        return find_run(path.parent / os.readlink(path), hops + 1)
    if path.is_file():
        target = path.read_text(encoding="utf-8").strip()
        return find_run(path.parent / target, hops + 1)
    if (path / "spec.yaml").is_file():
        return path
    if (path / "latest").exists():
        return find_run(path / "latest", hops + 1)
    raise SpecError(f"{path}: not a run directory (no spec.yaml) and no `latest` run in it",
                    hint="give a spec file, or a run directory such as runs/lenet5/latest")


def load_run(run: Path) -> Source:
    """The spec, best checkpoint and data.json of a run directory."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    spec = load(run / "spec.yaml")
    ckpt = next((run / c for c in CHECKPOINTS if (run / c).is_file()), None)
    if ckpt is None:
        raise SpecError(f"{run}: no checkpoint ({' or '.join(CHECKPOINTS)})",
                        hint="the run may have stopped before its first epoch ended")
    try:
        state = load_file(str(ckpt))
    except (SafetensorError, OSError, ValueError) as err:
        raise SpecError(f"{ckpt}: not a readable safetensors checkpoint ({err})") from None
    data = read_data_json(run / "data.json")
    return Source(spec, state, data, description=f"run {run} ({ckpt.name})")


# ---- the model ---------------------------------------------------------------------------------

def build_model(src: Source) -> torch.nn.Module:
    """The built model in eval mode, with the run's weights when there are some."""
    from netspec.compiler.build import build

    model = build(src.spec, seed=0)
    if src.state is not None:
        state = _strip_wrappers(src.state)
        missing, unexpected = _key_mismatch(model, state)
        if missing or unexpected:
            raise SpecError(f"the checkpoint of {src.description} does not fit its spec.yaml: "
                            + "; ".join(x for x in (_few("missing", missing),
                                                    _few("unexpected", unexpected)) if x))
        try:
            model.load_state_dict(state)
        except RuntimeError as err:
            raise SpecError(f"the checkpoint of {src.description} does not fit its spec.yaml: "
                            f"{str(err).splitlines()[-1].strip()}") from None
    return model.eval()


def _strip_wrappers(state: dict) -> dict:
    """Keys saved from DDP (`module.`) or torch.compile (`_orig_mod.`) wrappers; a resume
    checkpoint's training state (`@optimizer...`, `@rng...`) is not the model's."""
    state = {k: v for k, v in state.items() if not k.startswith("@")}
    for prefix in ("module.", "_orig_mod."):
        if state and all(k.startswith(prefix) for k in state):
            state = {k[len(prefix):]: v for k, v in state.items()}
    return state


def _key_mismatch(model: torch.nn.Module, state: dict) -> tuple[list, list]:
    own = set(model.state_dict())
    return sorted(own - set(state)), sorted(set(state) - own)


def _few(what: str, keys: list, n: int = 4) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - n} more" if len(keys) > n else ""
    return f"{what} {', '.join(keys[:n])}{more}"
