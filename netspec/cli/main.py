"""The `netspec` command: thin click commands over the Python API.

Exit status: 0 fine; 1 the spec, or a file or data it names, is wrong (a located message);
2 command misuse (click's usage message). Commands beyond `check` live in their own modules
and are imported only when run, so `netspec check` never pays for torch.
"""

from __future__ import annotations

import gc
import importlib
import importlib.util
import os
import sys

import click

from netspec.cli.variants import spec_choice_options, usage_error
from netspec.errors import NetspecError

# name -> "module:attribute" of a click command, loaded on first use
LAZY_COMMANDS = {
    "draw": "netspec.cli.draw:draw_command",
    "train": "netspec.cli.train:train_command",
    "eval": "netspec.cli.train:eval_command",
    "export": "netspec.cli.deploy:export_command",
    "infer": "netspec.cli.deploy:infer_command",
    "serve": "netspec.cli.serve:serve_command",
    "lsp": "netspec.cli.lsp:lsp_command",
    "convert": "netspec.cli.convert:convert_command",
    "augment": "netspec.cli.augment:augment_command",
    "kinds": "netspec.cli.kinds:kinds_command",
}


class NetspecGroup(click.Group):
    """A group that loads commands lazily and turns users' mistakes into exit 1 messages."""

    def list_commands(self, ctx):
        lazy = [n for n, target in LAZY_COMMANDS.items() if _available(target)]
        return sorted({*super().list_commands(ctx), *lazy})

    def get_command(self, ctx, name):
        if name in LAZY_COMMANDS and _available(LAZY_COMMANDS[name]):
            module, attr = LAZY_COMMANDS[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def invoke(self, ctx):
        from netspec.lang.settings import OverrideError

        try:
            return super().invoke(ctx)
        except OverrideError as err:        # --variant/--set the spec does not declare
            raise usage_error(err) from None
        except NetspecError as err:
            if os.environ.get("RANK", "0") == "0":     # under torchrun every rank finds it
                click.echo(err.render(), err=True)
                n = len(err.diagnostics)
                if n > 1:
                    click.echo(f"{n} errors", err=True)
            ctx.exit(1)


def _available(target: str) -> bool:
    try:
        return importlib.util.find_spec(target.split(":")[0]) is not None
    except ModuleNotFoundError:
        return False


@click.group(cls=NetspecGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                 "max_content_width": 100})
@click.version_option(package_name="netspec", prog_name="netspec")
def main() -> None:
    """Write a network once as YAML; check, draw, train, export and run it.

    \b
      netspec check specs/lenet5.yaml          shapes, params, MACs (no torch, < 1 s)
      netspec draw  specs/lenet5.yaml -o lenet5.svg
      netspec train specs/lenet5.yaml          uses the spec's train: section
      netspec export runs/lenet5/latest -o exported/lenet5.onnx
      netspec infer exported/lenet5.onnx digit.png

    Errors in a spec are reported as file:line:col with a hint (exit 1);
    a bad flag or a missing file is exit 2.
    """


def parse_input_overrides(values: tuple[str, ...]) -> tuple[dict, dict]:
    """`--input 3,64,64`, `--input x=3,32,32` and `--input seq=50` ->
    (shapes by input name, sizes of symbolic dims)."""
    shapes: dict[str, tuple] = {}
    bindings: dict[str, int] = {}
    for value in values:
        name, _, dims = value.rpartition("=")
        try:
            parsed = tuple(int(d) for d in dims.replace("x", ",").split(","))
        except ValueError:
            raise click.BadParameter(f"{value!r}: give sizes like 3,64,64, name=3,64,64 or "
                                     f"seq=50", param_hint="--input") from None
        if not parsed or min(parsed) < 1:
            raise click.BadParameter(f"{value!r}: sizes must be positive", param_hint="--input")
        if name and len(parsed) == 1 and name.isidentifier():
            bindings[name] = parsed[0]      # could also be a rank-1 input: resolved below
            shapes[f"={name}"] = parsed
        elif name:
            shapes[name] = parsed
        else:
            shapes[""] = parsed
    return shapes, bindings


def _resolve_overrides(spec, shapes: dict, bindings: dict) -> tuple[dict, dict]:
    out = {}
    for key, dims in shapes.items():
        if key == "":
            out[next(iter(spec.inputs))] = dims
        elif key.startswith("="):
            name = key[1:]
            if name in spec.inputs:
                out[name] = dims
                bindings.pop(name, None)
        else:
            if key not in spec.inputs:
                raise click.BadParameter(f"no input named {key!r} (inputs: "
                                         f"{', '.join(spec.inputs)})", param_hint="--input")
            out[key] = dims
    return out, bindings


@main.command()
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("--depth", type=click.IntRange(0), default=None,
              help="Fold blocks nested deeper than N into one row each (0: top-level entries).")
@click.option("--explain", is_flag=True, help="Show the arithmetic behind every shape change.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--input", "inputs", multiple=True, metavar="SHAPE",
              help="Override the input shape: 3,64,64 (the input), name=3,64,64, or bind a "
                   "symbolic dim: seq=50. Repeatable.")
