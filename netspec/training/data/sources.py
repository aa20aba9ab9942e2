"""Every built-in data source: its name, its argument model (what `netspec check` validates)
and its loader, "module:function", imported only when the data is loaded (numpy, PIL and
scikit-learn stay out of `check`). The loaders live one module per source: `bundled`,
`synthetic`, `shapes`, `sequences`, `images`, `csvfile`, `npz`, `idx`, `text`, `unpaired`.

The bounds the argument models enforce are defined here, and read by the loaders from here.
Two positive integers: `PositiveInt` ("must be positive, got 0") and `Count`, the kinds'
("must be at least 1, got 0"), each where the source had it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ValidationError, field_validator

from netspec.kinds.argtypes import PositiveInt as Count
from netspec.kinds.argtypes import Bool, Float, Int, NonNegativeFloat, NonNegativeInt, Probability
from netspec.training.data.section import DATASETS, DataArgs, DataConfig, PositiveInt

PACKAGE = "netspec.training.data"


def _loader(module: str, function: str) -> str:
    return f"{PACKAGE}.{module}:{function}"


# ---- scikit-learn's bundled sets (bundled.py) -----------------------------------------------

MAX_DIGITS_SIZE = 512     # 1797 images of 512 x 512 float32 are 1.9 GB; more exhausts memory


class DigitsArgs(DataArgs):
    size: PositiveInt | None = None          # resize to size x size (PIL's NEAREST)
    resample: Literal["nearest", "bilinear"] = "nearest"   # how `size` resizes

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if v is not None and v > MAX_DIGITS_SIZE:
            raise ValueError(f"is at most {MAX_DIGITS_SIZE} pixels, got {v}")
        return v


DATASETS.declare("digits", DigitsArgs, loader=_loader("bundled", "digits"), doc="""\
scikit-learn's 8x8 handwritten digits (1797 samples, 10 classes), ÷16 into [0, 1];
`size: 28` (at most 512) upsamples to 28x28 as PIL's NEAREST does (what `netspec infer` does to an
image file), or with `resample: bilinear` as PIL's BILINEAR does (smooth strokes, as a
GAN learns them best).""")

for _name, _doc in (("iris", "Fisher's iris: 150 flowers, 4 features, 3 classes."),
                    ("wine", "Wine recognition: 178 wines, 13 features, 3 classes."),
                    ("breast_cancer",
                     "Wisconsin breast cancer: 569 samples, 30 features, 2 classes.")):
    DATASETS.declare(_name, DataArgs, loader=_loader("bundled", _name), doc=_doc)


# ---- generated sets (synthetic.py) ----------------------------------------------------------

class Noisy(DataArgs):
    samples: PositiveInt | None = None       # how many samples (default 1000)
    noise: Float | None = None               # noise level (each set has its default)


class BlobsArgs(DataArgs):
    samples: PositiveInt | None = None
    features: PositiveInt | None = None      # features per sample (default: the spec's width)
    classes: PositiveInt | None = None       # number of clusters (default 3)


class RegressionArgs(Noisy):
    features: PositiveInt | None = None


class SineArgs(Noisy):
    seq: PositiveInt | None = None           # window length (default: the spec's, else 20)


DATASETS.declare("moons", Noisy, loader=_loader("synthetic", "moons"),
                 doc="Two interleaving half circles (2 features, 2 classes); samples 1000, "
                     "noise 0.1.")
DATASETS.declare("circles", Noisy, loader=_loader("synthetic", "circles"),
                 doc="A circle inside another (2 features, 2 classes); samples 1000, "
                     "noise 0.05.")
DATASETS.declare("blobs", BlobsArgs, loader=_loader("synthetic", "blobs"),
                 doc="Gaussian clusters: `classes` (3) clusters in `features` dims (the "
                     "spec's input width).")
DATASETS.declare("regression", RegressionArgs, loader=_loader("synthetic", "regression"),
                 doc="""\
