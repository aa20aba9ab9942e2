"""`networks:`: one spec file holding several networks (a GAN's generator and discriminator).

    networks:
      generator:                        # inline: the keys of a one-network spec
        input: [100]
        layers: [...]
      discriminator: dcgan_discriminator.yaml     # a spec file, relative to this one
      critic: {spec: critic.yaml, params: {width: $width}}   # a spec file, params passed in

The rules:

- an inline network takes `input`/`inputs`, `blocks`, `layers`, `outputs`, `init` and `params`;
  it also sees the file's top-level `blocks:` (and those of its `include:`) and `params:`
  (with the variant and `--set` values in effect); its own blocks and params win a name;
- a path names a spec file by the rule `include:` follows (relative to this file, inside its
  folder tree or netspec's built-in library, a regular file of at most 10 MiB): that file is
  one network with its own blocks, includes and params (its `name:` and `train:` are not
  read, and `--set` reaches its params only as the next form passes them);
- `{spec: PATH, params: {NAME: VALUE}}` is a path network whose params are given from this
  file: each NAME must be a param the network file declares, each VALUE suit it (as a
  `--set` of it would), and a `$` value reads this file's params in effect, so
  `params: {width: $width}` passes `--set width=...` on;
- a `--set NAME=...` of a param that no network reads (no inline network uses `$NAME`
  without declaring its own `NAME`, no path network's `params:` passes it on, `train:` does
  not use it) is refused (OverrideError: exit 2) instead of changing nothing;
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
from netspec.lang.expr import names_used, substitute
from netspec.lang.expr_syntax import REF_NAME, ExprError
from netspec.lang.files import read_text
from netspec.lang.includes import included_blocks, resolve_relative
from netspec.lang.located import LDict, LList, key_location, value_location
from netspec.lang.overrides import check_value, choose
from netspec.lang.schema import ID_PATTERN, Spec, TopLevel
from netspec.lang.settings import OverrideError, Setting, plain
from netspec.lang.yaml_loader import load_yaml

MAX_NETWORKS = 64
NETWORK_KEYS = ("input", "inputs", "blocks", "layers", "outputs", "init", "params")
TOP_KEYS = ("name", "include", "blocks", "params", "variants", "train", "description",
            "networks")
FILE_KEYS = ("spec", "params")         # a path network with params passed in
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
    _check_settings_read(root, text, file, choice)
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
    if isinstance(value, LDict) and "spec" in value:
        return _file_network_with_params(name, value, file, choice, errors, parse_network)
    if not isinstance(value, LDict):
        raise SpecError(f"network `{name}` is a mapping (`input:`, `layers:`, ...) or the path "
                        f"of a spec file, got {_describe(value)}", where, hint=EXAMPLE)
    for key in value:
        if key not in NETWORK_KEYS:
            close = did_you_mean(str(key), NETWORK_KEYS + ("spec",))
            errors.add(Diagnostic(f"network `{name}`: `{key}` is not a key of a network",
                                  key_location(value, key), hint=close or
                                  f"a network takes {', '.join(NETWORK_KEYS)}"))
    body = _with_params(value, choice.params)
    body, own = choose(body, file, None, (), errors)
    return parse_network(body, text, file, own, errors, shared)


def _describe(value: Any) -> str:
    if value is None:
        return "null"          # as the YAML wrote it, not Python's None
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


def _file_network_with_params(name: str, value: LDict, file: str, choice, errors: Collector,
                              parse_network: Callable):
    """`{spec: PATH, params: {...}}`: the network file at PATH, its params set from here."""
    for key in value:
        if key not in FILE_KEYS:
            close = did_you_mean(str(key), FILE_KEYS)
            errors.add(Diagnostic(f"network `{name}`: a network file's entry takes `spec:` "
                                  f"and `params:`, not `{key}`", key_location(value, key),
                                  hint=close or "an inline network has no `spec:`; a "
                                  "network file's other keys are written in that file"))
    item, passed = value["spec"], value.get("params")
    if not isinstance(item, str) or not item:
        raise SpecError(f"network `{name}`: `spec:` is the path of a spec file, got "
                        f"{_describe(item)}", value_location(value, "spec") or value.loc,
                        hint="e.g. `spec: dcgan_discriminator.yaml`")
    if passed is not None and not isinstance(passed, LDict):
        raise SpecError(f"network `{name}`: `params:` maps the network file's params to "
                        f"values, got {_describe(passed)}", value_location(value, "params"),
                        hint="e.g. `params: {width: $width}`")
    where = value_location(value, "spec") or value.loc
    return _file_network(item, where, file, errors, parse_network,
                         (name, passed or LDict(), choice.params))


def _passed_settings(name: str, passed: LDict, sub: LDict, display: str, outer: dict,
                     errors: Collector) -> tuple[Setting, ...]:
    """The params `passed` into network file `sub` as settings, each checked as a `--set`
    of it would be (a param the file declares, a value that suits it), mistakes located
    at the entry that passes them; a `$` value reads this file's params `outer`."""
    declared = sub.get("params") if isinstance(sub.get("params"), LDict) else LDict()
    out = []
    for key, raw in passed.items():
        at = value_location(passed, key) or key_location(passed, key)
        if key not in declared:
            errors.add(Diagnostic(f"network `{name}`: {display} has no param `{key}` "
                                  f"(params: {', '.join(declared) or 'none'})",
                                  key_location(passed, key), hint=did_you_mean(str(key),
                                  list(declared)) or "declare it under `params:` in that file"))
            continue
        try:
            value = plain(substitute(raw, outer)) if isinstance(raw, str) else plain(raw)
        except ExprError as err:
            errors.add(Diagnostic(f"network `{name}`: in `{raw}`: {err.message}", at,
                                  hint=err.hint or "a `$` value here reads this file's "
                                                   "`params:`"))
            continue
        own = declared[key]
        default, choices = (own.get("default"), own.get("choices")) \
            if isinstance(own, LDict) else (own, None)
        problem = check_value(str(key), plain(default), value,
                              plain(choices) if isinstance(choices, list) else None)
        if problem:
            errors.add(Diagnostic(f"network `{name}`: {problem} ({display} declares it)", at,
                                  hint="pass one of its choices" if choices else
                                  "pass a value of the param's type"))
            continue
        out.append(Setting((str(key),), value, f"{key}={value!r}"))
    return tuple(out)


