"""`networks:`: one spec file holding several networks (a GAN's generator and discriminator).

    networks:
      generator:                        # inline: the keys of a one-network spec
        input: [100]
        layers: [...]
      discriminator: dcgan_discriminator.yaml     # a spec file, relative to this one

The rules:

- an inline network takes `input`/`inputs`, `blocks`, `layers`, `outputs`, `init` and `params`;
  it also sees the file's top-level `blocks:` (and those of its `include:`) and `params:`
  (with the variant and `--set` values in effect); its own blocks and params win a name;
- a path names a spec file by the rule `include:` follows (relative to this file, inside its
  folder tree or netspec's built-in library, a regular file of at most 10 MiB): that file is
  one network with its own blocks, includes and params (its `name:` and `train:` are not
  read, and `--set` does not reach it);
- the top level keeps `name`, `include`, `blocks`, `params`, `variants`, `train` and
  `description`; `input`/`layers`/`outputs` belong to a network;
- network names are ids (letters, digits, `_`, no `.`): each is its networks's name in
  reports, the prefix of its weights in a run's checkpoints (`generator.0.weight`) and
  what `--network NAME` picks; at most MAX_NETWORKS of them.

The Spec returned has `networks` (name -> Spec) and no inputs or layers of its own;
`spec.network(name)` picks one.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from netspec.errors import Collector, Diagnostic, SpecError, did_you_mean
from netspec.lang import validation
from netspec.lang.files import read_text
from netspec.lang.includes import included_blocks, resolve_relative
from netspec.lang.located import LDict, key_location, value_location
from netspec.lang.overrides import choose
from netspec.lang.schema import ID_PATTERN, Spec, TopLevel
from netspec.lang.yaml_loader import load_yaml

MAX_NETWORKS = 64
NETWORK_KEYS = ("input", "inputs", "blocks", "layers", "outputs", "init", "params")
TOP_KEYS = ("name", "include", "blocks", "params", "variants", "train", "description",
            "networks")
EXAMPLE = "networks: {generator: {input: [100], layers: [...]}, discriminator: d.yaml}"


def parse_networks(root: LDict, text: str, file: str, choice, errors: Collector,
                   parse_network: Callable) -> Spec | None:
    """The spec of several networks whose located tree is `root` (params chosen: `choice`),
    or None when `errors` holds mistakes; `parse_network(root, text, file, choice, errors,
    shared)` parses one network (lang.load's, passed in: this module stays below it)."""
    _check_top(root, errors)
    shared = included_blocks(root, file, errors)
    own = root.get("blocks") if isinstance(root.get("blocks"), LDict) else {}
    shared.update({name: (own[name], key_location(own, name)) for name in own})
    raw = root["networks"]
    networks: dict[str, Spec] = {}
    if not isinstance(raw, LDict) or not raw:
        errors.add(Diagnostic("`networks:` maps each network's name to a network (a mapping "
                              "with `input:` and `layers:`) or to a spec file",
                              value_location(root, "networks") or root.loc, hint=EXAMPLE))
    elif len(raw) > MAX_NETWORKS:
        errors.add(Diagnostic(f"`networks:` names {len(raw)} networks; at most {MAX_NETWORKS}",
                              value_location(root, "networks"),
                              hint="a spec trains a few networks together"))
    else:
        for name in raw:
            with errors.guard():
                parsed = _network(name, raw, text, file, choice, errors, shared, parse_network)
                if parsed is not None and parsed.spec is not None:
                    networks[name] = parsed.spec.model_copy(update={"name": name})
    if errors.diagnostics:
        return None
    top_name = root.get("name") if isinstance(root.get("name"), str) else None
    spec = Spec(name=top_name or os.path.splitext(os.path.basename(file))[0], inputs={},
                layers=(), networks=networks, train=root.get("train"), path=file,
                params=choice.params, variants=choice.variants, variant=choice.variant,
                settings=choice.settings, source=text, raw=root)
    return spec


def _check_top(root: LDict, errors: Collector) -> None:
    """The top level of a spec of several networks: its own keys only, each valid."""
    for key in root:
        if key in NETWORK_KEYS and key not in TOP_KEYS:
            errors.add(Diagnostic(f"`{key}:` belongs to one network: with `networks:`, each "
                                  f"network gives its own", key_location(root, key),
                                  hint=f"move it under the network that takes it: {EXAMPLE}"))
        elif key not in TOP_KEYS:
            close = did_you_mean(str(key), TOP_KEYS)
            errors.add(Diagnostic(f"unknown top-level key `{key}` in a spec of several "
                                  f"networks", key_location(root, key),
                                  hint=close or f"the top level takes {', '.join(TOP_KEYS)}"))
    top = {k: root[k] for k in ("name", "description") if k in root}
    try:
        TopLevel.model_validate(top)
    except Exception as e:      # pydantic.ValidationError, located in the tree
        errors.diagnostics.extend(validation.diagnostics(e, root, TopLevel))


def _network(name: Any, raw: LDict, text: str, file: str, choice, errors: Collector,
             shared: dict, parse_network: Callable):
    """One entry of `networks:`, parsed (lang.load.Parsed), or None when it is not one."""
    loc = key_location(raw, name)
    if not isinstance(name, str) or "." in name or name == "input" \
            or not ID_PATTERN.match(name) or name.isdigit():
        raise SpecError(f"network name {name!r} must be an id: letters, digits, `_` and `-`, "
                        f"no `.`", loc, hint="e.g. `generator`, `d_a`")
    value = raw[name]
    where = value_location(raw, name) or loc
    if isinstance(value, str):
        return _file_network(value, where, file, errors, parse_network)
    if not isinstance(value, LDict):
        raise SpecError(f"network `{name}` is a mapping (`input:`, `layers:`, ...) or the path "
                        f"of a spec file, got {_describe(value)}", where, hint=EXAMPLE)
    for key in value:
        if key not in NETWORK_KEYS:
            close = did_you_mean(str(key), NETWORK_KEYS)
            errors.add(Diagnostic(f"network `{name}`: `{key}` is not a key of a network",
                                  key_location(value, key), hint=close or
                                  f"a network takes {', '.join(NETWORK_KEYS)}"))
    body = _with_params(value, choice.params)
    body, own = choose(body, file, None, (), errors)
    return parse_network(body, text, file, own, errors, shared)


def _describe(value: Any) -> str:
    return "a list" if isinstance(value, list) else repr(value)


def _with_params(net: LDict, shared: dict) -> LDict:
    """`net` with `params:` holding the file's params in effect, then the network's own."""
    if not shared and "params" not in net:
        return net
    out = LDict(net)
    out.loc, out.key_locs, out.value_locs = net.loc, dict(net.key_locs), dict(net.value_locs)
    own = net.get("params") if isinstance(net.get("params"), LDict) else None
    params = LDict({**shared, **(own or {})})
    params.loc = own.loc if own is not None else net.loc
    params.key_locs = {k: net.loc for k in shared} | (dict(own.key_locs) if own else {})
    params.value_locs = {k: net.loc for k in shared} | (dict(own.value_locs) if own else {})
    out["params"] = params
    out.key_locs.setdefault("params", net.loc)
    out.value_locs.setdefault("params", net.loc)
    return out


def _file_network(item: str, loc, file: str, errors: Collector, parse_network: Callable):
    """A network given as the path of a spec file (read by the rules of `include:`)."""
    path, _ = resolve_relative(item, loc, file)
    display = os.path.relpath(path)
    sub_text = read_text(display, loc, "network file", (f"named at {loc}",) if loc else ())
    sub = load_yaml(sub_text, display)
    if not isinstance(sub, LDict):
        raise SpecError(f"network file {item!r} is not a spec (a mapping with `input:` and "
                        f"`layers:`)", loc)
    if "networks" in sub:
        raise SpecError(f"network file {item!r} holds `networks:` itself; a network file is "
                        f"one network", loc, hint="name its networks in this file instead")
    sub, own = choose(sub, display, None, (), errors)
    return parse_network(sub, sub_text, display, own, errors)
