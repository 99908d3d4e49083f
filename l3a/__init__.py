"""syntheo Level-3A: WASP-style weighted monthly syntheses of L2A products.

Public API: :func:`compose` (one synthesis of one tile), :class:`CompositeParams` (its parameters, with
:meth:`CompositeParams.wasp` for the WASP 1.x profile), :func:`open_l3a` (read a product) and
:func:`validate_synthesis` (compare a synthesis of simulated products with the simulator's truth).
"""

from l2a._version import __version__

# Imported eagerly: ``l3a.compose`` must be the function even after the ``l3a.compose`` module is imported elsewhere
# (a submodule import rebinds the package attribute only when it first loads the module).
from .params import CompositeParams
from .compose import compose
from .product import open_l3a
from .validate import validate_synthesis

__all__ = ["__version__", "compose", "CompositeParams", "open_l3a", "validate_synthesis"]
