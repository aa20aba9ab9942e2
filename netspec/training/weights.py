"""Weights from elsewhere: another run, a .safetensors file, or a PyTorch `.pth` state dict
converted once (`netspec convert`), renamed by prefix onto this network's layer names.

    train:
      init: {from: pretrained.safetensors, map: {features.: stem.}, strict: false}
      freeze: ["stem.*"]

With several networks (`networks:`) the names are the checkpoints' `NAME.<layer>...`, or
each network takes its own source in its own names: `init: {generator: runs/gan/3}` (a run
of several networks gives the network of that name).

`map` renames the source's keys: the longest prefix that matches wins (`{layer1.: stage1.}`
turns `layer1.0.conv1.weight` into `stage1.0.conv1.weight`). Without `strict`, the tensors
whose names and shapes agree are taken and the rest train from scratch (a replaced head);
with it, every tensor of the network must be given with its shape, and every one given used.
Nothing here unpickles: `.pth` files are read with `torch.load(weights_only=True)`.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch

from netspec.errors import InputError, NetspecError, SpecError, did_you_mean
from netspec.training.read_bounds import regular_file

MAX_WEIGHTS_BYTES = 4 * 2**30       # ViT-L/16's 1.2 GB fits; a stray disk image does not


def renamed(state: dict[str, torch.Tensor], mapping: dict[str, str]) -> dict[str, torch.Tensor]:
    """`state` with each key's longest prefix in `mapping` replaced."""
    prefixes = sorted(mapping, key=len, reverse=True)
    out = {}
    for key, value in state.items():
        old = next((p for p in prefixes if key.startswith(p)), None)
        out[key if old is None else mapping[old] + key[len(old):]] = value
    return out


def read_weights(source: str) -> dict[str, torch.Tensor]:
    """The tensors of a run directory's best checkpoint or of a .safetensors file."""
    path = Path(source)
    if path.is_dir():
        from netspec.training.rundir import load_run

        return load_run(path)[1]
    if path.suffix != ".safetensors":
        raise InputError(f"{source}: weights come from a run directory or a .safetensors file",
                         hint="convert a PyTorch state dict first: "
                              f"`netspec convert {source} -o {path.with_suffix('.safetensors')}`")
    regular_file(path, "a weights file", MAX_WEIGHTS_BYTES)
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as err:
        raise InputError(f"{source}: not a readable .safetensors file ({err})",
                         hint="was it written completely? convert or copy it again") from None


def load_into(model, cfg) -> str:
    """Copy `train.init`'s weights into `model`; the line the progress prints. With several
    networks `model` is their nn.ModuleDict: `init: {from: ...}` fills it by the checkpoint
    names `NAME.<layer>...`, `init: {NAME: ...}` each network from its own source."""
    from torch import nn

    several = isinstance(model, nn.ModuleDict)
    if isinstance(cfg.init, dict):
        if not several:
            typo = next(filter(None, (did_you_mean(k, ("from", "map", "strict"))
                                      for k in cfg.init)), None)
            raise SpecError(f"`init` by network ({', '.join(cfg.init)}) is for a spec of "
                            f"several networks (`networks:`)", cfg.where("init"),
                            hint=(f"{typo} " if typo else "") + "write `init: {from: RUN or "
                                 "FILE.safetensors, map: {old.: new.}}`")
        lines = []
        for name, init in cfg.init.items():
            where = cfg.where("init", name)
            lines.append(_load(model[name], _network_weights(name, init, where), init, where,
                               f"init {name}"))
        return "\n".join(lines)
    where = cfg.where("init")
    hint = f"; or give each network its own source: `init: {{{next(iter(model))}: " \
           f"{cfg.init.from_}}}`" if several else ""
    return _load(model, renamed(_read(cfg.init.from_, where), dict(cfg.init.map)), cfg.init,
                 where, "init", hint)


def _read(source: str, where) -> dict:
    try:
        return read_weights(source)
    except NetspecError as err:
        raise SpecError(f"`init`: {err.first.message}", where, hint=err.first.hint) from None


