"""`--network NAME` for the commands that read a spec of several networks (`networks:`):
check prints every network's table under a heading (or the one named); draw and export
need one named, and without it exit 2 listing the names."""

from __future__ import annotations

import json

import click


def pick_network(spec, name: str | None, option: str = "--network"):
    """The network `name` of `spec` (a one-network spec is its own); a name it lacks, or none
    for a spec of several, is a usage error (exit 2) that lists the names."""
    from netspec.lang.schema import NetworkChoiceError

    try:
        return spec.network(name)
    except NetworkChoiceError as err:
        hint = f"; give {option} {' or '.join(err.names)}" if spec.networks else ""
        raise click.BadParameter(f"{err}{hint}", param_hint=f"'{option}'") from None


def check_networks_text(spec, network: str | None, overrides: tuple[dict, dict], resolve,
                        as_json: bool, depth: int | None, explain: bool) -> tuple[str, list]:
    """The check of a spec of several networks as text or JSON, and the graphs checked.
    `overrides` (`--input`: shapes, bindings) apply to the network named, `resolve` fitting
    them to its inputs; without `--network` only symbolic dims may be bound."""
    from netspec.report import MultiReport, check, render_networks, render_table

    if network is not None:
        pick_network(spec, network)
    shapes, bindings = overrides
    if shapes and network is None and any(not k.startswith("=") for k in shapes):
        raise click.BadParameter("a spec of several networks takes an input shape for the "
                                 "network --network names", param_hint="--input")
    if network is not None and shapes:
        shapes, bindings = resolve(spec.networks[network], shapes, bindings)
        report = check(spec)            # the wiring, as the spec is
        one = check(spec.networks[network], shapes, bindings)
        report = MultiReport(report.name, {**report.networks, network: one})
    else:
        report = check(spec, None, bindings)
    chosen = {network: report.networks[network]} if network is not None else report.networks
    if as_json:
        out = MultiReport(report.name, chosen).to_json()
        if spec.params or spec.variants:
            out["variant"] = {"name": spec.variant, "params": spec.params, "set": spec.settings}
        return json.dumps(out, indent=2), [r.graph for r in chosen.values()]
    if network is not None:
        text = f"== {network} ==\n{render_table(chosen[network], depth, explain)}"
    else:
        text = render_networks(report, depth, explain)
    if spec.params:
        values = ", ".join(f"{k}={v!r}" for k, v in spec.params.items())
        chosen_variant = f" (variant {spec.variant})" if spec.variant is not None else ""
        text = f"params{chosen_variant}: {values}\n{text}"
    return text, [r.graph for r in chosen.values()]
