"""A loaded spec as one self-contained YAML text, the blocks of its includes copied in and the
params a variant or `--set` chose written out: what a run directory keeps, so that resume, eval
and export build the same network after an included file is edited or moved (DESIGN §9), and
without being told the variant again.

    text = inline(spec)          # spec.source itself when the spec includes nothing
    loads(text)                  # the same blocks, layers and network as `spec`

A spec with includes is written out again from its parsed tree: `include:` is dropped and
`blocks:` holds every block the spec sees (included ones first, its own winning a name, as
loading does). Comments of that file do not survive; a first-line comment says where the
blocks came from. Strings the YAML 1.2 core schema would read as something else (`"1e3"`,
`"0o7"`, `"null"`) are quoted, so the text reads back to the very same values.
"""

from __future__ import annotations

from typing import Any

import yaml

from netspec.lang.schema import BlockDef, Spec
from netspec.lang.yaml_loader import CoreResolver


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper that also quotes what the 1.2 core schema resolves (it knows only
    YAML 1.1: `1e3` and `0o7` would otherwise come out plain and read back as numbers)."""

    def ignore_aliases(self, data: Any) -> bool:       # plain data: no anchors, no `*refs`
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)     # lists indented under their key, as people write


for _first, _resolvers in CoreResolver.yaml_implicit_resolvers.items():
    for _tag, _regexp in _resolvers:
        _Dumper.add_implicit_resolver(_tag, _regexp, [_first])
del _first, _resolvers, _tag, _regexp


def inline(spec: Spec) -> str:
    """The YAML text of `spec` with no `include:` and no choice left open: the source as
    written when it includes nothing and was loaded without a variant or `--set`, else the
    parsed tree written out, the included blocks under `blocks:`, and, when a variant or
    `--set` chose the params, `params:` holding the values in effect, `train:` as set, and
    no `variants:` (the file is the one network chosen)."""
    root = spec.raw
    includes = root.get("include") if isinstance(root, dict) else None
    chosen = spec.variant is not None or bool(spec.settings)
    if spec.networks is not None:
        return _inline_networks(spec, includes, chosen)
    if not includes and not chosen:
        return spec.source or ""
    tree: dict[Any, Any] = {}
    for key, value in root.items():
        if key in ("include", "blocks"):
            tree.setdefault("blocks", {n: _block(b) for n, b in spec.blocks.items()})
        elif key == "params" and chosen:
            tree[key] = _params_in_effect(spec, value)
        elif key != "variants" or not chosen:
            tree[key] = _plain(value)
    notes = []
    if includes:
        names = [includes] if isinstance(includes, str) else [str(i) for i in includes]
        notes.append(f"the blocks of its includes ({', '.join(names)}) are copied in")
    if chosen:
        what = [f"variant {spec.variant}"] if spec.variant is not None else []
        what += [f"--set {name}={_flow(value)}" for name, value in spec.settings.items()]
        notes.append(f"the params in effect ({', '.join(what)}) are written out")
    head = f"# {spec.name}: self-contained; {'; '.join(notes)}\n"
    return head + yaml.dump(tree, Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                            allow_unicode=True, width=100)


def _inline_networks(spec: Spec, includes: Any, chosen: bool) -> str:
    """A spec of several networks, self-contained: as written when nothing is included,
    chosen or named by path; else every network written out inline, each with all the
    blocks it sees and its params in effect (a network file's own included)."""
    nets = spec.raw.get("networks") or {}
    by_path = {n: v if isinstance(v, str) else v["spec"] for n, v in nets.items()
               if isinstance(v, str) or (isinstance(v, dict) and "spec" in v)}
    if not includes and not chosen and not by_path and not any(
            isinstance(v, dict) and v.get("include") for v in nets.values()):
        return spec.source or ""
    tree: dict[Any, Any] = {}
    for key, value in spec.raw.items():
        if key == "networks":
            tree[key] = {n: _network(net) for n, net in spec.networks.items()}
        elif key == "params" and chosen:
            tree[key] = _params_in_effect(spec, value)
        elif key not in ("include", "blocks") and (key != "variants" or not chosen):
            tree[key] = _plain(value)
    what = [f"network {n} from {path}" for n, path in by_path.items()]
    what += [f"includes {includes}"] if includes else []
    what += ["the params in effect"] if chosen else []
    head = f"# {spec.name}: self-contained; written out inline: {', '.join(what)}\n"
    return head + yaml.dump(tree, Dumper=_Dumper, sort_keys=False, default_flow_style=None,
                            allow_unicode=True, width=100)


def _network(net: Spec) -> dict[str, Any]:
    """One network as an inline entry of `networks:`."""
    out: dict[str, Any] = {}
    raw = net.raw
    for key in ("input", "inputs"):
        if key in raw:
            out[key] = _plain(raw[key])
    if net.blocks:
        out["blocks"] = {n: _block(b) for n, b in net.blocks.items()}
    if net.params:
        out["params"] = {k: _plain(v) for k, v in net.params.items()}
    out["layers"] = [_plain(entry.raw) for entry in net.layers]
    if net.outputs is not None:
        out["outputs"] = list(net.outputs)
    if net.init != "auto":
        out["init"] = net.init
    return out


def _params_in_effect(spec: Spec, declared: Any) -> dict[str, Any]:
    """`params:` with the chosen values; a param declared with `choices:` keeps them."""
    out = {}
    for name, value in spec.params.items():
        written = declared.get(name) if isinstance(declared, dict) else None
        if isinstance(written, dict) and "choices" in written:
            out[name] = {"default": value, "choices": _plain(written["choices"])}
        else:
            out[name] = value
    return out


def _flow(value: Any) -> str:
    """A value as one line of YAML flow text, as `--set` takes it."""
    return yaml.dump(value, Dumper=_Dumper, default_flow_style=True, width=10_000).strip() \
        .removesuffix("...").strip()


def _block(block: BlockDef) -> dict[str, Any]:
    """A parsed block as it was written: its doc, its params and its entries' YAML."""
    out: dict[str, Any] = {"doc": block.doc} if block.doc else {}
    out["params"] = _plain(block.written_params())
    if block.inputs:
        out["inputs"] = list(block.inputs)
    out["layers"] = [_plain(entry.raw) for entry in block.layers]
    return out


def _plain(value: Any) -> Any:
    """Located YAML values (LDict, LList) as plain dicts and lists."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