def _check_settings_read(root: LDict, text: str, file: str, choice) -> None:
    """Refuse a `--set NAME=...` of a param that no network reads: an OverrideError (the
    caller's mistake) that says which network files keep their own params."""
    settings = [n for n in choice.settings if "." not in n]
    if not settings:
        return
    raw = root["networks"]
    read: set[str] = set()
    files: dict[str, str] = {}         # network name -> the path its file is named by
    for name, value in raw.items():
        if isinstance(value, str):
            files[str(name)] = value
        elif isinstance(value, LDict) and "spec" in value:
            files[str(name)] = str(value["spec"])
            read |= _names_read(value.get("params"))
        elif isinstance(value, LDict):
            own = value.get("params") if isinstance(value.get("params"), LDict) else {}
            read |= _names_read({k: v for k, v in value.items()
                                 if k not in ("blocks", "params")}) - set(own)
    unread = [n for n in settings if n not in read]
    if unread:      # `train:` is substituted already: its reads are in the text as written
        original = load_yaml(text, file)
        read |= _names_read(original.get("train") if isinstance(original, LDict) else None)
        unread = [n for n in unread if n not in read]
    if not unread:
        return
    name = unread[0]
    if files:
        first, path = next(iter(files.items()))
        hint = (f"a network file keeps its own params ({', '.join(files)}): pass it in, "
                f"e.g. `{first}: {{spec: {path}, params: {{{name}: ${name}}}}}`")
    else:
        hint = f"use it in a network (`${name}`), or leave out `--set {name}`"
    raise OverrideError(f"`--set {name}={choice.settings[name]!r}`: no network of the spec "
                        f"reads the param `{name}`", hint)


def _names_read(value: Any) -> set[str]:
    """The names the `$` values under `value` read (an expression that does not parse reads
    nothing here: its own check says why)."""
    found: set[str] = set()
    todo = [value]
    while todo:
        item = todo.pop()
        if isinstance(item, dict):
            todo.extend(item.values())
        elif isinstance(item, (list, LList)):
            todo.extend(item)
        elif isinstance(item, str) and item.startswith("$"):
            ref = REF_NAME.fullmatch(item)
            if ref:
                found.add(ref.group(1))
                continue
            try:
                found |= names_used(item)
            except ExprError:
                pass
    return found


def _file_network(item: str, loc, file: str, errors: Collector, parse_network: Callable,
                  passed: tuple | None = None):
    """A network given as the path of a spec file (read by the rules of `include:`);
    `passed` = (network name, its `params:`, this file's params) sets that file's params."""
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
    settings = _passed_settings(passed[0], passed[1], sub, item, passed[2], errors) \
        if passed else ()
    try:
        sub, own = choose(sub, display, None, settings, errors)
    except OverrideError as err:    # checked above already; kept located if one slips by
        raise SpecError(f"network `{passed[0] if passed else item}`: {err.message}", loc,
                        hint=err.hint) from None
    return parse_network(sub, sub_text, display, own, errors)
