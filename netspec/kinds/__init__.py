"""The layer registry: every layer kind, each defined in one place.

`kinds()` maps a kind's name (aliases included) to its :class:`LayerKind`. Importing this
package registers all built-in kinds; it never imports torch.
"""

from netspec.kinds import activation, conv, core, merge, norm, pool, recurrent, reshape  # noqa: F401 (register)
from netspec.kinds.base import Args, Dim, LayerKind, Shape, ShapeError, fmt_shape, kinds, numel

__all__ = ["Args", "Dim", "LayerKind", "Shape", "ShapeError", "fmt_shape", "kinds", "numel"]
