"""Data sets for training. The `data:` section is validated without numpy: the registry and
the common keys in `section`, every source's name, argument model and loader in `sources`.
Each source's loader lives in a module of its own (scikit-learn's bundled sets `bundled`,
generated ones `synthetic`, `shapes`, `sequences`, users' files `images`, `csvfile`, `npz`,
`idx`, `text`, two domains `unpaired`), imported when its data is loaded; `load` fits, splits
and takes the statistics.

Every set is held in memory as arrays (these are small sets; batches are slices of tensors, so
no DataLoader worker overhead). Images are scaled to [0, 1] (digits ÷ 16) before the
normalisation statistics of the training split.
"""

from netspec.training.data import sources
from netspec.training.data.section import DATASETS, DataArgs, DataConfig

# importing `sources` registers the built-in sources
BUILTIN = (sources,)

# what needs numpy, imported on first use: `check` imports this package for the section alone
_LAZY = {"load_data": "netspec.training.data.load", "Arrays": "netspec.training.data.base",
         "Data": "netspec.training.data.base", "statistics": "netspec.training.data.base"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
