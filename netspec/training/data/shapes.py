"""`shapes`: procedurally drawn coloured figures, a built-in image set with no download that is
worth training the classic CNNs on (12 classes; any size; numpy only).

Each image holds one figure of a class from CLASSES at a random position, scale and rotation, in
a random colour with a shading gradient, on a textured background (two colours mixed by a random
plane wave) crossed by `clutter` thin lines in random colours, with Gaussian noise. The figure's bounding box is kept (`Arrays.boxes`). The
figure's brightness differs from the background's by at least CONTRAST, so it is visible in
grey too (`channels: 1`).

Rasterisation, batched over images of one class on a pixel grid: a figure is a signed distance
d(p) in its own frame (negative inside, the figure fits in the unit disc), where

    p = R(-theta) (q - c) / r         q: pixel centre, c: centre, r: radius in pixels
    coverage(q) = clip(0.5 - r * d(p), 0, 1)      (about one pixel of anti-aliased edge)

A convex polygon's d is the largest signed distance to its edge lines; a union is the minimum of
its parts' d, a difference max(d_a, -d_b). The radius r is uniform in [0.15, 0.45]·min(H, W)
and the centre keeps the unit disc inside the image. A clutter line is a segment between two
uniform points, 0.03·min(H, W) wide, drawn behind the figure.

Determinism: image i depends on `split_seed` and i alone (its parameters are row i of one
uniform draw, its clutter row i of another, its noise comes from the chunk's own generator), so the first n images are the
same whatever `samples` is, and the same across training seeds.
"""

from __future__ import annotations

import math

import numpy as np

from netspec.errors import SpecError
from netspec.training.data.base import Arrays
from netspec.training.data.sources import (CLASSES, MAX_CLUTTER, MAX_PIXELS, MAX_SIZE, MIN_SIZE,
                                           ShapesArgs)

CONTRAST = 0.25               # least |luminance(figure) - luminance(background)|
CHUNK = 1024                  # images rasterised at once: bounds the temporary arrays
LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


# ---- signed distances in the figure's frame (u, v arrays; the figure fits in the unit disc) --

def _regular(n: int, radius: float, turn: float = 0.0):
    """A regular n-gon of circumradius `radius`: max_k (p·n_k) - radius·cos(pi/n)."""
    def d(u, v):
        apothem = radius * math.cos(math.pi / n)
        out = None
        for k in range(n):
            a = turn + (2 * k + 1) * math.pi / n
            e = u * math.cos(a) + v * math.sin(a)
            out = e if out is None else np.maximum(out, e)
        return out - apothem
    return d


def _polygon(points):
    """A convex polygon: the largest signed distance to its edge lines (outward normals)."""
    pts = np.asarray(points, dtype=np.float64)
    x, y = pts[:, 0], pts[:, 1]
    if np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)) < 0:
        pts = pts[::-1]                                    # clockwise: walk it the other way

    def d(u, v):
        out = None
        for (ax, ay), (bx, by) in zip(pts, np.roll(pts, -1, axis=0)):
            length = math.hypot(bx - ax, by - ay)
            nx, ny = (by - ay) / length, (ax - bx) / length       # outward for CCW
            e = (u - ax) * nx + (v - ay) * ny
            out = e if out is None else np.maximum(out, e)
        return out
    return d


def _union(*parts):
    def d(u, v):
        out = parts[0](u, v)
        for part in parts[1:]:
            out = np.minimum(out, part(u, v))
        return out
    return d


def _box(x0, x1, half_height):
    return _polygon([(x0, -half_height), (x1, -half_height), (x1, half_height),
                     (x0, half_height)])


def _disc(cx, cy, radius):
    return lambda u, v: np.sqrt((u - cx) ** 2 + (v - cy) ** 2) - radius


def _star(points: int = 5, outer: float = 0.95, inner: float = 0.4):
    """A filled star: the inner polygon and one triangle per point."""
    def at(radius, k):
        a = math.pi / 2 + k * math.pi / points
        return radius * math.cos(a), radius * math.sin(a)
    core = _polygon([at(inner, 2 * k + 1) for k in range(points)])
    arms = [_polygon([at(inner, 2 * k - 1), at(outer, 2 * k), at(inner, 2 * k + 1)])
            for k in range(points)]
    return _union(core, *arms)


def _ellipse(a: float, b: float):
    """An ellipse with half-axes a, b: (|p / (a, b)| - 1)·min(a, b), a distance near the edge."""
    return lambda u, v: (np.sqrt((u / a) ** 2 + (v / b) ** 2) - 1) * min(a, b)


def _ring(mid: float, half_width: float):
    return lambda u, v: np.abs(np.sqrt(u * u + v * v) - mid) - half_width


def _crescent():
    outer, bite = _disc(0, 0, 0.9), _disc(0.45, 0, 0.72)
    return lambda u, v: np.maximum(outer(u, v), -bite(u, v))


