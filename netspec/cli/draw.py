"""`netspec draw`: a spec's network as a Graphviz diagram (thin over `netspec.draw`)."""

from __future__ import annotations

from pathlib import Path

import click

from netspec.cli.variants import spec_choice_options
from netspec.drawing.render import FORMATS, RANKDIRS


def _suffix(ctx, param, value: str) -> str:
    fmt = Path(value).suffix.lstrip(".").lower()
    if fmt not in FORMATS:
        raise click.BadParameter(f"{value!r}: the suffix picks the format, one of "
                                 f"{', '.join('.' + f for f in FORMATS)}")
    return value


@click.command("draw")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, metavar="FILE", callback=_suffix,
              type=click.Path(dir_okay=False),
              help="Where to write: .svg, .png, .pdf or .dot (the suffix picks the format).")
@click.option("--depth", type=click.IntRange(0), default=None, metavar="N",
              help="Fold blocks nested deeper than N into one box each, as `check --depth` "
                   "(0: one box per top-level entry).")
@click.option("--expand", is_flag=True,
              help="Draw every copy of a repeated entry (default: one copy, marked ×N).")
@click.option("--rankdir", type=click.Choice(RANKDIRS, case_sensitive=False), default="TB",
              metavar="TB|LR",
              show_default=True, help="Flow top to bottom (TB) or left to right (LR).")
@click.option("--no-shapes", is_flag=True, help="Leave the tensor shapes off the edges.")
@click.option("--columns", type=click.IntRange(1), default=None, metavar="N",
              help="Wrap the network into N columns (rows with LR); default: deep networks "
                   "wrap by themselves, 1 never wraps.")
@click.option("--network", default=None, metavar="NAME",
              help="With `networks:`, the network to draw (required there: one per file).")
@spec_choice_options
def draw_command(spec: str, output: str, depth: int | None, expand: bool, rankdir: str,
                 no_shapes: bool, columns: int | None, network: str | None,
                 variant: str | None, settings: tuple) -> None:
    """Draw SPEC's network to FILE with Graphviz.

    Boxes are layers (kind, key arguments, params), coloured by family; layers that keep the
    shape (norm, activation, dropout) join the box above them. Blocks are labelled clusters,
    a repeated entry is drawn once and marked ×N, and every edge carries its shape
    (batch dim excluded). Never imports torch.

    \b
      netspec draw specs/lenet5.yaml -o lenet5.svg
      netspec draw specs/resnet18_tv.yaml -o resnet18.png --depth 1
      netspec draw specs/resnet50_tv.yaml -o resnet50.pdf --columns 1
      netspec draw specs/densenet121_tv.yaml -o densenet.dot --expand --rankdir LR

    .dot needs nothing else; .svg, .png and .pdf need Graphviz's `dot` program
    (apt-get install graphviz, brew install graphviz); without it the .dot is written
    and the command says how to install it (exit 1).

    A spec with a shape error is still drawn, down to the failing layer (in red, the error
    on the edge into it); then the located error is printed and the exit status is 1.
    """
    from netspec.cli.networks import pick_network
    from netspec.drawing.render import draw_checked
    from netspec.graph.load import load

    chosen = pick_network(load(spec, variant=variant, settings=settings), network)
    path, report = draw_checked(chosen, output, depth=depth, expand=expand,
                                rankdir=rankdir.upper(), shapes=not no_shapes, columns=columns)
    if report.error is None:
        click.echo(f"wrote {path}")
        return
    click.echo(f"wrote {path}, down to the layer that failed: {report.failure.name}")
    raise report.error
