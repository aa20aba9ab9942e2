"""`netspec convert`: a PyTorch state dict (`.pth`, `.pt`) into safetensors, the only weights
format netspec reads, renamed by prefix onto a spec's layer names on the way."""

from __future__ import annotations

import click


class Rename(click.ParamType):
    """`OLD=NEW`: a key prefix and what replaces it."""

    name = "OLD=NEW"

    def convert(self, value, param, ctx):
        old, sep, new = str(value).partition("=")
        if not sep or not old:
            self.fail(f"{value!r}: give OLD=NEW, e.g. --map layer1.=stage1.", param, ctx)
        return old, new


@click.command("convert")
@click.argument("source", metavar="WEIGHTS.pth", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .safetensors file to write.")
@click.option("--map", "renames", multiple=True, type=Rename(),
              help="Rename keys by prefix: --map fc.=head. (repeatable; the longest "
                   "matching prefix wins).")
def convert_command(source: str, output: str, renames: tuple[tuple[str, str], ...]) -> None:
    """Convert a PyTorch state dict to safetensors.

    The file is read with torch.load(weights_only=True): tensors only, no code runs. A
    checkpoint that keeps its weights under `state_dict` or `model` is unwrapped.

    \b
      netspec convert resnet18-f37072fd.pth -o resnet18.safetensors
      netspec convert ckpt.pt -o net.safetensors --map module.=

    Then start a run from it:

    \b
      train:
        init: {from: resnet18.safetensors, map: {fc.: head.}, strict: false}
        freeze: ["layer1.*"]
    """
    from netspec.training.weights import convert

    if not output.endswith(".safetensors"):
        raise click.BadParameter("the output is a .safetensors file", param_hint="-o")
    count, params = convert(source, output, dict(renames))
    click.echo(f"wrote {output}: {count} tensors, {params:,} values")