def _cross():
    bar = 0.28
    return _union(_box(-0.9, 0.9, bar), lambda u, v: _box(-0.9, 0.9, bar)(v, u))


SHAPES = {
    "circle": _disc(0, 0, 0.9),
    "square": _regular(4, 0.92),
    "triangle": _regular(3, 0.95),
    "pentagon": _regular(5, 0.92),
    "star": _star(),
    "cross": _cross(),
    "ring": _ring(0.66, 0.2),
    "ellipse": _ellipse(0.92, 0.45),
    "arrow": _union(_box(-0.9, 0.1, 0.18), _polygon([(0.1, -0.55), (0.92, 0.0), (0.1, 0.55)])),
    "bar": _box(-0.92, 0.92, 0.18),
    "heart": _union(_disc(-0.4, 0.22, 0.46), _disc(0.4, 0.22, 0.46),
                    _polygon([(-0.8, 0.02), (0.0, -0.92), (0.8, 0.02)])),
    "crescent": _crescent(),
}
if tuple(SHAPES) != CLASSES:        # the names `check` validates `classes:` against
    raise RuntimeError("shapes.SHAPES and sources.CLASSES name different figures")

# the columns of one image's parameter row (uniform draws in [0, 1))
PARAMS = ("radius", "cx", "cy", "angle", "fg_r", "fg_g", "fg_b", "bg_r", "bg_g", "bg_b",
          "tex_r", "tex_g", "tex_b", "tex_freq", "tex_angle", "tex_phase", "shade_angle",
          "shade")


def _image_size(a: ShapesArgs, shape: tuple) -> tuple[int, int, int]:
    """(channels, height, width): the arguments', else the spec's [C, H, W], else 3×32×32."""
    image = len(shape) == 3 and all(isinstance(s, int) for s in shape)
    channels = a.channels or (shape[0] if image and shape[0] in (1, 3) else 3)
    if a.size is not None:
        return channels, a.size, a.size
    if image and MIN_SIZE <= min(shape[1:]) and max(shape[1:]) <= MAX_SIZE:
        return channels, shape[1], shape[2]
    return channels, 32, 32


def shapes(a: ShapesArgs, shape: tuple, cfg) -> Arrays:
    """`shapes` (sources.py): the images, their classes and each figure's bounding box."""
    channels, height, width = _image_size(a, shape)
    if a.samples * height * width > MAX_PIXELS:
        raise SpecError(f"the data set `shapes` is bounded to samples × height × width <= "
                        f"{MAX_PIXELS:,} pixels; got {a.samples:,} × {height} × {width} = "
                        f"{a.samples * height * width:,}", None,
                        hint=f"lower `samples` (at most {MAX_PIXELS // (height * width):,} at "
                             f"{height}x{width}), or the image size (`size:` or the spec's input)")
    k = a.classes or len(CLASSES)
    x, y, boxes = draw_shapes(a.samples, height, width, cfg.split_seed, k, a.noise, channels,
                              a.clutter)
    side = f"{shape[1]}" if len(shape) == 3 else "32"
    return Arrays(x, y, "classification", list(CLASSES[:k]), boxes=boxes,
                  hint=f"make the spec's input [{channels}, {height}, {width}] (or "
                       f"[{channels * height * width}] for a flat vector), or set `size: "
                       f"{side}` and `channels:` in `data:`")


