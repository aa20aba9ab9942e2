"""`images: DIR`: one subfolder per class (sorted names are the labels), each image resized to
the spec's input (or `size`), grey for 1 channel, RGB for 3; ÷255."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from netspec.errors import InputError, SpecError
from netspec.training import read_bounds as bounds
from netspec.training.data.base import Arrays
from netspec.training.data.files import missing
from netspec.training.data.sources import ImagesArgs

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm",
                    ".pgm"}


def images(a: ImagesArgs, shape: tuple, cfg) -> Arrays:
    """One subfolder per class of image files, resized to the spec's input size."""
    root = Path(a.images)
    if not root.is_dir():
        raise missing(str(root), "image directory")
    classes = sorted(p.name for p in root.iterdir() if p.is_dir())
    if not classes:
        raise InputError(f"{root} has no class subfolders", None,
                         hint="put each class's images in its own subfolder: DIR/cat/1.png, ...")
    if len(shape) != 3 or not all(isinstance(d, int) for d in shape):
        raise SpecError(f"image data needs an input [C, H, W], the spec has {list(shape)}", None)
    channels, height, width = shape
    if a.size:
        height = width = a.size
    mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(channels)
    if mode is None:
        raise SpecError(f"images have 1, 3 or 4 channels; the spec's input has {channels}", None)
    files = [(label, file) for label, name in enumerate(classes)
             for file in sorted((root / name).iterdir())
             if file.suffix.lower() in IMAGE_EXTENSIONS]
    if not files:
        raise InputError(f"no image files under {root}", None,
                         hint=f"image files end in {', '.join(sorted(IMAGE_EXTENSIONS))}")
    bounds.in_memory(len(files), len(mode) * height * width, root, "images")
    xs = [_read(file, mode, width, height) for _, file in files]
    ys = [label for label, _ in files]
    return Arrays(np.stack(xs), np.asarray(ys, dtype=np.int64), "classification", classes,
                  1 / 255)


def _read(file: Path, mode: str, width: int, height: int) -> np.ndarray:
    """One image as [C, H, W] floats in [0, 1]."""
    from PIL import Image, UnidentifiedImageError

    bounds.regular_file(file, "image")
    try:
        with bounds.open_image(Image, file) as img:      # its size bounded from the header
            img = img.convert(mode).resize((width, height), Image.BILINEAR)
            arr = np.asarray(img, dtype=np.float32) / 255.0
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError,
            Image.DecompressionBombError) as e:
        raise InputError(f"cannot read image {file}: {e}", None,
                         hint="the file is damaged or not an image") from None
    return arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)

