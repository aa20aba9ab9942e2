"""Checkpoints: safetensors (no pickle) with their JSON state, written atomically, verified when
read.

A run keeps three checkpoint files, each written in one step (temp file, fsync, os.replace),
so a crash leaves the old file or the new one, never a mix:

    best.safetensors        the best epoch's weights: a plain state_dict (what export loads)
    last.safetensors        the newest weights, also a plain state_dict
    last.state.safetensors  everything a resume needs, in one file: the weights, optimizer
                            tensors (`@optimizer.<i>.<name>`) and generator states (`@rng.*`)

Each file's header metadata holds `netspec` (the JSON state: epoch, step, optimizer
hyper-parameters, schedule, early stopping, history), `format` and `sha256`, which `read`
checks: a truncated or altered file is a clear error, not a crash in the middle of a resume.
What the digest covers depends on the format (old checkpoints stay readable):

    format 2    sha256(len(state) as 8 bytes little-endian, state, tensor data)
    format 1    sha256(tensor data): the state is only checked to be a JSON object

`state` is the UTF-8 of the `netspec` string as stored; its length first, so no bytes can
move between the state and the data unnoticed. An edit of the state that stays valid JSON
(`"epoch": 3` for `1`) is a checksum mismatch, like a flipped bit in a tensor. A readable copy of the state sits beside best and last (`best.json`, `last.json`).
The resume file is written first; a crash before `last.safetensors` follows leaves that one a
checkpoint behind, which costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from netspec.errors import InputError, Location, VerifyError
from netspec.safe_write import atomic_write

if TYPE_CHECKING:       # torch is imported where tensors are made: reading run metadata is light
    import torch

STATE_PREFIX = "@"
FORMAT = 2                  # the file layout `write` makes: its digest covers the state too
READABLE = ("1", "2")       # formats `read` verifies (module docstring)


def atomic_json(path: str | os.PathLike, value: Any, durable: bool = True) -> None:
    atomic_write(path, json.dumps(value, indent=2, allow_nan=True) + "\n", durable)


def write(path: str | os.PathLike, tensors: dict[str, torch.Tensor], state: dict,
          json_copy: bool = True) -> None:
    """Save `tensors` with `state` (JSON-able) as one verified safetensors file, and (with
    `json_copy`) `state` as `<path without .safetensors>.json` beside it."""
    from safetensors.torch import save

    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    plain = save(tensors)
    text = json.dumps(state, allow_nan=True)
    meta = {"netspec": text, "sha256": _digest(str(FORMAT), text, _payload(plain)),
            "format": str(FORMAT)}
    atomic_write(path, save(tensors, metadata=meta))
    if json_copy:
        atomic_json(Path(path).with_suffix(".json"), state, durable=False)


def read(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict]:
    """(tensors, state) of a checkpoint written by `write`, its checksum verified: a missing or
    foreign file raises an InputError naming it, a truncated or altered one a VerifyError."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    path = Path(path)
    where = Location(str(path), 1, 1)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):     # a FIFO blocks, /dev/zero never ends
            raise InputError(f"checkpoint {path.name} is not a regular file (a FIFO, a device "
                             "or a folder)", where, hint="the run directory was altered; "
                             "train the run again")
        raw = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"checkpoint {path.name} is missing", where,
                        hint="the run saved no checkpoint yet (it stopped in its first epoch?)"
                        "; start a new run instead of resuming") from None
    except OSError as e:
        raise InputError(f"cannot read checkpoint: {e}", where) from None
    damaged = "hint: the file was truncated or altered (a crash during a copy?)"
    try:
        header = _header(raw)
        meta = header.get("__metadata__") or {}
        tensors = load(raw)
    except (SafetensorError, ValueError, KeyError, json.JSONDecodeError) as e:
        raise VerifyError(f"checkpoint {path.name} is damaged: {e}", where,
                        hint=damaged.removeprefix("hint: ")) from None
    if "sha256" not in meta or "netspec" not in meta:
        raise InputError(f"{path.name} is not a netspec checkpoint (no state in its header)",
                        where, hint="resume from a run directory netspec wrote")
    version = meta.get("format", "1")
    if version not in READABLE:
        raise InputError(f"checkpoint {path.name} has format {version!r}; this netspec reads "
                         f"formats {', '.join(READABLE)}", where,
                         hint="read it with the netspec version that wrote it, or a newer one")
    try:    # a state that is not JSON is named as such, before the checksum says "damaged"
        state = json.loads(meta["netspec"])
    except (TypeError, ValueError) as e:
        raise VerifyError(f"checkpoint {path.name} is damaged: its state in the header is not "
                          f"JSON ({e})", where, hint=damaged.removeprefix("hint: ")) from None
    if not isinstance(state, dict):
        raise VerifyError(f"checkpoint {path.name} is damaged: its state in the header is not "
                          f"a JSON object", where, hint=damaged.removeprefix("hint: "))
    if _digest(version, meta["netspec"], _payload(raw)) != meta["sha256"]:
        covers = "" if version == "1" else " (it covers the tensors and the run state)"
        raise VerifyError(f"checkpoint {path.name} is damaged: its data does not match the "
                          f"checksum in its header{covers}", where,
                          hint=damaged.removeprefix("hint: "))
    return tensors, state


