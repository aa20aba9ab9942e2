"""`--network NAME` for the commands that read a spec of several networks (`networks:`):
check prints every network's table under a heading (or the one named; `--count` adds each
one's total in another tool's convention); draw and export need one named, and without it
exit 2 listing the names."""

from __future__ import annotations

import json
from typing import Any

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
                        as_json: bool, depth: int | None, explain: bool,
                        count: str | None = None) -> tuple[str, Any]:
    """The check of a spec of several networks as text or JSON (of the network `network`
    names, or all), and the report of all (a soft check's: a network's shape error stops
    that network only; `report.error` says what failed in any of them: the spec is wrong
    whichever network is shown). `overrides` (`--input`: shapes, bindings) apply to the
    network named, `resolve` fitting them to its inputs; without `--network` only symbolic
    dims may be bound. `count` (`--count TOOL`) adds each network's MAC total in that tool's
    convention."""
    from netspec.report import MultiReport, check, render_networks, render_table

    if network is not None:
        pick_network(spec, network)
    shapes, bindings = overrides
    if shapes and network is None and any(not k.startswith("=") for k in shapes):
        raise click.BadParameter("a spec of several networks takes an input shape for the "
                                 "network --network names", param_hint="--input")
    if network is not None and shapes:
        shapes, bindings = resolve(spec.networks[network], shapes, bindings)
        report = check(spec, soft=True)            # the wiring, as the spec is
        one = check(spec.networks[network], shapes, bindings, soft=True)
        report = MultiReport(report.name, {**report.networks, network: one},
                             report.wiring_error)
    else:
        report = check(spec, None, bindings, soft=True)
    chosen = {network: report.networks[network]} if network is not None else report.networks
    counts = {name: _count(count, r) for name, r in chosen.items()} if count else {}
    shown = MultiReport(report.name, chosen, report.wiring_error)
    if as_json:
        out = shown.to_json()
        for name, summary in counts.items():
            out["networks"][name]["count"] = summary
        if spec.params or spec.variants:
            out["variant"] = {"name": spec.variant, "params": spec.params, "set": spec.settings}
        return json.dumps(out, indent=2), report
    under = {name: _count_text(summary, chosen[name]) for name, summary in counts.items()}
    if network is not None:
        text = f"== {network} ==\n{render_table(chosen[network], depth, explain)}"
        text += f"\n{under[network]}" if network in under else ""
    else:
        text = render_networks(report, depth, explain, under)
    if spec.params:
        values = ", ".join(f"{k}={v!r}" for k, v in spec.params.items())
        chosen_variant = f" (variant {spec.variant})" if spec.variant is not None else ""
        text = f"params{chosen_variant}: {values}\n{text}"
    return text, report


def _count(tool: str, report) -> dict:
    """One network's MAC total as `tool` counts it (`--count`); an unknown tool: exit 2."""
    from netspec.kinds.conventions import count_summary

    try:
        return count_summary(tool, report.graph)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--count") from None


def _count_text(summary: dict, report) -> str:
    from netspec.kinds.conventions import render_count

    return render_count(summary, report.macs)