@click.option("--network", default=None, metavar="NAME",
              help="With `networks:`, report only network NAME (its wiring is still checked).")
@click.option("--count", default=None, metavar="TOOL",
              help="Also give the MAC total as TOOL counts it: torchvision, fvcore, thop or "
                   "ptflops (docs/counting.md says what each adds or drops); with "
                   "`networks:`, each network's.")
@spec_choice_options
def check(spec: str, depth: int | None, explain: bool, as_json: bool,
          inputs: tuple[str, ...], network: str | None, count: str | None,
          variant: str | None, settings: tuple) -> None:
    """Check SPEC statically: every layer's output shape, params and MACs.

    Never imports torch. Shapes exclude the batch dim; MACs count multiply-accumulates
    of conv, conv_transpose, linear and recurrent layers; memory is for one sample in float32.

    \b
      netspec check specs/resnet18_tv.yaml --depth 1
      netspec check specs/lenet5.yaml --explain
      netspec check specs/lstm_seq.yaml --input seq=50 --json
      netspec check specs/dcgan_generator.yaml --count thop
      netspec check specs/resnet.yaml --variant resnet50 --set "layers=[2, 2, 2, 2]"
    """
    from netspec.lang.load import read_spec
    from netspec.report import MultiReport
    from netspec.report import check as run_check
    from netspec.training.diagnostics_check import check_all

    shapes, bindings = parse_input_overrides(inputs)
    shown: list[str] = []         # the report's text, once a graph exists

    def report_of(loaded):
        if loaded.networks is not None:
            from netspec.cli.networks import check_networks_text

            # fail-soft per network: a shape error stops its network's table, not the others
            text, report = check_networks_text(loaded, network, (shapes, bindings),
                                               _resolve_overrides, as_json, depth, explain,
                                               count)
            shown.append(text)
            return report
        if network is not None:
            raise click.BadParameter(f"{spec} holds one network (no `networks:`)",
                                     param_hint="--network")
        resolved = _resolve_overrides(loaded, dict(shapes), dict(bindings))
        # fail-soft: a shape error still gives the table down to the failing layer
        report = run_check(loaded, *resolved, soft=True)
        text = _report_text(report, loaded, as_json, depth, explain)
        shown.append(text if count is None else _with_count(text, report, count, as_json))
        return report

    # a check allocates many small objects and frees almost none: the cyclic collector's
    # passes over them cost a third of a large check, and find nothing
    collecting = gc.isenabled()
    gc.disable()
    try:
        # the network's mistakes and train:'s together, even where the layers did not load
        checked = check_all(read_spec(spec), spec, variant=variant, settings=settings,
                            report_of=report_of)
    finally:
        if collecting:
            gc.enable()
    if shown:
        click.echo(shown[0])
    # after the table(s): the located errors, the layers' and train:'s together, exit 1
    if checked.error is not None:
        raise checked.error
    from netspec.graph.diagnose import render_warning

    report = checked.report
    reports = report.networks if isinstance(report, MultiReport) else {None: report}
    for name, one in reports.items():
        if network in (None, name):
            for warning in one.graph.warnings:      # lints: the spec is valid, exit 0
                click.echo(render_warning(warning), err=True)
    for warning in checked.warnings:
        click.echo(render_warning(warning), err=True)


def _with_count(text: str, report, count: str, as_json: bool) -> str:
    """The report with the MAC total in another tool's convention (`--count`)."""
    import json

    from netspec.kinds.conventions import count_summary, render_count

    try:
        summary = count_summary(count, report.graph)
    except ValueError as err:
        raise click.BadParameter(str(err), param_hint="--count") from None
    if not as_json:
        return f"{text}\n{render_count(summary, report.macs)}"
    out = json.loads(text)
    out["count"] = summary
    return json.dumps(out, indent=2)


def _report_text(report, spec, as_json: bool, depth: int | None, explain: bool) -> str:
    """The check report as JSON or as the table, with the spec's params in effect."""
    import json

    from netspec.report import render_table

    if as_json:
        out = report.to_json()
        if spec.params or spec.variants:
            # what chose the network (a spec without `params:` keeps DESIGN §3's keys alone);
            # `params` is the report's count, so this is a key of its own
            out["variant"] = {"name": spec.variant, "params": spec.params, "set": spec.settings}
        return json.dumps(out, indent=2)
    text = render_table(report, depth, explain)
    if not spec.params:
        return text
    chosen = f" (variant {spec.variant})" if spec.variant is not None else ""
    values = ", ".join(f"{k}={v!r}" for k, v in spec.params.items())
    return f"params{chosen}: {values}\n{text}"


@main.command()
def schema() -> None:
    """Print the JSON Schema of the spec language (for YAML editors' completion)."""
    import json

    from netspec.lang.jsonschema import json_schema
    from netspec.training.train_schema import train_schema

    schema = json_schema()
    # the train section comes from the training registries (a stage above the language's)
    schema["properties"]["train"] = train_schema(schema.setdefault("$defs", {}))
    click.echo(json.dumps(schema, indent=2))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