def draw_shapes(samples: int, height: int, width: int, seed: int = 0, classes: int = 12,
                noise: float = 0.08, channels: int = 3, clutter: int = 3):
    """(x [N, C, H, W] float32 in [0, 1], y [N] int64, boxes [N, 4] float32 x0 y0 x1 y1 in
    pixels, the box of the pixels at least half covered). Image i has class i mod `classes`."""
    params = np.random.default_rng([seed, 0]).random((samples, len(PARAMS)))
    lines = np.random.default_rng([seed, 3]).random((samples, MAX_CLUTTER, 7))[:, :clutter]
    y = (np.arange(samples) % classes).astype(np.int64)
    x = np.empty((samples, channels, height, width), dtype=np.float32)
    boxes = np.empty((samples, 4), dtype=np.float32)
    for start in range(0, samples, CHUNK):
        stop = min(start + CHUNK, samples)
        rng = np.random.default_rng([seed, 1, start // CHUNK])
        x[start:stop], boxes[start:stop] = _draw_chunk(params[start:stop], lines[start:stop],
                                                       y[start:stop], height, width, noise,
                                                       channels, rng)
    return x, y, boxes


def _draw_chunk(p: np.ndarray, lines: np.ndarray, y: np.ndarray, height: int, width: int,
                noise: float, channels: int, rng):
    col = {name: p[:, i].astype(np.float32)[:, None, None] for i, name in enumerate(PARAMS)}
    n, side = len(p), min(height, width)
    rows = (np.arange(height, dtype=np.float32) + 0.5)[None, :, None]
    cols = (np.arange(width, dtype=np.float32) + 0.5)[None, None, :]
    radius = (0.15 + 0.3 * col["radius"]) * side
    cy = radius + col["cy"] * (height - 2 * radius)
    cx = radius + col["cx"] * (width - 2 * radius)
    coverage = np.empty((n, height, width), dtype=np.float32)
    angle = 2 * np.pi * col["angle"]
    cos, sin = np.cos(angle), np.sin(angle)
    for c in np.unique(y):
        at = np.flatnonzero(y == c)
        dx, dy = (cols - cx[at]) / radius[at], (cy[at] - rows) / radius[at]   # v points up
        u = cos[at] * dx + sin[at] * dy
        v = cos[at] * dy - sin[at] * dx
        d = SHAPES[CLASSES[c]](u, v)
        coverage[at] = np.clip(0.5 - d * radius[at], 0, 1)
    fg, bg, tex = (np.concatenate([col[f"{part}_{ch}"] for ch in "rgb"], axis=1)
                   for part in ("fg", "bg", "tex"))            # [n, 3, 1]
    fg = _contrasting(fg[:, :, 0], bg[:, :, 0])[:, :, None, None]
    bg = bg[:, :, :, None]
    second = np.clip(bg + 0.3 * (tex[:, :, :, None] - 0.5), 0, 1)
    freq = 2 * np.pi * (1 + 3 * col["tex_freq"]) / side
    tex_angle = 2 * np.pi * col["tex_angle"]
    wave = 0.5 + 0.5 * np.sin(freq * (np.cos(tex_angle) * cols + np.sin(tex_angle) * rows)
                              + 2 * np.pi * col["tex_phase"])
    background = (second - bg) * wave[:, None]
    background += bg
    for k in range(lines.shape[1]):
        line = lines[:, k].astype(np.float32)[:, :, None, None]          # [n, 7, 1, 1]
        cover = _segment(line[:, 0] * width, line[:, 1] * height, line[:, 2] * width,
                         line[:, 3] * height, rows, cols, 0.016 * side)
        step = line[:, 4:7] - background
        step *= cover[:, None]
        background += step
    shade_angle = 2 * np.pi * col["shade_angle"]
    ramp = (np.cos(shade_angle) * (cols - cx) + np.sin(shade_angle) * (rows - cy)) / radius
    figure = fg * (1 - 0.15 * col["shade"][:, None] * (1 + ramp[:, None]))
    image = figure - background                # in place from here: these arrays are large
    image *= coverage[:, None]
    image += background
    if channels == 1:
        image = np.tensordot(LUMA, image, axes=([0], [1]))[:, None]
    if noise > 0:
        grain = rng.standard_normal(image.shape, dtype=np.float32)
        grain *= np.float32(noise)
        image += grain
    return np.clip(image, 0, 1, out=image), _boxes(coverage >= 0.5)


def _segment(x0, y0, x1, y1, rows, cols, half_width: float) -> np.ndarray:
    """Coverage [n, H, W] of segments (x0, y0)-(x1, y1) of half width `half_width` pixels: the
    distance to the nearest point of the segment, t = clip((q - a)·(b - a) / |b - a|², 0, 1)."""
    ex, ey = x1 - x0, y1 - y0
    t = np.clip(((cols - x0) * ex + (rows - y0) * ey) / np.maximum(ex * ex + ey * ey, 1e-6), 0, 1)
    dist = np.sqrt((cols - x0 - t * ex) ** 2 + (rows - y0 - t * ey) ** 2)
    return np.clip(0.5 - (dist - half_width), 0, 1)


def _contrasting(fg: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """The figure's colour [n, 3], moved away from the background's luminance where the two are
    closer than CONTRAST: inverted first, then darkened or lightened as the background asks."""
    luma = lambda c: c @ LUMA                                       # noqa: E731
    close = np.abs(luma(fg) - luma(bg)) < CONTRAST
    fg = np.where(close[:, None], 1 - fg, fg)
    close = np.abs(luma(fg) - luma(bg)) < CONTRAST
    dark = (0.35 * fg).astype(np.float32)
    light = (0.65 + 0.35 * fg).astype(np.float32)
    moved = np.where((luma(bg) > 0.5)[:, None], dark, light)
    return np.where(close[:, None], moved, fg).astype(np.float32)


def _boxes(inside: np.ndarray) -> np.ndarray:
    """[n, 4] x0 y0 x1 y1 (pixel edges, x1/y1 exclusive) of the True pixels of each mask."""
    cols, rows = inside.any(axis=1), inside.any(axis=2)
    w, h = cols.shape[1], rows.shape[1]
    x0, y0 = cols.argmax(axis=1), rows.argmax(axis=1)
    x1 = w - cols[:, ::-1].argmax(axis=1)
    y1 = h - rows[:, ::-1].argmax(axis=1)
    return np.stack([x0, y0, x1, y1], axis=1).astype(np.float32)
