"""Data sets for training, one module per source: scikit-learn's bundled sets (`bundled`),
generated ones (`synthetic`), and users' files (`images`, `csvfile`, `npz`, `idx`). Each source
is one entry in DATASETS with its own argument model (see `base`); `load` fits, splits and
takes the statistics.

Every set is held in memory as arrays (these are small sets; batches are slices of tensors, so
no DataLoader worker overhead). Images are scaled to [0, 1] (digits ÷ 16) before the
normalisation statistics of the training split.
"""

from netspec.training.data import (bundled, csvfile, idx, images, npz, sequences, shapes,
                                   synthetic, text, unpaired)
from netspec.training.data.base import DATASETS, Arrays, Data, DataArgs, DataConfig, statistics
from netspec.training.data.load import load_data

# importing a module registers the sources it defines
BUILTIN = (bundled, synthetic, shapes, sequences, images, csvfile, npz, idx, text, unpaired)