A linear target with Gaussian noise (scikit-learn's make_regression), `features` wide (the
spec's input width, else 8); targets divided by their standard deviation.""")
DATASETS.declare("sine", SineArgs, loader=_loader("synthetic", "sine"), doc="""\
Next-value forecasting on a noisy sine (period 50 steps): windows [seq, 1] -> the value
after them. seq: the spec's when it is a number, else 20; samples 1000; noise 0.05. Split in
time order (no shuffling), so validation and test lie after the training stretch.""")


# ---- drawn figures (shapes.py) --------------------------------------------------------------

MAX_PIXELS = 2**25            # samples × height × width: about 400 MB of float32 RGB
MIN_SIZE, MAX_SIZE = 8, 1024
MAX_CLUTTER = 8
CLASSES = ("circle", "square", "triangle", "pentagon", "star", "cross", "ring", "ellipse",
           "arrow", "bar", "heart", "crescent")     # shapes.SHAPES draws each, in this order


class ShapesArgs(DataArgs):
    samples: Count = 10000                   # images (stratified into train/val/test)
    size: Count | None = None                # side in pixels (default: the spec's, else 32)
    channels: Count | None = None            # 3 (colour) or 1 (grey); default: the spec's, else 3
    classes: Count | None = None             # the first `classes` of the 12 (default all)
    noise: Probability = 0.08                # standard deviation of the pixel noise
    clutter: NonNegativeInt = 3              # thin lines behind the figure, at most 8

    @field_validator("size")
    @classmethod
    def _size(cls, v):
        if v is not None and not MIN_SIZE <= v <= MAX_SIZE:
            raise ValueError(f"must be between {MIN_SIZE} and {MAX_SIZE} pixels, got {v}")
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v):
        if v is not None and v not in (1, 3):
            raise ValueError(f"must be 3 (colour) or 1 (grey), got {v}")
        return v

    @field_validator("clutter")
    @classmethod
    def _clutter(cls, v):
        if v > MAX_CLUTTER:
            raise ValueError(f"must be at most {MAX_CLUTTER} lines, got {v}")
        return v

    @field_validator("classes")
    @classmethod
    def _classes(cls, v):
        if v is not None and not 2 <= v <= len(CLASSES):
            raise ValueError(f"must be between 2 and {len(CLASSES)} ({', '.join(CLASSES)}), "
                             f"got {v}")
        return v


DATASETS.declare("shapes", ShapesArgs, loader=_loader("shapes", "shapes"), doc="""\
Procedurally drawn figures, 12 classes (circle, square, triangle, pentagon, star, cross,
ring, ellipse, arrow, bar, heart, crescent) at random position, scale, rotation and colour,
on a textured background with `clutter` (3) thin lines and noise (0.08); [C, H, W] in
[0, 1] with the spec's channels (3 or 1) and size (else `size`, default 32); samples
10000; `classes: k` keeps the first k. Each figure's bounding box is kept (pixels, x0 y0
x1 y1). No download.""")


# ---- token sequences (sequences.py) ---------------------------------------------------------

MAX_TOKENS = 2**26                # samples × seq: 512 MiB of int64 ids
MARKER_A, MARKER_B, FIRST_FILLER = 1, 2, 3


class TokensArgs(DataArgs):
    samples: Count = 4000                    # sequences
    seq: Count | None = None                 # length (default: the spec's, else 24)
    vocab: Count = 16                        # ids 0..vocab-1 (0 unused, 1 and 2 the markers)

    @field_validator("seq")
    @classmethod
    def _seq(cls, v):
        if v is not None and v < 2:
            raise ValueError(f"must be at least 2 (room for both markers), got {v}")
        return v

    @field_validator("vocab")
    @classmethod
    def _vocab(cls, v):
        if v < FIRST_FILLER + 1:
            raise ValueError(f"must be at least {FIRST_FILLER + 1} (0 unused, 1 and 2 the "
                             f"markers, at least one filler id), got {v}")
        return v


DATASETS.declare("tokens", TokensArgs, loader=_loader("sequences", "tokens"), doc="""\
Which marker comes first: `seq` token ids below `vocab` (16) holding one A (id 1) and one
B (id 2) among uniform fillers (ids 3..); label 1 when A precedes B. Token counts are equal
in both classes, so a bag-of-words model stays at 50 %: the network must see positions.
seq: the spec's when it is a number, else 24; samples 4000. Input `{shape: [seq], dtype:
long}`; the embedding's `vocab` must be at least this `vocab`.""")


# ---- users' files (images.py, csvfile.py, npz.py, idx.py, text.py) --------------------------

class ImagesArgs(DataArgs):
    images: str                              # the folder
    size: PositiveInt | None = None          # resize to size x size instead of the spec's H, W


class CsvArgs(DataArgs):
    csv: str
    target: str | Int | None = None          # the target column (name or index)