def _network_weights(name: str, init, where) -> dict:
    """The weights `init` gives network `name`: a run of several networks gives its network
    of that name (the `NAME.` prefix taken off); any other source all its tensors. Then
    `map` renames them onto the network's own layer names."""
    state = _read(init.from_, where)
    prefix = f"{name}."
    own = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    return renamed(own or state, dict(init.map))


def _load(model, state: dict, init, where, what: str, hint: str = "") -> str:
    own = model.state_dict()
    taken = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    if init.strict:
        _strict(own, state, taken, init.from_, where)
    if not taken:
        sample = ", ".join(list(state)[:3])
        raise SpecError(f"`init`: no weights of {init.from_} fit this network (no layer "
                        f"names and shapes in common; its names start {sample})", where,
                        hint="rename them with `map: {old.prefix.: new.prefix.}`" + hint)
    model.load_state_dict(taken, strict=False)
    skipped = sorted({k.rsplit(".", 1)[0] for k in own if k not in taken})
    return (f"{what}: {len(taken)} of {len(own)} tensors from {init.from_}" +
            (f"; trained from scratch: {', '.join(skipped[:8])}"
             f"{' ...' if len(skipped) > 8 else ''}" if skipped else ""))


def _strict(own: dict, state: dict, taken: dict, source: str, where) -> None:
    missing = [k for k in own if k not in state]
    unused = [k for k in state if k not in own]
    shapes = [f"{k} {list(state[k].shape)} (the network's: {list(own[k].shape)})"
              for k in own if k in state and k not in taken]
    if missing or unused or shapes:
        parts = [f"{len(missing)} missing ({', '.join(missing[:3])})" if missing else "",
                 f"{len(unused)} not in the network ({', '.join(unused[:3])})" if unused else "",
                 f"{len(shapes)} of another shape: {'; '.join(shapes[:2])}" if shapes else ""]
        raise SpecError(f"`init` is strict, and the weights of {source} do not match the "
                        f"network: {', '.join(p for p in parts if p)}", where,
                        hint="rename with `map:`, or set `strict: false` to train what "
                             "does not match from scratch")


def convert(source: str | os.PathLike, output: str | os.PathLike,
            mapping: dict[str, str] | None = None) -> tuple[int, int]:
    """Write the state dict in the PyTorch file `source` as safetensors at `output`;
    (tensors, parameters) written. A checkpoint holding its state dict under `state_dict`
    or `model` (as training scripts save them) is unwrapped."""
    from safetensors.torch import save

    from netspec.safe_write import atomic_write, check_output

    path = Path(source)
    regular_file(path, "a PyTorch weights file", MAX_WEIGHTS_BYTES)
    check_output(output, "the converted weights", protect=(path,))
    try:
        with warnings.catch_warnings():     # torch's note on pickle protocols says nothing here
            warnings.simplefilter("ignore")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:    # torch raises UnpicklingError, RuntimeError, EOFError, ...
        first = (str(err).splitlines() or [""])[0][:200]
        raise InputError(f"{source}: not a PyTorch state dict that loads without running code "
                         f"({type(err).__name__}{': ' + first if first else ''})",
                         hint="save it with torch.save(model.state_dict(), path); pickled "
                              "models are refused: they run code when read") from None
    for key in ("state_dict", "model"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj:
        raise InputError(f"{source}: holds {type(obj).__name__}, not a state dict of tensors")
    bad = [str(k) for k, v in obj.items() if not (isinstance(k, str) and torch.is_tensor(v))]
    if bad:
        raise InputError(f"{source}: {len(bad)} entries are not named tensors ({', '.join(bad[:3])})",
                         hint="give the model's state_dict(), not a training checkpoint")
    state = renamed(obj, mapping or {})
    # safetensors wants contiguous tensors that share no memory
    state = {k: v.detach().contiguous().clone() for k, v in state.items()}
    atomic_write(output, save(state))
    return len(state), sum(v.numel() for v in state.values())

