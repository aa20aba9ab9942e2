"""`netspec export` and `netspec infer`: thin click commands over netspec.deploy.export and
netspec.deploy.infer. Nothing heavy is imported until a command runs: `infer` never imports
torch."""

from __future__ import annotations

import json
from pathlib import Path

import click

from netspec.cli.main import parse_input_overrides
from netspec.cli.variants import check_run_choice, spec_choice_options


class BatchSize(click.ParamType):
    """`dynamic` or a positive batch size."""

    name = "dynamic|N"

    def convert(self, value, param, ctx):
        if value == "dynamic" or isinstance(value, int):
            return value
        if str(value).isdigit() and int(value) >= 1:
            return int(value)
        self.fail(f"{value!r}: give `dynamic` or a positive batch size", param, ctx)


@click.command("export")
@click.argument("source", metavar="SPEC_OR_RUN", type=click.Path(exists=True))
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="The .onnx file to write (default: exported/<name>.onnx).")
@click.option("--opset", type=click.IntRange(7), default=None,
              help="ONNX opset version (default: torch's recommended one).")
@click.option("--batch", type=BatchSize(), default="dynamic", show_default=True,
              help="`dynamic`, or a fixed batch size.")
@click.option("--input", "inputs", multiple=True, metavar="DIM=N",
              help="Size a symbolic dim, e.g. seq=50 (used where the export has to fix it). "
                   "Repeatable.")
@click.option("--no-verify", is_flag=True,
              help="Skip onnx.checker and the onnxruntime-vs-torch comparison.")
@click.option("--weights", is_flag=True,
              help="Also write the weights as safetensors next to the .onnx file.")
@click.option("--network", default=None, metavar="NAME",
              help="With `networks:` (a GAN's spec or run), the network to export (required "
                   "there).")
@spec_choice_options
def export_command(source: str, output: str | None, opset: int | None, batch,
                   inputs: tuple[str, ...], no_verify: bool, weights: bool,
                   network: str | None, variant: str | None, settings: tuple) -> None:
    """Export SPEC_OR_RUN to one self-contained ONNX file, verified on onnxruntime.

    SPEC_OR_RUN is a spec file (fresh weights, seed 0) or a run directory (its best
    checkpoint, labels and normalisation statistics). The file has a dynamic batch dim, the
    spec's input and output names, and what `netspec infer` needs in its metadata. It is then
    checked (onnx.checker) and run on onnxruntime against torch at batch 1 and 4: above a max
    abs difference of 1e-4 (1e-5 of the largest output where outputs exceed 10) the export
    fails (exit 1) and the file is kept as FILE.unverified.

    \b
      netspec export runs/lenet5/latest -o exported/lenet5.onnx
      netspec export specs/resnet18_tv.yaml --weights
      netspec export specs/resnet.yaml --variant resnet50
      netspec export runs/dcgan_digits/latest --network generator

    A run exports the variant it was trained as; a --variant or --set that differs is refused.
    """
    from netspec.deploy import require

    require("torch")                # before the exporter's module imports it
    from netspec.deploy.export import export

    shapes, bindings = parse_input_overrides(inputs)
    if set(shapes) - {f"={b}" for b in bindings}:
        raise click.BadParameter("give symbolic dims only, e.g. seq=50", param_hint="--input")
    if Path(source).is_dir() or Path(source).name == "latest":
        if check_run_choice(source, variant, settings):
            raise click.BadParameter("a run exports its own network; train keys do not apply",
                                     param_hint="'--set'")
    elif variant is not None or settings:
        from netspec.graph.load import load

        source = load(source, variant=variant, settings=settings)
    from netspec.lang.schema import NetworkChoiceError

    try:
        result = export(source, output, opset=opset, batch=batch, verify=not no_verify,
                        weights=weights, bindings=bindings, log=click.echo, network=network)
    except NetworkChoiceError as err:
        raise click.BadParameter(str(err) + (f"; give --network {' or '.join(err.names)}"
                                             if len(err.names) > 1 else ""),
                                 param_hint="'--network'") from None
    click.echo(result.summary())


@click.command("infer")
@click.argument("model", metavar="MODEL.onnx", type=click.Path(exists=True, dir_okay=False))
@click.argument("inputs", metavar="INPUT...", nargs=-1, required=True,
                type=click.Path(exists=True, dir_okay=False))
@click.option("-k", "--top-k", type=click.IntRange(1), default=5, show_default=True,
              help="How many classes to show per input.")
@click.option("--json", "as_json", is_flag=True, help="Print the results as JSON.")
def infer_command(model: str, inputs: tuple[str, ...], top_k: int, as_json: bool) -> None:
    """Run MODEL.onnx on INPUT files with onnxruntime alone (no torch).

    INPUT: images (resized to the model's input, grayscale or RGB as it takes), .npy arrays
    (one sample or a batch), .npz (one array per input name), .csv (one sample per row).
    Preprocessing is training's, from the model's metadata: images / 255, raw arrays times
    the data's scale, then the stored normalisation statistics. Classification outputs print
    the top-k labels with probabilities (softmax only over logits); others their values.

    \b
      netspec infer exported/lenet5.onnx digit.png --top-k 3
      netspec infer exported/iris_mlp.onnx rows.csv --json
    """
    from netspec.deploy.infer import infer

    results = infer(model, list(inputs), top_k=top_k)
    if as_json:
        click.echo(json.dumps([r.to_json() for r in results], indent=2))
    else:
        for r in results:
            click.echo(r.render())