class NpzArgs(DataArgs):
    npz: str


class IdxArgs(DataArgs):
    idx: str


MAX_WINDOW = 50                 # words on each side; word2vec's usual 5-10
MAX_NEGATIVES = 100             # per positive pair; word2vec's usual 5-20


class TextArgs(DataArgs):
    text: str
    min_count: Count = 5                     # drop words seen fewer times (gensim's default)
    max_vocab: Count | None = None           # keep only the most frequent words
    window: Count = 5                        # context words on each side, at most
    negatives: Count = 5                     # noise words per positive pair
    subsample: NonNegativeFloat = 1e-3       # t of text.py's formula; 0 keeps every word
    lowercase: Bool = True
    strip_punctuation: Bool = True

    @field_validator("window")
    @classmethod
    def _window(cls, v):
        if v > MAX_WINDOW:
            raise ValueError(f"must be at most {MAX_WINDOW} words on each side, got {v}")
        return v

    @field_validator("negatives")
    @classmethod
    def _negatives(cls, v):
        if v > MAX_NEGATIVES:
            raise ValueError(f"must be at most {MAX_NEGATIVES} per positive pair, got {v}")
        return v


# file sources in the order messages list them
DATASETS.declare("csv", CsvArgs, loader=_loader("csvfile", "table"), file=True,
                 doc="A CSV file with a header; `target` is the target column's name or "
                     "index.")
DATASETS.declare("idx", IdxArgs, loader=_loader("idx", "idx"), file=True,
                 doc="MNIST-style IDX files in a directory; the t10k pair, when present, is "
                     "the test split.")
DATASETS.declare("images", ImagesArgs, loader=_loader("images", "images"), file=True,
                 doc="One subfolder per class of image files, resized to the spec's input "
                     "size.")
DATASETS.declare("npz", NpzArgs, loader=_loader("npz", "arrays"), file=True,
                 doc="An .npz file with `x` and `y` (or `X`, `Y`), loaded without pickle.")
DATASETS.declare("text", TextArgs, loader=_loader("text", "text"), doc="""\
A text corpus, one sentence a line, for `skipgram`/`cbow`: word ids in corpus order;
`min_count` 5, `window` 5, `negatives` 5, `subsample` 1e-3. Input `{shape: [1], dtype:
long}`; the embedding's `vocab` must be at least the corpus' vocabulary.""", file=True)


# ---- unpaired domains (unpaired.py) ---------------------------------------------------------

MAX_THICKEN = 4              # a wider max filter turns a 32x32 digit into a blob


class InkArgs(DataArgs):
    size: Count | None = 32
    resample: Literal["nearest", "bilinear"] = "bilinear"
    thicken: NonNegativeInt = 1            # strokes grow by this many pixels each side
    invert: Bool = True                    # dark ink on light paper

    @field_validator("thicken")
    @classmethod
    def _bounded(cls, v: int) -> int:
        if v > MAX_THICKEN:
            raise ValueError(f"is at most {MAX_THICKEN} pixels (wider fills the digit), got {v}")
        return v


class UnpairedArgs(DataArgs):
    a: Any                                 # a `data:` section (DataConfig) for domain a
    b: Any

    @field_validator("a", "b", mode="before")
    @classmethod
    def _section(cls, v: Any) -> Any:
        if isinstance(v, str):
            v = {"name": v}
        if not isinstance(v, dict):
            raise ValueError(f"is a data section of its own, e.g. `{{name: digits, size: 32}}`, "
                             f"got {v!r}")
        try:
            section = DataConfig.model_validate(dict(v))
        except ValidationError as e:
            raise ValueError(e.errors()[0]["msg"]) from None
        if section.source not in DATASETS.entries:
            raise ValueError(f"names no data set: {section.source!r}; data sets: "
                             f"{', '.join(n for n in DATASETS.names() if n != 'a')}")
        return dict(v)


DATASETS.declare("digits_ink", InkArgs, loader=_loader("unpaired", "digits_ink"), doc="""\
scikit-learn's digits with strokes thickened by `thicken` pixels (a max filter) and,
with `invert` (default), dark on light: 1 - maxpool(x).""")
DATASETS.declare("a", UnpairedArgs, loader=_loader("unpaired", "unpaired"), file=True,
                 doc="Domain a's images as `x` and domain b's as `y` (unpaired.py); both in "
                     "[0, 1].")
