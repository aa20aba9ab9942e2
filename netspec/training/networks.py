"""Before training a spec of several networks (`networks:`): the task it names, the wiring
the task needs (graph/wiring.py, as `netspec check` runs it), the data, and the networks
built, each with its own seed, in one nn.ModuleDict (checkpoint keys `NAME.<layer>...`),
started from weights trained elsewhere and partly frozen as `train:` says.

Layers are named as the checkpoints name them, network first: `freeze: [generator.0,
"discriminator.conv*"]`, `freeze: [discriminator]` for a whole network. `init:` takes the
same names (`init: RUN` warm-starts every network from a run of the same spec), or one
source per network, in that network's own names:

    init:
      generator: runs/dcgan/3                       # that run's generator
      discriminator: {from: classifier.safetensors, map: {fc.: head.}}

Each mistake is a located SpecError while nothing has run yet: no `train.task`, a task that
trains one network, `optimizers:`, `freeze` or `init` naming a network the spec lacks.
Under torchrun every rank builds the same networks from the same seeds (DDP checks it).
"""

from __future__ import annotations

import difflib
import fnmatch

from netspec.errors import SpecError, did_you_mean
from netspec.training.tasks import TASKS

GLOB = "*?["


def prepare_networks(spec, cfg, ctx, fold: int | None = None, progress=None):
    """(task, cfg completed by the task, data, nn.ModuleDict of the built networks, what each
    network outputs for data.json: {NAME: {"input_shape", "output"}})."""
    from torch import nn

    from netspec.compiler.build import build
    from netspec.graph.expand import expand
    from netspec.graph.wiring import check_wiring
    from netspec.training.loop import derive_seed

    several = [n for n, e in TASKS.entries.items() if getattr(e.fn, "networks", ())]
    if cfg.task is None:
        raise SpecError(f"a spec of several networks ({', '.join(spec.networks)}) trains "
                        f"with a task that uses them: `train.task` is missing", cfg.where(),
                        hint=f"add `task: {several[0] if several else 'gan'}` to `train:` "
                             f"(tasks that train several networks: {', '.join(several)})")
    task = cfg.task.entry.fn()
    if not task.networks:
        raise SpecError(f"the task `{task.name}` trains one network, but this spec holds "
                        f"{len(spec.networks)} (`networks:`)", cfg.where("task"),
                        hint=f"tasks that train several networks: {', '.join(several)}")
    graphs = {name: expand(net) for name, net in spec.networks.items()}
    check_wiring(spec, graphs)
    check_network_names(cfg, list(spec.networks))
    data = task.load_data(cfg, spec, fold)
    cfg = task.complete(cfg, has_val=False)
    task.check(cfg, data, graphs)
    models = nn.ModuleDict({name: build(net, seed=derive_seed(cfg.seed, i))
                            for i, (name, net) in enumerate(spec.networks.items())})
    for line in start_weights(models, cfg):
        if progress is not None:
            progress.note(line)
    freeze_networks(models, cfg)
    outputs = {name: {"input_shape": list(next(iter(g.inputs.values())).shape),
                      "output": task.output_kind(cfg, data, {name: g}),
                      **task.network_data(name, data)}
               for name, g in graphs.items()}
    return task, cfg, data, models, outputs


def check_network_names(cfg, names: list[str]) -> None:
    """`optimizers`, `freeze` and `init` name networks of the spec (`names`); torch-free, so
    `netspec check` says it too."""
    for name in cfg.optimizers or {}:
        if name not in names:
            raise SpecError(f"`optimizers` names no network of this spec: {name!r}",
                            cfg.where("optimizers"), hint=did_you_mean(name, names)
                            or f"networks: {', '.join(names)}")
    check_freeze_networks(cfg, names)
    if isinstance(cfg.init, dict):
        for name in cfg.init:
            if name not in names:
                raise SpecError(f"`init` names no network of this spec: {name!r}",
                                cfg.where("init", name), hint=did_you_mean(name, names)
                                or f"networks: {', '.join(names)}; or `init: {{from: ...}}` "
                                   "for all of them")


def check_freeze_networks(cfg, names: list[str]) -> None:
    """Each `freeze` name starts with a network's name (or a pattern that matches one)."""
    for i, ident in enumerate(cfg.freeze):
        head = ident.split(".", 1)[0]
        if any(c in head for c in GLOB):
            if any(fnmatch.fnmatchcase(n, head) for n in names):
                continue
        elif head in names:
            continue
        close = difflib.get_close_matches(head, names, n=1, cutoff=0.6)
        meant = close[0] + ident[len(head):] if close else f"{names[0]}.{ident}"
        raise SpecError(f"`freeze`: {ident!r} names no network of this spec ({', '.join(names)});"
                        f" with several networks a layer's name starts with its network's, as "
                        f"checkpoints name it", cfg.where("freeze", i),
                        hint=f"did you mean `{meant}`?" if close else f"e.g. `{meant}`")


def start_weights(models, cfg) -> list[str]:
    """Weights from elsewhere (`init_from`, `init`) copied in; the lines the progress prints."""
    from netspec.training import prepare
    from netspec.training.weights import load_into

    lines = []
    if cfg.init_from:
        lines.append(prepare.init_from(models, cfg))
    if cfg.init is not None:
        lines.append(load_into(models, cfg))
    return lines


def freeze_networks(models, cfg) -> None:
    """`freeze` over the names `NAME.<layer>...`; every network keeps something to train (its
    task steps each network's optimizer)."""
    from netspec.training import prepare

    if not cfg.freeze:
        return
    prepare.freeze(models, cfg)
    for name, module in models.items():
        params = list(module.parameters())
        if params and not any(p.requires_grad for p in params):
            raise SpecError(f"`freeze` leaves no parameter of the network `{name}` to train",
                            cfg.where("freeze"),
                            hint=f"the task trains every network: leave a layer of `{name}` "
                                 f"unfrozen (its last one, usually)")
