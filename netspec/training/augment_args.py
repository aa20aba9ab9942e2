"""The augmentations' names, arguments and needs, torch-free: what `netspec check` and `netspec
schema` validate and describe. Each entry's function is the one of its name in
netspec.training.augment (with torch), imported when an augmentation first runs.

Meta every entry declares: `image` (works on [B, C, H, W] images in [0, 1], before the
normalisation) and `mixes` (also mixes the targets: its function returns the images and the
weighted parts the targets are mixed from).

    AUGMENTATIONS.parse_list(["hflip", {"random_crop": 4}], parent, "augment")   # torch-free
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from netspec.kinds.argtypes import (Float, NonNegativeFloat, NonNegativeInt, PositiveFloat,
                                     Probability)
from netspec.training.registry import Args, Registry

AUGMENTATIONS = Registry("augmentation",
                         implementations="netspec.training.augment")
MAX_PADDING = 1024            # crop pads each side; more is a typo, and costs memory


class FlipArgs(Args):
    p: Probability = 0.5


class CropArgs(Args):
    padding: Annotated[NonNegativeInt, Field(le=MAX_PADDING)] = 4


class RotateArgs(Args):
    degrees: Annotated[Float, Field(ge=0, le=180)] = 15.0


class JitterArgs(Args):
    brightness: Annotated[Float, Field(ge=0, le=1)] = 0.2
    contrast: Annotated[Float, Field(ge=0, le=1)] = 0.2
    saturation: Annotated[Float, Field(ge=0, le=1)] = 0.2


class NoiseArgs(Args):
    std: NonNegativeFloat = 0.05


class CutoutArgs(Args):
    size: PositiveFloat = 0.25      # side: a fraction of the image, or pixels
    p: Probability = 1.0


class MixArgs(Args):
    alpha: PositiveFloat = 0.2


class CutMixArgs(MixArgs):
    alpha: PositiveFloat = 1.0


class MosaicArgs(Args):
    """`p`: the chance a batch is made into mosaics; `center`: the range the tiles' common
    corner is drawn from, per axis, as fractions of the side (YOLO's is the whole [0, 1]; the
    default keeps each of the four images on at least 1/16 of the mosaic); `fit`: `crop`
    (YOLO's: each image at its own scale, its corner at the centre, the rest cut off) or
    `scale` (each whole image resized into its tile: its figure stays in view)."""

    p: Probability = 0.5
    center: tuple[Probability, Probability] = (0.25, 0.75)
    fit: Literal["crop", "scale"] = "crop"

    @field_validator("center")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] > v[1]:
            raise ValueError(f"must be a range [low, high] with low <= high, got {list(v)}")
        return v


IMAGE = {"image": True}
AUGMENTATIONS.declare("hflip", FlipArgs, main="p", doc="Mirror left-right with probability p.",
                      **IMAGE)
AUGMENTATIONS.declare("vflip", FlipArgs, main="p", doc="Mirror top-bottom with probability p.",
                      **IMAGE)
AUGMENTATIONS.declare("random_crop", CropArgs, main="padding",
                      doc="Zero-pad by `padding` on each side, then crop back to the size at a "
                          "random offset.", **IMAGE)
AUGMENTATIONS.declare("rotate", RotateArgs, main="degrees",
                      doc="Rotate by a uniform angle in [-degrees, degrees] about the centre "
                          "(bilinear, zero fill).", **IMAGE)
AUGMENTATIONS.declare("color_jitter", JitterArgs,
                      doc="Random brightness, contrast and (3 channels) saturation factors in "
                          "[1 - v, 1 + v].", **IMAGE)
AUGMENTATIONS.declare("noise", NoiseArgs, main="std",
                      doc="Add Gaussian noise of standard deviation `std` (normalised units; "
                          "any data).")
AUGMENTATIONS.declare("cutout", CutoutArgs, main="size",
                      doc="Zero one square per image at a random centre (DeVries & Taylor, "
                          "2017); `size` is its side, a fraction of the image below 1, else "
                          "pixels.", **IMAGE)
AUGMENTATIONS.declare("mixup", MixArgs, main="alpha", mixes=True,
                      doc="mixup (Zhang et al., 2018): a blend of two samples and of their "
                          "targets, by lam ~ Beta(alpha, alpha); any data.")
AUGMENTATIONS.declare("cutmix", CutMixArgs, main="alpha", mixes=True,
                      doc="CutMix (Yun et al., 2019): a box of another image pasted in; the "
                          "targets mixed by area.", **IMAGE)
AUGMENTATIONS.declare("mosaic", MosaicArgs, main="p", mixes=True,
                      doc="Mosaic (YOLOv4/v5): four images of the batch tiled around a random "
                          "centre into one; the targets mixed by area.", **IMAGE)


def check_fits_samples(choices, shape, where, whose: str = "this data's samples are") -> None:
    """Image augmentations need samples [C, H, W]: a located SpecError (at the entry of
    `augment:`, through `where(*path)`) for one on samples of another shape (`whose`: what
    the shape is, for the message)."""
    from netspec.errors import SpecError

    for i, c in enumerate(choices):
        if c.entry.meta.get("image") and len(shape) != 3:
            raise SpecError(f"`{c.name}` works on images [C, H, W]; {whose} {list(shape)}",
                            where("augment", i),
                            hint="noise and mixup work on any data")