def _header(raw: bytes) -> dict:
    if len(raw) < 8:
        raise ValueError(f"the file has {len(raw)} bytes, too few for a safetensors header")
    n = int.from_bytes(raw[:8], "little")
    if n > len(raw) - 8:
        raise ValueError("the header is cut off")
    return json.loads(raw[8:8 + n])


def _digest(version: str, state, payload) -> str:
    """The hex sha256 a checkpoint of format `version` stores (module docstring)."""
    h = hashlib.sha256()
    if version != "1":
        text = state.encode("utf-8", "surrogatepass") if isinstance(state, str) else b""
        h.update(len(text).to_bytes(8, "little"))
        h.update(text)
    h.update(payload)
    return h.hexdigest()


def _payload(raw: bytes) -> memoryview:
    n = int.from_bytes(raw[:8], "little")
    return memoryview(raw)[8 + n:]


# ---- what goes in: model, optimizer, generators --------------------------------------------

def model_tensors(tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The model's state_dict part of a checkpoint's tensors."""
    return {k: v for k, v in tensors.items() if not k.startswith(STATE_PREFIX)}


def optimizer_tensors(optimizer: torch.optim.Optimizer, network: str = "") -> tuple[dict, dict]:
    """The optimizer's state_dict split into tensors and JSON (hyper-parameters, scalars);
    `network` ("NAME.") names the network it optimises when a run trains several."""
    import torch

    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in sd["state"].items():
        for name, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{STATE_PREFIX}optimizer.{network}{index}.{name}"] = value
            else:
                scalars.setdefault(str(index), {})[name] = value
    return tensors, {"param_groups": sd["param_groups"], "scalars": scalars}


def load_optimizer(optimizer: torch.optim.Optimizer, tensors: dict, state: dict,
                   network: str = "") -> None:
    per: dict[int, dict] = {}
    prefix = f"{STATE_PREFIX}optimizer.{network}"
    for key, value in tensors.items():
        if key.startswith(prefix):
            index, name = key[len(prefix):].split(".", 1)
            if not index.isdigit():
                continue            # another network's (`@optimizer.NAME.`)
            per.setdefault(int(index), {})[name] = value
    for index, values in state["scalars"].items():
        per.setdefault(int(index), {}).update(values)
    optimizer.load_state_dict({"state": per, "param_groups": state["param_groups"]})


def rng_tensors(generators: dict[str, torch.Generator]) -> dict[str, torch.Tensor]:
    """Global torch (and CUDA) generator states, plus the named ones (augmentation)."""
    import torch

    out = {f"{STATE_PREFIX}rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"{STATE_PREFIX}rng.cuda.{i}"] = s
    for name, g in generators.items():
        out[f"{STATE_PREFIX}rng.{name}"] = g.get_state()
    return out


def load_rng(tensors: dict, generators: dict[str, torch.Generator]) -> None:
    import torch

    torch.set_rng_state(tensors[f"{STATE_PREFIX}rng.torch"])
    cuda = sorted(k for k in tensors if k.startswith(f"{STATE_PREFIX}rng.cuda."))
    if cuda and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
    for name, g in generators.items():
        key = f"{STATE_PREFIX}rng.{name}"
        if key in tensors:
            g.set_state(tensors[key])
