"""Before training a spec of several networks (`networks:`): the task it names, the wiring
the task needs (graph/wiring.py, as `netspec check` runs it), the data, and the networks
built, each with its own seed, in one nn.ModuleDict (checkpoint keys `NAME.<layer>...`).

Each mistake is a located SpecError while nothing has run yet: no `train.task`, a task that
trains one network, `optimizers:` naming a network the spec lacks, `freeze`/`init_from`
(which name one network's layers).
"""

from __future__ import annotations

from netspec.errors import InputError, SpecError, did_you_mean
from netspec.training.tasks import TASKS


def prepare_networks(spec, cfg, ctx, fold: int | None = None):
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
    for name in cfg.optimizers or {}:
        if name not in spec.networks:
            raise SpecError(f"`optimizers` names no network of this spec: {name!r}",
                            cfg.where("optimizers"), hint=did_you_mean(name, spec.networks)
                            or f"networks: {', '.join(spec.networks)}")
    for key in ("freeze", "init_from", "init"):
        if getattr(cfg, key, None):     # a resumed run's train.json holds them empty
            raise SpecError(f"`{key}` names the layers of one network; a spec of several "
                            f"networks does not take it", cfg.where(key))
    if ctx.distributed:
        raise InputError("a spec of several networks trains in one process",
                         hint="run `netspec train` without torchrun")
    data = task.load_data(cfg, spec, fold)
    cfg = task.complete(cfg, has_val=False)
    task.check(cfg, data, graphs)
    models = nn.ModuleDict({name: build(net, seed=derive_seed(cfg.seed, i))
                            for i, (name, net) in enumerate(spec.networks.items())})
    outputs = {name: {"input_shape": list(next(iter(g.inputs.values())).shape),
                      "output": task.output_kind(cfg, data, {name: g}),
                      **task.network_data(name, data)}
               for name, g in graphs.items()}
    return task, cfg, data, models, outputs
