"""Loading a spec: YAML text -> located tree -> validated, frozen :class:`Spec`.

Every independent mistake is collected and reported together (one SpecError)."""

from __future__ import annotations

import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

from netspec.errors import Collector, Diagnostic, Location, SpecError, did_you_mean
from netspec.lang import validation
from netspec.lang.schema import BROKEN, META_KEYS, BlockDef, Entry, InputSpec, Parallel, Spec, TopLevel
from netspec.lang.yaml_loader import LDict, LList, key_location, load_yaml

MAX_INCLUDE_DEPTH = 32


def load(path: str | os.PathLike) -> Spec:
    """Parse and validate the spec file at `path`; raises SpecError for any mistake."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"no such spec file: {path}", hint="check the path") from None
    except UnicodeDecodeError as e:
        raise _not_utf8(path, e) from None
    except OSError as e:
        raise SpecError(f"cannot read {path}: {e.strerror or e}") from None
    return loads(text, str(path))


def _not_utf8(path: Path, err: UnicodeDecodeError) -> SpecError:
    """Where a file stops being UTF-8 text, located like any other mistake."""
    before = err.object[:err.start].decode("utf-8", "replace")
    line = before.count("\n") + 1
    loc = Location(str(path), line, len(before) - before.rfind("\n"))
    return SpecError(f"the file is not UTF-8 text: byte 0x{err.object[err.start]:02x} here",
                     loc, hint="a spec is YAML text saved as UTF-8; is this the right file?")


def loads(text: str, file: str = "<spec>") -> Spec:
    """Parse and validate spec text; `file` is the name used in error locations."""
    root = load_yaml(text, file)
    if not isinstance(root, LDict):
        raise SpecError("a spec is a mapping with `input:` and `layers:` at the top",
                        Location(file, 1, 1), hint="start with `input: [1, 28, 28]`, then "
                        "`layers:` and a list of layers")
    errors = Collector()
    top = _top_level(root, errors)
    blocks = _user_blocks(root, top, file, errors)
    known = _known_kinds(blocks)
    parsed_blocks = {}
    for name, (raw, loc) in blocks.items():
        with errors.guard():
            parsed_blocks[name] = parse_block(name, raw, loc, known, errors)
    inputs = _inputs(root, top, file, errors)
    # `layers:` of the wrong type is reported by the top level already
    wrong_type = "layers" in root and root["layers"] is not None and top and top.layers is None
    layers = _entries(root["layers"], known, errors, root, "layers") \
        if top and "layers" in root and not wrong_type else ()
    misspelt = any(did_you_mean(k, ["layers"]) for k in root if k not in TopLevel.model_fields)
    if top is not None and "layers" not in root and not misspelt:
        errors.add(Diagnostic("the spec has no `layers:`", root.loc,
                              hint="add `layers:` with a list of layers, e.g. `- linear: 10`"))
    name = (top.name if top else None) or Path(file).stem
    if errors.diagnostics:
        raw_inputs = root.get("inputs")
        all_inputs = not isinstance(raw_inputs, dict) or len(inputs) == len(raw_inputs)
        if top is not None and inputs and layers and all_inputs:
            _expansion_errors(name, inputs, parsed_blocks, layers, top, errors)
        errors.raise_if_any()
    return Spec(name=name, inputs=inputs, blocks=parsed_blocks, layers=layers,
                outputs=top.outputs, init=top.init, train=root.get("train"),
                path=file, source=text, raw=root)


def _expansion_errors(name, inputs, blocks, layers, top, errors: Collector) -> None:
    """Add the mistakes expansion finds in what did parse (shapes, `$` references, ids)."""
    from netspec.graph.expand import expand

    try:
        expand(Spec(name=name, inputs=inputs, blocks=blocks, layers=layers, init=top.init))
    except SpecError as err:
        errors.add(err)


def _top_level(root: LDict, errors: Collector) -> TopLevel | None:
    """The top-level keys; keys that fail are reported and dropped, so the rest is checked."""
    data = dict(root)
    for _ in range(len(root) + 1):
        try:
            return TopLevel.model_validate(data)
        except Exception as e:  # pydantic.ValidationError
            diags = validation.diagnostics(e, root, TopLevel)
            errors.diagnostics.extend(d for d in diags if d not in errors.diagnostics)
            bad = {err["loc"][0] for err in e.errors() if err["loc"]}
            if not bad & set(data):
                return None
            for key in bad:
                data.pop(key, None)
    return None


def _user_blocks(root: LDict, top: TopLevel | None, file: str,
                 errors: Collector) -> dict[str, tuple[Any, Location | None]]:
    """Blocks of this file and of its includes (recursively): name -> (raw, location)."""
    found: dict[str, tuple[Any, Location | None]] = {}
    with errors.guard():
        _collect_includes(root, file, found, [os.path.abspath(file)], errors)
    own = root.get("blocks") if isinstance(root.get("blocks"), LDict) else {}
    for name in own:
        found[name] = (own[name], key_location(own, name))
    return found


def _collect_includes(root: LDict, file: str, found: dict, stack: list[str],
                      errors: Collector) -> None:
    includes = root.get("include") or []
    items = includes if isinstance(includes, list) else [includes]
    for i, item in enumerate(items):
        loc = (includes.item_locs[i] if isinstance(includes, LList)
               else root.value_locs.get("include"))
        if not isinstance(item, str):
            errors.add(Diagnostic("`include` lists file paths", loc))
            continue
        target = os.path.abspath(os.path.join(os.path.dirname(file), item))
        if target in stack or len(stack) > MAX_INCLUDE_DEPTH:
            chain = " -> ".join(os.path.basename(s) for s in stack + [target])
            errors.add(Diagnostic(f"include loop: {chain}", loc,
                                  hint="a file may not include itself, directly or not"))
            continue
        try:
            text = Path(target).read_text(encoding="utf-8")
        except OSError:
            errors.add(Diagnostic(f"cannot read included file {item!r}", loc,
                                  hint="include paths are relative to the including file"))
            continue
        with errors.guard():
            sub = load_yaml(text, os.path.relpath(target))
            if not isinstance(sub, LDict):
                raise SpecError(f"included file {item!r} is not a mapping with `blocks:`", loc)
            _collect_includes(sub, target, found, stack + [target], errors)
            blocks = sub.get("blocks")
            if isinstance(blocks, LDict):
                for name in blocks:
                    found[name] = (blocks[name], key_location(blocks, name))


def _known_kinds(blocks: dict) -> set[str]:
    from netspec.blocks import builtin_blocks
    from netspec.kinds import kinds

    return set(kinds()) | set(blocks) | set(builtin_blocks()) | {"parallel"}


def parse_block(name: str, raw: Any, loc: Location | None, known: set[str],
           errors: Collector) -> BlockDef:
    from netspec.kinds import kinds

    if not isinstance(name, str) or not name.isidentifier():
        raise SpecError(f"a block's name is a word like `conv_bn`, got {name!r}", loc)
    if name in kinds():
        raise SpecError(f"block `{name}` has the name of a layer kind", loc,
                        hint="pick another name; layer kinds cannot be redefined")
    if not isinstance(raw, LDict):
        raise SpecError(f"block `{name}` must be a mapping with `params:` and `layers:`", loc)
    unknown = [k for k in raw if k not in ("params", "layers", "doc")]
    for key in unknown:
        errors.add(Diagnostic(f"unknown key `{key}` in block `{name}`", key_location(raw, key),
                              hint=did_you_mean(key, ["params", "layers", "doc"])
                              or "a block has `params:`, `layers:` and an optional `doc:`"))
    params = raw.get("params") or {}
    if not isinstance(params, dict):
        raise SpecError(f"`params` of block `{name}` maps names to defaults (null = required)",
                        raw.value_locs.get("params", loc))
    for p in params:
        if not isinstance(p, str) or not p.isidentifier() or p == "in":
            errors.add(Diagnostic(f"block parameter {p!r} must be a name (and not `in`)",
                                  key_location(params, p) if isinstance(params, LDict) else loc))
    if "layers" not in raw:
        raise SpecError(f"block `{name}` has no `layers:`", loc)
    layers = _entries(raw["layers"], known, errors, raw, "layers")
    return BlockDef(name=name, params=dict(params), layers=layers, loc=loc,
                    doc=str(raw.get("doc") or ""))


def _inputs(root: LDict, top: TopLevel | None, file: str,
            errors: Collector) -> dict[str, InputSpec]:
    if "input" in root and "inputs" in root:
        errors.add(Diagnostic("give either `input:` or `inputs:`, not both",
                              key_location(root, "inputs")))
        return {}
    if "inputs" in root:
        raw = root["inputs"]
        if not isinstance(raw, LDict) or not raw:
            errors.add(Diagnostic("`inputs:` maps input names to shapes", root.value_locs["inputs"]))
            return {}
        out = {}
        for name in raw:
            with errors.guard():
                if name == "input" or not str(name).isidentifier():
                    raise SpecError(f"input name {name!r} must be a name other than `input`",
                                    key_location(raw, name))
                out[name] = _input_spec(raw[name], raw.value_locs[name], raw, name)
        return out
    if "input" not in root:
        errors.add(Diagnostic("the spec has no `input:`", Location(file, 1, 1),
                              hint="give the shape of one sample without the batch dim, channels "
                                   "first: `input: [3, 224, 224]`, or `[16]` for features"))
        return {}
    with errors.guard():
        return {"input": _input_spec(root["input"], root.value_locs["input"], root, "input")}
    return {}


def _input_spec(raw: Any, loc: Location, parent: LDict, key: str) -> InputSpec:
    what = f"input `{key}`: " if key != "input" else "input: "
    if isinstance(raw, dict):
        return validation.validate(InputSpec, raw, fallback=loc, what=what)
    located = LDict(shape=raw)      # the short form `input: [3, 32, 32]` is the shape alone
    located.loc, located.key_locs, located.value_locs = loc, {"shape": loc}, {"shape": loc}
    try:
        return validation.validate(InputSpec, located, fallback=loc, what=what)
    except SpecError as err:
        hint = (f"write the shape in brackets: `{key}: [{raw}]`"
                if isinstance(raw, str) and "," in raw else None)
        raise SpecError([replace(d, message=re.sub(r"`shape(\[\d+\])?`: ", "", d.message, count=1),
                                 hint=d.hint or hint) for d in err.diagnostics]) from None


def _entries(raw: Any, known: set[str], errors: Collector, parent: Any,
             key: Any) -> tuple[Entry, ...]:
    """Parse a list of layer entries; each broken entry is reported, the rest still parsed."""
    loc = parent.value_locs.get(key) if isinstance(parent, LDict) else None
    if isinstance(parent, LList) and isinstance(key, int) and key < len(parent.item_locs):
        loc = parent.item_locs[key]         # a parallel's branch
    if not isinstance(raw, LList) or not raw:
        errors.add(Diagnostic("`layers` must be a non-empty list of layer entries", loc,
                              hint="write each layer on its own line: `- conv: {out: 6, "
                                   "kernel: 5}`"))
        return ()
    out = []
    for i, item in enumerate(raw):
        try:
            out.append(parse_entry(item, i, raw.item_locs[i], known, errors))
        except SpecError as err:
            # keep a placeholder, so positions (names) of the entries below stay the same and
            # expansion can still check the entries that do not depend on this one
            errors.add(err)
            out.append(_broken_entry(item, i, raw.item_locs[i]))
    return tuple(out)


def _broken_entry(raw: Any, index: int, loc: Location) -> Entry:
    ident = raw.get("id") if isinstance(raw, LDict) else None
    try:
        return Entry(kind=BROKEN, index=index, loc=loc, id=ident, raw=raw)
    except ValueError:
        return Entry(kind=BROKEN, index=index, loc=loc, raw=raw)


def parse_entry(raw: Any, index: int, loc: Location, known: set[str],
                errors: Collector) -> Entry:
    """One entry: `relu`, `{linear: 10}`, or `{conv: {...}, id: .., from: ..}`."""
    if isinstance(raw, str):
        kind, args, kind_loc, meta = raw, None, loc, {}
    elif isinstance(raw, LDict):
        kind = _kind_key(raw, known, loc)
        args, kind_loc = raw[kind], key_location(raw, kind)
        meta = {k: raw[k] for k in META_KEYS if k in raw}
    else:
        raise SpecError(f"a layer entry is a kind (`- relu`) or a mapping (`- linear: 10`), "
                        f"got {raw!r}", loc)
    if kind not in known:
        raise SpecError(f"unknown layer kind `{kind}`", kind_loc,
                        hint=did_you_mean(kind, known) or "`netspec kinds` lists them all")
    if kind == "parallel":
        args = _parallel(raw[kind] if isinstance(raw, LDict) else None, kind_loc, known, errors)
    else:
        _check_static_args(kind, args, raw, kind_loc)
    data = {"kind": kind, "args": args, **meta, "index": index, "loc": loc,
            "kind_loc": kind_loc, "raw": raw}
    return validation.validate(Entry, raw if isinstance(raw, LDict) else {}, fallback=loc,
                               what="", data=data)


def _check_static_args(kind: str, args: Any, raw: Any, kind_loc: Location) -> None:
    """Arguments that hold no `$` reference are checked now, so their mistakes are reported
    with the others even when expansion cannot reach them."""
    from netspec.kinds import kinds

    layer = kinds().get(kind)
    if layer is None or _has_reference(args):
        return
    container = raw.get(kind) if isinstance(raw, LDict) else None
    root = container if isinstance(container, LDict) else {}
    # a short-form value (`dropout: high`) is located at the value, not at the kind
    where = raw.value_locs.get(kind, kind_loc) if container is not None and not root else kind_loc
    try:
        layer.parse_args(args)
    except ValueError as err:
        if hasattr(err, "errors"):
            raise SpecError(validation.diagnostics(err, root, layer.args, f"{layer.name}: ",
                                                   where, usage=layer.usage)) from None
        raise SpecError(str(err), kind_loc) from None


def _has_reference(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("$")
    if isinstance(value, dict):
        return any(_has_reference(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_reference(v) for v in value)
    return False


def _kind_key(raw: LDict, known: set[str], loc: Location) -> str:
    candidates = [k for k in raw if k not in META_KEYS]
    if not candidates:
        raise SpecError("this entry names no layer kind", loc,
                        hint="an entry is `- kind: arguments`, e.g. `- conv: {out: 64, kernel: 3}`")
    if len(candidates) == 1:
        return candidates[0]
    kinds = [k for k in candidates if k in known]
    strays = [k for k in candidates if k not in known]
    if len(kinds) == 1:
        key = strays[0]
        raise SpecError(f"unknown key `{key}` in a `{kinds[0]}` entry", key_location(raw, key),
                        hint=did_you_mean(key, META_KEYS) or
                        f"an entry's keys are its kind and {', '.join(META_KEYS)}; arguments go "
                        f"inside: `{kinds[0]}: {{{key}: ...}}`")
    if len(kinds) > 1:
        raise SpecError(f"one entry names two kinds, `{kinds[0]}` and `{kinds[1]}`",
                        key_location(raw, kinds[1]), hint="start a new entry with `- ` for each")
    raise SpecError(f"unknown layer kind `{strays[0]}`", key_location(raw, strays[0]),
                    hint=did_you_mean(strays[0], known) or "`netspec kinds` lists them all")


def _parallel(raw: Any, loc: Location, known: set[str], errors: Collector) -> Parallel:
    if not isinstance(raw, LDict) or "branches" not in raw:
        raise SpecError("`parallel` needs `branches:`, a list of layer lists", loc,
                        hint="parallel: {merge: concat, branches: [[conv...], [conv...]]}")
    extra = [k for k in raw if k not in ("merge", "dim", "branches")]
    if extra:
        raise SpecError(f"unknown key `{extra[0]}` in `parallel`", key_location(raw, extra[0]),
                        hint=did_you_mean(extra[0], ("merge", "dim", "branches")))
    branches_raw = raw["branches"]
    if not isinstance(branches_raw, LList) or len(branches_raw) < 2:
        raise SpecError("`branches` lists two branches or more, each a list of layers",
                        raw.value_locs["branches"])
    branches = []
    for k, branch in enumerate(branches_raw):
        if isinstance(branch, LList):
            branches.append(_entries(branch, known, errors, branches_raw, k))
        else:   # a single entry is a one-layer branch
            where = branches_raw.item_locs[k]
            try:
                branches.append((parse_entry(branch, 0, where, known, errors),))
            except SpecError as err:    # reported; the branch stays, unknown, in its place
                errors.add(err)
                branches.append((_broken_entry(branch, 0, where),))
    data = {"merge": raw.get("merge", "concat"), "dim": raw.get("dim", 1),
            "branches": tuple(branches)}
    return validation.validate(Parallel, raw, fallback=loc, data=data, what="parallel: ")
