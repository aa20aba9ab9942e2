"""The layer registry: every layer kind, each defined in one place.

`kinds()` maps a kind's name (aliases included) to its :class:`LayerKind`. Importing this
package registers all built-in kinds; it never imports torch. The argument types every
registry shares live in `netspec.kinds.argtypes`.
"""

from netspec.kinds import (activation, attention, conv, core, merge, norm, pool, recurrent,
                          reshape, shuffle, tensor)
from netspec.kinds.argtypes import Args, Dim
from netspec.kinds.base import (LayerKind, Shape, ShapeError, fmt_shape, kinds, numel,
                                output_semantics, register, unregister)

# importing a module registers the kinds it defines
BUILTIN = (activation, attention, conv, core, merge, norm, pool, recurrent, reshape, shuffle,
           tensor)
