"""How the networks of a training task connect, checked statically: the torch-free half of a
task that trains several networks (its training half is its entry in training/tasks/, which
calls the same check). `netspec check` reads `train.task` from the spec and runs the task's
rule on the shape-annotated graphs, so a generator whose images the discriminator cannot
take is a located error before anything trains.

    @wiring("gan", networks=("generator", "discriminator"))
    def gan(graphs, spec): ...            # raise a located SpecError when they do not fit

    check_wiring(spec, {"generator": graph_g, "discriminator": graph_d})
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from netspec.errors import Location, SpecError
from netspec.graph.ir import Graph
from netspec.kinds import fmt_shape
from netspec.lang.located import LDict, key_location, value_location


@dataclass(frozen=True)
class Wiring:
    """A task's networks (by name, in the order people read them) and its rule on them."""

    task: str
    networks: tuple[str, ...]
    rule: Callable[[dict[str, Graph], Any], None]


WIRINGS: dict[str, Wiring] = {}


def wiring(task: str, networks: tuple[str, ...]) -> Callable[[Callable], Callable]:
    """Register the rule of task `task`, which trains `networks`; a duplicate is our bug."""

    def add(rule: Callable) -> Callable:
        if task in WIRINGS:
            raise RuntimeError(f"the wiring of task {task!r} registered twice")
        WIRINGS[task] = Wiring(task, networks, rule)
        return rule

    return add


def task_of(spec) -> tuple[str | None, Location | None]:
    """The task `train.task` names as written (`gan`, `{gan: {...}}`) and where, or None."""
    train = spec.train
    if not isinstance(train, dict) or "task" not in train:
        return None, None
    raw = train["task"]
    loc = value_location(train, "task") if isinstance(train, LDict) else None
    if isinstance(raw, str):
        return raw, loc
    if isinstance(raw, dict) and len(raw) == 1:
        return str(next(iter(raw))), loc
    return None, loc


def check_wiring(spec, graphs: dict[str, Graph]) -> None:
    """The rule of the spec's task on its networks' graphs (nothing for a task without one);
    a task's network that the spec lacks is a located SpecError."""
    task, loc = task_of(spec)
    found = WIRINGS.get(task) if task is not None else None
    if found is None:
        return
    names = ", ".join(found.networks)
    if spec.networks is None:
        raise SpecError(f"the task `{task}` trains {len(found.networks)} networks ({names}); "
                        f"this spec holds one", loc,
                        hint=f"give them under `networks:`, e.g. `networks: {{"
                             f"{found.networks[0]}: {{input: ..., layers: [...]}}, "
                             f"{found.networks[1]}: its_file.yaml}}`")
    missing = [n for n in found.networks if n not in spec.networks]
    if missing:
        where = key_location(spec.raw, "networks") if isinstance(spec.raw, LDict) else loc
        raise SpecError(f"the task `{task}` trains the networks {names}; this spec has no "
                        f"{' and no '.join(f'`{m}`' for m in missing)}", where,
                        hint=f"name the networks under `networks:` {names} "
                             f"(it has {', '.join(spec.networks)})")
    found.rule({n: graphs[n] for n in found.networks}, spec)


def input_location(net) -> Location | None:
    """Where a network spec writes its input (or inputs)."""
    raw = net.raw
    if not isinstance(raw, LDict):
        return None
    return value_location(raw, "input") or value_location(raw, "inputs") or raw.loc


def only_output(graph: Graph, net, role: str):
    """The one output node of `graph` (network `role`); several are a located error."""
    if len(graph.outputs) != 1:
        raise SpecError(f"the {role} has {len(graph.outputs)} outputs "
                        f"({', '.join(graph.outputs)}); it needs one",
                        key_location(net.raw, "outputs") if isinstance(net.raw, LDict) else None,
                        hint="keep one name under `outputs:`")
    return graph.nodes[next(iter(graph.outputs.values()))]


def only_input(graph: Graph, net, role: str):
    if len(graph.inputs) != 1:
        raise SpecError(f"the {role} takes {len(graph.inputs)} inputs "
                        f"({', '.join(graph.inputs)}); it needs one", input_location(net),
                        hint="give it one `input:`")
    return next(iter(graph.inputs.values()))


def image_into(source: Graph, source_net, source_role: str, target: Graph, target_net,
               target_role: str) -> None:
    """`source`'s one output is what `target`'s one input takes, else a located error."""
    out = only_output(source, source_net, source_role)
    into = only_input(target, target_net, target_role)
    if tuple(out.shape) != tuple(into.shape):
        raise SpecError(f"the {source_role} makes {fmt_shape(out.shape)} per sample, but the "
                        f"{target_role} takes {fmt_shape(into.shape)}", input_location(target_net),
                        hint=f"make the {target_role}'s input {fmt_shape(out.shape)}, or change "
                             f"the {source_role}'s last layers to make {fmt_shape(into.shape)}",
                        notes=(f"the {source_role}'s output is made at {out.loc}",)
                        if out.loc else ())


def judges(graph: Graph, net, role: str) -> None:
    """A discriminator's one output is one score per sample, `[1]`, or a map of patch scores,
    `[1, N, N]` (PatchGAN)."""
    out = only_output(graph, net, role)
    shape = tuple(out.shape)
    if shape == (1,) or (len(shape) == 3 and shape[0] == 1):
        return
    raise SpecError(f"the {role} outputs {fmt_shape(shape)} per sample; it scores each sample "
                    f"with one value [1] (or one per patch, [1, N, N])", out.loc,
                    hint="end it with `linear: 1` after a flatten, or a conv to 1 channel "
                         "(`conv: {out: 1, kernel: 4}`)")


@wiring("gan", networks=("generator", "discriminator"))
def _gan(graphs: dict[str, Graph], spec) -> None:
    """The generator's noise is one vector, `[z]` (or `[z, 1, 1]`); its image is what the
    discriminator takes; the discriminator scores it."""
    g, d = spec.networks["generator"], spec.networks["discriminator"]
    only_input(graphs["generator"], g, "generator")
    image_into(graphs["generator"], g, "generator", graphs["discriminator"], d, "discriminator")
    judges(graphs["discriminator"], d, "discriminator")


@wiring("cyclegan", networks=("g_ab", "g_ba", "d_a", "d_b"))
def _cyclegan(graphs: dict[str, Graph], spec) -> None:
    """g_ab's images are what d_b judges and g_ba takes back (and the other way round); each
    discriminator scores an image, or each of its patches (PatchGAN)."""
    nets = spec.networks
    for g, back, d in (("g_ab", "g_ba", "d_b"), ("g_ba", "g_ab", "d_a")):
        image_into(graphs[g], nets[g], g, graphs[d], nets[d], d)
        image_into(graphs[g], nets[g], g, graphs[back], nets[back], back)
    for d in ("d_a", "d_b"):
        judges(graphs[d], nets[d], d)
