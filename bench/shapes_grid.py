"""A grid of `shapes` samples with their class names and bounding boxes: docs/shapes.png.

    .venv/bin/python bench/shapes_grid.py [-o docs/shapes.png] [--size 32] [--per-class 6]

One row per class; each image drawn exactly as training sees it (before normalisation), with
the figure's bounding box in a thin outline.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="docs/shapes.png")
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    from netspec.training.data.shapes import CLASSES, draw_shapes

    k, per = len(CLASSES), args.per_class
    x, y, boxes = draw_shapes(k * per, args.size, args.size, args.seed)
    fig, axes = plt.subplots(k, per, figsize=(per * 1.1, k * 1.15))
    for c, row in enumerate(axes):
        for j, ax in enumerate(row):
            i = int(np.flatnonzero(y == c)[j])
            ax.imshow(x[i].transpose(1, 2, 0), interpolation="nearest")
            x0, y0, x1, y1 = boxes[i]
            ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False,
                                   edgecolor="white", linewidth=0.6, linestyle=":"))
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(CLASSES[c], rotation=0, ha="right", va="center", fontsize=9)
    fig.suptitle(f"netspec built-in data `shapes`: {k} classes, {args.size}x{args.size}, "
                 f"split_seed {args.seed} (dotted: the kept bounding box)", fontsize=9)
    fig.tight_layout()
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.output).with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    tmp.replace(args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
