"""`netspec augment`: a preview grid of the augmented training images (thin over
netspec.training.augment_preview)."""

from __future__ import annotations

from pathlib import Path

import click

from netspec.cli.variants import spec_choice_options
from netspec.kinds.argtypes import MAX_ARG        # the bound of train.seed, as every integer

MAX_IMAGES = 256


def _suffix(ctx, param, value: str | None) -> str | None:
    from netspec.training.augment_preview import FORMATS

    if value is not None and Path(value).suffix.lstrip(".").lower() not in FORMATS:
        raise click.BadParameter(f"{value!r}: the suffix picks the format, one of "
                                 f"{', '.join('.' + f for f in FORMATS)}")
    return value


@click.command("augment")
@click.argument("spec", type=click.Path(exists=True, dir_okay=False))
@click.option("-o", "--output", metavar="FILE", callback=_suffix, type=click.Path(dir_okay=False),
              help="Where to write the grid: .png, .svg or .pdf (default: NAME_augment.png, "
                   "NAME the spec's name).")
@click.option("-n", "--n", "count", type=click.IntRange(1, MAX_IMAGES), default=16,
              show_default=True, help=f"How many images (at most {MAX_IMAGES}); mixing "
              "augmentations (mixup, cutmix, mosaic) mix within them.")
@click.option("--seed", type=click.IntRange(-MAX_ARG, MAX_ARG), default=None,
              help="Seed for picking and augmenting the images (default: the train "
                   "section's `seed`); another seed shows other draws.")
@click.option("--columns", type=click.IntRange(1), default=None, metavar="N",
              help="Images per row (default: a square grid).")
@spec_choice_options
def augment_command(spec: str, output: str | None, count: int, seed: int | None,
                    columns: int | None, variant: str | None, settings: tuple) -> None:
    """Preview SPEC's `train.augment` on its training images, as a grid.

    Picks images from the training split of `train.data`, sends them through the spec's
    augmentations exactly as training does (image ops, the normalisation, then noise and
    mixup), un-normalises them for display and writes the grid. Each image is titled with its
    class; a mixing augmentation shows the mix by weight, e.g. `cat 0.6 / dog 0.4`.

    \b
      netspec augment specs/lenet5.yaml -o lenet5_aug.png
      netspec augment specs/resnet18.yaml --variant cpu --n 32 --seed 1
      netspec augment specs/lenet5.yaml --set "train.augment=[{mosaic: {p: 1, fit: scale}}]"

    A spec without a `train:` section, or whose data are not images, is an error (exit 1).
    """
    from netspec.graph.load import load
    from netspec.safe_write import check_output
    from netspec.training.augment_preview import augment_preview, write_grid

    loaded = load(spec, variant=variant, settings=settings)
    path = output or f"{loaded.name}_augment.png"
    check_output(path, "the preview", protect=[spec])
    preview = augment_preview(loaded, n=count, seed=seed)
    write_grid(preview, path, columns)
    ops = ", ".join(preview.ops) or "no augmentation (the spec's train.augment is empty)"
    click.echo(f"wrote {path}: {len(preview.labels)} images of {preview.data} through {ops} "
               f"(seed {preview.seed})")
